//! The library every NoCode function links: ports (the traits domain code
//! sees), their AWS and embedded adapters, the declared resources and the
//! settings. See DESIGN.md in the project's shared folder for the
//! architecture.

pub mod adapters;
pub mod config;
pub mod http;
pub mod ports;
pub mod random;
pub mod resources;
