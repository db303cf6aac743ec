//! Deploys: the draft published as an immutable, numbered version, the
//! list of versions, a rollback, and the live version at a public URL.
//!
//! A version is `APP#<app>` / `VERSION#<number, 20 digits>`, naming the
//! manifest by its SHA-256 (the blob `apps/<app>/manifests/<hash>.json`,
//! written once and never changed). A deploy makes the draft now, and
//! publishes it as a new version only when it differs from the latest:
//! deploying the same draft again — a retry, a double click — gives the
//! version already made, live again. Concurrent deploys are ordered by a
//! condition on the app's latest version number, so numbers never repeat.

use std::sync::Arc;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::apps::{self, App, BUCKET};
use super::{drafts, manifest};
use crate::change::{Change, ChangeError};
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, HandlerResult, Page, json, json_body, page_params, path_param,
};
use crate::ports::table::{
    Condition, ItemTable, Key, Query, Update, Write, from_item, to_keyed_item,
};
use crate::services::Services;
use crate::tenancy::{Tenant, UserId};

/// The audited action (and event) of a deploy.
pub const DEPLOYED: &str = "app.deployed";
/// … of a rollback.
pub const ROLLED_BACK: &str = "app.rolled_back";
/// Deploys one request retries when another deploy wins the race.
const ATTEMPTS: usize = 3;

/// One deployed version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Version {
    /// Its app.
    pub app_id: String,
    /// 1, 2, 3 … in deploy order.
    pub number: u64,
    /// The manifest's SHA-256.
    pub hash: String,
    /// The manifest's size in bytes.
    pub size: u64,
    /// The draft revision it published.
    pub draft_revision: u64,
    /// Who deployed it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
}

/// A deploy's or a rollback's answer: the version now live and the app.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deployed {
    /// The live version.
    pub version: Version,
    /// Whether this request made it (false: the draft was deployed already).
    pub created: bool,
    /// The app, its `live_version` the version's number.
    pub app: App,
}

/// `POST …/apps/{id}/deploy/`: nothing is needed; a note is kept in the
/// audit log's event.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployApp {
    /// What this deploy is for, in a few words.
    #[serde(default)]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub note: Option<String>,
}

/// `POST …/apps/{id}/rollback/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version to serve again.
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub version: u64,
}

fn version_key(app_id: &str, number: u64) -> Key {
    Key::new(apps::partition(app_id), format!("VERSION#{number:020}"))
}

async fn load_version(
    table: &dyn ItemTable,
    app_id: &str,
    number: u64,
) -> Result<Option<Version>, ApiError> {
    match table.get(&version_key(app_id, number)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// Makes `version` the live one, if it is not yet.
fn go_live(app: &App, number: u64) -> Write {
    Write::Update(
        Update::of(apps::key(&app.id))
            .set("live_version", number)
            .when(Condition::Exists),
    )
}

/// Publishes the app's draft (admins): a new version when it changed,
/// else the latest one, live either way.
pub async fn deploy(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: DeployApp = if request.body().is_empty() {
        DeployApp::default()
    } else {
        json_body(&request, DEFAULT_BODY_LIMIT)?
    };
    let note = crate::http::schema::check_description(body.note.as_deref())
        .map_err(|why| ApiError::invalid("note", why))?;
    let id = path_param(&request, "id")?;
    let table = services.table()?;
    for _ in 0..ATTEMPTS {
        let app = drafts::refresh(&services, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let hash = app.draft_hash.clone().ok_or(ApiError::NotFound)?;
        let latest = match app.latest_version {
            0 => None,
            n => load_version(table, &app.id, n).await?,
        };
        let by = tenant.meta.caller.sub.to_string();
        let detail = |version: &Version, created: bool| json!({"version": version.number, "hash": version.hash, "created": created, "note": note});
        let (version, created, change) = match latest.filter(|v| v.hash == hash) {
            Some(version) => {
                if app.live_version == Some(version.number) {
                    return answer(table, version, false).await;
                }
                let change = Change::new()
                    .write("live", go_live(&app, version.number))
                    .event(apps::event(DEPLOYED, &app, &by, detail(&version, false)));
                (version, false, change)
            }
            None => {
                let version = Version {
                    app_id: app.id.clone(),
                    number: app.latest_version + 1,
                    hash,
                    size: app.draft_size,
                    draft_revision: app.draft_revision,
                    created_by: tenant.meta.caller.sub.clone(),
                    created_at: crate::studio::now(),
                };
                let numbered = Update::of(apps::key(&app.id))
                    .set("latest_version", version.number)
                    .set("live_version", version.number)
                    .when(Condition::Equals(
                        "latest_version".into(),
                        json!(app.latest_version),
                    ));
                let change = Change::new()
                    .write("latest", Write::Update(numbered))
                    .write(
                        "version",
                        Write::Put {
                            item: to_keyed_item(&version, version_key(&app.id, version.number))?,
                            condition: Some(Condition::Absent),
                        },
                    )
                    .event(apps::event(DEPLOYED, &app, &by, detail(&version, true)));
                (version, true, change)
            }
        };
        let committed = change
            .write("audit", apps::audited(&tenant.meta, &app, DEPLOYED)?)
            .commit(table)
            .await;
        match committed {
            Ok(()) => return answer(table, version, created).await,
            // Another deploy numbered its version first: look again.
            Err(ChangeError::Refused("latest" | "version")) => continue,
            Err(ChangeError::Refused("live")) => return Err(ApiError::NotFound),
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict(
        crate::http::Conflict::CHANGED_CONCURRENTLY,
    ))
}

async fn answer(table: &dyn ItemTable, version: Version, created: bool) -> HandlerResult {
    let app = apps::load(table, &version.app_id).await?;
    json(
        StatusCode::CREATED,
        &Deployed {
            version,
            created,
            app,
        },
    )
}

/// The app's versions, newest first (members).
pub async fn list(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let app = apps::of_request(&services, &request).await?;
    let page = services
        .table()?
        .query(
            &Query::partition(apps::partition(&app.id))
                .begins_with("VERSION#")
                .backward()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items: Vec<Version> = page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    json(StatusCode::OK, &Page::new(items, page.next))
}

fn number(request: &Request) -> Result<u64, ApiError> {
    path_param(request, "number")?
        .parse::<u64>()
        .map_err(|_| ApiError::NotFound)
}

/// One version (members).
pub async fn get(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    let app = apps::of_request(&services, &request).await?;
    let version = load_version(services.table()?, &app.id, number(&request)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, &version)
}

/// Serves an earlier version again (admins).
pub async fn rollback(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: Rollback = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let table = services.table()?;
    let app = apps::of_request(&services, &request).await?;
    let version = load_version(table, &app.id, body.version)
        .await?
        .ok_or_else(|| ApiError::invalid("version", "is no version of this app"))?;
    let by = tenant.meta.caller.sub.to_string();
    Change::new()
        .write("live", go_live(&app, version.number))
        .write("audit", apps::audited(&tenant.meta, &app, ROLLED_BACK)?)
        .event(apps::event(
            ROLLED_BACK,
            &app,
            &by,
            json!({"version": version.number, "from": app.live_version, "hash": version.hash}),
        ))
        .commit(table)
        .await?;
    let app = apps::load(table, &app.id).await?;
    json(
        StatusCode::OK,
        &Deployed {
            version,
            created: false,
            app,
        },
    )
}

/// The live version's manifest, as deployed, byte for byte (anyone):
/// what a generated app loads. Its ETag is the manifest's hash.
pub async fn live(services: Arc<Services>, request: Request) -> HandlerResult {
    let id = path_param(&request, "id")?;
    let table = services.table()?;
    let app = apps::load(table, id).await?;
    let number = app.live_version.ok_or(ApiError::NotFound)?;
    let version = load_version(table, &app.id, number)
        .await?
        .ok_or(ApiError::NotFound)?;
    let blob = services
        .blobs()?
        .get(BUCKET, &manifest::blob_key(&app.id, &version.hash))
        .await?;
    let text = String::from_utf8(blob.bytes.to_vec())
        .map_err(|_| ApiError::Internal(format!("manifest {} is not UTF-8", version.hash)))?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // A rollback changes what the URL serves: caches ask again each time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", version.hash)) {
        headers.insert(header::ETAG, tag);
    }
    headers.insert("x-app-version", HeaderValue::from(number));
    Ok(response)
}

/// The live manifest's schema in the OpenAPI document: the manifest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct LiveManifest(pub serde_json::Value);
