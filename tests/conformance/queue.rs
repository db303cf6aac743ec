//! The queue port: every behaviour on the embedded queue and on SQS (moto).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use shared::adapters::aws::SqsQueue;
use shared::adapters::embedded::EmbeddedQueue;
use shared::ports::queue::{OutgoingMessage, Queue, QueueError};
use shared::resources::{dead_letter_name, queue as queue_spec};

use crate::harness;

/// A declared queue with `max_receives` = 3 (see `shared::resources::QUEUES`).
const QUEUE: &str = "insights-ingest";
const NOW: Duration = Duration::ZERO;

pub struct Fixture {
    queue: Arc<dyn Queue>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn embedded() -> Self {
        let dir = harness::data_dir();
        let queue = EmbeddedQueue::open(dir.path()).expect("open embedded queue");
        Self {
            queue: Arc::new(queue),
            _dir: Some(dir),
        }
    }

    async fn aws() -> Self {
        let sdk = harness::sdk_config().await;
        let urls = nocode::emulator::create_queues(&sdk, &harness::unique("q"))
            .await
            .expect("create queues on moto");
        Self {
            queue: Arc::new(SqsQueue::from_client(aws_sdk_sqs::Client::new(&sdk), urls)),
            _dir: None,
        }
    }

    async fn receive(
        &self,
        queue: &str,
        visibility: Duration,
    ) -> Vec<shared::ports::queue::ReceivedMessage> {
        self.queue
            .receive(queue, 10, visibility, NOW)
            .await
            .expect("receive")
    }
}

async fn a_sent_message_is_received_once_and_gone_after_delete(f: &Fixture) {
    let id = f
        .queue
        .send(QUEUE, OutgoingMessage::new(r#"{"hello":"world"}"#))
        .await
        .expect("send");
    let got = f.receive(QUEUE, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, id);
    assert_eq!(got[0].body, r#"{"hello":"world"}"#);
    assert_eq!(got[0].receive_count, 1);
    // Hidden while in flight.
    assert!(f.receive(QUEUE, Duration::from_secs(30)).await.is_empty());
    f.queue
        .delete(QUEUE, &got[0].receipt)
        .await
        .expect("delete");
    f.queue
        .change_visibility(QUEUE, &got[0].receipt, NOW)
        .await
        .expect_err("a deleted message has no visibility to change");
    assert!(f.receive(QUEUE, NOW).await.is_empty());
}

async fn a_message_not_deleted_comes_back_after_its_visibility_timeout(f: &Fixture) {
    f.queue
        .send(QUEUE, OutgoingMessage::new("retry me"))
        .await
        .expect("send");
    let first = f.receive(QUEUE, Duration::from_secs(1)).await;
    assert_eq!(first.len(), 1);
    assert!(f.receive(QUEUE, Duration::from_secs(1)).await.is_empty());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let again = f.receive(QUEUE, Duration::from_secs(30)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt, first[0].receipt);
    f.queue
        .delete(QUEUE, &again[0].receipt)
        .await
        .expect("delete");
}

async fn change_visibility_to_zero_releases_a_message_at_once(f: &Fixture) {
    f.queue
        .send(QUEUE, OutgoingMessage::new("release"))
        .await
        .expect("send");
    let got = f.receive(QUEUE, Duration::from_secs(60)).await;
    f.queue
        .change_visibility(QUEUE, &got[0].receipt, NOW)
        .await
        .expect("change visibility");
    let again = f.receive(QUEUE, Duration::from_secs(60)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, "release");
}

async fn a_delayed_message_stays_hidden_until_its_delay_passes(f: &Fixture) {
    f.queue
        .send(
            QUEUE,
            OutgoingMessage::new("later").delayed(Duration::from_secs(1)),
        )
        .await
        .expect("send");
    assert!(f.receive(QUEUE, Duration::from_secs(30)).await.is_empty());
    let got = harness::eventually(Duration::from_secs(5), || async {
        let got = f.receive(QUEUE, Duration::from_secs(30)).await;
        (!got.is_empty()).then_some(got)
    })
    .await
    .expect("the delayed message arrives");
    assert_eq!(got[0].body, "later");
}

async fn a_batch_larger_than_ten_is_sent_whole(f: &Fixture) {
    let bodies: Vec<String> = (0..13).map(|i| format!("m{i}")).collect();
    let ids = f
        .queue
        .send_batch(
            QUEUE,
            bodies
                .iter()
                .map(|b| OutgoingMessage::new(b.clone()))
                .collect(),
        )
        .await
        .expect("batch send");
    assert_eq!(ids.len(), 13);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 13);
    let mut received = BTreeSet::new();
    for _ in 0..10 {
        for m in f.receive(QUEUE, Duration::from_secs(60)).await {
            received.insert(m.body);
        }
        if received.len() == 13 {
            break;
        }
    }
    assert_eq!(received, bodies.into_iter().collect::<BTreeSet<_>>());
}

async fn a_long_poll_returns_a_message_sent_while_waiting(f: &Fixture) {
    let queue = Arc::clone(&f.queue);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        queue.send(QUEUE, OutgoingMessage::new("awaited")).await
    });
    let started = tokio::time::Instant::now();
    let got = f
        .queue
        .receive(QUEUE, 1, Duration::from_secs(30), Duration::from_secs(5))
        .await
        .expect("long poll");
    sender.await.expect("sender task").expect("send");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "awaited");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "returned on arrival"
    );
}

async fn a_message_received_too_often_is_redriven_to_the_dead_letter_queue(f: &Fixture) {
    let max = queue_spec(QUEUE).expect("declared").max_receives;
    f.queue
        .send(QUEUE, OutgoingMessage::new("poison"))
        .await
        .expect("send");
    for attempt in 1..=max {
        let got = f.receive(QUEUE, NOW).await;
        assert_eq!(got.len(), 1, "receive {attempt}");
        assert_eq!(got[0].receive_count, attempt);
    }
    // One receive more than allowed: it moves instead of arriving.
    assert!(f.receive(QUEUE, NOW).await.is_empty());
    let dlq = dead_letter_name(QUEUE);
    let dead = harness::eventually(Duration::from_secs(3), || async {
        let got = f.receive(&dlq, Duration::from_secs(30)).await;
        (!got.is_empty()).then_some(got)
    })
    .await
    .expect("the message reaches the dead-letter queue");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    f.queue
        .delete(&dlq, &dead[0].receipt)
        .await
        .expect("delete");
    assert!(f.receive(QUEUE, NOW).await.is_empty());
}

async fn unknown_queues_and_bad_requests_are_refused(f: &Fixture) {
    assert!(matches!(
        f.queue.send("nope", OutgoingMessage::new("x")).await,
        Err(QueueError::UnknownQueue(_))
    ));
    assert!(matches!(
        f.queue.send(QUEUE, OutgoingMessage::new("")).await,
        Err(QueueError::Invalid(_))
    ));
    assert!(matches!(
        f.queue
            .send(
                QUEUE,
                OutgoingMessage::new("x").delayed(Duration::from_secs(901))
            )
            .await,
        Err(QueueError::Invalid(_))
    ));
    assert!(matches!(
        f.queue.receive(QUEUE, 11, NOW, NOW).await,
        Err(QueueError::Invalid(_))
    ));
    // Nothing of the refused sends arrived.
    assert!(f.receive(QUEUE, NOW).await.is_empty());
}

async fn a_receipt_that_is_not_ours_is_refused(f: &Fixture) {
    f.queue
        .send(QUEUE, OutgoingMessage::new("x"))
        .await
        .expect("send");
    assert!(matches!(
        f.queue.delete(QUEUE, "forged.receipt").await,
        Err(QueueError::InvalidReceipt)
    ));
    assert_eq!(f.receive(QUEUE, NOW).await.len(), 1);
}

async fn the_backend_answers_a_health_probe(f: &Fixture) {
    assert_eq!(f.queue.probe().await, Ok(()));
}

conformance!(Fixture:
    the_backend_answers_a_health_probe,
    a_sent_message_is_received_once_and_gone_after_delete,
    a_message_not_deleted_comes_back_after_its_visibility_timeout,
    change_visibility_to_zero_releases_a_message_at_once,
    a_delayed_message_stays_hidden_until_its_delay_passes,
    a_batch_larger_than_ten_is_sent_whole,
    a_long_poll_returns_a_message_sent_while_waiting,
    a_message_received_too_often_is_redriven_to_the_dead_letter_queue,
    unknown_queues_and_bad_requests_are_refused,
    a_receipt_that_is_not_ours_is_refused,
);
