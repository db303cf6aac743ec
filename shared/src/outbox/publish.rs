//! The outbox publisher: a batch of the table's stream records in, their
//! events on the bus out, in stream order.
//!
//! Delivery is at least once. A record whose event did not reach the bus is
//! reported as the batch's failure; the stream then retries from it, so it
//! and everything after it come again and nothing before it does. An event
//! may so be published twice (the bus took it but its answer was lost);
//! consumers dedupe on the event's id, which every delivery carries.

use std::sync::Arc;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::ports::events::{DomainEvent, EventError, MAX_BATCH};
use crate::ports::table::{Item, Key};
use crate::services::Services;

/// Publishes the events of a batch of stream records; answers the first
/// record that failed, if any.
pub async fn handle(services: Arc<Services>, batch: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    if let Err(failed) = publish(&services, &batch.records).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = failed;
        response.batch_item_failures.push(failure);
    }
    response
}

/// Publishes in order, ten at a time; the error is the sequence number of
/// the first record not published.
async fn publish(services: &Services, records: &[EventRecord]) -> Result<(), Option<String>> {
    let sequence = |record: &EventRecord| record.change.sequence_number.clone();
    let mut pending: Vec<(&EventRecord, DomainEvent)> = Vec::new();
    for record in records {
        match event_of(record) {
            Ok(Some(event)) => pending.push((record, event)),
            Ok(None) => {}
            Err(error) => {
                // Stop here: what came before is published, this one is retried
                // and, after the retries, named in the failure destination.
                tracing::error!(sequence = ?sequence(record), %error, "an outbox record cannot be read");
                flush(services, &mut pending, &sequence).await?;
                return Err(sequence(record));
            }
        }
        if pending.len() == MAX_BATCH {
            flush(services, &mut pending, &sequence).await?;
        }
    }
    flush(services, &mut pending, &sequence).await
}

async fn flush(
    services: &Services,
    pending: &mut Vec<(&EventRecord, DomainEvent)>,
    sequence: &impl Fn(&EventRecord) -> Option<String>,
) -> Result<(), Option<String>> {
    if pending.is_empty() {
        return Ok(());
    }
    let events: Vec<DomainEvent> = pending.iter().map(|(_, e)| e.clone()).collect();
    let published = match services.events() {
        Ok(bus) => bus.publish(&events).await,
        Err(e) => Err(EventError::Backend(e.to_string())),
    };
    let first_failed = match published {
        Ok(()) => None,
        Err(EventError::Partial { failed }) => failed.into_iter().min(),
        Err(_) => Some(0),
    };
    let result = match first_failed {
        None => Ok(()),
        Some(index) => {
            let (record, event) = &pending[index.min(pending.len() - 1)];
            tracing::warn!(
                event_id = event.id,
                detail_type = event.detail_type,
                "an event was not published; the stream retries it"
            );
            Err(sequence(record))
        }
    };
    pending.clear();
    result
}

/// The event a stream record carries: `None` for any record that is not a
/// new outbox item (the template's filter lets none through; the local
/// tailer sees every change).
fn event_of(record: &EventRecord) -> Result<Option<DomainEvent>, String> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let keys: Item = serde_dynamo::from_item(record.change.keys.clone())
        .map_err(|e| format!("the record's keys: {e}"))?;
    if !Key::of(&keys).is_ok_and(|key| super::is_event(&key)) {
        return Ok(None);
    }
    let image: Item = serde_dynamo::from_item(record.change.new_image.clone())
        .map_err(|e| format!("the record's new image: {e}"))?;
    super::read(&image).map(Some)
}
