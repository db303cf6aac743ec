//! The HTTP contract every route keeps: trailing slashes, problem+json for
//! malformed, oversized and invalid bodies (nothing changes), 404 and 405.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, assert_problem};

const REGISTER: &str = "/api/v1/foundation/auth/register/client";

#[tokio::test]
async fn a_path_answers_with_and_without_its_trailing_slash() {
    let app = TestApp::embedded().await;
    for path in ["/api/v1/health", "/api/v1/health/"] {
        let (status, _) = app.json(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let user = app.signed_up_user().await;
    for path in [
        "/api/v1/foundation/auth/login",
        "/api/v1/foundation/auth/login/",
    ] {
        let (status, _) = app
            .json(
                Method::POST,
                path,
                Some(json!({"email": user.email, "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_a_400_problem_and_registers_nobody() {
    let app = TestApp::embedded().await;
    let response = app
        .client
        .post(format!("{}{REGISTER}", app.url))
        .header("content-type", "application/json")
        .body(r#"{"email": "a@example.com", "password": "#)
        .send()
        .await
        .expect("answer");
    let body = assert_problem(response, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(body["request_id"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let app = TestApp::embedded().await;
    let response = app
        .call(
            Method::POST,
            REGISTER,
            Some(json!({
                "email": "big@example.com", "password": PASSWORD,
                "first_name": "x".repeat(300 * 1024), "last_name": "y"
            })),
            None,
        )
        .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/auth/login",
            Some(json!({"email": "big@example.com", "password": PASSWORD})),
            None,
        )
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_a_422_naming_each_field_and_change_nothing() {
    let app = TestApp::embedded().await;
    let response = app
        .call(
            Method::POST,
            REGISTER,
            Some(json!({
                "email": "not-an-email", "password": "", "first_name": " ", "last_name": "z".repeat(101)
            })),
            None,
        )
        .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "password", "first_name", "last_name"]);

    for (body, field) in [
        (
            json!({"email": "a@example.com", "password": PASSWORD, "first_name": "A"}),
            "last_name",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "first_name": "A", "last_name": 7}),
            "last_name",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "first_name": "A", "last_name": "B", "role": "admin"}),
            "role",
        ),
    ] {
        let response = app.call(Method::POST, REGISTER, Some(body), None).await;
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let response = app
        .call(
            Method::POST,
            REGISTER,
            Some(json!({"email": "weak@example.com", "password": "weak", "first_name": "A", "last_name": "B"})),
            None,
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "password");
    // None of these created an account.
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/auth/login",
            Some(json!({"email": "a@example.com", "password": PASSWORD})),
            None,
        )
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let app = TestApp::embedded().await;
    let response = app
        .call(Method::GET, "/api/v1/nothing/here", None, None)
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .call(Method::DELETE, "/api/v1/health/", None, None)
        .await;
    assert_eq!(response.headers()["allow"], "GET");
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    // A path with several methods names them all.
    let response = app
        .call(
            Method::TRACE,
            "/api/v1/foundation/organizations",
            None,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST, GET");
    app.stop().await;
}
