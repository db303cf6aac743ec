//! Insights' routes: an organization's usage, events, request metrics and
//! log (members of the organization; admins and owners see all of it,
//! editors and viewers what belongs to projects).

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::events::EventPage;
use super::logs::LogPage;
use super::usage::Usage;
use super::{events, logs, usage};
use crate::http::schema::QueryParam;
use crate::http::schema::{LIMIT, NEXT, any_text, date_time};
use crate::routes::{Access, ApiRoute, BodySchema, scoped};
use crate::services::Port;
use crate::tenancy::Role;

fn granularity() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["hour", "day"]))
        .build()
}

fn log_kind() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["audit", "execution"]))
        .build()
}

const FROM: QueryParam = QueryParam {
    name: "from",
    description: "The window's start (RFC 3339); at most the route's longest span before `to`",
    schema: date_time,
};
const TO: QueryParam = QueryParam {
    name: "to",
    description: "The window's end (RFC 3339), not before `from`; now when left out",
    schema: date_time,
};
const PROJECT: QueryParam = QueryParam {
    name: "project_id",
    description: "Only this project's",
    schema: any_text,
};
const ACTOR: QueryParam = QueryParam {
    name: "actor",
    description: "Only what this user did",
    schema: any_text,
};

const USAGE_QUERY: &[QueryParam] = &[
    QueryParam {
        name: "granularity",
        description: "`hour` (windows up to 31 days, 24 h by default) or `day` (up to 366 days, 30 by default)",
        schema: granularity,
    },
    FROM,
    TO,
    QueryParam {
        name: "metric",
        description: "Only this event type",
        schema: any_text,
    },
    PROJECT,
];

const EVENTS_QUERY: &[QueryParam] = &[
    LIMIT,
    NEXT,
    FROM,
    TO,
    QueryParam {
        name: "type",
        description: "Only events of this type",
        schema: any_text,
    },
    ACTOR,
    PROJECT,
];

const LOGS_QUERY: &[QueryParam] = &[
    LIMIT,
    NEXT,
    FROM,
    TO,
    QueryParam {
        name: "kind",
        description: "Only audit entries, or only executions",
        schema: log_kind,
    },
    ACTOR,
    PROJECT,
];

/// Insights' API routes.
pub const API: &[ApiRoute] = &[
    ApiRoute {
        function: "insights-usage-get",
        method: "GET",
        path: "/api/v1/insights/organizations/{id}/usage",
        access: Access::organization("id", Role::Viewer),
        ports: &[Port::Table],
        summary: "Event counts per hour or day, type and project",
        request: None,
        query: USAGE_QUERY,
        response: Some(BodySchema::of::<Usage>()),
        status: 200,
        refusals: &[],
        handler: scoped!(usage::get),
    },
    ApiRoute {
        function: "insights-events-list",
        method: "GET",
        path: "/api/v1/insights/organizations/{id}/events",
        access: Access::organization("id", Role::Viewer),
        ports: &[Port::Table],
        summary: "The organization's domain events, newest first, filtered",
        request: None,
        query: EVENTS_QUERY,
        response: Some(BodySchema::of::<EventPage>()),
        status: 200,
        refusals: &[],
        handler: scoped!(events::list),
    },
    ApiRoute {
        function: "insights-logs-list",
        method: "GET",
        path: "/api/v1/insights/organizations/{id}/logs",
        access: Access::organization("id", Role::Viewer),
        ports: &[Port::Table],
        summary: "Audit entries and workflow executions in one time line, newest first",
        request: None,
        query: LOGS_QUERY,
        response: Some(BodySchema::of::<LogPage>()),
        status: 200,
        refusals: &[],
        handler: scoped!(logs::list),
    },
    // Request metrics (requests and its rollups).
    super::metrics::ROUTE,
];
