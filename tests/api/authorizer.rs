//! The gateway's JWT authorizer: every refusal is a 401 problem before any
//! handler runs, and an accepted token's claims reach the handler.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

const ME: &str = "/api/v1/foundation/users/me";

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

#[tokio::test]
async fn a_request_without_a_token_is_401() {
    let app = TestApp::embedded().await;
    let response = app.call(Method::GET, ME, None, None).await;
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_or_non_bearer_token_is_401() {
    let app = TestApp::embedded().await;
    for header in ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"] {
        let response = app
            .client
            .get(format!("{}{ME}", app.url))
            .header("authorization", header)
            .send()
            .await
            .expect("answer");
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_badly_signed_token_is_401() {
    let app = TestApp::embedded().await;
    let user = app.signed_up_user().await;
    let mut parts: Vec<String> = user.access.split('.').map(str::to_string).collect();
    // Same header and claims, another signature.
    let mut signature = URL_SAFE_NO_PAD.decode(&parts[2]).expect("signature");
    signature[0] ^= 0xff;
    parts[2] = URL_SAFE_NO_PAD.encode(signature);
    let response = app
        .call(Method::GET, ME, None, Some(&parts.join(".")))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = TestApp::embedded().await;
    let user = app.signed_up_user().await;
    // Re-sign the user's own claims with the pool's key, expired an hour ago:
    // only the expiry is wrong.
    let dir = app.data_dir.as_ref().expect("embedded data folder").path();
    let pem = std::fs::read(dir.join("secrets").join("identity-rs256.pem")).expect("pool key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("rsa key");
    let original = jsonwebtoken::decode_header(&user.access).expect("header");
    let mut claims = claims_of(&user.access);
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 7200);
    claims["exp"] = json!(now - 3600);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = original.kid;
    let expired = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
    let response = app.call(Method::GET, ME, None, Some(&expired)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // The same claims, unexpired, pass: the expiry alone was refused.
    claims["exp"] = json!(now + 600);
    let fresh = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
    let response = app.call(Method::GET, ME, None, Some(&fresh)).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn an_id_token_is_not_an_access_token() {
    let app = TestApp::embedded().await;
    let user = app.signed_up_user().await;
    let response = app.call(Method::GET, ME, None, Some(&user.id_token)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn the_handler_sees_the_claims_of_the_token() {
    let app = TestApp::embedded().await;
    let user = app.signed_up_user().await;
    let claims = claims_of(&user.access);
    let (status, me) = app.json(Method::GET, ME, None, Some(&user.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], claims["sub"]);
    app.stop().await;
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let app = TestApp::embedded().await;
    let (status, _) = app.json(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
