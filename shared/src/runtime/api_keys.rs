//! An app's API keys: what its end users' clients send (`X-Api-Key`) to
//! read and write the project's records without a platform account.
//!
//! A key is shown once, at creation: `nck_` and 43 random characters (256
//! bits). It is stored as its SHA-256 only — a key is random and long, so
//! a fast hash keeps it as safe as a slow one would a password, and a
//! lookup by hash is one read. Two items: the key's record
//! (`APP#<app>` / `KEY#<id>`: name, prefix, scopes, tables, expiry, rate,
//! revocation) and its lookup (`APIKEY#<hash>` / `APIKEY`: what the
//! authorizer needs). Revoking deletes the lookup in the same transaction
//! that marks the record, so a revoked key fails from that commit on.

use std::collections::HashSet;
use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::RuntimeError;
use super::apps::{self, App};
use super::error::MAX_KEYS;
use crate::change::{Change, ChangeError};
use crate::http::schema;
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, Page, json, json_body, no_content,
    page_params, path_param,
};
use crate::ports::table::{
    Condition, ItemTable, Key, Query, Update, Write, from_item, to_keyed_item,
};
use crate::services::Services;
use crate::studio::tables;
use crate::tenancy::grant::{KeyGrant, KeyScope};
use crate::tenancy::{Tenant, UserId};

/// The audited action (and event) of a new key.
pub const CREATED: &str = "api_key.created";
/// … of a revocation.
pub const REVOKED: &str = "api_key.revoked";
/// What every key starts with, so a leaked one is recognisable (secret
/// scanners, logs).
pub const KEY_PREFIX: &str = "nck_";
/// The length of a key: the prefix and 43 base64url characters.
const KEY_LENGTH: usize = KEY_PREFIX.len() + 43;
/// How much of a key its record shows, to tell keys apart.
const SHOWN: usize = KEY_PREFIX.len() + 8;
/// Requests a minute a key makes when its creator names no rate.
pub const DEFAULT_RATE: u32 = 600;
/// The highest rate a key may have.
pub const MAX_RATE: u32 = 100_000;
/// Most tables a key is kept to.
pub const MAX_TABLES: usize = 50;

/// An API key, as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Sortable id.
    pub id: String,
    /// Its app.
    pub app_id: String,
    /// What it is for.
    pub name: String,
    /// The start of the key (`nck_` and 8 characters), to recognise it.
    pub prefix: String,
    /// `records:read`, `records:write`.
    pub scopes: Vec<String>,
    /// The tables it is kept to; empty: every table of the project.
    pub tables: Vec<String>,
    /// When it stops working (RFC 3339), if ever.
    pub expires_at: Option<String>,
    /// Requests a minute.
    pub rate_limit: u32,
    /// Who made it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it was revoked (RFC 3339); absent while it works (the
    /// revocation is conditioned on its absence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A new key: the key itself, shown this once, and its record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewApiKey {
    /// The key to send as `X-Api-Key`. Keep it: it is never shown again.
    pub key: String,
    /// Its record.
    #[serde(flatten)]
    pub record: ApiKey,
}

/// `POST …/apps/{id}/keys/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// What it is for.
    #[schema(schema_with = schema::name)]
    pub name: String,
    /// What it may do.
    #[schema(min_items = 1, max_items = 2, inline)]
    pub scopes: Vec<Scope>,
    /// Keep it to these tables of the project (default: all).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub tables: Option<Vec<String>>,
    /// When it stops working (RFC 3339, in the future).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// Requests a minute (default 600).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub rate_limit: Option<u32>,
}

/// A key's scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// Read records (and download files).
    #[serde(rename = "records:read")]
    RecordsRead,
    /// Create, change and delete records (and upload files).
    #[serde(rename = "records:write")]
    RecordsWrite,
}

impl From<Scope> for KeyScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::RecordsRead => KeyScope::Read,
            Scope::RecordsWrite => KeyScope::Write,
        }
    }
}

/// The SHA-256 of a key, hex.
fn hash(key: &str) -> String {
    super::manifest::hex(&Sha256::digest(key.as_bytes()))
}

fn lookup_key(hash: &str) -> Key {
    Key::new(format!("APIKEY#{hash}"), "APIKEY")
}

fn record_key(app_id: &str, key_id: &str) -> Key {
    Key::new(apps::partition(app_id), format!("KEY#{key_id}"))
}

/// The stored record: the listed fields and the key's hash.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    key: ApiKey,
    hash: String,
}

/// What the authorizer reads: everything the grant needs, one get away.
#[derive(Debug, Serialize, Deserialize)]
struct Lookup {
    key_id: String,
    app_id: String,
    organization_id: String,
    project_id: String,
    scopes: Vec<String>,
    tables: Vec<String>,
    rate_limit: u32,
    /// RFC 3339 (`expires_at` is the table's TTL attribute, in seconds).
    expires: Option<String>,
}

/// Why a key was refused (the authorizer context's `refusal`; the
/// function answers `invalid_api_key`, never saying which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not shaped like a key.
    Malformed,
    /// No such key (never made, or revoked).
    Unknown,
    /// Past its expiry.
    Expired,
}

impl Refusal {
    /// Its name in the authorizer context.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "key_malformed",
            Refusal::Unknown => "key_unknown",
            Refusal::Expired => "key_expired",
        }
    }
}

/// The grant of a key, if it is a live one.
pub async fn verify(
    table: &dyn ItemTable,
    key: &str,
) -> Result<Result<KeyGrant, Refusal>, ApiError> {
    let shaped = key.len() == KEY_LENGTH
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !shaped {
        return Ok(Err(Refusal::Malformed));
    }
    let Some(item) = table.get(&lookup_key(&hash(key))).await? else {
        return Ok(Err(Refusal::Unknown));
    };
    let lookup: Lookup = from_item(item)?;
    let expired = lookup.expires.as_deref().is_some_and(|at| {
        chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|at| at <= chrono::Utc::now())
    });
    if expired {
        return Ok(Err(Refusal::Expired));
    }
    Ok(Ok(KeyGrant {
        key_id: lookup.key_id,
        app_id: lookup.app_id,
        organization_id: lookup.organization_id,
        project_id: lookup.project_id,
        scopes: lookup
            .scopes
            .iter()
            .filter_map(|s| KeyScope::parse(s))
            .collect(),
        tables: lookup.tables,
        rate_limit: lookup.rate_limit,
    }))
}

async fn records(table: &dyn ItemTable, app_id: &str) -> Result<Vec<Stored>, ApiError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = table
            .query(
                &Query::partition(apps::partition(app_id))
                    .begins_with("KEY#")
                    .after(after.take()),
            )
            .await?;
        for item in page.items {
            all.push(from_item::<Stored>(item)?);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

/// The lookups of an app's live keys (at most [`MAX_KEYS`]), for a
/// deletion that must close them at once.
pub async fn live_lookups(table: &dyn ItemTable, app_id: &str) -> Result<Vec<Key>, ApiError> {
    Ok(records(table, app_id)
        .await?
        .into_iter()
        .filter(|s| s.key.revoked_at.is_none())
        .map(|s| lookup_key(&s.hash))
        .collect())
}

/// The lookups of all of an app's keys, for the worker clearing a
/// deleted app.
pub async fn all_lookups(table: &dyn ItemTable, app_id: &str) -> Result<Vec<Key>, ApiError> {
    Ok(records(table, app_id)
        .await?
        .into_iter()
        .map(|s| lookup_key(&s.hash))
        .collect())
}

fn check(body: &CreateKey) -> Result<(String, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let name = schema::take_name("name", &body.name, &mut errors);
    let mut seen = HashSet::new();
    if body.scopes.is_empty() || !body.scopes.iter().all(|s| seen.insert(*s)) {
        errors.push(FieldError::new(
            "scopes",
            "names records:read, records:write or both, each once",
        ));
    }
    let tables = body.tables.as_deref().unwrap_or_default();
    if tables.len() > MAX_TABLES {
        errors.push(FieldError::new(
            "tables",
            format!("lists at most {MAX_TABLES} tables"),
        ));
    }
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(at) if at > chrono::Utc::now() => Some(
                at.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            Ok(_) => {
                errors.push(FieldError::new("expires_at", "is in the past"));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("expires_at", "is not an RFC 3339 time"));
                None
            }
        },
    };
    if body
        .rate_limit
        .is_some_and(|r| !(1..=MAX_RATE).contains(&r))
    {
        errors.push(FieldError::new(
            "rate_limit",
            format!("is 1 to {MAX_RATE} requests a minute"),
        ));
    }
    match name.filter(|_| errors.is_empty()) {
        Some(name) => Ok((name, expires_at)),
        None => Err(ApiError::Invalid(errors)),
    }
}

/// Makes a key for an app (admins): shown once.
pub async fn create(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: CreateKey = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let (name, expires_at) = check(&body)?;
    let table = services.table()?;
    let app = apps::of_request(&services, &request).await?;
    let mut wanted: Vec<String> = Vec::new();
    if let Some(ids) = &body.tables {
        let known: HashSet<String> = tables::all_tables(table, &app.project_id)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let mut errors = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if !known.contains(id) {
                errors.push(FieldError::new(
                    format!("tables[{i}]"),
                    "is no table of the app's project",
                ));
            } else if !wanted.contains(id) {
                wanted.push(id.clone());
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
    }
    let secret = format!("{KEY_PREFIX}{}", crate::random::token());
    let mut scopes: Vec<KeyScope> = body.scopes.iter().map(|s| KeyScope::from(*s)).collect();
    scopes.sort();
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_string()).collect();
    let record = ApiKey {
        id: ulid::Ulid::generate().to_string(),
        app_id: app.id.clone(),
        name,
        prefix: secret[..SHOWN].to_string(),
        scopes,
        tables: wanted,
        expires_at,
        rate_limit: body.rate_limit.unwrap_or(DEFAULT_RATE),
        created_by: tenant.meta.caller.sub.clone(),
        created_at: crate::studio::now(),
        revoked_at: None,
    };
    let hashed = hash(&secret);
    let lookup = Lookup {
        key_id: record.id.clone(),
        app_id: app.id.clone(),
        organization_id: app.organization_id.to_string(),
        project_id: app.project_id.to_string(),
        scopes: record.scopes.clone(),
        tables: record.tables.clone(),
        rate_limit: record.rate_limit,
        expires: record.expires_at.clone(),
    };
    let mut lookup_item = to_keyed_item(&lookup, lookup_key(&hashed))?;
    // The table's TTL drops an expired key's lookup on its own.
    if let Some(at) = record
        .expires_at
        .as_deref()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
    {
        lookup_item.insert("expires_at".into(), json!(at.timestamp()));
    }
    let counted = Update::of(apps::key(&app.id))
        .add("keys", 1)
        .when(Condition::Or(vec![
            Condition::AttributeAbsent("keys".into()),
            Condition::LessThan("keys".into(), json!(MAX_KEYS)),
        ]));
    let stored = Stored {
        key: record.clone(),
        hash: hashed,
    };
    let committed = Change::new()
        .write("app", Write::Update(counted))
        .write(
            "record",
            Write::Put {
                item: to_keyed_item(&stored, record_key(&app.id, &record.id))?,
                condition: Some(Condition::Absent),
            },
        )
        .write(
            "lookup",
            Write::Put {
                item: lookup_item,
                condition: Some(Condition::Absent),
            },
        )
        .write("audit", key_audit(&tenant, &app, &record.id, CREATED)?)
        .event(key_event(CREATED, &app, &record, &tenant))
        .commit(table)
        .await;
    match committed {
        Ok(()) => {}
        Err(ChangeError::Refused("app")) => return Err(RuntimeError::TooManyKeys.into()),
        Err(error) => return Err(error.into()),
    }
    json(
        StatusCode::CREATED,
        &NewApiKey {
            key: secret,
            record,
        },
    )
}

fn key_audit(tenant: &Tenant, app: &App, key_id: &str, action: &str) -> Result<Write, ApiError> {
    Ok(crate::tenancy::audit::record(
        &tenant.meta,
        &app.organization_id,
        action,
        crate::tenancy::audit::Target {
            kind: "api_key",
            id: key_id,
        },
    )?)
}

fn key_event(
    action: &str,
    app: &App,
    key: &ApiKey,
    tenant: &Tenant,
) -> crate::ports::events::DomainEvent {
    apps::event(
        action,
        app,
        &tenant.meta.caller.sub,
        json!({"key_id": key.id, "prefix": key.prefix, "scopes": key.scopes}),
    )
}

/// The app's keys, revoked ones included, oldest first (admins).
pub async fn list(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let app = apps::of_request(&services, &request).await?;
    let page = services
        .table()?
        .query(
            &Query::partition(apps::partition(&app.id))
                .begins_with("KEY#")
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items: Vec<ApiKey> = page
        .items
        .into_iter()
        .map(|item| from_item::<Stored>(item).map(|s| s.key))
        .collect::<Result<_, _>>()?;
    json(StatusCode::OK, &Page::new(items, page.next))
}

/// Revokes a key (admins): it fails from now on. Revoking a revoked key
/// changes nothing.
pub async fn revoke(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let table = services.table()?;
    let app = apps::of_request(&services, &request).await?;
    let key_id = path_param(&request, "key_id")?;
    let item = table
        .get(&record_key(&app.id, key_id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let stored: Stored = from_item(item)?;
    if stored.key.revoked_at.is_some() {
        return no_content();
    }
    let mut revoked = stored.key.clone();
    revoked.revoked_at = Some(crate::studio::now());
    let mark = Update::of(record_key(&app.id, key_id))
        .set("revoked_at", json!(revoked.revoked_at))
        .when(Condition::AttributeAbsent("revoked_at".into()));
    let committed = Change::new()
        .write("record", Write::Update(mark))
        .write(
            "lookup",
            Write::Delete {
                key: lookup_key(&stored.hash),
                condition: None,
            },
        )
        .write(
            "app",
            Write::Update(
                Update::of(apps::key(&app.id))
                    .add("keys", -1)
                    .when(Condition::Exists),
            ),
        )
        .write("audit", key_audit(&tenant, &app, key_id, REVOKED)?)
        .event(key_event(REVOKED, &app, &revoked, &tenant))
        .commit(table)
        .await;
    match committed {
        // Revoked meanwhile by another request: the same end.
        Ok(()) | Err(ChangeError::Refused("record")) => no_content(),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_long_random_and_recognisable() {
        let key = format!("{KEY_PREFIX}{}", crate::random::token());
        assert_eq!(key.len(), KEY_LENGTH);
        assert_ne!(hash(&key), hash(&format!("{key}x")));
        assert_eq!(hash(&key).len(), 64);
    }
}
