//! Request metrics end to end: requests through the gateway are counted
//! per route and hour, read back from the metrics route with percentiles,
//! scoped by role; the local live view streams the last seconds.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, User, assert_problem};

const PROJECT_ROUTE: &str = "GET /api/v1/studio/projects/{id}";
const ORGANIZATION_ROUTE: &str = "GET /api/v1/foundation/organizations/{id}";

async fn metrics(app: &TestApp, org: &str, user: &User, query: &str) -> (StatusCode, Value) {
    app.json(
        Method::GET,
        &format!("/api/v1/insights/organizations/{org}/metrics/?{query}"),
        None,
        Some(&user.access),
    )
    .await
}

/// The requests of `route` over every row, with each row's percentiles
/// checked to be in order.
fn requests_of(body: &Value, route: &str) -> u64 {
    body["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| row["route"] == route)
        .map(|row| {
            let (p50, p95, p99) = (&row["p50_ms"], &row["p95_ms"], &row["p99_ms"]);
            let (p50, p95, p99) = (
                p50.as_f64().expect("p50"),
                p95.as_f64().expect("p95"),
                p99.as_f64().expect("p99"),
            );
            assert!(0.0 < p50 && p50 <= p95 && p95 <= p99, "{row}");
            row["requests"].as_u64().expect("requests")
        })
        .sum()
}

async fn requests_are_counted_per_route_and_scoped_by_role(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Metrics").await;
    let (one, two) = (
        app.project(&owner, &org, "One").await,
        app.project(&owner, &org, "Two").await,
    );
    let viewer = app.member(&org, &owner, "viewer").await;
    for (project, times) in [(&one, 3), (&two, 2)] {
        for _ in 0..times {
            let (status, body) = app
                .json(
                    Method::GET,
                    &format!("/api/v1/studio/projects/{project}"),
                    None,
                    Some(&owner.access),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/api/v1/foundation/organizations/{org}"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.flush_metrics().await;

    // Admins and owners: the whole organization.
    let (status, body) = metrics(&app, &org, &owner, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["granularity"], "hour");
    assert_eq!(requests_of(&body, PROJECT_ROUTE), 5, "{body}");
    assert_eq!(requests_of(&body, ORGANIZATION_ROUTE), 1, "{body}");
    let row = body["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["route"] == PROJECT_ROUTE))
        .expect("a row of the project route");
    assert_eq!(row["server_errors"], 0);
    assert_eq!(row["error_rate"], 0.0);
    assert_eq!(row["period"].as_str().map(str::len), Some(13), "{row}");

    // One route, by day.
    let query = "granularity=day&route=GET%20%2Fapi%2Fv1%2Fstudio%2Fprojects%2F%7Bid%7D";
    let (status, body) = metrics(&app, &org, &owner, query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = body["rows"].as_array().cloned().unwrap_or_default();
    assert!(rows.iter().all(|r| r["route"] == PROJECT_ROUTE), "{body}");
    assert!(
        rows.iter()
            .all(|r| r["period"].as_str().map(str::len) == Some(10))
    );
    assert_eq!(requests_of(&body, PROJECT_ROUTE), 5);

    // Editors and viewers: the projects' rows, not the organization's own.
    let (status, body) = metrics(&app, &org, &viewer, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(requests_of(&body, PROJECT_ROUTE), 5, "{body}");
    assert_eq!(requests_of(&body, ORGANIZATION_ROUTE), 0, "{body}");

    // Another organization's member sees nothing of this one, and this
    // organization's viewer nothing of theirs.
    let stranger = app.signed_up_user().await;
    let other = app.organization(&stranger, "Elsewhere").await;
    let response = app
        .call(
            Method::GET,
            &format!("/api/v1/insights/organizations/{org}/metrics"),
            None,
            Some(&stranger.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let (status, _) = metrics(&app, &other, &viewer, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = metrics(&app, &other, &stranger, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(requests_of(&body, PROJECT_ROUTE), 0, "{body}");

    // Bad windows and granularities name their field.
    for (query, field) in [
        ("from=2026-12-03T10:00:00Z&to=2026-12-03T09:00:00Z", "from"),
        ("from=2026-12-03T10:00:00Z&to=2026-12-03T10:00:00Z", "from"),
        ("from=2026-10-01T00:00:00Z&to=2026-12-03T00:00:00Z", "from"),
        ("from=yesterday", "from"),
        ("granularity=week", "granularity"),
    ] {
        let (status, body) = metrics(&app, &org, &owner, query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    app.stop().await;
}

crate::helpers::on_both_backends!(requests_are_counted_per_route_and_scoped_by_role);

/// The first event of an SSE response: its `event` and its `data`.
async fn first_event(mut response: reqwest::Response) -> (String, Value) {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within seconds")
            .expect("the stream")
            .expect("more of the stream");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let event = text.split("\n\n").next().unwrap_or_default();
    let field = |name: &str| {
        event
            .lines()
            .filter_map(|line| line.strip_prefix(name))
            .map(|value| value.trim_start().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let data = serde_json::from_str(&field("data:")).expect("JSON data");
    (field("event:"), data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_streams_each_routes_last_seconds_to_signed_in_callers() {
    let app = TestApp::embedded().await;
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Live").await;
    for _ in 0..4 {
        let path = format!("/api/v1/foundation/organizations/{org}");
        let (status, _) = app
            .json(Method::GET, &path, None, Some(&owner.access))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let response = app
        .call(Method::GET, "/api/v1/insights/live/", None, None)
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app
        .call(
            Method::GET,
            "/api/v1/insights/live/",
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let (event, data) = first_event(response).await;
    assert_eq!(event, "metrics");
    assert_eq!(data["window_secs"], 10);
    let routes = data["routes"].as_array().cloned().unwrap_or_default();
    let route = routes
        .iter()
        .find(|r| r["route"] == ORGANIZATION_ROUTE)
        .unwrap_or_else(|| panic!("the organization route in {data}"));
    assert!((route["requests_per_second"].as_f64().expect("a rate") - 0.4).abs() < 1e-9);
    assert_eq!(route["error_rate"], 0.0);
    let p50 = route["p50_ms"].as_f64().expect("p50");
    let p99 = route["p99_ms"].as_f64().expect("p99");
    assert!(0.0 < p50 && p50 <= p99, "{route}");
    // The live view is no route of the contract.
    let (_, document) = app.json(Method::GET, "/api/openapi.json", None, None).await;
    assert!(document["paths"].get("/api/v1/insights/live").is_none());
    app.stop().await;
}
