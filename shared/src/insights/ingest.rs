//! The insights ingest worker: every domain event, delivered by the
//! `insights-ingest` rule, is stored and counted ([`super::analytics`]).
//!
//! The outbox publishes at least once and SQS delivers at least once, in
//! any order, so each event is stored in one transaction with a marker of
//! its id (the event's own, from its detail, the same in every delivery):
//! a redelivered or republished event finds its marker and changes
//! nothing. Counters only add, so order does not matter. A batch's events
//! are independent and handled side by side. A message that is not an
//! event envelope fails alone (a partial batch failure) and, after its
//! retries, lands in the dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use serde_json::Value;

use super::analytics::{Observed, retention_days, writes};
use crate::change::{Change, ChangeError};
use crate::services::Services;

/// Handles one SQS batch; answers the ids of the messages that failed.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    let retention = retention_days();
    crate::routes::queued::each_event_side_by_side(&event, "event not counted", |envelope| {
        store(&services, envelope, retention)
    })
    .await
}

async fn store(
    services: &Services,
    event: EventBridgeEvent<Value>,
    retention_days: i64,
) -> Result<(), String> {
    let observed = Observed::read(
        &event.source,
        &event.detail_type,
        event.time.unwrap_or_else(Utc::now),
        &event.detail,
    )?;
    let mut writes = writes(&observed, retention_days).into_iter();
    let mut change = Change::new();
    if let Some(marker) = writes.next() {
        change = change.write("marker", marker);
    }
    for write in writes {
        change = change.write("store", write);
    }
    match change
        .commit(services.table().map_err(|e| e.to_string())?)
        .await
    {
        // The marker exists: this delivery repeats one already stored.
        Ok(()) | Err(ChangeError::Refused("marker")) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}
