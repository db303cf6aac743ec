//! The embedded identity provider: a user pool with Cognito's semantics in
//! `<data>/identity.redb`, issuing RS256 tokens with Cognito's claims.
//!
//! - Users are keyed by `sub`, found by their lower-cased e-mail; passwords
//!   are argon2id PHC strings.
//! - Confirmation and reset codes are six digits, stored hashed, single use,
//!   with an expiry (24 h for sign-up, 1 h for reset) and at most
//!   [`MAX_CODE_ATTEMPTS`] wrong tries. Each code is "e-mailed" to the mailbox,
//!   `<data>/mailbox/<ulid>.json`, which [`mailbox`] reads back.
//! - The signing key is a 2048-bit RSA key created once in `<data>/secrets/`;
//!   [`EmbeddedIdentity::jwks`] publishes it, and the issuer is
//!   `<public_url>/<POOL_ID>` so the JWKS sits where Cognito puts it:
//!   `<issuer>/.well-known/jwks.json`.
//! - Every sign-in opens a session named by the tokens' `origin_jti` claim, as
//!   Cognito does. A refresh token belongs to one session; global sign-out
//!   ends every session of the user, which revokes the refresh tokens and the
//!   access tokens issued so far, while a sign-in right after it opens a new,
//!   valid session (no clock-precision race).
//! - Errors for unknown users follow a pool whose app client prevents user
//!   existence errors (what `create_user_pool` provisions): sign-in says
//!   `NotAuthorized`, forgot-password and resend pretend to send a code, and
//!   confirming a code says `CodeMismatch`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::mailbox::{Mailbox, mask};
pub use super::mailbox::{MailboxMessage, MessageKind, latest_code, mailbox};
use super::{blocking, secrets};
use crate::config::EmbeddedSettings;
use crate::ports::identity::{
    AccessClaims, CodeDelivery, IdClaims, Identity, IdentityError, IdentityResult, SignUp,
    SignedUp, Tokens, User,
};
use crate::random;
use crate::resources::PASSWORD_POLICY;

/// The pool id, the last segment of the issuer URL (Cognito's are `<region>_<id>`).
pub const POOL_ID: &str = "local_nocode";

/// The one app client of the embedded pool (`client_id` / `aud` claims).
pub const CLIENT_ID: &str = "nocodelocalclient";

/// Wrong tries a code allows; the next try answers `TooManyRequests`.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// The scope of a token from a password sign-in.
const SCOPE: &str = "aws.cognito.signin.user.admin";
const TOKEN_TTL_SECS: i64 = 60 * 60;
const REFRESH_TTL_SECS: i64 = 30 * 24 * 60 * 60;
const SIGN_UP_CODE_TTL_SECS: i64 = 24 * 60 * 60;
const RESET_CODE_TTL_SECS: i64 = 60 * 60;
const KEY_FILE: &str = "identity-rs256.pem";
const KEY_BITS: usize = 2048;

/// Users by `sub`, as JSON.
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Lower-cased e-mail → `sub`.
const EMAILS: TableDefinition<&str, &str> = TableDefinition::new("emails");
/// SHA-256 (hex) of a refresh token → its session, as JSON.
const REFRESH_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("refresh_tokens");

/// Where the provider reads the time. Tests pass one they can move forward.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The embedded user pool. Cheap to clone; clones share one database.
#[derive(Clone)]
pub struct EmbeddedIdentity {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    data_dir: PathBuf,
    issuer: String,
    auto_confirm: bool,
    signing_key: EncodingKey,
    verifying_key: DecodingKey,
    kid: String,
    jwks: serde_json::Value,
    clock: Clock,
    // Mailbox file names sort in sending order, even within a millisecond.
    mailbox: Mailbox,
    /// Tokens whose signature and issuer checked out, by their SHA-256: an
    /// RSA verification costs more than the rest of a request, and the
    /// result never changes. Expiry and the session are checked each time.
    verified: std::sync::Mutex<std::collections::HashMap<[u8; 32], AccessToken>>,
}

/// Most verified tokens remembered; past it, the memory starts over.
const MAX_VERIFIED: usize = 10_000;

impl std::fmt::Debug for EmbeddedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIdentity")
            .field("data_dir", &self.inner.data_dir)
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl EmbeddedIdentity {
    /// Opens (creating on first use) the pool in `settings.data_dir`, with the
    /// signing key in its `secrets/` folder.
    pub async fn open(settings: &EmbeddedSettings) -> IdentityResult<Self> {
        Self::open_with_clock(settings, Arc::new(Utc::now)).await
    }

    /// Like [`EmbeddedIdentity::open`], reading the time from `clock`: code and
    /// token expiry follow it, so tests can move time forward.
    pub async fn open_with_clock(
        settings: &EmbeddedSettings,
        clock: Clock,
    ) -> IdentityResult<Self> {
        let settings = settings.clone();
        let inner = blocking(
            move || Inner::open(&settings, clock),
            IdentityError::Backend,
        )
        .await?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The issuer URL of the tokens, `<public_url>/<POOL_ID>`.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The public signing key as a JWKS document, as Cognito serves it at
    /// `<issuer>/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        self.inner.jwks.clone()
    }

    /// The `kid` of the signing key.
    pub fn key_id(&self) -> &str {
        &self.inner.kid
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> IdentityResult<T> + Send + 'static,
    ) -> IdentityResult<T> {
        blocking(work, IdentityError::Backend).await
    }
}

#[async_trait]
impl Identity for EmbeddedIdentity {
    /// Also checks the session, as the pool does for `get_user`, so a
    /// sign-out is immediate locally.
    async fn verify_access_token(&self, access_token: &str) -> IdentityResult<AccessClaims> {
        // On the calling task: a remembered signature leaves a cached read,
        // cheaper than a hand-off to the blocking pool.
        self.inner
            .authenticate(access_token)
            .map(|(claims, _)| claims)
    }

    async fn probe(&self) -> Result<(), String> {
        match self.get_user("health-probe").await {
            Err(IdentityError::Backend(why)) => Err(why),
            _ => Ok(()),
        }
    }

    async fn sign_up(&self, sign_up: SignUp) -> IdentityResult<SignedUp> {
        let inner = self.inner.clone();
        self.run(move || inner.sign_up(sign_up)).await
    }

    async fn confirm_sign_up(&self, email: &str, code: &str) -> IdentityResult<()> {
        let (inner, email, code) = (self.inner.clone(), email.to_string(), code.to_string());
        self.run(move || inner.confirm_sign_up(&email, &code)).await
    }

    async fn resend_code(&self, email: &str) -> IdentityResult<CodeDelivery> {
        let (inner, email) = (self.inner.clone(), email.to_string());
        self.run(move || inner.resend_code(&email)).await
    }

    async fn sign_in(&self, email: &str, password: &str) -> IdentityResult<Tokens> {
        let (inner, email, password) =
            (self.inner.clone(), email.to_string(), password.to_string());
        self.run(move || inner.sign_in(&email, &password)).await
    }

    async fn refresh(&self, refresh_token: &str) -> IdentityResult<Tokens> {
        let (inner, token) = (self.inner.clone(), refresh_token.to_string());
        self.run(move || inner.refresh(&token)).await
    }

    async fn global_sign_out(&self, access_token: &str) -> IdentityResult<()> {
        let (inner, token) = (self.inner.clone(), access_token.to_string());
        self.run(move || inner.global_sign_out(&token)).await
    }

    async fn forgot_password(&self, email: &str) -> IdentityResult<CodeDelivery> {
        let (inner, email) = (self.inner.clone(), email.to_string());
        self.run(move || inner.forgot_password(&email)).await
    }

    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> IdentityResult<()> {
        let inner = self.inner.clone();
        let (email, code, new_password) = (
            email.to_string(),
            code.to_string(),
            new_password.to_string(),
        );
        self.run(move || inner.confirm_forgot_password(&email, &code, &new_password))
            .await
    }

    async fn change_password(
        &self,
        access_token: &str,
        old_password: &str,
        new_password: &str,
    ) -> IdentityResult<()> {
        let inner = self.inner.clone();
        let (token, old, new) = (
            access_token.to_string(),
            old_password.to_string(),
            new_password.to_string(),
        );
        self.run(move || inner.change_password(&token, &old, &new))
            .await
    }

    async fn get_user(&self, access_token: &str) -> IdentityResult<User> {
        let (inner, token) = (self.inner.clone(), access_token.to_string());
        self.run(move || inner.get_user(&token)).await
    }
}

/// A user as stored.
#[derive(Clone, Serialize, Deserialize)]
struct UserRecord {
    sub: String,
    /// The e-mail address as signed up (the lookup key is its lower case).
    email: String,
    /// Attributes given at sign-up, without `sub`, `email` and `email_verified`.
    attributes: BTreeMap<String, String>,
    confirmed: bool,
    password_hash: String,
    created_at: i64,
    /// Open sessions by `origin_jti`.
    sessions: BTreeMap<String, Session>,
    confirm_code: Option<PendingCode>,
    reset_code: Option<PendingCode>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct Session {
    auth_time: i64,
    expires_at: i64,
}

#[derive(Clone, Serialize, Deserialize)]
struct PendingCode {
    hash: String,
    expires_at: i64,
    attempts: u32,
}

/// What a refresh token stands for.
#[derive(Serialize, Deserialize)]
struct RefreshRecord {
    sub: String,
    origin_jti: String,
    expires_at: i64,
}

/// An access token's claims: Cognito's, with the session it belongs to.
#[derive(Clone, Serialize, Deserialize)]
struct AccessToken {
    #[serde(flatten)]
    claims: AccessClaims,
    auth_time: i64,
    origin_jti: String,
}

/// An id token's claims beyond [`IdClaims`], as Cognito adds them.
#[derive(Serialize)]
struct IdToken<'a> {
    #[serde(flatten)]
    claims: IdClaims,
    email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<&'a str>,
    auth_time: i64,
    origin_jti: &'a str,
    jti: String,
}

fn backend(context: &str, error: impl std::fmt::Display) -> IdentityError {
    IdentityError::Backend(format!("{context}: {error}"))
}

fn db_error(error: impl Into<redb::Error>) -> IdentityError {
    backend("identity database", error.into())
}

/// Tokens must not tell why they were refused.
fn refused<E>(_: E) -> IdentityError {
    IdentityError::NotAuthorized
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed, so the parts cannot run into each other.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn code_hash(sub: &str, kind: MessageKind, code: &str) -> String {
    let purpose: &[u8] = match kind {
        MessageKind::ConfirmSignUp => b"confirm_sign_up",
        MessageKind::ForgotPassword => b"forgot_password",
        MessageKind::Invitation => b"invitation",
        MessageKind::Notice => b"notice",
    };
    hex_sha256(&[sub.as_bytes(), purpose, code.as_bytes()])
}

fn refresh_key(token: &str) -> String {
    hex_sha256(&[token.as_bytes()])
}

/// A random UUID (version 4), the shape of Cognito's `sub`.
fn uuid_v4() -> String {
    let mut b = random::bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// What Cognito checks of an `email` attribute: one `@` between a local
/// part and a dotted domain, no whitespace. The platform checks its own,
/// stricter rule before it calls the pool.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn delivery(email: &str) -> CodeDelivery {
    CodeDelivery {
        medium: "EMAIL".into(),
        destination: mask(email),
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::default()
}

fn hash_password(password: &str) -> IdentityResult<String> {
    let hash = argon2()
        .hash_password(password.as_bytes())
        .map_err(|e| backend("hashing a password", e))?;
    Ok(hash.to_string())
}

fn password_matches(password: &str, phc: &str) -> bool {
    argon2().verify_password(password.as_bytes(), phc).is_ok()
}

/// A hash that no password matches in practice, checked against when the user
/// is unknown so a sign-in takes as long either way.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random::token()).unwrap_or_default())
}

/// The OS random generator in the form the `rsa` crate takes.
struct OsRandom;

impl rsa::rand_core::TryRng for OsRandom {
    type Error = std::io::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        getrandom::fill(dst).map_err(|e| std::io::Error::other(e.to_string()))
    }
}

impl rsa::rand_core::TryCryptoRng for OsRandom {}

fn generate_key_pem() -> std::io::Result<Vec<u8>> {
    let key = rsa::PrivateKey::new(&mut OsRandom, KEY_BITS)
        .map_err(|e| std::io::Error::other(format!("generating the RSA key: {e}")))?;
    let pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| std::io::Error::other(format!("encoding the RSA key: {e}")))?;
    Ok(pem.as_bytes().to_vec())
}

impl Inner {
    fn open(settings: &EmbeddedSettings, clock: Clock) -> IdentityResult<Self> {
        let data_dir = settings.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| backend(&format!("creating {}", data_dir.display()), e))?;

        let pem = secrets::load_or_create(&data_dir, KEY_FILE, generate_key_pem)
            .map_err(|e| backend("loading the signing key", e))?;
        let pem = std::str::from_utf8(&pem).map_err(|e| backend("the signing key", e))?;
        let key =
            rsa::PrivateKey::from_pkcs1_pem(pem).map_err(|e| backend("the signing key", e))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| backend("encoding the signing key", e))?;
        let (n, e) = (key.n_bytes(), key.e_bytes());
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest([&n[..], &e[..]].concat())[..16]);
        let jwks = serde_json::json!({
            "keys": [{
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(&n),
                "e": URL_SAFE_NO_PAD.encode(&e),
            }]
        });

        let path = data_dir.join("identity.redb");
        let db = super::open_database(&path, 8)
            .map_err(|e| backend(&format!("opening {}", path.display()), e))?;
        // Create the tables once, so read transactions always find them.
        let txn = db.begin_write().map_err(db_error)?;
        txn.open_table(USERS).map_err(db_error)?;
        txn.open_table(EMAILS).map_err(db_error)?;
        txn.open_table(REFRESH_TOKENS).map_err(db_error)?;
        txn.commit().map_err(db_error)?;

        Ok(Self {
            db,
            data_dir,
            issuer: format!("{}/{POOL_ID}", settings.public_url.trim_end_matches('/')),
            auto_confirm: settings.auto_confirm,
            signing_key: EncodingKey::from_rsa_der(der.as_bytes()),
            verifying_key: DecodingKey::from_rsa_raw_components(&n, &e),
            kid,
            jwks,
            clock,
            mailbox: Mailbox::new(&settings.data_dir),
            verified: std::sync::Mutex::default(),
        })
    }

    fn now(&self) -> i64 {
        (self.clock)().timestamp()
    }

    // ---- storage ----

    fn find_by_email(&self, email: &str) -> IdentityResult<Option<UserRecord>> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let emails = txn.open_table(EMAILS).map_err(db_error)?;
        let Some(sub) = emails
            .get(email.to_lowercase().as_str())
            .map_err(db_error)?
            .map(|g| g.value().to_string())
        else {
            return Ok(None);
        };
        let users = txn.open_table(USERS).map_err(db_error)?;
        read_user(&users, &sub)
    }

    fn find_by_sub(&self, sub: &str) -> IdentityResult<Option<UserRecord>> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let users = txn.open_table(USERS).map_err(db_error)?;
        read_user(&users, sub)
    }

    /// Reads the user with `email` and applies `change` in one write
    /// transaction; the change is kept when it succeeds and also when it
    /// fails with `keep_on` (a wrong code still counts as an attempt).
    fn update_by_email<T>(
        &self,
        email: &str,
        change: impl FnOnce(Option<&mut UserRecord>) -> IdentityResult<T>,
        keep_on: impl Fn(&IdentityError) -> bool,
    ) -> IdentityResult<T> {
        let txn = self.db.begin_write().map_err(db_error)?;
        let outcome = {
            let sub = txn
                .open_table(EMAILS)
                .map_err(db_error)?
                .get(email.to_lowercase().as_str())
                .map_err(db_error)?
                .map(|g| g.value().to_string());
            let mut users = txn.open_table(USERS).map_err(db_error)?;
            let mut user = match &sub {
                Some(sub) => read_user(&users, sub)?,
                None => None,
            };
            let outcome = change(user.as_mut());
            let keep = outcome.as_ref().err().is_none_or(&keep_on);
            match &user {
                Some(user) if keep => write_user(&mut users, user)?,
                // Nothing to keep: dropping the transaction aborts it.
                _ => return outcome,
            }
            outcome
        };
        txn.commit().map_err(db_error)?;
        outcome
    }

    fn update_by_sub(
        &self,
        sub: &str,
        change: impl FnOnce(&mut UserRecord) -> IdentityResult<()>,
    ) -> IdentityResult<()> {
        let txn = self.db.begin_write().map_err(db_error)?;
        {
            let mut users = txn.open_table(USERS).map_err(db_error)?;
            let mut user = read_user(&users, sub)?.ok_or(IdentityError::NotAuthorized)?;
            change(&mut user)?;
            write_user(&mut users, &user)?;
        }
        txn.commit().map_err(db_error)
    }

    /// Writes a message to the mailbox: whole to a dot file, then renamed, so
    /// a reader never sees half a message.
    fn send(&self, to: &str, kind: MessageKind, code: &str) -> IdentityResult<()> {
        let subject = match kind {
            MessageKind::ConfirmSignUp => "Your verification code",
            MessageKind::ForgotPassword => "Your password reset code",
            MessageKind::Invitation => "You are invited",
            MessageKind::Notice => "A notice",
        };
        self.mailbox
            .write(to, subject, kind, code, (self.clock)())
            .map_err(|e| backend("writing to the mailbox", e))
    }

    // ---- tokens ----

    fn issue(
        &self,
        user: &UserRecord,
        origin_jti: &str,
        session: Session,
    ) -> IdentityResult<(String, String)> {
        let now = self.now();
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(Algorithm::RS256)
        };
        let access = AccessToken {
            claims: AccessClaims {
                sub: user.sub.clone(),
                client_id: CLIENT_ID.into(),
                token_use: "access".into(),
                // With the e-mail as username attribute, Cognito's username is the sub.
                username: user.sub.clone(),
                scope: SCOPE.into(),
                iss: self.issuer.clone(),
                exp: now + TOKEN_TTL_SECS,
                iat: now,
                jti: uuid_v4(),
            },
            auth_time: session.auth_time,
            origin_jti: origin_jti.to_string(),
        };
        let id = IdToken {
            claims: IdClaims {
                sub: user.sub.clone(),
                aud: CLIENT_ID.into(),
                token_use: "id".into(),
                username: user.sub.clone(),
                email: Some(user.email.clone()),
                iss: self.issuer.clone(),
                exp: now + TOKEN_TTL_SECS,
                iat: now,
            },
            email_verified: user.confirmed,
            given_name: user.attributes.get("given_name").map(String::as_str),
            family_name: user.attributes.get("family_name").map(String::as_str),
            auth_time: session.auth_time,
            origin_jti,
            jti: uuid_v4(),
        };
        Ok((self.sign(&header, &access)?, self.sign(&header, &id)?))
    }

    fn sign(&self, header: &Header, claims: &impl Serialize) -> IdentityResult<String> {
        jsonwebtoken::encode(header, claims, &self.signing_key)
            .map_err(|e| backend("signing a token", e))
    }

    /// Verifies an access token and finds its user with the session open.
    fn authenticate(&self, token: &str) -> IdentityResult<(AccessClaims, UserRecord)> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let remembered = self
            .verified
            .lock()
            .ok()
            .and_then(|v| v.get(&digest).cloned());
        let token = match remembered {
            Some(token) => token,
            None => {
                let verified = self.verify_signature(token)?;
                if let Ok(mut memory) = self.verified.lock() {
                    if memory.len() >= MAX_VERIFIED {
                        memory.clear();
                    }
                    memory.insert(digest, verified.clone());
                }
                verified
            }
        };
        let AccessToken {
            claims, origin_jti, ..
        } = token;
        let now = self.now();
        if claims.token_use != "access" || claims.client_id != CLIENT_ID || claims.exp <= now {
            return Err(IdentityError::NotAuthorized);
        }
        let user = self
            .find_by_sub(&claims.sub)?
            .ok_or(IdentityError::NotAuthorized)?;
        match user.sessions.get(&origin_jti) {
            Some(session) if session.expires_at > now => Ok((claims, user)),
            _ => Err(IdentityError::NotAuthorized),
        }
    }

    /// A token's signature, algorithm, key and issuer: what never changes.
    fn verify_signature(&self, token: &str) -> IdentityResult<AccessToken> {
        let header = jsonwebtoken::decode_header(token).map_err(refused)?;
        if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(IdentityError::NotAuthorized);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        // Expiry is checked against the pool's clock below.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Ok(
            jsonwebtoken::decode::<AccessToken>(token, &self.verifying_key, &validation)
                .map_err(refused)?
                .claims,
        )
    }

    fn tokens(
        &self,
        user: &UserRecord,
        origin_jti: &str,
        session: Session,
        refresh: Option<String>,
    ) -> IdentityResult<Tokens> {
        let (access_token, id_token) = self.issue(user, origin_jti, session)?;
        Ok(Tokens {
            access_token,
            id_token,
            refresh_token: refresh,
            expires_in: TOKEN_TTL_SECS.unsigned_abs(),
        })
    }

    // ---- operations ----

    fn sign_up(&self, sign_up: SignUp) -> IdentityResult<SignedUp> {
        let SignUp {
            email,
            password,
            mut attributes,
        } = sign_up;
        if !valid_email(&email) {
            return Err(IdentityError::InvalidParameter(
                "the username must be an e-mail address".into(),
            ));
        }
        for reserved in ["sub", "email_verified"] {
            if attributes.contains_key(reserved) {
                return Err(IdentityError::InvalidParameter(format!(
                    "the attribute {reserved} is set by the pool"
                )));
            }
        }
        // The username is the e-mail address; an `email` attribute cannot differ.
        if let Some(given) = attributes.remove("email")
            && !given.eq_ignore_ascii_case(&email)
        {
            return Err(IdentityError::InvalidParameter(
                "the email attribute must be the username".into(),
            ));
        }
        if self.find_by_email(&email)?.is_some() {
            return Err(IdentityError::UsernameExists);
        }
        PASSWORD_POLICY
            .check(&password)
            .map_err(IdentityError::InvalidPassword)?;
        let password_hash = hash_password(&password)?;

        let now = self.now();
        let sub = uuid_v4();
        // The confirmation mail reaches the mailbox even when the pool confirms
        // at once, so a developer sees every mail the platform would send.
        let code = random::digits(6);
        let user = UserRecord {
            sub: sub.clone(),
            email: email.clone(),
            attributes,
            confirmed: self.auto_confirm,
            password_hash,
            created_at: now,
            sessions: BTreeMap::new(),
            confirm_code: (!self.auto_confirm).then(|| PendingCode {
                hash: code_hash(&sub, MessageKind::ConfirmSignUp, &code),
                expires_at: now + SIGN_UP_CODE_TTL_SECS,
                attempts: 0,
            }),
            reset_code: None,
        };

        let txn = self.db.begin_write().map_err(db_error)?;
        {
            let mut emails = txn.open_table(EMAILS).map_err(db_error)?;
            let key = email.to_lowercase();
            // Checked again inside the transaction: a concurrent sign-up may have won.
            if emails.get(key.as_str()).map_err(db_error)?.is_some() {
                return Err(IdentityError::UsernameExists);
            }
            emails
                .insert(key.as_str(), sub.as_str())
                .map_err(db_error)?;
            let mut users = txn.open_table(USERS).map_err(db_error)?;
            write_user(&mut users, &user)?;
        }
        txn.commit().map_err(db_error)?;

        self.send(&email, MessageKind::ConfirmSignUp, &code)?;
        Ok(SignedUp {
            sub,
            confirmed: self.auto_confirm,
        })
    }

    fn confirm_sign_up(&self, email: &str, code: &str) -> IdentityResult<()> {
        let now = self.now();
        self.update_by_email(
            email,
            |user| {
                let Some(user) = user else {
                    return Err(IdentityError::CodeMismatch);
                };
                if user.confirmed {
                    return Err(IdentityError::NotAuthorized);
                }
                let hash = code_hash(&user.sub, MessageKind::ConfirmSignUp, code);
                check_code(&mut user.confirm_code, &hash, now)?;
                user.confirmed = true;
                Ok(())
            },
            |e| *e == IdentityError::CodeMismatch,
        )
    }

    fn resend_code(&self, email: &str) -> IdentityResult<CodeDelivery> {
        let now = self.now();
        let code = random::digits(6);
        let sent_to = self.update_by_email(
            email,
            |user| {
                let Some(user) = user else {
                    return Ok(None);
                };
                if user.confirmed {
                    return Err(IdentityError::InvalidParameter(
                        "the user is already confirmed".into(),
                    ));
                }
                user.confirm_code = Some(PendingCode {
                    hash: code_hash(&user.sub, MessageKind::ConfirmSignUp, &code),
                    expires_at: now + SIGN_UP_CODE_TTL_SECS,
                    attempts: 0,
                });
                Ok(Some(user.email.clone()))
            },
            |_| false,
        )?;
        match sent_to {
            Some(to) => {
                self.send(&to, MessageKind::ConfirmSignUp, &code)?;
                Ok(delivery(&to))
            }
            None => Ok(delivery(email)),
        }
    }

    fn sign_in(&self, email: &str, password: &str) -> IdentityResult<Tokens> {
        let Some(user) = self.find_by_email(email)? else {
            let _ = password_matches(password, decoy_hash());
            return Err(IdentityError::NotAuthorized);
        };
        if !password_matches(password, &user.password_hash) {
            return Err(IdentityError::NotAuthorized);
        }
        if !user.confirmed {
            return Err(IdentityError::UserNotConfirmed);
        }

        let now = self.now();
        let origin_jti = uuid_v4();
        let session = Session {
            auth_time: now,
            expires_at: now + REFRESH_TTL_SECS,
        };
        let refresh_token = random::token();
        let record = RefreshRecord {
            sub: user.sub.clone(),
            origin_jti: origin_jti.clone(),
            expires_at: session.expires_at,
        };
        let record = serde_json::to_vec(&record).map_err(|e| backend("a refresh token", e))?;

        let txn = self.db.begin_write().map_err(db_error)?;
        let user = {
            let mut users = txn.open_table(USERS).map_err(db_error)?;
            let mut user = read_user(&users, &user.sub)?.ok_or(IdentityError::NotAuthorized)?;
            user.sessions.retain(|_, s| s.expires_at > now);
            user.sessions.insert(origin_jti.clone(), session);
            write_user(&mut users, &user)?;
            let mut refresh = txn.open_table(REFRESH_TOKENS).map_err(db_error)?;
            refresh
                .insert(refresh_key(&refresh_token).as_str(), record.as_slice())
                .map_err(db_error)?;
            user
        };
        txn.commit().map_err(db_error)?;

        self.tokens(&user, &origin_jti, session, Some(refresh_token))
    }

    fn refresh(&self, refresh_token: &str) -> IdentityResult<Tokens> {
        let key = refresh_key(refresh_token);
        let record: RefreshRecord = {
            let txn = self.db.begin_read().map_err(db_error)?;
            let table = txn.open_table(REFRESH_TOKENS).map_err(db_error)?;
            let Some(bytes) = table.get(key.as_str()).map_err(db_error)? else {
                return Err(IdentityError::NotAuthorized);
            };
            serde_json::from_slice(bytes.value()).map_err(|e| backend("a refresh token", e))?
        };
        let now = self.now();
        let user = self.find_by_sub(&record.sub)?;
        let live = user.as_ref().and_then(|u| {
            u.sessions
                .get(&record.origin_jti)
                .filter(|s| record.expires_at > now && s.expires_at > now)
                .copied()
        });
        match (user, live) {
            (Some(user), Some(session)) => self.tokens(&user, &record.origin_jti, session, None),
            _ => {
                // A dead token is never coming back: forget it.
                let txn = self.db.begin_write().map_err(db_error)?;
                txn.open_table(REFRESH_TOKENS)
                    .map_err(db_error)?
                    .remove(key.as_str())
                    .map_err(db_error)?;
                txn.commit().map_err(db_error)?;
                Err(IdentityError::NotAuthorized)
            }
        }
    }

    fn global_sign_out(&self, access_token: &str) -> IdentityResult<()> {
        let (claims, _) = self.authenticate(access_token)?;
        self.update_by_sub(&claims.sub, |user| {
            user.sessions.clear();
            Ok(())
        })
    }

    fn forgot_password(&self, email: &str) -> IdentityResult<CodeDelivery> {
        let now = self.now();
        let code = random::digits(6);
        let sent_to = self.update_by_email(
            email,
            |user| {
                let Some(user) = user else {
                    return Ok(None);
                };
                if !user.confirmed {
                    return Err(IdentityError::InvalidParameter(
                        "cannot reset the password of a user without a verified e-mail".into(),
                    ));
                }
                user.reset_code = Some(PendingCode {
                    hash: code_hash(&user.sub, MessageKind::ForgotPassword, &code),
                    expires_at: now + RESET_CODE_TTL_SECS,
                    attempts: 0,
                });
                Ok(Some(user.email.clone()))
            },
            |_| false,
        )?;
        match sent_to {
            Some(to) => {
                self.send(&to, MessageKind::ForgotPassword, &code)?;
                Ok(delivery(&to))
            }
            None => Ok(delivery(email)),
        }
    }

    fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> IdentityResult<()> {
        PASSWORD_POLICY
            .check(new_password)
            .map_err(IdentityError::InvalidPassword)?;
        // Hashed before the transaction, which then stays short.
        let password_hash = hash_password(new_password)?;
        let now = self.now();
        self.update_by_email(
            email,
            |user| {
                let Some(user) = user else {
                    return Err(IdentityError::CodeMismatch);
                };
                let hash = code_hash(&user.sub, MessageKind::ForgotPassword, code);
                check_code(&mut user.reset_code, &hash, now)?;
                user.password_hash = password_hash;
                Ok(())
            },
            |e| *e == IdentityError::CodeMismatch,
        )
    }

    fn change_password(&self, access_token: &str, old: &str, new: &str) -> IdentityResult<()> {
        let (claims, user) = self.authenticate(access_token)?;
        PASSWORD_POLICY
            .check(new)
            .map_err(IdentityError::InvalidPassword)?;
        if !password_matches(old, &user.password_hash) {
            return Err(IdentityError::NotAuthorized);
        }
        let password_hash = hash_password(new)?;
        self.update_by_sub(&claims.sub, |user| {
            user.password_hash = password_hash;
            Ok(())
        })
    }

    fn get_user(&self, access_token: &str) -> IdentityResult<User> {
        let (_, user) = self.authenticate(access_token)?;
        let mut attributes = user.attributes;
        attributes.insert("sub".into(), user.sub.clone());
        attributes.insert("email".into(), user.email.clone());
        attributes.insert("email_verified".into(), user.confirmed.to_string());
        Ok(User {
            username: user.email,
            sub: user.sub,
            attributes,
        })
    }
}

/// Checks `hash` against a pending code and uses it up on success. A wrong
/// code counts an attempt; once they run out, the code is dead.
fn check_code(pending: &mut Option<PendingCode>, hash: &str, now: i64) -> IdentityResult<()> {
    let Some(code) = pending else {
        // Never sent, or already used: Cognito asks for a new one.
        return Err(IdentityError::ExpiredCode);
    };
    if code.attempts >= MAX_CODE_ATTEMPTS {
        return Err(IdentityError::TooManyRequests);
    }
    if code.hash != hash {
        code.attempts += 1;
        return Err(IdentityError::CodeMismatch);
    }
    if code.expires_at <= now {
        return Err(IdentityError::ExpiredCode);
    }
    *pending = None;
    Ok(())
}

fn read_user(
    users: &impl ReadableTable<&'static str, &'static [u8]>,
    sub: &str,
) -> IdentityResult<Option<UserRecord>> {
    match users.get(sub).map_err(db_error)? {
        Some(bytes) => serde_json::from_slice(bytes.value())
            .map(Some)
            .map_err(|e| backend("a stored user", e)),
        None => Ok(None),
    }
}

fn write_user(
    users: &mut redb::Table<&'static str, &'static [u8]>,
    user: &UserRecord,
) -> IdentityResult<()> {
    let bytes = serde_json::to_vec(user).map_err(|e| backend("a user", e))?;
    users
        .insert(user.sub.as_str(), bytes.as_slice())
        .map_err(db_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_mail_shapes() {
        assert!(valid_email("alice@example.com"));
        assert!(valid_email("a.b+c@sub.example.co"));
        // The platform's own rule (`tenancy::Email`) is stricter; the pool's
        // is Cognito's.
        assert!(valid_email("a@example.c"));
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@com",
            "a b@example.com",
            "a@b@c.com",
            "a@.example.com",
        ] {
            assert!(!valid_email(bad), "{bad} passed");
        }
    }

    #[test]
    fn destinations_are_masked() {
        assert_eq!(mask("alice@example.com"), "a***@e***");
    }

    #[test]
    fn subs_are_uuid_shaped() {
        let sub = uuid_v4();
        assert_eq!(sub.len(), 36);
        assert_eq!(sub.as_bytes()[14], b'4');
        assert_ne!(sub, uuid_v4());
    }

    #[test]
    fn a_code_allows_limited_wrong_attempts_and_is_single_use() {
        let right = code_hash("s", MessageKind::ConfirmSignUp, "123456");
        let wrong = code_hash("s", MessageKind::ConfirmSignUp, "654321");
        let fresh = || {
            Some(PendingCode {
                hash: right.clone(),
                expires_at: 100,
                attempts: 0,
            })
        };
        let mut pending = fresh();
        for _ in 0..MAX_CODE_ATTEMPTS {
            assert_eq!(
                check_code(&mut pending, &wrong, 0),
                Err(IdentityError::CodeMismatch)
            );
        }
        assert_eq!(
            check_code(&mut pending, &right, 0),
            Err(IdentityError::TooManyRequests)
        );

        let mut pending = fresh();
        assert_eq!(
            check_code(&mut pending, &right, 100),
            Err(IdentityError::ExpiredCode)
        );
        assert_eq!(check_code(&mut pending, &right, 99), Ok(()));
        assert_eq!(
            check_code(&mut pending, &right, 99),
            Err(IdentityError::ExpiredCode)
        );
    }
}
