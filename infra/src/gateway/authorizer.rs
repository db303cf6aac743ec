//! The local stand-in for API Gateway's JWT authorizer: verifies the bearer
//! token before any handler runs and hands the handler its claims, as strings,
//! in the request context — exactly what API Gateway passes on.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use shared::adapters::embedded::EmbeddedIdentity;

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

/// Verifies access tokens of the configured user pool.
#[derive(Clone)]
pub enum Authorizer {
    /// The embedded pool checks its own tokens (signature, expiry, session).
    Embedded(Arc<EmbeddedIdentity>),
    /// A Cognito pool (or its emulator): RS256 against the pool's JWKS.
    Jwks {
        /// The pool's keys, fetched at start.
        keys: JwkSet,
        /// The expected `iss`.
        issuer: String,
        /// The expected `client_id`.
        client_id: String,
    },
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, Refused> {
    let value = header.ok_or(Refused::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(Refused::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Refused::Invalid);
    }
    Ok(token.trim())
}

/// API Gateway passes every claim as a string.
fn stringify(claims: serde_json::Map<String, Value>) -> HashMap<String, String> {
    claims
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

impl Authorizer {
    /// Fetches a Cognito pool's JWKS from `jwks_url` once.
    #[cfg(feature = "aws")]
    pub async fn cognito(
        jwks_url: &str,
        issuer: String,
        client_id: String,
    ) -> Result<Self, String> {
        let keys = reqwest::get(jwks_url)
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot fetch the JWKS at {jwks_url}: {e}"))?
            .json::<JwkSet>()
            .await
            .map_err(|e| format!("the JWKS at {jwks_url} does not parse: {e}"))?;
        Ok(Authorizer::Jwks {
            keys,
            issuer,
            client_id,
        })
    }

    /// The claims of a valid access token.
    pub async fn authorize(&self, token: &str) -> Result<HashMap<String, String>, Refused> {
        match self {
            Authorizer::Embedded(identity) => {
                let claims = identity
                    .verify_access_token(token)
                    .await
                    .map_err(|_| Refused::Invalid)?;
                match serde_json::to_value(claims) {
                    Ok(Value::Object(map)) => Ok(stringify(map)),
                    _ => Err(Refused::Invalid),
                }
            }
            Authorizer::Jwks {
                keys,
                issuer,
                client_id,
            } => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| Refused::Invalid)?;
                let jwk = header
                    .kid
                    .as_deref()
                    .and_then(|kid| keys.find(kid))
                    .ok_or(Refused::Invalid)?;
                let key = DecodingKey::from_jwk(jwk).map_err(|_| Refused::Invalid)?;
                let mut validation = Validation::new(Algorithm::RS256);
                validation.set_issuer(&[issuer]);
                // Cognito access tokens carry `client_id`, not `aud`.
                validation.validate_aud = false;
                let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
                    token,
                    &key,
                    &validation,
                )
                .map_err(|_| Refused::Invalid)?;
                let claims = data.claims;
                let is_access = claims.get("token_use").and_then(Value::as_str) == Some("access");
                let ours = claims.get("client_id").and_then(Value::as_str) == Some(client_id);
                if !(is_access && ours) {
                    return Err(Refused::Invalid);
                }
                Ok(stringify(claims))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_header_carries_a_token() {
        assert_eq!(bearer(None), Err(Refused::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(Refused::Invalid));
        assert_eq!(bearer(Some("Bearer ")), Err(Refused::Invalid));
        assert_eq!(bearer(Some("Bearer")), Err(Refused::Invalid));
        assert_eq!(bearer(Some("bearer t.k.n")), Ok("t.k.n"));
    }
}
