//! The events port: EventBridge semantics.
//!
//! Every change in the platform publishes a [`DomainEvent`]; rules declared once
//! in [`crate::resources::RULES`] route events by `source` and `detail-type` to
//! queues. On AWS the rules live in template.yaml; the embedded bus applies the
//! same list in process. A routed event arrives on its queue as EventBridge's
//! JSON envelope, the shape `aws_lambda_events::eventbridge::EventBridgeEvent`
//! reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Most entries one PutEvents call carries; larger publishes are split.
pub const MAX_BATCH: usize = 10;
/// Largest event (detail and names) EventBridge accepts.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Result of a publish.
pub type EventResult<T> = Result<T, EventError>;

/// The detail key that carries an event's id to consumers.
pub const EVENT_ID: &str = "event_id";

/// A domain event: something that happened, told to whoever listens.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainEvent {
    /// Stable across every delivery of this event (a ULID): consumers dedupe
    /// on it, since the envelope's own id changes with each publish.
    pub id: String,
    /// When the change that caused it committed.
    pub at: DateTime<Utc>,
    /// The module that emits it: `nocode.<module>`.
    pub source: String,
    /// What happened: `project.created`, `member.added` …
    pub detail_type: String,
    /// The event's data; a JSON object.
    pub detail: Value,
}

impl DomainEvent {
    /// An event from a module (`foundation`, `studio` …).
    pub fn new(module: &str, detail_type: impl Into<String>, detail: Value) -> Self {
        Self {
            id: ulid::Ulid::generate().to_string(),
            at: Utc::now(),
            source: format!("nocode.{module}"),
            detail_type: detail_type.into(),
            detail,
        }
    }

    /// The detail as published: the event's own data plus its id under
    /// [`EVENT_ID`].
    pub fn published_detail(&self) -> Value {
        let mut detail = self.detail.clone();
        if let Value::Object(map) = &mut detail {
            map.insert(EVENT_ID.into(), Value::String(self.id.clone()));
        }
        detail
    }

    /// Checks what EventBridge checks: names present, detail an object, size.
    pub fn validate(&self) -> EventResult<()> {
        if self.source.is_empty() || self.detail_type.is_empty() {
            return Err(EventError::Invalid(
                "source and detail-type are required".into(),
            ));
        }
        if !self.detail.is_object() {
            return Err(EventError::Invalid("detail must be a JSON object".into()));
        }
        let size =
            self.source.len() + self.detail_type.len() + self.published_detail().to_string().len();
        if size > MAX_EVENT_BYTES {
            return Err(EventError::Invalid(format!(
                "an event is at most {MAX_EVENT_BYTES} bytes"
            )));
        }
        Ok(())
    }
}

/// Errors of the events port.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    /// An event breaks a limit; nothing was published.
    #[error("invalid event: {0}")]
    Invalid(String),
    /// Some entries were not accepted (their indexes); the others were.
    #[error("{} event(s) were not published", failed.len())]
    Partial {
        /// Indexes of the events that failed.
        failed: Vec<usize>,
    },
    /// The backend failed.
    #[error("event bus failure: {0}")]
    Backend(String),
}

/// An event bus with EventBridge semantics.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Whether the backend answers, for the health report; the error says why not.
    async fn probe(&self) -> Result<(), String>;

    /// Publishes events (split into batches of ten). All are validated first.
    async fn publish(&self, events: &[DomainEvent]) -> EventResult<()>;
}

/// Checks every event of a publish before any is sent.
pub fn validate_all(events: &[DomainEvent]) -> EventResult<()> {
    events.iter().try_for_each(DomainEvent::validate)
}
