//! The project scope, through the shim every route passes: a project-scoped
//! route resolves the project to its organization in one read and checks the
//! caller's role there before its handler runs. No module has project routes
//! yet (Studio brings them), so a route of this test stands in for them.

use std::sync::Arc;

use lambda_http::Request;
use nocode::gateway::proxy::invoke;
use serde_json::{Value, json};
use shared::http::{HandlerResult, json as json_response};
use shared::ports::table::{Condition, to_keyed_item};
use shared::routes::{Access, ApiRoute, BoxFuture, Handler};
use shared::services::{Port, Services};
use shared::tenancy::{Role, Tenant};

use crate::helpers::TestApp;

fn echo_tenant(_: Arc<Services>, _: Request, tenant: Tenant) -> BoxFuture<HandlerResult> {
    Box::pin(async move {
        json_response(
            lambda_http::http::StatusCode::OK,
            &json!({
                "organization_id": tenant.organization_id,
                "project_id": tenant.project_id,
                "role": tenant.role(),
            }),
        )
    })
}

const PROJECT_ROUTE: ApiRoute = ApiRoute {
    function: "studio-projects-probe",
    method: "PATCH",
    path: "/api/v1/studio/projects/{id}",
    access: Access::project("id", Role::Editor).audited("project.probed"),
    ports: &[Port::Table],
    summary: "Answers the tenant the guard resolved",
    request: None,
    query: &[],
    response: None,
    status: 200,
    refusals: &[],
    handler: Handler::Scoped(echo_tenant),
};

/// The request API Gateway would pass for `sub` on the project's path.
fn request(project: &str, sub: &str) -> Request {
    let path = format!("/api/v1/studio/projects/{project}");
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/api/health.json"
        ))
        .expect("the sample event"),
    )
    .expect("JSON");
    event["routeKey"] = json!("PATCH /api/v1/studio/projects/{id}");
    event["rawPath"] = json!(path);
    event["pathParameters"] = json!({"id": project});
    event["requestContext"]["http"]["method"] = json!("PATCH");
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["authorizer"] = json!({
        "jwt": {"claims": {"sub": sub, "username": sub, "token_use": "access"}, "scopes": null}
    });
    lambda_http::request::from_str(&event.to_string()).expect("an HTTP API v2 event")
}

async fn status_and_body(app: &TestApp, project: &str, sub: &str) -> (u16, Value) {
    let response = invoke(&PROJECT_ROUTE, &app.services, request(project, sub)).await;
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (response.status().as_u16(), body)
}

async fn a_project_scope_checks_the_role_in_the_projects_organization(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Projects").await;
    let viewer = app.member(&org, &owner, "viewer").await;
    let editor = app.member(&org, &owner, "editor").await;
    let outsider = app.signed_up_user().await;
    let project = ulid::Ulid::generate().to_string();
    let item = to_keyed_item(
        &json!({"id": project, "organization_id": org}),
        shared::tenancy::keys::project(&project),
    )
    .expect("an item");
    let table = app.services.table().expect("table");
    table
        .put(item, Some(Condition::Absent))
        .await
        .expect("the project item");

    let (status, tenant) = status_and_body(&app, &project, &editor.id).await;
    assert_eq!(status, 200, "{tenant}");
    assert_eq!(tenant["organization_id"], org.as_str());
    assert_eq!(tenant["project_id"], project.as_str());
    assert_eq!(tenant["role"], "editor");
    assert_eq!(status_and_body(&app, &project, &owner.id).await.0, 200);
    // Too low a role: 403, and the refusal is audited.
    assert_eq!(status_and_body(&app, &project, &viewer.id).await.0, 403);
    let denied = app.audit(&org, &owner, "outcome=denied").await;
    assert_eq!(denied[0]["action"], "project.probed");
    assert_eq!(denied[0]["target_type"], "project");
    assert_eq!(denied[0]["target_id"], project.as_str());
    assert_eq!(denied[0]["actor"], viewer.id.as_str());
    // Not a member, or no such project: 404, the same answer.
    let (status, body) = status_and_body(&app, &project, &outsider.id).await;
    assert_eq!(status, 404);
    assert!(!body.to_string().contains(&org), "{body}");
    let missing = ulid::Ulid::generate().to_string();
    assert_eq!(status_and_body(&app, &missing, &owner.id).await.0, 404);
    app.stop().await;
}

crate::helpers::on_both_backends!(a_project_scope_checks_the_role_in_the_projects_organization);
