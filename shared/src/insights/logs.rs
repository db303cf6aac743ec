//! `GET /insights/organizations/{id}/logs`: one time line of what happened
//! in an organization, newest first — its audit entries (admins and owners)
//! and its workflow executions starting and ending (every member; from the
//! stored execution events) — filtered, in pages.
//!
//! Both sources are read newest first below a boundary and merged; the
//! cursor is the boundary: the order key (`<ms>#<kind>#<id>`) of the last
//! line given.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::analytics::retention_days;
use super::events::scan;
use super::window::Window;
use crate::http::{ApiError, HandlerResult, json, page_limit, query_param};
use crate::ports::table::{Item, Query, SortRange, from_item};
use crate::services::Services;
use crate::tenancy::audit::{AuditEntry, partition};
use crate::tenancy::{Role, Tenant};

/// The execution events the log shows.
const EXECUTION_EVENTS: &str = "workflow.execution_";
/// Audit pages one request reads at most.
const MAX_AUDIT_PAGES: usize = 20;

/// One line of the log.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LogLine {
    /// `audit` or `execution`.
    pub kind: String,
    /// The audit entry's or the event's id.
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// What happened: the audit action, or the execution event's type.
    pub action: String,
    /// Who did it, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Audit: the kind of thing acted on; executions: `execution`.
    pub target_type: String,
    /// Its id.
    pub target_id: String,
    /// Audit: `success` or `denied`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The project, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Executions: their workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip)]
    key: String,
}

/// A page of the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    /// The lines, newest first.
    pub items: Vec<LogLine>,
    /// Pass as `?next=` for the following page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn order_key(at: DateTime<Utc>, kind: &str, id: &str) -> String {
    format!("{:013}#{kind}#{id}", at.timestamp_millis().max(0))
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn audit_line(entry: AuditEntry) -> Option<LogLine> {
    let at = parse_time(&entry.at)?;
    let outcome = serde_json::to_value(entry.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string));
    Some(LogLine {
        key: order_key(at, "audit", &entry.id),
        kind: "audit".into(),
        id: entry.id,
        at: entry.at,
        action: entry.action,
        actor: Some(entry.actor.as_str().to_string()),
        target_type: entry.target_type,
        target_id: entry.target_id,
        outcome,
        project_id: None,
        workflow_id: None,
    })
}

fn execution_line(item: &Item) -> Option<LogLine> {
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
    let detail = |name: &str| {
        item.get("detail")
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let id = text("event_id")?;
    let at_text = text("at")?;
    let at = parse_time(&at_text)?;
    Some(LogLine {
        key: order_key(at, "execution", &id),
        kind: "execution".into(),
        id,
        at: at_text,
        action: text("type")?,
        actor: text("actor"),
        target_type: "execution".into(),
        target_id: detail("execution_id").unwrap_or_default(),
        outcome: None,
        project_id: text("project_id"),
        workflow_id: detail("workflow_id"),
    })
}

/// The filters of a log query.
struct Filters<'r> {
    kind: Option<&'r str>,
    actor: Option<&'r str>,
    project: Option<&'r str>,
}

impl Filters<'_> {
    fn keeps(&self, line: &LogLine) -> bool {
        self.kind.is_none_or(|k| k == line.kind)
            && self.actor.is_none_or(|a| line.actor.as_deref() == Some(a))
            && self
                .project
                .is_none_or(|p| line.project_id.as_deref() == Some(p))
    }
}

/// The organization's log (members: admins and owners see the audit
/// entries too).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let limit = page_limit(&request)? as usize;
    let below = query_param(&request, "next")
        .map(|text| {
            URL_SAFE_NO_PAD
                .decode(text)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .filter(|key| key.len() > 14 && key.as_bytes()[13] == b'#')
                .ok_or_else(|| ApiError::invalid("next", "not a cursor of this list"))
        })
        .transpose()?;
    let kind = query_param(&request, "kind");
    if kind.is_some_and(|k| k != "audit" && k != "execution") {
        return Err(ApiError::invalid("kind", "is audit or execution"));
    }
    let filters = Filters {
        kind,
        actor: query_param(&request, "actor"),
        project: query_param(&request, "project_id"),
    };
    let mut window = Window::parse(
        &request,
        Duration::days(7),
        Duration::days(retention_days()),
    )?;
    if let Some(below) = &below {
        let ms = below[..13].parse::<i64>().unwrap_or(0);
        if let Some(at) = DateTime::from_timestamp_millis(ms) {
            window.to = window.to.min(at);
        }
    }
    let before = |line: &LogLine| below.as_deref().is_none_or(|b| line.key.as_str() < b);
    let organization = tenant.organization_id.as_str();
    let table = services.table()?;
    let mut lines = Vec::new();
    // Where a source stopped before reading to the window's start: nothing
    // older than that may be given, as that source may hold lines above it.
    let mut frontier: Option<String> = None;

    if tenant.role() >= Role::Admin && filters.kind != Some("execution") {
        let bound = |at: DateTime<Utc>, fill: u128| {
            ulid::Ulid::from_parts(u64::try_from(at.timestamp_millis()).unwrap_or(0), fill)
                .to_string()
        };
        let query = Query::partition(partition(organization))
            .range(SortRange::Between(
                bound(window.from, 0),
                bound(window.to, u128::MAX),
            ))
            .backward()
            .limit(limit as u32);
        let mut after = None;
        let mut found = 0;
        for page_number in 0.. {
            let page = table.query(&query.clone().after(after.take())).await?;
            for item in page.items {
                let Some(line) = audit_line(from_item(item)?) else {
                    continue;
                };
                if before(&line) && filters.keeps(&line) {
                    found += 1;
                    lines.push(line);
                }
            }
            match page.next {
                Some(next) if found < limit && page_number + 1 < MAX_AUDIT_PAGES => {
                    after = Some(next)
                }
                Some(_) if found < limit => {
                    frontier = lines.last().map(|l: &LogLine| l.key.clone());
                    break;
                }
                _ => break,
            }
        }
    }
    if filters.kind != Some("audit") {
        let keep = |item: &Item| {
            item.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with(EXECUTION_EVENTS))
                && execution_line(item).is_some_and(|line| before(&line) && filters.keeps(&line))
        };
        let (items, more) = scan(table, organization, &window, None, limit, keep).await?;
        let read: Vec<LogLine> = items.iter().filter_map(execution_line).collect();
        if more.is_some() && read.len() < limit {
            let last = read.last().map(|l| l.key.clone());
            frontier = match (frontier, last) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        lines.extend(read);
    }
    lines.sort_by(|a, b| b.key.cmp(&a.key));
    if let Some(frontier) = &frontier {
        lines.retain(|l| l.key.as_str() >= frontier.as_str());
    }
    let full = lines.len() > limit || frontier.is_some();
    lines.truncate(limit);
    let next = (full || lines.len() == limit)
        .then(|| lines.last().map(|l| URL_SAFE_NO_PAD.encode(&l.key)))
        .flatten();
    json(StatusCode::OK, &LogPage { items: lines, next })
}
