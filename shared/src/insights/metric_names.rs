//! The request metrics' contract: what every API function writes as
//! CloudWatch Embedded Metric Format lines and what the template's dashboard
//! and alarms read (`infra/src/generate/stacks.rs`). Both sides take the
//! names from here, so a renamed metric cannot leave the alarms watching
//! nothing.
//!
//! One request is one EMF line in [`METRICS_NAMESPACE`] with [`LATENCY`]
//! ([`UNIT_MILLISECONDS`]), [`REQUESTS`] (1, [`UNIT_COUNT`]) and [`ERRORS`]
//! (1 when the status is at least [`ERROR_STATUS`], else 0, [`UNIT_COUNT`]),
//! under the two [`DIMENSION_SETS`]: per function and route, and per module.

/// The CloudWatch namespace of the platform's own metrics.
pub const METRICS_NAMESPACE: &str = "NoCode";

/// A request's time in the handler, in milliseconds.
pub const LATENCY: &str = "Latency";
/// One per request.
pub const REQUESTS: &str = "Requests";
/// One per request answered with a server error, zero otherwise, so its
/// sum over [`REQUESTS`] is the error rate.
pub const ERRORS: &str = "Errors";

/// The unit of [`LATENCY`].
pub const UNIT_MILLISECONDS: &str = "Milliseconds";
/// The unit of [`REQUESTS`] and [`ERRORS`].
pub const UNIT_COUNT: &str = "Count";

/// The lowest status [`ERRORS`] counts.
pub const ERROR_STATUS: u16 = crate::requests::SERVER_ERROR;

/// The function's name, as in `shared::routes` (`ApiRoute::function`).
pub const DIMENSION_FUNCTION: &str = "Function";
/// The route: the method and path of its `shared::routes` entry.
pub const DIMENSION_ROUTE: &str = "Route";
/// The module's name, as in `shared::routes` (`Module::name`): what the
/// latency alarms and the dashboard group by.
pub const DIMENSION_MODULE: &str = "Module";

/// Every metric is written under both sets: per function and route for
/// finding the slow route, per module for alarms whose count does not grow
/// with the route table.
pub const DIMENSION_SETS: [&[&str]; 2] =
    [&[DIMENSION_FUNCTION, DIMENSION_ROUTE], &[DIMENSION_MODULE]];
