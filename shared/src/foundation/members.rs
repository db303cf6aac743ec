//! Members of an organization: list, change role, remove, leave. The last
//! owner can never be removed, demoted or leave: the organization's owner
//! count only drops under the condition that it stays above zero.

use std::sync::Arc;

use super::FoundationError;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::organizations;
use crate::change::{Change, ChangeError};
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, HandlerResult, Page, json, json_body, no_content, page_params,
    path_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, Query, Update, Write, from_item};
use crate::services::Services;
use crate::tenancy::UserId;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{Membership, RequestMeta, Role, Tenant, guard, keys};

/// A member as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    /// The member's user id.
    pub user_id: UserId,
    /// Their e-mail address.
    pub email: String,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub joined_at: String,
}

impl From<Membership> for MemberView {
    fn from(m: Membership) -> Self {
        Self {
            user_id: m.user_id,
            email: m.email,
            role: m.role,
            joined_at: m.joined_at,
        }
    }
}

/// `PATCH /organizations/{id}/members/{user_id}/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    /// The new role.
    pub role: Role,
}

/// The audited action of a role change.
pub const ROLE_CHANGED: &str = "member.role_changed";
/// The audited action of a removal.
pub const REMOVED: &str = "member.removed";
/// The audited action of leaving.
pub const LEFT: &str = "member.left";

/// The name of the owner count's write in a change.
const OWNERS: &str = "owners";

/// The write that keeps the owner count right when `from` becomes `to`
/// (`None`: the member leaves), guarded so it never reaches zero.
fn owner_count(organization_id: &str, from: Role, to: Option<Role>) -> Option<Write> {
    let was = from == Role::Owner;
    let is = to == Some(Role::Owner);
    let key = organizations::key(organization_id);
    match (was, is) {
        (true, false) => Some(Write::Update(
            Update::of(key)
                .add("owners", -1)
                .when(Condition::GreaterThan("owners".into(), json!(1))),
        )),
        (false, true) => Some(Write::Update(
            Update::of(key).add("owners", 1).when(Condition::Exists),
        )),
        _ => None,
    }
}

/// Commits a membership change; a refused owner count means the change
/// would leave no owner.
async fn commit(services: &Services, change: Change) -> Result<(), ApiError> {
    match change.commit(services.table()?).await {
        Ok(()) => Ok(()),
        Err(ChangeError::Refused(OWNERS)) => Err(ApiError::from(FoundationError::LastOwner)),
        Err(e) => Err(e.into()),
    }
}

async fn target(
    services: &Services,
    organization_id: &str,
    user_id: &str,
) -> Result<Membership, ApiError> {
    let item = services
        .table()?
        .get(&keys::member(organization_id, user_id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// Lists the members (any member may).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let page = services
        .table()?
        .query(
            &Query::partition(keys::organization_partition(&tenant.organization_id))
                .begins_with(keys::MEMBER_PREFIX)
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items = page
        .items
        .into_iter()
        .map(|item| from_item::<Membership>(item).map(MemberView::from))
        .collect::<Result<_, _>>()?;
    json(StatusCode::OK, &Page::<MemberView>::new(items, page.next))
}

/// One member (any member may see it).
pub async fn get(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let user_id = path_param(&request, "user_id")?;
    let member = target(&services, &tenant.organization_id, user_id).await?;
    json(StatusCode::OK, &MemberView::from(member))
}

/// Changes a member's role (admins; only owners grant or take owner).
pub async fn change_role(
    services: Arc<Services>,
    request: Request,
    tenant: Tenant,
) -> HandlerResult {
    let (meta, id) = (&tenant.meta, tenant.organization_id.as_str());
    let user_id = path_param(&request, "user_id")?;
    let body: ChangeRole = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let action = ROLE_CHANGED;
    let mut member = target(&services, id, user_id).await?;
    let touches_owner = member.role == Role::Owner || body.role == Role::Owner;
    if touches_owner && tenant.role() < Role::Owner {
        return Err(guard::refuse(&services, meta, id, action).await);
    }
    if member.role == body.role {
        return json(StatusCode::OK, &MemberView::from(member));
    }
    let previous = member.role;
    member.role = body.role;
    let change = Change::new()
        .write(
            "member",
            Write::Update(
                Update::of(keys::member(id, user_id))
                    .set("role", body.role.as_str())
                    .add("version", 1)
                    .when(Condition::version_is(member.version)),
            ),
        )
        .write(
            "audit",
            audit::record(
                meta,
                id,
                action,
                Target {
                    kind: "member",
                    id: user_id,
                },
            )?,
        )
        .maybe(OWNERS, owner_count(id, previous, Some(body.role)))
        .event(DomainEvent::new(
            "foundation",
            action,
            json!({"organization_id": id, "user_id": user_id, "from": previous, "to": body.role}),
        ));
    commit(&services, change).await?;
    member.version += 1;
    json(StatusCode::OK, &MemberView::from(member))
}

async fn remove_member(
    services: &Services,
    meta: &RequestMeta,
    organization_id: &str,
    member: &Membership,
    action: &str,
) -> Result<(), ApiError> {
    let change = Change::new()
        .write(
            "member",
            Write::Delete {
                key: keys::member(organization_id, &member.user_id),
                condition: Some(Condition::version_is(member.version)),
            },
        )
        .write(
            "audit",
            audit::record(
                meta,
                organization_id,
                action,
                Target {
                    kind: "member",
                    id: &member.user_id,
                },
            )?,
        )
        .maybe(OWNERS, owner_count(organization_id, member.role, None))
        .event(DomainEvent::new(
            "foundation",
            action,
            json!({"organization_id": organization_id, "user_id": member.user_id}),
        ));
    commit(services, change).await
}

/// Removes a member (admins; only owners remove owners).
pub async fn remove(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (meta, id) = (&tenant.meta, tenant.organization_id.as_str());
    let user_id = path_param(&request, "user_id")?;
    let member = target(&services, id, user_id).await?;
    if member.role == Role::Owner && tenant.role() < Role::Owner {
        return Err(guard::refuse(&services, meta, id, REMOVED).await);
    }
    remove_member(&services, meta, id, &member, REMOVED).await?;
    no_content()
}

/// Leaves an organization (any member but its last owner).
pub async fn leave(services: Arc<Services>, _request: Request, tenant: Tenant) -> HandlerResult {
    let id = tenant.organization_id.as_str();
    remove_member(&services, &tenant.meta, id, tenant.membership()?, LEFT).await?;
    no_content()
}
