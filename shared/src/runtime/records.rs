//! The records of a table, through the generated API: create, list, get,
//! replace, update and delete, each checked against the table's current
//! schema ([`super::values`]).
//!
//! Items, in the table's partition: a record is `R#<id>`, its values as
//! JSON text by field id; a unique field's value is held by
//! `U#<field>#<value>`, claimed in the record's own transaction, so two
//! concurrent writes of one value cannot both commit; an indexed field's
//! value has an entry `I#<field>#<generation>#<key>#<id>` (the key of
//! [`super::keys`]), moved in the same transaction, so a list reads its
//! order without reading the table ([`super::listing`]).
//! Writes are guarded by the record's version (a stale one is a 412 naming
//! the current version) and commit with their event and audit entry.

use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::keys;
use super::plan::{RECORD_PREFIX, entry_key};
use super::values::{self, Data, FileClaim, Mode};
use super::{EVENTS, RuntimeError, files};
use crate::change::{self, Change, ChangeError};
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, json, json_body, no_content,
    path_param, query_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, ItemTable, Key, MAX_BATCH_GET, Write, from_item, to_item};
use crate::services::Services;
use crate::studio::schema::Field;
use crate::studio::tables::{self, DataTable};
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{RequestMeta, Tenant, UserId};

/// `?version=` of a deletion.
pub const DELETE_QUERY: &[crate::http::schema::QueryParam] = &[crate::http::schema::QueryParam {
    name: "version",
    description: "The version read; a stale one is a 412 with the current one",
    schema: crate::http::schema::version,
}];

/// The audited action (and event) of a creation.
pub const CREATED: &str = "record.created";
/// The audited action (and event) of a change.
pub const UPDATED: &str = "record.updated";
/// The audited action (and event) of a deletion.
pub const DELETED: &str = "record.deleted";
/// Largest record body.
const BODY_LIMIT: usize = DEFAULT_BODY_LIMIT;
/// A unique value's key holds at most this many bytes; a longer one is
/// held by its hash (a sort key holds 1,024 bytes).
const MAX_VALUE_KEY: usize = 512;

/// A record as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Stored {
    pub(super) id: String,
    pub(super) table_id: String,
    pub(super) project_id: String,
    pub(super) data: String,
    pub(super) created_by: UserId,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    pub(super) version: u64,
}

/// A record as the API shows it: its system fields, its version, and its
/// values by field name (the table's own fields, as its schema says now).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    /// Sortable id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Who created it.
    pub created_by: UserId,
    /// Moves with every change; send it back to change the record.
    pub version: u64,
    /// Its values, by field name.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    /// The records its relations name, by field, when a list asked
    /// `expand=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub expand: Option<Map<String, Value>>,
}

/// `POST …/records/`, `PUT` and `PATCH …/records/{id}/`: values by field
/// name, and for a change the version read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RecordBody {
    /// The version read; a stale one is a 412 with the current one.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
    /// Values by field name; `null` clears one.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
}

/// The sort key prefix of the items holding unique values.
const UNIQUE_PREFIX: &str = "U#";

/// A new record of `table` holding `data`. Its `created_at` is the id's
/// own moment, so the id order is the order of `created_at` and a sort on
/// it reads the records in id order.
pub(super) fn new_stored(table: &DataTable, by: &UserId, data: String) -> Stored {
    let id = ulid::Ulid::generate();
    let at = chrono::DateTime::<chrono::Utc>::from(id.datetime())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Stored {
        id: id.to_string(),
        table_id: table.id.clone(),
        project_id: table.project_id.to_string(),
        data,
        created_by: by.clone(),
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    }
}

/// A change's condition on the record: still at the version read, and
/// held by no batch ([`super::batch`]).
fn unlocked_at(version: u64) -> Condition {
    Condition::And(vec![
        Condition::version_is(version),
        Condition::AttributeAbsent(super::batch::LOCK.into()),
    ])
}

pub(super) fn record_key(table_id: &str, record_id: &str) -> Key {
    Key::new(
        super::partition(table_id),
        format!("{RECORD_PREFIX}{record_id}"),
    )
}

fn unique_key(table_id: &str, field_id: &str, value: &Value) -> Key {
    let text = value.to_string();
    let held = if text.len() > MAX_VALUE_KEY {
        let hash: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("H#{hash}")
    } else {
        format!("V#{text}")
    };
    Key::new(
        super::partition(table_id),
        format!("{UNIQUE_PREFIX}{field_id}#{held}"),
    )
}

pub(super) fn view(table: &DataTable, stored: &Stored) -> Result<RecordView, ApiError> {
    let data = data_of(stored)?;
    Ok(RecordView {
        id: stored.id.clone(),
        created_at: stored.created_at.clone(),
        updated_at: stored.updated_at.clone(),
        created_by: stored.created_by.clone(),
        version: stored.version,
        values: values::read(&table.fields, &data),
        expand: None,
    })
}

pub(super) fn data_of(stored: &Stored) -> Result<Data, ApiError> {
    serde_json::from_str(&stored.data).map_err(|e| ApiError::Internal(e.to_string()))
}

pub(super) fn put(stored: &Stored, condition: Condition) -> Result<Write, ApiError> {
    Ok(Write::Put {
        item: crate::ports::table::to_keyed_item(stored, record_key(&stored.table_id, &stored.id))?,
        condition: Some(condition),
    })
}

fn audited(
    meta: &RequestMeta,
    table: &DataTable,
    id: &str,
    action: &str,
) -> Result<Write, ApiError> {
    Ok(audit::record(
        meta,
        &table.organization_id,
        action,
        Target { kind: "record", id },
    )?)
}

pub(super) fn event(
    detail_type: &str,
    table: &DataTable,
    stored: &Stored,
    meta: &RequestMeta,
) -> DomainEvent {
    event_by(detail_type, table, stored, &meta.caller.sub, meta.chain)
}

/// A record's event, by whoever wrote it; `chain` counts the workflows
/// that led to the write (0: a person or an app did), so event-triggered
/// workflows cannot trigger each other without end.
pub(super) fn event_by(
    detail_type: &str,
    table: &DataTable,
    stored: &Stored,
    by: &UserId,
    chain: u32,
) -> DomainEvent {
    let mut detail = json!({
        "organization_id": table.organization_id,
        "project_id": table.project_id,
        "table_id": table.id,
        "record_id": stored.id,
        "version": stored.version,
        "by": by,
    });
    if chain > 0 {
        detail["chain"] = json!(chain);
    }
    DomainEvent::new(EVENTS, detail_type, detail)
}

/// A unique field's value a write claims.
struct Claim {
    field: String,
    key: Key,
}

/// Unique values a write gives back and takes: (field name, value's key).
pub(super) type Moves = (Vec<(String, Key)>, Vec<(String, Key)>);

/// The unique values a write from `before` to `after` gives back and
/// takes, each with its field's name.
pub(super) fn unique_moves(
    fields: &[Field],
    table_id: &str,
    before: Option<&Data>,
    after: Option<&Data>,
) -> Moves {
    let (mut releases, mut claims) = (Vec::new(), Vec::new());
    for field in fields.iter().filter(|f| f.unique) {
        let old = before.and_then(|d| d.get(&field.id));
        let new = after.and_then(|d| d.get(&field.id));
        if old == new {
            continue;
        }
        if let Some(old) = old {
            releases.push((field.name.clone(), unique_key(table_id, &field.id, old)));
        }
        if let Some(new) = new {
            claims.push((field.name.clone(), unique_key(table_id, &field.id, new)));
        }
    }
    (releases, claims)
}

/// The releases and claims of the unique fields whose value changes.
fn unique_writes(
    fields: &[Field],
    table_id: &str,
    record_id: &str,
    before: Option<&Data>,
    after: Option<&Data>,
) -> Result<(Change, Vec<Claim>), ApiError> {
    let mut change = Change::new();
    let (releases, taken) = unique_moves(fields, table_id, before, after);
    for (_, key) in releases {
        change = change.write("release", change::release(&key, "record_id", record_id));
    }
    let mut claims = Vec::new();
    for (field, key) in taken {
        change = change.write("unique", change::claim(&key, "record_id", record_id)?);
        claims.push(Claim { field, key });
    }
    Ok((change, claims))
}

/// A field's index key of a record's stored values.
pub(super) fn index_key(field: &Field, data: &Data) -> String {
    let value = keys::scalar(field.kind, data.get(&field.id));
    keys::encode(&value.unwrap_or(keys::Scalar::Null))
}

/// The keys of all of a record's indexed fields, by field id, each with
/// its index's generation (`<generation>:<key>`): every entry carries them,
/// so a list checks the filter's terms on indexed fields before reading
/// any record ([`super::listing`]).
pub(super) fn copies(fields: &[Field], data: &Data) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| f.indexed)
        .map(|f| {
            let copy = format!("{}:{}", f.index_generation, index_key(f, data));
            (f.id.clone(), Value::String(copy))
        })
        .collect()
}

/// The index entry of a record under `key`, with its copies.
pub(super) fn entry_item(
    table_id: &str,
    field: &Field,
    key: &str,
    record_id: &str,
    copies: &Map<String, Value>,
) -> Result<crate::ports::table::Item, ApiError> {
    let sk = entry_key(&field.id, field.index_generation, key, record_id);
    Ok(to_item(&json!({
        "pk": super::partition(table_id), "sk": sk, "record_id": record_id, "keys": copies,
    }))?)
}

/// The index entries of a write from `before` to `after`. When no indexed
/// value changes, none; else each entry whose key changes moves (the old
/// one deleted), and every entry is put again with the new copies. Every
/// record has one entry per indexed field (`null` included), so a sort on
/// the field reads every record.
pub(super) fn index_writes(
    fields: &[Field],
    table_id: &str,
    record_id: &str,
    before: Option<&Data>,
    after: Option<&Data>,
) -> Result<Change, ApiError> {
    let mut change = Change::new();
    let (old, new) = (
        before.map(|d| copies(fields, d)),
        after.map(|d| copies(fields, d)),
    );
    if old == new {
        return Ok(change);
    }
    let partition = super::partition(table_id);
    for field in fields.iter().filter(|f| f.indexed) {
        let old_key = before.map(|d| index_key(field, d));
        let new_key = after.map(|d| index_key(field, d));
        if let Some(old_key) = old_key.filter(|k| Some(k) != new_key.as_ref()) {
            let sk = entry_key(&field.id, field.index_generation, &old_key, record_id);
            change = change.write(
                "index",
                Write::Delete {
                    key: Key::new(partition.clone(), sk),
                    condition: None,
                },
            );
        }
        if let (Some(key), Some(copies)) = (new_key, &new) {
            let item = entry_item(table_id, field, &key, record_id, copies)?;
            change = change.write(
                "index",
                Write::Put {
                    item,
                    condition: None,
                },
            );
        }
    }
    Ok(change)
}

/// Everything a record's keys need for a write from `before` to `after`:
/// its unique values' releases and claims, then its index entries' moves.
fn keyed(
    fields: &[Field],
    table_id: &str,
    record_id: &str,
    before: Option<&Data>,
    after: Option<&Data>,
) -> Result<(Change, Vec<Claim>), ApiError> {
    let (unique, claims) = unique_writes(fields, table_id, record_id, before, after)?;
    let index = index_writes(fields, table_id, record_id, before, after)?;
    Ok((unique.then(index), claims))
}

/// Which claimed value another record holds: the field to name in a 409.
async fn taken(store: &dyn ItemTable, claims: &[Claim], record_id: &str) -> ApiError {
    for claim in claims {
        if let Ok(Some(item)) = store.get(&claim.key).await
            && item.get("record_id").and_then(Value::as_str) != Some(record_id)
        {
            return RuntimeError::UniqueTaken(claim.field.clone()).into();
        }
    }
    ApiError::Conflict(crate::http::Conflict::CHANGED_CONCURRENTLY)
}

/// Every record a write's relations name must exist, read in batches.
pub(super) async fn check_related(
    store: &dyn ItemTable,
    related: &values::Related,
) -> Result<(), ApiError> {
    // Every key once (a batch get refuses duplicates), all fields together.
    let mut wanted: Vec<Key> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, target, ids) in related {
        for id in ids {
            if seen.insert((target.as_str(), id.as_str())) {
                wanted.push(record_key(target, id));
            }
        }
    }
    let mut found = std::collections::HashSet::new();
    for chunk in wanted.chunks(MAX_BATCH_GET) {
        for item in store.batch_get(chunk).await? {
            found.insert(Key::of(&item)?);
        }
    }
    let errors: Vec<FieldError> = related
        .iter()
        .filter(|(_, target, ids)| {
            ids.iter()
                .any(|id| !found.contains(&record_key(target, id)))
        })
        .map(|(field, ..)| FieldError::new(field, "names a record that does not exist"))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// Commits a record change: the record's write first, then its unique
/// values' releases and claims, its audit entry and its event.
#[allow(clippy::too_many_arguments)]
async fn commit(
    store: &dyn ItemTable,
    table: &DataTable,
    record: Write,
    uniques: (Change, Vec<Claim>),
    tail: Change,
    record_id: &str,
    stale: ApiError,
    files: &[FileClaim],
) -> Result<(), ApiError> {
    let (unique, claims) = uniques;
    // Checked against this schema, the write commits only while it holds:
    // a field indexed meanwhile is never missed by the index worker.
    let change = Change::new()
        .write("record", record)
        .write("schema", tables::schema_guard(table))
        .then(unique)
        .then(tail);
    match change.commit(store).await {
        Ok(()) => Ok(()),
        Err(ChangeError::Refused("record")) => Err(stale),
        Err(ChangeError::Refused("unique")) => Err(taken(store, &claims, record_id).await),
        // Another record claimed the same upload first.
        Err(ChangeError::Refused("file")) => Err(RuntimeError::FileTaken(
            files.first().map(|f| f.field.clone()).unwrap_or_default(),
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

fn now() -> String {
    crate::studio::now()
}

/// Creates a record (editors).
pub async fn create(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: RecordBody = json_body(&request, BODY_LIMIT)?;
    let table = tables::load(&services, &request, &tenant).await?;
    let made = create_in(&services, &table, &tenant.meta, &body.values, None).await?;
    json(StatusCode::CREATED, &made)
}

/// Creates a record of `table` as `meta`'s caller: what the records route
/// does, and a workflow's step. `id` fixes the new record's id (a
/// workflow's step derives it from its execution, so a repeat of the step
/// finds the record it made: the write is refused as a conflict).
pub async fn create_in(
    services: &Services,
    table: &DataTable,
    meta: &RequestMeta,
    values: &Map<String, Value>,
    id: Option<String>,
) -> Result<RecordView, ApiError> {
    let checked =
        values::write(&table.fields, values, None, Mode::Create).map_err(ApiError::Invalid)?;
    let store = services.table()?;
    check_related(store, &checked.related).await?;
    let mut stored = new_stored(table, &meta.caller.sub, String::new());
    if let Some(id) = id {
        stored.id = id;
    }
    let (attach, data) = with_files(services, table, &stored.id, checked).await?;
    stored.data =
        serde_json::to_string(&data.data).map_err(|e| ApiError::Internal(e.to_string()))?;
    let uniques = keyed(&table.fields, &table.id, &stored.id, None, Some(&data.data))?;
    let tail = attach
        .write("audit", audited(meta, table, &stored.id, CREATED)?)
        .event(event(CREATED, table, &stored, meta));
    let stale = ApiError::Conflict(crate::http::Conflict::CHANGED_CONCURRENTLY);
    let record = put(&stored, Condition::Absent)?;
    commit(
        store,
        table,
        record,
        uniques,
        tail,
        &stored.id,
        stale,
        &data.files,
    )
    .await?;
    view(table, &stored)
}

async fn load(
    services: &Services,
    request: &Request,
    table: &DataTable,
) -> Result<Stored, ApiError> {
    let id = path_param(request, "record_id")?;
    stored(services.table()?, &table.id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// A record of a table, as stored.
pub(super) async fn stored(
    store: &dyn ItemTable,
    table_id: &str,
    record_id: &str,
) -> Result<Option<Stored>, ApiError> {
    match store.get(&record_key(table_id, record_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// The uploads a write attaches, checked and claimed: their claims, and
/// the write's values with each file as a read shows it.
async fn with_files(
    services: &Services,
    table: &DataTable,
    record_id: &str,
    mut checked: values::Checked,
) -> Result<(Change, values::Checked), ApiError> {
    if checked.files.is_empty() {
        return Ok((Change::new(), checked));
    }
    let (claims, shown) = files::claims(services, table, record_id, &checked.files).await?;
    for (field_id, value) in shown {
        checked.data.insert(field_id, value);
    }
    Ok((claims, checked))
}

/// A record of `table`, as a read shows it.
pub async fn read(
    services: &Services,
    table: &DataTable,
    record_id: &str,
) -> Result<RecordView, ApiError> {
    let found = stored(services.table()?, &table.id, record_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    view(table, &found)
}

/// One record (members).
pub async fn get(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let table = tables::load(&services, &request, &tenant).await?;
    let stored = load(&services, &request, &table).await?;
    json(StatusCode::OK, &view(&table, &stored)?)
}

async fn change_record(
    services: Arc<Services>,
    request: Request,
    tenant: Tenant,
    mode: Mode,
) -> HandlerResult {
    let body: RecordBody = json_body(&request, BODY_LIMIT)?;
    let table = tables::load(&services, &request, &tenant).await?;
    let id = path_param(&request, "record_id")?;
    let changed = change_in(
        &services,
        &table,
        &tenant.meta,
        id,
        &body.values,
        body.version,
        mode,
    )
    .await?;
    json(StatusCode::OK, &changed)
}

/// Changes a record of `table` as `meta`'s caller (`Replace` or `Merge`),
/// guarded by `version` when one is given.
pub async fn change_in(
    services: &Services,
    table: &DataTable,
    meta: &RequestMeta,
    record_id: &str,
    values: &Map<String, Value>,
    version: Option<u64>,
    mode: Mode,
) -> Result<RecordView, ApiError> {
    let store = services.table()?;
    let current = stored(store, &table.id, record_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let before = data_of(&current)?;
    let checked =
        values::write(&table.fields, values, Some(&before), mode).map_err(ApiError::Invalid)?;
    if version.is_some_and(|v| v != current.version) {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    check_related(store, &checked.related).await?;
    let mut next = current.clone();
    let (attach, data) = with_files(services, table, &next.id, checked).await?;
    next.data = serde_json::to_string(&data.data).map_err(|e| ApiError::Internal(e.to_string()))?;
    next.updated_at = now();
    next.version += 1;
    let uniques = keyed(
        &table.fields,
        &table.id,
        &next.id,
        Some(&before),
        Some(&data.data),
    )?;
    let given_back = files::released(&table.fields, Some(&before), Some(&data.data));
    let mut tail = attach
        .write("audit", audited(meta, table, &next.id, UPDATED)?)
        .event(event(UPDATED, table, &next, meta));
    if let Some(released) = files::released_event(table, &next.id, &given_back) {
        tail = tail.event(released);
    }
    let record = put(&next, unlocked_at(current.version))?;
    let stale = ApiError::StaleVersion(None);
    commit(
        store,
        table,
        record,
        uniques,
        tail,
        &next.id,
        stale,
        &data.files,
    )
    .await?;
    view(table, &next)
}

/// Replaces a record's values (editors): unnamed fields take their default.
pub async fn replace(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    change_record(services, request, tenant, Mode::Replace).await
}

/// Changes the values a request names (editors).
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    change_record(services, request, tenant, Mode::Merge).await
}

/// Deletes a record (editors), giving its unique values back.
pub async fn delete(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let table = tables::load(&services, &request, &tenant).await?;
    let id = path_param(&request, "record_id")?;
    // Not a version the record can have: stale whatever it is.
    let version =
        query_param(&request, "version").map(|text| text.parse::<u64>().unwrap_or(u64::MAX));
    delete_in(&services, &table, &tenant.meta, id, version).await?;
    no_content()
}

/// Deletes a record of `table` as `meta`'s caller, guarded by `version`
/// when one is given.
pub async fn delete_in(
    services: &Services,
    table: &DataTable,
    meta: &RequestMeta,
    record_id: &str,
    version: Option<u64>,
) -> Result<(), ApiError> {
    let store = services.table()?;
    let current = stored(store, &table.id, record_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if version.is_some_and(|v| v != current.version) {
        return Err(ApiError::StaleVersion(Some(current.version)));
    }
    let before = data_of(&current)?;
    let releases = keyed(&table.fields, &table.id, &current.id, Some(&before), None)?;
    let given_back = files::released(&table.fields, Some(&before), None);
    let mut tail = Change::new()
        .write("audit", audited(meta, table, &current.id, DELETED)?)
        .event(event(DELETED, table, &current, meta));
    if let Some(released) = files::released_event(table, &current.id, &given_back) {
        tail = tail.event(released);
    }
    let record = Write::Delete {
        key: record_key(&table.id, &current.id),
        condition: Some(unlocked_at(current.version)),
    };
    let stale = ApiError::StaleVersion(None);
    commit(
        store,
        table,
        record,
        releases,
        tail,
        &current.id,
        stale,
        &[],
    )
    .await
}
