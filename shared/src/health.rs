//! `GET /api/v1/health` and the scheduler's heartbeat.
//!
//! Health answers 200 when every port of the function answers its probe and
//! 503 otherwise, naming the port and why; it also shows when the scheduler
//! last ticked, so a stalled schedule is visible.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::http::{HandlerResult, json};
use crate::ports::table::{Key, Update};
use crate::routes::{Access, ApiRoute, BodySchema, Module, Trigger, WorkerRoute, plain};
use crate::services::{Port, Services};

/// The platform's own functions: health, the outbox publisher and the
/// scheduler's tick.
pub const MODULE: Module = Module {
    name: "platform",
    api: &[ApiRoute {
        function: "health",
        method: "GET",
        path: "/api/v1/health",
        access: Access::Public,
        ports: &Port::ALL,
        summary: "Version, backend and the status of each port",
        request: None,
        query: &[],
        response: Some(BodySchema::of::<Health>()),
        status: 200,
        refusals: &[503],
        handler: plain!(get),
    }],
    workers: &[
        WorkerRoute {
            function: "platform-outbox",
            trigger: Trigger::TableStream {
                key_prefix: crate::outbox::KEY_PREFIX,
                handler: |services, batch| {
                    Box::pin(crate::outbox::publish::handle(services, batch))
                },
            },
            ports: &[Port::Events],
            summary: "Publishes the domain events each change committed to the outbox",
            timeout_secs: None,
        },
        WorkerRoute {
            function: "scheduler-tick",
            trigger: Trigger::Schedule {
                expression: "rate(1 minute)",
                handler: |services, event| Box::pin(scheduler_tick(services, event)),
            },
            ports: &[Port::Table],
            summary: "Runs once a minute; records the tick the health report shows",
            timeout_secs: None,
        },
    ],
};

use crate::VERSION;

/// The item holding the scheduler's last tick.
fn tick_key() -> Key {
    Key::new("PLATFORM", "SCHEDULER")
}

/// The health report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when every port answers, `degraded` otherwise.
    pub status: &'static str,
    /// The platform's version.
    pub version: &'static str,
    /// `embedded` or `aws`.
    pub backend: &'static str,
    /// Each built port: `up`, or `down` with the reason.
    pub ports: BTreeMap<&'static str, PortStatus>,
    /// When the scheduler last ticked, if it has.
    pub scheduler_last_tick: Option<DateTime<Utc>>,
}

/// The status of one port.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortStatus {
    /// `up` or `down`.
    pub status: &'static str,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/v1/health`.
pub async fn get(services: Arc<Services>, _request: Request) -> HandlerResult {
    let mut ports = BTreeMap::new();
    let mut healthy = true;
    for (port, result) in services.probe().await {
        healthy &= result.is_ok();
        let status = match result {
            Ok(()) => PortStatus {
                status: "up",
                error: None,
            },
            Err(error) => {
                tracing::warn!(port = port.name(), %error, "port probe failed");
                PortStatus {
                    status: "down",
                    error: Some(error),
                }
            }
        };
        ports.insert(port.name(), status);
    }
    let scheduler_last_tick = match services.table() {
        Ok(table) => table
            .get(&tick_key())
            .await
            .ok()
            .flatten()
            .and_then(|item| item.get("last_tick").cloned())
            .and_then(|v| serde_json::from_value(v).ok()),
        Err(_) => None,
    };
    let report = Health {
        status: if healthy { "ok" } else { "degraded" },
        version: VERSION,
        backend: services.backend(),
        ports,
        scheduler_last_tick,
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &report)
}

/// The once-a-minute tick: records when it ran. Workflows on a cron schedule
/// hook in here when automation arrives.
pub async fn scheduler_tick(
    services: Arc<Services>,
    event: EventBridgeEvent<Value>,
) -> Result<(), String> {
    let at = event.time.unwrap_or_else(Utc::now);
    let table = services.table().map_err(|e| e.to_string())?;
    table
        .update(
            Update::of(tick_key())
                .set("last_tick", json!(at))
                .add("ticks", 1),
        )
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}
