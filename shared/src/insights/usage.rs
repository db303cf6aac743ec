//! `GET /insights/organizations/{id}/usage`: the event counters of an
//! organization per hour or day, metric and project, each the sum of its
//! shards ([`super::analytics`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::analytics::{ALL_PROJECTS, Granularity, SHARDS, counter_partition, counter_sort_key};
use super::window::Window;
use crate::http::{ApiError, HandlerResult, json, query_param};
use crate::ports::table::{ItemTable, Key, MAX_QUERY_LIMIT, Query, SortRange, TableResult};
use crate::services::Services;
use crate::tenancy::{Role, Tenant};

/// Counter rows one answer holds at most; a wider question is refused.
pub const MAX_ROWS: usize = 10_000;

/// One counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageRow {
    /// The hour (`2026-12-03T10`) or day (`2026-12-03`), UTC.
    pub period: String,
    /// The event type counted.
    pub metric: String,
    /// The project; absent for the whole organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Events of that type in that period.
    pub count: u64,
}

/// The usage answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// `hour` or `day`.
    pub granularity: Granularity,
    /// The first period asked for.
    pub from: String,
    /// The last period asked for.
    pub to: String,
    /// The counters, by period, then metric, then project.
    pub items: Vec<UsageRow>,
}

/// How many events of `metric` an organization (or one of its projects)
/// had in one period: its shards summed.
pub async fn count(
    table: &dyn ItemTable,
    organization: &str,
    granularity: Granularity,
    period: &str,
    metric: &str,
    project: Option<&str>,
) -> TableResult<u64> {
    let sort_key = counter_sort_key(granularity, period, metric, project.unwrap_or(ALL_PROJECTS));
    let keys: Vec<Key> = (0..SHARDS)
        .map(|shard| Key::new(counter_partition(organization, shard), sort_key.clone()))
        .collect();
    Ok(table.batch_get(&keys).await?.iter().map(count_of).sum())
}

fn count_of(item: &crate::ports::table::Item) -> u64 {
    item.get("count").and_then(Value::as_u64).unwrap_or(0)
}

/// The usage of an organization (members: admins and owners see every
/// counter, editors and viewers those of projects).
pub async fn get(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let granularity = match query_param(&request, "granularity") {
        None => Granularity::Day,
        Some(text) => Granularity::parse(text)
            .ok_or_else(|| ApiError::invalid("granularity", "is hour or day"))?,
    };
    let (default, longest) = match granularity {
        Granularity::Hour => (Duration::hours(24), Duration::days(31)),
        Granularity::Day => (Duration::days(30), Duration::days(366)),
    };
    let window = Window::parse(&request, default, longest)?;
    let metric = query_param(&request, "metric");
    let project = query_param(&request, "project_id");
    let whole_organization = tenant.role() >= Role::Admin;
    let (from, to) = (
        granularity.period(window.from),
        granularity.period(window.to),
    );
    let range = SortRange::Between(
        format!("{}#{from}", granularity.as_str()),
        format!("{}#{to}#\u{10FFFF}", granularity.as_str()),
    );
    let table = services.table()?;
    let organization = tenant.organization_id.as_str();
    let mut sums: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for shard in 0..SHARDS {
        let query = Query::partition(counter_partition(organization, shard))
            .range(range.clone())
            .limit(MAX_QUERY_LIMIT);
        let mut after = None;
        loop {
            let page = table.query(&query.clone().after(after)).await?;
            for item in &page.items {
                let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or("");
                let row_project = text("project");
                let visible = if row_project == ALL_PROJECTS {
                    whole_organization && project.is_none()
                } else {
                    project.is_none_or(|p| p == row_project)
                };
                if !visible || metric.is_some_and(|m| m != text("metric")) {
                    continue;
                }
                *sums
                    .entry((
                        text("period").to_string(),
                        text("metric").to_string(),
                        row_project.to_string(),
                    ))
                    .or_default() += count_of(item);
                if sums.len() > MAX_ROWS {
                    return Err(ApiError::invalid(
                        "from",
                        format!("the window holds more than {MAX_ROWS} counters: ask for less"),
                    ));
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    let items = sums
        .into_iter()
        .map(|((period, metric, project), count)| UsageRow {
            period,
            metric,
            project_id: (project != ALL_PROJECTS).then_some(project),
            count,
        })
        .collect();
    json(
        StatusCode::OK,
        &Usage {
            granularity,
            from,
            to,
            items,
        },
    )
}
