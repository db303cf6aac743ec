//! `GET /insights/organizations/{id}/events`: the organization's domain
//! events as the ingest worker stored them, newest first, filtered by type,
//! actor, project and time, in pages. The cursor names the day partition
//! and the position in it, so a page goes on across days.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::analytics::{day_partition, event_sort_key, retention_days};
use super::window::Window;
use crate::http::{ApiError, HandlerResult, json, page_limit, query_param};
use crate::ports::table::{Cursor, Item, ItemTable, Query, SortRange};
use crate::services::Services;
use crate::tenancy::{Role, Tenant};

/// Pages one request reads at most to fill a filtered page.
const MAX_PAGES_PER_REQUEST: usize = 20;

/// One stored event.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// The event's id.
    pub id: String,
    /// When it happened (RFC 3339).
    pub at: String,
    /// Its type (`record.created` …).
    #[serde(rename = "type")]
    pub detail_type: String,
    /// `nocode.<module>`.
    pub source: String,
    /// Its project, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Who did it, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// What the event says.
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl EventView {
    /// The view of a stored event item.
    pub fn of(item: &Item) -> Self {
        let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
        Self {
            id: text("event_id").unwrap_or_default(),
            at: text("at").unwrap_or_default(),
            detail_type: text("type").unwrap_or_default(),
            source: text("source").unwrap_or_default(),
            project_id: text("project_id"),
            actor: text("actor"),
            detail: item.get("detail").cloned().unwrap_or(Value::Null),
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// The events, newest first.
    pub items: Vec<EventView>,
    /// Pass as `?next=` for the following page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Reads an organization's stored events newest first within `window`,
/// from `cursor` on: those `keep` accepts, at most `limit`, and the cursor
/// after the last one read (`None` once the window is read to its end).
pub async fn scan(
    table: &dyn ItemTable,
    organization: &str,
    window: &Window,
    cursor: Option<Cursor>,
    limit: usize,
    keep: impl Fn(&Item) -> bool,
) -> Result<(Vec<Item>, Option<Cursor>), ApiError> {
    let (mut resume_day, mut resume) = (None, None);
    if let Some(cursor) = cursor {
        let position = cursor.position().map_err(|_| not_a_cursor())?;
        let day = position
            .get("pk")
            .and_then(|pk| pk.strip_prefix(&day_partition(organization, "")))
            .ok_or_else(not_a_cursor)?
            .to_string();
        resume_day = Some(day);
        resume = Some(cursor);
    }
    let range = SortRange::Between(
        event_sort_key(window.from, ""),
        event_sort_key(window.to, "\u{10FFFF}"),
    );
    let mut found = Vec::new();
    let mut pages = 0;
    for day in window.days_backward() {
        if resume_day.as_ref().is_some_and(|d| day > *d) {
            continue;
        }
        let query = Query::partition(day_partition(organization, &day))
            .range(range.clone())
            .backward()
            .limit(limit.min(crate::ports::table::MAX_QUERY_LIMIT as usize) as u32);
        let mut after = if resume_day.as_deref() == Some(day.as_str()) {
            resume.take()
        } else {
            None
        };
        loop {
            let page = table.query(&query.clone().after(after.take())).await?;
            pages += 1;
            let more = page.next.is_some();
            let count = page.items.len();
            for (index, item) in page.items.into_iter().enumerate() {
                let position = Cursor::after_item(&query, &item);
                if keep(&item) {
                    found.push(item);
                }
                if found.len() == limit {
                    let read_all = index + 1 == count && !more;
                    return Ok((found, (!read_all).then_some(position)));
                }
                after = Some(position);
            }
            if !more {
                break;
            }
            if pages >= MAX_PAGES_PER_REQUEST {
                return Ok((found, after));
            }
        }
    }
    Ok((found, None))
}

fn not_a_cursor() -> ApiError {
    ApiError::invalid("next", "not a cursor of this list")
}

/// The organization's events (members: admins and owners see every event,
/// editors and viewers those of projects).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let limit = page_limit(&request)? as usize;
    let cursor = query_param(&request, "next")
        .map(|text| Cursor::parse(text).map_err(|_| not_a_cursor()))
        .transpose()?;
    let window = Window::parse(
        &request,
        Duration::days(7),
        Duration::days(retention_days()),
    )?;
    let mut wanted: BTreeMap<&str, &str> = BTreeMap::new();
    for (param, attribute) in [
        ("type", "type"),
        ("actor", "actor"),
        ("project_id", "project_id"),
    ] {
        if let Some(value) = query_param(&request, param) {
            wanted.insert(attribute, value);
        }
    }
    let whole_organization = tenant.role() >= Role::Admin;
    let keep = |item: &Item| {
        let text = |name: &str| item.get(name).and_then(Value::as_str);
        (whole_organization || text("project_id").is_some())
            && wanted
                .iter()
                .all(|(name, value)| text(name) == Some(*value))
    };
    let (items, next) = scan(
        services.table()?,
        tenant.organization_id.as_str(),
        &window,
        cursor,
        limit,
        keep,
    )
    .await?;
    json(
        StatusCode::OK,
        &EventPage {
            items: items.iter().map(EventView::of).collect(),
            next: next.map(|c| c.as_str().to_string()),
        },
    )
}
