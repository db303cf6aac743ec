//! Export and import end to end, on both backends: a project using every
//! field type, a relation, custom components and nested pages goes out as
//! a bundle and comes back as a new project whose export is the same
//! bundle but for its ids; a bundle of an unknown version or with a broken
//! reference is refused before anything is written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem};

const PROJECTS: &str = "/api/v1/studio/projects";

async fn post(app: &TestApp, user: &User, path: &str, body: Value) -> Value {
    let (status, value) = app
        .json(Method::POST, path, Some(body), Some(&user.access))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {value}");
    value
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

/// A project that uses everything a bundle holds.
async fn full_project(app: &TestApp, owner: &User, org: &str) -> String {
    let project = post(
        app,
        owner,
        PROJECTS,
        json!({"organization_id": org, "name": "Shop", "description": "Sells things", "slug": "shop"}),
    )
    .await;
    let at = |rest: &str| format!("{PROJECTS}/{}{rest}", id(&project));
    let customers = post(
        app,
        owner,
        &at("/add_table"),
        json!({"name": "Customers", "fields": [
            {"name": "email", "type": "email", "required": true, "unique": true}
        ]}),
    )
    .await;
    let orders = post(app, owner, &at("/add_table"), json!({
        "name": "Orders",
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 80, "pattern": "^[A-Z]"},
            {"name": "notes", "type": "long_text"},
            {"name": "quantity", "type": "integer", "min": 1, "default": 1, "indexed": true},
            {"name": "price", "type": "decimal", "min": 0},
            {"name": "paid", "type": "boolean", "default": false},
            {"name": "due", "type": "date"},
            {"name": "placed_at", "type": "datetime"},
            {"name": "contact", "type": "email"},
            {"name": "link", "type": "url"},
            {"name": "state", "type": "single_select", "choices": ["new", "sent"], "default": "new"},
            {"name": "tags", "type": "multi_select", "choices": ["gift", "rush"]},
            {"name": "extra", "type": "json"},
            {"name": "customer", "type": "relation", "relation": {"table_id": id(&customers)}},
            {"name": "invoice", "type": "file"}
        ]
    }))
    .await;
    let field = |table: &Value, name: &str| {
        table["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == name)
            .map(id)
            .expect("field")
    };
    let badge = post(
        app,
        owner,
        &at("/add_component"),
        json!({"title": "Badge", "props": [{"name": "label", "type": "string", "required": true}]}),
    )
    .await;
    let badge_kind = format!("custom:{}", id(&badge));
    let card = post(
        app,
        owner,
        &at("/add_component"),
        json!({
            "title": "Order card",
            "props": [
                {"name": "table", "type": "table", "required": true},
                {"name": "tone", "type": "choice", "choices": ["calm", "loud"]}
            ],
            "children": {"kind": "only", "components": [badge_kind, "field_value"]}
        }),
    )
    .await;
    let card_kind = format!("custom:{}", id(&card));
    post(app, owner, &at("/add_page"), json!({
        "name": "Orders",
        "path": "/orders",
        "tree": {"id": "root", "component": "page", "props": {"title": "Orders"}, "children": [
            {"id": "row", "component": "row", "children": [
                {"id": "left", "component": "column", "props": {"span": 8}, "children": [
                    {"id": "form", "component": "form", "props": {"table": id(&orders)}, "children": [
                        {"id": "title", "component": "input", "props": {"field": field(&orders, "title")}},
                        {"id": "qty", "component": "input", "props": {"field": field(&orders, "quantity")}}
                    ]}
                ]},
                {"id": "right", "component": "column", "props": {"span": 4}, "children": [
                    {"id": "card", "component": card_kind, "props": {"table": id(&orders), "tone": "calm"}, "children": [
                        {"id": "badge", "component": badge_kind, "props": {"label": "New"}},
                        {"id": "who", "component": "field_value", "props": {"field": field(&orders, "customer")}}
                    ]}
                ]}
            ]},
            {"id": "chart", "component": "chart", "props": {
                "table": id(&orders), "x": field(&orders, "due"), "y": field(&orders, "price")
            }}
        ]}
    }))
    .await;
    post(app, owner, &at("/add_page"), json!({
        "name": "Customers",
        "path": "/customers/all",
        "tree": {"id": "root", "component": "page", "children": [
            {"id": "list", "component": "list", "props": {"table": id(&customers)}, "children": [
                {"id": "mail", "component": "field_value", "props": {"field": field(&customers, "email")}}
            ]}
        ]}
    }))
    .await;
    id(&project)
}

/// Exports a project and downloads the bundle.
async fn export(app: &TestApp, user: &User, project: &str) -> Value {
    let export = post(
        app,
        user,
        &format!("{PROJECTS}/{project}/export"),
        json!(null),
    )
    .await;
    assert_eq!(export["format_version"], 1);
    let url = export["url"].as_str().expect("url");
    let response = app.client.get(url).send().await.expect("the download");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let bundle: Value = response.json().await.expect("a JSON bundle");
    assert_eq!(
        export["size"].as_u64(),
        Some(bundle.to_string().len() as u64)
    );
    bundle
}

/// The bundle's text with each id replaced by its place of first mention.
fn without_ids(bundle: &Value) -> String {
    let mut ids = Vec::new();
    for table in bundle["tables"].as_array().expect("tables") {
        ids.push(id(table));
        for field in table["fields"].as_array().expect("fields") {
            ids.push(id(field));
        }
    }
    for key in ["components", "pages"] {
        ids.extend(bundle[key].as_array().expect(key).iter().map(id));
    }
    let mut text = bundle.to_string();
    for (n, old) in ids.iter().enumerate() {
        text = text.replace(old.as_str(), &format!("ID{n}"));
    }
    text
}

async fn a_bundle_round_trips_with_every_id_new(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let project = full_project(&app, &owner, &org).await;
    let bundle = export(&app, &owner, &project).await;
    assert_eq!(bundle["format"], "nocode.studio.bundle");
    assert_eq!(bundle["tables"].as_array().map(Vec::len), Some(2));
    assert_eq!(bundle["components"].as_array().map(Vec::len), Some(2));
    assert_eq!(bundle["pages"].as_array().map(Vec::len), Some(2));

    let other = app.organization(&owner, "Second").await;
    let imported = post(
        &app,
        &owner,
        &format!("{PROJECTS}/import"),
        json!({"organization_id": other, "bundle": bundle}),
    )
    .await;
    assert_eq!(imported["organization_id"], other);
    assert_eq!(imported["slug"], "shop");
    assert_eq!(
        (
            imported["tables"].clone(),
            imported["components"].clone(),
            imported["pages"].clone()
        ),
        (json!(2), json!(2), json!(2))
    );
    let again = export(&app, &owner, &id(&imported)).await;
    assert_eq!(without_ids(&again), without_ids(&bundle));
    for old in [
        &bundle["tables"][0]["id"],
        &bundle["components"][0]["id"],
        &bundle["pages"][0]["id"],
    ] {
        let old = old.as_str().expect("an id");
        assert!(
            !again.to_string().contains(old),
            "{old} survived the import"
        );
    }
    // The imported project works like any other: its pages save.
    let page = again["pages"][0]["id"].as_str().expect("page");
    let (status, saved) = app
        .json(
            Method::PATCH,
            &format!("{PROJECTS}/{}/pages/{page}", id(&imported)),
            Some(json!({"tree": again["pages"][0]["tree"], "version": 1})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");

    // Into the same organization the slug is taken, unless another is given.
    let response = app
        .call(
            Method::POST,
            &format!("{PROJECTS}/import"),
            Some(json!({"organization_id": org, "bundle": bundle})),
            Some(&owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "slug_taken").await;
    let copy = post(
        &app,
        &owner,
        &format!("{PROJECTS}/import"),
        json!({"organization_id": org, "name": "Shop copy", "slug": null, "bundle": bundle}),
    )
    .await;
    assert_eq!(copy["name"], "Shop copy");
    assert_eq!(copy["slug"], Value::Null);

    // The format is published.
    let (status, schema) = app
        .json(Method::GET, "/api/v1/studio/bundle_schema", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(schema["$defs"]["BundleTable"].is_object(), "{schema}");
    app.stop().await;
}

async fn a_bad_bundle_is_refused_before_anything_is_written(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let project = full_project(&app, &owner, &org).await;
    let bundle = export(&app, &owner, &project).await;
    let target = app.organization(&owner, "Target").await;
    let import_path = format!("{PROJECTS}/import");
    let import = |bundle: Value| {
        app.json(
            Method::POST,
            &import_path,
            Some(json!({"organization_id": target, "bundle": bundle})),
            Some(&owner.access),
        )
    };
    let mut future = bundle.clone();
    future["format_version"] = json!(2);
    let (status, problem) = import(future).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "bundle.format_version");

    let mut broken = bundle.clone();
    broken["tables"][1]["fields"][12]["relation"]["table_id"] = json!("gone");
    broken["pages"][1]["tree"]["children"][0]["props"]["table"] = json!("gone");
    let (status, problem) = import(broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"bundle.tables[1].fields[12].relation.table_id"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"bundle.pages[1].tree.children[0].props.table"),
        "{fields:?}"
    );

    // Nothing came of either.
    let (_, list) = app
        .json(
            Method::GET,
            &format!("{PROJECTS}?organization={target}"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(list["items"], json!([]));

    // Only an editor of the organization imports; a stranger gets 404.
    let stranger = app.signed_up_user().await;
    let response = app
        .call(
            Method::POST,
            &format!("{PROJECTS}/import"),
            Some(json!({"organization_id": target, "bundle": bundle})),
            Some(&stranger.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let viewer = app.member(&target, &owner, "viewer").await;
    let response = app
        .call(
            Method::POST,
            &format!("{PROJECTS}/import"),
            Some(json!({"organization_id": target, "bundle": bundle})),
            Some(&viewer.access),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = app
        .call(
            Method::POST,
            &format!("{PROJECTS}/{project}/export"),
            None,
            Some(&stranger.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    app.stop().await;
}

crate::helpers::on_both_backends!(
    a_bundle_round_trips_with_every_id_new,
    a_bad_bundle_is_refused_before_anything_is_written,
);
