//! Apps end to end, on both backends: a draft manifest that follows the
//! project, deploys as immutable numbered versions (idempotent under
//! retry), the live version at a public URL, rollback byte for byte, and
//! every refusal of the app routes.

use std::time::Duration;

use nocode_tests::eventually;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem};

pub struct World {
    pub owner: User,
    pub org: String,
    pub project: String,
    pub page: String,
}

/// An organization with a project holding one page.
pub async fn world(app: &TestApp) -> World {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let project = app.project(&owner, &org, "Shop").await;
    let (status, page) = app
        .json(
            Method::POST,
            &format!("/api/v1/studio/projects/{project}/add_page"),
            Some(json!({"name": "Home", "path": "/"})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    World {
        page: page["id"].as_str().expect("id").to_string(),
        owner,
        org,
        project,
    }
}

/// A new app of the world's project.
pub async fn new_app(app: &TestApp, w: &World) -> Value {
    let (status, made) = app
        .json(
            Method::POST,
            "/api/v1/runtime/apps/",
            Some(json!({"project_id": w.project, "name": "Shop app", "description": "Orders"})),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

async fn save_heading(app: &TestApp, w: &World, text: &str) {
    let path = format!("/api/v1/studio/projects/{}/pages/{}", w.project, w.page);
    let (_, page) = app
        .json(Method::GET, &path, None, Some(&w.owner.access))
        .await;
    let tree = json!({"id": "root", "component": "page", "children": [
        {"id": "h1", "component": "heading", "props": {"content": text}}
    ]});
    let (status, saved) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"tree": tree, "version": page["version"]})),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
}

async fn draft(app: &TestApp, w: &World, app_id: &str) -> Value {
    let (status, draft) = app
        .json(
            Method::GET,
            &format!("/api/v1/runtime/apps/{app_id}/draft/"),
            None,
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    draft
}

async fn deploy(app: &TestApp, user: &User, app_id: &str) -> (StatusCode, Value) {
    app.json(
        Method::POST,
        &format!("/api/v1/runtime/apps/{app_id}/deploy"),
        Some(json!({"note": "release"})),
        Some(&user.access),
    )
    .await
}

/// The live manifest's bytes, its ETag and its version header.
async fn live(app: &TestApp, app_id: &str) -> (StatusCode, Vec<u8>, String, String) {
    let response = app
        .call(
            Method::GET,
            &format!("/api/v1/runtime/apps/{app_id}/live"),
            None,
            None,
        )
        .await;
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (etag, version) = (header("etag"), header("x-app-version"));
    let bytes = response.bytes().await.expect("a body").to_vec();
    (status, bytes, etag, version)
}

async fn an_app_deploys_versions_and_rolls_back_byte_for_byte(app: TestApp) {
    let w = world(&app).await;
    save_heading(&app, &w, "Welcome").await;
    let made = new_app(&app, &w).await;
    let app_id = id(&made);
    assert_eq!(made["project_id"], w.project.as_str());
    assert_eq!(made["live_version"], Value::Null);
    // The first draft is made with the app.
    let first = draft(&app, &w, &app_id).await;
    assert_eq!(first["manifest"]["format"], "nocode.app.manifest");
    assert_eq!(
        first["manifest"]["pages"][0]["tree"]["children"][0]["props"]["content"],
        "Welcome"
    );
    // Nothing is live before a deploy.
    let (status, ..) = live(&app, &app_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, v1) = deploy(&app, &w.owner, &app_id).await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_eq!(v1["version"]["number"], 1);
    assert_eq!(v1["created"], true);
    assert_eq!(v1["app"]["live_version"], 1);
    let (status, v1_bytes, etag, number) = live(&app, &app_id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        etag,
        format!("\"{}\"", v1["version"]["hash"].as_str().expect("a hash"))
    );
    assert_eq!(number, "1");
    let served: Value = serde_json::from_slice(&v1_bytes).expect("JSON");
    assert_eq!(served, first["manifest"]);

    // A retried deploy of the same draft is the same version.
    let (status, again) = deploy(&app, &w.owner, &app_id).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["version"]["number"], 1);
    assert_eq!(again["created"], false);

    // A studio change regenerates the draft on its own.
    save_heading(&app, &w, "Welcome back").await;
    let changed = eventually(Duration::from_secs(15), || async {
        let d = draft(&app, &w, &app_id).await;
        (d["hash"] != first["hash"]).then_some(d)
    })
    .await
    .expect("the draft follows the page");
    assert!(changed["revision"].as_u64() > first["revision"].as_u64());
    assert_eq!(
        changed["manifest"]["pages"][0]["tree"]["children"][0]["props"]["content"],
        "Welcome back"
    );
    let (status, v2) = deploy(&app, &w.owner, &app_id).await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["version"]["number"], 2);
    let (_, v2_bytes, _, number) = live(&app, &app_id).await;
    assert_eq!(number, "2");
    assert_ne!(v2_bytes, v1_bytes);

    // Rollback: version 1 again, byte for byte.
    let rollback = format!("/api/v1/runtime/apps/{app_id}/rollback/");
    let (status, back) = app
        .json(
            Method::POST,
            &rollback,
            Some(json!({"version": 1})),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["app"]["live_version"], 1);
    let (_, served, _, number) = live(&app, &app_id).await;
    assert_eq!(number, "1");
    assert_eq!(served, v1_bytes, "rollback serves version 1 byte for byte");
    // Deploying the unchanged draft makes version 2 live again, no version 3.
    let (_, forward) = deploy(&app, &w.owner, &app_id).await;
    assert_eq!(forward["version"]["number"], 2);
    assert_eq!(forward["created"], false);
    assert_eq!(forward["app"]["live_version"], 2);

    let (status, versions) = app
        .json(
            Method::GET,
            &format!("/api/v1/runtime/apps/{app_id}/versions?limit=1"),
            None,
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(versions["items"][0]["number"], 2, "newest first");
    let next = versions["next"].as_str().expect("a second page");
    let (_, older) = app
        .json(
            Method::GET,
            &format!("/api/v1/runtime/apps/{app_id}/versions?limit=1&next={next}"),
            None,
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(older["items"][0]["number"], 1);
    let (status, one) = app
        .json(
            Method::GET,
            &format!("/api/v1/runtime/apps/{app_id}/versions/1"),
            None,
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["hash"], v1["version"]["hash"]);

    // Every change is audited.
    let actions: Vec<String> = app
        .audit(&w.org, &w.owner, "target_type=app")
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_string))
        .collect();
    for action in ["app.created", "app.deployed", "app.rolled_back"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    app.stop().await;
}

async fn app_routes_refuse_what_they_must(app: TestApp) {
    let w = world(&app).await;
    let made = new_app(&app, &w).await;
    let app_id = id(&made);
    let base = format!("/api/v1/runtime/apps/{app_id}");

    // An editor reads the app but deploys nothing.
    let editor = app.member(&w.org, &w.owner, "editor").await;
    let (status, _) = app
        .json(Method::GET, &base, None, Some(&editor.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .call(
            Method::POST,
            &format!("{base}/deploy"),
            Some(json!({})),
            Some(&editor.access),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    // An outsider sees nothing, and cannot make an app of the project.
    let outsider = app.signed_up_user().await;
    for path in [
        base.clone(),
        format!("{base}/draft"),
        format!("{base}/versions"),
    ] {
        let response = app
            .call(Method::GET, &path, None, Some(&outsider.access))
            .await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let response = app
        .call(
            Method::POST,
            "/api/v1/runtime/apps",
            Some(json!({"project_id": w.project, "name": "Mine now"})),
            Some(&outsider.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    // Bad input names its field.
    let response = app
        .call(
            Method::POST,
            "/api/v1/runtime/apps",
            Some(json!({"project_id": w.project, "name": "  "})),
            Some(&w.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "name");
    let response = app
        .call(
            Method::POST,
            &format!("{base}/rollback"),
            Some(json!({"version": 7})),
            Some(&w.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "version");
    // A stale rename is a 412 naming the current version.
    let response = app
        .call(
            Method::PATCH,
            &base,
            Some(json!({"name": "Renamed", "version": 9})),
            Some(&w.owner.access),
        )
        .await;
    let problem = assert_problem(response, StatusCode::PRECONDITION_FAILED, "stale_version").await;
    assert_eq!(problem["current_version"], 1);
    let (status, renamed) = app
        .json(
            Method::PATCH,
            &base,
            Some(json!({"name": "Renamed", "version": 1})),
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["version"], 2);
    // Listed by project, by organization and across mine.
    for query in [
        format!("project={}", w.project),
        format!("organization={}", w.org),
        String::new(),
    ] {
        let (status, list) = app
            .json(
                Method::GET,
                &format!("/api/v1/runtime/apps?{query}"),
                None,
                Some(&w.owner.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["items"][0]["id"], app_id.as_str(), "{query}");
    }
    let (status, list) = app
        .json(
            Method::GET,
            &format!("/api/v1/runtime/apps?project={}", w.project),
            None,
            Some(&outsider.access),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{list}");

    // Deleted: gone at once, its public URL too.
    let (status, _) = deploy(&app, &w.owner, &app_id).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .json(Method::DELETE, &base, None, Some(&w.owner.access))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ..) = live(&app, &app_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .json(Method::GET, &base, None, Some(&w.owner.access))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn a_deleted_project_takes_its_apps(app: TestApp) {
    let w = world(&app).await;
    let app_id = id(&new_app(&app, &w).await);
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/api/v1/studio/projects/{}", w.project),
            None,
            Some(&w.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = eventually(Duration::from_secs(15), || async {
        let (status, _) = app
            .json(
                Method::GET,
                &format!("/api/v1/runtime/apps/{app_id}"),
                None,
                Some(&w.owner.access),
            )
            .await;
        (status == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the app went with its project");
    app.stop().await;
}

crate::helpers::on_both_backends!(
    an_app_deploys_versions_and_rolls_back_byte_for_byte,
    app_routes_refuse_what_they_must,
    a_deleted_project_takes_its_apps,
);
