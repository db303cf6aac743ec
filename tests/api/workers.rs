//! Workers run by the gateway: partial batch failures, rules routing events
//! to their queue, the scheduler tick.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use nocode::gateway::WorkerSettings;
use nocode::gateway::workers::poll_once;
use reqwest::{Method, StatusCode};
use shared::ports::queue::OutgoingMessage;
use shared::ports::table::Key;
use shared::routes::BoxFuture;
use shared::services::Services;

use crate::helpers::{TestApp, eventually};

/// Bodies each call of the test handler saw; it fails bodies starting "fail".
static SEEN: Mutex<Vec<Vec<String>>> = Mutex::new(Vec::new());

fn failing_handler(_: Arc<Services>, event: SqsEvent) -> BoxFuture<SqsBatchResponse> {
    Box::pin(async move {
        let mut response = SqsBatchResponse::default();
        let mut bodies = Vec::new();
        for record in event.records {
            let body = record.body.unwrap_or_default();
            if body.starts_with("fail") {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
            bodies.push(body);
        }
        if let Ok(mut seen) = SEEN.lock() {
            seen.push(bodies);
        }
        response
    })
}

#[tokio::test]
async fn a_partial_batch_failure_redelivers_only_the_failed_messages() {
    let app = TestApp::embedded().await;
    // A queue no worker consumes (a dead-letter queue nothing reads), so
    // only this test polls it.
    let queue = "event-triggers-dlq";
    let sent = app
        .services
        .queue()
        .expect("queue")
        .send_batch(
            queue,
            ["ok-1", "fail-1", "ok-2"]
                .map(OutgoingMessage::new)
                .to_vec(),
        )
        .await
        .expect("send");
    assert_eq!(sent.len(), 3);
    let settings = WorkerSettings {
        poll_wait: Duration::from_millis(200),
        retry_after: Duration::from_millis(300),
        tick_every: None,
        pollers: 1,
    };
    let handled = poll_once(&app.services, queue, failing_handler, &[], settings).await;
    assert_eq!(handled, Ok(3));
    // Hidden for retry_after: nothing comes back at once.
    assert_eq!(
        poll_once(&app.services, queue, failing_handler, &[], settings).await,
        Ok(0)
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        poll_once(&app.services, queue, failing_handler, &[], settings).await,
        Ok(1)
    );
    let seen = SEEN.lock().expect("seen").clone();
    assert_eq!(seen.len(), 2);
    let mut first = seen[0].clone();
    first.sort();
    assert_eq!(first, ["fail-1", "ok-1", "ok-2"]);
    assert_eq!(seen[1], ["fail-1"]);
    app.stop().await;
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn a_rule_routes_each_event_to_its_queue_where_the_worker_counts_it_once() {
    let app = TestApp::embedded().await;
    app.signed_up_user().await;
    app.signed_up_user().await;
    let table = app.services.table().expect("table");
    let counted = eventually(Duration::from_secs(10), || async {
        let count = shared::insights::usage::count(
            table,
            "PLATFORM",
            shared::insights::analytics::Granularity::Day,
            &today(),
            "user.registered",
            None,
        )
        .await
        .ok()?;
        (count == 2).then_some(count)
    })
    .await;
    assert!(counted.is_some(), "both registrations were counted");
    app.stop().await;
}

#[tokio::test]
async fn a_message_the_worker_cannot_read_ends_in_the_dead_letter_queue() {
    let app = TestApp::embedded().await;
    let queue = app.services.queue().expect("queue");
    queue
        .send("insights-ingest", OutgoingMessage::new("not an event"))
        .await
        .expect("send");
    // The worker fails it, it is retried max_receives times, then dead-lettered.
    let dead = eventually(Duration::from_secs(15), || async {
        let got = queue
            .receive(
                "insights-ingest-dlq",
                10,
                Duration::from_secs(30),
                Duration::ZERO,
            )
            .await
            .ok()?;
        (!got.is_empty()).then_some(got)
    })
    .await
    .expect("the message reaches the dead-letter queue");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "not an event");
    app.stop().await;
}

#[tokio::test]
async fn the_scheduler_ticks_and_health_shows_it() {
    let app = TestApp::embedded().await;
    let ticked = eventually(Duration::from_secs(5), || async {
        let (status, body) = app.json(Method::GET, "/api/v1/health", None, None).await;
        (status == StatusCode::OK && body["scheduler_last_tick"].is_string()).then_some(body)
    })
    .await;
    assert!(ticked.is_some());
    let table = app.services.table().expect("table");
    let ticks = table
        .get(&Key::new("PLATFORM", "SCHEDULER"))
        .await
        .expect("read")
        .expect("tick item")["ticks"]
        .as_i64()
        .unwrap_or_default();
    assert!(ticks >= 1);
    app.stop().await;
}
