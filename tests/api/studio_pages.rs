//! Studio custom components and pages end to end, on both backends: a
//! page's tree checked against the project's library and tables with the
//! JSON path of a bad node, saves guarded by the version (a 412 names the
//! current one), the autosave history with restore, large trees kept in
//! blobs, the size limit, concurrent saves, and deletes that clean up.

use std::time::Duration;

use nocode_tests::eventually;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem};

struct Project {
    owner: User,
    org: String,
    id: String,
}

impl Project {
    fn at(&self, rest: &str) -> String {
        format!("/api/v1/studio/projects/{}{rest}", self.id)
    }
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

async fn post(app: &TestApp, p: &Project, path: &str, body: Value) -> Value {
    let (status, value) = app
        .json(Method::POST, &p.at(path), Some(body), Some(&p.owner.access))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {value}");
    value
}

async fn get(app: &TestApp, p: &Project, path: &str) -> (StatusCode, Value) {
    app.json(Method::GET, &p.at(path), None, Some(&p.owner.access))
        .await
}

async fn patch(app: &TestApp, p: &Project, path: &str, body: Value) -> (StatusCode, Value) {
    app.json(
        Method::PATCH,
        &p.at(path),
        Some(body),
        Some(&p.owner.access),
    )
    .await
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

fn paths(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_string))
        .collect()
}

/// A table of customers, and its `name` field's id.
async fn customers(app: &TestApp, p: &Project) -> (String, String) {
    let table = post(
        app,
        p,
        "/add_table",
        json!({"name": "Customers", "fields": [{"name": "name", "type": "text"}]}),
    )
    .await;
    let field = table["fields"][0]["id"]
        .as_str()
        .expect("field")
        .to_string();
    (id(&table), field)
}

fn tree(children: Value) -> Value {
    json!({"id": "root", "component": "page", "props": {"title": "Home"}, "children": children})
}

async fn custom_components_join_the_projects_library(app: TestApp) {
    let p = project(&app).await;
    let card = post(
        &app,
        &p,
        "/add_component",
        json!({
            "title": "Customer card",
            "description": "One customer, framed",
            "props": [
                {"name": "table", "type": "table", "required": true},
                {"name": "tone", "type": "choice", "choices": ["calm", "loud"]},
                {"name": "caption", "type": "string", "max": 80}
            ],
            "children": {"kind": "only", "components": ["field_value", "text"]}
        }),
    )
    .await;
    let kind = format!("custom:{}", id(&card));
    assert_eq!(card["kind"], kind);
    assert_eq!(card["version"], 1);
    assert_eq!(card["props_schema"]["required"], json!(["table"]));
    assert_eq!(
        card["props_schema"]["properties"]["caption"]["maxLength"],
        json!(80.0)
    );

    let (status, library) = get(&app, &p, "/library").await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = library["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"page"));
    assert_eq!(kinds.last(), Some(&kind.as_str()));
    let (_, list) = get(&app, &p, "/components").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (_, project) = get(&app, &p, "").await;
    assert_eq!(project["components"], 1);

    // Bad props name their path; nothing is made.
    let (status, problem) = app
        .json(
            Method::POST,
            &p.at("/add_component"),
            Some(json!({"title": "Bad", "props": [
                {"name": "x", "type": "choice"},
                {"name": "x", "type": "integer", "min": 9, "max": 1}
            ]})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        paths(&problem),
        ["props[0].choices", "props[1].name", "props[1].max"]
    );

    // A stale version is a 412 naming the current one.
    let path = format!("/components/{}", id(&card));
    let (status, changed) = patch(&app, &p, &path, json!({"title": "Card", "version": 1})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["version"], 2);
    let (status, problem) = patch(&app, &p, &path, json!({"title": "Again", "version": 1})).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{problem}");
    assert_eq!(problem["code"], "stale_version");
    assert_eq!(problem["current_version"], 2);

    // A page that uses it keeps it.
    let (table, _) = customers(&app, &p).await;
    let page = post(
        &app,
        &p,
        "/add_page",
        json!({"name": "Home", "path": "/", "tree": tree(json!([
            {"id": "c", "component": kind, "props": {"table": table, "tone": "calm"}}
        ]))}),
    )
    .await;
    assert_eq!(page["uses"], json!([kind]));
    let response = app
        .call(Method::DELETE, &p.at(&path), None, Some(&p.owner.access))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "component_in_use").await;
    let (status, _) = patch(
        &app,
        &p,
        &format!("/pages/{}", id(&page)),
        json!({"tree": tree(json!([]))}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .call(Method::DELETE, &p.at(&path), None, Some(&p.owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&app, &p, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another organization's user sees none of it.
    let stranger = app.signed_up_user().await;
    let (status, _) = app
        .json(Method::GET, &p.at("/library"), None, Some(&stranger.access))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = app.audit(&p.org, &p.owner, "target_type=component").await;
    assert_eq!(audit.len(), 3, "{audit:?}");
    app.stop().await;
}

async fn a_page_is_checked_saved_with_history_and_restored(app: TestApp) {
    let p = project(&app).await;
    let (table, field) = customers(&app, &p).await;
    let form = json!([{"id": "form", "component": "form", "props": {"table": table}, "children": [
        {"id": "name", "component": "input", "props": {"field": field, "label": "Name"}}
    ]}]);
    let page = post(
        &app,
        &p,
        "/add_page",
        json!({"name": "Customers", "path": "/customers", "tree": tree(form.clone())}),
    )
    .await;
    assert_eq!(page["version"], 1);
    assert_eq!(page["tree"]["children"][0]["id"], "form");
    let path = format!("/pages/{}", id(&page));
    let (status, read) = get(&app, &p, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, page);

    // A bad tree names the node at fault and changes nothing.
    for (bad, at) in [
        (
            tree(json!([{"id": "x", "component": "marquee"}])),
            "tree.children[0].component",
        ),
        (
            tree(json!([{"id": "h", "component": "heading", "props": {"content": 7}}])),
            "tree.children[0].props.content",
        ),
        (
            tree(json!([{"id": "t", "component": "table", "props": {"table": "nope"}}])),
            "tree.children[0].props.table",
        ),
        (
            tree(
                json!([{"id": "f", "component": "form", "props": {"table": table}, "children": [
                    {"id": "i", "component": "input", "props": {"field": "fld_gone"}}
                ]}]),
            ),
            "tree.children[0].children[0].props.field",
        ),
    ] {
        let (status, problem) = patch(&app, &p, &path, json!({"tree": bad})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(paths(&problem), [at]);
    }
    let (_, unchanged) = get(&app, &p, &path).await;
    assert_eq!(unchanged["version"], 1);

    // Saves move the version; a stale one is a 412 with the current one.
    let heading =
        json!([{"id": "h", "component": "heading", "props": {"content": "Hi", "level": 2}}]);
    let (status, saved) = patch(
        &app,
        &p,
        &path,
        json!({"tree": tree(heading), "version": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 2);
    let (status, problem) = patch(
        &app,
        &p,
        &path,
        json!({"tree": tree(json!([])), "version": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(problem["current_version"], 2);
    let (status, renamed) = patch(&app, &p, &path, json!({"name": "People", "version": 2})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["version"], 3);
    assert_eq!(renamed["tree"]["children"][0]["id"], "h");

    // The history holds each save, newest first; a rename is no save.
    let (status, history) = get(&app, &p, &format!("{path}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let versions: Vec<u64> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["version"].as_u64())
        .collect();
    assert_eq!(versions, [2, 1]);
    let (_, first_page) = get(&app, &p, &format!("{path}/history?limit=1")).await;
    let next = first_page["next"].as_str().expect("a next page");
    let (_, second_page) = get(&app, &p, &format!("{path}/history?limit=1&next={next}")).await;
    assert_eq!(second_page["items"][0]["version"], 1);
    let (status, first) = get(&app, &p, &format!("{path}/history/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["tree"], page["tree"]);

    // A restore is a new save of the old tree.
    let (status, restored) = app
        .json(
            Method::POST,
            &p.at(&format!("{path}/history/1/restore")),
            Some(json!({"version": 3})),
            Some(&p.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["version"], 4);
    assert_eq!(restored["tree"], page["tree"]);
    let (_, history) = get(&app, &p, &format!("{path}/history")).await;
    assert_eq!(history["items"][0]["version"], 4);
    assert_eq!(history["items"][0]["restored_from"], 1);
    let (status, _) = get(&app, &p, &format!("{path}/history/99")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Paths are unique in the project.
    let response = app
        .call(
            Method::POST,
            &p.at("/add_page"),
            Some(json!({"name": "Twin", "path": "/customers"})),
            Some(&p.owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "page_path_taken").await;
    let (_, list) = get(&app, &p, "/pages").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(list["items"][0].get("tree").is_none());
    let audit = app.audit(&p.org, &p.owner, "target_type=page").await;
    assert_eq!(audit.len(), 4, "{audit:?}");
    app.stop().await;
}

/// A tree of `n` text nodes, each `text` long.
fn big_tree(n: usize, text: &str) -> Value {
    let children: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("t{i}"), "component": "text", "props": {"content": text}, "children": []}))
        .collect();
    tree(Value::Array(children))
}

async fn a_large_tree_lives_in_blobs_and_an_oversize_one_is_a_413(app: TestApp) {
    let p = project(&app).await;
    // About 400 KB: past what a table item holds inline.
    let large = big_tree(200, &"x".repeat(2000));
    let page = post(
        &app,
        &p,
        "/add_page",
        json!({"name": "Big", "path": "/big", "tree": large}),
    )
    .await;
    assert!(page["size"].as_u64().expect("size") > 400_000);
    let path = format!("/pages/{}", id(&page));
    let (status, read) = get(&app, &p, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(read["tree"] == large, "the large tree reads back whole");
    let (status, saved) = patch(
        &app,
        &p,
        &path,
        json!({"tree": big_tree(300, &"y".repeat(2000))}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (_, first) = get(&app, &p, &format!("{path}/history/1")).await;
    assert!(first["tree"] == large, "the first save reads back whole");

    // Over 1 MiB is a 413 and changes nothing.
    let response = app
        .call(
            Method::PATCH,
            &p.at(&path),
            Some(json!({"tree": big_tree(600, &"z".repeat(2000))})),
            Some(&p.owner.access),
        )
        .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let (_, current) = get(&app, &p, &path).await;
    assert_eq!(current["version"], 2);

    // A deleted page's history and trees go after it.
    let response = app
        .call(Method::DELETE, &p.at(&path), None, Some(&p.owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&app, &p, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let table = app.services.table().expect("table");
    let blobs = app.services.blobs().expect("blobs");
    let partition = shared::studio::keys::project_partition(&p.id);
    let prefix = shared::studio::pages::saves_prefix(&id(&page));
    let trees = shared::studio::pages::blob_prefix(&p.id, Some(&id(&page)));
    let cleared = eventually(Duration::from_secs(20), || async {
        let saves = table
            .query(
                &shared::ports::table::Query::partition(partition.clone())
                    .begins_with(prefix.clone()),
            )
            .await
            .ok()?;
        let left = blobs
            .list(shared::studio::pages::BUCKET, &trees, None, 10)
            .await
            .ok()?;
        (saves.items.is_empty() && left.blobs.is_empty()).then_some(())
    })
    .await;
    assert!(
        cleared.is_some(),
        "the page's history and trees were cleared"
    );
    let (_, project) = get(&app, &p, "").await;
    assert_eq!(project["pages"], 0);
    app.stop().await;
}

async fn of_two_concurrent_saves_one_wins_and_the_history_keeps_every_save(app: TestApp) {
    let p = project(&app).await;
    let page = post(&app, &p, "/add_page", json!({"name": "Home", "path": "/"})).await;
    let path = format!("/pages/{}", id(&page));
    let full = p.at(&path);
    let save = |text: &'static str| {
        let body = json!({"version": 1, "tree": tree(json!([
            {"id": "t", "component": "text", "props": {"content": text}}
        ]))});
        app.json(Method::PATCH, &full, Some(body), Some(&p.owner.access))
    };
    let ((a, left), (b, right)) = tokio::join!(save("left"), save("right"));
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
        "{left} {right}"
    );
    let (winner, loser) = if a == StatusCode::OK {
        (left, right)
    } else {
        (right, left)
    };
    assert_eq!(loser["current_version"], 2);
    // The loser rebases on the current version and saves.
    let (status, rebased) = patch(
        &app,
        &p,
        &path,
        json!({"version": 2, "tree": tree(json!([
            {"id": "t", "component": "text", "props": {"content": "both"}}
        ]))}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rebased}");
    let (_, history) = get(&app, &p, &format!("{path}/history")).await;
    let versions: Vec<u64> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["version"].as_u64())
        .collect();
    assert_eq!(versions, [3, 2, 1]);
    let (_, second) = get(&app, &p, &format!("{path}/history/2")).await;
    assert_eq!(second["tree"], winner["tree"]);
    app.stop().await;
}

crate::helpers::on_both_backends!(
    custom_components_join_the_projects_library,
    a_page_is_checked_saved_with_history_and_restored,
    a_large_tree_lives_in_blobs_and_an_oversize_one_is_a_413,
    of_two_concurrent_saves_one_wins_and_the_history_keeps_every_save,
);
