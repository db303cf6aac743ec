//! The blob port: S3 semantics on both adapters, presigned URLs exercised
//! over HTTP with the same client code against moto and against the
//! embedded store's presigned route.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use shared::adapters::aws::S3Blobs;
use shared::adapters::embedded::EmbeddedBlobs;
use shared::config::{AwsSettings, EmbeddedSettings};
use shared::ports::blobs::{BlobError, BlobStore, PresignedRequest, UploadPolicy};

use crate::harness;

const BUCKET: &str = "documents";

struct Fixture {
    store: Arc<dyn BlobStore>,
    http: reqwest::Client,
    /// Embedded only: the folder (kept alive) and its settings, to reopen it.
    embedded: Option<(tempfile::TempDir, EmbeddedSettings)>,
}

impl Fixture {
    async fn embedded() -> Self {
        let dir = harness::data_dir();
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => panic!("cannot bind the presigned URL server: {e}"),
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(e) => panic!("the presigned URL server has no address: {e}"),
        };
        let mut settings = EmbeddedSettings::new(dir.path());
        settings.public_url = format!("http://{address}");
        let blobs = open(&settings);
        serve(listener, blobs.clone());
        Self {
            store: Arc::new(blobs),
            http: reqwest::Client::new(),
            embedded: Some((dir, settings)),
        }
    }

    async fn aws() -> Self {
        let sdk = harness::sdk_config().await;
        let buckets = match nocode::emulator::create_buckets(&sdk, &harness::unique("b")).await {
            Ok(buckets) => buckets,
            Err(e) => panic!("{e}"),
        };
        let settings = AwsSettings {
            buckets,
            endpoint_url: sdk.endpoint_url().map(str::to_string),
            ..AwsSettings::default()
        };
        Self {
            store: Arc::new(S3Blobs::new(&sdk, &settings)),
            http: reqwest::Client::new(),
            embedded: None,
        }
    }

    /// Sends a presigned request as a browser would: its URL, its headers,
    /// `body` for an upload.
    async fn send(&self, request: &PresignedRequest, body: &[u8]) -> (u16, Bytes) {
        self.send_with(request, &request.headers, body).await
    }

    async fn send_with(
        &self,
        request: &PresignedRequest,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, Bytes) {
        self.send_as(request.method.clone(), &request.url, headers, body)
            .await
    }

    async fn send_as(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, Bytes) {
        let mut builder = self.http.request(method.clone(), url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if method == http::Method::PUT {
            builder = builder.body(body.to_vec());
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(bytes) => (status, bytes),
            Err(e) => panic!("{method} {url}: reading the answer: {e}"),
        }
    }

    async fn put(&self, key: &str, bytes: &'static [u8], content_type: &str) {
        if let Err(e) = self
            .store
            .put(BUCKET, key, Bytes::from_static(bytes), content_type)
            .await
        {
            panic!("put {key}: {e}");
        }
    }
}

fn open(settings: &EmbeddedSettings) -> EmbeddedBlobs {
    match EmbeddedBlobs::open(settings) {
        Ok(blobs) => blobs,
        Err(e) => panic!("cannot open the embedded blob store: {e}"),
    }
}

/// A stand-in for the local gateway's presigned route: every request goes to
/// `serve_presigned`.
fn serve(listener: tokio::net::TcpListener, blobs: EmbeddedBlobs) {
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let blobs = blobs.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
                Ok(body) => body,
                Err(e) => panic!("reading a request body: {e}"),
            };
            blobs
                .serve_presigned(http::Request::from_parts(parts, body))
                .await
                .map(axum::body::Body::from)
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            panic!("the presigned URL server stopped: {e}");
        }
    });
}

fn policy(content_type: &str, length: u64) -> UploadPolicy {
    UploadPolicy {
        content_type: content_type.into(),
        content_length: length,
        max_size: 1024,
        expires_in: Duration::from_secs(300),
    }
}

fn keys(page: &shared::ports::blobs::BlobPage) -> Vec<&str> {
    page.blobs.iter().map(|b| b.key.as_str()).collect()
}

// ---------------------------------------------------------------------------
// Behaviours both adapters show.

async fn put_get_round_trip(f: &Fixture) {
    f.put("org/1/report.pdf", b"%PDF-1.7 hello", "application/pdf")
        .await;
    let blob = f.store.get(BUCKET, "org/1/report.pdf").await.unwrap();
    assert_eq!(blob.bytes, Bytes::from_static(b"%PDF-1.7 hello"));
    assert_eq!(blob.meta.key, "org/1/report.pdf");
    assert_eq!(blob.meta.size, 14);
    assert_eq!(blob.meta.content_type.as_deref(), Some("application/pdf"));
    let modified = blob.meta.last_modified.expect("a last-modified time");
    assert!((chrono::Utc::now() - modified).num_seconds().abs() < 60);
}

async fn get_missing_is_not_found(f: &Fixture) {
    assert_eq!(
        f.store.get(BUCKET, "nothing/here.txt").await,
        Err(BlobError::NotFound)
    );
}

async fn head_present_and_missing(f: &Fixture) {
    f.put("h/a.txt", b"12345", "text/plain").await;
    let meta = f.store.head(BUCKET, "h/a.txt").await.unwrap().unwrap();
    assert_eq!(meta.size, 5);
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(meta.key, "h/a.txt");
    assert_eq!(f.store.head(BUCKET, "h/b.txt").await, Ok(None));
}

async fn the_start_of_a_blob_reads_alone(f: &Fixture) {
    f.put("r/a.bin", b"0123456789", "application/octet-stream")
        .await;
    let start = f.store.read_start(BUCKET, "r/a.bin", 4).await.unwrap();
    assert_eq!(start, Bytes::from_static(b"0123"));
    let all = f.store.read_start(BUCKET, "r/a.bin", 100).await.unwrap();
    assert_eq!(all, Bytes::from_static(b"0123456789"));
    assert_eq!(
        f.store.read_start(BUCKET, "r/none.bin", 4).await,
        Err(BlobError::NotFound)
    );
}

async fn delete_then_gone(f: &Fixture) {
    f.put("d/a.txt", b"x", "text/plain").await;
    f.store.delete(BUCKET, "d/a.txt").await.unwrap();
    assert_eq!(
        f.store.get(BUCKET, "d/a.txt").await,
        Err(BlobError::NotFound)
    );
    assert_eq!(f.store.head(BUCKET, "d/a.txt").await, Ok(None));
    f.store.delete(BUCKET, "d/a.txt").await.unwrap();
    f.store.delete(BUCKET, "d/never.txt").await.unwrap();
    let page = f.store.list(BUCKET, "d/", None, 10).await.unwrap();
    assert!(page.blobs.is_empty(), "{page:?}");
}

async fn overwrite_replaces_bytes_and_type(f: &Fixture) {
    f.put("o/a", b"first version", "text/plain").await;
    f.put("o/a", b"{}", "application/json").await;
    let blob = f.store.get(BUCKET, "o/a").await.unwrap();
    assert_eq!(blob.bytes, Bytes::from_static(b"{}"));
    assert_eq!(blob.meta.size, 2);
    assert_eq!(blob.meta.content_type.as_deref(), Some("application/json"));
}

async fn list_pages_by_prefix_in_key_order(f: &Fixture) {
    for key in ["p/e", "p/c", "p/a", "p/d", "p/b", "q/a", "pz"] {
        f.put(key, b"123", "text/plain").await;
    }
    for limit in [0, 1001] {
        assert!(matches!(
            f.store.list(BUCKET, "p/", None, limit).await,
            Err(BlobError::Invalid(_))
        ));
    }
    let first = f.store.list(BUCKET, "p/", None, 2).await.unwrap();
    assert_eq!(keys(&first), ["p/a", "p/b"]);
    assert_eq!(first.blobs[0].size, 3);
    assert!(first.blobs[0].last_modified.is_some());
    // S3 list pages don't carry content types; neither adapter invents them.
    assert_eq!(first.blobs[0].content_type, None);
    let cursor = first.next.clone().expect("a second page");
    let second = f.store.list(BUCKET, "p/", Some(&cursor), 2).await.unwrap();
    assert_eq!(keys(&second), ["p/c", "p/d"]);
    let cursor = second.next.clone().expect("a third page");
    let third = f.store.list(BUCKET, "p/", Some(&cursor), 2).await.unwrap();
    assert_eq!(keys(&third), ["p/e"]);
    assert_eq!(third.next, None);

    let all = f.store.list(BUCKET, "p", None, 100).await.unwrap();
    assert_eq!(keys(&all), ["p/a", "p/b", "p/c", "p/d", "p/e", "pz"]);
    assert_eq!(all.next, None);
    let none = f.store.list(BUCKET, "zzz/", None, 100).await.unwrap();
    assert_eq!(none, Default::default());
    assert!(matches!(
        f.store.list(BUCKET, "p/", Some("not a cursor!"), 2).await,
        Err(BlobError::Invalid(_))
    ));
}

/// S3 orders keys by their bytes (`-` sorts before `/`) and lets a key be
/// the folder of others.
async fn list_orders_keys_by_bytes_and_nests_keys(f: &Fixture) {
    for key in ["n/b", "n/a/b", "n/a", "n/a-c", "n/a/b/c"] {
        f.put(key, b"1", "text/plain").await;
    }
    let page = f.store.list(BUCKET, "n/", None, 100).await.unwrap();
    assert_eq!(keys(&page), ["n/a", "n/a-c", "n/a/b", "n/a/b/c", "n/b"]);
    let mid = f.store.list(BUCKET, "n/a/", None, 100).await.unwrap();
    assert_eq!(keys(&mid), ["n/a/b", "n/a/b/c"]);
    let partial = f.store.list(BUCKET, "n/a-", None, 100).await.unwrap();
    assert_eq!(keys(&partial), ["n/a-c"]);
    assert_eq!(f.store.get(BUCKET, "n/a").await.unwrap().meta.size, 1);
}

async fn unknown_bucket_is_refused(f: &Fixture) {
    let unknown = || Err(BlobError::UnknownBucket("nope".into()));
    assert_eq!(
        f.store
            .put("nope", "a", Bytes::from_static(b"x"), "text/plain")
            .await,
        unknown()
    );
    assert_eq!(f.store.get("nope", "a").await.map(|_| ()), unknown());
    assert_eq!(f.store.head("nope", "a").await.map(|_| ()), unknown());
    assert_eq!(f.store.delete("nope", "a").await, unknown());
    assert_eq!(
        f.store.list("nope", "", None, 10).await.map(|_| ()),
        unknown()
    );
    assert_eq!(
        f.store
            .presign_put("nope", "a", &policy("text/plain", 1))
            .await
            .map(|_| ()),
        unknown()
    );
    assert_eq!(
        f.store
            .presign_get("nope", "a", Duration::from_secs(60))
            .await
            .map(|_| ()),
        unknown()
    );
}

async fn presigned_put_then_read_back(f: &Fixture) {
    let body = b"\x89PNG fake image bytes";
    let request = f
        .store
        .presign_put(
            BUCKET,
            "up/avatar.png",
            &policy("image/png", body.len() as u64),
        )
        .await
        .unwrap();
    assert_eq!(request.method, http::Method::PUT);
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("image/png"));
    assert_eq!(header("content-length"), Some("21"));
    assert!(request.expires_at > chrono::Utc::now() + chrono::Duration::seconds(290));

    let (status, answer) = f.send(&request, body).await;
    assert_eq!(status, 200, "{answer:?}");
    let blob = f.store.get(BUCKET, "up/avatar.png").await.unwrap();
    assert_eq!(blob.bytes, Bytes::from_static(body));
    assert_eq!(blob.meta.content_type.as_deref(), Some("image/png"));
}

async fn presigned_get_returns_the_bytes(f: &Fixture) {
    f.put("dl/a b+ü.txt", b"downloaded", "text/plain").await;
    let request = f
        .store
        .presign_get(BUCKET, "dl/a b+ü.txt", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(request.method, http::Method::GET);
    let (status, bytes) = f.send(&request, b"").await;
    assert_eq!(status, 200, "{bytes:?}");
    assert_eq!(bytes, Bytes::from_static(b"downloaded"));
}

async fn upload_above_max_size_is_too_large(f: &Fixture) {
    let policy = UploadPolicy {
        max_size: 10,
        ..policy("image/png", 11)
    };
    assert_eq!(
        f.store.presign_put(BUCKET, "big.png", &policy).await,
        Err(BlobError::TooLarge { size: 11, max: 10 })
    );
}

async fn invalid_key_is_rejected(f: &Fixture) {
    for key in ["", "/abs", "a//b", "a/../../b", "a/./b"] {
        let invalid = |r: Result<(), BlobError>| matches!(r, Err(BlobError::Invalid(_)));
        assert!(
            invalid(
                f.store
                    .put(BUCKET, key, Bytes::from_static(b"x"), "text/plain")
                    .await
            ),
            "{key:?}"
        );
        assert!(
            invalid(f.store.get(BUCKET, key).await.map(|_| ())),
            "{key:?}"
        );
        assert!(
            invalid(f.store.head(BUCKET, key).await.map(|_| ())),
            "{key:?}"
        );
        assert!(invalid(f.store.delete(BUCKET, key).await), "{key:?}");
        assert!(
            invalid(
                f.store
                    .presign_put(BUCKET, key, &policy("text/plain", 1))
                    .await
                    .map(|_| ())
            ),
            "{key:?}"
        );
    }
    assert!(matches!(
        f.store
            .put(BUCKET, "ok", Bytes::from_static(b"x"), "not a type")
            .await,
        Err(BlobError::Invalid(_))
    ));
}

async fn the_backend_answers_a_health_probe(f: &Fixture) {
    assert_eq!(f.store.probe().await, Ok(()));
}

conformance!(Fixture:
    the_backend_answers_a_health_probe,
    put_get_round_trip,
    get_missing_is_not_found,
    head_present_and_missing,
    the_start_of_a_blob_reads_alone,
    delete_then_gone,
    overwrite_replaces_bytes_and_type,
    list_pages_by_prefix_in_key_order,
    list_orders_keys_by_bytes_and_nests_keys,
    unknown_bucket_is_refused,
    presigned_put_then_read_back,
    presigned_get_returns_the_bytes,
    upload_above_max_size_is_too_large,
    invalid_key_is_rejected,
);

// ---------------------------------------------------------------------------
// Behaviours moto cannot show: it does not check presigned signatures.

fn assert_refused(status: u16, answer: &Bytes, code: &str) {
    assert_eq!(status, 403, "{answer:?}");
    let text = String::from_utf8_lossy(answer);
    assert!(text.contains(&format!("<Code>{code}</Code>")), "{text}");
}

async fn upload(f: &Fixture, key: &str, body: &[u8], expires_in: Duration) -> PresignedRequest {
    let policy = UploadPolicy {
        expires_in,
        ..policy("text/plain", body.len() as u64)
    };
    f.store.presign_put(BUCKET, key, &policy).await.unwrap()
}

async fn expired_upload_is_refused_and_stores_nothing(f: &Fixture) {
    let request = upload(f, "late.txt", b"late", Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, answer) = f.send(&request, b"late").await;
    assert_refused(status, &answer, "AccessDenied");
    assert_eq!(f.store.head(BUCKET, "late.txt").await, Ok(None));
}

async fn tampered_or_misused_url_is_refused(f: &Fixture) {
    let request = upload(f, "t/a.txt", b"hello", Duration::from_secs(60)).await;

    let (head, signature) = request.url.split_once("signature=").unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = PresignedRequest {
        url: format!("{head}signature={flipped}{}", &signature[1..]),
        ..request.clone()
    };
    let (status, answer) = f.send(&tampered, b"hello").await;
    assert_refused(status, &answer, "SignatureDoesNotMatch");

    let other_key = PresignedRequest {
        url: request.url.replace("/t/a.txt?", "/t/b.txt?"),
        ..request.clone()
    };
    assert_ne!(other_key.url, request.url);
    let (status, answer) = f.send(&other_key, b"hello").await;
    assert_refused(status, &answer, "SignatureDoesNotMatch");

    let longer_life = PresignedRequest {
        url: request.url.replace("expires=", "expires=9"),
        ..request.clone()
    };
    let (status, answer) = f.send(&longer_life, b"hello").await;
    assert_refused(status, &answer, "SignatureDoesNotMatch");

    for key in ["t/a.txt", "t/b.txt"] {
        assert_eq!(f.store.head(BUCKET, key).await, Ok(None));
    }
}

async fn url_of_another_method_is_refused(f: &Fixture) {
    f.put("m/a.txt", b"secret", "text/plain").await;
    let get = f
        .store
        .presign_get(BUCKET, "m/a.txt", Duration::from_secs(60))
        .await
        .unwrap();
    // A download URL does not allow an upload…
    let (status, answer) = f
        .send_as(
            http::Method::PUT,
            &get.url,
            &[("content-type".into(), "text/plain".into())],
            b"overwritten",
        )
        .await;
    assert_refused(status, &answer, "SignatureDoesNotMatch");
    assert_eq!(
        f.store.get(BUCKET, "m/a.txt").await.unwrap().bytes,
        Bytes::from_static(b"secret")
    );
    // …nor an upload URL a download.
    let put = upload(f, "m/a.txt", b"hello", Duration::from_secs(60)).await;
    let (status, answer) = f.send_as(http::Method::GET, &put.url, &[], b"").await;
    assert_refused(status, &answer, "SignatureDoesNotMatch");
}

async fn upload_of_another_content_type_is_refused(f: &Fixture) {
    let request = upload(f, "ct/a.txt", b"<b>hi</b>", Duration::from_secs(60)).await;
    let html = [("content-type".to_string(), "text/html".to_string())];
    let (status, answer) = f.send_with(&request, &html, b"<b>hi</b>").await;
    assert_refused(status, &answer, "SignatureDoesNotMatch");
    let (status, answer) = f.send_with(&request, &[], b"<b>hi</b>").await;
    assert_refused(status, &answer, "SignatureDoesNotMatch");
    assert_eq!(f.store.head(BUCKET, "ct/a.txt").await, Ok(None));
}

async fn upload_of_another_length_is_refused(f: &Fixture) {
    let request = upload(f, "len/a.txt", b"12345", Duration::from_secs(60)).await;
    // The client announces the true length of what it sends, not the signed one.
    let content_type = [("content-type".to_string(), "text/plain".to_string())];
    for body in [&b"123456"[..], b"1234", b""] {
        let (status, answer) = f.send_with(&request, &content_type, body).await;
        assert_refused(status, &answer, "SignatureDoesNotMatch");
    }
    assert_eq!(f.store.head(BUCKET, "len/a.txt").await, Ok(None));
    let (status, answer) = f.send(&request, b"12345").await;
    assert_eq!(status, 200, "{answer:?}");
}

async fn expired_download_is_refused(f: &Fixture) {
    f.put("late/a.txt", b"gone", "text/plain").await;
    let request = f
        .store
        .presign_get(BUCKET, "late/a.txt", Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, answer) = f.send(&request, b"").await;
    assert_refused(status, &answer, "AccessDenied");
}

async fn blobs_and_urls_survive_reopening(f: &Fixture) {
    let Some((_, settings)) = &f.embedded else {
        panic!("an embedded fixture has its folder")
    };
    f.put("keep/a.json", b"{\"kept\":true}", "application/json")
        .await;
    let url = f
        .store
        .presign_get(BUCKET, "keep/a.json", Duration::from_secs(60))
        .await
        .unwrap();

    let reopened = open(settings);
    let blob = reopened.get(BUCKET, "keep/a.json").await.unwrap();
    assert_eq!(blob.bytes, Bytes::from_static(b"{\"kept\":true}"));
    assert_eq!(blob.meta.content_type.as_deref(), Some("application/json"));
    let page = reopened.list(BUCKET, "keep/", None, 10).await.unwrap();
    assert_eq!(keys(&page), ["keep/a.json"]);
    // The signing key is kept too: a URL made before still works.
    let request = http::Request::get(url.url.as_str())
        .body(Bytes::new())
        .unwrap();
    let response = reopened.serve_presigned(request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), &Bytes::from_static(b"{\"kept\":true}"));
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
}

embedded_only!(Fixture:
    expired_upload_is_refused_and_stores_nothing => "moto does not check S3 presigned signatures",
    tampered_or_misused_url_is_refused => "moto does not check S3 presigned signatures",
    url_of_another_method_is_refused => "moto does not check S3 presigned signatures",
    upload_of_another_content_type_is_refused => "moto does not check S3 presigned signatures",
    upload_of_another_length_is_refused => "moto does not check S3 presigned signatures",
    expired_download_is_refused => "moto does not check S3 presigned signatures",
    blobs_and_urls_survive_reopening => "durability of the embedded data folder; S3 is durable by itself",
);
