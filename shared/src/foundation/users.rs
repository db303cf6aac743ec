//! The signed-in user's own account.

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

use crate::http::{HandlerResult, access_token, caller, json};
use crate::ports::identity::User;
use crate::services::Services;

/// A user as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The user's stable id.
    pub id: String,
    /// The e-mail address.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        let attribute = |name: &str| user.attributes.get(name).cloned().unwrap_or_default();
        Self {
            email: attribute("email"),
            first_name: attribute("given_name"),
            last_name: attribute("family_name"),
            id: user.sub,
        }
    }
}

/// `GET /api/v1/foundation/users/me/`: the caller's account.
pub async fn me(services: Arc<Services>, request: Request) -> HandlerResult {
    let caller = caller(&request)?;
    let user = services
        .identity()?
        .get_user(access_token(&request)?)
        .await?;
    // The pool and the authorizer must agree on who this is.
    if user.sub != caller.sub {
        return Err(crate::http::ApiError::Unauthenticated);
    }
    json(StatusCode::OK, &UserView::from(user))
}
