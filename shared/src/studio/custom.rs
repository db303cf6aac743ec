//! A project's own components: a builder states their props (in the same
//! vocabulary as the built-in ones, [`super::components`]) and the children
//! they allow; pages use them as `custom:<id>`. Editors add, change and
//! delete them; members read them, and the project's library lists them
//! after the built-in ones.
//!
//! Items, in the project's partition: `PROJECT#<p>` / `COMPONENT#<id>`. The
//! project item counts them, so the limit is a condition of the same
//! transaction. A component a page uses cannot be deleted.

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::components::{self, CUSTOM, Children, Component, ComponentView, Library, PropDef};
use super::projects::{self, Project};
use super::{EVENTS, StudioError, keys, now, pages};
use crate::change::{Change, ChangeError};
use crate::http::schema as text;
use crate::http::{
    ApiError, Conflict, DEFAULT_BODY_LIMIT, HandlerResult, Page, json, json_body, no_content,
    page_params, path_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, Item, ItemTable, Key, Query, Write, from_item};
use crate::services::Services;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{OrganizationId, ProjectId, RequestMeta, Tenant, UserId};

/// The audited action of a creation.
pub const CREATED: &str = "component.created";
/// The audited action of a change.
pub const UPDATED: &str = "component.updated";
/// The audited action of a deletion.
pub const DELETED: &str = "component.deleted";
/// Most custom components a project holds.
pub const MAX_COMPONENTS: u32 = 200;

/// A project's own component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomComponent {
    /// Sortable id.
    pub id: String,
    /// What a page's node names to be one: `custom:<id>`.
    pub kind: String,
    /// Its project.
    pub project_id: ProjectId,
    /// The project's organization.
    pub organization_id: OrganizationId,
    /// Its name in the palette.
    pub title: String,
    /// What it is for, if said.
    #[serde(default)]
    pub description: Option<String>,
    /// Its props.
    pub props: Vec<PropDef>,
    /// The children it allows.
    #[schema(schema_with = components::children_schema)]
    pub children: Children,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Optimistic concurrency version: send it back to update.
    pub version: u64,
}

impl CustomComponent {
    /// As the library and the page check know it.
    pub fn component(&self) -> Component {
        Component {
            kind: self.kind.clone(),
            title: self.title.clone(),
            description: self.description.clone().unwrap_or_default(),
            props: self.props.clone(),
            children: self.children.clone(),
        }
    }
}

/// A custom component as the API shows it: with its props' JSON Schema.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CustomComponentView {
    /// The component.
    #[serde(flatten)]
    pub component: CustomComponent,
    /// Its props as a JSON Schema.
    #[schema(value_type = Object)]
    pub props_schema: Value,
}

impl From<CustomComponent> for CustomComponentView {
    fn from(component: CustomComponent) -> Self {
        Self {
            props_schema: component.component().props_schema(),
            component,
        }
    }
}

fn children_default() -> Children {
    Children::None
}

/// `POST /studio/projects/{id}/add_component/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComponent {
    /// Its name in the palette, 1 to 100 characters.
    #[schema(schema_with = crate::http::schema::name)]
    pub title: String,
    /// What it is for, at most 1,000 characters.
    #[serde(default)]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<String>,
    /// Its props (at most 50), names unique.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub props: Vec<PropDef>,
    /// The children it allows; none unless said.
    #[serde(default = "children_default")]
    #[schema(schema_with = components::children_schema)]
    pub children: Children,
}

/// `PATCH /studio/projects/{id}/components/{component_id}/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateComponent {
    /// New name.
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub title: Option<String>,
    /// New description; `null` or `""` clears it.
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<Option<String>>,
    /// Its props, all of them (at most 50).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub props: Option<Vec<PropDef>>,
    /// The children it allows.
    #[serde(default)]
    #[schema(schema_with = components::children_or_null)]
    pub children: Option<Children>,
    /// The version read; a stale one is a 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

fn key(project_id: &str, component_id: &str) -> Key {
    Key::new(
        keys::project_partition(project_id),
        format!("COMPONENT#{component_id}"),
    )
}

fn item(component: &CustomComponent) -> Result<Item, ApiError> {
    Ok(crate::ports::table::to_keyed_item(
        component,
        key(&component.project_id, &component.id),
    )?)
}

fn audited(meta: &RequestMeta, c: &CustomComponent, action: &str) -> Result<Write, ApiError> {
    Ok(audit::record(
        meta,
        &c.organization_id,
        action,
        Target {
            kind: "component",
            id: &c.id,
        },
    )?)
}

fn event(detail_type: &str, c: &CustomComponent, by: &UserId) -> DomainEvent {
    DomainEvent::new(
        EVENTS,
        detail_type,
        json!({
            "organization_id": c.organization_id,
            "project_id": c.project_id,
            "component_id": c.id,
            "by": by,
        }),
    )
}

/// Every custom component of a project (at most [`MAX_COMPONENTS`]).
pub async fn all_custom(
    table: &dyn ItemTable,
    project_id: &str,
) -> Result<Vec<CustomComponent>, ApiError> {
    let page = table
        .query(
            &Query::partition(keys::project_partition(project_id))
                .begins_with("COMPONENT#")
                .limit(MAX_COMPONENTS),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?)
}

/// The components a project's pages may use: the built-in ones, then its own.
pub async fn library(table: &dyn ItemTable, project_id: &str) -> Result<Vec<Component>, ApiError> {
    let mut all = components::builtin();
    all.extend(
        all_custom(table, project_id)
            .await?
            .iter()
            .map(CustomComponent::component),
    );
    Ok(all)
}

/// A new component's item.
pub fn new_component_write(component: &CustomComponent) -> Result<Write, ApiError> {
    Ok(Write::Put {
        item: item(component)?,
        condition: Some(Condition::Absent),
    })
}

fn checked(props: &[PropDef], children: &Children, errors: &mut Vec<crate::http::FieldError>) {
    errors.extend(components::check_props(props, "props"));
    errors.extend(components::check_children(children, "children"));
}

async fn refusal(services: &Services, tenant: &Tenant, error: ChangeError) -> ApiError {
    match error {
        ChangeError::Refused("component") => ApiError::StaleVersion(None),
        ChangeError::Refused("project") => {
            projects::count_refused(services, tenant, StudioError::TooManyComponents).await
        }
        other => other.into(),
    }
}

/// Adds a custom component to a project (editors).
pub async fn create(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: CreateComponent = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let title = text::take_name("title", &body.title, &mut errors);
    let description = text::take_description(body.description.as_deref(), &mut errors);
    checked(&body.props, &body.children, &mut errors);
    let Some(title) = title.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let project: Project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let id = ulid::Ulid::generate().to_string();
    let at = now();
    let component = CustomComponent {
        kind: format!("{CUSTOM}{id}"),
        id,
        project_id: project.id.clone(),
        organization_id: project.organization_id.clone(),
        title,
        description,
        props: body.props,
        children: body.children,
        created_by: tenant.meta.caller.sub.clone(),
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    };
    let change = Change::new()
        .write("component", new_component_write(&component)?)
        .write(
            "project",
            projects::count(&project, "components", 1, MAX_COMPONENTS),
        )
        .write("audit", audited(&tenant.meta, &component, CREATED)?)
        .event(event(CREATED, &component, &tenant.meta.caller.sub));
    if let Err(e) = change.commit(services.table()?).await {
        return Err(refusal(&services, &tenant, e).await);
    }
    json(StatusCode::CREATED, &CustomComponentView::from(component))
}

/// The project's library: the built-in components, then its own (members).
pub async fn project_library(
    services: Arc<Services>,
    _request: Request,
    tenant: Tenant,
) -> HandlerResult {
    let project = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    let items = library(services.table()?, project)
        .await?
        .into_iter()
        .map(|component| ComponentView {
            props_schema: component.props_schema(),
            component,
        })
        .collect();
    json(StatusCode::OK, &Library { items })
}

/// Lists a project's custom components (members).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let project = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    let page = services
        .table()?
        .query(
            &Query::partition(keys::project_partition(project))
                .begins_with("COMPONENT#")
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items: Vec<CustomComponentView> = page
        .items
        .into_iter()
        .map(|i| from_item::<CustomComponent>(i).map(CustomComponentView::from))
        .collect::<Result<_, _>>()?;
    json(StatusCode::OK, &Page::new(items, page.next))
}

async fn load(
    services: &Services,
    request: &Request,
    tenant: &Tenant,
) -> Result<CustomComponent, ApiError> {
    let project = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    let id = path_param(request, "component_id")?;
    let item = services
        .table()?
        .get(&key(project, id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// One custom component (members).
pub async fn get(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    json(
        StatusCode::OK,
        &CustomComponentView::from(load(&services, &request, &tenant).await?),
    )
}

/// Changes a custom component (editors). Pages already saved keep their
/// trees; each is checked against the new props at its next save.
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: UpdateComponent = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let title = text::take_new_name(body.title.as_deref(), &mut errors);
    let description = text::take_new_description(body.description.as_ref(), &mut errors);
    let current = load(&services, &request, &tenant).await?;
    let props = body.props.unwrap_or_else(|| current.props.clone());
    let children = body.children.unwrap_or_else(|| current.children.clone());
    checked(&props, &children, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    if body.version.is_some_and(|v| v != current.version) {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let mut next = current.clone();
    if let Some(title) = title {
        next.title = title;
    }
    if let Some(description) = description {
        next.description = description;
    }
    next.props = props;
    next.children = children;
    next.updated_at = now();
    next.version += 1;
    let change = Change::new()
        .write(
            "component",
            Write::Put {
                item: item(&next)?,
                condition: Some(Condition::version_is(current.version)),
            },
        )
        .write(
            "project",
            projects::count(&project, "components", 0, MAX_COMPONENTS),
        )
        .write("audit", audited(&tenant.meta, &next, UPDATED)?)
        .event(event(UPDATED, &next, &tenant.meta.caller.sub));
    if let Err(e) = change.commit(services.table()?).await {
        return Err(refusal(&services, &tenant, e).await);
    }
    json(StatusCode::OK, &CustomComponentView::from(next))
}

/// Deletes a custom component no page uses (editors).
pub async fn delete(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let store = services.table()?;
    let current = load(&services, &request, &tenant).await?;
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let used = pages::all_pages(store, &project.id)
        .await?
        .iter()
        .any(|p| p.uses.contains(&current.kind));
    if used {
        return Err(StudioError::ComponentInUse.into());
    }
    let change = Change::new()
        .write(
            "component",
            Write::Delete {
                key: key(&current.project_id, &current.id),
                condition: Some(Condition::version_is(current.version)),
            },
        )
        .write(
            "project",
            projects::count(&project, "components", -1, MAX_COMPONENTS),
        )
        .write("audit", audited(&tenant.meta, &current, DELETED)?)
        .event(event(DELETED, &current, &tenant.meta.caller.sub));
    match change.commit(store).await {
        Ok(()) => no_content(),
        Err(ChangeError::Refused("component")) => {
            Err(ApiError::Conflict(Conflict::CHANGED_CONCURRENTLY))
        }
        Err(e) => Err(refusal(&services, &tenant, e).await),
    }
}
