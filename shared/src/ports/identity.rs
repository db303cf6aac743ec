//! The identity port: a Cognito user pool.
//!
//! Users sign in with their e-mail address as username. The pool owns
//! passwords and tokens; the platform keeps profiles in the item table beside
//! the `sub` this port hands out. Tokens are RS256 JWTs with Cognito's claims
//! ([`AccessClaims`], [`IdClaims`]), verifiable against the pool's JWKS.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Result of an identity operation.
pub type IdentityResult<T> = Result<T, IdentityError>;

/// What a new user gives at sign-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignUp {
    /// The e-mail address, also the username.
    pub email: String,
    /// The password; checked against the pool's policy.
    pub password: String,
    /// Standard attributes: `given_name`, `family_name`, `locale` …
    pub attributes: BTreeMap<String, String>,
}

/// Outcome of a sign-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedUp {
    /// The user's stable id (`sub` claim).
    pub sub: String,
    /// True when the pool confirmed the user at once (no code needed).
    pub confirmed: bool,
}

/// Tokens from a sign-in or refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The access token clients send as `Authorization: Bearer …`.
    pub access_token: String,
    /// The id token, carrying profile claims.
    pub id_token: String,
    /// The refresh token; a refresh gives none (the old one stays valid).
    pub refresh_token: Option<String>,
    /// Seconds until the access and id tokens expire.
    pub expires_in: u64,
}

// Tokens are secrets: never print them, not even in debug output.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A user as the pool knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The username (the e-mail address, as signed up).
    pub username: String,
    /// The stable id.
    pub sub: String,
    /// Every attribute, `email` and `sub` included.
    pub attributes: BTreeMap<String, String>,
}

/// How a code was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeDelivery {
    /// `EMAIL`.
    pub medium: String,
    /// The masked destination, e.g. `a***@e***`.
    pub destination: String,
}

/// Claims of an access token, as Cognito issues them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user's id.
    pub sub: String,
    /// The app client the token was issued to.
    pub client_id: String,
    /// Always `access`.
    pub token_use: String,
    /// The username.
    pub username: String,
    /// Space separated scopes, `aws.cognito.signin.user.admin` for password sign-in.
    pub scope: String,
    /// The pool's issuer URL.
    pub iss: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// The token's unique id.
    pub jti: String,
}

/// Claims of an id token, as Cognito issues them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// The user's id.
    pub sub: String,
    /// The app client id.
    pub aud: String,
    /// Always `id`.
    pub token_use: String,
    /// The username.
    #[serde(rename = "cognito:username")]
    pub username: String,
    /// The e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// The pool's issuer URL.
    pub iss: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
}

/// Errors of the identity port, named after Cognito's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// A user with that e-mail exists.
    #[error("an account with that e-mail already exists")]
    UsernameExists,
    /// The password breaks the pool's policy (the message says how).
    #[error("password does not meet the policy: {0}")]
    InvalidPassword(String),
    /// A parameter is malformed (e.g. not an e-mail address).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Wrong username or password, or a token that is invalid, expired or revoked.
    #[error("not authorized")]
    NotAuthorized,
    /// The user has not confirmed the account yet.
    #[error("the account is not confirmed")]
    UserNotConfirmed,
    /// No such user.
    #[error("no such user")]
    UserNotFound,
    /// The code does not match.
    #[error("the code does not match")]
    CodeMismatch,
    /// The code has expired.
    #[error("the code has expired")]
    ExpiredCode,
    /// Too many attempts; try later.
    #[error("too many attempts")]
    TooManyRequests,
    /// The backend failed.
    #[error("identity provider failure: {0}")]
    Backend(String),
}

/// A user pool with Cognito semantics.
#[async_trait]
pub trait Identity: Send + Sync {
    /// Whether the backend answers, for the health report; the error says why not.
    async fn probe(&self) -> Result<(), String>;

    /// Registers a user; sends a confirmation code unless the pool auto-confirms.
    async fn sign_up(&self, sign_up: SignUp) -> IdentityResult<SignedUp>;

    /// Confirms a sign-up with the e-mailed code.
    async fn confirm_sign_up(&self, email: &str, code: &str) -> IdentityResult<()>;

    /// Sends a new confirmation code.
    async fn resend_code(&self, email: &str) -> IdentityResult<CodeDelivery>;

    /// Signs in with e-mail and password.
    async fn sign_in(&self, email: &str, password: &str) -> IdentityResult<Tokens>;

    /// New access and id tokens from a refresh token.
    async fn refresh(&self, refresh_token: &str) -> IdentityResult<Tokens>;

    /// Revokes every refresh token of the user the access token belongs to,
    /// and the access tokens issued so far.
    async fn global_sign_out(&self, access_token: &str) -> IdentityResult<()>;

    /// Sends a password reset code.
    async fn forgot_password(&self, email: &str) -> IdentityResult<CodeDelivery>;

    /// Sets a new password with the reset code.
    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> IdentityResult<()>;

    /// Changes the password of the signed-in user.
    async fn change_password(
        &self,
        access_token: &str,
        old_password: &str,
        new_password: &str,
    ) -> IdentityResult<()>;

    /// The user an access token belongs to; fails once the token is revoked.
    async fn get_user(&self, access_token: &str) -> IdentityResult<User>;

    /// Checks an access token the way API Gateway's JWT authorizer does
    /// (signature against the pool's keys, issuer, app client, expiry,
    /// `token_use`) and gives its claims; `NotAuthorized` when it fails.
    /// The Lambda authorizer of the routes that also take app keys needs
    /// it, since one authorizer guards a route.
    async fn verify_access_token(&self, access_token: &str) -> IdentityResult<AccessClaims>;
}
