//! Automation end to end, on both backends: workflows saved and checked,
//! every trigger (by hand, a record event, a schedule under a simulated
//! clock, a signed webhook) and every step type, retries with backoff and
//! the error path, the refusal of internal addresses, duplicate delivery
//! of every engine message, cancel and retry, and the default workflows.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::routing::any;
use hmac::{Hmac, KeyInit, Mac};
use nocode_tests::eventually;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, User, assert_problem};

/// A test's own HTTP server on loopback: it answers `status` and keeps
/// what it was sent, and when.
#[derive(Clone)]
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<(Instant, String, Value)>>>,
}

#[derive(Clone)]
struct Answer {
    status: u16,
    seen: Arc<Mutex<Vec<(Instant, String, Value)>>>,
}

async fn answer(
    State(answer): State<Answer>,
    request: axum::extract::Request,
) -> (AxumStatus, String) {
    let path = request.uri().path().to_string();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    answer
        .seen
        .lock()
        .expect("the server's log")
        .push((Instant::now(), path, body));
    (
        AxumStatus::from_u16(answer.status).expect("a status"),
        json!({"ok": answer.status < 400, "items": [{"id": "i1"}]}).to_string(),
    )
}

async fn server(status: u16) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr: SocketAddr = listener.local_addr().expect("an address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let router = axum::Router::new()
        .fallback(any(answer))
        .with_state(Answer {
            status,
            seen: Arc::clone(&seen),
        });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server {
        url: format!("http://{addr}"),
        seen,
    }
}

impl Server {
    fn calls(&self) -> Vec<(Instant, String, Value)> {
        self.seen.lock().expect("the server's log").clone()
    }
}

struct Project {
    owner: User,
    org: String,
    id: String,
}

async fn project(app: &TestApp) -> Project {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let id = app.project(&owner, &org, "Shop").await;
    Project { owner, org, id }
}

async fn workflow(app: &TestApp, p: &Project, enabled: bool, definition: Value) -> Value {
    let (status, made) = app
        .json(
            Method::POST,
            "/api/v1/automation/workflows/",
            Some(json!({"project_id": p.id, "name": "Flow", "enabled": enabled, "definition": definition})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

async fn execute(app: &TestApp, p: &Project, workflow: &str, input: Value) -> String {
    let (status, accepted) = app
        .json(
            Method::POST,
            &format!("/api/v1/automation/workflows/{workflow}/execute"),
            Some(json!({"input": input})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    accepted["execution_id"]
        .as_str()
        .expect("an id")
        .to_string()
}

async fn execution(app: &TestApp, p: &Project, workflow: &str, execution: &str) -> Value {
    let (status, found) = app
        .json(
            Method::GET,
            &format!("/api/v1/automation/workflows/{workflow}/executions/{execution}"),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    found
}

/// The execution once it has ended.
async fn ended(app: &TestApp, p: &Project, workflow: &str, id: &str) -> Value {
    eventually(Duration::from_secs(30), || async {
        let found = execution(app, p, workflow, id).await;
        ["succeeded", "failed", "cancelled"]
            .contains(&found["status"].as_str().unwrap_or_default())
            .then_some(found)
    })
    .await
    .unwrap_or_else(|| panic!("execution {id} did not end"))
}

async fn executions(app: &TestApp, p: &Project, workflow: &str, query: &str) -> Value {
    let (status, page) = app
        .json(
            Method::GET,
            &format!("/api/v1/automation/workflows/{workflow}/executions?{query}"),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_string))
        .collect()
}

async fn a_workflow_is_checked_saved_changed_and_deleted(app: TestApp) {
    let p = project(&app).await;
    let create = |definition: Value| {
        let app = &app;
        let p = &p;
        async move {
            app.call(
                Method::POST,
                "/api/v1/automation/workflows",
                Some(json!({"project_id": p.id, "name": "Bad", "definition": definition})),
                Some(&p.owner.access),
            )
            .await
        }
    };
    for (definition, field) in [
        (
            json!({"trigger": {"type": "manual"}, "start": "a", "steps": [{"id": "a", "type": "teleport"}]}),
            "definition.steps[0].type",
        ),
        (
            json!({"trigger": {"type": "manual"}, "start": "a", "steps": [
                {"id": "a", "type": "noop", "next": [{"to": "b"}]},
                {"id": "b", "type": "noop", "next": [{"to": "a"}]}]}),
            "definition.steps[1].next[0].to",
        ),
        (
            json!({"trigger": {"type": "manual"}, "start": "a", "steps": [
                {"id": "a", "type": "noop"}, {"id": "lost", "type": "noop"}]}),
            "definition.steps[1]",
        ),
        (
            json!({"trigger": {"type": "manual"}, "start": "a", "steps": [
                {"id": "a", "type": "transform", "value": "{{ steps.b.x }}", "next": [{"to": "b"}]},
                {"id": "b", "type": "noop"}]}),
            "definition.steps[0].value",
        ),
        (
            json!({"trigger": {"type": "manual"}, "start": "a", "steps": [
                {"id": "a", "type": "create_record", "table": "nope", "values": {}}]}),
            "definition.steps[0].table",
        ),
        (
            json!({"trigger": {"type": "schedule", "cron": "every day"}, "start": "a",
                   "steps": [{"id": "a", "type": "noop"}]}),
            "definition.trigger.cron",
        ),
    ] {
        let problem = assert_problem(
            create(definition.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&problem), [field], "{definition}");
    }
    let made = workflow(
        &app,
        &p,
        false,
        json!({"trigger": {"type": "manual"}, "start": "a", "steps": [{"id": "a", "type": "noop"}]}),
    )
    .await;
    assert_eq!(made["enabled"], false);
    assert_eq!(made["definition_version"], 1);
    let path = format!("/api/v1/automation/workflows/{}", id(&made));
    let (status, list) = app
        .json(
            Method::GET,
            &format!("/api/v1/automation/workflows?project={}", p.id),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|w| w["id"] == made["id"])
    );
    let response = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Renamed", "version": 9})),
            Some(&p.owner.access),
        )
        .await;
    let problem = assert_problem(response, StatusCode::PRECONDITION_FAILED, "stale_version").await;
    assert_eq!(problem["current_version"], 1);
    let (status, changed) = app
        .json(
            Method::PATCH,
            &path,
            Some(
                json!({"version": 1, "definition": {"trigger": {"type": "manual"}, "start": "b",
                "steps": [{"id": "b", "type": "noop"}]}}),
            ),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["definition_version"], 2);
    let (status, enabled) = app
        .json(
            Method::POST,
            &format!("{path}/enable"),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["enabled"], true);
    // An outsider sees nothing.
    let outsider = app.signed_up_user().await;
    let response = app
        .call(Method::GET, &path, None, Some(&outsider.access))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let (status, _) = app
        .json(Method::DELETE, &path, None, Some(&p.owner.access))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .json(Method::GET, &path, None, Some(&p.owner.access))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = app
        .audit(&p.org, &p.owner, "target_type=workflow")
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_string))
        .collect();
    for action in [
        "workflow.created",
        "workflow.updated",
        "workflow.enabled",
        "workflow.deleted",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    app.stop().await;
}

async fn every_step_type_runs(app: TestApp) {
    let p = project(&app).await;
    let echo = server(200).await;
    let table = app
        .add_table(
            &p.owner,
            &p.id,
            json!({"name": "Orders", "fields": [
                {"name": "email", "type": "text"}, {"name": "status", "type": "text"}]}),
        )
        .await;
    let (status, made_app) = app
        .json(
            Method::POST,
            "/api/v1/runtime/apps",
            Some(json!({"project_id": p.id, "name": "Shop app"})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made_app}");
    let flow = workflow(
        &app,
        &p,
        false,
        json!({"trigger": {"type": "manual"}, "start": "set", "timeout_seconds": 120, "steps": [
            {"id": "set", "type": "set_variable", "name": "email", "value": "{{ trigger.input.email }}", "next": [{"to": "shape"}]},
            {"id": "shape", "type": "transform", "value": {"who": "{{ vars.email | upper }}", "n": "{{ trigger.input.n * 2 }}"}, "next": [{"to": "check"}]},
            {"id": "check", "type": "condition", "if": "{{ steps.shape.n > 5 }}", "next": [
                {"to": "route", "branch": "true"}, {"to": "never", "branch": "false"}]},
            {"id": "never", "type": "noop"},
            {"id": "route", "type": "switch", "value": "{{ trigger.input.kind }}", "cases": ["a", "b"], "next": [
                {"to": "create", "branch": "b"}, {"to": "never2", "branch": "default"}]},
            {"id": "never2", "type": "noop"},
            {"id": "create", "type": "create_record", "table": "Orders", "values": {"email": "{{ vars.email }}", "status": "new"}, "next": [{"to": "update"}]},
            {"id": "update", "type": "update_record", "table": table["id"], "record": "{{ steps.create.id }}", "values": {"status": "seen"}, "next": [{"to": "query"}]},
            {"id": "query", "type": "query_records", "table": "Orders", "filter": "status = 'seen'", "next": [{"to": "call"}]},
            {"id": "call", "type": "http_request", "method": "POST", "url": format!("{}/hook", echo.url),
             "body": {"count": "{{ steps.query['items'] | length }}"}, "next": [{"to": "emit"}]},
            {"id": "emit", "type": "emit_event", "name": "order.seen", "detail": {"id": "{{ steps.create.id }}"}, "next": [{"to": "pause"}]},
            {"id": "pause", "type": "delay", "seconds": 1, "next": [{"to": "drafts"}]},
            {"id": "drafts", "type": "refresh_app_drafts", "next": [{"to": "tell"}]},
            {"id": "tell", "type": "notify", "roles": ["owner"], "subject": "Seen {{ vars.email }}", "body": "Order {{ steps.create.id }} was seen.", "next": [{"to": "remove"}]},
            {"id": "remove", "type": "delete_record", "table": "Orders", "record": "{{ steps.create.id }}", "next": [{"to": "end"}]},
            {"id": "end", "type": "stop", "outcome": "success", "message": "done"}
        ]}),
    )
    .await;
    let workflow_id = id(&flow);
    let started = execute(
        &app,
        &p,
        &workflow_id,
        json!({"email": "ada@example.com", "n": 3, "kind": "b"}),
    )
    .await;
    let done = ended(&app, &p, &workflow_id, &started).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let steps = &done["steps"];
    assert_eq!(
        steps["shape"]["output"],
        json!({"who": "ADA@EXAMPLE.COM", "n": 6})
    );
    assert_eq!(steps["check"]["branch"], "true");
    assert_eq!(steps["route"]["branch"], "b");
    assert!(
        steps.get("never").is_none() && steps.get("never2").is_none(),
        "{steps}"
    );
    assert_eq!(steps["create"]["output"]["email"], "ada@example.com");
    assert_eq!(steps["update"]["output"]["status"], "seen");
    assert_eq!(steps["query"]["output"]["items"][0]["status"], "seen");
    assert_eq!(steps["call"]["output"]["status"], 200);
    assert_eq!(steps["call"]["output"]["body"]["ok"], true);
    assert_eq!(steps["emit"]["output"]["detail_type"], "custom.order.seen");
    assert!(steps["pause"]["output"]["waited_until"].is_string());
    assert_eq!(
        steps["drafts"]["output"]["apps"][0]["app_id"],
        made_app["id"]
    );
    assert_eq!(steps["tell"]["output"]["sent_to"][0], p.owner.id.as_str());
    assert_eq!(steps["remove"]["output"]["deleted"], true);
    for step in ["create", "call"] {
        assert_eq!(steps[step]["attempts"], 1, "{step}");
        assert!(steps[step]["duration_ms"].is_number(), "{step}");
        assert!(steps[step]["input"].is_object(), "{step}");
    }
    let calls = echo.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].2, json!({"count": 1}));
    // The record steps wrote as the workflow.
    let created = app.audit(&p.org, &p.owner, "action=record.created").await;
    assert_eq!(created[0]["actor"], format!("workflow:{workflow_id}"));
    // The notice reached the owner.
    let mail = app.mail_to(&p.owner.email).await;
    assert!(mail.iter().any(|m| m.contains("was seen")), "{mail:?}");
    app.stop().await;
}

async fn a_new_record_fires_a_workflow_that_calls_out_and_updates_it(app: TestApp) {
    let p = project(&app).await;
    let crm = server(200).await;
    let table = app
        .add_table(
            &p.owner,
            &p.id,
            json!({"name": "Leads", "fields": [
                {"name": "email", "type": "email"}, {"name": "status", "type": "text"}]}),
        )
        .await;
    let table_id = id(&table);
    workflow(
        &app,
        &p,
        true,
        json!({"trigger": {"type": "event", "source": "nocode.runtime", "detail_type": "record.created",
                "condition": format!("{{{{ event.detail.table_id == '{table_id}' }}}}")},
            "start": "tell", "steps": [
            {"id": "tell", "type": "http_request", "method": "POST", "url": format!("{}/leads", crm.url),
             "body": {"email": "{{ trigger.record.email }}"}, "next": [{"to": "mark"}]},
            {"id": "mark", "type": "update_record", "table": table_id, "record": "{{ trigger.record.id }}",
             "values": {"status": "sent to CRM ({{ steps.tell.status }})"}}
        ]}),
    )
    .await;
    let records = format!(
        "/api/v1/runtime/projects/{}/tables/{table_id}/records",
        p.id
    );
    let (status, lead) = app
        .json(
            Method::POST,
            &records,
            Some(json!({"email": "grace@example.com", "status": "new"})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    let marked = eventually(Duration::from_secs(30), || async {
        let (_, read) = app
            .json(
                Method::GET,
                &format!("{records}/{}", id(&lead)),
                None,
                Some(&p.owner.access),
            )
            .await;
        (read["status"] == "sent to CRM (200)").then_some(read)
    })
    .await;
    assert!(marked.is_some(), "the workflow marked the record");
    let calls = crm.calls();
    assert_eq!(calls.len(), 1, "the update's own event starts nothing");
    assert_eq!(calls[0].2, json!({"email": "grace@example.com"}));
    app.stop().await;
}

async fn a_schedule_fires_once_per_due_minute_under_a_simulated_clock(app: TestApp) {
    let p = project(&app).await;
    // Every minute of 12:xx on the first of January, far from today: only
    // the simulated ticks reach it.
    let flow = workflow(
        &app,
        &p,
        true,
        json!({"trigger": {"type": "schedule", "cron": "* 12 1 1 *", "timezone": "UTC"},
               "start": "a", "steps": [{"id": "a", "type": "noop"}]}),
    )
    .await;
    let workflow_id = id(&flow);
    let year = chrono::Utc::now()
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .expect("a year")
        + 1;
    let at = |minute: u32, second: u32| {
        chrono::DateTime::parse_from_rfc3339(&format!("{year}-01-01T12:{minute:02}:{second:02}Z"))
            .expect("a time")
            .with_timezone(&chrono::Utc)
    };
    let run = |now| {
        let services = app.services.clone();
        async move {
            shared::automation::triggers::run_due(&services, now)
                .await
                .expect("a tick")
        }
    };
    assert_eq!(run(at(0, 10)).await, 1, "12:00 is due");
    assert_eq!(
        run(at(0, 50)).await,
        0,
        "a second tick in the same minute starts nothing"
    );
    // Two ticks at once start the minute's run once.
    let (a, b) = tokio::join!(run(at(1, 5)), run(at(1, 6)));
    assert_eq!(a + b, 1, "overlapping ticks");
    // A late tick starts each missed minute once.
    assert_eq!(run(at(4, 30)).await, 3, "12:02, 12:03 and 12:04");
    assert_eq!(run(at(4, 40)).await, 0);
    let page = executions(&app, &p, &workflow_id, "count=true").await;
    assert_eq!(page["total"], 5, "{page}");
    let scheduled: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["trigger_kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(scheduled.iter().all(|k| k == "schedule"), "{scheduled:?}");
    app.stop().await;
}

async fn a_failing_step_is_retried_with_backoff_then_takes_its_error_path(app: TestApp) {
    let p = project(&app).await;
    let down = server(503).await;
    let flow = workflow(
        &app,
        &p,
        false,
        json!({"trigger": {"type": "manual"}, "start": "call", "steps": [
            {"id": "call", "type": "http_request", "method": "GET", "url": format!("{}/flaky", down.url),
             "retry": {"max_attempts": 3, "backoff_ms": 400}, "on_error": "recover"},
            {"id": "recover", "type": "set_variable", "name": "fallback", "value": "{{ steps.call is defined }}"}
        ]}),
    )
    .await;
    let workflow_id = id(&flow);
    let started = execute(&app, &p, &workflow_id, json!({})).await;
    let done = ended(&app, &p, &workflow_id, &started).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["steps"]["call"]["status"], "failed");
    assert_eq!(done["steps"]["call"]["attempts"], 3);
    assert!(
        done["steps"]["call"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{done}"
    );
    assert_eq!(done["steps"]["recover"]["status"], "succeeded");
    let calls = down.calls();
    assert_eq!(calls.len(), 3);
    // 400 ms then 800 ms, each within ±25 %.
    let first = calls[1].0 - calls[0].0;
    let second = calls[2].0 - calls[1].0;
    assert!(first >= Duration::from_millis(300), "{first:?}");
    assert!(second >= Duration::from_millis(600), "{second:?}");
    app.stop().await;
}

async fn internal_addresses_are_refused(app: TestApp) {
    let p = project(&app).await;
    let local = server(200).await;
    let port = local.url.rsplit(':').next().expect("a port").to_string();
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let flow = workflow(
            &app,
            &p,
            false,
            json!({"trigger": {"type": "manual"}, "start": "call", "steps": [
                {"id": "call", "type": "http_request", "method": "GET", "url": url}]}),
        )
        .await;
        let workflow_id = id(&flow);
        let started = execute(&app, &p, &workflow_id, json!({})).await;
        let done = ended(&app, &p, &workflow_id, &started).await;
        assert_eq!(done["status"], "failed", "{url}: {done}");
        let error = done["steps"]["call"]["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("refused"), "{url}: {error}");
        assert!(
            error.contains("link-local") || error.contains("loopback"),
            "{url}: {error}"
        );
    }
    assert!(local.calls().is_empty(), "nothing reached the local server");
    app.stop().await;
}

async fn a_signed_webhook_starts_its_workflow(app: TestApp) {
    let p = project(&app).await;
    let secret = "a-shared-secret-of-the-sender";
    let flow = workflow(
        &app,
        &p,
        true,
        json!({"trigger": {"type": "webhook", "signature": {"header": "X-Signature", "secret": secret, "prefix": "sha256="}},
               "start": "keep", "steps": [{"id": "keep", "type": "set_variable", "name": "order", "value": "{{ trigger.body.order }}"}]}),
    )
    .await;
    assert_eq!(
        flow["definition"]["trigger"]["signature"]["secret"],
        "********"
    );
    let url = flow["webhook"]["url"]
        .as_str()
        .expect("a webhook URL")
        .to_string();
    let body = br#"{"order": 42}"#.to_vec();
    let unsigned = app
        .client
        .post(format!("{}{url}", app.url))
        .body(body.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("a key");
    mac.update(&body);
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signed = app
        .client
        .post(format!("{}{url}", app.url))
        .header("x-signature", format!("sha256={signature}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("answers");
    assert_eq!(signed.status(), StatusCode::ACCEPTED);
    let accepted: Value = signed.json().await.expect("JSON");
    let done = ended(
        &app,
        &p,
        &id(&flow),
        accepted["execution_id"].as_str().expect("id"),
    )
    .await;
    assert_eq!(done["vars"]["order"], 42);
    assert_eq!(done["trigger"]["kind"], "webhook");
    // Disabled, the URL is gone.
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/api/v1/automation/workflows/{}/disable", id(&flow)),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = app.call(Method::POST, &url, Some(json!({})), None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

fn batch(bodies: Vec<String>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("m{i}"));
            message.body = Some(body);
            message
        })
        .collect();
    event
}

async fn every_engine_message_delivered_twice_acts_once(app: TestApp) {
    let p = project(&app).await;
    let echo = server(200).await;
    let flow = workflow(
        &app,
        &p,
        false,
        json!({"trigger": {"type": "manual"}, "start": "call", "steps": [
            {"id": "call", "type": "http_request", "method": "POST", "url": format!("{}/once", echo.url),
             "body": {"execution": "{{ execution.id }}"}, "next": [{"to": "after"}]},
            {"id": "after", "type": "transform", "value": "{{ steps.call.status }}"}]}),
    )
    .await;
    let workflow_id = id(&flow);
    let started = execute(&app, &p, &workflow_id, json!({})).await;
    // The start, three times at once, beside the platform's own delivery.
    let turn = json!({"execution_id": started}).to_string();
    let engine = |bodies: Vec<String>| {
        let services = app.services.clone();
        async move { shared::automation::engine::handle(services, batch(bodies)).await }
    };
    engine(vec![turn.clone(), turn.clone(), turn.clone()]).await;
    let done = ended(&app, &p, &workflow_id, &started).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    // Each step's turn, again, after the end.
    let steps = vec![
        json!({"execution_id": started, "step": "call"}).to_string(),
        json!({"execution_id": started, "step": "after"}).to_string(),
        turn,
    ];
    let answer = engine(steps).await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(echo.calls().len(), 1, "the HTTP step ran once");
    let again = execution(&app, &p, &workflow_id, &started).await;
    assert_eq!(again["version"], done["version"], "nothing changed");

    // The matcher's event, twice: one execution.
    let table = app
        .add_table(&p.owner, &p.id, json!({"name": "T", "fields": []}))
        .await;
    let listening = workflow(
        &app,
        &p,
        true,
        json!({"trigger": {"type": "event", "source": "nocode.runtime", "detail_type": "record.created"},
               "start": "a", "steps": [{"id": "a", "type": "noop"}]}),
    )
    .await;
    let event = json!({
        "version": "0", "id": "envelope-1", "detail-type": "record.created", "source": "nocode.runtime",
        "account": "000000000000", "time": "2026-12-02T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"event_id": "01JDUPLICATEDEVENT000000000", "organization_id": p.org, "project_id": p.id,
                   "table_id": table["id"], "record_id": "nope"}
    })
    .to_string();
    let matcher = shared::automation::triggers::handle_events(
        app.services.clone(),
        batch(vec![event.clone(), event.clone()]),
    )
    .await;
    assert!(matcher.batch_item_failures.is_empty());
    shared::automation::triggers::handle_events(app.services.clone(), batch(vec![event])).await;
    let page = executions(&app, &p, &id(&listening), "count=true").await;
    assert_eq!(page["total"], 1, "{page}");

    // A dead letter, twice: the execution fails once.
    let waiting = workflow(
        &app,
        &p,
        false,
        json!({"trigger": {"type": "manual"}, "start": "wait", "steps": [{"id": "wait", "type": "delay", "seconds": 600}]}),
    )
    .await;
    let stuck = execute(&app, &p, &id(&waiting), json!({})).await;
    let dead = json!({"execution_id": stuck, "step": "wait"}).to_string();
    for _ in 0..2 {
        let answer = shared::automation::engine::handle_dead_letters(
            app.services.clone(),
            batch(vec![dead.clone()]),
        )
        .await;
        assert!(answer.batch_item_failures.is_empty());
    }
    let failed = execution(&app, &p, &id(&waiting), &stuck).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("dead-letter"))
    );
    app.stop().await;
}

async fn an_execution_is_cancelled_and_retried(app: TestApp) {
    let p = project(&app).await;
    let flow = workflow(
        &app,
        &p,
        false,
        json!({"trigger": {"type": "manual"}, "start": "wait", "steps": [{"id": "wait", "type": "delay", "seconds": 600}]}),
    )
    .await;
    let workflow_id = id(&flow);
    let started = execute(&app, &p, &workflow_id, json!({"n": 1})).await;
    let base = format!("/api/v1/automation/workflows/{workflow_id}/executions/{started}");
    let (status, cancelled) = app
        .json(
            Method::POST,
            &format!("{base}/cancel"),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let response = app
        .call(
            Method::POST,
            &format!("{base}/cancel"),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "execution_ended").await;
    let (status, retried) = app
        .json(
            Method::POST,
            &format!("{base}/retry"),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    let again = execution(
        &app,
        &p,
        &workflow_id,
        retried["execution_id"].as_str().expect("id"),
    )
    .await;
    assert_eq!(again["retry_of"], started.as_str());
    assert_eq!(again["trigger"]["payload"]["input"], json!({"n": 1}));
    let page = executions(&app, &p, &workflow_id, "status=cancelled").await;
    assert_eq!(page["items"][0]["id"], started.as_str());
    app.stop().await;
}

async fn default_roles(app: &TestApp, p: &Project, count: usize) -> Vec<String> {
    eventually(Duration::from_secs(20), || async {
        let (_, list) = app
            .json(
                Method::GET,
                &format!("/api/v1/automation/workflows?project={}", p.id),
                None,
                Some(&p.owner.access),
            )
            .await;
        let roles: Vec<String> = list["items"]
            .as_array()?
            .iter()
            .filter_map(|w| w["default_of"].as_str().map(str::to_string))
            .collect();
        (roles.len() == count).then_some(roles)
    })
    .await
    .unwrap_or_else(|| panic!("{count} default workflows"))
}

async fn a_new_project_gets_its_default_workflows(app: TestApp) {
    let p = project(&app).await;
    // A project has no apps yet, so no drafts to keep.
    assert_eq!(default_roles(&app, &p, 1).await, ["notify_failures"]);
    // Its first app brings the workflow that keeps the drafts.
    let (status, made) = app
        .json(
            Method::POST,
            "/api/v1/runtime/apps",
            Some(json!({"project_id": p.id, "name": "First app"})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let defaults = default_roles(&app, &p, 2).await;
    assert!(defaults.contains(&"app_drafts".to_string()), "{defaults:?}");
    // A failed execution reaches the owners by mail.
    let failing = workflow(
        &app,
        &p,
        false,
        json!({"trigger": {"type": "manual"}, "start": "fail", "steps": [
            {"id": "fail", "type": "stop", "outcome": "failure", "message": "on purpose"}]}),
    )
    .await;
    let started = execute(&app, &p, &id(&failing), json!({})).await;
    let done = ended(&app, &p, &id(&failing), &started).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"], "on purpose");
    let told = eventually(Duration::from_secs(30), || async {
        let mail = app.mail_to(&p.owner.email).await;
        mail.iter().any(|m| m.contains(&started)).then_some(())
    })
    .await;
    assert!(told.is_some(), "the owners were told");
    app.stop().await;
}

mod embedded {
    use crate::helpers::TestApp;

    macro_rules! tests {
        ($($test:ident: $start:ident),+ $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(TestApp::$start().await).await;
                }
            )+
        };
    }
    tests!(
        a_workflow_is_checked_saved_changed_and_deleted: embedded,
        every_step_type_runs: embedded_with_loopback,
        a_new_record_fires_a_workflow_that_calls_out_and_updates_it: embedded_with_loopback,
        a_schedule_fires_once_per_due_minute_under_a_simulated_clock: embedded,
        a_failing_step_is_retried_with_backoff_then_takes_its_error_path: embedded_with_loopback,
        internal_addresses_are_refused: embedded,
        a_signed_webhook_starts_its_workflow: embedded,
        every_engine_message_delivered_twice_acts_once: embedded_with_loopback,
        an_execution_is_cancelled_and_retried: embedded,
        a_new_project_gets_its_default_workflows: embedded,
    );
}

mod moto {
    use crate::helpers::TestApp;

    macro_rules! tests {
        ($($test:ident: $start:ident),+ $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(TestApp::$start().await).await;
                }
            )+
        };
    }
    tests!(
        a_workflow_is_checked_saved_changed_and_deleted: aws,
        every_step_type_runs: aws_with_loopback,
        a_new_record_fires_a_workflow_that_calls_out_and_updates_it: aws_with_loopback,
        a_schedule_fires_once_per_due_minute_under_a_simulated_clock: aws,
        a_failing_step_is_retried_with_backoff_then_takes_its_error_path: aws_with_loopback,
        internal_addresses_are_refused: aws,
        a_signed_webhook_starts_its_workflow: aws,
        every_engine_message_delivered_twice_acts_once: aws_with_loopback,
        an_execution_is_cancelled_and_retried: aws,
        a_new_project_gets_its_default_workflows: aws,
    );
}
