//! The queue port: SQS semantics.
//!
//! Queues are named by their logical name (see [`crate::resources::QUEUES`]);
//! each has a dead-letter queue that receives a message once it has been
//! received more than its queue's `max_receives` times without being deleted.
//! Lambda's event source does the receiving on AWS; the local gateway (and the
//! conformance suite) receive through this port.

use std::time::Duration;

use async_trait::async_trait;

/// Most messages one SQS batch carries; larger batches are split.
pub const MAX_BATCH: usize = 10;
/// Longest delay SQS allows.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Largest message body SQS accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Result of a queue operation.
pub type QueueResult<T> = Result<T, QueueError>;

/// A message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The body, usually JSON.
    pub body: String,
    /// Invisible to receivers for this long after sending.
    pub delay: Option<Duration>,
}

impl OutgoingMessage {
    /// A message to deliver at once.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            delay: None,
        }
    }

    /// Delivered only after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Checks the body size and delay limits SQS enforces.
    pub fn validate(&self) -> QueueResult<()> {
        if self.body.is_empty() || self.body.len() > MAX_BODY_BYTES {
            return Err(QueueError::Invalid(format!(
                "a message body is 1 to {MAX_BODY_BYTES} bytes"
            )));
        }
        if self.delay.is_some_and(|d| d > MAX_DELAY) {
            return Err(QueueError::Invalid("a delay is at most 15 minutes".into()));
        }
        Ok(())
    }
}

/// A message handed out by [`Queue::receive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Stable id of the message.
    pub id: String,
    /// Handle for delete / change visibility; changes on every receive.
    pub receipt: String,
    /// The body as sent.
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

/// Errors of the queue port.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    /// No queue of that logical name is configured.
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    /// The receipt handle is not (or no longer) valid.
    #[error("receipt handle is not valid")]
    InvalidReceipt,
    /// The request breaks a limit.
    #[error("invalid queue request: {0}")]
    Invalid(String),
    /// The backend failed.
    #[error("queue backend failure: {0}")]
    Backend(String),
}

/// A message queue with SQS semantics.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Whether the backend answers, for the health report; the error says why not.
    async fn probe(&self) -> Result<(), String>;

    /// Sends one message; gives its id.
    async fn send(&self, queue: &str, message: OutgoingMessage) -> QueueResult<String>;

    /// Sends many messages (split into batches of ten); gives their ids in order.
    /// All are validated before any is sent.
    async fn send_batch(
        &self,
        queue: &str,
        messages: Vec<OutgoingMessage>,
    ) -> QueueResult<Vec<String>>;

    /// Receives up to `max` (1..=10) visible messages, hiding them for
    /// `visibility`; waits up to `wait` for one to arrive.
    async fn receive(
        &self,
        queue: &str,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> QueueResult<Vec<ReceivedMessage>>;

    /// Deletes a received message: it was processed.
    async fn delete(&self, queue: &str, receipt: &str) -> QueueResult<()>;

    /// Makes a received message visible again after `timeout` (zero: now).
    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &str,
        timeout: Duration,
    ) -> QueueResult<()>;
}

/// Checks a batch before any of it is sent.
pub fn validate_batch(messages: &[OutgoingMessage]) -> QueueResult<()> {
    if messages.is_empty() {
        return Err(QueueError::Invalid(
            "a batch holds at least one message".into(),
        ));
    }
    messages.iter().try_for_each(OutgoingMessage::validate)
}

/// Checks the bounds of a receive.
pub fn validate_receive(max: u32, wait: Duration) -> QueueResult<()> {
    if !(1..=10).contains(&max) {
        return Err(QueueError::Invalid("receive takes 1 to 10 messages".into()));
    }
    if wait > Duration::from_secs(20) {
        return Err(QueueError::Invalid(
            "receive waits at most 20 seconds".into(),
        ));
    }
    Ok(())
}

/// Checks a visibility timeout: at most 12 hours, as on SQS.
pub fn validate_visibility(timeout: Duration) -> QueueResult<()> {
    if timeout > Duration::from_secs(12 * 3600) {
        return Err(QueueError::Invalid("visibility is at most 12 hours".into()));
    }
    Ok(())
}
