//! Studio: where a builder models an app. Projects live in an organization;
//! everything a project holds (tables, pages, history) lives in the
//! project's own partition, so deleting a project is one partition to clear.

pub mod bundle;
pub mod cleanup;
pub mod components;
pub mod custom;
pub mod error;
pub mod exports;
pub mod keys;
pub mod pages;
pub mod projects;
pub mod routes;
pub mod schema;
pub mod tables;
pub mod tree;

pub use error::StudioError;

/// The events' module name: `nocode.studio`.
pub const EVENTS: &str = "studio";

/// Now, as every studio item states times (RFC 3339, milliseconds, UTC).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
