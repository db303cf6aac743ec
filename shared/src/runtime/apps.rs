//! Apps: what a project becomes once deployed. An app binds one project;
//! its draft manifest follows the project's every change
//! ([`super::drafts`]), a deploy publishes the draft as an immutable,
//! numbered version ([`super::deploys`]), and its API keys open the
//! project's records to the app's end users ([`super::api_keys`]).
//!
//! Items: the app is `APP#<id>` / `APP` (the key the app scope reads),
//! listed under its organization on gsi1 and under its project on gsi2.
//! Its versions and keys live in its partition; its manifests in the
//! `bundles` bucket under `apps/<id>/`. Admins create, change and delete
//! apps; members read them.

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::EVENTS;
use crate::change::{Change, ChangeError};
use crate::http::schema::{self, QueryParam};
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, Page, json, json_body, no_content,
    page_limit, page_params, path_param, query_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{
    Condition, Cursor, Index, Item, ItemTable, Key, Query, Update, Write, from_item, to_keyed_item,
};
use crate::services::Services;
use crate::studio::projects;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{
    OrganizationId, ProjectId, RequestMeta, Role, Tenant, UserId, guard, keys, listing,
};

/// The audited action (and event) of a creation.
pub const CREATED: &str = "app.created";
/// … of a change of name or description.
pub const UPDATED: &str = "app.updated";
/// … of a deletion.
pub const DELETED: &str = "app.deleted";
/// The bucket of app manifests.
pub const BUCKET: &str = "bundles";

/// An app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct App {
    /// Sortable id.
    pub id: String,
    /// Its organization.
    pub organization_id: OrganizationId,
    /// The project it serves.
    pub project_id: ProjectId,
    /// Display name.
    pub name: String,
    /// What it is for, if said.
    #[serde(default)]
    pub description: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// When its name or description last changed (RFC 3339).
    pub updated_at: String,
    /// Moves with each change of name or description: send it back to
    /// change them (deploys and the draft move on their own).
    pub version: u64,
    /// The draft manifest's SHA-256, once one was made.
    #[serde(default)]
    pub draft_hash: Option<String>,
    /// How many times the draft has changed.
    #[serde(default)]
    pub draft_revision: u64,
    /// The draft's size in bytes.
    #[serde(default)]
    pub draft_size: u64,
    /// When the draft last changed (RFC 3339).
    #[serde(default)]
    pub draft_updated_at: Option<String>,
    /// The version its public URL serves, once deployed.
    #[serde(default)]
    pub live_version: Option<u64>,
    /// The highest version deployed (0: none).
    #[serde(default)]
    pub latest_version: u64,
    /// Its API keys that are not revoked.
    #[serde(default)]
    pub keys: u32,
}

/// `POST /runtime/apps/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// The project it serves (the caller is an admin of its organization).
    #[schema(min_length = 1, max_length = 64)]
    pub project_id: String,
    /// Display name.
    #[schema(schema_with = schema::name)]
    pub name: String,
    /// What it is for.
    #[serde(default)]
    #[schema(schema_with = schema::description_or_null)]
    pub description: Option<String>,
}

/// `PATCH /runtime/apps/{id}/`: what to change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    /// A new name.
    #[serde(default)]
    #[schema(schema_with = schema::name_or_null)]
    pub name: Option<String>,
    /// A new description; `null` or `""` clears it.
    #[serde(default, with = "crate::http::patch")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    /// The version read; a stale one is a 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

fn organization_or_project() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .build()
}

/// The list's filters and page.
pub const LIST_QUERY: &[QueryParam] = &[
    schema::LIMIT,
    schema::NEXT,
    QueryParam {
        name: "organization",
        description: "Only this organization's apps (any member)",
        schema: organization_or_project,
    },
    QueryParam {
        name: "project",
        description: "Only this project's apps (any member of its organization)",
        schema: organization_or_project,
    },
];

/// gsi1: an organization's apps.
const IN_ORGANIZATION: &str = "APP#";

/// gsi2 partition of a project's apps.
fn project_apps(project_id: &str) -> String {
    format!("APPS#{project_id}")
}

/// The partition of what an app holds: versions and keys.
pub fn partition(app_id: &str) -> String {
    keys::app(app_id).pk
}

/// The app item, with its list attributes.
pub fn item(app: &App) -> Result<Item, ApiError> {
    let mut item = to_keyed_item(app, keys::app(&app.id))?;
    item.insert(
        "gsi1pk".into(),
        json!(keys::organization_partition(&app.organization_id)),
    );
    item.insert(
        "gsi1sk".into(),
        json!(format!("{IN_ORGANIZATION}{}", app.id)),
    );
    item.insert("gsi2pk".into(), json!(project_apps(&app.project_id)));
    item.insert(
        "gsi2sk".into(),
        json!(format!("{IN_ORGANIZATION}{}", app.id)),
    );
    Ok(item)
}

/// An app that must exist.
pub async fn load(table: &dyn ItemTable, id: &str) -> Result<App, ApiError> {
    let item = table.get(&keys::app(id)).await?.ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// The app of an app-scoped route.
pub async fn of_request(services: &Services, request: &Request) -> Result<App, ApiError> {
    load(services.table()?, path_param(request, "id")?).await
}

/// Every app of a project.
pub async fn of_project(table: &dyn ItemTable, project_id: &str) -> Result<Vec<App>, ApiError> {
    let mut apps = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = table
            .query(
                &Query::partition(project_apps(project_id))
                    .on(Index::Gsi2)
                    .begins_with(IN_ORGANIZATION)
                    .after(after.take()),
            )
            .await?;
        for item in page.items {
            apps.push(from_item(item)?);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(apps),
        }
    }
}

/// The audit entry of a change to an app.
pub fn audited(meta: &RequestMeta, app: &App, action: &str) -> Result<Write, ApiError> {
    Ok(audit::record(
        meta,
        &app.organization_id,
        action,
        Target {
            kind: "app",
            id: &app.id,
        },
    )?)
}

/// A domain event about an app, with `more` in its detail.
pub fn event(action: &str, app: &App, by: &str, more: Value) -> DomainEvent {
    let mut detail = json!({
        "organization_id": app.organization_id,
        "project_id": app.project_id,
        "app_id": app.id,
        "by": by,
    });
    if let (Value::Object(detail), Value::Object(more)) = (&mut detail, more) {
        detail.extend(more);
    }
    DomainEvent::new(EVENTS, action, detail)
}

/// Creates an app of a project (admins of its organization); its first
/// draft is made at once.
pub async fn create(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let body: CreateApp = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = schema::take_name("name", &body.name, &mut errors);
    let description = schema::take_description(body.description.as_deref(), &mut errors);
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let table = services.table()?;
    // Another tenant's project is absent, as on every route.
    let project = projects::load(table, &body.project_id).await?;
    match guard::require(table, &meta.caller, &project.organization_id, Role::Admin).await {
        Err(ApiError::Forbidden) => {
            return Err(guard::refuse(&services, &meta, &project.organization_id, CREATED).await);
        }
        other => other?,
    };
    project.ensure_active()?;
    let at = crate::studio::now();
    let app = App {
        id: ulid::Ulid::generate().to_string(),
        organization_id: project.organization_id.clone(),
        project_id: project.id.clone(),
        name,
        description,
        created_by: meta.caller.sub.clone(),
        created_at: at.clone(),
        updated_at: at,
        version: 1,
        draft_hash: None,
        draft_revision: 0,
        draft_size: 0,
        draft_updated_at: None,
        live_version: None,
        latest_version: 0,
        keys: 0,
    };
    Change::new()
        .write(
            "app",
            Write::Put {
                item: item(&app)?,
                condition: Some(Condition::Absent),
            },
        )
        .write("audit", audited(&meta, &app, CREATED)?)
        .event(event(CREATED, &app, &meta.caller.sub, json!({})))
        .commit(table)
        .await?;
    // The draft worker makes it too (from `app.created`), so a failure here
    // only delays it.
    let app = match super::drafts::refresh(&services, &app.id).await {
        Ok(Some(app)) => app,
        Ok(None) => app,
        Err(error) => {
            tracing::warn!(app = app.id, %error, "the first draft waits for the worker");
            app
        }
    };
    json(StatusCode::CREATED, &app)
}

fn organization_apps(organization: &str, limit: u32, after: Option<Cursor>) -> Query {
    Query::partition(keys::organization_partition(organization))
        .on(Index::Gsi1)
        .begins_with(IN_ORGANIZATION)
        .limit(limit)
        .after(after)
}

fn read_apps(items: Vec<Item>) -> Result<Vec<App>, ApiError> {
    Ok(items.into_iter().map(from_item).collect::<Result<_, _>>()?)
}

/// Lists one project's apps (`?project=`), one organization's
/// (`?organization=`), or else every app of every organization the caller
/// is in.
pub async fn list(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let table = services.table()?;
    if let Some(project) = query_param(&request, "project") {
        let (limit, cursor) = page_params(&request)?;
        let organization = projects::load(table, project).await?.organization_id;
        guard::require(table, &meta.caller, &organization, Role::Viewer).await?;
        let page = table
            .query(
                &Query::partition(project_apps(project))
                    .on(Index::Gsi2)
                    .begins_with(IN_ORGANIZATION)
                    .limit(limit)
                    .after(cursor),
            )
            .await?;
        return json(
            StatusCode::OK,
            &Page::new(read_apps(page.items)?, page.next),
        );
    }
    if let Some(organization) = query_param(&request, "organization") {
        let (limit, cursor) = page_params(&request)?;
        guard::require(table, &meta.caller, organization, Role::Viewer).await?;
        let page = table
            .query(&organization_apps(organization, limit, cursor))
            .await?;
        return json(
            StatusCode::OK,
            &Page::new(read_apps(page.items)?, page.next),
        );
    }
    let page = listing::across_organizations(
        table,
        &meta.caller.sub,
        page_limit(&request)?,
        query_param(&request, "next"),
        organization_apps,
    )
    .await?;
    json(
        StatusCode::OK,
        &Page {
            items: read_apps(page.items)?,
            next: page.next,
        },
    )
}

/// One app (members).
pub async fn get(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    json(StatusCode::OK, &of_request(&services, &request).await?)
}

/// Renames or describes an app (admins).
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: UpdateApp = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let name = schema::take_new_name(body.name.as_deref(), &mut errors);
    let description = schema::take_new_description(body.description.as_ref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let table = services.table()?;
    let current = of_request(&services, &request).await?;
    if body.version.is_some_and(|v| v != current.version) {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    let mut next = current.clone();
    if let Some(name) = name {
        next.name = name;
    }
    if let Some(description) = description {
        next.description = description;
    }
    next.updated_at = crate::studio::now();
    next.version += 1;
    let description = next
        .description
        .as_deref()
        .map_or(Value::Null, |d| json!(d));
    let fields = Update::of(keys::app(&next.id))
        .set("name", next.name.as_str())
        .set("description", description)
        .set("updated_at", next.updated_at.as_str())
        .add("version", 1)
        .when(Condition::version_is(current.version));
    let committed = Change::new()
        .write("app", Write::Update(fields))
        .write("audit", audited(&tenant.meta, &next, UPDATED)?)
        .event(event(UPDATED, &next, &tenant.meta.caller.sub, json!({})))
        .commit(table)
        .await;
    match committed {
        Ok(()) => json(StatusCode::OK, &load(table, &next.id).await?),
        Err(ChangeError::Refused("app")) => Err(ApiError::StaleVersion(None)),
        Err(error) => Err(error.into()),
    }
}

/// The writes that delete an app at once: its item and the lookups of its
/// live keys, so none of them opens anything from this commit on. Its
/// versions, key records and manifests are cleared after it, from
/// `app.deleted`.
pub async fn deletion(table: &dyn ItemTable, app: &App) -> Result<Change, ApiError> {
    let mut change = Change::new().write(
        "app",
        Write::Delete {
            key: keys::app(&app.id),
            condition: Some(Condition::Exists),
        },
    );
    for lookup in super::api_keys::live_lookups(table, &app.id).await? {
        change = change.write(
            "key",
            Write::Delete {
                key: lookup,
                condition: None,
            },
        );
    }
    Ok(change)
}

/// Deletes an app (admins): its public URL and keys stop at once.
pub async fn delete(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let table = services.table()?;
    let app = of_request(&services, &request).await?;
    deletion(table, &app)
        .await?
        .write("audit", audited(&tenant.meta, &app, DELETED)?)
        .event(event(DELETED, &app, &tenant.meta.caller.sub, json!({})))
        .commit(table)
        .await?;
    no_content()
}

/// The key of an app's item, for the workers.
pub fn key(app_id: &str) -> Key {
    keys::app(app_id)
}
