//! Studio data tables end to end, on both backends: every field type, the
//! options each type takes, schema changes (add, rename, remove, type
//! changes where values convert), the limits with their own codes, and the
//! refusals that change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem};

struct Project {
    owner: User,
    org: String,
    id: String,
}

async fn project(app: &TestApp) -> Project {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let (status, project) = app
        .json(
            Method::POST,
            "/api/v1/studio/projects",
            Some(json!({"organization_id": org, "name": "Shop"})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    Project {
        id: project["id"].as_str().expect("id").to_string(),
        owner,
        org,
    }
}

impl Project {
    fn tables(&self) -> String {
        format!("/api/v1/studio/projects/{}/tables", self.id)
    }

    fn add(&self) -> String {
        format!("/api/v1/studio/projects/{}/add_table", self.id)
    }
}

async fn add_table(app: &TestApp, p: &Project, body: Value) -> Value {
    let (status, table) = app
        .json(Method::POST, &p.add(), Some(body), Some(&p.owner.access))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{table}");
    table
}

fn field_errors(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_string))
        .collect()
}

async fn a_table_holds_every_field_type_with_its_options(app: TestApp) {
    let p = project(&app).await;
    let customers = add_table(
        &app,
        &p,
        json!({"name": "Customers", "fields": [
            {"name": "email", "type": "email", "required": true, "unique": true}
        ]}),
    )
    .await;
    let customers_id = customers["id"].as_str().expect("id");
    let table = add_table(&app, &p, json!({
        "name": "Orders",
        "description": "What people bought",
        "fields": [
            {"name": "title", "type": "text", "required": true, "min": 1, "max": 80, "pattern": "^[A-Z]"},
            {"name": "notes", "type": "long_text"},
            {"name": "quantity", "type": "integer", "min": 1, "default": 1, "indexed": true},
            {"name": "price", "type": "decimal", "min": 0},
            {"name": "paid", "type": "boolean", "default": false},
            {"name": "due", "type": "date", "default": "2026-12-24"},
            {"name": "placed_at", "type": "datetime"},
            {"name": "contact", "type": "email"},
            {"name": "link", "type": "url"},
            {"name": "state", "type": "single_select", "choices": ["new", "sent"], "default": "new"},
            {"name": "tags", "type": "multi_select", "choices": ["gift", "rush"]},
            {"name": "extra", "type": "json", "default": {"a": [1, 2]}},
            {"name": "customer", "type": "relation", "relation": {"table_id": customers_id}},
            {"name": "invoice", "type": "file"}
        ]
    }))
    .await;
    let fields = table["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 14);
    assert!(
        fields
            .iter()
            .all(|f| f["id"].as_str().is_some_and(|id| id.starts_with("fld_")))
    );
    assert_eq!(fields[2]["default"], 1);
    assert_eq!(fields[12]["relation"]["table_id"], customers_id);
    assert_eq!(table["schema_version"], 1);
    let system: Vec<&str> = table["system_fields"]
        .as_array()
        .expect("system fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(system, ["id", "created_at", "updated_at", "created_by"]);

    let path = format!("{}/{}", p.tables(), table["id"].as_str().expect("id"));
    let (status, read) = app
        .json(Method::GET, &path, None, Some(&p.owner.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, table);
    let (_, list) = app
        .json(Method::GET, &p.tables(), None, Some(&p.owner.access))
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    let (_, project) = app
        .json(
            Method::GET,
            &format!("/api/v1/studio/projects/{}", p.id),
            None,
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(project["tables"], 2);
    app.stop().await;
}

async fn bad_fields_are_a_422_with_each_path_and_change_nothing(app: TestApp) {
    let p = project(&app).await;
    let response = app
        .call(
            Method::POST,
            &p.add(),
            Some(json!({"name": "Bad", "fields": [
                {"name": "ok", "type": "text"},
                {"name": "id", "type": "text"},
                {"name": "n", "type": "integer", "min": 5, "max": 1},
                {"name": "s", "type": "single_select"},
                {"name": "r", "type": "relation", "relation": {"table_id": "01NOSUCHTABLE"}},
                {"name": "p", "type": "text", "pattern": "("},
                {"name": "j", "type": "json", "unique": true}
            ]})),
            Some(&p.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        [
            "fields[1].name",
            "fields[2].max",
            "fields[3].choices",
            "fields[5].pattern",
            "fields[6].unique"
        ]
    );
    // The relation's table is checked once the fields themselves hold.
    let response = app
        .call(
            Method::POST,
            &p.add(),
            Some(json!({"name": "Bad", "fields": [
                {"name": "r", "type": "relation", "relation": {"table_id": "01NOSUCHTABLE"}}
            ]})),
            Some(&p.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&problem), ["fields[0].relation.table_id"]);

    // Limits have their own codes.
    let many: Vec<Value> = (0..=100)
        .map(|i| json!({"name": format!("f{i}"), "type": "text"}))
        .collect();
    let response = app
        .call(
            Method::POST,
            &p.add(),
            Some(json!({"name": "Wide", "fields": many})),
            Some(&p.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_fields",
    )
    .await;
    assert_eq!(field_errors(&problem), ["fields"]);
    let keyed: Vec<Value> = (0..=10)
        .map(|i| json!({"name": format!("k{i}"), "type": "text", "indexed": true}))
        .collect();
    let response = app
        .call(
            Method::POST,
            &p.add(),
            Some(json!({"name": "Keyed", "fields": keyed})),
            Some(&p.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_keyed_fields",
    )
    .await;
    assert_eq!(field_errors(&problem), ["fields"]);

    add_table(&app, &p, json!({"name": "Things", "fields": []})).await;
    let response = app
        .call(
            Method::POST,
            &p.add(),
            Some(json!({"name": "THINGS", "fields": []})),
            Some(&p.owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "table_name_taken").await;
    let (_, list) = app
        .json(Method::GET, &p.tables(), None, Some(&p.owner.access))
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

async fn a_schema_evolves_and_a_forbidden_change_changes_nothing(app: TestApp) {
    let p = project(&app).await;
    let table = add_table(
        &app,
        &p,
        json!({"name": "Notes", "fields": [
            {"name": "title", "type": "text"},
            {"name": "count", "type": "integer"},
            {"name": "old", "type": "boolean"}
        ]}),
    )
    .await;
    let path = format!("{}/{}", p.tables(), table["id"].as_str().expect("id"));
    let id_of = |t: &Value, name: &str| {
        t["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["id"].clone())
            .expect("a field")
    };
    let (title, count, old) = (
        id_of(&table, "title"),
        id_of(&table, "count"),
        id_of(&table, "old"),
    );
    let (status, changed) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"version": 1, "changes": [
                {"op": "rename_field", "field_id": title, "name": "heading"},
                {"op": "change_field", "field_id": count, "field": {"name": "count", "type": "decimal", "min": 0}},
                {"op": "remove_field", "field_id": old},
                {"op": "add_field", "field": {"name": "body", "type": "long_text"}}
            ]})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(id_of(&changed, "heading"), title, "a rename keeps the id");
    assert_eq!(changed["fields"][1]["type"], "decimal");
    assert_eq!(changed["fields"][1]["id"], count);
    assert!(changed["fields"].as_array().expect("fields").len() == 3);
    assert_eq!(changed["schema_version"], 2);
    assert_eq!(changed["version"], 2);

    // Decimal values do not all read as integers: 422, nothing changes.
    let response = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Renamed too", "changes": [
                {"op": "change_field", "field_id": count, "field": {"name": "count", "type": "integer"}}
            ]})),
            Some(&p.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&problem), ["changes[0].field.type"]);
    let (_, read) = app
        .json(Method::GET, &path, None, Some(&p.owner.access))
        .await;
    assert_eq!(read, changed);

    let response = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Late", "version": 1})),
            Some(&p.owner.access),
        )
        .await;
    assert_problem(response, StatusCode::PRECONDITION_FAILED, "stale_version").await;
    // A rename alone does not move the schema version.
    let (_, renamed) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"name": "Journal"})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(renamed["schema_version"], 2);
    assert_eq!(renamed["name"], "Journal");
    app.stop().await;
}

async fn a_table_others_relate_to_is_kept_and_archived_projects_do_not_change(app: TestApp) {
    let p = project(&app).await;
    let people = add_table(&app, &p, json!({"name": "People", "fields": []})).await;
    let people_id = people["id"].as_str().expect("id").to_string();
    let pets = add_table(&app, &p, json!({"name": "Pets", "fields": [
        {"name": "owner", "type": "relation", "relation": {"table_id": people_id, "many": false}}
    ]}))
    .await;
    let people_path = format!("{}/{people_id}", p.tables());
    let response = app
        .call(Method::DELETE, &people_path, None, Some(&p.owner.access))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "table_referenced").await;
    let pets_path = format!("{}/{}", p.tables(), pets["id"].as_str().expect("id"));
    let response = app
        .call(Method::DELETE, &pets_path, None, Some(&p.owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .call(Method::DELETE, &people_path, None, Some(&p.owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // Its name is free again.
    add_table(&app, &p, json!({"name": "People", "fields": []})).await;

    app.json(
        Method::POST,
        &format!("/api/v1/studio/projects/{}/archive", p.id),
        None,
        Some(&p.owner.access),
    )
    .await;
    let response = app
        .call(
            Method::POST,
            &p.add(),
            Some(json!({"name": "Later", "fields": []})),
            Some(&p.owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "project_archived").await;

    // Another tenant sees none of it.
    let stranger = app.signed_up_user().await;
    app.organization(&stranger, "Elsewhere").await;
    let response = app
        .call(Method::GET, &p.tables(), None, Some(&stranger.access))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let audit = app.audit(&p.org, &p.owner, "target_type=table").await;
    assert_eq!(audit.len(), 5, "{audit:?}");
    app.stop().await;
}

async fn the_component_library_states_each_components_props_and_children(app: TestApp) {
    let user = app.signed_up_user().await;
    let (status, library) = app
        .json(
            Method::GET,
            "/api/v1/studio/components/",
            None,
            Some(&user.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{library}");
    let items = library["items"].as_array().expect("items");
    let find = |kind: &str| {
        items
            .iter()
            .find(|c| c["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
            .clone()
    };
    for kind in [
        "text",
        "heading",
        "image",
        "button",
        "link",
        "container",
        "row",
        "column",
        "form",
        "input",
        "table",
        "list",
        "chart",
    ] {
        let component = find(kind);
        assert_eq!(component["props_schema"]["type"], "object", "{kind}");
    }
    let form = find("form");
    assert_eq!(form["props_schema"]["required"], json!(["table"]));
    assert_eq!(form["children"]["kind"], "only");
    assert_eq!(find("text")["children"]["kind"], "none");
    let response = app
        .call(Method::GET, "/api/v1/studio/components", None, None)
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    app.stop().await;
}

crate::helpers::on_both_backends!(
    the_component_library_states_each_components_props_and_children,
    a_table_holds_every_field_type_with_its_options,
    bad_fields_are_a_422_with_each_path_and_change_nothing,
    a_schema_evolves_and_a_forbidden_change_changes_nothing,
    a_table_others_relate_to_is_kept_and_archived_projects_do_not_change,
);
