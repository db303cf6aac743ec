//! The same smoke test on the embedded backends and on the AWS adapters
//! against moto: health, then an account's life through authenticated routes.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, assert_problem};

async fn health_reports_every_port_up(app: TestApp) {
    let (status, body) = app.json(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["backend"], app.services.backend());
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    for port in ["table", "blobs", "queue", "events", "identity"] {
        assert_eq!(body["ports"][port]["status"], "up", "{port}: {body}");
    }
    app.stop().await;
}

async fn a_registered_user_signs_in_reads_their_account_and_signs_out(app: TestApp) {
    let user = app.signed_up_user().await;
    let (status, me) = app
        .json(
            Method::GET,
            "/api/v1/foundation/users/me/",
            None,
            Some(&user.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["first_name"], "Ada");
    assert_eq!(me["last_name"], "Lovelace");

    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/auth/logout/",
            None,
            Some(&user.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // Signed out everywhere: the old access token no longer works.
    let response = app
        .call(
            Method::GET,
            "/api/v1/foundation/users/me",
            None,
            Some(&user.access),
        )
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    app.stop().await;
}

async fn a_duplicate_registration_is_a_conflict_and_a_wrong_password_is_refused(app: TestApp) {
    let user = app.signed_up_user().await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/auth/register/client",
            Some(serde_json::json!({
                "email": user.email, "password": crate::helpers::PASSWORD,
                "first_name": "A", "last_name": "B"
            })),
            None,
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "email_taken").await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/auth/login",
            Some(serde_json::json!({"email": user.email, "password": "Wrong-Pass-1"})),
            None,
        )
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.stop().await;
}

crate::helpers::on_both_backends!(
    health_reports_every_port_up,
    a_registered_user_signs_in_reads_their_account_and_signs_out,
    a_duplicate_registration_is_a_conflict_and_a_wrong_password_is_refused,
);
