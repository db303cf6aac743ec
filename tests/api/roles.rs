//! The role matrix, generated from the route table: every scoped route of
//! every module, called by an owner, an admin, an editor, a viewer and a
//! non-member, answers exactly as its declared access says (DESIGN.md §6).
//! A non-member always gets 404 and not a byte of the organization.
//!
//! A new scoped route joins the matrix by being in the table; if it reads a
//! body or a path parameter this file cannot yet fill, the test says so.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::routes::ApiRoute;
use shared::tenancy::Role;
use shared::tenancy::guard::{Scope, ScopeKind};

use crate::helpers::{TestApp, User};

const ORG_NAME: &str = "Matrix Org Secret Name";

/// Routes that spend their caller (leaving ends the membership): each call
/// gets a fresh member of the role under test.
const SPENDS_CALLER: &[&str] = &["foundation-organizations-leave"];

fn fresh_email() -> String {
    format!(
        "{}@example.com",
        ulid::Ulid::generate().to_string().to_lowercase()
    )
}

fn fresh_path() -> String {
    format!("/p{}", ulid::Ulid::generate().to_string().to_lowercase())
}

/// A valid body for each scoped route that reads one.
fn body(route: &ApiRoute) -> Option<Value> {
    route.request?;
    Some(match route.function {
        "foundation-organizations-update" => json!({"name": ORG_NAME}),
        "foundation-members-update" => json!({"role": "editor"}),
        "foundation-invitations-create" => json!({"email": fresh_email(), "role": "viewer"}),
        "studio-projects-update" => json!({"name": "Renamed"}),
        "studio-tables-create" => json!({
            "name": format!("T{}", ulid::Ulid::generate()),
            "fields": [{"name": "title", "type": "text"}]
        }),
        "studio-tables-update" => {
            json!({"changes": [{"op": "add_field", "field": {"name": "more", "type": "integer"}}]})
        }
        "studio-custom-create" => {
            json!({"title": "Card", "props": [{"name": "caption", "type": "string"}]})
        }
        "studio-custom-update" => json!({"title": "Renamed card"}),
        "studio-pages-create" => json!({"name": "Home", "path": fresh_path()}),
        "studio-pages-update" => json!({"tree": {"id": "root", "component": "page", "children": [
            {"id": "h", "component": "heading", "props": {"content": "Hello"}}
        ]}}),
        "studio-pages-restore" => json!({}),
        "runtime-records-create" | "runtime-records-replace" | "runtime-records-update" => {
            json!({})
        }
        "runtime-records-batch" => json!({"operations": [{"action": "create", "values": {}}]}),
        "runtime-files-start" => {
            json!({"field": "doc", "name": "a.txt", "content_type": "text/plain", "size": 5})
        }
        "runtime-apps-update" => json!({"name": "Renamed app"}),
        "runtime-apps-deploy" => json!({}),
        "runtime-apps-rollback" => json!({"version": 1}),
        "runtime-keys-create" => json!({"name": "Key", "scopes": ["records:read"]}),
        "automation-workflows-update" => json!({"name": "Renamed workflow"}),
        "automation-workflows-execute" => json!({"input": {"n": 1}}),
        other => panic!("{other}: the role matrix has no body for it; add one here"),
    })
}

/// Every scoped route; one that deletes its whole organization goes last
/// (each project-scoped call gets a fresh project).
fn scoped_routes() -> Vec<(&'static ApiRoute, Scope)> {
    let mut routes: Vec<_> = shared::routes::api()
        .filter_map(|r| r.access.scope().map(|s| (r, s)))
        .collect();
    let ends_scope = |(r, s): &(&ApiRoute, Scope)| {
        s.kind == ScopeKind::Organization
            && r.method == "DELETE"
            && r.path.ends_with(&format!("{{{}}}", s.param))
    };
    routes.sort_by_key(|entry| ends_scope(entry));
    routes
}

struct World {
    org: String,
    owner: User,
    members: Vec<(Role, User)>,
    outsider: User,
    /// The project fresh workflows are made in: one is enough (a project
    /// comes with default workflows, and on moto each write costs more
    /// than the last).
    workflows_project: tokio::sync::OnceCell<String>,
}

/// The path of `route` for this call, with any fresh thing it acts on, and
/// the fresh caller a caller-spending route needs.
async fn prepare(
    app: &TestApp,
    world: &World,
    route: &ApiRoute,
    scope: &Scope,
    role: Option<Role>,
) -> (String, Option<User>) {
    let new_project = || async {
        let (status, project) = app
            .json(
                Method::POST,
                "/api/v1/studio/projects",
                Some(json!({"organization_id": world.org, "name": "Matrix project"})),
                Some(&world.owner.access),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{project}");
        project["id"].as_str().expect("id").to_string()
    };
    let scope_id = match scope.kind {
        ScopeKind::Organization => world.org.clone(),
        ScopeKind::Project => new_project().await,
        ScopeKind::Workflow => {
            let project = world
                .workflows_project
                .get_or_init(&new_project)
                .await
                .clone();
            let (status, made) = app
                .json(
                    Method::POST,
                    "/api/v1/automation/workflows",
                    Some(
                        json!({"project_id": project, "name": "Matrix workflow", "definition": {
                            "trigger": {"type": "manual"}, "start": "wait",
                            // Its executions wait, so one can still be cancelled.
                            "steps": [{"id": "wait", "type": "delay", "seconds": 600}]
                        }}),
                    ),
                    Some(&world.owner.access),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{made}");
            made["id"].as_str().expect("id").to_string()
        }
        ScopeKind::App => {
            let project = new_project().await;
            let (status, made) = app
                .json(
                    Method::POST,
                    "/api/v1/runtime/apps",
                    Some(json!({"project_id": project, "name": "Matrix app"})),
                    Some(&world.owner.access),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{made}");
            let id = made["id"].as_str().expect("id").to_string();
            // Rolling back, or reading a version, needs one deployed.
            if route.function == "runtime-apps-rollback" || route.path.contains("{number}") {
                let (status, deployed) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/runtime/apps/{id}/deploy"),
                        Some(json!({})),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{deployed}");
            }
            id
        }
    };
    let mut path = route
        .path
        .replace(&format!("{{{}}}", scope.param), &scope_id);
    while let Some(start) = path.find('{') {
        let end = path[start..].find('}').expect("a closed parameter") + start;
        let value = match &path[start + 1..end] {
            "user_id" => app.member(&world.org, &world.owner, "viewer").await.id,
            "table_id" => {
                let (status, table) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/studio/projects/{scope_id}/add_table"),
                        Some(
                            json!({"name": "Things", "fields": [{"name": "doc", "type": "file"}]}),
                        ),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{table}");
                table["id"].as_str().expect("id").to_string()
            }
            "component_id" => {
                let (status, component) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/studio/projects/{scope_id}/add_component"),
                        Some(json!({"title": "Card"})),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{component}");
                component["id"].as_str().expect("id").to_string()
            }
            "page_id" => {
                let (status, page) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/studio/projects/{scope_id}/add_page"),
                        Some(json!({"name": "Page", "path": fresh_path()})),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{page}");
                page["id"].as_str().expect("id").to_string()
            }
            "record_id" => {
                let table = path
                    .split("/tables/")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .expect("a table in the path")
                    .to_string();
                let (status, record) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/runtime/projects/{scope_id}/tables/{table}/records"),
                        Some(json!({})),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{record}");
                record["id"].as_str().expect("id").to_string()
            }
            // A page's first save; an app's first deploy.
            "version" | "number" => "1".to_string(),
            "execution_id" => {
                let (status, started) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/automation/workflows/{scope_id}/execute"),
                        Some(json!({"input": {}})),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::ACCEPTED, "{started}");
                let id = started["execution_id"].as_str().expect("id").to_string();
                // Only a cancelled or failed execution is retried.
                if route.function == "automation-executions-retry" {
                    let (status, cancelled) = app
                        .json(
                            Method::POST,
                            &format!(
                                "/api/v1/automation/workflows/{scope_id}/executions/{id}/cancel"
                            ),
                            None,
                            Some(&world.owner.access),
                        )
                        .await;
                    assert_eq!(status, StatusCode::OK, "{cancelled}");
                }
                id
            }
            "key_id" => {
                let (status, key) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/runtime/apps/{scope_id}/keys"),
                        Some(json!({"name": "Key", "scopes": ["records:read"]})),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{key}");
                key["id"].as_str().expect("id").to_string()
            }
            // The record's file field, holding an uploaded file.
            "field" => {
                let (table, rest) = path.split_once("/records/").expect("a records path");
                let record = rest.split('/').next().expect("a record in the path");
                let record = format!("{table}/records/{record}");
                attach_file(app, &world.owner, &format!("{table}/files"), &record).await;
                "doc".to_string()
            }
            "invitation_id" => {
                let (status, invitation) = app
                    .json(
                        Method::POST,
                        &format!("/api/v1/foundation/organizations/{}/invitations", world.org),
                        Some(json!({"email": fresh_email(), "role": "viewer"})),
                        Some(&world.owner.access),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{invitation}");
                invitation["id"].as_str().expect("id").to_string()
            }
            other => panic!(
                "{}: the role matrix cannot fill {{{other}}}; add it here",
                route.function
            ),
        };
        path.replace_range(start..=end, &value);
    }
    let caller = match role {
        Some(role) if SPENDS_CALLER.contains(&route.function) => {
            Some(app.member(&world.org, &world.owner, role.as_str()).await)
        }
        _ => None,
    };
    (path, caller)
}

/// Uploads a small text file through `files` and sets it as the `doc`
/// of the record at `record`.
async fn attach_file(app: &TestApp, owner: &User, files: &str, record: &str) {
    let (status, started) = app
        .json(
            Method::POST,
            files,
            Some(json!({"field": "doc", "name": "a.txt", "content_type": "text/plain", "size": 5})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    crate::helpers::upload(app, &started["upload"], b"hello").await;
    let (status, changed) = app
        .json(
            Method::PATCH,
            record,
            Some(json!({"doc": started["id"]})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
}

/// The matrix is cut in five, each on its own app: a long test makes a
/// large table, and moto copies the whole table for every transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Group {
    Foundation,
    ProjectsAndTables,
    PagesAndComponents,
    AppsAndFiles,
    Automation,
}

fn group(route: &ApiRoute) -> Group {
    let path = route.path;
    if path.starts_with("/api/v1/foundation/") {
        Group::Foundation
    } else if path.starts_with("/api/v1/automation/") {
        Group::Automation
    } else if path.starts_with("/api/v1/runtime/apps") || path.contains("/files") {
        Group::AppsAndFiles
    } else if ["/library", "component", "/pages", "page", "/export"]
        .iter()
        .any(|part| path.contains(part))
    {
        Group::PagesAndComponents
    } else {
        Group::ProjectsAndTables
    }
}

async fn foundation_routes_answer_each_role_exactly(app: TestApp) {
    matrix(app, Group::Foundation).await;
}

async fn project_and_table_routes_answer_each_role_exactly(app: TestApp) {
    matrix(app, Group::ProjectsAndTables).await;
}

async fn page_and_component_routes_answer_each_role_exactly(app: TestApp) {
    matrix(app, Group::PagesAndComponents).await;
}

async fn app_and_file_routes_answer_each_role_exactly(app: TestApp) {
    matrix(app, Group::AppsAndFiles).await;
}

async fn automation_routes_answer_each_role_exactly(app: TestApp) {
    matrix(app, Group::Automation).await;
}

#[test]
fn every_group_holds_scoped_routes() {
    let groups: std::collections::HashSet<Group> =
        scoped_routes().iter().map(|(r, _)| group(r)).collect();
    assert_eq!(groups.len(), 5);
}

async fn matrix(app: TestApp, only: Group) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, ORG_NAME).await;
    let mut members = vec![];
    for role in [Role::Admin, Role::Editor, Role::Viewer] {
        members.push((role, app.member(&org, &owner, role.as_str()).await));
    }
    let outsider = app.signed_up_user().await;
    // The outsider has an organization of their own: being signed in and a
    // member elsewhere must not matter.
    app.organization(&outsider, "Elsewhere").await;
    let world = World {
        org,
        owner,
        members,
        outsider,
        workflows_project: tokio::sync::OnceCell::new(),
    };

    let routes: Vec<_> = scoped_routes()
        .into_iter()
        .filter(|(r, _)| group(r) == only)
        .collect();
    assert!(routes.len() >= 10, "{only:?} holds {} routes", routes.len());
    for (route, scope) in routes {
        let method = Method::from_bytes(route.method.as_bytes()).expect("a method");
        let success = StatusCode::from_u16(route.status).expect("a status");
        // The owner goes last, so a deleting call runs after every refusal.
        let callers: Vec<(Option<Role>, &User)> = world
            .members
            .iter()
            .map(|(role, user)| (Some(*role), user))
            .chain([(None, &world.outsider), (Some(Role::Owner), &world.owner)])
            .collect();
        // A read changes nothing: its callers share what it reads.
        let shared = match route.method {
            "GET" => Some(prepare(&app, &world, route, &scope, None).await.0),
            _ => None,
        };
        for (role, user) in callers {
            let (path, fresh_caller) = match &shared {
                Some(path) => (path.clone(), None),
                None => prepare(&app, &world, route, &scope, role).await,
            };
            // A leaving owner is a fresh second owner, not the last one.
            let caller = fresh_caller.as_ref().unwrap_or(user);
            let response = app
                .call(method.clone(), &path, body(route), Some(&caller.access))
                .await;
            let status = response.status();
            let text = response.text().await.expect("body");
            let expected = match role {
                None => StatusCode::NOT_FOUND,
                Some(role) if role >= scope.least => success,
                Some(_) => StatusCode::FORBIDDEN,
            };
            assert_eq!(
                status, expected,
                "{} {} as {:?}: {text}",
                route.method, route.path, role
            );
            if role.is_none() {
                assert!(
                    !text.contains(ORG_NAME),
                    "the outsider saw the organization: {text}"
                );
                assert!(
                    !text.contains(&world.owner.id),
                    "the outsider saw a member: {text}"
                );
            }
        }
    }
    app.stop().await;
}

crate::helpers::on_both_backends!(
    foundation_routes_answer_each_role_exactly,
    project_and_table_routes_answer_each_role_exactly,
    page_and_component_routes_answer_each_role_exactly,
    app_and_file_routes_answer_each_role_exactly,
    automation_routes_answer_each_role_exactly,
);
