//! The events port: the platform's rules route events to queues, on the
//! embedded bus and on EventBridge (moto) delivering to SQS.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};
use shared::adapters::aws::{EventBridgeBus, SqsQueue};
use shared::adapters::embedded::{EmbeddedBus, EmbeddedQueue};
use shared::ports::events::{DomainEvent, EventBus, EventError};
use shared::ports::queue::Queue;

use crate::harness;

const INSIGHTS: &str = "insights-ingest";
const TRIGGERS: &str = "event-triggers";

pub struct Fixture {
    bus: Arc<dyn EventBus>,
    queue: Arc<dyn Queue>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn embedded() -> Self {
        let dir = harness::data_dir();
        let queue: Arc<dyn Queue> =
            Arc::new(EmbeddedQueue::open(dir.path()).expect("open embedded queue"));
        Self {
            bus: Arc::new(EmbeddedBus::new(Arc::clone(&queue))),
            queue,
            _dir: Some(dir),
        }
    }

    async fn aws() -> Self {
        let sdk = harness::sdk_config().await;
        let suffix = harness::unique("ev");
        let urls = nocode::emulator::create_queues(&sdk, &suffix)
            .await
            .expect("create queues on moto");
        let bus_name = format!("bus-{suffix}");
        nocode::emulator::create_bus(&sdk, &bus_name, &urls)
            .await
            .expect("create bus on moto");
        Self {
            bus: Arc::new(EventBridgeBus::from_client(
                aws_sdk_eventbridge::Client::new(&sdk),
                bus_name,
            )),
            queue: Arc::new(SqsQueue::from_client(aws_sdk_sqs::Client::new(&sdk), urls)),
            _dir: None,
        }
    }

    /// Everything delivered to `queue` until `sentinel` arrives (deleted as read).
    async fn drain_until(&self, queue: &str, sentinel: &str) -> Vec<EventBridgeEvent<Value>> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            let got = self
                .queue
                .receive(queue, 10, Duration::from_secs(60), Duration::from_secs(1))
                .await
                .expect("receive");
            for message in got {
                self.queue
                    .delete(queue, &message.receipt)
                    .await
                    .expect("delete");
                let event: EventBridgeEvent<Value> =
                    serde_json::from_str(&message.body).expect("an EventBridge envelope");
                seen.push(event);
            }
            if seen.iter().any(|e| e.detail_type == sentinel) {
                return seen;
            }
        }
        panic!("`{sentinel}` never reached {queue}; saw {seen:?}");
    }
}

fn studio(detail_type: &str, detail: Value) -> DomainEvent {
    DomainEvent::new("studio", detail_type, detail)
}

async fn a_matching_event_reaches_every_rule_target_in_an_eventbridge_envelope(f: &Fixture) {
    let detail = json!({"project_id": "01J", "organization_id": "01H", "name": "Shop"});
    let sent = studio("project.created", detail.clone());
    f.bus
        .publish(std::slice::from_ref(&sent))
        .await
        .expect("publish");
    // The detail arrives with the event's own id, which consumers dedupe on.
    let mut detail = detail;
    detail["event_id"] = json!(sent.id);
    for queue in [INSIGHTS, TRIGGERS] {
        let got = f.drain_until(queue, "project.created").await;
        assert_eq!(got.len(), 1, "{queue}");
        let event = &got[0];
        assert_eq!(event.source, "nocode.studio");
        assert_eq!(event.detail, detail);
        assert!(event.id.as_deref().is_some_and(|id| !id.is_empty()));
        assert_eq!(
            event.time.map(|t| t.timestamp()),
            Some(sent.at.timestamp()),
            "the envelope's time is the commit's"
        );
        assert!(event.time.is_some());
    }
}

async fn an_event_goes_only_where_a_rule_matches(f: &Fixture) {
    f.bus
        .publish(&[
            DomainEvent::new("insights", "metric.recorded", json!({"n": 1})),
            DomainEvent {
                source: "somebody.else".into(),
                ..DomainEvent::new("else", "stranger", json!({}))
            },
            studio("sentinel", json!({})),
        ])
        .await
        .expect("publish");
    let insights: Vec<_> = f
        .drain_until(INSIGHTS, "sentinel")
        .await
        .into_iter()
        .map(|e| e.detail_type)
        .collect();
    assert_eq!(insights.len(), 2);
    assert!(insights.contains(&"metric.recorded".to_string()));
    let triggers: Vec<_> = f
        .drain_until(TRIGGERS, "sentinel")
        .await
        .into_iter()
        .map(|e| e.detail_type)
        .collect();
    assert_eq!(triggers, ["sentinel"]);
}

async fn a_publish_of_more_than_ten_events_delivers_them_all(f: &Fixture) {
    let mut events: Vec<_> = (0..11)
        .map(|i| studio("record.created", json!({"i": i})))
        .collect();
    events.push(studio("sentinel", json!({})));
    f.bus.publish(&events).await.expect("publish");
    let got = f.drain_until(TRIGGERS, "sentinel").await;
    let mut numbers: Vec<i64> = got
        .iter()
        .filter(|e| e.detail_type == "record.created")
        .filter_map(|e| e.detail["i"].as_i64())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..11).collect::<Vec<_>>());
}

async fn an_invalid_event_fails_the_publish_before_anything_is_sent(f: &Fixture) {
    let result = f
        .bus
        .publish(&[
            studio("ok.event", json!({})),
            studio("bad.event", json!("not an object")),
        ])
        .await;
    assert!(matches!(result, Err(EventError::Invalid(_))), "{result:?}");
    let result = f.bus.publish(&[studio("", json!({}))]).await;
    assert!(matches!(result, Err(EventError::Invalid(_))));
    f.bus
        .publish(&[studio("sentinel", json!({}))])
        .await
        .expect("publish");
    let got = f.drain_until(TRIGGERS, "sentinel").await;
    assert_eq!(got.len(), 1, "the refused publish delivered nothing");
}

async fn the_backend_answers_a_health_probe(f: &Fixture) {
    assert_eq!(f.bus.probe().await, Ok(()));
}

conformance!(Fixture:
    the_backend_answers_a_health_probe,
    a_matching_event_reaches_every_rule_target_in_an_eventbridge_envelope,
    an_event_goes_only_where_a_rule_matches,
    a_publish_of_more_than_ten_events_delivers_them_all,
    an_invalid_event_fails_the_publish_before_anything_is_sent,
);
