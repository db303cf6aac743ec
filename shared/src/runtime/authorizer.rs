//! The authorizer of the routes that take either a user's access token or
//! an app's API key (the records and files routes). API Gateway's JWT
//! authorizer knows no API keys and a route has one authorizer, so these
//! routes get a Lambda authorizer that checks both; the local gateway runs
//! the same function before them.
//!
//! It lets every request through with a context saying who is calling —
//! a user's claims, a key's grant, or why the credentials were refused —
//! and the route's guard decides: a refusal is then our own 401 problem,
//! not API Gateway's bare 403 of an authorizer that says no.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use http::HeaderMap;
use serde_json::Value;

use super::api_keys::{self, Refusal};
use crate::ports::identity::AccessClaims;
use crate::services::Services;
use crate::tenancy::grant::{self, refused_context, user_context};

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A verified access token's claims, as API Gateway's JWT authorizer
/// passes them: every value as text.
pub fn claims_map(claims: &AccessClaims) -> HashMap<String, String> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => HashMap::new(),
    }
}

/// Who the request's credentials say is calling: an app key when the
/// request carries one, else a user's access token.
pub async fn context(services: &Services, headers: &HeaderMap) -> HashMap<String, Value> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(key) = header(grant::HEADER) {
        let verified = match services.table() {
            Ok(table) => api_keys::verify(table, key.trim()).await,
            Err(error) => Err(error),
        };
        return match verified {
            Ok(Ok(grant)) => grant.context(),
            Ok(Err(refusal)) => refused_context(refusal.as_str()),
            Err(error) => {
                tracing::error!(%error, "the key could not be checked");
                refused_context(Refusal::Unknown.as_str())
            }
        };
    }
    let Some(token) = header("authorization").and_then(bearer) else {
        return refused_context("missing");
    };
    let verified = match services.identity() {
        Ok(identity) => identity.verify_access_token(token).await,
        Err(error) => {
            tracing::error!(%error, "no identity port for the authorizer");
            return refused_context("invalid_token");
        }
    };
    match verified {
        Ok(claims) => user_context(claims_map(&claims)),
        Err(crate::ports::identity::IdentityError::NotAuthorized) => {
            refused_context("invalid_token")
        }
        Err(error) => {
            tracing::error!(%error, "the token could not be checked");
            refused_context("invalid_token")
        }
    }
}

/// The Lambda authorizer (simple responses, payload 2.0): always through,
/// with [`context`].
pub async fn handle(
    services: Arc<Services>,
    request: ApiGatewayV2CustomAuthorizerV2Request,
) -> HashMap<String, Value> {
    context(&services, &request.headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_header_carries_a_token() {
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("bearer t.k.n"), Some("t.k.n"));
    }
}
