//! The one authorization guard every org-scoped handler calls.
//!
//! A caller who is not a member of the organization gets 404, exactly what a
//! missing organization gets, so ids of other tenants reveal nothing. A member
//! whose role is too low gets 403.

use serde::{Deserialize, Serialize};

use super::audit::{self, Target};
use super::request::RequestMeta;
use super::roles::Role;
use crate::http::{ApiError, Caller};
use serde_json::json;

use crate::ports::table::{Condition, Item, ItemTable, Key, from_item, to_keyed_item};
use crate::services::Services;

/// A member item: `ORG#<org>` / `MEMBER#<user>`, indexed by user on gsi1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization.
    pub organization_id: String,
    /// The member.
    pub user_id: String,
    /// The member's e-mail address, as it was when they joined.
    pub email: String,
    /// The role.
    pub role: Role,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Optimistic concurrency version.
    pub version: u64,
}

/// The key of a member item.
pub fn member_key(organization_id: &str, user_id: &str) -> Key {
    Key::new(
        format!("ORG#{organization_id}"),
        format!("MEMBER#{user_id}"),
    )
}

/// A member item, indexed by user so "my organizations" is one query.
pub fn member_item(member: &Membership) -> Result<Item, ApiError> {
    let mut item = to_keyed_item(member, member_key(&member.organization_id, &member.user_id))?;
    item.insert("gsi1pk".into(), json!(format!("USER#{}", member.user_id)));
    item.insert(
        "gsi1sk".into(),
        json!(format!("ORG#{}", member.organization_id)),
    );
    Ok(item)
}

/// The caller's membership, if the caller has at least `role`.
pub async fn require(
    table: &dyn ItemTable,
    caller: &Caller,
    organization_id: &str,
    role: Role,
) -> Result<Membership, ApiError> {
    let item = table
        .get(&member_key(organization_id, &caller.sub))
        .await?
        .ok_or(ApiError::NotFound)?;
    let membership: Membership = from_item(item)?;
    if membership.role < role {
        return Err(ApiError::Forbidden);
    }
    Ok(membership)
}

/// The guard of a change: [`require`], and a member refused for their role
/// leaves a `denied` entry of `action` in the organization's audit log.
pub async fn authorize(
    services: &Services,
    meta: &RequestMeta,
    organization_id: &str,
    role: Role,
    action: &str,
) -> Result<Membership, ApiError> {
    match require(services.table()?, &meta.caller, organization_id, role).await {
        Err(ApiError::Forbidden) => Err(refuse(services, meta, organization_id, action).await),
        verdict => verdict,
    }
}

/// Refuses a change to a member (403) after auditing the refusal; for rules
/// finer than a role, like "only owners grant owner".
pub async fn refuse(
    services: &Services,
    meta: &RequestMeta,
    organization_id: &str,
    action: &str,
) -> ApiError {
    let recorded = async {
        let entry = audit::denied(
            meta,
            organization_id,
            action,
            Target {
                kind: "organization",
                id: organization_id,
            },
        )?;
        services
            .table()?
            .put(entry, Some(Condition::Absent))
            .await?;
        Ok::<_, ApiError>(())
    };
    match recorded.await {
        Ok(()) => ApiError::Forbidden,
        Err(error) => error,
    }
}
