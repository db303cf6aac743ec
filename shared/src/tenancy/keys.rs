//! The table keys tenancy reads: memberships, and the project item the
//! project scope resolves to its organization. Every tenant-owned key starts
//! with its tenant, so a key built from one organization's id cannot reach
//! another's items.

use crate::ports::table::Key;

/// The partition of an organization's own items (it, its members, its invitations).
pub fn organization_partition(organization_id: &str) -> String {
    format!("ORG#{organization_id}")
}

/// The gsi1 partition of a user's memberships ("my organizations").
pub fn user_partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The sort key prefix of member items.
pub const MEMBER_PREFIX: &str = "MEMBER#";

/// The key of a member item: `ORG#<org>` / `MEMBER#<user>`.
pub fn member(organization_id: &str, user_id: &str) -> Key {
    Key::new(
        organization_partition(organization_id),
        format!("{MEMBER_PREFIX}{user_id}"),
    )
}

/// The key of a project's item: `PROJECT#<id>` / `PROJECT`. It names the
/// project's organization, which the project scope reads in one get.
pub fn project(project_id: &str) -> Key {
    Key::new(format!("PROJECT#{project_id}"), "PROJECT")
}

/// The key of an app's item: `APP#<id>` / `APP`. It names the app's
/// project and organization, which the app scope reads in one get.
pub fn app(app_id: &str) -> Key {
    Key::new(format!("APP#{app_id}"), "APP")
}

/// The key of a workflow's item: `WORKFLOW#<id>` / `WORKFLOW`. It names
/// the workflow's project and organization, which the workflow scope reads.
pub fn workflow(workflow_id: &str) -> Key {
    Key::new(format!("WORKFLOW#{workflow_id}"), "WORKFLOW")
}
