//! The signed-in user's own account and profile. The pool owns the e-mail
//! and password; the profile (names, avatar, locale, time zone) lives in the
//! table beside it, under `USER#<sub>` / `PROFILE`.

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, access_token, caller, json, json_body,
};
use crate::ports::identity::User;
use crate::ports::table::{Condition, Key, Update, from_item};
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

/// The profile kept in the table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    /// Given name (overrides the one given at sign-up).
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Blob key of the avatar image in the documents bucket.
    pub avatar_key: Option<String>,
    /// BCP 47 language tag, e.g. `en-GB`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Europe/Paris`.
    pub timezone: Option<String>,
    /// Optimistic concurrency version (0: never saved).
    #[serde(default)]
    pub version: u64,
}

/// `GET /users/me/`: the account and its profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The account.
    #[serde(flatten)]
    pub user: UserView,
    /// Blob key of the avatar.
    pub avatar_key: Option<String>,
    /// Language tag.
    pub locale: Option<String>,
    /// Time zone.
    pub timezone: Option<String>,
    /// Profile version: send it back with a PATCH.
    pub version: u64,
}

/// `PATCH /users/me/`: fields to change; `null` clears an optional one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Given name.
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub first_name: Option<String>,
    /// Family name.
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub last_name: Option<String>,
    /// Avatar blob key (`null` clears).
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = crate::http::schema::blob_key_or_null)]
    pub avatar_key: Option<Option<String>>,
    /// Language tag (`null` clears).
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = crate::http::schema::locale_or_null)]
    pub locale: Option<Option<String>>,
    /// Time zone (`null` clears).
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = crate::http::schema::timezone_or_null)]
    pub timezone: Option<Option<String>>,
    /// The version read; a stale one is a 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

fn key(sub: &str) -> Key {
    Key::new(format!("USER#{sub}"), "PROFILE")
}

fn is_locale(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or_default();
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn is_timezone(zone: &str) -> bool {
    zone == "UTC"
        || (zone.contains('/')
            && zone.len() <= 64
            && zone.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
            }))
}

impl ProfilePatch {
    fn check(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        for (field, value) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
        ] {
            if let Some(Err(why)) = value.as_deref().map(crate::http::schema::check_name) {
                errors.push(FieldError::new(field, why));
            }
        }
        if let Some(Some(key)) = &self.avatar_key
            && (key.chars().count() > 256 || crate::ports::blobs::validate_key(key).is_err())
        {
            errors.push(FieldError::new("avatar_key", "is not a blob key"));
        }
        if let Some(Some(tag)) = &self.locale
            && !is_locale(tag)
        {
            errors.push(FieldError::new(
                "locale",
                "is not a language tag like en-GB",
            ));
        }
        if let Some(Some(zone)) = &self.timezone
            && !is_timezone(zone)
        {
            errors.push(FieldError::new(
                "timezone",
                "is not a time zone like Europe/Paris",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(errors))
        }
    }
}

async fn read(services: &Services, request: &Request) -> Result<(User, Profile), ApiError> {
    let caller = caller(request)?;
    let user = services
        .identity()?
        .get_user(access_token(request)?)
        .await?;
    // The pool and the authorizer must agree on who this is.
    if user.sub != caller.sub {
        return Err(ApiError::Unauthenticated);
    }
    let profile = match services.table()?.get(&key(&user.sub)).await? {
        Some(item) => from_item(item)?,
        None => Profile::default(),
    };
    Ok((user, profile))
}

fn me(user: User, profile: Profile) -> Me {
    let mut view = UserView::from(user);
    if let Some(first) = profile.first_name {
        view.first_name = first;
    }
    if let Some(last) = profile.last_name {
        view.last_name = last;
    }
    Me {
        user: view,
        avatar_key: profile.avatar_key,
        locale: profile.locale,
        timezone: profile.timezone,
        version: profile.version,
    }
}

/// `GET /api/v1/foundation/users/me/`: the caller's account and profile.
pub async fn get(services: Arc<Services>, request: Request) -> HandlerResult {
    let (user, profile) = read(&services, &request).await?;
    json(StatusCode::OK, &me(user, profile))
}

/// `PATCH /api/v1/foundation/users/me/`: changes the caller's profile.
pub async fn update(services: Arc<Services>, request: Request) -> HandlerResult {
    let patch: ProfilePatch = json_body(&request, DEFAULT_BODY_LIMIT)?;
    patch.check()?;
    let (user, profile) = read(&services, &request).await?;
    let expected = patch.version.unwrap_or(profile.version);
    if expected != profile.version {
        return Err(ApiError::StaleVersion(Some(profile.version)));
    }
    let mut update = Update::of(key(&user.sub)).add("version", 1);
    for (field, value) in [
        ("first_name", &patch.first_name),
        ("last_name", &patch.last_name),
    ] {
        if let Some(v) = value {
            update = update.set(field, v.trim());
        }
    }
    for (field, value) in [
        ("avatar_key", &patch.avatar_key),
        ("locale", &patch.locale),
        ("timezone", &patch.timezone),
    ] {
        match value {
            Some(Some(v)) => update = update.set(field, v.as_str()),
            Some(None) => update = update.set(field, Value::Null),
            None => {}
        }
    }
    let condition = if expected == 0 {
        Condition::Absent
    } else {
        Condition::version_is(expected)
    };
    let saved = services
        .table()?
        .update(update.when(condition))
        .await
        .map_err(|e| match e {
            crate::ports::table::TableError::ConditionFailed => ApiError::StaleVersion(None),
            other => other.into(),
        })?;
    json(StatusCode::OK, &me(user, from_item(saved)?))
}
