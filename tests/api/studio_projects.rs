//! Studio projects end to end, on both backends: create, list (mine across
//! organizations, or one organization's), read, change, archive, delete,
//! with every refusal and cross-tenant 404.

use std::time::Duration;

use nocode_tests::eventually;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem};

const PROJECTS: &str = "/api/v1/studio/projects";

async fn project(app: &TestApp, user: &User, org: &str, body: Value) -> Value {
    let mut body = body;
    body["organization_id"] = json!(org);
    let (status, project) = app
        .json(Method::POST, PROJECTS, Some(body), Some(&user.access))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    project
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

async fn a_project_is_created_read_changed_archived_and_deleted(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let created = project(
        &app,
        &owner,
        &org,
        json!({"name": "  Shop  ", "description": "Sells things", "slug": "shop"}),
    )
    .await;
    assert_eq!(created["name"], "Shop");
    assert_eq!(created["status"], "active");
    assert_eq!(created["slug"], "shop");
    assert_eq!(created["organization_id"], org.as_str());
    assert_eq!(created["created_by"], owner.id.as_str());
    assert_eq!(created["version"], 1);
    let path = format!("{PROJECTS}/{}", id(&created));

    let (status, read) = app
        .json(Method::GET, &path, None, Some(&owner.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    // The slug is the organization's: another project cannot take it.
    let response = app
        .call(
            Method::POST,
            PROJECTS,
            Some(json!({"organization_id": org, "name": "Other", "slug": "shop"})),
            Some(&owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "slug_taken").await;

    // A new slug frees the old one.
    let (status, changed) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"name": "Store", "slug": "store", "description": null, "version": 1})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["name"], "Store");
    assert_eq!(changed["slug"], "store");
    assert!(changed["description"].is_null());
    assert_eq!(changed["version"], 2);
    project(
        &app,
        &owner,
        &org,
        json!({"name": "Shop again", "slug": "shop"}),
    )
    .await;

    let response = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Late", "version": 1})),
            Some(&owner.access),
        )
        .await;
    assert_problem(response, StatusCode::PRECONDITION_FAILED, "stale_version").await;

    // Archived, it reads but does not change.
    let (status, archived) = app
        .json(
            Method::POST,
            &format!("{path}/archive"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(archived["status"], "archived");
    let response = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Nope"})),
            Some(&owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "project_archived").await;
    let (status, active) = app
        .json(
            Method::POST,
            &format!("{path}/unarchive/"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active["status"], "active");

    // Deleted, it answers 404 at once, and its slug is free again.
    let response = app
        .call(Method::DELETE, &path, None, Some(&owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .call(Method::GET, &path, None, Some(&owner.access))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    project(
        &app,
        &owner,
        &org,
        json!({"name": "Store again", "slug": "store"}),
    )
    .await;

    let actions: Vec<String> = app
        .audit(&org, &owner, "target_type=project")
        .await
        .iter()
        .filter(|e| e["target_id"] == id(&created).as_str())
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "project.deleted",
            "project.unarchived",
            "project.archived",
            "project.updated",
            "project.created",
        ]
    );
    app.stop().await;
}

async fn bad_project_input_is_a_422_naming_each_field_and_creates_nothing(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let response = app
        .call(
            Method::POST,
            PROJECTS,
            Some(json!({
                "organization_id": org, "name": "   ",
                "description": "x".repeat(1001), "slug": "Not A Slug"
            })),
            Some(&owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "description", "slug"]);
    let response = app
        .call(
            Method::POST,
            PROJECTS,
            Some(json!({"organization_id": org, "name": "Shop", "colour": "red"})),
            Some(&owner.access),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let (_, list) = app
        .json(
            Method::GET,
            &format!("{PROJECTS}?organization={org}"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(list["items"], json!([]));
    app.stop().await;
}

async fn projects_are_the_organizations_members_only(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let created = project(&app, &owner, &org, json!({"name": "Secret plans"})).await;
    let path = format!("{PROJECTS}/{}", id(&created));
    let stranger = app.signed_up_user().await;
    app.organization(&stranger, "Elsewhere").await;

    // Another tenant: 404 everywhere, and the name never shows.
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::PATCH, path.clone(), Some(json!({"name": "Mine"}))),
        (Method::POST, format!("{path}/archive"), None),
        (Method::DELETE, path.clone(), None),
        (Method::GET, format!("{PROJECTS}?organization={org}"), None),
    ] {
        let response = app.call(method, &path, body, Some(&stranger.access)).await;
        let problem = assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
        assert!(!problem.to_string().contains("Secret plans"));
    }
    let response = app
        .call(
            Method::POST,
            PROJECTS,
            Some(json!({"organization_id": org, "name": "Intruder"})),
            Some(&stranger.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let (_, mine) = app
        .json(Method::GET, PROJECTS, None, Some(&stranger.access))
        .await;
    assert_eq!(mine["items"], json!([]));

    // A viewer reads but neither creates nor changes; the refusal is audited.
    let viewer = app.member(&org, &owner, "viewer").await;
    let (status, _) = app
        .json(Method::GET, &path, None, Some(&viewer.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .call(
            Method::POST,
            PROJECTS,
            Some(json!({"organization_id": org, "name": "Viewer's"})),
            Some(&viewer.access),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let denied = app.audit(&org, &owner, "outcome=denied").await;
    assert!(
        denied
            .iter()
            .any(|e| e["action"] == "project.created" && e["actor"] == viewer.id.as_str()),
        "{denied:?}"
    );
    // An editor edits, but only an admin deletes.
    let editor = app.member(&org, &owner, "editor").await;
    let (status, _) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"name": "Edited"})),
            Some(&editor.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .call(Method::DELETE, &path, None, Some(&editor.access))
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    app.stop().await;
}

async fn my_projects_span_my_organizations_in_pages(app: TestApp) {
    let user = app.signed_up_user().await;
    let first = app.organization(&user, "First").await;
    let second = app.organization(&user, "Second").await;
    let mut made = Vec::new();
    for (org, count) in [(&first, 3), (&second, 2)] {
        for n in 0..count {
            made.push(id(&project(
                &app,
                &user,
                org,
                json!({"name": format!("P{n}")}),
            )
            .await));
        }
    }
    // Someone else's project never shows.
    let other = app.signed_up_user().await;
    let elsewhere = app.organization(&other, "Other").await;
    project(&app, &other, &elsewhere, json!({"name": "Not mine"})).await;

    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &next {
            Some(cursor) => format!("?limit=2&next={cursor}"),
            None => "?limit=2".into(),
        };
        let (status, page) = app
            .json(
                Method::GET,
                &format!("{PROJECTS}{query}"),
                None,
                Some(&user.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(id));
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
        assert!(pages < 10, "the pages end");
    }
    let mut expected = made.clone();
    expected.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, expected, "every project once, and only mine");
    assert_eq!(seen.len(), made.len());

    let (_, one) = app
        .json(
            Method::GET,
            &format!("{PROJECTS}?organization={second}"),
            None,
            Some(&user.access),
        )
        .await;
    assert_eq!(one["items"].as_array().map(Vec::len), Some(2));
    let response = app
        .call(
            Method::GET,
            &format!("{PROJECTS}?next=bm90LWEtY3Vyc29y"),
            None,
            Some(&user.access),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

async fn a_deleted_projects_partition_is_cleared_after_it(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let created = project(&app, &owner, &org, json!({"name": "Doomed"})).await;
    let project_id = id(&created);
    // Something the project holds.
    let (status, held) = app
        .json(
            Method::POST,
            &format!("{PROJECTS}/{project_id}/add_table"),
            Some(json!({"name": "Things"})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let table = app.services.table().expect("table");
    let partition = shared::studio::keys::project_partition(&project_id);
    let response = app
        .call(
            Method::DELETE,
            &format!("{PROJECTS}/{project_id}"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = eventually(Duration::from_secs(20), || async {
        let left = table
            .query(&shared::ports::table::Query::partition(partition.clone()))
            .await
            .ok()?;
        left.items.is_empty().then_some(())
    })
    .await;
    assert!(
        cleared.is_some(),
        "the cleanup worker cleared the partition"
    );
    app.stop().await;
}

crate::helpers::on_both_backends!(
    a_project_is_created_read_changed_archived_and_deleted,
    bad_project_input_is_a_422_naming_each_field_and_creates_nothing,
    projects_are_the_organizations_members_only,
    my_projects_span_my_organizations_in_pages,
    a_deleted_projects_partition_is_cleared_after_it,
);
