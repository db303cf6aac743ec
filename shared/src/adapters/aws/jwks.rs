//! Verifying a Cognito pool's access tokens against its JWKS, as API
//! Gateway's JWT authorizer does: for the Lambda authorizer of the routes
//! that also take app keys (one authorizer guards a route, so that one
//! checks both), and for the local gateway on the AWS adapters.
//!
//! The keys are fetched on first use, not at the cold start (most
//! functions never verify a token), and again when a token names a key
//! not yet seen, since Cognito rotates them; at most once a minute.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::ports::identity::{AccessClaims, IdentityError, IdentityResult};

/// Least time between two fetches of the keys.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// A pool's keys and what its tokens must say.
pub struct Jwks {
    url: String,
    issuer: String,
    client_id: Option<String>,
    http: reqwest::Client,
    keys: RwLock<Option<(JwkSet, Instant)>>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.url)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// The pool `pool_id` in `region`: its issuer is Cognito's URL, its
    /// keys are served by `endpoint` when one is set (an emulator), else by
    /// Cognito under the issuer. Tokens must be for `client_id`.
    pub fn new(
        region: &str,
        pool_id: &str,
        client_id: Option<String>,
        endpoint: Option<&str>,
    ) -> Self {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
        let url = match endpoint {
            Some(endpoint) => format!(
                "{}/{pool_id}/.well-known/jwks.json",
                endpoint.trim_end_matches('/')
            ),
            None => format!("{issuer}/.well-known/jwks.json"),
        };
        // Cognito's certificate chains to the AWS roots the SDK trusts;
        // loading the system's roots would cost the start they cost the SDK.
        let roots = super::AWS_ROOTS
            .iter()
            .filter_map(|pem| reqwest::Certificate::from_pem(pem).ok());
        let http = reqwest::Client::builder()
            .tls_certs_only(roots)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            url,
            issuer,
            client_id,
            http,
            keys: RwLock::new(None),
        }
    }

    async fn fetch(&self) -> IdentityResult<JwkSet> {
        let failed = |e: reqwest::Error| {
            IdentityError::Backend(format!("cannot fetch the JWKS at {}: {e}", self.url))
        };
        self.http
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(failed)?
            .json::<JwkSet>()
            .await
            .map_err(failed)
    }

    /// The key named `kid`, fetching the set when it is unknown.
    async fn key(&self, kid: &str) -> IdentityResult<DecodingKey> {
        let known = |keys: &Option<(JwkSet, Instant)>| {
            keys.as_ref()
                .and_then(|(set, _)| set.find(kid))
                .map(DecodingKey::from_jwk)
        };
        if let Some(key) = known(&*self.keys.read().await) {
            return key.map_err(|_| IdentityError::NotAuthorized);
        }
        let mut keys = self.keys.write().await;
        let stale = keys
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= REFETCH_AFTER);
        if stale {
            *keys = Some((self.fetch().await?, Instant::now()));
        }
        match known(&keys) {
            Some(key) => key.map_err(|_| IdentityError::NotAuthorized),
            None => Err(IdentityError::NotAuthorized),
        }
    }

    /// The claims of a valid access token of the pool.
    pub async fn verify(&self, token: &str) -> IdentityResult<AccessClaims> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| IdentityError::NotAuthorized)?;
        let kid = header.kid.ok_or(IdentityError::NotAuthorized)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        // Cognito access tokens carry `client_id`, not `aud`.
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|_| IdentityError::NotAuthorized)?
            .claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        let number = |name: &str| claims.get(name).and_then(Value::as_i64).unwrap_or_default();
        let ours = match &self.client_id {
            Some(client) => text("client_id").as_deref() == Some(client.as_str()),
            None => true,
        };
        if text("token_use").as_deref() != Some("access") || !ours {
            return Err(IdentityError::NotAuthorized);
        }
        let sub = text("sub").ok_or(IdentityError::NotAuthorized)?;
        Ok(AccessClaims {
            username: text("username").unwrap_or_else(|| sub.clone()),
            sub,
            client_id: text("client_id").unwrap_or_default(),
            token_use: "access".into(),
            scope: text("scope").unwrap_or_default(),
            iss: self.issuer.clone(),
            exp: number("exp"),
            iat: number("iat"),
            jti: text("jti").unwrap_or_default(),
        })
    }
}
