//! Foundation: accounts, profiles, organizations, members and roles.

pub mod audit;
pub mod auth;
pub mod error;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod password;
pub mod routes;
pub mod users;

pub use error::FoundationError;
