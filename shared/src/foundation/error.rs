//! Foundation's one error enum: the refusals only foundation makes, each
//! with its stable code (docs/problems.md), and the one mapping of them, and
//! of the identity port's errors, to problems.

use crate::http::{ApiError, Conflict};
use crate::ports::identity::IdentityError;

/// What foundation refuses, beyond the spine's common problems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FoundationError {
    /// `email_taken`: an account with that e-mail address exists.
    #[error("email_taken")]
    EmailTaken,
    /// `already_confirmed`: the account is confirmed; no code is needed.
    #[error("already_confirmed")]
    AlreadyConfirmed,
    /// `last_owner`: the change would leave the organization without an owner.
    #[error("last_owner")]
    LastOwner,
    /// `already_member`: the invitee is a member already.
    #[error("already_member")]
    AlreadyMember,
    /// `invitation_not_pending`: accepted, declined or revoked already.
    #[error("invitation_not_pending")]
    InvitationNotPending,
    /// `invitation_expired`: past its validity.
    #[error("invitation_expired")]
    InvitationExpired,
}

impl FoundationError {
    /// Every refusal, for the documentation's test.
    pub const ALL: [FoundationError; 6] = [
        FoundationError::EmailTaken,
        FoundationError::AlreadyConfirmed,
        FoundationError::LastOwner,
        FoundationError::AlreadyMember,
        FoundationError::InvitationNotPending,
        FoundationError::InvitationExpired,
    ];

    fn conflict(self) -> Conflict {
        let (code, detail) = match self {
            FoundationError::EmailTaken => {
                ("email_taken", "An account with that e-mail already exists.")
            }
            FoundationError::AlreadyConfirmed => {
                ("already_confirmed", "This account is confirmed already.")
            }
            FoundationError::LastOwner => {
                ("last_owner", "An organization keeps at least one owner.")
            }
            FoundationError::AlreadyMember => (
                "already_member",
                "You are already a member of this organization.",
            ),
            FoundationError::InvitationNotPending => (
                "invitation_not_pending",
                "This invitation is no longer pending.",
            ),
            FoundationError::InvitationExpired => {
                ("invitation_expired", "This invitation has expired.")
            }
        };
        Conflict {
            code,
            detail,
            field: None,
        }
    }
}

impl From<FoundationError> for ApiError {
    fn from(error: FoundationError) -> Self {
        ApiError::Conflict(error.conflict())
    }
}

/// The defaults for identity failures; handlers name the field when they know it.
impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::UsernameExists => FoundationError::EmailTaken.into(),
            IdentityError::InvalidPassword(why) => ApiError::invalid("password", why),
            IdentityError::InvalidParameter(why) => ApiError::invalid("email", why),
            IdentityError::NotAuthorized => ApiError::Unauthenticated,
            IdentityError::UserNotConfirmed => ApiError::AccountNotConfirmed,
            IdentityError::UserNotFound => ApiError::NotFound,
            IdentityError::CodeMismatch => ApiError::invalid("code", "the code does not match"),
            IdentityError::ExpiredCode => ApiError::invalid("code", "the code has expired"),
            IdentityError::TooManyRequests => ApiError::Throttled { retry_after: None },
            IdentityError::Backend(why) => ApiError::Internal(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_a_409_listed_in_the_docs_under_its_own_code() {
        let docs = include_str!("../../../docs/problems.md");
        let mut codes = std::collections::HashSet::new();
        for error in FoundationError::ALL {
            let problem = ApiError::from(error);
            let row = format!("| {} | `{}` |", problem.status(), problem.code());
            assert!(docs.contains(&row), "docs/problems.md lacks {row}");
            assert_eq!(problem.code(), error.to_string());
            assert!(codes.insert(problem.code()), "{} twice", problem.code());
        }
    }
}
