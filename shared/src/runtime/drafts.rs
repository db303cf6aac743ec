//! The draft manifest of each app, kept in step with its project: the
//! `runtime-apps` worker takes every studio event (and `app.created`),
//! rebuilds the manifest of each app of the event's project from the
//! project as it is now, and stores it when it changed — so the generated
//! app autosaves, whatever order the events come in. A deleted project
//! takes its apps with it; a deleted app's versions, keys and manifests
//! are cleared after it.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use bytes::Bytes;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::apps::{self, App, BUCKET};
use super::manifest::{self, AppPart, Sources};
use crate::change::{Change, ChangeError};
use crate::http::{ApiError, HandlerResult, json};
use crate::ports::blobs::delete_prefix;
use crate::ports::table::{Condition, Query, Update, Write, delete_matching};
use crate::services::Services;
use crate::studio::{custom, pages, projects, tables};
use crate::tenancy::Tenant;

/// The queue of the draft worker.
pub const QUEUE: &str = "runtime-apps";
/// The event of a changed draft.
pub const DRAFT_UPDATED: &str = "app.draft_updated";
/// Who the worker's own changes are by.
const PLATFORM: &str = "platform";

/// An app's draft, as `GET …/apps/{id}/draft/` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftView {
    /// The app.
    pub app_id: String,
    /// How many times the draft has changed.
    pub revision: u64,
    /// The manifest's SHA-256.
    pub hash: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it last changed (RFC 3339).
    pub updated_at: Option<String>,
    /// The manifest (`nocode.app.manifest`, version 1): pages, components,
    /// tables with their fields and record endpoints.
    #[schema(value_type = Object)]
    pub manifest: Map<String, Value>,
}

/// Builds the manifest of `app` from its project as it is now; `None`
/// once the project is gone.
pub async fn build(services: &Services, app: &App) -> Result<Option<manifest::Built>, ApiError> {
    let store = services.table()?;
    let project = match projects::load(store, &app.project_id).await {
        Ok(project) => project,
        Err(ApiError::NotFound) => return Ok(None),
        Err(error) => return Err(error),
    };
    let tables = tables::all_tables(store, &project.id).await?;
    let components = custom::all_custom(store, &project.id).await?;
    let pages = pages::all_with_trees(services, &project.id).await?;
    let built = manifest::build(
        AppPart {
            id: &app.id,
            name: &app.name,
            description: app.description.as_deref(),
        },
        &Sources {
            project: &project,
            tables: &tables,
            components: &components,
            pages: &pages,
        },
    );
    if built.bytes.len() > manifest::MAX_BYTES {
        return Err(super::RuntimeError::ManifestTooLarge.into());
    }
    Ok(Some(built))
}

/// Stores a manifest under its hash (the same bytes on a retry).
pub async fn store(
    services: &Services,
    app_id: &str,
    built: &manifest::Built,
) -> Result<(), ApiError> {
    services
        .blobs()?
        .put(
            BUCKET,
            &manifest::blob_key(app_id, &built.hash),
            Bytes::from(built.bytes.clone()),
            "application/json",
        )
        .await?;
    Ok(())
}

/// Makes the app's draft the manifest of its project now; gives the app
/// as it then is, or `None` when the app or its project is gone. Two
/// refreshes racing both write what they read; the later one wins, and
/// each one's result is a manifest of the project.
pub async fn refresh(services: &Services, app_id: &str) -> Result<Option<App>, ApiError> {
    let table = services.table()?;
    for _ in 0..3 {
        let app = match apps::load(table, app_id).await {
            Ok(app) => app,
            Err(ApiError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some(built) = build(services, &app).await? else {
            return Ok(None);
        };
        if app.draft_hash.as_deref() == Some(built.hash.as_str()) {
            return Ok(Some(app));
        }
        store(services, &app.id, &built).await?;
        let at = crate::studio::now();
        let mut next = app.clone();
        next.draft_hash = Some(built.hash.clone());
        next.draft_revision += 1;
        next.draft_size = built.bytes.len() as u64;
        next.draft_updated_at = Some(at.clone());
        let update = Update::of(apps::key(&app.id))
            .set("draft_hash", built.hash.as_str())
            .set("draft_revision", next.draft_revision)
            .set("draft_size", next.draft_size)
            .set("draft_updated_at", at.as_str())
            .when(Condition::And(vec![
                Condition::Exists,
                Condition::Equals("draft_revision".into(), json!(app.draft_revision)),
            ]));
        let committed = Change::new()
            .write("draft", Write::Update(update))
            .event(apps::event(
                DRAFT_UPDATED,
                &next,
                PLATFORM,
                json!({"revision": next.draft_revision, "hash": built.hash}),
            ))
            .commit(table)
            .await;
        match committed {
            Ok(()) => return Ok(Some(next)),
            // Another refresh moved the draft: read again.
            Err(ChangeError::Refused("draft")) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict(
        crate::http::Conflict::CHANGED_CONCURRENTLY,
    ))
}

/// The draft (members): the manifest the next deploy publishes.
pub async fn get(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    let app = apps::of_request(&services, &request).await?;
    // A draft the worker has not made yet is made now.
    let app = match app.draft_hash {
        Some(_) => app,
        None => refresh(&services, &app.id)
            .await?
            .ok_or(ApiError::NotFound)?,
    };
    let hash = app.draft_hash.clone().ok_or(ApiError::NotFound)?;
    let blob = services
        .blobs()?
        .get(BUCKET, &manifest::blob_key(&app.id, &hash))
        .await?;
    let manifest =
        manifest::parse(&blob.bytes).map_err(|e| ApiError::Internal(format!("manifest: {e}")))?;
    json(
        StatusCode::OK,
        &DraftView {
            app_id: app.id,
            revision: app.draft_revision,
            hash,
            size: app.draft_size,
            updated_at: app.draft_updated_at,
            manifest,
        },
    )
}

/// Handles one SQS batch; answers the ids of the messages that failed.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    crate::routes::queued::each_event(&event, "apps not brought up to date", |envelope| {
        follow(&services, envelope)
    })
    .await
}

async fn follow(services: &Services, event: EventBridgeEvent<Value>) -> Result<(), String> {
    let text = |name: &str| crate::routes::queued::detail_text(&event, name);
    let failed = |e: ApiError| e.to_string();
    let table = services.table().map_err(failed)?;
    match event.detail_type.as_str() {
        apps::CREATED => {
            refresh(services, &text("app_id")?).await.map_err(failed)?;
        }
        apps::DELETED => clear(services, &text("app_id")?).await.map_err(failed)?,
        projects::DELETED => {
            for app in apps::of_project(table, &text("project_id")?)
                .await
                .map_err(failed)?
            {
                remove(services, &app).await.map_err(failed)?;
            }
        }
        _ => {
            // Every other studio event may change what a project's apps show.
            let Ok(project) = text("project_id") else {
                return Ok(());
            };
            for app in apps::of_project(table, &project).await.map_err(failed)? {
                match refresh(services, &app.id).await {
                    Ok(_) => {}
                    // Too large to deploy: the draft stays as it was.
                    Err(ApiError::Limit(limit)) => {
                        tracing::warn!(app = app.id, code = limit.code, "draft not updated");
                    }
                    Err(error) => return Err(error.to_string()),
                }
            }
        }
    }
    Ok(())
}

/// Deletes an app its project took with it.
async fn remove(services: &Services, app: &App) -> Result<(), ApiError> {
    let table = services.table()?;
    let deleted = apps::deletion(table, app)
        .await?
        .event(apps::event(apps::DELETED, app, PLATFORM, json!({})))
        .commit(table)
        .await;
    match deleted {
        // Deleted meanwhile: its own event clears it.
        Ok(()) | Err(ChangeError::Refused("app")) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Clears what a deleted app held: its versions, its keys' records and
/// its manifests (a redelivery finds less to clear).
async fn clear(services: &Services, app_id: &str) -> Result<(), ApiError> {
    let table = services.table()?;
    // Keys revoked with the app must not outlive it, whichever delete won.
    for lookup in super::api_keys::all_lookups(table, app_id).await? {
        table.delete(&lookup, None).await?;
    }
    delete_matching(table, Query::partition(apps::partition(app_id))).await?;
    let prefix = manifest::blob_prefix(app_id);
    Ok(delete_prefix(services.blobs()?, BUCKET, &prefix).await?)
}
