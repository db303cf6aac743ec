//! Insights: what the platform observed. For now the ingest worker that
//! counts every domain event.

pub mod ingest;

use crate::routes::{Module, Trigger, WorkerRoute};
use crate::services::Port;

/// Insights' functions.
pub const MODULE: Module = Module {
    name: "insights",
    api: &[],
    workers: &[WorkerRoute {
        function: "insights-ingest",
        trigger: Trigger::Queue {
            queue: "insights-ingest",
            handler: |services, event| Box::pin(ingest::handle(services, event)),
        },
        ports: &[Port::Table],
        summary: "Counts every domain event per organization, day and type",
        timeout_secs: None,
    }],
};
