//! The identity port: sign-up and confirmation, sign-in, tokens and their
//! claims, refresh, global sign-out and the password flows, on the embedded
//! pool and on Cognito (moto).
//!
//! Codes reach the tests the way they reach a user's mailbox: the embedded
//! pool's mailbox, and on moto the `x-moto-forgot-password-confirmation-code`
//! response header (moto sends no mail, and accepts any sign-up code).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_cognitoidentityprovider::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_cognitoidentityprovider::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cognitoidentityprovider::error::BoxError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use shared::adapters::aws::CognitoIdentity;
use shared::adapters::embedded::EmbeddedIdentity;
use shared::adapters::embedded::identity::{self as local, MessageKind};
use shared::config::EmbeddedSettings;
use shared::ports::identity::{AccessClaims, IdClaims, Identity, IdentityError, SignUp, Tokens};

use crate::harness;

const PASSWORD: &str = "Correct-Horse-7";
const NEW_PASSWORD: &str = "Battery-Staple-8";

/// A user pool under test, with a way to read the codes it sends and the keys
/// it signs with.
struct Pool {
    identity: Arc<dyn Identity>,
    client_id: String,
    issuer: String,
    backend: Backend,
}

enum Backend {
    Embedded {
        adapter: EmbeddedIdentity,
        settings: EmbeddedSettings,
        /// Seconds the pool's clock runs ahead of the real one.
        offset: Arc<AtomicI64>,
        _dir: tempfile::TempDir,
    },
    Moto {
        reset_code: Arc<Mutex<Option<String>>>,
        jwks_url: String,
    },
}

/// Keeps the reset code moto returns in a response header.
#[derive(Debug)]
struct CaptureResetCode(Arc<Mutex<Option<String>>>);

impl Intercept for CaptureResetCode {
    fn name(&self) -> &'static str {
        "CaptureResetCode"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let header = context
            .response()
            .headers()
            .get("x-moto-forgot-password-confirmation-code");
        if let Some(code) = header.filter(|c| !c.is_empty()) {
            *self.0.lock().map_err(|_| "code store poisoned")? = Some(code.to_string());
        }
        Ok(())
    }
}

impl Pool {
    async fn embedded() -> Self {
        let dir = harness::data_dir();
        let mut settings = EmbeddedSettings::new(dir.path());
        // Codes are needed on both adapters, so both behave alike.
        settings.auto_confirm = false;
        let offset = Arc::new(AtomicI64::new(0));
        let clock_offset = offset.clone();
        let clock: local::Clock = Arc::new(move || {
            chrono::Utc::now() + chrono::Duration::seconds(clock_offset.load(Ordering::SeqCst))
        });
        let adapter = EmbeddedIdentity::open_with_clock(&settings, clock)
            .await
            .expect("open the embedded pool");
        Self {
            identity: Arc::new(adapter.clone()),
            client_id: local::CLIENT_ID.into(),
            issuer: adapter.issuer().into(),
            backend: Backend::Embedded {
                adapter,
                settings,
                offset,
                _dir: dir,
            },
        }
    }

    async fn aws() -> Self {
        let sdk = harness::sdk_config().await;
        let pool = nocode::emulator::create_user_pool(&sdk, &harness::unique("pool"))
            .await
            .expect("create the user pool on moto");
        let reset_code = Arc::new(Mutex::new(None));
        let config = aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
            .interceptor(CaptureResetCode(reset_code.clone()))
            .build();
        let client = aws_sdk_cognitoidentityprovider::Client::from_conf(config);
        let region = sdk.region().map(|r| r.to_string()).expect("a region");
        Self {
            identity: Arc::new(CognitoIdentity::from_client(
                client,
                pool.pool_id.clone(),
                pool.client_id.clone(),
                Some(&harness::moto_url()),
            )),
            client_id: pool.client_id,
            // moto issues AWS-style issuers whatever its own address.
            issuer: format!(
                "https://cognito-idp.{region}.amazonaws.com/{}",
                pool.pool_id
            ),
            backend: Backend::Moto {
                reset_code,
                jwks_url: format!(
                    "{}/{}/.well-known/jwks.json",
                    harness::moto_url(),
                    pool.pool_id
                ),
            },
        }
    }

    /// The embedded adapter's parts, for behaviours only it can show.
    fn embedded_parts(&self) -> (&EmbeddedIdentity, &EmbeddedSettings, &AtomicI64) {
        match &self.backend {
            Backend::Embedded {
                adapter,
                settings,
                offset,
                ..
            } => (adapter, settings, offset),
            Backend::Moto { .. } => panic!("an embedded-only behaviour ran on moto"),
        }
    }

    /// Moves the embedded pool's clock forward.
    fn advance(&self, seconds: i64) {
        self.embedded_parts().2.fetch_add(seconds, Ordering::SeqCst);
    }

    /// The latest code of `kind` sent to `email`.
    fn code(&self, email: &str, kind: MessageKind) -> String {
        match &self.backend {
            Backend::Embedded { settings, .. } => {
                local::latest_code(&settings.data_dir, email, kind)
                    .expect("read the mailbox")
                    .unwrap_or_else(|| panic!("no {kind:?} code in the mailbox for {email}"))
            }
            Backend::Moto { reset_code, .. } => match kind {
                // moto confirms a sign-up whatever the code.
                MessageKind::ConfirmSignUp => "123456".into(),
                MessageKind::ForgotPassword => reset_code
                    .lock()
                    .expect("code store")
                    .clone()
                    .expect("moto returned no reset code"),
                MessageKind::Invitation | MessageKind::Notice => {
                    panic!("the pool sends no invitations or notices")
                }
            },
        }
    }

    async fn jwks(&self) -> serde_json::Value {
        match &self.backend {
            Backend::Embedded { adapter, .. } => adapter.jwks(),
            Backend::Moto { jwks_url, .. } => reqwest::get(jwks_url)
                .await
                .expect("fetch moto's JWKS")
                .error_for_status()
                .expect("moto serves the JWKS")
                .json()
                .await
                .expect("JWKS is JSON"),
        }
    }

    /// Verifies an RS256 token against the pool's JWKS and issuer (and the
    /// app client as audience for id tokens); gives its claims.
    async fn verify<T: DeserializeOwned>(&self, token: &str, audience: bool) -> T {
        verify_with(
            &self.jwks().await,
            &self.issuer,
            &self.client_id,
            token,
            audience,
        )
    }

    /// A new, confirmed user: its e-mail address.
    async fn confirmed_user(&self) -> String {
        let email = new_email();
        let signed_up = self
            .identity
            .sign_up(sign_up(&email, PASSWORD))
            .await
            .expect("sign up");
        assert!(
            !signed_up.confirmed,
            "the pool under test does not auto-confirm"
        );
        let code = self.code(&email, MessageKind::ConfirmSignUp);
        self.identity
            .confirm_sign_up(&email, &code)
            .await
            .expect("confirm the sign-up");
        email
    }

    /// A new user, signed in.
    async fn signed_in(&self) -> (String, Tokens) {
        let email = self.confirmed_user().await;
        let tokens = self
            .identity
            .sign_in(&email, PASSWORD)
            .await
            .expect("sign in");
        (email, tokens)
    }
}

fn verify_with<T: DeserializeOwned>(
    jwks: &serde_json::Value,
    issuer: &str,
    client_id: &str,
    token: &str,
    audience: bool,
) -> T {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("the header names its key");
    let key = jwks["keys"]
        .as_array()
        .expect("a key list")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("no key {kid} in the JWKS"));
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    let key = DecodingKey::from_rsa_components(
        key["n"].as_str().expect("n"),
        key["e"].as_str().expect("e"),
    )
    .expect("an RSA key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    if audience {
        validation.set_audience(&[client_id]);
    } else {
        validation.validate_aud = false;
    }
    jsonwebtoken::decode::<T>(token, &key, &validation)
        .expect("the token verifies against the JWKS")
        .claims
}

fn new_email() -> String {
    format!("{}@example.com", harness::unique("user"))
}

fn sign_up(email: &str, password: &str) -> SignUp {
    SignUp {
        email: email.into(),
        password: password.into(),
        attributes: [
            ("given_name".to_string(), "Ada".to_string()),
            ("family_name".to_string(), "Lovelace".to_string()),
        ]
        .into(),
    }
}

/// Another code of the same shape: the last digit changed.
fn wrong(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let last = chars.pop().expect("a non-empty code");
    let other = if last == '0' { '1' } else { '0' };
    chars.push(other);
    chars.into_iter().collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---- on both adapters ----

async fn sign_up_confirm_then_sign_in(pool: &Pool) {
    let email = new_email();
    let signed_up = pool
        .identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    assert!(!signed_up.confirmed);
    assert!(!signed_up.sub.is_empty());

    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    pool.identity
        .confirm_sign_up(&email, &code)
        .await
        .expect("confirm");

    let tokens = pool
        .identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("sign in");
    assert_eq!(tokens.expires_in, 3600);
    assert!(
        tokens.refresh_token.is_some(),
        "a sign-in gives a refresh token"
    );
    let access: AccessClaims = pool.verify(&tokens.access_token, false).await;
    assert_eq!(access.sub, signed_up.sub);
}

async fn duplicate_email_is_refused(pool: &Pool) {
    let email = pool.confirmed_user().await;
    assert_eq!(
        pool.identity.sign_up(sign_up(&email, NEW_PASSWORD)).await,
        Err(IdentityError::UsernameExists)
    );
}

async fn weak_password_is_refused(pool: &Pool) {
    // Length is the pool's only rule (NIST SP 800-63B); the common-password
    // check runs in the handlers, before the pool.
    for weak in ["Sh0rt!", "seven77"] {
        let result = pool.identity.sign_up(sign_up(&new_email(), weak)).await;
        assert!(
            matches!(result, Err(IdentityError::InvalidPassword(_))),
            "{weak}: {result:?}"
        );
    }
}

async fn malformed_email_is_refused(pool: &Pool) {
    for bad in ["not-an-email", "user@", "@example.com"] {
        let result = pool.identity.sign_up(sign_up(bad, PASSWORD)).await;
        assert!(
            matches!(result, Err(IdentityError::InvalidParameter(_))),
            "{bad}: {result:?}"
        );
    }
}

async fn sign_in_before_confirming_is_refused(pool: &Pool) {
    let email = new_email();
    pool.identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    // The password is checked first: a wrong one tells nothing about the account.
    assert_eq!(
        pool.identity.sign_in(&email, NEW_PASSWORD).await,
        Err(IdentityError::NotAuthorized)
    );
    assert_eq!(
        pool.identity.sign_in(&email, PASSWORD).await,
        Err(IdentityError::UserNotConfirmed)
    );
}

async fn wrong_password_or_unknown_user_is_not_authorized(pool: &Pool) {
    let email = pool.confirmed_user().await;
    assert_eq!(
        pool.identity.sign_in(&email, NEW_PASSWORD).await,
        Err(IdentityError::NotAuthorized)
    );
    assert_eq!(
        pool.identity.sign_in(&new_email(), PASSWORD).await,
        Err(IdentityError::NotAuthorized)
    );
}

async fn access_token_has_cognito_claims(pool: &Pool) {
    let (email, tokens) = pool.signed_in().await;
    let claims: AccessClaims = pool.verify(&tokens.access_token, false).await;
    assert!(!claims.sub.is_empty());
    assert_eq!(claims.client_id, pool.client_id);
    assert_eq!(claims.token_use, "access");
    // With the e-mail as username attribute, Cognito's username is the sub.
    assert_eq!(claims.username, claims.sub);
    assert_eq!(claims.scope, "aws.cognito.signin.user.admin");
    assert_eq!(claims.iss, pool.issuer);
    assert_eq!(claims.exp - claims.iat, 3600);
    assert!((claims.iat - now()).abs() <= 60, "iat is now");
    assert!(!claims.jti.is_empty());

    let again = pool
        .identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("sign in again");
    let other: AccessClaims = pool.verify(&again.access_token, false).await;
    assert_ne!(other.jti, claims.jti, "every token has its own jti");
}

async fn id_token_has_cognito_claims(pool: &Pool) {
    let (email, tokens) = pool.signed_in().await;
    let access: AccessClaims = pool.verify(&tokens.access_token, false).await;
    let claims: IdClaims = pool.verify(&tokens.id_token, true).await;
    assert_eq!(claims.sub, access.sub);
    assert_eq!(claims.aud, pool.client_id);
    assert_eq!(claims.token_use, "id");
    assert_eq!(claims.username, claims.sub);
    assert_eq!(claims.email.as_deref(), Some(email.as_str()));
    assert_eq!(claims.iss, pool.issuer);
    assert_eq!(claims.exp - claims.iat, 3600);

    // Beyond the port's claim types: the profile and the session.
    let id: serde_json::Value = pool.verify(&tokens.id_token, true).await;
    let access: serde_json::Value = pool.verify(&tokens.access_token, false).await;
    assert_eq!(id["given_name"], "Ada");
    assert_eq!(id["family_name"], "Lovelace");
    assert!(
        id["auth_time"]
            .as_i64()
            .is_some_and(|t| (t - now()).abs() <= 60)
    );
    assert_eq!(id["auth_time"], access["auth_time"]);
    assert!(id["origin_jti"].is_string());
    assert_eq!(id["origin_jti"], access["origin_jti"], "one session");
}

async fn refresh_gives_a_new_access_token(pool: &Pool) {
    let (email, tokens) = pool.signed_in().await;
    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    let refreshed = pool
        .identity
        .refresh(&refresh_token)
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_eq!(
        refreshed.refresh_token, None,
        "a refresh gives no refresh token"
    );
    let before: AccessClaims = pool.verify(&tokens.access_token, false).await;
    let after: AccessClaims = pool.verify(&refreshed.access_token, false).await;
    assert_eq!(after.sub, before.sub);
    assert_ne!(after.jti, before.jti);
    let id: IdClaims = pool.verify(&refreshed.id_token, true).await;
    assert_eq!(id.sub, before.sub);
    let user = pool
        .identity
        .get_user(&refreshed.access_token)
        .await
        .expect("the new token works");
    assert_eq!(user.username, email);
    // The refresh token stays valid.
    pool.identity
        .refresh(&refresh_token)
        .await
        .expect("refresh again");
    assert_eq!(
        pool.identity.refresh("not-a-refresh-token").await,
        Err(IdentityError::NotAuthorized)
    );
}

async fn global_sign_out_revokes_every_token(pool: &Pool) {
    let (email, tokens) = pool.signed_in().await;
    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    pool.identity
        .global_sign_out(&tokens.access_token)
        .await
        .expect("sign out");
    assert_eq!(
        pool.identity.refresh(&refresh_token).await,
        Err(IdentityError::NotAuthorized)
    );
    assert_eq!(
        pool.identity.get_user(&tokens.access_token).await,
        Err(IdentityError::NotAuthorized)
    );
    assert_eq!(
        pool.identity.global_sign_out(&tokens.access_token).await,
        Err(IdentityError::NotAuthorized)
    );
    // A sign-in right after opens a new, valid session.
    let fresh = pool
        .identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("sign in again");
    pool.identity
        .get_user(&fresh.access_token)
        .await
        .expect("the new token works");
    pool.identity
        .refresh(fresh.refresh_token.as_deref().expect("a refresh token"))
        .await
        .expect("the new refresh token works");
}

async fn forgot_password_resets_it(pool: &Pool) {
    let email = pool.confirmed_user().await;
    let delivery = pool
        .identity
        .forgot_password(&email)
        .await
        .expect("forgot password");
    assert_eq!(delivery.medium, "EMAIL");
    assert_eq!(delivery.destination, "u***@e***");
    let code = pool.code(&email, MessageKind::ForgotPassword);
    pool.identity
        .confirm_forgot_password(&email, &code, NEW_PASSWORD)
        .await
        .expect("reset");
    assert_eq!(
        pool.identity.sign_in(&email, PASSWORD).await,
        Err(IdentityError::NotAuthorized)
    );
    pool.identity
        .sign_in(&email, NEW_PASSWORD)
        .await
        .expect("the new password works");
}

async fn a_reset_code_works_once(pool: &Pool) {
    let email = pool.confirmed_user().await;
    pool.identity
        .forgot_password(&email)
        .await
        .expect("forgot password");
    let code = pool.code(&email, MessageKind::ForgotPassword);
    pool.identity
        .confirm_forgot_password(&email, &code, NEW_PASSWORD)
        .await
        .expect("reset");
    assert_eq!(
        pool.identity
            .confirm_forgot_password(&email, &code, PASSWORD)
            .await,
        Err(IdentityError::ExpiredCode)
    );
    pool.identity
        .sign_in(&email, NEW_PASSWORD)
        .await
        .expect("the password set first stays");
}

async fn a_wrong_reset_code_changes_nothing(pool: &Pool) {
    let email = pool.confirmed_user().await;
    pool.identity
        .forgot_password(&email)
        .await
        .expect("forgot password");
    let code = pool.code(&email, MessageKind::ForgotPassword);
    let result = pool
        .identity
        .confirm_forgot_password(&email, &wrong(&code), NEW_PASSWORD)
        .await;
    // Cognito says CodeMismatch (proved on the embedded pool below); moto
    // says ExpiredCode.
    assert!(
        matches!(
            result,
            Err(IdentityError::CodeMismatch | IdentityError::ExpiredCode)
        ),
        "{result:?}"
    );
    pool.identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("the old password still works");
    assert_eq!(
        pool.identity.sign_in(&email, NEW_PASSWORD).await,
        Err(IdentityError::NotAuthorized)
    );
}

async fn change_password_checks_the_old_one(pool: &Pool) {
    let (email, tokens) = pool.signed_in().await;
    let access = &tokens.access_token;
    assert_eq!(
        pool.identity
            .change_password(access, "Wrong-Password-1", NEW_PASSWORD)
            .await,
        Err(IdentityError::NotAuthorized)
    );
    let weak = pool
        .identity
        .change_password(access, PASSWORD, "weak")
        .await;
    assert!(
        matches!(weak, Err(IdentityError::InvalidPassword(_))),
        "{weak:?}"
    );
    pool.identity
        .change_password(access, PASSWORD, NEW_PASSWORD)
        .await
        .expect("change password");
    assert_eq!(
        pool.identity.sign_in(&email, PASSWORD).await,
        Err(IdentityError::NotAuthorized)
    );
    pool.identity
        .sign_in(&email, NEW_PASSWORD)
        .await
        .expect("the new password works");
    assert_eq!(
        pool.identity
            .change_password("not-a-token", NEW_PASSWORD, PASSWORD)
            .await,
        Err(IdentityError::NotAuthorized)
    );
}

async fn get_user_returns_the_profile(pool: &Pool) {
    let email = new_email();
    let signed_up = pool
        .identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    pool.identity
        .confirm_sign_up(&email, &code)
        .await
        .expect("confirm");
    let tokens = pool
        .identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("sign in");
    let user = pool
        .identity
        .get_user(&tokens.access_token)
        .await
        .expect("get user");
    assert_eq!(user.username, email);
    assert_eq!(user.sub, signed_up.sub);
    assert_eq!(user.attributes.get("email"), Some(&email));
    assert_eq!(user.attributes.get("sub"), Some(&signed_up.sub));
    assert_eq!(
        user.attributes.get("given_name").map(String::as_str),
        Some("Ada")
    );
    assert_eq!(
        user.attributes.get("family_name").map(String::as_str),
        Some("Lovelace")
    );
    assert_eq!(
        pool.identity.get_user("not-a-token").await,
        Err(IdentityError::NotAuthorized)
    );
}

async fn an_access_token_verifies_as_the_authorizer_checks_it(pool: &Pool) {
    let (_, tokens) = pool.signed_in().await;
    let claims = pool
        .identity
        .verify_access_token(&tokens.access_token)
        .await
        .expect("the pool's own access token verifies");
    let decoded: AccessClaims = pool.verify(&tokens.access_token, false).await;
    assert_eq!(claims.sub, decoded.sub);
    assert_eq!(claims.client_id, pool.client_id);
    assert_eq!(claims.token_use, "access");
    assert_eq!(claims.iss, pool.issuer);
    for refused in [
        tokens.id_token.as_str(),
        "not-a-token",
        &format!("{}x", tokens.access_token),
    ] {
        assert_eq!(
            pool.identity.verify_access_token(refused).await,
            Err(IdentityError::NotAuthorized),
            "{refused}"
        );
    }
}

async fn the_backend_answers_a_health_probe(pool: &Pool) {
    assert_eq!(pool.identity.probe().await, Ok(()));
}

conformance!(Pool:
    the_backend_answers_a_health_probe,
    an_access_token_verifies_as_the_authorizer_checks_it,
    sign_up_confirm_then_sign_in,
    duplicate_email_is_refused,
    weak_password_is_refused,
    malformed_email_is_refused,
    sign_in_before_confirming_is_refused,
    wrong_password_or_unknown_user_is_not_authorized,
    access_token_has_cognito_claims,
    id_token_has_cognito_claims,
    refresh_gives_a_new_access_token,
    global_sign_out_revokes_every_token,
    forgot_password_resets_it,
    a_reset_code_works_once,
    a_wrong_reset_code_changes_nothing,
    change_password_checks_the_old_one,
    get_user_returns_the_profile,
    an_id_token_is_not_an_access_token,
);

// ---- on the embedded pool only ----

async fn a_wrong_sign_up_code_is_refused(pool: &Pool) {
    let email = new_email();
    pool.identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    assert_eq!(
        pool.identity.confirm_sign_up(&email, &wrong(&code)).await,
        Err(IdentityError::CodeMismatch)
    );
    assert_eq!(
        pool.identity.sign_in(&email, PASSWORD).await,
        Err(IdentityError::UserNotConfirmed)
    );
    pool.identity
        .confirm_sign_up(&email, &code)
        .await
        .expect("the right code still works");
    pool.identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("sign in");
}

async fn resend_code_sends_a_new_code(pool: &Pool) {
    let email = new_email();
    pool.identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    let first = pool.code(&email, MessageKind::ConfirmSignUp);
    let delivery = pool.identity.resend_code(&email).await.expect("resend");
    assert_eq!(delivery.medium, "EMAIL");
    assert_eq!(delivery.destination, "u***@e***");
    let second = pool.code(&email, MessageKind::ConfirmSignUp);
    let messages = local::mailbox(&pool.embedded_parts().1.data_dir).expect("mailbox");
    assert_eq!(messages.len(), 2, "two codes sent");
    assert!(
        messages
            .iter()
            .all(|m| m.to == email && m.kind == MessageKind::ConfirmSignUp)
    );
    if first != second {
        // The new code replaces the old one.
        assert_eq!(
            pool.identity.confirm_sign_up(&email, &first).await,
            Err(IdentityError::CodeMismatch)
        );
    }
    pool.identity
        .confirm_sign_up(&email, &second)
        .await
        .expect("the new code works");
    assert!(
        matches!(
            pool.identity.resend_code(&email).await,
            Err(IdentityError::InvalidParameter(_))
        ),
        "no code for a confirmed user"
    );
}

async fn a_wrong_reset_code_is_a_code_mismatch(pool: &Pool) {
    let email = pool.confirmed_user().await;
    pool.identity
        .forgot_password(&email)
        .await
        .expect("forgot password");
    let code = pool.code(&email, MessageKind::ForgotPassword);
    assert_eq!(
        pool.identity
            .confirm_forgot_password(&email, &wrong(&code), NEW_PASSWORD)
            .await,
        Err(IdentityError::CodeMismatch)
    );
    pool.identity
        .confirm_forgot_password(&email, &code, NEW_PASSWORD)
        .await
        .expect("the right code still works");
}

async fn wrong_codes_run_out(pool: &Pool) {
    let email = new_email();
    pool.identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    for _ in 0..local::MAX_CODE_ATTEMPTS {
        assert_eq!(
            pool.identity.confirm_sign_up(&email, &wrong(&code)).await,
            Err(IdentityError::CodeMismatch)
        );
    }
    assert_eq!(
        pool.identity.confirm_sign_up(&email, &code).await,
        Err(IdentityError::TooManyRequests),
        "even the right code is refused once the attempts are used up"
    );
    pool.identity.resend_code(&email).await.expect("resend");
    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    pool.identity
        .confirm_sign_up(&email, &code)
        .await
        .expect("a new code has new attempts");
}

async fn codes_expire(pool: &Pool) {
    let email = new_email();
    pool.identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    pool.advance(24 * 60 * 60 + 1);
    assert_eq!(
        pool.identity.confirm_sign_up(&email, &code).await,
        Err(IdentityError::ExpiredCode)
    );
    pool.identity.resend_code(&email).await.expect("resend");
    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    pool.identity
        .confirm_sign_up(&email, &code)
        .await
        .expect("confirm");

    pool.identity
        .forgot_password(&email)
        .await
        .expect("forgot password");
    let code = pool.code(&email, MessageKind::ForgotPassword);
    pool.advance(60 * 60 + 1);
    assert_eq!(
        pool.identity
            .confirm_forgot_password(&email, &code, NEW_PASSWORD)
            .await,
        Err(IdentityError::ExpiredCode)
    );
    pool.identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("the password is unchanged");
}

async fn access_tokens_expire_after_an_hour(pool: &Pool) {
    let (_, tokens) = pool.signed_in().await;
    pool.advance(60 * 60 + 1);
    assert_eq!(
        pool.identity.get_user(&tokens.access_token).await,
        Err(IdentityError::NotAuthorized)
    );
    let refreshed = pool
        .identity
        .refresh(tokens.refresh_token.as_deref().expect("a refresh token"))
        .await
        .expect("the refresh token lasts 30 days");
    pool.identity
        .get_user(&refreshed.access_token)
        .await
        .expect("the new token works");
    pool.advance(30 * 24 * 60 * 60);
    assert_eq!(
        pool.identity
            .refresh(tokens.refresh_token.as_deref().expect("a refresh token"))
            .await,
        Err(IdentityError::NotAuthorized)
    );
}

async fn a_confirmed_email_is_verified(pool: &Pool) {
    let (_, tokens) = pool.signed_in().await;
    let claims: serde_json::Value = pool.verify(&tokens.id_token, true).await;
    assert_eq!(claims["email_verified"], true);
    let user = pool
        .identity
        .get_user(&tokens.access_token)
        .await
        .expect("get user");
    assert_eq!(
        user.attributes.get("email_verified").map(String::as_str),
        Some("true")
    );
    let header = jsonwebtoken::decode_header(&tokens.id_token).expect("header");
    assert_eq!(
        header.kid.as_deref(),
        Some(pool.embedded_parts().0.key_id())
    );
}

async fn email_is_case_insensitive(pool: &Pool) {
    let email = new_email();
    let shouted = email.to_uppercase();
    pool.identity
        .sign_up(sign_up(&shouted, PASSWORD))
        .await
        .expect("sign up");
    let code = pool.code(&email, MessageKind::ConfirmSignUp);
    pool.identity
        .confirm_sign_up(&email, &code)
        .await
        .expect("confirm in lower case");
    pool.identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("sign in in lower case");
    assert_eq!(
        pool.identity.sign_up(sign_up(&email, PASSWORD)).await,
        Err(IdentityError::UsernameExists)
    );
}

async fn auto_confirm_needs_no_code_yet_mails_it(pool: &Pool) {
    let dir = harness::data_dir();
    let mut settings = EmbeddedSettings::new(dir.path());
    settings.auto_confirm = true;
    let identity = EmbeddedIdentity::open(&settings).await.expect("open");
    let email = new_email();
    let signed_up = identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    assert!(signed_up.confirmed);
    identity
        .sign_in(&email, PASSWORD)
        .await
        .expect("sign in at once");
    // The mail is still written to the mailbox, as the pool would send it.
    let mailbox = local::mailbox(dir.path()).expect("mailbox");
    assert_eq!(mailbox.len(), 1);
    assert_eq!(mailbox[0].to, email);
    // The fixture's own pool asks for a code.
    let other = new_email();
    assert!(
        !pool
            .identity
            .sign_up(sign_up(&other, PASSWORD))
            .await
            .expect("sign up")
            .confirmed
    );
}

async fn tokens_survive_a_reopen(_: &Pool) {
    let dir = harness::data_dir();
    let mut settings = EmbeddedSettings::new(dir.path());
    settings.auto_confirm = true;
    let identity = EmbeddedIdentity::open(&settings).await.expect("open");
    let email = new_email();
    identity
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    let tokens = identity.sign_in(&email, PASSWORD).await.expect("sign in");
    let jwks = identity.jwks();
    drop(identity);

    let reopened = EmbeddedIdentity::open(&settings).await.expect("reopen");
    assert_eq!(reopened.jwks(), jwks, "the signing key persists");
    let _: AccessClaims = verify_with(
        &reopened.jwks(),
        reopened.issuer(),
        local::CLIENT_ID,
        &tokens.access_token,
        false,
    );
    let user = reopened
        .get_user(&tokens.access_token)
        .await
        .expect("the old access token still works");
    assert_eq!(user.username, email);
    reopened
        .refresh(tokens.refresh_token.as_deref().expect("a refresh token"))
        .await
        .expect("the old refresh token still works");
}

async fn tokens_of_another_pool_are_refused(pool: &Pool) {
    let dir = harness::data_dir();
    let mut settings = EmbeddedSettings::new(dir.path());
    settings.auto_confirm = true;
    let other = EmbeddedIdentity::open(&settings).await.expect("open");
    let email = new_email();
    other
        .sign_up(sign_up(&email, PASSWORD))
        .await
        .expect("sign up");
    let tokens = other.sign_in(&email, PASSWORD).await.expect("sign in");
    // Same issuer URL and claims, another key.
    assert_eq!(
        pool.identity.get_user(&tokens.access_token).await,
        Err(IdentityError::NotAuthorized)
    );
}

async fn an_id_token_is_not_an_access_token(pool: &Pool) {
    let (_, tokens) = pool.signed_in().await;
    assert_eq!(
        pool.identity.get_user(&tokens.id_token).await,
        Err(IdentityError::NotAuthorized)
    );
    assert_eq!(
        pool.identity.global_sign_out(&tokens.id_token).await,
        Err(IdentityError::NotAuthorized)
    );
    pool.identity
        .get_user(&tokens.access_token)
        .await
        .expect("the session is still open");
}

embedded_only!(Pool:
    a_wrong_sign_up_code_is_refused => "moto accepts any confirmation code",
    resend_code_sends_a_new_code => "moto does not implement ResendConfirmationCode",
    a_wrong_reset_code_is_a_code_mismatch => "moto answers a wrong reset code with ExpiredCodeException, Cognito with CodeMismatchException",
    wrong_codes_run_out => "moto neither checks sign-up codes nor counts wrong attempts",
    codes_expire => "moto's codes never expire, and its clock cannot be moved",
    access_tokens_expire_after_an_hour => "moto's clock cannot be moved",
    a_confirmed_email_is_verified => "moto never sets email_verified, in the id token or in GetUser",
    email_is_case_insensitive => "moto matches e-mail usernames case-sensitively",
    auto_confirm_needs_no_code_yet_mails_it => "auto-confirm is a setting of the embedded pool (Cognito does it with a pre-sign-up trigger)",
    tokens_survive_a_reopen => "the data folder is the embedded pool's",
    tokens_of_another_pool_are_refused => "moto accepts an access token of any of its pools",
);
