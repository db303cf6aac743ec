//! Insights: what the platform observed.
//!
//! - [`analytics`], [`ingest`]: every domain event stored (per
//!   organization and day, for the retention) and counted (per
//!   organization, project, type, hour and day, sharded), exactly once;
//! - [`usage`], [`events`], [`logs`]: the routes that read them back
//!   ([`routes`]), within a checked time [`window`];
//! - [`emf`], [`rollup`], [`sketch`], [`metrics`], [`live`]: what the
//!   route shim reports of each request ([`crate::requests`]: route,
//!   status, latency), as CloudWatch embedded-metric lines on Lambda and
//!   as hourly rollups with mergeable latency sketches (the metrics route,
//!   the local live view);
//! - [`metric_names`]: the request metrics' contract with the template.
//!
//! Covering a new module takes nothing here: its events reach the ingest
//! worker through the `insights-ingest` rule (every `nocode.*` source).

pub mod analytics;
pub mod emf;
pub mod events;
pub mod ingest;
pub mod live;
pub mod logs;
pub mod metric_names;
pub mod metrics;
pub mod rollup;
pub mod routes;
pub mod sketch;
pub mod usage;
pub mod window;

use crate::routes::{Module, Trigger, WorkerRoute};
use crate::services::Port;

/// Insights' functions.
pub const MODULE: Module = Module {
    name: "insights",
    api: routes::API,
    workers: &[WorkerRoute {
        function: "insights-ingest",
        trigger: Trigger::Queue {
            queue: "insights-ingest",
            handler: |services, event| Box::pin(ingest::handle(services, event)),
        },
        ports: &[Port::Table],
        summary: "Stores and counts every domain event once: per organization and day, and per project, type, hour and day",
        timeout_secs: None,
    }],
};
