//! Durability of workflow executions: the local platform (the real gateway
//! on embedded backends, in a child process) takes 1,000 webhook-started
//! executions of a workflow that calls an HTTP server of this test and
//! creates a record; it is killed with SIGKILL in the middle, started again
//! on the same data folder, and then every accepted execution must end
//! `succeeded`, each with one record, and no step that had completed may
//! have run again: the server saw each step's request at most as many times
//! as the engine took that step.
//!
//! The same binary is parent and child (`NOCODE_WORKFLOW_CHILD` names the
//! child's data folder and the test server's port).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use nocode::gateway::{self, GatewayBackend, GatewayConfig, WorkerSettings};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use shared::config::{AllowList, EmbeddedSettings};

const CHILD: &str = "NOCODE_WORKFLOW_CHILD";
const EXECUTIONS: usize = 1000;
/// Concurrent webhook posts.
const CLIENTS: usize = 16;
/// The kill comes once this many executions have succeeded.
const KILL_AFTER: u64 = 250;
const PASSWORD: &str = "Correct-Horse-9";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match std::env::var(CHILD) {
        Ok(dir) => runtime.block_on(child(&dir)),
        Err(_) => {
            runtime.block_on(parent());
            println!("workflow durability: 1 passed, 0 failed");
        }
    }
}

/// The local platform on `dir`, printing its URL, until killed.
async fn child(dir: &str) {
    let running = gateway::start(GatewayConfig {
        addr: "127.0.0.1:0".parse().expect("address"),
        backend: GatewayBackend::Embedded(EmbeddedSettings::new(dir)),
        workers: WorkerSettings {
            poll_wait: Duration::from_millis(200),
            retry_after: Duration::from_millis(100),
            tick_every: Some(Duration::from_millis(500)),
            ..WorkerSettings::default()
        },
        public_url: None,
        bus_wrapper: None,
        http_allow: AllowList::parse("127.0.0.1").expect("an allow-list"),
    })
    .await
    .expect("start the gateway");
    println!("url {}", running.url());
    std::future::pending::<()>().await;
}

fn spawn(dir: &Path) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the platform");
    let stdout = child.stdout.take().expect("its stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the platform printed its URL")
            .expect("read");
        if let Some(url) = line.strip_prefix("url ") {
            break url.to_string();
        }
    };
    (child, url)
}

/// Requests the test server saw, by idempotency key.
type Hits = Arc<Mutex<BTreeMap<String, u32>>>;

async fn test_server() -> (String, Hits) {
    let hits: Hits = Arc::default();
    let seen = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/hit",
        axum::routing::post(move |headers: HeaderMap| {
            let seen = Arc::clone(&seen);
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                *seen.lock().expect("hits").entry(key).or_default() += 1;
                axum::Json(json!({"ok": true}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

struct Api {
    client: Client,
    url: String,
    token: String,
}

impl Api {
    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the platform answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn created(&self, path: &str, body: Value) -> Value {
        let (status, made) = self.json(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {made}");
        made
    }
}

async fn sign_up(client: &Client, url: &str) -> String {
    let email = format!(
        "{}@example.com",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let registered = client
        .post(format!("{url}/api/v1/foundation/auth/register/client/"))
        .json(&json!({"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace"}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    email
}

async fn sign_in(client: &Client, url: &str, email: &str) -> String {
    let tokens: Value = client
        .post(format!("{url}/api/v1/foundation/auth/login/"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("tokens");
    tokens["access"].as_str().expect("access").to_string()
}

/// How many of the workflow's executions are in `status`, and the first
/// few of them.
async fn in_status(api: &Api, workflow: &str, status: &str) -> (u64, Value) {
    let (code, page) = api
        .json(
            Method::GET,
            &format!(
                "/api/v1/automation/workflows/{workflow}/executions?status={status}&count=true&limit=3"
            ),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    (page["total"].as_u64().unwrap_or(0), page)
}

async fn succeeded(api: &Api, workflow: &str) -> u64 {
    in_status(api, workflow, "succeeded").await.0
}

/// Posts `numbers` to the hook, `CLIENTS` at a time; gives the execution id
/// of each post the platform accepted (a post to a dead platform is not).
async fn post_all(client: &Client, hook: &str, numbers: Vec<usize>) -> Vec<(usize, String)> {
    let queue = Arc::new(Mutex::new(numbers));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (client, hook, queue) = (client.clone(), hook.to_string(), Arc::clone(&queue));
        tasks.spawn(async move {
            let mut accepted = Vec::new();
            loop {
                let Some(n) = queue.lock().expect("queue").pop() else {
                    return accepted;
                };
                let Ok(response) = client.post(&hook).json(&json!({"n": n})).send().await else {
                    return accepted;
                };
                if response.status() != StatusCode::ACCEPTED {
                    return accepted;
                }
                let Ok(body) = response.json::<Value>().await else {
                    return accepted;
                };
                accepted.push((n, body["execution_id"].as_str().expect("id").to_string()));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.expect("a poster"));
    }
    all
}

async fn parent() {
    let dir = tempfile::tempdir().expect("data folder");
    let (server, hits) = test_server().await;
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");

    let (mut platform, url) = spawn(dir.path());
    let email = sign_up(&client, &url).await;
    let token = sign_in(&client, &url, &email).await;
    let mut api = Api {
        client: client.clone(),
        url,
        token,
    };
    let org = api
        .created(
            "/api/v1/foundation/organizations/",
            json!({"name": "Durable"}),
        )
        .await;
    let project = api
        .created(
            "/api/v1/studio/projects",
            json!({"organization_id": org["id"], "name": "Durable"}),
        )
        .await;
    let project_id = project["id"].as_str().expect("id").to_string();
    let table = api
        .created(
            &format!("/api/v1/studio/projects/{project_id}/add_table"),
            json!({"name": "Hits", "fields": [{"name": "n", "type": "integer"}]}),
        )
        .await;
    let table_id = table["id"].as_str().expect("id").to_string();
    let flow = api
        .created(
            "/api/v1/automation/workflows/",
            json!({"project_id": project_id, "name": "Durable", "enabled": true, "definition": {
                "trigger": {"type": "webhook"}, "start": "keep", "steps": [
                    {"id": "keep", "type": "set_variable", "name": "n", "value": "{{ trigger.body.n }}", "next": [{"to": "call"}]},
                    {"id": "call", "type": "http_request", "method": "POST", "url": format!("{server}/hit"),
                     "body": {"n": "{{ vars.n }}"}, "timeout_ms": 2000, "next": [{"to": "save"}]},
                    {"id": "save", "type": "create_record", "table": table_id, "values": {"n": "{{ vars.n }}"}, "next": [{"to": "done"}]},
                    {"id": "done", "type": "noop"}]}}),
        )
        .await;
    let workflow = flow["id"].as_str().expect("id").to_string();
    let hook_path = flow["webhook"]["url"].as_str().expect("a hook").to_string();

    // Post all 1,000 while the platform runs them; SIGKILL it in the middle.
    let posting = {
        let (client, hook) = (client.clone(), format!("{}{hook_path}", api.url));
        tokio::spawn(async move { post_all(&client, &hook, (0..EXECUTIONS).rev().collect()).await })
    };
    let started = Instant::now();
    let done_at_kill = loop {
        let done = succeeded(&api, &workflow).await;
        if done >= KILL_AFTER {
            break done;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {done} executions succeeded in two minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    platform.kill().expect("SIGKILL the platform");
    platform.wait().expect("reap it");
    let mut accepted = posting.await.expect("posters");
    println!(
        "workflow durability: killed with {} of {EXECUTIONS} accepted, {done_at_kill} succeeded",
        accepted.len()
    );
    assert!(
        done_at_kill < EXECUTIONS as u64,
        "the kill came after every execution ended"
    );

    // Again on the same folder: the rest are posted, and everything ends.
    let (mut platform, url) = spawn(dir.path());
    api.token = sign_in(&client, &url, &email).await;
    api.url = url;
    let taken: BTreeSet<usize> = accepted.iter().map(|(n, _)| *n).collect();
    let rest: Vec<usize> = (0..EXECUTIONS).filter(|n| !taken.contains(n)).collect();
    let more = post_all(&client, &format!("{}{hook_path}", api.url), rest).await;
    accepted.extend(more);
    assert_eq!(
        accepted.len(),
        EXECUTIONS,
        "every post is accepted after the restart"
    );

    let started = Instant::now();
    loop {
        let done = succeeded(&api, &workflow).await;
        if done == EXECUTIONS as u64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(240) {
            let mut unfinished = Vec::new();
            for status in ["queued", "running", "failed", "cancelled"] {
                let (total, page) = in_status(&api, &workflow, status).await;
                unfinished.push(format!("{status}: {total} {page}"));
            }
            panic!(
                "{done} of {EXECUTIONS} executions succeeded four minutes after the restart; {}",
                unfinished.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Each one, step by step: taken as often as the server saw it, at least.
    let hits = hits.lock().expect("hits").clone();
    let mut retaken = 0;
    for (n, id) in &accepted {
        let (status, execution) = api
            .json(
                Method::GET,
                &format!("/api/v1/automation/workflows/{workflow}/executions/{id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{execution}");
        assert_eq!(execution["status"], "succeeded", "{execution}");
        assert_eq!(execution["vars"]["n"], *n, "{execution}");
        let call = &execution["steps"]["call"];
        let attempts = call["attempts"].as_u64().expect("attempts");
        let seen = u64::from(hits.get(&format!("{id}:call")).copied().unwrap_or(0));
        assert!(
            seen >= 1 && seen <= attempts,
            "{id}: the server saw the call {seen} times, the engine took it {attempts}"
        );
        for step in ["call", "save"] {
            retaken += execution["steps"][step]["attempts"].as_u64().unwrap_or(1) - 1;
        }
    }
    // Only the steps that were running at the kill may have been taken again.
    assert!(
        retaken <= 2 * CLIENTS as u64 + 64,
        "{retaken} steps were taken again"
    );

    // One record per execution: the record step made each once.
    let mut numbers = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path =
            format!("/api/v1/runtime/projects/{project_id}/tables/{table_id}/records?limit=100");
        if let Some(cursor) = &next {
            path.push_str(&format!("&next={cursor}"));
        }
        let (status, page) = api.json(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for record in page["items"].as_array().expect("items") {
            numbers.push(record["n"].as_f64().expect("n") as usize);
        }
        next = page["next"].as_str().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (0..EXECUTIONS).collect::<Vec<_>>(),
        "one record per execution"
    );
    println!(
        "workflow durability: {EXECUTIONS} succeeded after the restart, {retaken} steps taken again, no record twice"
    );
    platform.kill().expect("stop the platform");
    platform.wait().expect("reap it");
}
