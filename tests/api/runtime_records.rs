//! The generated records API end to end, on both backends: values checked
//! against the table's schema (one problem naming every bad field), system
//! fields kept, relations checked, versions guarding writes, unique values
//! held atomically, and the schema's evolution seen through reads.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem};

struct Table {
    owner: User,
    project: String,
    id: String,
    fields: Vec<Value>,
}

impl Table {
    fn records(&self) -> String {
        format!(
            "/api/v1/runtime/projects/{}/tables/{}/records",
            self.project, self.id
        )
    }

    fn field(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["id"].as_str())
            .expect("a field")
            .to_string()
    }
}

async fn tables(app: &TestApp) -> (Table, Table) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let project = app.project(&owner, &org, "Shop").await;
    let add = |body: Value| {
        let (owner, project) = (owner.clone(), project.clone());
        async move { app.add_table(&owner, &project, body).await }
    };
    let customers = add(json!({"name": "Customers", "fields": [
        {"name": "email", "type": "email", "required": true, "unique": true},
        {"name": "name", "type": "text", "max": 40}
    ]}))
    .await;
    let orders = add(json!({"name": "Orders", "fields": [
        {"name": "title", "type": "text", "required": true},
        {"name": "qty", "type": "integer", "min": 1, "default": 1},
        {"name": "state", "type": "single_select", "choices": ["new", "sent"]},
        {"name": "customer", "type": "relation", "relation": {"table_id": customers["id"]}}
    ]}))
    .await;
    let table = |t: &Value| Table {
        owner: owner.clone(),
        project: project.clone(),
        id: t["id"].as_str().expect("id").to_string(),
        fields: t["fields"].as_array().expect("fields").clone(),
    };
    (table(&customers), table(&orders))
}

async fn post(app: &TestApp, t: &Table, body: Value) -> (StatusCode, Value) {
    app.json(
        Method::POST,
        &t.records(),
        Some(body),
        Some(&t.owner.access),
    )
    .await
}

fn fields_of(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_string))
        .collect();
    fields.sort();
    fields
}

async fn records_are_checked_created_read_changed_and_deleted(app: TestApp) {
    let (customers, orders) = tables(&app).await;
    let (status, ada) = post(
        &app,
        &customers,
        json!({"email": "ada@example.com", "name": "Ada"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    assert_eq!(ada["version"], 1);
    assert!(ada["created_at"].is_string() && ada["created_by"].is_string());
    let ada_id = ada["id"].as_str().expect("id");

    let (status, order) = post(&app, &orders, json!({"title": "Tea", "customer": ada_id})).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["qty"], 1, "the default applies");

    // One problem names every bad field; nothing is written.
    let (status, problem) = post(
        &app,
        &orders,
        json!({"qty": 0, "state": "lost", "customer": "nobody", "id": "mine", "extra": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        fields_of(&problem),
        ["extra", "id", "qty", "state", "title"]
    );
    let (status, problem) = post(
        &app,
        &orders,
        json!({"title": "Ghost", "customer": "01NOPE"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields_of(&problem), ["customer"]);
    let (_, list) = app
        .json(
            Method::GET,
            &orders.records(),
            None,
            Some(&orders.owner.access),
        )
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // Changes are guarded by the version.
    let path = format!("{}/{}", orders.records(), order["id"].as_str().expect("id"));
    let (status, changed) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"state": "sent", "version": 1})),
            Some(&orders.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (changed["version"].clone(), changed["title"].clone()),
        (json!(2), json!("Tea"))
    );
    let (status, stale) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"qty": 3, "version": 1})),
            Some(&orders.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale["current_version"], 2);
    let (status, replaced) = app
        .json(
            Method::PUT,
            &path,
            Some(json!({"title": "Coffee"})),
            Some(&orders.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["qty"], 1);
    assert!(replaced.get("state").is_none() && replaced.get("customer").is_none());
    let (status, read) = app
        .json(Method::GET, &path, None, Some(&orders.owner.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, replaced);

    // Another organization's user sees nothing.
    let stranger = app.signed_up_user().await;
    let (status, _) = app
        .json(Method::GET, &path, None, Some(&stranger.access))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let response = app
        .call(
            Method::DELETE,
            &format!("{path}?version=1"),
            None,
            Some(&orders.owner.access),
        )
        .await;
    assert_problem(response, StatusCode::PRECONDITION_FAILED, "stale_version").await;
    let response = app
        .call(Method::DELETE, &path, None, Some(&orders.owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = app
        .json(Method::GET, &path, None, Some(&orders.owner.access))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn a_unique_value_is_held_by_one_record_even_under_concurrency(app: TestApp) {
    let (customers, _) = tables(&app).await;
    let create = || post(&app, &customers, json!({"email": "same@example.com"}));
    let ((a, left), (b, right)) = tokio::join!(create(), create());
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{left} {right}"
    );
    let loser = if a == StatusCode::CONFLICT {
        left
    } else {
        right
    };
    assert_eq!(loser["code"], "unique_taken");
    assert_eq!(loser["errors"][0]["field"], "email");

    // Deleting the holder gives the value back; changing it frees the old one.
    let (_, list) = app
        .json(
            Method::GET,
            &customers.records(),
            None,
            Some(&customers.owner.access),
        )
        .await;
    let held = format!(
        "{}/{}",
        customers.records(),
        list["items"][0]["id"].as_str().expect("id")
    );
    let (status, _) = app
        .json(
            Method::PATCH,
            &held,
            Some(json!({"email": "new@example.com"})),
            Some(&customers.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = post(&app, &customers, json!({"email": "same@example.com"})).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    let (status, _) = post(&app, &customers, json!({"email": "new@example.com"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let response = app
        .call(Method::DELETE, &held, None, Some(&customers.owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = post(&app, &customers, json!({"email": "new@example.com"})).await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;
}

async fn reads_follow_the_schema_as_it_evolves(app: TestApp) {
    let (_, orders) = tables(&app).await;
    let (_, order) = post(
        &app,
        &orders,
        json!({"title": "Tea", "qty": 2, "state": "new"}),
    )
    .await;
    let record = format!("{}/{}", orders.records(), order["id"].as_str().expect("id"));
    let table = format!(
        "/api/v1/studio/projects/{}/tables/{}",
        orders.project, orders.id
    );
    let change = |changes: Value| {
        app.json(
            Method::PATCH,
            &table,
            Some(json!({"changes": changes})),
            Some(&orders.owner.access),
        )
    };
    // A rename keeps the data.
    let (status, _) = change(
        json!([{"op": "rename_field", "field_id": orders.field("title"), "name": "heading"}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, read) = app
        .json(Method::GET, &record, None, Some(&orders.owner.access))
        .await;
    assert_eq!(read["heading"], "Tea");
    assert!(read.get("title").is_none());

    // A forbidden type change is a 422 that changes nothing.
    let (status, problem) = change(
        json!([{"op": "change_field", "field_id": orders.field("qty"),
        "field": {"name": "qty", "type": "boolean"}}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (_, read) = app
        .json(Method::GET, &record, None, Some(&orders.owner.access))
        .await;
    assert_eq!(read["qty"], 2);

    // An allowed one converts on read; a removed field's data is gone.
    let (status, _) = change(json!([
        {"op": "change_field", "field_id": orders.field("state"),
         "field": {"name": "state", "type": "multi_select", "choices": ["new", "sent"]}},
        {"op": "remove_field", "field_id": orders.field("qty")}
    ]))
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, read) = app
        .json(Method::GET, &record, None, Some(&orders.owner.access))
        .await;
    assert_eq!(read["state"], json!(["new"]));
    assert!(read.get("qty").is_none(), "{read}");
    let (_, list) = app
        .json(
            Method::GET,
            &orders.records(),
            None,
            Some(&orders.owner.access),
        )
        .await;
    assert!(list["items"][0].get("qty").is_none());
    app.stop().await;
}

async fn a_deleted_tables_records_are_cleared_after_it(app: TestApp) {
    let (customers, orders) = tables(&app).await;
    let (status, _) = post(&app, &orders, json!({"title": "Tea"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post(&app, &customers, json!({"email": "kept@example.com"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let response = app
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/studio/projects/{}/tables/{}",
                orders.project, orders.id
            ),
            None,
            Some(&orders.owner.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let store = app.services.table().expect("table");
    let left = |table: String| {
        let query = shared::ports::table::Query::partition(shared::runtime::partition(&table));
        async move { store.query(&query).await.map(|p| p.items.len()).ok() }
    };
    let cleared = nocode_tests::eventually(std::time::Duration::from_secs(20), || async {
        (left(orders.id.clone()).await? == 0).then_some(())
    })
    .await;
    assert!(
        cleared.is_some(),
        "the deleted table's records were cleared"
    );
    // A deleted project takes its tables' records, unique values included.
    let response = app
        .call(
            Method::DELETE,
            &format!("/api/v1/studio/projects/{}", customers.project),
            None,
            Some(&customers.owner.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = nocode_tests::eventually(std::time::Duration::from_secs(20), || async {
        (left(customers.id.clone()).await? == 0).then_some(())
    })
    .await;
    assert!(
        cleared.is_some(),
        "the deleted project's records were cleared"
    );
    app.stop().await;
}

crate::helpers::on_both_backends!(
    a_deleted_tables_records_are_cleared_after_it,
    records_are_checked_created_read_changed_and_deleted,
    a_unique_value_is_held_by_one_record_even_under_concurrency,
    reads_follow_the_schema_as_it_evolves,
);
