//! The audit log: who changed what in an organization, when, from where,
//! with what outcome. Entries are written in the same transaction as the
//! change they record ([`record`]), so a failed change leaves no success
//! entry; no route changes or deletes an entry.
//!
//! Items: `AUDIT#<org>` / `<ulid>` (the ulid orders entries by time).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::http::{ApiError, FieldError, HandlerResult, json, page_params, query_param};
use crate::ports::table::{
    Cursor, Item, Key, Query, SortRange, TableError, Write, from_item, to_keyed_item,
};
use crate::services::Services;
use crate::tenancy::{RequestMeta, Tenant};

/// Pages read at most to fill one filtered page.
const MAX_PAGES_PER_REQUEST: usize = 20;

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Sortable id; its time part is `at`.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The user who acted.
    pub actor: String,
    /// What they did: `organization.updated`, `member.role_changed` …
    pub action: String,
    /// The kind of thing acted on: `organization`, `member`, `invitation` …
    pub target_type: String,
    /// Its id.
    pub target_id: String,
    /// When (RFC 3339).
    pub at: String,
    /// The request that did it.
    pub request_id: Option<String>,
    /// Where the request came from.
    pub source_ip: Option<String>,
    /// `success` or `denied`.
    pub outcome: String,
}

/// What was acted on.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// Its kind.
    pub kind: &'a str,
    /// Its id.
    pub id: &'a str,
}

/// The partition of an organization's audit log.
pub fn partition(organization_id: &str) -> String {
    format!("AUDIT#{organization_id}")
}

fn entry(
    meta: &RequestMeta,
    organization_id: &str,
    action: &str,
    target: Target<'_>,
    outcome: &str,
) -> AuditEntry {
    let id = ulid::Ulid::generate();
    let at: chrono::DateTime<chrono::Utc> = id.datetime().into();
    AuditEntry {
        id: id.to_string(),
        organization_id: organization_id.to_string(),
        actor: meta.caller.sub.clone(),
        action: action.to_string(),
        target_type: target.kind.to_string(),
        target_id: target.id.to_string(),
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        request_id: meta.request_id.clone(),
        source_ip: meta.source_ip.clone(),
        outcome: outcome.to_string(),
    }
}

fn as_item(entry: &AuditEntry) -> Result<Item, TableError> {
    to_keyed_item(
        entry,
        Key::new(partition(&entry.organization_id), entry.id.clone()),
    )
}

/// The write that records a successful change; put it in the change's transaction.
pub fn record(
    meta: &RequestMeta,
    organization_id: &str,
    action: &str,
    target: Target<'_>,
) -> Result<Write, TableError> {
    Ok(Write::Put {
        item: as_item(&entry(meta, organization_id, action, target, "success"))?,
        condition: Some(crate::ports::table::Condition::Absent),
    })
}

/// The entry of a refused change (a member without the role for it).
pub fn denied(
    meta: &RequestMeta,
    organization_id: &str,
    action: &str,
    target: Target<'_>,
) -> Result<Item, TableError> {
    as_item(&entry(meta, organization_id, action, target, "denied"))
}

/// A page of audit entries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntry>,
    /// Pass as `?next=` for the following page.
    pub next: Option<String>,
}

/// The filters of an audit query.
#[derive(Debug, Default)]
struct Filters {
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    outcome: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Filters {
    fn parse(request: &Request) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let mut time = |name: &str| {
            query_param(request, name).and_then(|text| match DateTime::parse_from_rfc3339(text) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(FieldError::new(name, "must be an RFC 3339 time"));
                    None
                }
            })
        };
        let from = time("from");
        let to = time("to");
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
        let text = |name: &str| query_param(request, name).map(str::to_string);
        Ok(Self {
            actor: text("actor"),
            action: text("action"),
            target_type: text("target_type"),
            target_id: text("target_id"),
            outcome: text("outcome"),
            from,
            to,
        })
    }

    fn matches(&self, entry: &AuditEntry) -> bool {
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        same(&self.actor, &entry.actor)
            && same(&self.action, &entry.action)
            && same(&self.target_type, &entry.target_type)
            && same(&self.target_id, &entry.target_id)
            && same(&self.outcome, &entry.outcome)
    }

    /// The time range as a sort key range: entry ids are ULIDs, whose first
    /// characters are their time, so a time range is a key range.
    fn range(&self) -> SortRange {
        let bound = |t: Option<DateTime<Utc>>, fill: u128| {
            t.map(|t| {
                let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0);
                ulid::Ulid::from_parts(ms, fill).to_string()
            })
        };
        match (bound(self.from, 0), bound(self.to, u128::MAX)) {
            (Some(lo), Some(hi)) => SortRange::Between(lo, hi),
            (Some(lo), None) => SortRange::AtLeast(lo),
            (None, Some(hi)) => SortRange::AtMost(hi),
            (None, None) => SortRange::All,
        }
    }
}

/// `GET /organizations/{id}/audit/`: entries newest first, filtered by
/// `actor`, `action`, `target_type`, `target_id`, `outcome` and the time range
/// `from`/`to` (RFC 3339), in pages (admins and owners).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let id = tenant.organization_id.as_str();
    let (limit, cursor) = page_params(&request)?;
    let filters = Filters::parse(&request)?;
    let table = services.table()?;
    let query = Query::partition(partition(id))
        .range(filters.range())
        .backward()
        .limit(limit);
    let mut next: Option<Cursor> = cursor;
    let mut items = Vec::new();
    // Filters on actor, action or target read on past non-matching entries;
    // the cursor points after the last entry read, matching or not.
    for _ in 0..MAX_PAGES_PER_REQUEST {
        let page = table.query(&query.clone().after(next.take())).await?;
        let more = page.next.is_some();
        let count = page.items.len();
        for (index, item) in page.items.into_iter().enumerate() {
            let position = Cursor::after_item(&query, &item);
            let entry: AuditEntry = from_item(item)?;
            if filters.matches(&entry) {
                items.push(entry);
            }
            if items.len() == limit as usize {
                let last_of_all = index + 1 == count && !more;
                next = (!last_of_all).then_some(position);
                return json(
                    StatusCode::OK,
                    &AuditPage {
                        items,
                        next: next.map(|c| c.as_str().to_string()),
                    },
                );
            }
            next = Some(position);
        }
        if !more {
            next = None;
            break;
        }
    }
    json(
        StatusCode::OK,
        &AuditPage {
            items,
            next: next.map(|c| c.as_str().to_string()),
        },
    )
}
