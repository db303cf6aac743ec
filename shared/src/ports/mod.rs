//! Ports: the traits domain code sees. Each has an AWS adapter
//! ([`crate::adapters::aws`]) and a durable embedded one
//! ([`crate::adapters::embedded`]); both pass one conformance suite
//! (`tests/conformance/`).

pub mod blobs;
pub mod events;
pub mod http;
pub mod identity;
pub mod mail;
pub mod queue;
pub mod table;
