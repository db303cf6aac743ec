//! A project's data tables: their schema ([`super::schema`]) and its
//! changes. Editors add, change and delete tables; members read them.
//!
//! Items, in the project's partition: `PROJECT#<p>` / `TABLE#<id>` holds a
//! table with its fields; `PROJECT#<p>` / `TABLE_NAME#<name, lower case>`
//! keeps names unique. The project item counts its tables, so the limit is
//! a condition of the same transaction. Each table carries a
//! `schema_version` that moves with every schema change and that the
//! records API reads.

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::MAX_TABLES;
use super::projects;
use super::schema::{self, Field, FieldSpec, FieldType, SchemaChange, SchemaError};
use super::{EVENTS, StudioError, keys, now};
use crate::change::{self, Change, ChangeError};
use crate::http::schema as text;
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, Page, json, json_body, no_content,
    page_params, path_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, Item, ItemTable, Key, Query, Write, from_item};
use crate::services::Services;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{OrganizationId, ProjectId, RequestMeta, Tenant, UserId};

/// The audited action of a creation.
pub const CREATED: &str = "table.created";
/// The audited action of a change.
pub const UPDATED: &str = "table.updated";
/// The audited action of a deletion.
pub const DELETED: &str = "table.deleted";
use super::schema::MAX_CHANGES;
/// The event of a change to a table's fields.
pub const SCHEMA_CHANGED: &str = "table.schema_changed";

/// A data table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataTable {
    /// Sortable id.
    pub id: String,
    /// Its project.
    pub project_id: ProjectId,
    /// The project's organization.
    pub organization_id: OrganizationId,
    /// Display name, unique in the project (ignoring case).
    pub name: String,
    /// What it holds, if said.
    #[serde(default)]
    pub description: Option<String>,
    /// Its fields, in order.
    pub fields: Vec<Field>,
    /// Moves with every change to the fields; the records API reads it.
    pub schema_version: u64,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Optimistic concurrency version: send it back to update.
    pub version: u64,
}

/// A field every record has, whatever its table.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SystemField {
    /// Its name.
    pub name: &'static str,
    /// What it holds.
    #[serde(rename = "type")]
    pub kind: FieldType,
}

/// A table as the API shows it: with the system fields.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TableView {
    /// The table.
    #[serde(flatten)]
    pub table: DataTable,
    /// `id`, `created_at`, `updated_at`, `created_by`.
    pub system_fields: Vec<SystemField>,
}

impl From<DataTable> for TableView {
    fn from(table: DataTable) -> Self {
        Self {
            table,
            system_fields: schema::SYSTEM_FIELDS
                .iter()
                .map(|(name, kind)| SystemField { name, kind: *kind })
                .collect(),
        }
    }
}

/// `POST /studio/projects/{id}/add_table/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTable {
    /// Display name, 1 to 100 characters, unique in the project.
    #[schema(schema_with = crate::http::schema::name)]
    pub name: String,
    /// What it holds, at most 1,000 characters.
    #[serde(default)]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<String>,
    /// Its fields, in order (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub fields: Vec<FieldSpec>,
}

/// `PATCH /studio/projects/{id}/tables/{table_id}/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTable {
    /// New display name.
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub name: Option<String>,
    /// New description; `null` or `""` clears it.
    #[serde(default, with = "crate::http::patch")]
    #[schema(schema_with = crate::http::schema::description_or_null)]
    pub description: Option<Option<String>>,
    /// Schema changes, applied in order, all or none (at most 100).
    #[serde(default)]
    #[schema(schema_with = schema::changes_schema)]
    pub changes: Vec<SchemaChange>,
    /// The version read; a stale one is a 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

fn key(project_id: &str, table_id: &str) -> Key {
    Key::new(
        keys::project_partition(project_id),
        format!("TABLE#{table_id}"),
    )
}

fn name_key(project_id: &str, name: &str) -> Key {
    Key::new(
        keys::project_partition(project_id),
        format!("TABLE_NAME#{}", name.to_lowercase()),
    )
}

fn item(table: &DataTable) -> Result<Item, ApiError> {
    Ok(crate::ports::table::to_keyed_item(
        table,
        key(&table.project_id, &table.id),
    )?)
}

fn name_claim(table: &DataTable) -> Result<Write, ApiError> {
    let key = name_key(&table.project_id, &table.name);
    Ok(change::claim(&key, "table_id", &table.id)?)
}

fn name_release(table: &DataTable) -> Write {
    change::release(
        &name_key(&table.project_id, &table.name),
        "table_id",
        &table.id,
    )
}

fn audited(meta: &RequestMeta, table: &DataTable, action: &str) -> Result<Write, ApiError> {
    Ok(audit::record(
        meta,
        &table.organization_id,
        action,
        Target {
            kind: "table",
            id: &table.id,
        },
    )?)
}

fn event(detail_type: &str, table: &DataTable, by: &UserId) -> DomainEvent {
    DomainEvent::new(
        EVENTS,
        detail_type,
        json!({
            "organization_id": table.organization_id,
            "project_id": table.project_id,
            "table_id": table.id,
            "schema_version": table.schema_version,
            "by": by,
        }),
    )
}

fn schema_refusal(error: SchemaError, at: &'static str) -> ApiError {
    match error {
        SchemaError::Invalid(errors) => ApiError::Invalid(errors),
        SchemaError::TooManyFields => StudioError::TooManyFields(at).into(),
        SchemaError::TooManyKeyedFields => StudioError::TooManyKeyedFields(at).into(),
    }
}

/// Every table of a project (a project holds at most [`MAX_TABLES`]).
pub async fn all_tables(
    table: &dyn ItemTable,
    project_id: &str,
) -> Result<Vec<DataTable>, ApiError> {
    let page = table
        .query(
            &Query::partition(keys::project_partition(project_id))
                .begins_with("TABLE#")
                .limit(MAX_TABLES),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?)
}

/// Each table's field ids, by table id: what a page's bindings are checked
/// against.
pub fn field_ids(
    tables: &[DataTable],
) -> std::collections::HashMap<String, std::collections::HashSet<String>> {
    tables
        .iter()
        .map(|t| {
            (
                t.id.clone(),
                t.fields.iter().map(|f| f.id.clone()).collect(),
            )
        })
        .collect()
}

/// Relations must point at tables of the same project (or the table itself).
fn check_relations(
    fields: &[Field],
    this: &str,
    tables: &[DataTable],
    path: &str,
) -> Result<(), ApiError> {
    let errors: Vec<FieldError> = fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let target = &f.relation.as_ref()?.table_id;
            let known = target == this || tables.iter().any(|t| &t.id == target);
            (!known).then(|| {
                FieldError::new(
                    format!("{path}[{i}].relation.table_id"),
                    "is no table of this project",
                )
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// A new table's item and its name's claim.
pub fn new_table_writes(table: &DataTable) -> Result<[Write; 2], ApiError> {
    Ok([
        Write::Put {
            item: item(table)?,
            condition: Some(Condition::Absent),
        },
        name_claim(table)?,
    ])
}

/// Why a table change with the project's count was refused.
async fn refusal(services: &Services, tenant: &Tenant, error: ChangeError) -> ApiError {
    match error {
        ChangeError::Refused("name") => StudioError::TableNameTaken.into(),
        ChangeError::Refused("table") => ApiError::StaleVersion(None),
        ChangeError::Refused("project") => {
            projects::count_refused(services, tenant, StudioError::TooManyTables).await
        }
        other => other.into(),
    }
}

/// Adds a table to a project (editors).
pub async fn create(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: CreateTable = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = text::take_name("name", &body.name, &mut errors);
    let description = text::take_description(body.description.as_deref(), &mut errors);
    let fields = match schema::new_fields(&body.fields) {
        Ok(fields) => Some(fields),
        Err(SchemaError::Invalid(e)) => {
            errors.extend(e);
            None
        }
        Err(limit) => return Err(schema_refusal(limit, "fields")),
    };
    let (Some(name), Some(fields)) = (name, fields.filter(|_| errors.is_empty())) else {
        return Err(ApiError::Invalid(errors));
    };
    let store = services.table()?;
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let id = ulid::Ulid::generate().to_string();
    check_relations(
        &fields,
        &id,
        &all_tables(store, &project.id).await?,
        "fields",
    )?;
    let at = now();
    let table = DataTable {
        id,
        project_id: project.id.clone(),
        organization_id: project.organization_id.clone(),
        name,
        description,
        fields,
        schema_version: 1,
        created_by: tenant.meta.caller.sub.clone(),
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    };
    let [put, claim] = new_table_writes(&table)?;
    let change = Change::new()
        .write("table", put)
        .write("name", claim)
        .write(
            "project",
            projects::count(&project, "tables", 1, MAX_TABLES),
        )
        .write("audit", audited(&tenant.meta, &table, CREATED)?)
        .event(event(CREATED, &table, &tenant.meta.caller.sub));
    if let Err(e) = change.commit(store).await {
        return Err(refusal(&services, &tenant, e).await);
    }
    json(StatusCode::CREATED, &TableView::from(table))
}

/// Lists a project's tables (members).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let project = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    let page = services
        .table()?
        .query(
            &Query::partition(keys::project_partition(project))
                .begins_with("TABLE#")
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items: Vec<TableView> = page
        .items
        .into_iter()
        .map(|i| from_item::<DataTable>(i).map(TableView::from))
        .collect::<Result<_, _>>()?;
    json(StatusCode::OK, &Page::new(items, page.next))
}

/// The table a route's `{table_id}` names, in the tenant's project.
pub async fn load(
    services: &Services,
    request: &Request,
    tenant: &Tenant,
) -> Result<DataTable, ApiError> {
    let table_id = path_param(request, "table_id")?;
    find(services, tenant, table_id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// A table of a project, by id, for a worker (no tenant: the event named
/// the project).
pub async fn find_in(
    store: &dyn ItemTable,
    project_id: &str,
    table_id: &str,
) -> Result<Option<DataTable>, ApiError> {
    match store.get(&key(project_id, table_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// The check a record write carries: the table's schema is still the one
/// the write was checked against (a schema change meanwhile refuses it).
pub fn schema_guard(table: &DataTable) -> Write {
    Write::Check {
        key: key(&table.project_id, &table.id),
        condition: Condition::Equals("schema_version".into(), table.schema_version.into()),
    }
}

/// Marks a field's index ready once the runtime has filled it, if the
/// field still has that generation; `false` when the table moved on (a
/// newer change will be filled in turn). The table's version moves, so a
/// client's update read before it is stale rather than lost.
pub async fn mark_index_ready(
    store: &dyn ItemTable,
    project_id: &str,
    table_id: &str,
    field_id: &str,
    generation: u32,
) -> Result<bool, ApiError> {
    for _ in 0..5 {
        let Some(mut table) = find_in(store, project_id, table_id).await? else {
            return Ok(false);
        };
        let Some(field) = table
            .fields
            .iter_mut()
            .find(|f| f.id == field_id && f.indexed && f.index_generation == generation)
        else {
            return Ok(false);
        };
        if field.index_ready {
            return Ok(true);
        }
        field.index_ready = true;
        let read = table.version;
        table.version += 1;
        match store
            .put(item(&table)?, Some(Condition::version_is(read)))
            .await
        {
            Ok(()) => return Ok(true),
            Err(crate::ports::table::TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        crate::http::Conflict::CHANGED_CONCURRENTLY,
    ))
}

/// A table of the tenant's project, by id.
pub async fn find(
    services: &Services,
    tenant: &Tenant,
    table_id: &str,
) -> Result<Option<DataTable>, ApiError> {
    let project = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    match services.table()?.get(&key(project, table_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// One table (members).
pub async fn get(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    json(
        StatusCode::OK,
        &TableView::from(load(&services, &request, &tenant).await?),
    )
}

/// Renames, describes or changes the schema of a table (editors).
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: UpdateTable = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = text::take_new_name(body.name.as_deref(), &mut errors);
    let description = text::take_new_description(body.description.as_ref(), &mut errors);
    if body.changes.len() > MAX_CHANGES {
        errors.push(FieldError::new(
            "changes",
            format!("are at most {MAX_CHANGES} per request"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let store = services.table()?;
    let current = load(&services, &request, &tenant).await?;
    if body.version.is_some_and(|v| v != current.version) {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let fields =
        schema::apply(&current.fields, &body.changes).map_err(|e| schema_refusal(e, "changes"))?;
    let others: Vec<DataTable> = all_tables(store, &project.id)
        .await?
        .into_iter()
        .filter(|t| t.id != current.id)
        .collect();
    check_relations(&fields, &current.id, &others, "fields")?;
    let mut next = current.clone();
    let schema_changed = current.fields != fields;
    next.fields = fields;
    if schema_changed {
        next.schema_version += 1;
    }
    if let Some(name) = name {
        next.name = name;
    }
    if let Some(description) = description {
        next.description = description;
    }
    next.updated_at = now();
    next.version += 1;
    let mut change = Change::new().write(
        "table",
        Write::Put {
            item: item(&next)?,
            condition: Some(Condition::version_is(current.version)),
        },
    );
    if next.name.to_lowercase() != current.name.to_lowercase() {
        change = change
            .write("old_name", name_release(&current))
            .write("name", name_claim(&next)?);
    }
    change = change
        .write("audit", audited(&tenant.meta, &next, UPDATED)?)
        .event(event(UPDATED, &next, &tenant.meta.caller.sub));
    if schema_changed {
        let mut changed = event(SCHEMA_CHANGED, &next, &tenant.meta.caller.sub);
        let dropped: Vec<Value> = schema::dropped_indexes(&current.fields, &next.fields)
            .into_iter()
            .map(|(field_id, generation)| json!({"field_id": field_id, "generation": generation}))
            .collect();
        changed.detail["dropped_indexes"] = Value::Array(dropped);
        change = change.event(changed);
    }
    if let Err(e) = change.commit(store).await {
        return Err(refusal(&services, &tenant, e).await);
    }
    json(StatusCode::OK, &TableView::from(next))
}

/// Deletes a table (editors), unless another table's relation points at it.
pub async fn delete(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let store = services.table()?;
    let current = load(&services, &request, &tenant).await?;
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let referenced = all_tables(store, &project.id).await?.iter().any(|t| {
        t.id != current.id
            && t.fields.iter().any(|f| {
                f.relation
                    .as_ref()
                    .is_some_and(|r| r.table_id == current.id)
            })
    });
    if referenced {
        return Err(StudioError::TableReferenced.into());
    }
    let change = Change::new()
        .write(
            "table",
            Write::Delete {
                key: key(&current.project_id, &current.id),
                condition: Some(Condition::version_is(current.version)),
            },
        )
        .write("old_name", name_release(&current))
        .write(
            "project",
            projects::count(&project, "tables", -1, MAX_TABLES),
        )
        .write("audit", audited(&tenant.meta, &current, DELETED)?)
        .event(event(DELETED, &current, &tenant.meta.caller.sub));
    match change.commit(store).await {
        Ok(()) => no_content(),
        Err(ChangeError::Refused("table")) => Err(ApiError::Conflict(
            crate::http::Conflict::CHANGED_CONCURRENTLY,
        )),
        Err(e) => Err(refusal(&services, &tenant, e).await),
    }
}
