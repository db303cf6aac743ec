//! The OpenAPI document and Swagger UI, served by the gateway.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;

#[tokio::test]
async fn the_openapi_document_lists_every_route_of_the_table_and_nothing_else() {
    let app = TestApp::embedded().await;
    let (status, doc) = app.json(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let table: BTreeSet<(String, String)> = shared::routes::api()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(documented, table);
    app.stop().await;
}

#[tokio::test]
async fn swagger_ui_renders_from_shipped_assets() {
    let app = TestApp::embedded().await;
    let response = app.call(Method::GET, "/api/docs/", None, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    let init = app
        .call(Method::GET, "/api/docs/swagger-initializer.js", None, None)
        .await
        .text()
        .await
        .expect("initializer");
    assert!(init.contains("/api/openapi.json"), "{init}");
    let css = app
        .call(Method::GET, "/api/docs/swagger-ui.css", None, None)
        .await;
    assert_eq!(css.status(), StatusCode::OK);
    app.stop().await;
}
