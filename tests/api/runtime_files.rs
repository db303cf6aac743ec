//! Files of file fields end to end, on both backends: a presigned upload
//! checked against the field's options, the stored object checked again
//! (real size and type) before a record takes it, a presigned download,
//! and the files given back — replaced, record deleted, field removed —
//! deleted by the files worker; uploads nobody took are swept.

use std::time::Duration;

use nocode_tests::eventually;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem, upload};

/// A PNG's first bytes and a little more.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0,
];

struct Shop {
    owner: User,
    project: String,
    table: Value,
}

impl Shop {
    fn table_id(&self) -> String {
        self.table["id"].as_str().expect("id").to_string()
    }

    fn at(&self, rest: &str) -> String {
        format!(
            "/api/v1/runtime/projects/{}/tables/{}{rest}",
            self.project,
            self.table_id()
        )
    }

    fn field_id(&self, name: &str) -> String {
        self.table["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["id"].as_str())
            .expect("the field")
            .to_string()
    }
}

async fn shop(app: &TestApp) -> Shop {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let project = app.project(&owner, &org, "Shop").await;
    let table = app
        .add_table(
            &owner,
            &project,
            json!({"name": "Products", "fields": [
                {"name": "title", "type": "text"},
                {"name": "photo", "type": "file", "max_size": 1000, "accept": ["image/*"]},
                {"name": "manual", "type": "file", "accept": ["text/plain", "application/pdf"]}
            ]}),
        )
        .await;
    Shop {
        owner,
        project,
        table,
    }
}

/// Starts an upload of `bytes` as `content_type` to `field` and sends them.
async fn uploaded(app: &TestApp, s: &Shop, field: &str, content_type: &str, bytes: &[u8]) -> Value {
    let (status, started) = app
        .json(
            Method::POST,
            &s.at("/files"),
            Some(json!({"field": field, "name": "pic.png", "content_type": content_type, "size": bytes.len()})),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    upload(app, &started["upload"], bytes).await;
    started
}

fn object_key(s: &Shop, file: &Value) -> String {
    format!(
        "{}/{}/{}",
        s.project,
        s.table_id(),
        file["id"].as_str().expect("a file id")
    )
}

async fn exists(app: &TestApp, key: &str) -> bool {
    app.services
        .blobs()
        .expect("blobs")
        .head("files", key)
        .await
        .expect("head")
        .is_some()
}

async fn gone(app: &TestApp, key: &str) -> bool {
    eventually(Duration::from_secs(15), || async {
        (!exists(app, key).await).then_some(())
    })
    .await
    .is_some()
}

async fn a_file_round_trips_and_goes_with_its_record(app: TestApp) {
    let s = shop(&app).await;
    let photo = uploaded(&app, &s, "photo", "image/png", PNG).await;
    assert_eq!(photo["upload"]["method"], "PUT");
    let (status, record) = app
        .json(
            Method::POST,
            &s.at("/records"),
            Some(json!({"title": "Lamp", "photo": photo["id"]})),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    assert_eq!(
        record["photo"],
        json!({"id": photo["id"], "name": "pic.png", "size": PNG.len(), "content_type": "image/png"})
    );
    let record_id = record["id"].as_str().expect("id").to_string();
    // Downloaded through a presigned GET: the same bytes.
    let (status, download) = app
        .json(
            Method::GET,
            &s.at(&format!("/records/{record_id}/files/photo")),
            None,
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{download}");
    assert_eq!(download["content_type"], "image/png");
    let bytes = app
        .client
        .get(download["download"]["url"].as_str().expect("a URL"))
        .send()
        .await
        .expect("the store answers")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.as_ref(), PNG);
    // Sending the read back unchanged keeps the file.
    let (status, kept) = app
        .json(
            Method::PATCH,
            &s.at(&format!("/records/{record_id}")),
            Some(json!({"title": "Lamp 2", "photo": record["photo"]})),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(kept["photo"], record["photo"]);
    // Another record cannot take the same upload.
    let response = app
        .call(
            Method::POST,
            &s.at("/records"),
            Some(json!({"photo": photo["id"]})),
            Some(&s.owner.access),
        )
        .await;
    let problem = assert_problem(response, StatusCode::CONFLICT, "file_taken").await;
    assert_eq!(problem["errors"][0]["field"], "photo");

    // Replaced: the old file goes.
    let second = uploaded(&app, &s, "photo", "image/png", PNG).await;
    let (status, replaced) = app
        .json(
            Method::PATCH,
            &s.at(&format!("/records/{record_id}")),
            Some(json!({"photo": second["id"]})),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert!(
        gone(&app, &object_key(&s, &photo)).await,
        "the replaced file is deleted"
    );
    assert!(exists(&app, &object_key(&s, &second)).await);
    // Deleted with its record.
    let (status, _) = app
        .json(
            Method::DELETE,
            &s.at(&format!("/records/{record_id}")),
            None,
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        gone(&app, &object_key(&s, &second)).await,
        "the record's file is deleted"
    );
    app.stop().await;
}

async fn an_upload_is_checked_before_and_after(app: TestApp) {
    let s = shop(&app).await;
    let start = |body: Value| {
        let app = &app;
        let s = &s;
        async move {
            app.call(
                Method::POST,
                &s.at("/files"),
                Some(body),
                Some(&s.owner.access),
            )
            .await
        }
    };
    // Over the field's size, a type it does not take, a field that is none.
    for (body, field) in [
        (
            json!({"field": "photo", "name": "big.png", "content_type": "image/png", "size": 1001}),
            "size",
        ),
        (
            json!({"field": "photo", "name": "doc.pdf", "content_type": "application/pdf", "size": 10}),
            "content_type",
        ),
        (
            json!({"field": "title", "name": "a.png", "content_type": "image/png", "size": 10}),
            "field",
        ),
        (
            json!({"field": "photo", "name": "a/b.png", "content_type": "image/png", "size": 10}),
            "name",
        ),
    ] {
        let problem = assert_problem(
            start(body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    // Bytes that are not what the upload said: a PNG sent as text.
    let lying = uploaded(&app, &s, "manual", "text/plain", PNG).await;
    let response = app
        .call(
            Method::POST,
            &s.at("/records"),
            Some(json!({"manual": lying["id"]})),
            Some(&s.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "manual");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("image/png")),
        "{problem}"
    );
    // An object over the limit, stored past the presigned URL's bounds
    // (a store that does not check signatures lets that through).
    let (status, big) = app
        .json(
            Method::POST,
            &s.at("/files"),
            Some(json!({"field": "photo", "name": "b.png", "content_type": "image/png", "size": 900})),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{big}");
    let mut huge = PNG.to_vec();
    huge.resize(5000, 0);
    app.services
        .blobs()
        .expect("blobs")
        .put("files", &object_key(&s, &big), huge.into(), "image/png")
        .await
        .expect("put");
    let response = app
        .call(
            Method::POST,
            &s.at("/records"),
            Some(json!({"photo": big["id"]})),
            Some(&s.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("5000 bytes")),
        "{problem}"
    );
    // An upload whose bytes never came.
    let (_, empty) = app
        .json(
            Method::POST,
            &s.at("/files"),
            Some(
                json!({"field": "photo", "name": "c.png", "content_type": "image/png", "size": 10}),
            ),
            Some(&s.owner.access),
        )
        .await;
    let response = app
        .call(
            Method::POST,
            &s.at("/records"),
            Some(json!({"photo": empty["id"]})),
            Some(&s.owner.access),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // A batch attaches no file.
    let response = app
        .call(
            Method::POST,
            &s.at("/records/batch"),
            Some(json!({"operations": [{"action": "create", "values": {"photo": empty["id"]}}]})),
            Some(&s.owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "operations[0].values.photo");

    // Uploads nobody took are swept a day later, not before.
    let pending = uploaded(&app, &s, "photo", "image/png", PNG).await;
    let now = chrono::Utc::now();
    shared::runtime::files::sweep(&app.services, now)
        .await
        .expect("sweep");
    assert!(exists(&app, &object_key(&s, &pending)).await);
    let swept = shared::runtime::files::sweep(&app.services, now + chrono::Duration::hours(25))
        .await
        .expect("sweep");
    assert!(swept >= 1);
    assert!(!exists(&app, &object_key(&s, &pending)).await);
    app.stop().await;
}

async fn a_removed_fields_files_are_deleted(app: TestApp) {
    let s = shop(&app).await;
    let photo = uploaded(&app, &s, "photo", "image/png", PNG).await;
    let (status, record) = app
        .json(
            Method::POST,
            &s.at("/records"),
            Some(json!({"photo": photo["id"]})),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    let (status, changed) = app
        .json(
            Method::PATCH,
            &format!(
                "/api/v1/studio/projects/{}/tables/{}",
                s.project,
                s.table_id()
            ),
            Some(json!({"changes": [{"op": "remove_field", "field_id": s.field_id("photo")}]})),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert!(
        gone(&app, &object_key(&s, &photo)).await,
        "the field's files are deleted"
    );
    app.stop().await;
}

crate::helpers::on_both_backends!(
    a_file_round_trips_and_goes_with_its_record,
    an_upload_is_checked_before_and_after,
    a_removed_fields_files_are_deleted,
);
