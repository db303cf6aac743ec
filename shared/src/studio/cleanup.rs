//! The cleanup worker: on `project.deleted` (delivered by the
//! `studio-cleanup` rule) it clears the project's partition, its tables,
//! pages and history. The project item is gone already, so nothing reaches
//! what is being cleared; deleting what is absent is fine, so a redelivered
//! event is harmless.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;

use super::keys;
use crate::ports::table::{Key, Query};
use crate::services::Services;

/// Items deleted per query page.
const PAGE: u32 = 100;

/// Handles one SQS batch; answers the ids of the messages that failed.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Err(error) = clear(&services, message).await {
            tracing::warn!(message_id = ?message.message_id, %error, "project not cleared");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn clear(services: &Services, message: &SqsMessage) -> Result<(), String> {
    let body = message.body.as_deref().ok_or("the message has no body")?;
    let event: EventBridgeEvent<Value> =
        serde_json::from_str(body).map_err(|e| format!("not an event envelope: {e}"))?;
    let project = event
        .detail
        .get("project_id")
        .and_then(Value::as_str)
        .ok_or("the event names no project")?;
    let table = services.table().map_err(|e| e.to_string())?;
    // Always the first page: what was read is deleted before the next read.
    loop {
        let page = table
            .query(&Query::partition(keys::project_partition(project)).limit(PAGE))
            .await
            .map_err(|e| e.to_string())?;
        for item in &page.items {
            let key = Key::of(item).map_err(|e| e.to_string())?;
            table.delete(&key, None).await.map_err(|e| e.to_string())?;
        }
        if page.next.is_none() {
            return Ok(());
        }
    }
}
