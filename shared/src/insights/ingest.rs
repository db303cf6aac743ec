//! The insights ingest worker: every domain event, delivered by the
//! `insights-ingest` rule, adds one to a counter per organization, UTC day and
//! event type (`pk = INSIGHTS#<org>`, `sk = EVENTS#<day>#<detail-type>`).
//!
//! The outbox publishes at least once and SQS delivers at least once, so
//! each event is counted in one transaction with a marker of its id (the
//! event's own, from its detail, the same in every delivery): a redelivered
//! or republished event finds its marker and is not counted twice. A message that is not an event envelope fails alone (a
//! partial batch failure) and, after its retries, lands in the dead-letter
//! queue.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use serde_json::{Value, json};

use crate::change::{Change, ChangeError};
use crate::ports::events::EVENT_ID;
use crate::ports::table::{Condition, Key, Update, Write};
use crate::services::Services;

/// Markers of counted events expire from the table after this long (the
/// table's TTL attribute `expires_at`); SQS never redelivers that late.
const MARKER_TTL_SECS: i64 = 7 * 24 * 3600;

/// The counter an event adds to.
pub fn counter_key(organization: &str, day: &str, detail_type: &str) -> Key {
    Key::new(
        format!("INSIGHTS#{organization}"),
        format!("EVENTS#{day}#{detail_type}"),
    )
}

/// Handles one SQS batch; answers the ids of the messages that failed.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    crate::routes::queued::each_event(&event, "event not counted", |envelope| {
        count(&services, envelope)
    })
    .await
}

async fn count(services: &Services, event: EventBridgeEvent<Value>) -> Result<(), String> {
    let id = event
        .detail
        .get(EVENT_ID)
        .and_then(Value::as_str)
        .ok_or("the event has no id in its detail")?;
    let at = event.time.unwrap_or_else(Utc::now);
    let organization = event
        .detail
        .get("organization_id")
        .and_then(Value::as_str)
        .unwrap_or("PLATFORM");
    let day = at.format("%Y-%m-%d").to_string();
    let table = services.table().map_err(|e| e.to_string())?;
    let marker = json!({
        "pk": format!("INSIGHTS#EVENT#{id}"),
        "sk": "COUNTED",
        "expires_at": at.timestamp() + MARKER_TTL_SECS,
    });
    let Value::Object(marker) = marker else {
        return Err("marker is not an object".into());
    };
    let result = Change::new()
        .write(
            "marker",
            Write::Put {
                item: marker,
                condition: Some(Condition::Absent),
            },
        )
        .write(
            "counter",
            Write::Update(
                Update::of(counter_key(organization, &day, &event.detail_type))
                    .set("organization_id", organization)
                    .set("day", day.as_str())
                    .set("detail_type", event.detail_type.as_str())
                    .add("count", 1),
            ),
        )
        .commit(table)
        .await;
    match result {
        // The marker exists: this delivery repeats one already counted.
        Ok(()) | Err(ChangeError::Refused("marker")) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}
