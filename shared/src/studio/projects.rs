//! Projects: an organization's apps in the making. Editors create, change,
//! archive and unarchive them; admins delete them. A project's slug, when it
//! has one, is unique in its organization.
//!
//! Items: `PROJECT#<id>` / `PROJECT` (the project scope reads it), indexed
//! on gsi1 under its organization (`ORG#<org>` / `PROJECT#<id>`); a slug is
//! held by `ORG#<org>` / `PROJECT_SLUG#<slug>`. Deleting a project removes
//! its item at once (it answers 404 from then on) and publishes
//! `project.deleted`, on which the cleanup worker clears its partition.

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{EVENTS, StudioError, keys, now};
use crate::change::{self, Change, ChangeError};
use crate::http::schema::{self, QueryParam};
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, Page, json, json_body, no_content,
    page_limit, page_params, query_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{
    Condition, Cursor, Index, Item, ItemTable, Query, Update, Write, from_item, to_keyed_item,
};
use crate::services::Services;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{OrganizationId, ProjectId, RequestMeta, Role, Tenant, UserId};
use crate::tenancy::{guard, listing};

/// The audited action of a creation.
pub const CREATED: &str = "project.created";
/// The audited action of an update.
pub const UPDATED: &str = "project.updated";
/// The audited action of archiving.
pub const ARCHIVED: &str = "project.archived";
/// The audited action of unarchiving.
pub const UNARCHIVED: &str = "project.unarchived";
/// The audited action of a deletion.
pub const DELETED: &str = "project.deleted";

/// The longest slug.
pub const MAX_SLUG: usize = 63;
/// Lower-case words of letters and digits joined by single hyphens.
const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// Whether a project is in use or put away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// In use: it can be changed.
    Active,
    /// Put away: it reads, but changes wait until it is unarchived.
    Archived,
}

/// A project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Project {
    /// Sortable id.
    pub id: ProjectId,
    /// The organization it belongs to.
    pub organization_id: OrganizationId,
    /// Display name.
    pub name: String,
    /// What it is for, if said.
    #[serde(default)]
    pub description: Option<String>,
    /// A short name unique in the organization, if set.
    #[serde(default)]
    pub slug: Option<String>,
    /// Active or archived.
    pub status: ProjectStatus,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// How many tables it holds.
    #[serde(default)]
    pub tables: u32,
    /// How many custom components it holds.
    #[serde(default)]
    pub components: u32,
    /// How many pages it holds.
    #[serde(default)]
    pub pages: u32,
    /// Optimistic concurrency version: send it back to update.
    pub version: u64,
}

impl Project {
    /// Refuses a change to an archived project.
    pub fn ensure_active(&self) -> Result<(), StudioError> {
        match self.status {
            ProjectStatus::Active => Ok(()),
            ProjectStatus::Archived => Err(StudioError::ProjectArchived),
        }
    }
}

fn slug_schema(nullable: bool) -> utoipa::openapi::schema::Object {
    let types = if nullable {
        utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ])
    } else {
        utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::schema::Type::String)
    };
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(types)
        .min_length(Some(1))
        .max_length(Some(MAX_SLUG))
        .pattern(Some(SLUG_PATTERN))
        .description(Some(
            "Lower-case letters and digits in words joined by single hyphens, at most 63 characters; unique in the organization",
        ))
        .build()
}

fn slug_or_null() -> utoipa::openapi::schema::Object {
    slug_schema(true)
}

fn organization_id_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .description(Some("An organization the caller edits in"))
        .build()
}

/// `POST /studio/projects/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// The organization it belongs to (the caller edits there).
    #[schema(schema_with = organization_id_schema)]
    pub organization_id: String,
    /// Display name, 1 to 100 characters.
    #[schema(schema_with = crate::http::schema::name)]
    pub name: String,
    /// What it is for, at most 1,000 characters.
    #[serde(default)]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<String>,
    /// A short name unique in the organization.
    #[serde(default)]
    #[schema(schema_with = slug_or_null)]
    pub slug: Option<String>,
}

/// `PATCH /studio/projects/{id}/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    /// New display name, 1 to 100 characters.
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub name: Option<String>,
    /// New description; `null` or `""` clears it.
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<Option<String>>,
    /// New slug; `null` clears it.
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = slug_or_null)]
    pub slug: Option<Option<String>>,
    /// The version read; a stale one is a 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

/// The query of the project list: its page and, optionally, one organization.
pub const LIST_QUERY: &[QueryParam] = &[
    schema::LIMIT,
    schema::NEXT,
    QueryParam {
        name: "organization",
        description: "Only this organization's projects (any member may list them)",
        schema: organization_id_schema,
    },
];

/// Checks a slug as [`slug_schema`] describes it.
pub fn check_slug(slug: &str) -> Result<(), &'static str> {
    let words_ok = slug.split('-').all(|w| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if slug.is_empty() || slug.len() > MAX_SLUG || !words_ok {
        return Err(
            "must be lower-case letters and digits in words joined by single hyphens, at most 63 characters",
        );
    }
    Ok(())
}

fn item(project: &Project) -> Result<Item, ApiError> {
    let mut item = to_keyed_item(project, keys::project(&project.id))?;
    item.insert(
        "gsi1pk".into(),
        Value::String(crate::tenancy::keys::organization_partition(
            &project.organization_id,
        )),
    );
    item.insert(
        "gsi1sk".into(),
        Value::String(keys::project_in_organization(&project.id)),
    );
    Ok(item)
}

fn slug_claim(project: &Project, slug: &str) -> Result<Write, ApiError> {
    let key = keys::slug(&project.organization_id, slug);
    Ok(change::claim(&key, "project_id", &project.id)?)
}

fn slug_release(project: &Project, slug: &str) -> Write {
    change::release(
        &keys::slug(&project.organization_id, slug),
        "project_id",
        &project.id,
    )
}

fn event(detail_type: &str, project: &Project, by: &UserId) -> DomainEvent {
    DomainEvent::new(
        EVENTS,
        detail_type,
        json!({"organization_id": project.organization_id, "project_id": project.id, "by": by}),
    )
}

fn audited(meta: &RequestMeta, project: &Project, action: &str) -> Result<Write, ApiError> {
    Ok(audit::record(
        meta,
        &project.organization_id,
        action,
        Target {
            kind: "project",
            id: &project.id,
        },
    )?)
}

/// Moves one of the project's counters (`tables`, `components`, `pages`)
/// by `by`, on an active project, and below `max` when it grows: the limit
/// is a condition of the change's own transaction.
pub fn count(project: &Project, counter: &str, by: i64, max: u32) -> Write {
    let mut holds = vec![Condition::Equals(
        "status".into(),
        json!(ProjectStatus::Active),
    )];
    if by > 0 {
        holds.push(Condition::Or(vec![
            Condition::AttributeAbsent(counter.into()),
            Condition::LessThan(counter.into(), json!(i64::from(max) + 1 - by)),
        ]));
    }
    Write::Update(
        Update::of(keys::project(&project.id))
            .add(counter, by)
            .when(Condition::And(holds)),
    )
}

/// Why a change with a [`count`] write was refused on the project: it is
/// archived, or the counter is at its limit (`too_many`).
pub async fn count_refused(
    services: &Services,
    tenant: &Tenant,
    too_many: StudioError,
) -> ApiError {
    match of_tenant(services, tenant).await {
        Ok(project) if project.ensure_active().is_err() => StudioError::ProjectArchived.into(),
        Ok(_) => too_many.into(),
        Err(e) => e,
    }
}

/// Reads a project that must exist.
pub async fn load(table: &dyn ItemTable, id: &str) -> Result<Project, ApiError> {
    let item = table
        .get(&keys::project(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// The project of a project-scoped route.
pub async fn of_tenant(services: &Services, tenant: &Tenant) -> Result<Project, ApiError> {
    let id = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    load(services.table()?, id).await
}

/// Commits a project change; a taken slug is a 409, a stale version a 412.
async fn commit(table: &dyn ItemTable, change: Change) -> Result<(), ApiError> {
    match change.commit(table).await {
        Ok(()) => Ok(()),
        Err(ChangeError::Refused("slug")) => Err(StudioError::SlugTaken.into()),
        Err(ChangeError::Refused("project")) => Err(ApiError::StaleVersion(None)),
        Err(e) => Err(e.into()),
    }
}

/// Commits a new project: its item, its slug's claim, its audit entry
/// (`action`, else a creation's) and `project.created`, with `action` as
/// a second event when it says how the project came to be.
pub async fn commit_new(
    table: &dyn ItemTable,
    meta: &RequestMeta,
    project: &Project,
    action: Option<&str>,
) -> Result<(), ApiError> {
    let mut change = Change::new().write(
        "project",
        Write::Put {
            item: item(project)?,
            condition: Some(Condition::Absent),
        },
    );
    if let Some(slug) = &project.slug {
        change = change.write("slug", slug_claim(project, slug)?);
    }
    change = change
        .write("audit", audited(meta, project, action.unwrap_or(CREATED))?)
        .event(event(CREATED, project, &meta.caller.sub));
    if let Some(action) = action {
        change = change.event(event(action, project, &meta.caller.sub));
    }
    commit(table, change).await
}

/// Creates a project in an organization where the caller edits.
pub async fn create(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let body: CreateProject = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = schema::take_name("name", &body.name, &mut errors);
    let description = schema::take_description(body.description.as_deref(), &mut errors);
    if let Some(slug) = &body.slug
        && let Err(why) = check_slug(slug)
    {
        errors.push(FieldError::new("slug", why));
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let table = services.table()?;
    let organization = body.organization_id.as_str();
    match guard::require(table, &meta.caller, organization, Role::Editor).await {
        Err(ApiError::Forbidden) => {
            return Err(guard::refuse(&services, &meta, organization, CREATED).await);
        }
        other => other?,
    };
    let at = now();
    let project = Project {
        id: ProjectId::generate(),
        organization_id: organization.into(),
        name,
        description,
        slug: body.slug,
        status: ProjectStatus::Active,
        created_by: meta.caller.sub.clone(),
        created_at: at.clone(),
        updated_at: at,
        tables: 0,
        components: 0,
        pages: 0,
        version: 1,
    };
    commit_new(table, &meta, &project, None).await?;
    json(StatusCode::CREATED, &project)
}

fn organization_projects(organization: &str, limit: u32, after: Option<Cursor>) -> Query {
    Query::partition(crate::tenancy::keys::organization_partition(organization))
        .on(Index::Gsi1)
        .begins_with(keys::PROJECTS_PREFIX)
        .limit(limit)
        .after(after)
}

fn read_projects(items: Vec<Item>) -> Result<Vec<Project>, ApiError> {
    Ok(items.into_iter().map(from_item).collect::<Result<_, _>>()?)
}

/// Lists one organization's projects (`?organization=`, any member), or
/// else every project of every organization the caller is in.
pub async fn list(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let table = services.table()?;
    if let Some(organization) = query_param(&request, "organization") {
        let (limit, cursor) = page_params(&request)?;
        guard::require(table, &meta.caller, organization, Role::Viewer).await?;
        let page = table
            .query(&organization_projects(organization, limit, cursor))
            .await?;
        return json(
            StatusCode::OK,
            &Page::new(read_projects(page.items)?, page.next),
        );
    }
    // Across organizations `next` is this list's own position.
    let page = listing::across_organizations(
        table,
        &meta.caller.sub,
        page_limit(&request)?,
        query_param(&request, "next"),
        organization_projects,
    )
    .await?;
    json(
        StatusCode::OK,
        &Page {
            items: read_projects(page.items)?,
            next: page.next,
        },
    )
}

/// One project (any member).
pub async fn get(services: Arc<Services>, _request: Request, tenant: Tenant) -> HandlerResult {
    json(StatusCode::OK, &of_tenant(&services, &tenant).await?)
}

/// Renames, describes or re-slugs a project (editors).
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: UpdateProject = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = schema::take_new_name(body.name.as_deref(), &mut errors);
    let description = schema::take_new_description(body.description.as_ref(), &mut errors);
    if let Some(Some(slug)) = &body.slug
        && let Err(why) = check_slug(slug)
    {
        errors.push(FieldError::new("slug", why));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let table = services.table()?;
    let current = of_tenant(&services, &tenant).await?;
    if body.version.is_some_and(|v| v != current.version) {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    current.ensure_active()?;
    let mut next = current.clone();
    if let Some(name) = name {
        next.name = name;
    }
    if let Some(description) = description {
        next.description = description;
    }
    if let Some(slug) = body.slug.clone() {
        next.slug = slug;
    }
    next.updated_at = now();
    next.version += 1;
    // Only what the request changes: the table count moves on its own.
    let description = next
        .description
        .as_deref()
        .map_or(Value::Null, |d| json!(d));
    let slug = next.slug.as_deref().map_or(Value::Null, |s| json!(s));
    let fields = Update::of(keys::project(&next.id))
        .set("name", next.name.as_str())
        .set("description", description)
        .set("slug", slug)
        .set("updated_at", next.updated_at.as_str())
        .add("version", 1)
        .when(Condition::version_is(current.version));
    let mut change = Change::new().write("project", Write::Update(fields));
    if next.slug != current.slug {
        if let Some(old) = &current.slug {
            change = change.write("old_slug", slug_release(&current, old));
        }
        if let Some(new) = &next.slug {
            change = change.write("slug", slug_claim(&next, new)?);
        }
    }
    let change = change
        .write("audit", audited(&tenant.meta, &next, UPDATED)?)
        .event(event(UPDATED, &next, &tenant.meta.caller.sub));
    commit(table, change).await?;
    json(StatusCode::OK, &next)
}

async fn set_status(
    services: &Services,
    tenant: &Tenant,
    status: ProjectStatus,
    action: &str,
) -> HandlerResult {
    let table = services.table()?;
    let current = of_tenant(services, tenant).await?;
    if current.status == status {
        return json(StatusCode::OK, &current);
    }
    let change = Update::of(keys::project(&current.id))
        .set("status", json!(status))
        .set("updated_at", now())
        .add("version", 1)
        .when(Condition::version_is(current.version));
    let changed = Change::new()
        .write("project", Write::Update(change))
        .write("audit", audited(&tenant.meta, &current, action)?)
        .event(event(action, &current, &tenant.meta.caller.sub));
    match changed.commit(table).await {
        Ok(()) => {}
        Err(ChangeError::Refused("project")) => {
            return Err(ApiError::Conflict(
                crate::http::Conflict::CHANGED_CONCURRENTLY,
            ));
        }
        Err(e) => return Err(e.into()),
    }
    json(StatusCode::OK, &load(table, &current.id).await?)
}

/// Archives a project: it reads, but changes wait (editors).
pub async fn archive(services: Arc<Services>, _request: Request, tenant: Tenant) -> HandlerResult {
    set_status(&services, &tenant, ProjectStatus::Archived, ARCHIVED).await
}

/// Brings an archived project back (editors).
pub async fn unarchive(
    services: Arc<Services>,
    _request: Request,
    tenant: Tenant,
) -> HandlerResult {
    set_status(&services, &tenant, ProjectStatus::Active, UNARCHIVED).await
}

/// Deletes a project (admins): it answers 404 at once; its tables, pages and
/// history go with the cleanup worker.
pub async fn delete(services: Arc<Services>, _request: Request, tenant: Tenant) -> HandlerResult {
    let table = services.table()?;
    let project = of_tenant(&services, &tenant).await?;
    // The event names every table, so their records can be cleared after
    // them; the table count read is a condition, so none is added unseen.
    let table_ids: Vec<String> = super::tables::all_tables(table, &project.id)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut counted = vec![Condition::Equals("tables".into(), json!(table_ids.len()))];
    if table_ids.is_empty() {
        counted.push(Condition::AttributeAbsent("tables".into()));
    }
    let mut change = Change::new().write(
        "project",
        Write::Delete {
            key: keys::project(&project.id),
            condition: Some(Condition::And(vec![
                Condition::Exists,
                Condition::Or(counted),
            ])),
        },
    );
    if let Some(slug) = &project.slug {
        change = change.write("old_slug", slug_release(&project, slug));
    }
    let mut deleted = event(DELETED, &project, &tenant.meta.caller.sub);
    deleted.detail["table_ids"] = json!(table_ids);
    let change = change
        .write("audit", audited(&tenant.meta, &project, DELETED)?)
        .event(deleted);
    match change.commit(table).await {
        Err(ChangeError::Refused("project")) => Err(ApiError::Conflict(
            crate::http::Conflict::CHANGED_CONCURRENTLY,
        )),
        Err(e) => Err(e.into()),
        Ok(()) => no_content(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_hyphenated_lower_case_words() {
        for good in ["shop", "my-shop-2", "a", &"a".repeat(MAX_SLUG)] {
            assert!(check_slug(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-shop",
            "shop-",
            "my--shop",
            "Shop",
            "my shop",
            "ünï",
            &"a".repeat(MAX_SLUG + 1),
        ] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
    }
}
