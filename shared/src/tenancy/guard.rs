//! The one authorization guard: every scoped route passes through it before
//! its handler runs (see `routes::shim`).
//!
//! A caller who is not a member of the organization gets 404, exactly what a
//! missing organization or project gets, so ids of other tenants reveal
//! nothing. A member whose role is too low gets 403, and on a route that
//! changes something the refusal is audited as `denied`.

use lambda_http::Request;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Target};
use super::grant::{self, KeyGrant, KeyScope};
use super::ids::{OrganizationId, ProjectId, UserId};
use super::keys;
use super::request::RequestMeta;
use super::roles::Role;
use crate::http::{ApiError, Caller, key_grant, path_param};
use crate::ports::table::{Condition, Item, ItemTable, from_item, to_keyed_item};
use crate::services::Services;
use lambda_http::RequestExt;

/// A member item: `ORG#<org>` / `MEMBER#<user>`, indexed by user on gsi1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The member.
    pub user_id: UserId,
    /// The member's e-mail address, as it was when they joined.
    pub email: String,
    /// The role.
    pub role: Role,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Optimistic concurrency version.
    pub version: u64,
}

/// A member item, indexed by user so "my organizations" is one query.
pub fn member_item(member: &Membership) -> Result<Item, ApiError> {
    let mut item = to_keyed_item(
        member,
        keys::member(&member.organization_id, &member.user_id),
    )?;
    item.insert(
        "gsi1pk".into(),
        json!(keys::user_partition(&member.user_id)),
    );
    item.insert(
        "gsi1sk".into(),
        json!(keys::organization_partition(&member.organization_id)),
    );
    Ok(item)
}

/// What a scoped route is scoped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// An organization, by its id.
    Organization,
    /// A project, by its id; its organization is read from the project item.
    Project,
    /// An app, by its id; its project and organization are read from the
    /// app item.
    App,
    /// A workflow, by its id; its project and organization are read from
    /// the workflow item.
    Workflow,
}

/// A route's scope: which path parameter names the tenant, the lowest role
/// allowed, and the audit action a refusal is recorded under (`None` for
/// reads, which are not audited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Organization or project.
    pub kind: ScopeKind,
    /// The path parameter holding its id.
    pub param: &'static str,
    /// The lowest role allowed.
    pub least: Role,
    /// The audited action of a change.
    pub audit: Option<&'static str>,
    /// What an app's API key needs to call the route; `None`: keys may not.
    pub keys: Option<KeyScope>,
}

/// Who a scoped route's caller is.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A member of the organization, with their role.
    Member(Membership),
    /// An app's API key, on a route that takes keys.
    Key(KeyGrant),
}

/// A scoped route's caller, resolved: who, which tenant, with which role.
/// Only the guard makes one, so a handler holding it has passed the check.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// The caller and the request's identity.
    pub meta: RequestMeta,
    /// The organization.
    pub organization_id: OrganizationId,
    /// The project, on a project- or app-scoped route.
    pub project_id: Option<ProjectId>,
    /// The member or the key the guard let through.
    pub principal: Principal,
}

impl Tenant {
    /// The caller's role in the organization; a key acts as an editor when
    /// it may write and as a viewer when it may only read.
    pub fn role(&self) -> Role {
        match &self.principal {
            Principal::Member(membership) => membership.role,
            Principal::Key(grant) if grant.allows(KeyScope::Write) => Role::Editor,
            Principal::Key(_) => Role::Viewer,
        }
    }

    /// The caller's membership: routes that take no keys always have one.
    pub fn membership(&self) -> Result<&Membership, ApiError> {
        match &self.principal {
            Principal::Member(membership) => Ok(membership),
            Principal::Key(_) => Err(ApiError::Internal(
                "an API key reached a route for members only".into(),
            )),
        }
    }
}

/// The caller's membership, if the caller has at least `role`: 404 for a
/// non-member, 403 for a lower role.
pub async fn require(
    table: &dyn ItemTable,
    caller: &Caller,
    organization_id: &str,
    role: Role,
) -> Result<Membership, ApiError> {
    let item = table
        .get(&keys::member(organization_id, &caller.sub))
        .await?
        .ok_or(ApiError::NotFound)?;
    let membership: Membership = from_item(item)?;
    if membership.role < role {
        return Err(ApiError::Forbidden);
    }
    Ok(membership)
}

/// Resolves a scoped route's tenant from its path and checks the caller's
/// role: one read for an organization, two for a project (the project item
/// names its organization).
pub async fn resolve(
    services: &Services,
    request: &Request,
    scope: &Scope,
) -> Result<Tenant, ApiError> {
    let grant = key_grant(request)?;
    let meta = RequestMeta::of(request)?;
    let id = path_param(request, scope.param)?;
    let table = services.table()?;
    let text = |item: &Item, name: &str| {
        item.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| ApiError::Internal(format!("{id} names no {name}")))
    };
    let (organization_id, project_id) = match scope.kind {
        ScopeKind::Organization => (OrganizationId::from(id), None),
        ScopeKind::Project => {
            let item = table
                .get(&keys::project(id))
                .await?
                .ok_or(ApiError::NotFound)?;
            let organization = text(&item, "organization_id")?;
            (
                OrganizationId::from(organization),
                Some(ProjectId::from(id)),
            )
        }
        ScopeKind::App | ScopeKind::Workflow => {
            let key = match scope.kind {
                ScopeKind::App => keys::app(id),
                _ => keys::workflow(id),
            };
            let item = table.get(&key).await?.ok_or(ApiError::NotFound)?;
            (
                OrganizationId::from(text(&item, "organization_id")?),
                Some(ProjectId::from(text(&item, "project_id")?)),
            )
        }
    };
    if let Some(grant) = grant {
        return admit_key(
            services,
            request,
            scope,
            meta,
            grant,
            organization_id,
            project_id,
        )
        .await;
    }
    let membership = match require(table, &meta.caller, &organization_id, scope.least).await {
        Err(ApiError::Forbidden) => {
            let target = match &project_id {
                Some(project) => Target {
                    kind: "project",
                    id: project,
                },
                None => Target {
                    kind: "organization",
                    id: &organization_id,
                },
            };
            return Err(match scope.audit {
                Some(action) => refuse_on(services, &meta, &organization_id, action, target).await,
                None => ApiError::Forbidden,
            });
        }
        verdict => verdict?,
    };
    Ok(Tenant {
        meta,
        organization_id,
        project_id,
        principal: Principal::Member(membership),
    })
}

/// Lets an app key through to a route that takes keys: its own project
/// only (another's is 404, like a non-member's), the scope the route needs
/// and the tables it is kept to (403), within its rate (429).
async fn admit_key(
    services: &Services,
    request: &Request,
    scope: &Scope,
    meta: RequestMeta,
    grant: KeyGrant,
    organization_id: OrganizationId,
    project_id: Option<ProjectId>,
) -> Result<Tenant, ApiError> {
    let Some(needed) = scope.keys else {
        return Err(ApiError::ApiKeyNotAccepted);
    };
    let ours = project_id.as_deref() == Some(grant.project_id.as_str())
        && organization_id == grant.organization_id.as_str();
    if !ours {
        return Err(ApiError::NotFound);
    }
    let table_allowed = match request
        .path_parameters_ref()
        .and_then(|p| p.first("table_id"))
    {
        Some(table_id) => grant.opens_table(table_id),
        None => grant.tables.is_empty(),
    };
    if !grant.allows(needed) || !table_allowed {
        let target = Target {
            kind: "project",
            id: &grant.project_id,
        };
        return Err(match scope.audit {
            Some(action) => refuse_on(services, &meta, &organization_id, action, target).await,
            None => ApiError::Forbidden,
        });
    }
    grant::spend(services.table()?, &grant, chrono::Utc::now().timestamp()).await?;
    Ok(Tenant {
        meta,
        organization_id,
        project_id,
        principal: Principal::Key(grant),
    })
}

/// Refuses a change to a member (403) after auditing the refusal; for rules
/// finer than a role, like "only owners grant owner".
pub async fn refuse(
    services: &Services,
    meta: &RequestMeta,
    organization_id: &str,
    action: &str,
) -> ApiError {
    let target = Target {
        kind: "organization",
        id: organization_id,
    };
    refuse_on(services, meta, organization_id, action, target).await
}

/// [`refuse`], naming what the refused change was aimed at.
async fn refuse_on(
    services: &Services,
    meta: &RequestMeta,
    organization_id: &str,
    action: &str,
    target: Target<'_>,
) -> ApiError {
    let recorded = async {
        let entry = audit::denied(meta, organization_id, action, target)?;
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
