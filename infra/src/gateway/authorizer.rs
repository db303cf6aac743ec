//! The local stand-in for API Gateway's authorizers. Most routes have the
//! JWT authorizer: the bearer token is verified before any handler runs
//! and its claims, as strings, go in the request context — exactly what
//! API Gateway passes on. The routes that also take app keys have the
//! Lambda authorizer (`shared::runtime::authorizer`), run here as API
//! Gateway runs it.

use std::collections::HashMap;
use std::sync::Arc;

use shared::ports::identity::Identity;
use shared::runtime::authorizer::{bearer, claims_map};

/// Why a request was refused before reaching its handler.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization: Bearer …` header.
    #[error("missing bearer token")]
    Missing,
    /// The token is not a valid, unexpired access token of the pool.
    #[error("invalid token")]
    Invalid,
}

/// Verifies access tokens of the platform's user pool, through its
/// identity port (the embedded pool, or Cognito's JWKS).
#[derive(Clone)]
pub struct Authorizer {
    identity: Arc<dyn Identity>,
}

impl Authorizer {
    /// The authorizer of the pool behind `identity`.
    pub fn new(identity: Arc<dyn Identity>) -> Self {
        Self { identity }
    }

    /// The claims of the valid access token in an `Authorization` header.
    pub async fn authorize(
        &self,
        header: Option<&str>,
    ) -> Result<HashMap<String, String>, Refused> {
        let token = bearer(header.ok_or(Refused::Missing)?).ok_or(Refused::Invalid)?;
        self.identity
            .verify_access_token(token)
            .await
            .map(|claims| claims_map(&claims))
            .map_err(|_| Refused::Invalid)
    }
}
