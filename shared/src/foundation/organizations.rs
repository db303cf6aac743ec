//! Organizations: create (the creator becomes owner), list mine, get,
//! update, delete (owners only).
//!
//! Items: `ORG#<id>` / `ORG` holds the organization and its owner count (so
//! the last owner can be protected by a condition); members live beside it
//! (see [`crate::tenancy::Membership`]).

use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::change::{Change, ChangeError};
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, HandlerResult, Page, access_token, json, json_body, no_content,
    page_params,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{
    Condition, Cursor, Index, Key, Query, Update, Write, from_item, to_keyed_item,
};
use crate::services::Services;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::guard::member_item;
use crate::tenancy::{Membership, RequestMeta, Role, Tenant, keys};
use crate::tenancy::{OrganizationId, UserId};

/// An organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organization {
    /// Sortable id.
    pub id: OrganizationId,
    /// Display name.
    pub name: String,
    /// What it is for, if said.
    #[serde(default)]
    pub description: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// How many owners it has (never below one).
    pub owners: u32,
    /// Optimistic concurrency version: send it back to update.
    pub version: u64,
}

/// An organization with the caller's role in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationView {
    /// The organization.
    #[serde(flatten)]
    pub organization: Organization,
    /// The caller's role.
    pub role: Role,
}

/// `POST /organizations/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// Display name, 1 to 100 characters.
    #[schema(schema_with = crate::http::schema::name)]
    pub name: String,
    /// What it is for, at most 1,000 characters.
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<String>,
}

/// `PATCH /organizations/{id}/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// New display name, 1 to 100 characters.
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub name: Option<String>,
    /// New description, at most 1,000 characters; `null` or `""` clears it.
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<Option<String>>,
    /// The version read; a stale one is a 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

/// The key of an organization item.
pub fn key(id: &str) -> Key {
    Key::new(keys::organization_partition(id), "ORG")
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A display name as `http::schema::name` describes it, trimmed.
pub fn parse_name(name: &str) -> Result<String, ApiError> {
    crate::http::schema::check_name(name).map_err(|why| ApiError::invalid("name", why))
}

/// A trimmed description of at most 1,000 characters; empty is none.
pub fn parse_description(description: Option<&str>) -> Result<Option<String>, ApiError> {
    crate::http::schema::check_description(description)
        .map_err(|why| ApiError::invalid("description", why))
}

/// Reads an organization that must exist (a member can see it).
pub async fn load(services: &Services, id: &str) -> Result<Organization, ApiError> {
    let item = services
        .table()?
        .get(&key(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// Creates an organization; the caller becomes its owner.
pub async fn create(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let body: CreateOrganization = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let name = parse_name(&body.name)?;
    let description = parse_description(body.description.as_deref())?;
    let user = services
        .identity()?
        .get_user(access_token(&request)?)
        .await?;
    let email = user.attributes.get("email").cloned().unwrap_or_default();
    let id = OrganizationId::generate();
    let organization = Organization {
        id: id.clone(),
        name,
        description,
        created_by: meta.caller.sub.clone(),
        created_at: now(),
        owners: 1,
        version: 1,
    };
    let owner = Membership {
        organization_id: id.clone(),
        user_id: meta.caller.sub.clone(),
        email,
        role: Role::Owner,
        joined_at: organization.created_at.clone(),
        version: 1,
    };
    Change::new()
        .write(
            "organization",
            Write::Put {
                item: to_keyed_item(&organization, key(&id))?,
                condition: Some(Condition::Absent),
            },
        )
        .write(
            "owner",
            Write::Put {
                item: member_item(&owner)?,
                condition: Some(Condition::Absent),
            },
        )
        .write(
            "audit",
            audit::record(
                &meta,
                &id,
                "organization.created",
                Target {
                    kind: "organization",
                    id: &id,
                },
            )?,
        )
        .event(DomainEvent::new(
            "foundation",
            "organization.created",
            json!({"organization_id": id, "created_by": meta.caller.sub}),
        ))
        .event(DomainEvent::new(
            "foundation",
            "member.added",
            json!({"organization_id": id, "user_id": meta.caller.sub, "role": "owner"}),
        ))
        .commit(services.table()?)
        .await?;
    json(
        StatusCode::CREATED,
        &OrganizationView {
            organization,
            role: Role::Owner,
        },
    )
}

/// Lists the caller's organizations, oldest membership first.
pub async fn list(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let (limit, cursor) = page_params(&request)?;
    let table = services.table()?;
    let query = Query::partition(keys::user_partition(&meta.caller.sub))
        .on(Index::Gsi1)
        .begins_with("ORG#")
        .limit(limit)
        .after(cursor);
    let page = table.query(&query).await?;
    let memberships: Vec<Membership> = page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    let keys: Vec<Key> = memberships
        .iter()
        .map(|m| key(&m.organization_id))
        .collect();
    let organizations: Vec<Organization> = if keys.is_empty() {
        Vec::new()
    } else {
        table
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?
    };
    let items = memberships
        .iter()
        .filter_map(|m| {
            let organization = organizations.iter().find(|o| o.id == m.organization_id)?;
            Some(OrganizationView {
                organization: organization.clone(),
                role: m.role,
            })
        })
        .collect();
    json(
        StatusCode::OK,
        &Page::<OrganizationView>::new(items, page.next),
    )
}

/// One organization, for any member.
pub async fn get(services: Arc<Services>, _request: Request, tenant: Tenant) -> HandlerResult {
    let organization = load(&services, &tenant.organization_id).await?;
    json(
        StatusCode::OK,
        &OrganizationView {
            organization,
            role: tenant.role(),
        },
    )
}

/// Renames an organization (admins and owners).
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (meta, id) = (&tenant.meta, tenant.organization_id.as_str());
    let body: UpdateOrganization = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let name = body.name.as_deref().map(parse_name).transpose()?;
    let description = body
        .description
        .as_ref()
        .map(|d| parse_description(d.as_deref()))
        .transpose()?;
    let table = services.table()?;
    let current = load(&services, id).await?;
    let expected = body.version.unwrap_or(current.version);
    if expected != current.version {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    let mut change = Update::of(key(id)).add("version", 1);
    if let Some(name) = &name {
        change = change.set("name", name.as_str());
    }
    match &description {
        Some(Some(text)) => change = change.set("description", text.as_str()),
        Some(None) => change = change.set("description", serde_json::Value::Null),
        None => {}
    }
    let result = Change::new()
        .write(
            "organization",
            Write::Update(change.when(Condition::version_is(expected))),
        )
        .write(
            "audit",
            audit::record(
                meta,
                id,
                "organization.updated",
                Target {
                    kind: "organization",
                    id,
                },
            )?,
        )
        .event(DomainEvent::new(
            "foundation",
            "organization.updated",
            json!({"organization_id": id, "updated_by": meta.caller.sub}),
        ))
        .commit(table)
        .await;
    match result {
        Ok(()) => {}
        Err(ChangeError::Refused("organization")) => return Err(ApiError::StaleVersion(None)),
        Err(e) => return Err(e.into()),
    }
    let organization = load(&services, id).await?;
    json(
        StatusCode::OK,
        &OrganizationView {
            organization,
            role: tenant.role(),
        },
    )
}

/// Deletes an organization and its memberships (owners only). The audit
/// log stays: it records the deletion too.
pub async fn delete(services: Arc<Services>, _request: Request, tenant: Tenant) -> HandlerResult {
    let (meta, id) = (&tenant.meta, tenant.organization_id.as_str());
    let table = services.table()?;
    // The organization item goes first, with the audit entry: from then on
    // the organization is gone for everyone, even if member clean-up retries.
    Change::new()
        .write(
            "organization",
            Write::Delete {
                key: key(id),
                condition: Some(Condition::Exists),
            },
        )
        .write(
            "audit",
            audit::record(
                meta,
                id,
                "organization.deleted",
                Target {
                    kind: "organization",
                    id,
                },
            )?,
        )
        .event(DomainEvent::new(
            "foundation",
            "organization.deleted",
            json!({"organization_id": id, "deleted_by": meta.caller.sub}),
        ))
        .commit(table)
        .await?;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = table
            .query(
                &Query::partition(keys::organization_partition(id))
                    .limit(25)
                    .after(cursor.take()),
            )
            .await?;
        for item in &page.items {
            table.delete(&Key::of(item)?, None).await?;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    no_content()
}
