//! Request counters per organization, project, route and UTC hour: counted
//! in memory as requests end, merged into the table by [`Rollup::flush`].
//!
//! An item is `pk = INSIGHTS#<org>`, `sk = METRICS#<hour>#<route>#<project
//! or ->` with the request count, 4xx and 5xx counts and the latency
//! sketch. A sketch merge is no atomic add, so a flush reads the item,
//! merges and writes it back under its version, again on a conflict: many
//! processes (Lambda containers, a gateway) flush into the same items.
//!
//! Requests without an organization (sign-in, the caller's own lists) are
//! not stored: no route would show them. They still feed the live view.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use super::live::{LiveRoute, LiveWindow};
use super::sketch::Sketch;
use crate::ports::table::{Condition, Item, ItemTable, Key, TableError, VERSION};
use crate::requests::{Observation, Observer};

/// The sort key prefix of request counters.
pub const METRICS_PREFIX: &str = "METRICS#";
/// The project part of an organization-level route's counter.
pub const NO_PROJECT: &str = "-";
/// How a counter's hour is written (`2026-12-03T10`).
pub const HOUR_FORMAT: &str = "%Y-%m-%dT%H";
/// Conflicting flushes a counter waits out before it is left for the next.
const ATTEMPTS: usize = 8;
/// Counters held at most between flushes: past it, new ones are dropped
/// (a table that stays down must not take the process's memory).
const MAX_PENDING: usize = 20_000;

/// Where a counter is stored.
pub fn counter_key(organization: &str, hour: &str, route: &str, project: Option<&str>) -> Key {
    Key::new(
        format!("INSIGHTS#{organization}"),
        format!(
            "{METRICS_PREFIX}{hour}#{route}#{}",
            project.unwrap_or(NO_PROJECT)
        ),
    )
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CounterId {
    organization: String,
    project: Option<String>,
    route: String,
    hour: String,
}

/// One counter's figures.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Requests.
    pub requests: u64,
    /// Of which answered 4xx.
    pub client_errors: u64,
    /// Of which answered 5xx.
    pub server_errors: u64,
    /// Their latencies.
    pub sketch: Sketch,
}

impl Counts {
    /// Adds `other`'s figures.
    pub fn merge(&mut self, other: &Counts) -> Result<(), super::sketch::SketchError> {
        self.requests += other.requests;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.sketch.merge(&other.sketch)
    }

    /// The figures a stored counter holds.
    pub fn from_item(item: &Item) -> Result<Self, String> {
        let number = |name: &str| item.get(name).and_then(Value::as_u64).unwrap_or(0);
        let sketch = match item.get("sketch").and_then(Value::as_str) {
            Some(text) => Sketch::from_text(text).map_err(|e| e.to_string())?,
            None => Sketch::new(),
        };
        Ok(Self {
            requests: number("requests"),
            client_errors: number("client_errors"),
            server_errors: number("server_errors"),
            sketch,
        })
    }
}

/// Why a flush left counters for the next one.
#[derive(Debug, thiserror::Error)]
#[error("{failed} request counters not flushed: {last}")]
pub struct FlushError {
    /// How many.
    pub failed: usize,
    /// The last failure.
    pub last: String,
}

/// The request observer that counts for the table and the live view.
#[derive(Default)]
pub struct Rollup {
    pending: Mutex<HashMap<CounterId, Counts>>,
    live: Mutex<LiveWindow>,
}

/// A poisoned lock only means a panic elsewhere mid-count: the counts are
/// still worth keeping.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Observer for Rollup {
    fn observe(&self, observation: &Observation) {
        lock(&self.live).record(
            &observation.route,
            observation.at.timestamp(),
            observation.latency,
            observation.is_server_error(),
        );
        let Some(organization) = &observation.organization else {
            return;
        };
        let id = CounterId {
            organization: organization.clone(),
            project: observation.project.clone(),
            route: observation.route.clone(),
            hour: observation.at.format(HOUR_FORMAT).to_string(),
        };
        let mut pending = lock(&self.pending);
        if pending.len() >= MAX_PENDING && !pending.contains_key(&id) {
            tracing::warn!(route = %id.route, "request counters full: a request is not counted");
            return;
        }
        let counts = pending.entry(id).or_default();
        counts.requests += 1;
        counts.client_errors += u64::from(observation.is_client_error());
        counts.server_errors += u64::from(observation.is_server_error());
        counts.sketch.record(observation.latency);
    }
}

impl Rollup {
    /// An empty rollup.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every route with requests in the live window ending at Unix second
    /// `now`.
    pub fn live(&self, now: i64) -> Vec<LiveRoute> {
        lock(&self.live).snapshot(now)
    }

    /// Merges what was counted since the last flush into `table`; gives
    /// how many counters it wrote. A counter that could not be written is
    /// kept for the next flush.
    pub async fn flush(&self, table: &dyn ItemTable) -> Result<usize, FlushError> {
        let taken = std::mem::take(&mut *lock(&self.pending));
        let (mut written, mut failed, mut last) = (0, 0, String::new());
        for (id, counts) in taken {
            match merge_into(table, &id, &counts).await {
                Ok(()) => written += 1,
                Err(error) => {
                    failed += 1;
                    last = error;
                    self.keep(id, counts);
                }
            }
        }
        if failed > 0 {
            return Err(FlushError { failed, last });
        }
        Ok(written)
    }

    /// Puts back a counter a flush could not write.
    fn keep(&self, id: CounterId, counts: Counts) {
        let mut pending = lock(&self.pending);
        match pending.get_mut(&id) {
            Some(newer) => {
                let _ = newer.merge(&counts);
            }
            None => {
                pending.insert(id, counts);
            }
        }
    }
}

/// Read, merge, write under the read version; again on a conflict.
async fn merge_into(table: &dyn ItemTable, id: &CounterId, counts: &Counts) -> Result<(), String> {
    let key = counter_key(&id.organization, &id.hour, &id.route, id.project.as_deref());
    for attempt in 0..ATTEMPTS {
        let current = table.get(&key).await.map_err(|e| e.to_string())?;
        let (mut total, version, condition) = match &current {
            Some(item) => {
                let version = item.get(VERSION).and_then(Value::as_u64).unwrap_or(0);
                (
                    Counts::from_item(item)?,
                    version,
                    Condition::version_is(version),
                )
            }
            None => (Counts::default(), 0, Condition::Absent),
        };
        total.merge(counts).map_err(|e| e.to_string())?;
        let item = json!({
            "pk": key.pk,
            "sk": key.sk,
            "organization_id": id.organization,
            "project_id": id.project,
            "route": id.route,
            "hour": id.hour,
            "requests": total.requests,
            "client_errors": total.client_errors,
            "server_errors": total.server_errors,
            "sketch": total.sketch.to_text().map_err(|e| e.to_string())?,
            VERSION: version + 1,
        });
        let Value::Object(mut item) = item else {
            return Err("a counter is not an object".into());
        };
        if id.project.is_none() {
            item.remove("project_id");
        }
        match table.put(item, Some(condition)).await {
            Ok(()) => return Ok(()),
            Err(TableError::ConditionFailed | TableError::Throttled) => {
                // Another flush wrote between our read and write.
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
            }
            Err(error) => return Err(error.to_string()),
        }
    }
    Err(format!("{}: still conflicting", key.sk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sort_by_hour_then_route() {
        let key = counter_key("o1", "2026-12-03T10", "GET /api/v1/x", None);
        assert_eq!(key.pk, "INSIGHTS#o1");
        assert_eq!(key.sk, "METRICS#2026-12-03T10#GET /api/v1/x#-");
        let project = counter_key("o1", "2026-12-03T10", "GET /api/v1/x", Some("p1"));
        assert!(project.sk.ends_with("#p1"));
    }

    #[test]
    fn observations_are_counted_by_organization_project_route_and_hour() {
        let rollup = Rollup::new();
        let at = chrono::Utc::now();
        let seen = |status, organization: Option<&str>, project: Option<&str>| Observation {
            function: "f",
            module: "m",
            route: "GET /r".into(),
            status,
            latency: Duration::from_millis(3),
            organization: organization.map(str::to_string),
            project: project.map(str::to_string),
            at,
        };
        rollup.observe(&seen(200, Some("o"), None));
        rollup.observe(&seen(404, Some("o"), None));
        rollup.observe(&seen(500, Some("o"), Some("p")));
        rollup.observe(&seen(200, None, None));
        let pending = lock(&rollup.pending);
        assert_eq!(pending.len(), 2);
        let org = pending
            .iter()
            .find(|(id, _)| id.project.is_none())
            .map(|(_, c)| (c.requests, c.client_errors, c.server_errors));
        assert_eq!(org, Some((2, 1, 0)));
        drop(pending);
        // The live view saw all four, the one without a tenant too.
        let live = rollup.live(at.timestamp());
        assert_eq!(live.len(), 1);
        assert!((live[0].requests_per_second - 0.4).abs() < 1e-9);
    }
}
