//! Tenancy, shared by every module: who is calling (the request's meta),
//! organization roles, memberships, and the one guard that resolves a route's
//! scope (an organization, or a project of one) to the caller's membership.
//!
//! The route shim calls the guard before any scoped handler runs, so a
//! handler cannot forget the check; a handler only adds rules finer than a
//! role (say "only owners grant owner") through [`guard::refuse`].

pub mod audit;
pub mod email;
pub mod grant;
pub mod guard;
pub mod ids;
pub mod keys;
pub mod listing;
pub mod request;
pub mod roles;

pub use email::Email;
pub use guard::{Membership, Principal, Tenant};
pub use ids::{OrganizationId, ProjectId, UserId};
pub use request::RequestMeta;
pub use roles::Role;
