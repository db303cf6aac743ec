//! Workflows of a project: create, list, get, change, enable, disable and
//! delete. Saving checks the definition ([`super::definition`]) and the
//! tables its record steps name; each save keeps an immutable copy of the
//! definition (`DEF#<version>`), which the executions started on it run.
//!
//! Items: the workflow is `WORKFLOW#<id>` / `WORKFLOW` (the key the
//! workflow scope reads), listed under its project on gsi1. What makes it
//! start is kept beside it, in the same transaction as each save: an
//! enabled event-triggered workflow's subscription
//! (`TRIGGERS#<project>` / `WF#<id>`, what the matcher reads per event),
//! an enabled scheduled workflow's schedule (`SCHEDULE#<id>`, on gsi2 by
//! its next due minute), and a webhook workflow's hook (`HOOK#<hash of
//! its secret token>`).

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::EVENTS;
use super::cron::{Schedule, minute_key};
use super::definition::{self, Definition, REDACTED, Trigger};
use crate::change::{Change, ChangeError};
use crate::http::schema::{self, QueryParam};
use crate::http::{
    ApiError, FieldError, HandlerResult, Page, json, json_body, no_content, page_limit,
    page_params, path_param, query_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{
    Condition, Cursor, Index, Item, ItemTable, Key, Query, Write, from_item, to_keyed_item,
};
use crate::services::Services;
use crate::studio::{projects, tables};
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{
    OrganizationId, ProjectId, RequestMeta, Role, Tenant, UserId, guard, keys, listing,
};

/// The audited action (and event) of a creation.
pub const CREATED: &str = "workflow.created";
/// … of a change.
pub const UPDATED: &str = "workflow.updated";
/// … of enabling.
pub const ENABLED: &str = "workflow.enabled";
/// … of disabling.
pub const DISABLED: &str = "workflow.disabled";
/// … of a deletion.
pub const DELETED: &str = "workflow.deleted";
/// The audited action of a run by hand.
pub const EXECUTED: &str = "workflow.executed";
/// The largest definition, as JSON.
pub const MAX_DEFINITION: usize = 256 * 1024;
/// The largest request body of a save.
const BODY_LIMIT: usize = MAX_DEFINITION + 16 * 1024;

/// A workflow, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// Sortable id.
    pub id: String,
    /// Its project.
    pub project_id: ProjectId,
    /// The project's organization.
    pub organization_id: OrganizationId,
    /// Display name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether its trigger starts it (a run by hand works either way).
    pub enabled: bool,
    /// The definition, as JSON text (secrets included).
    pub definition: String,
    /// Moves with each change of the definition.
    pub definition_version: u64,
    /// The secret token of its webhook URL, once it has one.
    #[serde(default)]
    pub webhook_token: Option<String>,
    /// A default workflow's role in its project (`notify_failures`, `app_drafts`).
    #[serde(default)]
    pub default_of: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Moves with every change; send it back to change it.
    pub version: u64,
}

impl Workflow {
    /// Its definition, read.
    pub fn definition(&self) -> Result<Definition, ApiError> {
        serde_json::from_str(&self.definition)
            .map_err(|e| ApiError::Internal(format!("workflow {}: {e}", self.id)))
    }
}

/// Its webhook, as shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Where to POST (a path of this API; the token in it is the secret).
    pub url: String,
}

/// A workflow, as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkflowView {
    /// Sortable id.
    pub id: String,
    /// Its project.
    pub project_id: ProjectId,
    /// The project's organization.
    pub organization_id: OrganizationId,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Whether its trigger starts it.
    pub enabled: bool,
    /// Its definition; a webhook's signing secret shows as `********`
    /// (send it back so to keep it).
    pub definition: Definition,
    /// Moves with each change of the definition.
    pub definition_version: u64,
    /// Its webhook, when its trigger is one.
    pub webhook: Option<Webhook>,
    /// A default workflow's role in its project.
    pub default_of: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Moves with every change.
    pub version: u64,
}

/// The path of a webhook's URL.
pub fn hook_path(token: &str) -> String {
    format!("/api/v1/automation/hooks/{token}")
}

impl Workflow {
    /// As the API shows it.
    pub fn view(&self) -> Result<WorkflowView, ApiError> {
        let definition = self.definition()?;
        let webhook = match (&definition.trigger, &self.webhook_token) {
            (Trigger::Webhook { .. }, Some(token)) => Some(Webhook {
                url: hook_path(token),
            }),
            _ => None,
        };
        Ok(WorkflowView {
            id: self.id.clone(),
            project_id: self.project_id.clone(),
            organization_id: self.organization_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            enabled: self.enabled,
            definition: definition.redacted(),
            definition_version: self.definition_version,
            webhook,
            default_of: self.default_of.clone(),
            created_by: self.created_by.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            version: self.version,
        })
    }
}

/// `POST /automation/workflows/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflow {
    /// The project (the caller edits there).
    #[schema(min_length = 1, max_length = 64)]
    pub project_id: String,
    /// Display name.
    #[schema(schema_with = schema::name)]
    pub name: String,
    /// What it is for.
    #[serde(default)]
    #[schema(schema_with = schema::description_or_null)]
    pub description: Option<String>,
    /// Whether its trigger starts it at once (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Its trigger and steps.
    #[schema(value_type = Definition)]
    pub definition: Value,
}

/// `PATCH /automation/workflows/{id}/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkflow {
    /// A new name.
    #[serde(default)]
    #[schema(schema_with = schema::name_or_null)]
    pub name: Option<String>,
    /// A new description; `null` or `""` clears it.
    #[serde(default, with = "crate::http::patch")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    /// A new definition.
    #[serde(default)]
    #[schema(value_type = Option<Definition>)]
    pub definition: Option<Value>,
    /// The version read; a stale one is a 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

fn id_schema() -> utoipa::openapi::schema::Object {
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
        name: "project",
        description: "Only this project's workflows (any member of its organization)",
        schema: id_schema,
    },
];

/// The workflow item's key.
pub fn key(id: &str) -> Key {
    keys::workflow(id)
}

fn definition_key(id: &str, version: u64) -> Key {
    Key::new(format!("WORKFLOW#{id}"), format!("DEF#{version:020}"))
}

/// The partition of a project's event subscriptions.
pub fn subscriptions(project_id: &str) -> String {
    format!("TRIGGERS#{project_id}")
}

/// The key of an enabled scheduled workflow's schedule.
pub fn schedule_key(id: &str) -> Key {
    Key::new(format!("SCHEDULE#{id}"), "SCHEDULE")
}

/// The gsi2 partition of the schedules due in a minute.
pub fn due_partition(minute: &str) -> String {
    format!("DUE#{minute}")
}

/// The key of a webhook's lookup, by its token.
pub fn hook_key(token: &str) -> Key {
    let hash: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Key::new(format!("HOOK#{hash}"), "HOOK")
}

fn item(workflow: &Workflow) -> Result<Item, ApiError> {
    let mut item = to_keyed_item(workflow, key(&workflow.id))?;
    item.insert(
        "gsi1pk".into(),
        json!(format!("WORKFLOWS#{}", workflow.project_id)),
    );
    item.insert("gsi1sk".into(), json!(format!("WORKFLOW#{}", workflow.id)));
    item.insert(
        "gsi2pk".into(),
        json!(format!("WORKFLOWS_OF#{}", workflow.organization_id)),
    );
    item.insert("gsi2sk".into(), json!(format!("WORKFLOW#{}", workflow.id)));
    Ok(item)
}

/// A workflow that must exist.
pub async fn load(table: &dyn ItemTable, id: &str) -> Result<Workflow, ApiError> {
    let item = table.get(&key(id)).await?.ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// The workflow of a workflow-scoped route.
pub async fn of_request(services: &Services, request: &Request) -> Result<Workflow, ApiError> {
    load(services.table()?, path_param(request, "id")?).await
}

/// A definition version, as saved (immutable).
pub async fn definition_at(
    table: &dyn ItemTable,
    id: &str,
    version: u64,
) -> Result<Definition, ApiError> {
    let item = table
        .get(&definition_key(id, version))
        .await?
        .ok_or_else(|| ApiError::Internal(format!("workflow {id} has no definition {version}")))?;
    let text = item
        .get("definition")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::Internal("a definition item without its text".into()))?;
    serde_json::from_str(text).map_err(|e| ApiError::Internal(format!("definition: {e}")))
}

/// What an event-triggered workflow's subscription holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subscription {
    /// The workflow.
    pub workflow_id: String,
    /// The events' source.
    pub source: String,
    /// Their type, or `*`.
    pub detail_type: String,
    /// The condition over `event`.
    pub condition: Option<String>,
}

/// What a scheduled workflow's schedule holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScheduleItem {
    /// The workflow.
    pub workflow_id: String,
    /// Its cron expression.
    pub cron: String,
    /// Its time zone.
    pub timezone: Option<String>,
    /// The next due minute (RFC 3339).
    pub next_at: String,
}

/// The writes that keep a workflow's trigger items as its definition and
/// state say, from what they were (`before`).
fn trigger_writes(
    workflow: &Workflow,
    definition: &Definition,
    before: Option<&Definition>,
    was_enabled: bool,
) -> Result<Change, ApiError> {
    let mut change = Change::new();
    let subscription_key = Key::new(
        subscriptions(&workflow.project_id),
        format!("WF#{}", workflow.id),
    );
    let had_event =
        was_enabled && matches!(before.map(|d| &d.trigger), Some(Trigger::Event { .. }));
    let had_schedule =
        was_enabled && matches!(before.map(|d| &d.trigger), Some(Trigger::Schedule { .. }));
    match (&definition.trigger, workflow.enabled) {
        (
            Trigger::Event {
                source,
                detail_type,
                condition,
            },
            true,
        ) => {
            let subscription = Subscription {
                workflow_id: workflow.id.clone(),
                source: source.clone(),
                detail_type: detail_type.clone(),
                condition: condition.clone(),
            };
            change = change.write(
                "subscription",
                Write::Put {
                    item: to_keyed_item(&subscription, subscription_key)?,
                    condition: None,
                },
            );
        }
        _ if had_event => {
            change = change.write(
                "subscription",
                Write::Delete {
                    key: subscription_key,
                    condition: None,
                },
            );
        }
        _ => {}
    }
    match (&definition.trigger, workflow.enabled) {
        (Trigger::Schedule { cron, timezone }, true) => {
            let schedule = Schedule::parse(cron, timezone.as_deref())
                .map_err(|why| ApiError::invalid("definition.trigger.cron", why))?;
            let next = schedule
                .next_after(chrono::Utc::now())
                .ok_or_else(|| ApiError::invalid("definition.trigger.cron", "never comes due"))?;
            let item = ScheduleItem {
                workflow_id: workflow.id.clone(),
                cron: cron.clone(),
                timezone: timezone.clone(),
                next_at: super::executions::stamp(next),
            };
            let mut item = to_keyed_item(&item, schedule_key(&workflow.id))?;
            item.insert("gsi2pk".into(), json!(due_partition(&minute_key(next))));
            item.insert("gsi2sk".into(), json!(workflow.id));
            change = change.write(
                "schedule",
                Write::Put {
                    item,
                    condition: None,
                },
            );
        }
        _ if had_schedule => {
            change = change.write(
                "schedule",
                Write::Delete {
                    key: schedule_key(&workflow.id),
                    condition: None,
                },
            );
        }
        _ => {}
    }
    if let (Trigger::Webhook { .. }, Some(token)) = (&definition.trigger, &workflow.webhook_token) {
        let hook_key = hook_key(token);
        let mut item = Item::new();
        item.insert("pk".into(), json!(hook_key.pk));
        item.insert("sk".into(), json!(hook_key.sk));
        item.insert("workflow_id".into(), json!(workflow.id));
        change = change.write(
            "hook",
            Write::Put {
                item,
                condition: None,
            },
        );
    }
    Ok(change)
}

/// Checks a definition against the project: its graph, and the tables its
/// record steps name.
async fn checked(
    store: &dyn ItemTable,
    project_id: &str,
    raw: &Value,
    previous: Option<&Definition>,
) -> Result<Definition, ApiError> {
    let size = serde_json::to_vec(raw).map_or(0, |b| b.len());
    if size > MAX_DEFINITION {
        return Err(ApiError::invalid(
            "definition",
            format!("is larger than {MAX_DEFINITION} bytes"),
        ));
    }
    let mut definition = definition::parse(raw, "definition").map_err(ApiError::Invalid)?;
    // A secret sent back as shown keeps the saved one.
    if let (
        Trigger::Webhook {
            signature: Some(signature),
        },
        Some(Definition {
            trigger: Trigger::Webhook {
                signature: Some(old),
            },
            ..
        }),
    ) = (&mut definition.trigger, previous)
        && signature.secret == REDACTED
    {
        signature.secret = old.secret.clone();
    }
    let mut errors = definition::check(&definition, "definition");
    if let Trigger::Webhook {
        signature: Some(signature),
    } = &definition.trigger
        && signature.secret == REDACTED
    {
        errors.push(FieldError::new(
            "definition.trigger.signature.secret",
            "is the secret itself (16 to 256 characters)",
        ));
    }
    let names: Vec<(usize, &str)> = definition
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.action.table().map(|t| (i, t)))
        .collect();
    if !names.is_empty() {
        let known = tables::all_tables(store, project_id).await?;
        for (i, name) in names {
            let found = known
                .iter()
                .any(|t| t.id == name || t.name.eq_ignore_ascii_case(name));
            if !found {
                errors.push(FieldError::new(
                    format!("definition.steps[{i}].table"),
                    format!("`{name}` is no table of the project"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(definition)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

fn audited(meta: &RequestMeta, workflow: &Workflow, action: &str) -> Result<Write, ApiError> {
    Ok(audit::record(
        meta,
        &workflow.organization_id,
        action,
        Target {
            kind: "workflow",
            id: &workflow.id,
        },
    )?)
}

fn event(action: &str, workflow: &Workflow, by: &str) -> DomainEvent {
    DomainEvent::new(
        EVENTS,
        action,
        json!({
            "organization_id": workflow.organization_id,
            "project_id": workflow.project_id,
            "workflow_id": workflow.id,
            "enabled": workflow.enabled,
            "definition_version": workflow.definition_version,
            "by": by,
        }),
    )
}

fn definition_write(workflow: &Workflow) -> Write {
    let mut item = Item::new();
    let key = definition_key(&workflow.id, workflow.definition_version);
    item.insert("pk".into(), json!(key.pk));
    item.insert("sk".into(), json!(key.sk));
    item.insert("definition".into(), json!(workflow.definition));
    Write::Put {
        item,
        condition: Some(Condition::Absent),
    }
}

/// The change that creates a workflow: its item, its first definition,
/// its trigger's items.
pub fn creation(workflow: &Workflow, definition: &Definition) -> Result<Change, ApiError> {
    Ok(Change::new()
        .write(
            "workflow",
            Write::Put {
                item: item(workflow)?,
                condition: Some(Condition::Absent),
            },
        )
        .write("definition", definition_write(workflow))
        .then(trigger_writes(workflow, definition, None, false)?))
}

/// A new workflow of a project.
pub fn new_workflow(
    project: &projects::Project,
    name: String,
    description: Option<String>,
    enabled: bool,
    definition: &Definition,
    by: &UserId,
) -> Result<Workflow, ApiError> {
    let at = crate::studio::now();
    Ok(Workflow {
        id: ulid::Ulid::generate().to_string(),
        project_id: project.id.clone(),
        organization_id: project.organization_id.clone(),
        name,
        description,
        enabled,
        definition: serde_json::to_string(definition)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        definition_version: 1,
        webhook_token: matches!(definition.trigger, Trigger::Webhook { .. })
            .then(crate::random::token),
        default_of: None,
        created_by: by.clone(),
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    })
}

/// Creates a workflow in a project where the caller edits.
pub async fn create(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let body: CreateWorkflow = json_body(&request, BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = schema::take_name("name", &body.name, &mut errors);
    let description = schema::take_description(body.description.as_deref(), &mut errors);
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let table = services.table()?;
    let project = projects::load(table, &body.project_id).await?;
    match guard::require(table, &meta.caller, &project.organization_id, Role::Editor).await {
        Err(ApiError::Forbidden) => {
            return Err(guard::refuse(&services, &meta, &project.organization_id, CREATED).await);
        }
        other => other?,
    };
    project.ensure_active()?;
    let definition = checked(table, &project.id, &body.definition, None).await?;
    let workflow = new_workflow(
        &project,
        name,
        description,
        body.enabled,
        &definition,
        &meta.caller.sub,
    )?;
    creation(&workflow, &definition)?
        .write("audit", audited(&meta, &workflow, CREATED)?)
        .event(event(CREATED, &workflow, &meta.caller.sub))
        .commit(table)
        .await?;
    json(StatusCode::CREATED, &workflow.view()?)
}

fn project_workflows(project: &str, limit: u32, after: Option<Cursor>) -> Query {
    Query::partition(format!("WORKFLOWS#{project}"))
        .on(Index::Gsi1)
        .limit(limit)
        .after(after)
}

fn views(items: Vec<Item>) -> Result<Vec<WorkflowView>, ApiError> {
    items
        .into_iter()
        .map(|item| from_item::<Workflow>(item)?.view())
        .collect()
}

/// Lists a project's workflows (`?project=`, any member), or else those of
/// every project of every organization the caller is in.
pub async fn list(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let table = services.table()?;
    if let Some(project) = query_param(&request, "project") {
        let (limit, cursor) = page_params(&request)?;
        let organization = projects::load(table, project).await?.organization_id;
        guard::require(table, &meta.caller, &organization, Role::Viewer).await?;
        let page = table
            .query(&project_workflows(project, limit, cursor))
            .await?;
        return json(StatusCode::OK, &Page::new(views(page.items)?, page.next));
    }
    // Across organizations: their projects' workflows, organization by
    // organization (the workflow items carry their organization on gsi2).
    let page = listing::across_organizations(
        table,
        &meta.caller.sub,
        page_limit(&request)?,
        query_param(&request, "next"),
        |organization, limit, after| {
            Query::partition(format!("WORKFLOWS_OF#{organization}"))
                .on(Index::Gsi2)
                .limit(limit)
                .after(after)
        },
    )
    .await?;
    json(
        StatusCode::OK,
        &Page {
            items: views(page.items)?,
            next: page.next,
        },
    )
}

/// One workflow (members).
pub async fn get(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    json(
        StatusCode::OK,
        &of_request(&services, &request).await?.view()?,
    )
}

/// Saves a workflow's new state over `current` (read at its version).
async fn save(
    services: &Services,
    tenant: &Tenant,
    current: &Workflow,
    next: &Workflow,
    action: &str,
) -> HandlerResult {
    let table = services.table()?;
    let before = current.definition()?;
    let definition = next.definition()?;
    let mut change = Change::new().write(
        "workflow",
        Write::Put {
            item: item(next)?,
            condition: Some(Condition::version_is(current.version)),
        },
    );
    if next.definition_version != current.definition_version {
        change = change.write("definition", definition_write(next));
    }
    let committed = change
        .then(trigger_writes(
            next,
            &definition,
            Some(&before),
            current.enabled,
        )?)
        .write("audit", audited(&tenant.meta, next, action)?)
        .event(event(action, next, &tenant.meta.caller.sub))
        .commit(table)
        .await;
    match committed {
        Ok(()) => json(StatusCode::OK, &next.view()?),
        Err(ChangeError::Refused("workflow")) => Err(ApiError::StaleVersion(None)),
        Err(error) => Err(error.into()),
    }
}

/// Renames, describes or redefines a workflow (editors).
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: UpdateWorkflow = json_body(&request, BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = schema::take_new_name(body.name.as_deref(), &mut errors);
    let description = schema::take_new_description(body.description.as_ref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let current = of_request(&services, &request).await?;
    if body.version.is_some_and(|v| v != current.version) {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    let mut next = current.clone();
    if let Some(raw) = &body.definition {
        let previous = current.definition()?;
        let definition =
            checked(services.table()?, &current.project_id, raw, Some(&previous)).await?;
        next.definition =
            serde_json::to_string(&definition).map_err(|e| ApiError::Internal(e.to_string()))?;
        if next.definition != current.definition {
            next.definition_version += 1;
        }
        if matches!(definition.trigger, Trigger::Webhook { .. }) && next.webhook_token.is_none() {
            next.webhook_token = Some(crate::random::token());
        }
    }
    if let Some(name) = name {
        next.name = name;
    }
    if let Some(description) = description {
        next.description = description;
    }
    next.updated_at = crate::studio::now();
    next.version += 1;
    save(&services, &tenant, &current, &next, UPDATED).await
}

async fn set_enabled(
    services: &Services,
    request: &Request,
    tenant: &Tenant,
    on: bool,
) -> HandlerResult {
    let current = of_request(services, request).await?;
    if current.enabled == on {
        return json(StatusCode::OK, &current.view()?);
    }
    let mut next = current.clone();
    next.enabled = on;
    next.updated_at = crate::studio::now();
    next.version += 1;
    save(
        services,
        tenant,
        &current,
        &next,
        if on { ENABLED } else { DISABLED },
    )
    .await
}

/// Lets the workflow's trigger start it (editors).
pub async fn enable(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    set_enabled(&services, &request, &tenant, true).await
}

/// Stops the workflow's trigger from starting it (editors); executions
/// under way go on.
pub async fn disable(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    set_enabled(&services, &request, &tenant, false).await
}

/// Deletes a workflow (editors): its trigger stops at once; its
/// executions and definitions are left to expire.
pub async fn delete(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let table = services.table()?;
    let current = of_request(&services, &request).await?;
    let definition = current.definition()?;
    let mut change = Change::new().write(
        "workflow",
        Write::Delete {
            key: key(&current.id),
            condition: Some(Condition::version_is(current.version)),
        },
    );
    let mut gone = current.clone();
    gone.enabled = false;
    change = change.then(trigger_writes(
        &gone,
        &definition,
        Some(&definition),
        current.enabled,
    )?);
    if let Some(token) = &current.webhook_token {
        change = change.write(
            "hook",
            Write::Delete {
                key: hook_key(token),
                condition: None,
            },
        );
    }
    let committed = change
        .write("audit", audited(&tenant.meta, &current, DELETED)?)
        .event(event(DELETED, &current, &tenant.meta.caller.sub))
        .commit(table)
        .await;
    match committed {
        Ok(()) => no_content(),
        Err(ChangeError::Refused("workflow")) => Err(ApiError::StaleVersion(None)),
        Err(error) => Err(error.into()),
    }
}
