//! What every API request leaves behind: its route, status and latency,
//! handed by the route shim (`routes::shim::invoke`, the one place every
//! request passes on Lambda and locally) to whoever observes requests.
//!
//! A process installs one observer ([`install`]: EMF lines and rollups on
//! Lambda); a local gateway scopes its own around the requests it serves
//! ([`scoped`]), because one test process runs many gateways, each with its
//! own table. With neither, nothing is recorded and nothing is computed, so
//! handler tests are unaffected.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The lowest status that is a server error.
pub const SERVER_ERROR: u16 = 500;

/// One request, as the shim saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The function's name in the route table.
    pub function: &'static str,
    /// Its module's name.
    pub module: &'static str,
    /// The method and path template: `GET /api/v1/studio/projects/{id}`.
    pub route: String,
    /// The answer's status.
    pub status: u16,
    /// How long the shim took, access check included.
    pub latency: Duration,
    /// The organization the guard resolved, on a scoped route it let in.
    pub organization: Option<String>,
    /// The project, on a project-, app- or workflow-scoped route.
    pub project: Option<String>,
    /// When the request ended.
    pub at: DateTime<Utc>,
}

impl Observation {
    /// A 4xx answer.
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }

    /// A 5xx answer: what the request metrics count as an error.
    pub fn is_server_error(&self) -> bool {
        self.status >= SERVER_ERROR
    }
}

/// Something that records requests. Called on the request path, so it only
/// counts in memory; writing out happens elsewhere.
pub trait Observer: Send + Sync {
    /// Records one request.
    fn observe(&self, observation: &Observation);
}

static INSTALLED: OnceLock<Arc<dyn Observer>> = OnceLock::new();

tokio::task_local! {
    static SCOPED: Arc<dyn Observer>;
}

/// Installs the process's observer; false when one already is.
pub fn install(observer: Arc<dyn Observer>) -> bool {
    INSTALLED.set(observer).is_ok()
}

/// Runs `future` with `observer` taking the requests it serves, in place
/// of the process's.
pub async fn scoped<F: Future>(observer: Arc<dyn Observer>, future: F) -> F::Output {
    SCOPED.scope(observer, future).await
}

/// Who observes the current request, if anyone.
pub fn current() -> Option<Arc<dyn Observer>> {
    SCOPED
        .try_with(Arc::clone)
        .ok()
        .or_else(|| INSTALLED.get().cloned())
}

/// Observers of one process, each told of every request (on Lambda: the
/// EMF lines and the rollup).
pub struct Both(pub Arc<dyn Observer>, pub Arc<dyn Observer>);

impl Observer for Both {
    fn observe(&self, observation: &Observation) {
        self.0.observe(observation);
        self.1.observe(observation);
    }
}
