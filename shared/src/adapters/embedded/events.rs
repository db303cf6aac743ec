//! The embedded event bus: applies [`crate::resources::RULES`] in process and
//! delivers each matching event to its rule's queue as EventBridge's JSON
//! envelope, exactly what an SQS target receives on AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::ports::events::{DomainEvent, EventBus, EventError, EventResult, validate_all};
use crate::ports::queue::{OutgoingMessage, Queue};
use crate::resources::{RULES, Rule};

/// The account id local envelopes carry.
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The region local envelopes carry.
pub const LOCAL_REGION: &str = "local";

/// The events port routing by rules to a queue port.
#[derive(Clone)]
pub struct EmbeddedBus {
    queue: Arc<dyn Queue>,
    rules: &'static [Rule],
}

impl EmbeddedBus {
    /// A bus applying the platform's rules, delivering to `queue`.
    pub fn new(queue: Arc<dyn Queue>) -> Self {
        Self {
            queue,
            rules: RULES,
        }
    }
}

/// The envelope EventBridge wraps around an event it delivers: a fresh id per
/// delivery, as EventBridge gives one per publish; the event's own id is in
/// the detail.
pub fn envelope(event: &DomainEvent) -> EventBridgeEvent<Value> {
    let mut e = EventBridgeEvent::<Value>::default();
    e.version = Some("0".into());
    e.id = Some(ulid::Ulid::generate().to_string());
    e.detail_type = event.detail_type.clone();
    e.source = event.source.clone();
    e.account = Some(LOCAL_ACCOUNT.into());
    // EventBridge's envelope times have whole seconds.
    e.time = Some(chrono::SubsecRound::trunc_subsecs(event.at, 0));
    e.region = Some(LOCAL_REGION.into());
    e.resources = Some(Vec::new());
    e.detail = event.published_detail();
    e
}

#[async_trait]
impl EventBus for EmbeddedBus {
    async fn probe(&self) -> Result<(), String> {
        // The bus is in process; it works when the queues it delivers to do.
        self.queue.probe().await
    }

    async fn publish(&self, events: &[DomainEvent]) -> EventResult<()> {
        validate_all(events)?;
        // Group by target so each queue gets one batch, in publish order.
        let mut routed: BTreeMap<&str, Vec<OutgoingMessage>> = BTreeMap::new();
        for event in events {
            let body = serde_json::to_string(&envelope(event))
                .map_err(|e| EventError::Backend(e.to_string()))?;
            for rule in self.rules.iter().filter(|r| r.matches(event)) {
                routed
                    .entry(rule.target_queue)
                    .or_default()
                    .push(OutgoingMessage::new(body.clone()));
            }
        }
        for (queue, messages) in routed {
            self.queue
                .send_batch(queue, messages)
                .await
                .map_err(|e| EventError::Backend(format!("delivery to {queue}: {e}")))?;
        }
        Ok(())
    }
}
