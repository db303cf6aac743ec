//! A handler gets only the ports its route declares, locally as on Lambda:
//! one that reaches for another port fails here, not first in production.

use std::sync::Arc;

use lambda_http::Request;
use nocode::gateway::proxy::invoke;
use serde_json::Value;
use shared::http::{HandlerResult, no_content};
use shared::routes::{Access, ApiRoute, BoxFuture, Handler};
use shared::services::{Port, Services};

use crate::helpers::TestApp;

fn uses_identity(services: Arc<Services>, _request: Request) -> BoxFuture<HandlerResult> {
    Box::pin(async move {
        services.identity()?;
        no_content()
    })
}

const fn route_with(ports: &'static [Port]) -> ApiRoute {
    ApiRoute {
        function: "test-uses-identity",
        method: "GET",
        path: "/api/v1/health",
        access: Access::Public,
        ports,
        summary: "Uses the identity port",
        request: None,
        query: &[],
        response: None,
        status: 204,
        refusals: &[],
        handler: Handler::Plain(uses_identity),
    }
}

fn request() -> Request {
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/api/health.json"
    ))
    .expect("the sample event");
    lambda_http::request::from_str(&event).expect("an HTTP API v2 event")
}

#[tokio::test]
async fn a_handler_using_a_port_its_route_does_not_declare_fails_locally() {
    let app = TestApp::embedded().await;
    // The gateway itself holds every port …
    assert!(app.services.identity().is_ok());

    // … but a route declaring only the table gets only the table.
    let response = invoke(&route_with(&[Port::Table]), &app.services, request()).await;
    assert_eq!(response.status(), 500);
    let problem: Value = serde_json::from_slice(response.body().as_ref()).expect("a problem");
    assert_eq!(problem["code"], "internal_error");

    let response = invoke(
        &route_with(&[Port::Table, Port::Identity]),
        &app.services,
        request(),
    )
    .await;
    assert_eq!(response.status(), 204);
    app.stop().await;
}
