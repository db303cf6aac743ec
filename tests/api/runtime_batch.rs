//! Records batches end to end, on both backends: every operation applied
//! or none (a stale version, a value another record holds, a bad value
//! each refuse the whole batch and leave nothing behind), batches larger
//! than one transaction, and the recovery worker finishing a batch its
//! request left: forward once committed, back while pending.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::ports::table::{Key, Update};

use crate::helpers::{TestApp, User, assert_problem};

struct Table {
    owner: User,
    project: String,
    id: String,
}

impl Table {
    fn records(&self) -> String {
        format!(
            "/api/v1/runtime/projects/{}/tables/{}/records",
            self.project, self.id
        )
    }
}

async fn setup(app: &TestApp) -> Table {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let project = app.project(&owner, &org, "Batch").await;
    let table = app
        .add_table(
            &owner,
            &project,
            json!({"name": "People", "fields": [
                {"name": "email", "type": "email", "required": true, "unique": true},
                {"name": "n", "type": "integer", "indexed": true}
            ]}),
        )
        .await;
    Table {
        owner,
        project,
        id: table["id"].as_str().expect("id").to_string(),
    }
}

async fn create(app: &TestApp, t: &Table, email: &str) -> Value {
    let (status, record) = app
        .json(
            Method::POST,
            &t.records(),
            Some(json!({"email": email, "n": 1})),
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    record
}

async fn batch(app: &TestApp, t: &Table, operations: Value) -> reqwest::Response {
    app.call(
        Method::POST,
        &format!("{}/batch", t.records()),
        Some(json!({ "operations": operations })),
        Some(&t.owner.access),
    )
    .await
}

/// The table's records, as emails with their `n`, sorted.
async fn contents(app: &TestApp, t: &Table) -> Vec<(String, i64)> {
    let (_, page) = app
        .json(
            Method::GET,
            &format!("{}?limit=200", t.records()),
            None,
            Some(&t.owner.access),
        )
        .await;
    let mut rows: Vec<(String, i64)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["email"].as_str().unwrap_or_default().to_string(),
                r["n"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn a_batch_applies_every_operation_or_none(app: TestApp) {
    let t = setup(&app).await;
    let ada = create(&app, &t, "ada@example.com").await;
    let bob = create(&app, &t, "bob@example.com").await;
    let response = batch(
        &app,
        &t,
        json!([
            {"action": "create", "values": {"email": "cy@example.com", "n": 3}},
            {"action": "update", "id": ada["id"], "version": 1, "values": {"n": 5}},
            {"action": "delete", "id": bob["id"], "version": 1},
            {"action": "replace", "id": null, "values": {}}
        ]),
    )
    .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        problem["errors"][0]["field"], "operations[3].id",
        "{problem}"
    );
    let response = batch(
        &app,
        &t,
        json!([
            {"action": "create", "values": {"email": "cy@example.com", "n": 3}},
            {"action": "update", "id": ada["id"], "version": 1, "values": {"n": 5}},
            {"action": "delete", "id": bob["id"], "version": 1}
        ]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["items"][1]["record"]["version"], 2, "{answer}");
    assert!(answer["items"][2]["record"].is_null());
    let after = vec![
        ("ada@example.com".to_string(), 5),
        ("cy@example.com".to_string(), 3),
    ];
    assert_eq!(contents(&app, &t).await, after);
    // The index moved with the batch.
    let (_, found) = app
        .json(
            Method::GET,
            &format!("{}?filter=n%20%3D%205", t.records()),
            None,
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(found["items"][0]["email"], "ada@example.com");

    // A stale version anywhere refuses all of it; nothing stays locked.
    let response = batch(
        &app,
        &t,
        json!([
            {"action": "create", "values": {"email": "dee@example.com"}},
            {"action": "update", "id": ada["id"], "version": 1, "values": {"n": 9}}
        ]),
    )
    .await;
    assert_problem(response, StatusCode::PRECONDITION_FAILED, "stale_version").await;
    assert_eq!(contents(&app, &t).await, after);
    // A value another record holds, or two operations taking one value.
    for (operations, field) in [
        (
            json!([
                {"action": "create", "values": {"email": "eve@example.com"}},
                {"action": "update", "id": ada["id"], "values": {"email": "cy@example.com"}}
            ]),
            "operations[1].values.email",
        ),
        (
            json!([
                {"action": "create", "values": {"email": "fay@example.com"}},
                {"action": "create", "values": {"email": "fay@example.com"}}
            ]),
            "operations[1].values.email",
        ),
    ] {
        let response = batch(&app, &t, operations).await;
        let problem = assert_problem(response, StatusCode::CONFLICT, "unique_taken").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert_eq!(contents(&app, &t).await, after);
    }
    // What a refused batch claimed is free again, and its locks are gone.
    let (status, _) = app
        .json(
            Method::PATCH,
            &format!("{}/{}", t.records(), ada["id"].as_str().unwrap_or("")),
            Some(json!({"email": "eve@example.com", "version": 2})),
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // More operations than one transaction holds, still all at once.
    let many: Vec<Value> = (0..40)
        .map(|i| json!({"action": "create", "values": {"email": format!("u{i}@example.com"), "n": i}}))
        .collect();
    let response = batch(&app, &t, Value::Array(many)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(contents(&app, &t).await.len(), 42);
    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({"action": "create", "values": {"email": "x@example.com"}}))
        .collect();
    let response = batch(&app, &t, Value::Array(too_many)).await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

/// A batch its request left, as the table holds it after a crash: its
/// coordinator and the lock on its record. The worker, brought by the
/// batch's event, finishes it: forward once committed, back while pending.
async fn a_batch_left_by_its_request_is_finished_by_the_worker(app: TestApp) {
    let t = setup(&app).await;
    let store = app.services.table().expect("table");
    for (status, email, expect_n) in [
        ("committed", "fwd@example.com", 7),
        ("pending", "back@example.com", 1),
    ] {
        let record = create(&app, &t, email).await;
        let id = record["id"].as_str().expect("id").to_string();
        let key = Key::new(shared::runtime::partition(&t.id), format!("R#{id}"));
        let before = store.get(&key).await.expect("read").expect("a record");
        let mut after = before.clone();
        let data: Value =
            serde_json::from_str(before["data"].as_str().expect("data")).expect("json");
        let mut data = data.as_object().cloned().expect("an object");
        for value in data.values_mut() {
            if value.is_number() {
                *value = json!(7);
            }
        }
        after.insert("data".into(), json!(Value::Object(data).to_string()));
        after.insert("version".into(), json!(2));
        let batch_id = ulid::Ulid::generate().to_string();
        let coordinator = json!({
            "pk": shared::runtime::partition(&t.id), "sk": format!("B#{batch_id}"),
            "id": batch_id, "table_id": t.id, "project_id": t.project, "status": status,
            "started_at": 0, "by": before["created_by"],
            "steps": [{"action": "update", "id": id, "before": before, "after": after}],
        });
        store
            .put(coordinator.as_object().cloned().expect("an item"), None)
            .await
            .expect("coordinator");
        store
            .update(Update::of(key.clone()).set("batch", batch_id.clone()))
            .await
            .expect("locked");
        // A locked record refuses single writes.
        let (locked, _) = app
            .json(
                Method::PATCH,
                &format!("{}/{id}", t.records()),
                Some(json!({"n": 2})),
                Some(&t.owner.access),
            )
            .await;
        assert_eq!(locked, StatusCode::PRECONDITION_FAILED);
        let event = shared::ports::events::DomainEvent::new(
            "runtime",
            shared::runtime::batch::STARTED,
            json!({"table_id": t.id, "project_id": t.project, "batch_id": batch_id}),
        );
        app.services
            .events()
            .expect("bus")
            .publish(&[event])
            .await
            .expect("published");
        let done = nocode_tests::eventually(std::time::Duration::from_secs(30), || async {
            let record = store.get(&key).await.ok()??;
            let gone = store
                .get(&Key::new(
                    shared::runtime::partition(&t.id),
                    format!("B#{batch_id}"),
                ))
                .await
                .ok()?
                .is_none();
            (gone && record.get("batch").is_none()).then_some(record)
        })
        .await
        .expect("the worker finished the batch");
        let (_, shown) = app
            .json(
                Method::GET,
                &format!("{}/{id}", t.records()),
                None,
                Some(&t.owner.access),
            )
            .await;
        assert_eq!(shown["n"], expect_n, "{status}: {shown}");
        assert_eq!(done["version"], if status == "committed" { 2 } else { 1 });
    }
    app.stop().await;
}

crate::helpers::on_both_backends!(
    a_batch_applies_every_operation_or_none,
    a_batch_left_by_its_request_is_finished_by_the_worker,
);
