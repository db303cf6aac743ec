//! Insights end to end, on both backends: every event stored and counted
//! once under duplicate and out-of-order delivery, the usage, events and
//! log routes with their filters, cursors and role scoping, and their
//! refusals.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::insights::analytics::Granularity;
use shared::routes::{self, Trigger};

use crate::helpers::{TestApp, User, assert_problem, eventually};

/// A delivery of `event` as the insights-ingest rule sends it.
fn message(id: &str, detail_type: &str, detail: Value) -> SqsMessage {
    let mut envelope = EventBridgeEvent::<Value>::default();
    envelope.version = Some("0".into());
    envelope.id = Some(ulid::Ulid::generate().to_string());
    envelope.detail_type = detail_type.into();
    envelope.source = "nocode.runtime".into();
    envelope.time = Some(chrono::Utc::now());
    envelope.detail = detail;
    let mut message = SqsMessage::default();
    message.message_id = Some(format!("{id}-{}", ulid::Ulid::generate()));
    message.body = Some(serde_json::to_string(&envelope).expect("an envelope"));
    message
}

/// Runs the ingest worker's handler on these messages, ten at a time.
async fn ingest(app: &TestApp, messages: Vec<SqsMessage>) {
    let worker = routes::worker("insights-ingest").expect("the ingest worker");
    let Trigger::Queue { handler, .. } = worker.trigger else {
        panic!("insights-ingest is a queue worker");
    };
    for chunk in messages.chunks(10) {
        let mut batch = SqsEvent::default();
        batch.records = chunk.to_vec();
        let response = handler(Arc::new(app.services.only(worker.ports)), batch).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "every event is stored"
        );
    }
}

async fn get(app: &TestApp, user: &User, path: &str) -> (StatusCode, Value) {
    app.json(Method::GET, path, None, Some(&user.access)).await
}

async fn redelivered_and_reordered_events_count_once(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Counted").await;
    // 24 distinct events of two types, half of them in a project.
    let events: Vec<(String, &str, Value)> = (0..24)
        .map(|n| {
            let id = format!("probe-{}", ulid::Ulid::generate());
            let kind = if n % 3 == 0 {
                "probe.rare"
            } else {
                "probe.common"
            };
            let mut detail = json!({"event_id": id, "organization_id": org, "n": n});
            if n % 2 == 0 {
                detail["project_id"] = json!("p-probe");
            }
            (id, kind, detail)
        })
        .collect();
    // Delivered in reverse, then again in order, then a third of them once more.
    let mut deliveries: Vec<SqsMessage> = events
        .iter()
        .rev()
        .map(|(id, kind, detail)| message(id, kind, detail.clone()))
        .collect();
    deliveries.extend(
        events
            .iter()
            .map(|(id, kind, detail)| message(id, kind, detail.clone())),
    );
    deliveries.extend(
        events
            .iter()
            .step_by(3)
            .map(|(id, kind, detail)| message(id, kind, detail.clone())),
    );
    ingest(&app, deliveries).await;

    let table = app.services.table().expect("the table");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let hour = Granularity::Hour.period(chrono::Utc::now());
    for (kind, distinct) in [("probe.rare", 8), ("probe.common", 16)] {
        let day = shared::insights::usage::count(table, &org, Granularity::Day, &today, kind, None)
            .await
            .expect("a count");
        assert_eq!(day, distinct, "{kind} per day");
        let in_project = shared::insights::usage::count(
            table,
            &org,
            Granularity::Day,
            &today,
            kind,
            Some("p-probe"),
        )
        .await
        .expect("a count");
        assert_eq!(in_project, distinct / 2, "{kind} in the project");
        let (status, usage) = get(
            &app,
            &owner,
            &format!("/api/v1/insights/organizations/{org}/usage?granularity=hour&metric={kind}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{usage}");
        let whole: u64 = usage["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|row| row["project_id"].is_null() && row["period"] == hour.as_str())
            .map(|row| row["count"].as_u64().expect("a count"))
            .sum();
        assert_eq!(whole, distinct, "{kind} this hour through the route");
    }

    // The stored events, each once, read in pages of 5.
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut next: Option<String> = None;
    for _ in 0..20 {
        let mut path =
            format!("/api/v1/insights/organizations/{org}/events?type=probe.common&limit=5");
        if let Some(cursor) = &next {
            path.push_str(&format!("&next={cursor}"));
        }
        let (status, page) = get(&app, &owner, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for event in page["items"].as_array().expect("items") {
            assert_eq!(event["type"], "probe.common");
            *seen
                .entry(event["id"].as_str().expect("an id").to_string())
                .or_default() += 1;
        }
        next = page["next"].as_str().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 16, "every common event listed");
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
    app.stop().await;
}

async fn usage_events_and_logs_follow_roles(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Scoped").await;
    let project = app.project(&owner, &org, "Observed").await;
    let viewer = app.member(&org, &owner, "viewer").await;
    let outsider = app.signed_up_user().await;
    let (status, flow) = app
        .json(
            Method::POST,
            "/api/v1/automation/workflows/",
            Some(
                json!({"project_id": project, "name": "Logged", "enabled": true, "definition": {
                "trigger": {"type": "manual"}, "start": "done",
                "steps": [{"id": "done", "type": "noop"}]}}),
            ),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{flow}");
    let flow = flow["id"].as_str().expect("an id").to_string();
    let (status, started) = app
        .json(
            Method::POST,
            &format!("/api/v1/automation/workflows/{flow}/execute/"),
            Some(json!({"input": {}})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let execution = started["execution_id"].as_str().expect("an id").to_string();

    // The execution's end reaches the log.
    let logs = format!("/api/v1/insights/organizations/{org}/logs");
    let ended = eventually(Duration::from_secs(30), || async {
        let (_, page) = get(&app, &owner, &format!("{logs}?kind=execution")).await;
        page["items"]
            .as_array()?
            .iter()
            .any(|line| {
                line["target_id"] == execution.as_str()
                    && line["action"] == "workflow.execution_succeeded"
            })
            .then_some(())
    })
    .await;
    assert!(ended.is_some(), "the execution's end is logged");

    // The owner's log holds audit entries and executions, newest first.
    let (status, page) = get(&app, &owner, &format!("{logs}?limit=100")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let lines = page["items"].as_array().expect("items");
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert!(
        kinds.contains(&"audit") && kinds.contains(&"execution"),
        "{kinds:?}"
    );
    let times: Vec<&str> = lines.iter().filter_map(|l| l["at"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    // Page by page, the same lines.
    let mut paged = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..50 {
        let mut path = format!("{logs}?limit=2");
        if let Some(cursor) = &next {
            path.push_str(&format!("&next={cursor}"));
        }
        let (status, page) = get(&app, &owner, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        paged.extend(page["items"].as_array().expect("items").iter().cloned());
        next = page["next"].as_str().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    let ids = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l["id"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(ids(&paged), ids(lines), "pages of 2 give the same log");

    // A viewer sees the project's executions, no audit entry, and of the
    // usage and events only what belongs to projects.
    let (status, page) = get(&app, &viewer, &logs).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(items.iter().all(|l| l["kind"] == "execution"), "{page}");
    let counted = eventually(Duration::from_secs(30), || async {
        let (_, usage) = get(
            &app,
            &owner,
            &format!("/api/v1/insights/organizations/{org}/usage?metric=project.created"),
        )
        .await;
        (!usage["items"].as_array()?.is_empty()).then_some(())
    })
    .await;
    assert!(counted.is_some(), "the project's creation is counted");
    let (status, usage) = get(
        &app,
        &viewer,
        &format!("/api/v1/insights/organizations/{org}/usage"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let rows = usage["items"].as_array().expect("items");
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["project_id"] == project.as_str()),
        "{usage}"
    );
    let (status, events) = get(
        &app,
        &viewer,
        &format!("/api/v1/insights/organizations/{org}/events?limit=100"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    assert!(
        events["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["project_id"] == project.as_str()),
        "{events}"
    );
    let (_, all) = get(
        &app,
        &owner,
        &format!("/api/v1/insights/organizations/{org}/events?type=organization.created"),
    )
    .await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1), "{all}");

    // Another organization's member learns nothing; bad input changes nothing.
    for path in ["usage", "events", "logs"] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/v1/insights/organizations/{org}/{path}"),
                None,
                Some(&outsider.access),
            )
            .await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    for query in [
        "usage?granularity=week",
        "usage?from=2026-12-03T10:00:00Z&to=2026-12-02T10:00:00Z",
        "usage?granularity=hour&from=2020-01-01T00:00:00Z&to=2026-12-02T10:00:00Z",
        "events?from=yesterday",
        "events?next=bm90IGEgY3Vyc29y",
        "logs?kind=mail",
        "logs?next=bm90",
    ] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/v1/insights/organizations/{org}/{query}"),
                None,
                Some(&owner.access),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
    }
    app.stop().await;
}

crate::helpers::on_both_backends!(
    redelivered_and_reordered_events_count_once,
    usage_events_and_logs_follow_roles,
);
