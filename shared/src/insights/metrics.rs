//! `GET /api/v1/insights/organizations/{id}/metrics`: an organization's
//! request figures per hour or day and route, from the counters of
//! [`super::rollup`]; percentiles come from the merged sketches.
//!
//! Admins and owners see every counter; editors and viewers those of
//! projects (every member sees every project of the organization; the
//! organization's own routes, such as members and invitations, are the
//! admins').

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::analytics::Granularity;
use super::rollup::{Counts, METRICS_PREFIX};
use super::window::Window;
use crate::http::schema::{QueryParam, any_text, date_time};
use crate::http::{ApiError, HandlerResult, json, query_param};
use crate::ports::table::{MAX_QUERY_LIMIT, Query, SortRange};
use crate::routes::{Access, ApiRoute, BodySchema, scoped};
use crate::services::Port;
use crate::services::Services;
use crate::tenancy::{Role, Tenant};

/// Most counters one answer reads (31 days of hours is 744 per route).
const MAX_COUNTERS: usize = 50_000;

/// The request metrics' route.
pub const ROUTE: ApiRoute = ApiRoute {
    function: "insights-metrics-get",
    method: "GET",
    path: "/api/v1/insights/organizations/{id}/metrics",
    access: Access::organization("id", Role::Viewer),
    ports: &[Port::Table],
    summary: "Requests, errors and latency percentiles per hour or day and route",
    request: None,
    query: QUERY,
    response: Some(BodySchema::of::<Metrics>()),
    status: 200,
    refusals: &[],
    handler: scoped!(get),
};

fn granularity() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["hour", "day"]))
        .default(Some("hour".into()))
        .build()
}

const QUERY: &[QueryParam] = &[
    QueryParam {
        name: "route",
        description: "Only this route, as the answer names it (`GET /api/v1/studio/projects/{id}`)",
        schema: any_text,
    },
    QueryParam {
        name: "from",
        description: "The window's start (RFC 3339), before `to` and at most 31 days before it; 24 h before `to` when left out",
        schema: date_time,
    },
    QueryParam {
        name: "to",
        description: "The window's end (RFC 3339); now when left out",
        schema: date_time,
    },
    QueryParam {
        name: "granularity",
        description: "`hour` or `day`",
        schema: granularity,
    },
];

/// One route in one period.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct MetricRow {
    /// The UTC hour (`2026-12-03T10`) or day (`2026-12-03`).
    pub period: String,
    /// The method and path template.
    pub route: String,
    /// Requests answered.
    pub requests: u64,
    /// Of which with a 4xx.
    pub client_errors: u64,
    /// Of which with a 5xx.
    pub server_errors: u64,
    /// `server_errors / requests`.
    pub error_rate: f64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Metrics {
    /// `hour` or `day`.
    pub granularity: String,
    /// The window's start (RFC 3339).
    pub from: String,
    /// The window's end (RFC 3339).
    pub to: String,
    /// By period, then route; periods and routes without requests are left out.
    pub rows: Vec<MetricRow>,
}

/// The figures (members: admins and owners see every counter, editors and
/// viewers those of projects).
pub async fn get(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let granularity = match query_param(&request, "granularity") {
        None => Granularity::Hour,
        Some(text) => Granularity::parse(text)
            .ok_or_else(|| ApiError::invalid("granularity", "is hour or day"))?,
    };
    let window = Window::parse(&request, Duration::hours(24), Duration::days(31))?;
    if window.from >= window.to {
        // The shared window allows an empty one; a period needs time.
        return Err(ApiError::invalid("from", "must be before `to`"));
    }
    let route = query_param(&request, "route");
    let whole_organization = tenant.role() >= Role::Admin;
    let (first, last) = (
        Granularity::Hour.period(window.from),
        Granularity::Hour.period(window.to),
    );
    // `$` sorts right after `#`: the last hour's counters, every route.
    let query = Query::partition(format!("INSIGHTS#{}", tenant.organization_id.as_str()))
        .range(SortRange::Between(
            format!("{METRICS_PREFIX}{first}"),
            format!("{METRICS_PREFIX}{last}$"),
        ))
        .limit(MAX_QUERY_LIMIT);
    let table = services.table()?;
    let mut rows: BTreeMap<(String, String), Counts> = BTreeMap::new();
    let (mut read, mut after) = (0, None);
    loop {
        let page = table.query(&query.clone().after(after)).await?;
        for item in &page.items {
            let text = |name: &str| item.get(name).and_then(Value::as_str);
            let (Some(hour), Some(item_route)) = (text("hour"), text("route")) else {
                continue;
            };
            let visible = whole_organization || text("project_id").is_some();
            if !visible || route.is_some_and(|r| r != item_route) {
                continue;
            }
            let period = match granularity {
                Granularity::Hour => hour,
                Granularity::Day => hour.get(..10).unwrap_or(hour),
            };
            let counts = Counts::from_item(item).map_err(ApiError::Internal)?;
            rows.entry((period.to_string(), item_route.to_string()))
                .or_default()
                .merge(&counts)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        read += page.items.len();
        if read > MAX_COUNTERS {
            return Err(ApiError::invalid(
                "from",
                format!("the window holds more than {MAX_COUNTERS} counters: ask for less"),
            ));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let rows = rows
        .into_iter()
        .map(|((period, route), counts)| MetricRow {
            period,
            route,
            requests: counts.requests,
            client_errors: counts.client_errors,
            server_errors: counts.server_errors,
            error_rate: if counts.requests == 0 {
                0.0
            } else {
                counts.server_errors as f64 / counts.requests as f64
            },
            p50_ms: counts.sketch.quantile_ms(0.5),
            p95_ms: counts.sketch.quantile_ms(0.95),
            p99_ms: counts.sketch.quantile_ms(0.99),
        })
        .collect();
    json(
        StatusCode::OK,
        &Metrics {
            granularity: granularity.as_str().to_string(),
            from: window.from.to_rfc3339(),
            to: window.to.to_rfc3339(),
            rows,
        },
    )
}
