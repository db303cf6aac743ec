//! The audit log: who changed what in an organization, when, from where,
//! with what outcome. Every module's changes write entries in the same
//! transaction as the change they record ([`record`]), so a failed change
//! leaves no success entry; the guard records refusals ([`denied`]). No route
//! changes or deletes an entry; foundation's audit route reads them.
//!
//! Items: `AUDIT#<org>` / `<ulid>` (the ulid orders entries by time).

use serde::{Deserialize, Serialize};

use super::RequestMeta;
use crate::ports::table::{Condition, Item, Key, TableError, Write, to_keyed_item};
use crate::tenancy::{OrganizationId, UserId};

/// How an audited request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The change was made.
    Success,
    /// The caller's role did not allow it.
    Denied,
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Sortable id; its time part is `at`.
    pub id: String,
    /// The organization.
    pub organization_id: OrganizationId,
    /// The user who acted.
    pub actor: UserId,
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
    /// Whether it was done or refused.
    pub outcome: Outcome,
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
    outcome: Outcome,
) -> AuditEntry {
    let id = ulid::Ulid::generate();
    let at: chrono::DateTime<chrono::Utc> = id.datetime().into();
    AuditEntry {
        id: id.to_string(),
        organization_id: organization_id.into(),
        actor: meta.caller.sub.clone(),
        action: action.to_string(),
        target_type: target.kind.to_string(),
        target_id: target.id.to_string(),
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        request_id: meta.request_id.clone(),
        source_ip: meta.source_ip.clone(),
        outcome,
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
        item: as_item(&entry(
            meta,
            organization_id,
            action,
            target,
            Outcome::Success,
        ))?,
        condition: Some(Condition::Absent),
    })
}

/// The entry of a refused change (a member without the role for it).
pub fn denied(
    meta: &RequestMeta,
    organization_id: &str,
    action: &str,
    target: Target<'_>,
) -> Result<Item, TableError> {
    as_item(&entry(
        meta,
        organization_id,
        action,
        target,
        Outcome::Denied,
    ))
}
