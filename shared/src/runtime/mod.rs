//! Runtime: the generated REST API of every table a builder defines, and
//! the apps that deploy a project: their manifests, versions, API keys and
//! files. It serves the tables and pages studio models
//! ([`crate::studio::tables`] and their schema), which is the one module
//! edge the layering allows.
//!
//! Everything a table's records need lives in the table's own partition
//! (`RECORDS#<table>`): one table's traffic never queues behind another's,
//! and clearing a deleted table is clearing one partition.

pub mod api_keys;
pub mod apps;
pub mod authorizer;
pub mod batch;
pub mod cleanup;
pub mod cursor;
pub mod deploys;
pub mod drafts;
pub mod error;
pub mod files;
pub mod filter;
pub mod indexer;
pub mod keys;
pub mod listing;
pub mod manifest;
pub mod plan;
pub mod predicate;
pub mod records;
pub mod routes;
pub mod values;

pub use error::RuntimeError;

/// The events' module name: `nocode.runtime`.
pub const EVENTS: &str = "runtime";

/// The partition of a table's records and what keeps them consistent.
pub fn partition(table_id: &str) -> String {
    format!("RECORDS#{table_id}")
}
