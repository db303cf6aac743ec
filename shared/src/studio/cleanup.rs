//! The cleanup worker, on events the `studio-cleanup` rule delivers: on
//! `project.deleted` it clears the project's partition (tables, components,
//! pages, history) and its trees and exports in blobs; on `page.deleted`,
//! the page's history and trees. What it clears is unreachable already (the
//! project or page item is gone); deleting what is absent is fine, so a
//! redelivered event is harmless.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;

use super::{keys, pages, projects};
use crate::ports::table::{Query, delete_matching};
use crate::services::Services;

/// Handles one SQS batch; answers the ids of the messages that failed.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    crate::routes::queued::each_event(&event, "project not cleared", |envelope| {
        clear(&services, envelope)
    })
    .await
}

async fn clear(services: &Services, event: EventBridgeEvent<Value>) -> Result<(), String> {
    let project = event
        .detail
        .get("project_id")
        .and_then(Value::as_str)
        .ok_or("the event names no project")?;
    let detail = |name: &str| event.detail.get(name).and_then(Value::as_str);
    let (items, trees) = match (event.detail_type.as_str(), detail("page_id")) {
        (pages::DELETED, Some(page)) => (
            Some(pages::saves_prefix(page)),
            pages::blob_prefix(project, Some(page)),
        ),
        (projects::DELETED, _) => (None, pages::blob_prefix(project, None)),
        (other, _) => return Err(format!("`{other}` is not an event to clean up after")),
    };
    clear_items(services, project, items.as_deref()).await?;
    clear_blobs(services, pages::BUCKET, &trees).await?;
    if items.is_none() {
        clear_blobs(services, super::exports::BUCKET, &trees).await?;
    }
    Ok(())
}

/// Clears a project that is gone (or, for an import, never came to be):
/// its items and its trees.
pub async fn clear_project(services: &Services, project: &str) -> Result<(), String> {
    clear_items(services, project, None).await?;
    clear_blobs(services, pages::BUCKET, &pages::blob_prefix(project, None)).await
}

/// Deletes the project's items, or those whose sort key starts with `prefix`.
async fn clear_items(
    services: &Services,
    project: &str,
    prefix: Option<&str>,
) -> Result<(), String> {
    let table = services.table().map_err(|e| e.to_string())?;
    let mut query = Query::partition(keys::project_partition(project));
    if let Some(prefix) = prefix {
        query = query.begins_with(prefix);
    }
    delete_matching(table, query)
        .await
        .map_err(|e| e.to_string())
}

/// Deletes every blob of `bucket` under `prefix`.
async fn clear_blobs(services: &Services, bucket: &str, prefix: &str) -> Result<(), String> {
    let blobs = services.blobs().map_err(|e| e.to_string())?;
    crate::ports::blobs::delete_prefix(blobs, bucket, prefix)
        .await
        .map_err(|e| e.to_string())
}
