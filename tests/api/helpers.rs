//! The test app: the real local gateway on an ephemeral port with a fresh
//! data folder (embedded) or fresh resources on moto (AWS), spoken to over
//! HTTP only. State behind the API is read through the gateway's ports.

use std::sync::Arc;
use std::time::Duration;

use nocode::gateway::{
    self, BusWrapper, GatewayBackend, GatewayConfig, RunningGateway, WorkerSettings,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::adapters::embedded::identity::{MessageKind, latest_code};
use shared::config::{AllowList, EmbeddedSettings};
use shared::services::Services;

fn loopback() -> AllowList {
    AllowList::parse("127.0.0.1").expect("an allow-list")
}

/// A password the pool's policy accepts.
pub const PASSWORD: &str = "Correct-Horse-9";

pub struct TestApp {
    gateway: Option<RunningGateway>,
    pub services: Arc<Services>,
    pub url: String,
    pub client: reqwest::Client,
    pub data_dir: Option<tempfile::TempDir>,
    /// The emulator's URL, on moto.
    pub moto_url: Option<String>,
}

/// A signed-up, signed-in user.
#[derive(Clone)]
pub struct User {
    pub email: String,
    pub id: String,
    pub access: String,
    pub id_token: String,
}

fn workers() -> WorkerSettings {
    WorkerSettings {
        poll_wait: Duration::from_millis(200),
        retry_after: Duration::from_millis(100),
        // Each tick writes (the health report's tick); on moto every write
        // makes later transactions slower (it copies the table), so not
        // too often.
        tick_every: Some(Duration::from_secs(1)),
        ..WorkerSettings::default()
    }
}

impl TestApp {
    /// The gateway on embedded backends in a fresh folder.
    pub async fn embedded() -> Self {
        Self::embedded_with(|_| {}).await
    }

    /// The same, with settings changed first (say, no auto-confirm).
    pub async fn embedded_with(change: impl FnOnce(&mut EmbeddedSettings)) -> Self {
        let dir = tempfile::tempdir().expect("data folder");
        let mut settings = EmbeddedSettings::new(dir.path());
        change(&mut settings);
        Self::start(
            GatewayBackend::Embedded(settings),
            Some(dir),
            None,
            AllowList::default(),
        )
        .await
    }

    /// The embedded gateway with its event bus behind `wrapper`.
    pub async fn embedded_with_bus(wrapper: BusWrapper) -> Self {
        let dir = tempfile::tempdir().expect("data folder");
        let settings = EmbeddedSettings::new(dir.path());
        Self::start(
            GatewayBackend::Embedded(settings),
            Some(dir),
            Some(wrapper),
            AllowList::default(),
        )
        .await
    }

    /// The latest code the embedded pool e-mailed to `to`.
    pub fn code_sent_to(&self, to: &str, kind: MessageKind) -> String {
        let dir = self.data_dir.as_ref().expect("an embedded app").path();
        latest_code(dir, to, kind)
            .expect("read the mailbox")
            .expect("a code in the mailbox")
    }

    /// The gateway on the AWS adapters, against fresh resources on moto.
    pub async fn aws() -> Self {
        Self::aws_wrapped(None, AllowList::default()).await
    }

    /// The embedded gateway whose workflows may call the test's own
    /// servers on loopback (the allow-list setting).
    pub async fn embedded_with_loopback() -> Self {
        let dir = tempfile::tempdir().expect("data folder");
        let settings = EmbeddedSettings::new(dir.path());
        Self::start(
            GatewayBackend::Embedded(settings),
            Some(dir),
            None,
            loopback(),
        )
        .await
    }

    /// The moto gateway whose workflows may call loopback.
    pub async fn aws_with_loopback() -> Self {
        Self::aws_wrapped(None, loopback()).await
    }

    /// The moto gateway with its event bus behind `wrapper`.
    pub async fn aws_with_bus(wrapper: BusWrapper) -> Self {
        Self::aws_wrapped(Some(wrapper), AllowList::default()).await
    }

    async fn aws_wrapped(wrapper: Option<BusWrapper>, http_allow: AllowList) -> Self {
        let moto = std::env::var("NOCODE_TEST_MOTO_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .expect("NOCODE_TEST_MOTO_URL is not set: run the suite with infra/test");
        let sdk = nocode::emulator::sdk_config(&moto).await;
        let suffix = ulid::Ulid::generate().to_string().to_lowercase();
        let settings = nocode::emulator::provision_all(&sdk, &suffix)
            .await
            .expect("provision on moto");
        let mut app = Self::start(
            GatewayBackend::Aws {
                sdk: Box::new(sdk),
                settings,
            },
            None,
            wrapper,
            http_allow,
        )
        .await;
        app.moto_url = Some(moto);
        app
    }

    /// The bodies of the mail the platform sent `to`: the local mailbox's
    /// secrets on embedded, what SES sent on moto (moto keeps every message).
    pub async fn mail_to(&self, to: &str) -> Vec<String> {
        if let Some(dir) = &self.data_dir {
            return shared::adapters::embedded::mailbox::mailbox(dir.path())
                .expect("read the mailbox")
                .into_iter()
                .filter(|m| m.to == to)
                .map(|m| m.code)
                .collect();
        }
        let url = self.moto_url.as_deref().expect("an app on moto");
        // moto builds this dump from live state: while other tests change
        // it, a dump may fail; the next one does not.
        let data: Value = nocode_tests::eventually(Duration::from_secs(10), || async {
            let response = self
                .client
                .get(format!("{url}/moto-api/data.json"))
                .send()
                .await
                .ok()?;
            response.json::<Value>().await.ok()
        })
        .await
        .expect("moto's data");
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|to_all| to_all.iter().any(|a| a == to))
            })
            .filter_map(|m| m["body"].as_str().map(str::to_string))
            .collect()
    }

    async fn start(
        backend: GatewayBackend,
        data_dir: Option<tempfile::TempDir>,
        bus_wrapper: Option<BusWrapper>,
        http_allow: AllowList,
    ) -> Self {
        let running = gateway::start(GatewayConfig {
            addr: "127.0.0.1:0".parse().expect("address"),
            backend,
            workers: workers(),
            public_url: None,
            bus_wrapper,
            http_allow,
        })
        .await
        .expect("start the gateway");
        Self {
            services: Arc::clone(&running.services),
            url: running.url(),
            gateway: Some(running),
            // A request the gateway never answers fails its test instead
            // of hanging the run.
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .expect("a client"),
            data_dir,
            moto_url: None,
        }
    }

    /// Sends a request; `token` goes in as a bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the gateway answers")
    }

    /// Sends a request and reads the JSON answer.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let response = self.call(method, path, body, token).await;
        let status = response.status();
        let text = response.text().await.expect("a body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, value)
    }

    /// Registers, confirms (moto's pool does not auto-confirm) and signs in.
    pub async fn signed_up_user(&self) -> User {
        let email = format!(
            "{}@example.com",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        self.signed_up_user_with(&email).await
    }

    /// An organization created by `owner`; gives its id.
    pub async fn organization(&self, owner: &User, name: &str) -> String {
        let (status, body) = self
            .json(
                Method::POST,
                "/api/v1/foundation/organizations/",
                Some(json!({"name": name})),
                Some(&owner.access),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// A new studio project of `org`, made by `owner`; its id.
    pub async fn project(&self, owner: &User, org: &str, name: &str) -> String {
        let (status, body) = self
            .json(
                Method::POST,
                "/api/v1/studio/projects",
                Some(json!({"organization_id": org, "name": name})),
                Some(&owner.access),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// A new data table of `project`, as `body` describes it; the table.
    pub async fn add_table(&self, owner: &User, project: &str, body: Value) -> Value {
        let (status, table) = self
            .json(
                Method::POST,
                &format!("/api/v1/studio/projects/{project}/add_table"),
                Some(body),
                Some(&owner.access),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{table}");
        table
    }

    /// A new user who joined `org` with `role` through an invitation by `admin`.
    pub async fn member(&self, org: &str, admin: &User, role: &str) -> User {
        let email = format!(
            "{}@example.com",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let (status, invitation) = self
            .json(
                Method::POST,
                &format!("/api/v1/foundation/organizations/{org}/invitations/"),
                Some(json!({"email": email, "role": role})),
                Some(&admin.access),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{invitation}");
        let user = self.signed_up_user_with(&email).await;
        let (status, body) = self
            .json(
                Method::POST,
                "/api/v1/foundation/invitations/accept/",
                Some(json!({"token": invitation["token"]})),
                Some(&user.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        user
    }

    /// The organization's audit entries, newest first, as `admin` sees them.
    pub async fn audit(&self, org: &str, admin: &User, query: &str) -> Vec<Value> {
        let (status, body) = self
            .json(
                Method::GET,
                &format!("/api/v1/foundation/organizations/{org}/audit/?{query}"),
                None,
                Some(&admin.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Registers `email`, confirms it where needed and signs in.
    pub async fn signed_up_user_with(&self, email: &str) -> User {
        self.signed_up_as(email, PASSWORD).await
    }

    /// Registers `email` with `password`, confirms it where needed (moto's
    /// pool does not auto-confirm) and signs in.
    pub async fn signed_up_as(&self, email: &str, password: &str) -> User {
        let email = email.to_string();
        let (status, body) = self
            .json(
                Method::POST,
                "/api/v1/foundation/auth/register/client/",
                Some(json!({
                    "email": email, "password": password,
                    "first_name": "Ada", "last_name": "Lovelace"
                })),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        if body["confirmed"] == false {
            self.services
                .identity()
                .expect("identity")
                .confirm_sign_up(&email, "123456")
                .await
                .expect("confirm on moto");
        }
        let (status, tokens) = self
            .json(
                Method::POST,
                "/api/v1/foundation/auth/login/",
                Some(json!({"email": email, "password": password})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        User {
            email,
            id: tokens["user"]["id"].as_str().expect("user id").to_string(),
            access: tokens["access"].as_str().expect("access").to_string(),
            id_token: tokens["id_token"].as_str().expect("id token").to_string(),
        }
    }

    /// Writes the gateway's request counters to the table now.
    pub async fn flush_metrics(&self) -> usize {
        self.gateway
            .as_ref()
            .expect("a running gateway")
            .flush_metrics()
            .await
            .expect("request counters written")
    }

    pub async fn stop(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
    }
}

/// Sends `bytes` the way a presigned request (`{method, url, headers}`, as
/// the files route answers it) says; asserts the store took them.
pub async fn upload(app: &TestApp, presigned: &Value, bytes: &[u8]) {
    let method = Method::from_bytes(presigned["method"].as_str().expect("a method").as_bytes())
        .expect("an HTTP method");
    let mut request = app
        .client
        .request(method, presigned["url"].as_str().expect("a URL"))
        .body(bytes.to_vec());
    for (name, value) in presigned["headers"].as_object().expect("headers") {
        // reqwest sets the length from the body.
        if name != "content-length" {
            request = request.header(name, value.as_str().expect("a header value"));
        }
    }
    let response = request.send().await.expect("the store answers");
    let status = response.status();
    assert!(
        status.is_success(),
        "upload refused: {status} {}",
        response.text().await.unwrap_or_default()
    );
}

/// Sends a request with an app's API key.
pub async fn with_key(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    key: &str,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.url))
        .header("x-api-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, value)
}

/// Asserts a problem+json answer with its code and the request id.
pub async fn assert_problem(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], format!("urn:nocode:problem:{code}"));
    body
}

pub use nocode_tests::eventually;

/// Runs each `async fn(TestApp)` named as a test on both backends: in
/// `embedded::<name>` on a fresh data folder and in `moto::<name>` on fresh
/// resources of the AWS emulator. One use per test module.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::TestApp::embedded().await).await;
                }
            )+
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::TestApp::aws().await).await;
                }
            )+
        }
    };
}
pub(crate) use on_both_backends;

/// How many events of a type an organization had on a UTC day, as the
/// insights counters say (`None` when they cannot be read).
pub async fn counted(
    table: &dyn shared::ports::table::ItemTable,
    organization: &str,
    day: &str,
    detail_type: &str,
) -> Option<u64> {
    shared::insights::usage::count(
        table,
        organization,
        shared::insights::analytics::Granularity::Day,
        day,
        detail_type,
        None,
    )
    .await
    .ok()
}
