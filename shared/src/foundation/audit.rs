//! The audit log's API: an organization's entries, newest first, filtered
//! and paged (admins and owners). Entries are written by every module's
//! changes through [`crate::tenancy::audit`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::Request;
use lambda_http::http::StatusCode;

use crate::http::{
    ApiError, FieldError, HandlerResult, Page, json, page_params, query_param, query_time,
};
use crate::ports::table::{Cursor, Query, SortRange, from_item};
use crate::services::Services;
use crate::tenancy::Tenant;
use crate::tenancy::audit::{AuditEntry, Outcome, partition};

/// Pages read at most to fill one filtered page.
const MAX_PAGES_PER_REQUEST: usize = 20;

/// The filters of an audit query.
#[derive(Debug, Default)]
struct Filters {
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    outcome: Option<Outcome>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Filters {
    fn parse(request: &Request) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let from = query_time(request, "from", &mut errors);
        let to = query_time(request, "to", &mut errors);
        let outcome = match query_param(request, "outcome") {
            None => None,
            Some("success") => Some(Outcome::Success),
            Some("denied") => Some(Outcome::Denied),
            Some(_) => {
                errors.push(FieldError::new("outcome", "must be `success` or `denied`"));
                None
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
        let text = |name: &str| query_param(request, name).map(str::to_string);
        Ok(Self {
            actor: text("actor"),
            action: text("action"),
            target_type: text("target_type"),
            target_id: text("target_id"),
            outcome,
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
            && self.outcome.is_none_or(|o| o == entry.outcome)
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
                return json(StatusCode::OK, &Page::new(items, next));
            }
            next = Some(position);
        }
        if !more {
            next = None;
            break;
        }
    }
    json(StatusCode::OK, &Page::new(items, next))
}
