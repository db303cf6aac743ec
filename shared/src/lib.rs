//! The library every NoCode function links: ports (the traits domain code
//! sees), their AWS and embedded adapters, the declared resources and the
//! settings. See DESIGN.md in the project's shared folder for the
//! architecture.

pub mod adapters;
pub mod automation;
pub mod change;
pub mod config;
pub mod foundation;
pub mod health;
pub mod http;
pub mod insights;
pub mod lambda;
pub mod openapi;
pub mod outbox;
pub mod ports;
pub mod random;
pub mod requests;
pub mod resources;
pub mod routes;
pub mod runtime;
pub mod schedule;
pub mod services;
pub mod studio;
pub mod tenancy;

/// The platform's version, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
