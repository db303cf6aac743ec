//! Foundation: accounts, profiles, organizations, members and roles.

pub mod audit;
pub mod auth;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod password;
pub mod routes;
pub mod users;

use crate::http::{ApiError, Conflict};
use crate::ports::identity::IdentityError;

/// The defaults for identity failures; handlers name the field when they know it.
impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::UsernameExists => ApiError::Conflict(Conflict::EmailTaken),
            IdentityError::InvalidPassword(why) => ApiError::invalid("password", why),
            IdentityError::InvalidParameter(why) => ApiError::invalid("email", why),
            IdentityError::NotAuthorized => ApiError::Unauthenticated,
            IdentityError::UserNotConfirmed => ApiError::AccountNotConfirmed,
            IdentityError::UserNotFound => ApiError::NotFound,
            IdentityError::CodeMismatch => ApiError::invalid("code", "the code does not match"),
            IdentityError::ExpiredCode => ApiError::invalid("code", "the code has expired"),
            IdentityError::TooManyRequests => ApiError::Throttled,
            IdentityError::Backend(why) => ApiError::Internal(why),
        }
    }
}
