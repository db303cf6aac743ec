//! Studio's key formats, in one place. Every key starts with its tenant:
//! a project's items with `PROJECT#<project>`, a project's slug with its
//! organization.

use crate::ports::table::Key;
use crate::tenancy::keys::organization_partition;

pub use crate::tenancy::keys::project;

/// The partition of everything a project holds.
pub fn project_partition(project_id: &str) -> String {
    format!("PROJECT#{project_id}")
}

/// The gsi1 sort key prefix of an organization's projects
/// (`gsi1pk = ORG#<org>`, `gsi1sk = PROJECT#<id>`).
pub const PROJECTS_PREFIX: &str = "PROJECT#";

/// The gsi1 sort key of a project in its organization's list.
pub fn project_in_organization(project_id: &str) -> String {
    format!("{PROJECTS_PREFIX}{project_id}")
}

/// The item that keeps a slug unique within its organization.
pub fn slug(organization_id: &str, slug: &str) -> Key {
    Key::new(
        organization_partition(organization_id),
        format!("PROJECT_SLUG#{slug}"),
    )
}
