//! The transactional outbox: a change's domain events are items of the
//! table, written in the change's own transaction ([`crate::change::Change`]),
//! so an event exists exactly when its change committed. The table's stream
//! carries each new event item to [`publish`], which hands it to the bus: on
//! AWS DynamoDB Streams invoke the `platform-outbox` function; locally the
//! gateway tails the embedded table's stream the same way.
//!
//! Items: `pk = EVENT#<event id>`, `sk = EVENT`, one partition per event so
//! writes never crowd one key. They expire after a week (`expires_at`, the
//! table's TTL), long after the stream (24 hours) has delivered them, so a
//! stuck publish can still be replayed from the table.

pub mod publish;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, Item, Key, TableError, TableResult, Write, to_item};

/// The partition key prefix of every event item; the stream's filter.
pub const KEY_PREFIX: &str = "EVENT#";
const SORT_KEY: &str = "EVENT";
/// How long an event item stays in the table after its change.
const RETENTION_SECS: i64 = 7 * 24 * 3600;

/// The key of an event's item.
pub fn key(event_id: &str) -> Key {
    Key::new(format!("{KEY_PREFIX}{event_id}"), SORT_KEY)
}

/// The write that puts an event into the outbox, in its change's transaction.
pub fn write(event: &DomainEvent) -> TableResult<Write> {
    event
        .validate()
        .map_err(|e| TableError::Invalid(e.to_string()))?;
    let key = key(&event.id);
    let item = to_item(&json!({
        "pk": key.pk,
        "sk": key.sk,
        "event_id": event.id,
        "source": event.source,
        "detail_type": event.detail_type,
        "detail": event.detail,
        "at": event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "expires_at": event.at.timestamp() + RETENTION_SECS,
    }))?;
    Ok(Write::Put {
        item,
        condition: Some(Condition::Absent),
    })
}

/// The event an outbox item holds.
pub fn read(item: &Item) -> Result<DomainEvent, String> {
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("the event item has no `{name}`"))
    };
    let at = DateTime::parse_from_rfc3339(&text("at")?)
        .map_err(|e| format!("the event item's `at` is not a time: {e}"))?
        .with_timezone(&Utc);
    let detail = item
        .get("detail")
        .filter(|d| d.is_object())
        .cloned()
        .ok_or("the event item's `detail` is not an object")?;
    Ok(DomainEvent {
        id: text("event_id")?,
        at,
        source: text("source")?,
        detail_type: text("detail_type")?,
        detail,
    })
}

/// Whether a key is an event item's.
pub fn is_event(key: &Key) -> bool {
    key.pk.starts_with(KEY_PREFIX) && key.sk == SORT_KEY
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn an_event_reads_back_from_its_item_unchanged() -> TestResult {
        let event = DomainEvent::new("foundation", "member.added", json!({"n": 1}));
        let Write::Put { item, .. } = write(&event)? else {
            return Err("an outbox write is a put".into());
        };
        assert!(is_event(&Key::of(&item)?));
        let back = read(&item)?;
        // Times keep milliseconds.
        assert_eq!(back.at.timestamp_millis(), event.at.timestamp_millis());
        assert_eq!(
            DomainEvent {
                at: event.at,
                ..back
            },
            event
        );
        Ok(())
    }

    #[test]
    fn an_event_too_large_for_the_bus_is_refused_before_it_is_stored() {
        let big = "x".repeat(crate::ports::events::MAX_EVENT_BYTES);
        let event = DomainEvent::new("foundation", "big", json!({ "text": big }));
        assert!(matches!(write(&event), Err(TableError::Invalid(_))));
    }
}
