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
use crate::ports::table::{Key, MAX_TRANSACTION_WRITES, Query, Write};
use crate::services::Services;

/// Items read, and deleted in one transaction, at a time.
const PAGE: u32 = MAX_TRANSACTION_WRITES as u32;

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
        let deletes = page
            .items
            .iter()
            .map(|item| {
                Key::of(item).map(|key| Write::Delete {
                    key,
                    condition: None,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        if !deletes.is_empty() {
            table.transact(deletes).await.map_err(|e| e.to_string())?;
        }
        if page.next.is_none() {
            return Ok(());
        }
    }
}
