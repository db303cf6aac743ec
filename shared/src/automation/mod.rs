//! Automation: workflows of a project — one trigger (by hand, a domain
//! event, a cron schedule, an inbound webhook) and a graph of steps — and
//! the engine that runs their executions step by step through a queue.
//!
//! - [`definition`] and [`expr`], [`cron`]: what a workflow says and the
//!   checks it passes, plain modules with no I/O;
//! - [`workflows`], [`executions`]: the routes;
//! - [`engine`], [`steps`]: running executions, exactly once where it
//!   matters;
//! - [`triggers`], [`defaults`]: what starts them on their own.
//!
//! Automation reads and writes records through the runtime, and reads the
//! project and its tables from studio (`tests/layering.rs` names both edges).

pub mod cron;
pub mod defaults;
pub mod definition;
pub mod engine;
pub mod error;
pub mod executions;
pub mod expr;
pub mod routes;
pub mod steps;
pub mod triggers;
pub mod workflows;

pub use error::AutomationError;

/// The events' module name: `nocode.automation`.
pub const EVENTS: &str = "automation";
