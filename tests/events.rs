//! The sample Lambda events of events/ (for `sam local invoke -e …` and for
//! reading) are real payloads: each parses with the types the functions
//! parse it with, and run through the function's handler from the route
//! table on embedded services, it does what the function does on AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use lambda_http::{Body, Response};
use serde_json::Value;
use shared::config::EmbeddedSettings;
use shared::insights::analytics::Granularity;
use shared::ports::events::DomainEvent;
use shared::ports::table::Key;
use shared::resources::RULES;
use shared::routes::{self, Found, Trigger};
use shared::services::{Port, Services};
use tempfile::TempDir;

fn read(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Embedded services in a fresh data folder, as a function builds them.
async fn services(ports: &[Port]) -> (TempDir, Arc<Services>) {
    let dir = tempfile::tempdir().expect("a temporary data folder");
    let services = Services::embedded(&EmbeddedSettings::new(dir.path()), ports)
        .await
        .expect("embedded services start");
    (dir, Arc::new(services))
}

/// Routes an API Gateway event as the gateway does and runs its handler.
async fn invoke_api(services: &Arc<Services>, file: &str) -> (String, Response<Body>) {
    let request = lambda_http::request::from_str(&read(file)).expect("an HTTP API v2 event");
    let (found, _) = routes::find(request.method().as_str(), request.uri().path());
    let Found::Route(route) = found else {
        panic!(
            "{file}: {} {} is no route",
            request.method(),
            request.uri().path()
        );
    };
    let response = routes::shim::invoke(route, Arc::clone(services), request).await;
    (route.function.to_string(), response)
}

fn json_body(response: &Response<Body>) -> Value {
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
}

async fn health_of(services: &Arc<Services>) -> Value {
    let (_, response) = invoke_api(services, "events/api/health.json").await;
    assert_eq!(response.status(), 200);
    json_body(&response)
}

// ------------------------------------------------------------------ API

async fn assert_health_answers_ok(file: &str) {
    let route = routes::api_route("health").expect("the health route");
    let (_dir, services) = services(route.ports).await;
    let (function, response) = invoke_api(&services, file).await;
    assert_eq!(function, "health");
    assert_eq!(response.status(), 200);
    let body = json_body(&response);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["backend"], "embedded");
    for port in route.ports {
        assert_eq!(body["ports"][port.name()]["status"], "up", "{port:?}");
    }
}

#[tokio::test]
async fn the_health_event_answers_ok_json_from_the_embedded_backend() {
    assert_health_answers_ok("events/api/health.json").await;
}

#[tokio::test]
async fn the_health_event_with_a_trailing_slash_reaches_the_same_function() {
    assert_health_answers_ok("events/api/health-trailing-slash.json").await;
}

// ------------------------------------------------------------------ SQS

const INGEST_BATCH: &str = "events/sqs/insights-ingest.json";

/// The insights-ingest worker's handler, from the route table.
fn ingest_worker() -> (routes::QueueHandler, &'static [Port]) {
    let worker = routes::worker("insights-ingest").expect("the ingest worker");
    let Trigger::Queue { handler, .. } = worker.trigger else {
        panic!("insights-ingest is a queue worker");
    };
    (handler, worker.ports)
}

/// What a counter of the ingest worker holds (0 when it does not exist).
async fn counted(
    services: &Services,
    (organization, day, detail_type): &(String, String, String),
) -> i64 {
    let table = services.table().expect("the table port");
    let count = shared::insights::usage::count(
        table,
        organization,
        Granularity::Day,
        day,
        detail_type,
        None,
    )
    .await
    .expect("the counter reads");
    i64::try_from(count).expect("a count")
}

/// The counters the good messages of a batch should add to: one per event,
/// by organization, UTC day and detail-type.
fn expected_counts(batch: &SqsEvent) -> BTreeMap<(String, String, String), i64> {
    let mut expected = BTreeMap::new();
    for message in &batch.records {
        let body = message.body.as_deref().unwrap_or_default();
        let Ok(event) = serde_json::from_str::<EventBridgeEvent<Value>>(body) else {
            continue;
        };
        let organization = event.detail["organization_id"]
            .as_str()
            .expect("the sample events name their organization");
        let day = event.time.expect("a time").format("%Y-%m-%d").to_string();
        *expected
            .entry((organization.to_string(), day, event.detail_type.clone()))
            .or_insert(0) += 1;
    }
    expected
}

fn failed_ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

#[tokio::test]
async fn the_insights_batch_counts_its_events_and_fails_only_the_malformed_message() {
    let batch: SqsEvent = serde_json::from_str(&read(INGEST_BATCH)).expect("an SQS event");
    assert_eq!(batch.records.len(), 3);
    let expected = expected_counts(&batch);
    assert_eq!(expected.values().sum::<i64>(), 2, "two good events");

    let (handler, ports) = ingest_worker();
    let (_dir, services) = services(ports).await;
    let response = handler(Arc::clone(&services), batch).await;

    assert_eq!(
        failed_ids(&response),
        ["2e1f0a9b-8c7d-4e6f-9a0b-1c2d3e4f5a62"],
        "only the message that is not an event is retried"
    );
    for (key, count) in &expected {
        assert_eq!(counted(&services, key).await, *count, "{key:?}");
    }
}

#[tokio::test]
async fn a_redelivered_insights_batch_counts_nothing_twice() {
    let batch: SqsEvent = serde_json::from_str(&read(INGEST_BATCH)).expect("an SQS event");
    let expected = expected_counts(&batch);
    let (handler, ports) = ingest_worker();
    let (_dir, services) = services(ports).await;

    let first = handler(Arc::clone(&services), batch.clone()).await;
    // SQS delivers at least once: the same batch again.
    let again = handler(Arc::clone(&services), batch).await;

    assert_eq!(failed_ids(&again), failed_ids(&first));
    for (key, count) in &expected {
        assert_eq!(counted(&services, key).await, *count, "{key:?}");
    }
}

// ---------------------------------------------------------- EventBridge

#[tokio::test]
async fn a_project_created_event_goes_to_its_queues_and_is_counted() {
    let text = read("events/eventbridge/project-created.json");
    let event: EventBridgeEvent<Value> = serde_json::from_str(&text).expect("an EventBridge event");
    let domain = DomainEvent {
        source: event.source.clone(),
        ..DomainEvent::new("studio", event.detail_type.clone(), event.detail.clone())
    };
    let queues: Vec<&str> = RULES
        .iter()
        .filter(|rule| rule.matches(&domain))
        .map(|rule| rule.target_queue)
        .collect();
    assert_eq!(queues, ["insights-ingest", "event-triggers"]);

    // An SQS target of a rule receives the whole event as the message body.
    let mut message = SqsMessage::default();
    message.message_id = Some("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into());
    message.body = Some(text);
    let mut batch = SqsEvent::default();
    batch.records = vec![message];

    let (handler, ports) = ingest_worker();
    let (_dir, services) = services(ports).await;
    let response = handler(Arc::clone(&services), batch).await;
    assert!(response.batch_item_failures.is_empty());
    let organization = event.detail["organization_id"].as_str().expect("an org");
    let day = event.time.expect("a time").format("%Y-%m-%d").to_string();
    let key = (organization.to_string(), day, event.detail_type.clone());
    assert_eq!(counted(&services, &key).await, 1);
}

// ------------------------------------------------------------- outbox

const OUTBOX_BATCH: &str = "events/dynamodb/outbox.json";

/// The outbox publisher's handler, from the route table.
fn outbox_worker() -> (routes::StreamHandler, &'static [Port]) {
    let worker = routes::worker("platform-outbox").expect("the outbox worker");
    let Trigger::TableStream { handler, .. } = worker.trigger else {
        panic!("platform-outbox is a table stream worker");
    };
    (handler, worker.ports)
}

#[tokio::test]
async fn the_outbox_batch_puts_its_events_on_the_bus_with_their_own_ids() {
    let batch: aws_lambda_events::dynamodb::Event =
        serde_json::from_str(&read(OUTBOX_BATCH)).expect("a DynamoDB stream event");
    let (handler, ports) = outbox_worker();
    // The queue port too, to see where the rules deliver.
    let (_dir, services) = services(&[ports, &[Port::Queue]].concat()).await;
    let response = handler(Arc::clone(&services), batch).await;
    assert!(response.batch_item_failures.is_empty());

    let queue = services.queue().expect("queue");
    let messages = queue
        .receive(
            "insights-ingest",
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::ZERO,
        )
        .await
        .expect("receive");
    // A standard queue keeps no order.
    let mut delivered: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            let event: EventBridgeEvent<Value> = serde_json::from_str(&m.body).expect("envelope");
            (
                event.detail_type,
                event.detail["event_id"]
                    .as_str()
                    .expect("an id")
                    .to_string(),
            )
        })
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [
            ("member.added".into(), "01JDQ9C1D2E3F4G5H6J7K8M9P2".into()),
            (
                "organization.created".into(),
                "01JDQ9C1D2E3F4G5H6J7K8M9P1".into()
            ),
        ]
    );
}

#[tokio::test]
async fn an_outbox_batch_with_no_bus_fails_from_its_first_record() {
    let batch: aws_lambda_events::dynamodb::Event =
        serde_json::from_str(&read(OUTBOX_BATCH)).expect("a DynamoDB stream event");
    let (handler, _) = outbox_worker();
    // No events port: every publish fails.
    let (_dir, services) = services(&[]).await;
    let response = handler(services, batch).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_deref())
        .collect();
    assert_eq!(failed, [Some("111100000000000000000001")]);
}

// ------------------------------------------------------------- schedule

#[tokio::test]
async fn a_scheduler_tick_shows_in_the_health_report() {
    let tick: EventBridgeEvent<Value> =
        serde_json::from_str(&read("events/schedule/tick.json")).expect("a scheduled event");
    let worker = routes::worker("scheduler-tick").expect("the scheduler worker");
    let Trigger::Schedule { handler, .. } = worker.trigger else {
        panic!("scheduler-tick is a scheduled worker");
    };
    let health = routes::api_route("health").expect("the health route");
    assert!(worker.ports.iter().all(|p| health.ports.contains(p)));
    // One data folder for both functions, as they share one table on AWS.
    let (_dir, services) = services(health.ports).await;

    assert!(health_of(&services).await["scheduler_last_tick"].is_null());
    handler(Arc::clone(&services), tick.clone())
        .await
        .expect("the tick is recorded");

    let shown = health_of(&services).await["scheduler_last_tick"].clone();
    let shown: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(shown).expect("the report shows a time");
    assert_eq!(Some(shown), tick.time);
    let item = services
        .table()
        .expect("the table port")
        .get(&Key::new("PLATFORM", "SCHEDULER"))
        .await
        .expect("the tick item reads")
        .expect("the tick item exists");
    assert_eq!(item["ticks"], 1);
}

// -------------------------------------------------------------- Cognito

#[tokio::test]
async fn the_pre_sign_up_event_comes_back_confirming_the_user_and_email() {
    let worker = routes::worker("foundation-pre-sign-up").expect("the pre-sign-up worker");
    let Trigger::PreSignUp { handler } = worker.trigger else {
        panic!("foundation-pre-sign-up is a pre-sign-up trigger");
    };
    let event: aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup =
        serde_json::from_str(&read("events/cognito/pre-sign-up.json")).expect("pre-sign-up.json");
    assert!(!event.response.auto_confirm_user);
    let services = Arc::new(Services::new("embedded"));
    let answered = handler(services, event.clone())
        .await
        .expect("the trigger answers");
    assert!(answered.response.auto_confirm_user && answered.response.auto_verify_email);
    assert!(!answered.response.auto_verify_phone);
    assert_eq!(
        answered.request, event.request,
        "the request is left as it was"
    );
}

// ------------------------------------------------------ Lambda authorizer

#[tokio::test]
async fn the_authorizer_request_says_who_calls_or_why_not() {
    let worker = routes::worker("runtime-authorizer").expect("the authorizer");
    let Trigger::Authorizer { handler } = worker.trigger else {
        panic!("runtime-authorizer is an authorizer");
    };
    let (_dir, services) = services(worker.ports).await;
    let mut event: aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_str(&read("events/api/authorizer-request.json"))
            .expect("authorizer-request.json");
    // A key the platform never made.
    let context = handler(Arc::clone(&services), event.clone()).await;
    assert_eq!(context["principal"], "none");
    assert_eq!(context["refusal"], "key_unknown");
    // A user's access token, without the key.
    let identity = services.identity().expect("identity");
    let email = "authorized@example.com";
    let mut attributes = BTreeMap::new();
    attributes.insert("given_name".to_string(), "Ada".to_string());
    identity
        .sign_up(shared::ports::identity::SignUp {
            email: email.into(),
            password: "Correct-Horse-9".into(),
            attributes,
        })
        .await
        .expect("sign up");
    let tokens = identity
        .sign_in(email, "Correct-Horse-9")
        .await
        .expect("sign in");
    event.headers.remove("x-api-key");
    event.headers.insert(
        "authorization",
        format!("Bearer {}", tokens.access_token)
            .parse()
            .expect("a header"),
    );
    let context = handler(Arc::clone(&services), event.clone()).await;
    assert_eq!(context["principal"], "user");
    assert_eq!(context["token_use"], "access");
    assert!(context["sub"].as_str().is_some_and(|s| !s.is_empty()));
    // Nothing at all.
    event.headers.remove("authorization");
    let context = handler(services, event).await;
    assert_eq!(context["refusal"], "missing");
}
