//! App API keys end to end, on both backends: a key opens its app's
//! project's records within its scopes and tables, is refused everywhere
//! else, is shown once and listed by prefix, fails at once when revoked
//! or expired, and is held to its rate.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, with_key};
use crate::runtime_apps::{new_app, world};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

fn records(project: &str, table: &str) -> String {
    format!("/api/v1/runtime/projects/{project}/tables/{table}/records")
}

async fn key_call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    key: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.url))
        .header("x-api-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the gateway answers")
}

async fn a_read_key_reads_its_table_and_nothing_more(app: TestApp) {
    let w = world(&app).await;
    let orders = app
        .add_table(
            &w.owner,
            &w.project,
            json!({"name": "Orders", "fields": [{"name": "total", "type": "integer"}]}),
        )
        .await;
    let notes = app
        .add_table(
            &w.owner,
            &w.project,
            json!({"name": "Notes", "fields": [{"name": "text", "type": "text"}]}),
        )
        .await;
    let elsewhere = app.project(&w.owner, &w.org, "Other").await;
    let other = app
        .add_table(
            &w.owner,
            &elsewhere,
            json!({"name": "Secrets", "fields": [{"name": "text", "type": "text"}]}),
        )
        .await;
    let (status, order) = app
        .json(
            Method::POST,
            &records(&w.project, &id(&orders)),
            Some(json!({"total": 42})),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let app_id = id(&new_app(&app, &w).await);
    let keys = format!("/api/v1/runtime/apps/{app_id}/keys");
    let (status, made) = app
        .json(
            Method::POST,
            &keys,
            Some(
                json!({"name": "Storefront", "scopes": ["records:read"], "tables": [id(&orders)]}),
            ),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().expect("the key, once").to_string();
    assert!(key.starts_with("nck_"));
    assert!(key.starts_with(made["prefix"].as_str().expect("a prefix")));

    // It reads its table: the list and one record.
    let (status, list) = with_key(
        &app,
        Method::GET,
        &records(&w.project, &id(&orders)),
        None,
        &key,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["total"], 42);
    let one = format!("{}/{}", records(&w.project, &id(&orders)), id(&order));
    let (status, _) = with_key(&app, Method::GET, &one, None, &key).await;
    assert_eq!(status, StatusCode::OK);
    // It writes nothing: 403.
    let response = key_call(
        &app,
        Method::POST,
        &records(&w.project, &id(&orders)),
        Some(json!({"total": 1})),
        &key,
    )
    .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    // Another table of its project: 403; another project's table: 404.
    let response = key_call(
        &app,
        Method::GET,
        &records(&w.project, &id(&notes)),
        None,
        &key,
    )
    .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = key_call(
        &app,
        Method::GET,
        &records(&elsewhere, &id(&other)),
        None,
        &key,
    )
    .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    // A platform route refuses a key, even beside a valid token.
    let response = key_call(&app, Method::GET, "/api/v1/studio/projects", None, &key).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .get(format!("{}/api/v1/foundation/organizations/", app.url))
        .bearer_auth(&w.owner.access)
        .header("x-api-key", &key)
        .send()
        .await
        .expect("answers");
    assert_problem(response, StatusCode::UNAUTHORIZED, "api_key_not_accepted").await;
    // A key that is no key.
    let response = key_call(
        &app,
        Method::GET,
        &records(&w.project, &id(&orders)),
        None,
        &format!("nck_{}", "A".repeat(43)),
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;

    // Listed by prefix, never with its secret.
    let (status, listed) = app
        .json(Method::GET, &keys, None, Some(&w.owner.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = listed.to_string();
    assert!(!text.contains(&key), "a key is shown once");
    assert_eq!(listed["items"][0]["prefix"], made["prefix"]);
    assert_eq!(listed["items"][0]["scopes"], json!(["records:read"]));

    // Revoked: refused at once.
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("{keys}/{}", id(&made)),
            None,
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = key_call(
        &app,
        Method::GET,
        &records(&w.project, &id(&orders)),
        None,
        &key,
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    let (_, listed) = app
        .json(Method::GET, &keys, None, Some(&w.owner.access))
        .await;
    assert!(listed["items"][0]["revoked_at"].is_string());
    app.stop().await;
}

async fn a_write_key_writes_as_itself_within_its_rate(app: TestApp) {
    let w = world(&app).await;
    let orders = app
        .add_table(
            &w.owner,
            &w.project,
            json!({"name": "Orders", "fields": [{"name": "total", "type": "integer"}]}),
        )
        .await;
    let app_id = id(&new_app(&app, &w).await);
    let keys = format!("/api/v1/runtime/apps/{app_id}/keys");
    let (status, made) = app
        .json(
            Method::POST,
            &keys,
            Some(json!({"name": "Till", "scopes": ["records:read", "records:write"], "rate_limit": 3})),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().expect("a key").to_string();
    let path = records(&w.project, &id(&orders));
    let (status, record) =
        with_key(&app, Method::POST, &path, Some(json!({"total": 5})), &key).await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    assert_eq!(record["created_by"], format!("apikey:{}", id(&made)));
    // Its changes are audited under the key.
    let entries = app.audit(&w.org, &w.owner, "action=record.created").await;
    assert_eq!(entries[0]["actor"], format!("apikey:{}", id(&made)));
    // Three a minute: the fourth waits.
    for _ in 0..2 {
        let (status, _) = with_key(&app, Method::GET, &path, None, &key).await;
        assert_eq!(status, StatusCode::OK);
    }
    let response = key_call(&app, Method::GET, &path, None, &key).await;
    let wait: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "throttled").await;
    app.stop().await;
}

async fn keys_are_checked_when_made_and_expire(app: TestApp) {
    let w = world(&app).await;
    let app_id = id(&new_app(&app, &w).await);
    let keys = format!("/api/v1/runtime/apps/{app_id}/keys");
    for (body, field) in [
        (json!({"name": "k", "scopes": []}), "scopes"),
        (
            json!({"name": "k", "scopes": ["records:read", "records:read"]}),
            "scopes",
        ),
        (
            json!({"name": "k", "scopes": ["records:read"], "tables": ["nope"]}),
            "tables[0]",
        ),
        (
            json!({"name": "k", "scopes": ["records:read"], "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"name": "k", "scopes": ["records:read"], "rate_limit": 0}),
            "rate_limit",
        ),
    ] {
        let response = app
            .call(
                Method::POST,
                &keys,
                Some(body.clone()),
                Some(&w.owner.access),
            )
            .await;
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    // An editor makes no key.
    let editor = app.member(&w.org, &w.owner, "editor").await;
    let response = app
        .call(
            Method::POST,
            &keys,
            Some(json!({"name": "k", "scopes": ["records:read"]})),
            Some(&editor.access),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    // A key past its expiry fails.
    let table = app
        .add_table(&w.owner, &w.project, json!({"name": "T", "fields": []}))
        .await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (status, made) = app
        .json(
            Method::POST,
            &keys,
            Some(json!({"name": "Brief", "scopes": ["records:read"], "expires_at": soon})),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().expect("a key").to_string();
    let path = records(&w.project, &id(&table));
    let (status, _) = with_key(&app, Method::GET, &path, None, &key).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let response = key_call(&app, Method::GET, &path, None, &key).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    app.stop().await;
}

crate::helpers::on_both_backends!(
    a_read_key_reads_its_table_and_nothing_more,
    a_write_key_writes_as_itself_within_its_rate,
    keys_are_checked_when_made_and_expire,
);
