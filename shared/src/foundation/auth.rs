//! Accounts: register, sign in, sign out, all through the identity port
//! (Cognito on AWS).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::FoundationError;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::users::UserView;
use crate::change::Change;
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, access_token, json, json_body,
    no_content,
};
use crate::ports::events::DomainEvent;
use crate::ports::identity::{IdentityError, SignUp};
use crate::services::Services;
use crate::tenancy::Email;

const MAX_PASSWORD: usize = crate::resources::PASSWORD_POLICY.max_length;

/// `POST /api/v1/foundation/auth/register/client/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The e-mail address; also the sign-in name.
    #[schema(schema_with = crate::http::schema::email)]
    pub email: String,
    /// The password: 8 to 256 characters, not a common or easily guessed one.
    #[schema(schema_with = crate::http::schema::new_password)]
    pub password: String,
    /// Given name.
    #[schema(schema_with = crate::http::schema::name)]
    pub first_name: String,
    /// Family name.
    #[schema(schema_with = crate::http::schema::name)]
    pub last_name: String,
}

/// The registered user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    /// The user.
    pub user: UserView,
    /// False when a confirmation code was sent and must be confirmed first.
    pub confirmed: bool,
}

/// `POST /api/v1/foundation/auth/login/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The e-mail address.
    #[schema(schema_with = crate::http::schema::email)]
    pub email: String,
    /// The password.
    #[schema(schema_with = crate::http::schema::given_password)]
    pub password: String,
}

/// Tokens and the signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The access token: send it as `Authorization: Bearer …`.
    pub access: String,
    /// The refresh token.
    pub refresh: Option<String>,
    /// The id token.
    pub id_token: String,
    /// Seconds until `access` expires.
    pub expires_in: u64,
    /// The user.
    pub user: UserView,
}

fn name(field: &str, value: &str, errors: &mut Vec<FieldError>) -> String {
    crate::http::schema::take_name(field, value, errors).unwrap_or_default()
}

/// A password given to sign in: present and not absurdly long.
fn password(value: &str, errors: &mut Vec<FieldError>) {
    if value.is_empty() {
        errors.push(FieldError::new("password", "is required"));
    } else if value.chars().count() > MAX_PASSWORD {
        errors.push(FieldError::new(
            "password",
            format!("is longer than {MAX_PASSWORD} characters"),
        ));
    }
}

/// A new password: the length rule, then the common-password check.
fn new_password(field: &str, value: &str, context: &[&str], errors: &mut Vec<FieldError>) {
    if let Err(why) = super::password::check(value, context) {
        errors.push(FieldError::new(field, why));
    }
}

fn email(value: &str, errors: &mut Vec<FieldError>) -> Option<Email> {
    Email::parse(value)
        .map_err(|why| errors.push(FieldError::new("email", why)))
        .ok()
}

/// Registers an account; 201 with the user.
pub async fn register(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: RegisterRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let address = email(&body.email, &mut errors);
    // Errors come in the body's field order; the password check needs the names.
    let mut name_errors = Vec::new();
    let first_name = name("first_name", &body.first_name, &mut name_errors);
    let last_name = name("last_name", &body.last_name, &mut name_errors);
    let context = [body.email.as_str(), &first_name, &last_name];
    new_password("password", &body.password, &context, &mut errors);
    errors.extend(name_errors);
    let Some(address) = address.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let attributes = BTreeMap::from([
        ("given_name".to_string(), first_name.clone()),
        ("family_name".to_string(), last_name.clone()),
    ]);
    let signed_up = services
        .identity()?
        .sign_up(SignUp {
            email: address.to_string(),
            password: body.password,
            attributes,
        })
        .await?;
    // The account lives in the pool, outside any table transaction: its
    // event commits right after it, before the caller hears of the account.
    Change::new()
        .event(DomainEvent::new(
            "foundation",
            "user.registered",
            json!({"user_id": signed_up.sub}),
        ))
        .commit(services.table()?)
        .await?;
    json(
        StatusCode::CREATED,
        &RegisterResponse {
            user: UserView {
                id: signed_up.sub,
                email: address.to_string(),
                first_name,
                last_name,
            },
            confirmed: signed_up.confirmed,
        },
    )
}

/// Signs in; 200 with tokens and the user.
pub async fn login(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: LoginRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let address = email(&body.email, &mut errors);
    password(&body.password, &mut errors);
    let Some(address) = address.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let identity = services.identity()?;
    let tokens = identity
        .sign_in(address.as_str(), &body.password)
        .await
        .map_err(|e| match e {
            IdentityError::NotAuthorized | IdentityError::UserNotFound => {
                ApiError::InvalidCredentials
            }
            other => other.into(),
        })?;
    let user = identity.get_user(&tokens.access_token).await?;
    json(
        StatusCode::OK,
        &LoginResponse {
            user: UserView::from(user),
            access: tokens.access_token,
            refresh: tokens.refresh_token,
            id_token: tokens.id_token,
            expires_in: tokens.expires_in,
        },
    )
}

/// Signs out everywhere: every refresh token of the user stops working.
pub async fn logout(services: Arc<Services>, request: Request) -> HandlerResult {
    services
        .identity()?
        .global_sign_out(access_token(&request)?)
        .await?;
    no_content()
}

/// `POST …/auth/confirm/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The e-mail address signed up with.
    #[schema(schema_with = crate::http::schema::email)]
    pub email: String,
    /// The code e-mailed at sign-up.
    #[schema(schema_with = crate::http::schema::code)]
    pub code: String,
}

/// `POST …/auth/resend-code/` and `…/password/forgot/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// The e-mail address.
    #[schema(schema_with = crate::http::schema::email)]
    pub email: String,
}

/// Where a code was sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryResponse {
    /// `EMAIL`.
    pub medium: String,
    /// The masked address.
    pub destination: String,
}

/// `POST …/auth/refresh/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from sign-in.
    #[schema(schema_with = crate::http::schema::refresh_token)]
    pub refresh: String,
}

/// New tokens from a refresh.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RefreshResponse {
    /// The new access token.
    pub access: String,
    /// The new id token.
    pub id_token: String,
    /// Seconds until `access` expires.
    pub expires_in: u64,
}

/// `POST …/auth/password/reset/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The e-mail address.
    #[schema(schema_with = crate::http::schema::email)]
    pub email: String,
    /// The code e-mailed by `password/forgot/`.
    #[schema(schema_with = crate::http::schema::code)]
    pub code: String,
    /// The new password.
    #[schema(schema_with = crate::http::schema::new_password)]
    pub new_password: String,
}

/// `POST …/auth/password/change/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    #[schema(schema_with = crate::http::schema::given_password)]
    pub old_password: String,
    /// The new password.
    #[schema(schema_with = crate::http::schema::new_password)]
    pub new_password: String,
}

fn code(value: &str, errors: &mut Vec<FieldError>) {
    if !crate::http::schema::check_secret(value, crate::http::schema::MAX_CODE) {
        errors.push(FieldError::new("code", "is not a code we sent"));
    }
}

fn checked(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// Confirms a sign-up with the e-mailed code; 204.
pub async fn confirm(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: ConfirmRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let address = email(&body.email, &mut errors);
    code(&body.code, &mut errors);
    checked(errors)?;
    let address = address.ok_or_else(|| ApiError::invalid("email", "is required"))?;
    services
        .identity()?
        .confirm_sign_up(address.as_str(), &body.code)
        .await
        .map_err(|e| match e {
            // The pool refuses to confirm an account twice.
            IdentityError::NotAuthorized => ApiError::from(FoundationError::AlreadyConfirmed),
            other => other.into(),
        })?;
    no_content()
}

/// Sends a new sign-up code.
pub async fn resend_code(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: EmailRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let address = Email::parse(&body.email).map_err(|why| ApiError::invalid("email", why))?;
    // The pool's only refusal of a well-formed address here is an account
    // that needs no code any more.
    let delivery = services
        .identity()?
        .resend_code(address.as_str())
        .await
        .map_err(|e| match e {
            IdentityError::InvalidParameter(_) => ApiError::from(FoundationError::AlreadyConfirmed),
            other => other.into(),
        })?;
    json(
        StatusCode::OK,
        &DeliveryResponse {
            medium: delivery.medium,
            destination: delivery.destination,
        },
    )
}

/// New access and id tokens from a refresh token.
pub async fn refresh(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: RefreshRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    if !crate::http::schema::check_secret(&body.refresh, crate::http::schema::MAX_REFRESH_TOKEN) {
        return Err(ApiError::invalid("refresh", "is not a refresh token"));
    }
    let tokens = services
        .identity()?
        .refresh(&body.refresh)
        .await
        .map_err(|e| match e {
            IdentityError::NotAuthorized => ApiError::InvalidCredentials,
            other => other.into(),
        })?;
    json(
        StatusCode::OK,
        &RefreshResponse {
            access: tokens.access_token,
            id_token: tokens.id_token,
            expires_in: tokens.expires_in,
        },
    )
}

/// Sends a password reset code.
pub async fn forgot_password(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: EmailRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let address = Email::parse(&body.email).map_err(|why| ApiError::invalid("email", why))?;
    let delivery = services
        .identity()?
        .forgot_password(address.as_str())
        .await?;
    json(
        StatusCode::OK,
        &DeliveryResponse {
            medium: delivery.medium,
            destination: delivery.destination,
        },
    )
}

/// Sets a new password with the reset code; 204.
pub async fn reset_password(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: ResetRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let address = email(&body.email, &mut errors);
    code(&body.code, &mut errors);
    new_password(
        "new_password",
        &body.new_password,
        &[&body.email],
        &mut errors,
    );
    checked(errors)?;
    let address = address.ok_or_else(|| ApiError::invalid("email", "is required"))?;
    services
        .identity()?
        .confirm_forgot_password(address.as_str(), &body.code, &body.new_password)
        .await
        .map_err(|e| match e {
            IdentityError::InvalidPassword(why) => ApiError::invalid("new_password", why),
            other => other.into(),
        })?;
    no_content()
}

/// Changes the signed-in user's password; 204.
pub async fn change_password(services: Arc<Services>, request: Request) -> HandlerResult {
    let body: ChangePasswordRequest = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    if body.old_password.is_empty() {
        errors.push(FieldError::new("old_password", "is required"));
    }
    new_password("new_password", &body.new_password, &[], &mut errors);
    checked(errors)?;
    services
        .identity()?
        .change_password(
            access_token(&request)?,
            &body.old_password,
            &body.new_password,
        )
        .await
        .map_err(|e| match e {
            IdentityError::InvalidPassword(why) => ApiError::invalid("new_password", why),
            IdentityError::NotAuthorized => {
                ApiError::invalid("old_password", "is not your password")
            }
            other => other.into(),
        })?;
    no_content()
}

/// The pre-sign-up trigger: confirms the account and its e-mail at once. The
/// stack attaches it only when its `AutoConfirm` parameter is true.
pub async fn pre_sign_up(
    _services: Arc<Services>,
    mut event: aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup,
) -> Result<aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup, String> {
    event.response.auto_confirm_user = true;
    event.response.auto_verify_email = true;
    Ok(event)
}
