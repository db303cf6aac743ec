//! `POST …/records/batch`: up to 100 creates, replaces, updates and
//! deletes of one table, all or nothing.
//!
//! A batch's writes exceed one transaction (the adapters hold 25 writes),
//! so it commits as a saga with a coordinator item `B#<batch id>` in the
//! table's partition:
//!
//! 1. everything is checked first (values, relations, versions, unique
//!    values within the batch); a refusal writes nothing;
//! 2. the coordinator is written `pending`, with every record's image
//!    before and after, and with a `record.batch_started` event that
//!    brings the recovery worker ([`recover`]) in after [`RECOVERY_AFTER`];
//! 3. each record changed is locked (`batch = <id>`, under its version)
//!    and each new unique value claimed; a refusal undoes what was taken
//!    and answers 412 or 409;
//! 4. the coordinator turns `committed` with the batch's audit entry:
//!    from here the batch happens, whatever fails;
//! 5. each record's change is applied with its index entries, released
//!    values and event, in transactions of whole records, then the
//!    coordinator is deleted.
//!
//! Single-record writes refuse a locked record, so no one changes what a
//! batch holds. If the request dies on the way, the worker rolls a
//! `pending` batch back and a `committed` one forward; every step is
//! conditioned so either may repeat what the other did.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::records::{
    self, CREATED, DELETED, Moves, RecordView, Stored, UPDATED, check_related, data_of,
    index_writes, put, record_key, unique_moves, view,
};
use super::values::{self, Mode};
use super::{EVENTS, RuntimeError};
use crate::change::{self, Change};
use crate::http::{ApiError, FieldError, HandlerResult, json, json_body};
use crate::ports::events::DomainEvent;
use crate::ports::queue::OutgoingMessage;
use crate::ports::table::{
    CancelReason, Condition, ItemTable, Key, MAX_TRANSACTION_WRITES, TableError, Update, Write,
    from_item, to_keyed_item,
};
use crate::services::Services;
use crate::studio::tables::{self, DataTable};
use crate::tenancy::Tenant;
use crate::tenancy::audit::{self, Target};

/// Most operations one batch holds.
pub const MAX_OPERATIONS: usize = 100;
/// The audited action of a batch.
pub const BATCHED: &str = "record.batch";
/// The event that brings the recovery worker.
pub const STARTED: &str = "record.batch_started";
/// The queue of the recovery worker.
pub const QUEUE: &str = "runtime-batch";
/// How old a batch is before the worker finishes it: far longer than a
/// request takes.
pub const RECOVERY_AFTER: Duration = Duration::from_secs(60);
/// The attribute a record holds while a batch holds it.
pub const LOCK: &str = "batch";
/// Largest batch body.
const BODY_LIMIT: usize = 1 << 20;
/// Largest coordinator: an item holds 400 KB.
const MAX_PLAN: usize = 350 * 1024;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A new record.
    Create,
    /// `PUT`: fields not named take their default.
    Replace,
    /// `PATCH`: fields not named keep their value.
    Update,
    /// Deletes the record.
    Delete,
}

/// One operation of a batch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// What it does.
    pub action: Action,
    /// The record, for all but a creation.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub id: Option<String>,
    /// The version read; a stale one refuses the whole batch with 412.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
    /// Values by field name, for all but a deletion.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub values: Option<Map<String, Value>>,
}

/// `POST …/records/batch`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// Applied all or none, in order.
    #[schema(min_items = 1, max_items = 100)]
    pub operations: Vec<Operation>,
}

/// What one operation did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OperationResult {
    /// What it did.
    pub action: Action,
    /// The record's id.
    pub id: String,
    /// The record as it is now; none once deleted.
    pub record: Option<RecordView>,
}

/// A batch's answer, in the order of its operations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchAnswer {
    /// One per operation.
    pub items: Vec<OperationResult>,
}

/// One record's change, before and after.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Step {
    action: Action,
    id: String,
    before: Option<Stored>,
    after: Option<Stored>,
}

/// The coordinator of a batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Coordinator {
    id: String,
    table_id: String,
    project_id: String,
    status: String,
    /// When it started, in seconds since the epoch.
    started_at: i64,
    by: crate::tenancy::UserId,
    steps: Vec<Step>,
}

const PENDING: &str = "pending";
const COMMITTED: &str = "committed";

fn coordinator_key(table_id: &str, batch_id: &str) -> Key {
    Key::new(super::partition(table_id), format!("B#{batch_id}"))
}

fn at(i: usize, field: &str) -> String {
    if field.is_empty() {
        format!("operations[{i}]")
    } else {
        format!("operations[{i}].{field}")
    }
}

/// Checks every operation and plans its step: nothing is written.
async fn plan(
    store: &dyn ItemTable,
    table: &DataTable,
    tenant: &Tenant,
    body: &BatchBody,
) -> Result<Vec<Step>, ApiError> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, op) in body.operations.iter().enumerate() {
        match (op.action, &op.id, &op.values) {
            (Action::Create, Some(_), _) => {
                errors.push(FieldError::new(at(i, "id"), "is given by the platform"))
            }
            (Action::Create | Action::Replace | Action::Update, _, None) => {
                errors.push(FieldError::new(at(i, "values"), "are required"))
            }
            (Action::Delete, _, Some(_)) => errors.push(FieldError::new(
                at(i, "values"),
                "have no use in a deletion",
            )),
            _ => {}
        }
        match (op.action, &op.id) {
            (Action::Create, _) => {}
            (_, None) => errors.push(FieldError::new(at(i, "id"), "is required")),
            (_, Some(id)) if !seen.insert(id.clone()) => errors.push(FieldError::new(
                at(i, "id"),
                "is named by another operation",
            )),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let ids: Vec<String> = body
        .operations
        .iter()
        .filter_map(|o| o.id.clone())
        .collect();
    let keys: Vec<Key> = ids.iter().map(|id| record_key(&table.id, id)).collect();
    let mut current = std::collections::HashMap::new();
    for chunk in keys.chunks(crate::ports::table::MAX_BATCH_GET) {
        for item in store.batch_get(chunk).await? {
            let stored: Stored = from_item(item)?;
            current.insert(stored.id.clone(), stored);
        }
    }
    let now = crate::studio::now();
    let mut steps = Vec::with_capacity(body.operations.len());
    let mut related = Vec::new();
    for (i, op) in body.operations.iter().enumerate() {
        let before = match &op.id {
            Some(id) => match current.get(id) {
                Some(stored) => Some(stored.clone()),
                None => {
                    errors.push(FieldError::new(
                        at(i, "id"),
                        "names no record of this table",
                    ));
                    continue;
                }
            },
            None => None,
        };
        if let (Some(before), Some(version)) = (&before, op.version)
            && before.version != version
        {
            return Err(ApiError::StaleVersion(Some(before.version)));
        }
        let before_data = before.as_ref().map(data_of).transpose()?;
        let after = match op.action {
            Action::Delete => None,
            action => {
                let mode = match action {
                    Action::Create => Mode::Create,
                    Action::Replace => Mode::Replace,
                    _ => Mode::Merge,
                };
                let given = op.values.clone().unwrap_or_default();
                match values::write(&table.fields, &given, before_data.as_ref(), mode) {
                    // Uploads are checked and claimed one record at a time.
                    Ok(checked) if !checked.files.is_empty() => {
                        errors.extend(checked.files.iter().map(|f| {
                            FieldError::new(
                                at(i, &format!("values.{}", f.field)),
                                "a file is attached through the record's own route, not a batch",
                            )
                        }));
                        continue;
                    }
                    Ok(checked) => {
                        related.extend(
                            checked
                                .related
                                .into_iter()
                                .map(|(f, t, ids)| (at(i, &format!("values.{f}")), t, ids)),
                        );
                        let data = serde_json::to_string(&checked.data)
                            .map_err(|e| ApiError::Internal(e.to_string()))?;
                        Some(match &before {
                            Some(b) => Stored {
                                data,
                                updated_at: now.clone(),
                                version: b.version + 1,
                                ..b.clone()
                            },
                            None => records::new_stored(table, &tenant.meta.caller.sub, data),
                        })
                    }
                    Err(bad) => {
                        errors.extend(bad.into_iter().map(|e| {
                            FieldError::new(at(i, &format!("values.{}", e.field)), e.message)
                        }));
                        continue;
                    }
                }
            }
        };
        let id = after
            .as_ref()
            .or(before.as_ref())
            .map(|s| s.id.clone())
            .unwrap_or_default();
        steps.push(Step {
            action: op.action,
            id,
            before,
            after,
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    check_related(store, &related).await?;
    // Two operations of the batch cannot take one unique value.
    let mut claimed = std::collections::HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let (_, claims) = moves(table, step)?;
        for (field, key) in claims {
            if claimed
                .insert((key.pk.clone(), key.sk.clone()), i)
                .is_some()
            {
                return Err(RuntimeError::UniqueTaken(at(i, &format!("values.{field}"))).into());
            }
        }
    }
    Ok(steps)
}

fn moves(table: &DataTable, step: &Step) -> Result<Moves, ApiError> {
    let before = step.before.as_ref().map(data_of).transpose()?;
    let after = step.after.as_ref().map(data_of).transpose()?;
    Ok(unique_moves(
        &table.fields,
        &table.id,
        before.as_ref(),
        after.as_ref(),
    ))
}

/// Transactions of at most `MAX_TRANSACTION_WRITES` writes, each step's
/// writes kept whole in one; each with the steps it holds, in order.
fn packed(groups: Vec<Vec<Write>>) -> Vec<(Vec<usize>, Vec<Write>)> {
    let mut out: Vec<(Vec<usize>, Vec<Write>)> = Vec::new();
    for (i, group) in groups.into_iter().enumerate() {
        match out.last_mut() {
            Some((steps, last)) if last.len() + group.len() <= MAX_TRANSACTION_WRITES => {
                steps.push(i);
                last.extend(group);
            }
            _ => out.push((vec![i], group)),
        }
    }
    out
}

/// Locks the records and claims the values: per step, its writes.
fn takes(table: &DataTable, batch_id: &str, step: &Step) -> Result<Vec<Write>, ApiError> {
    let mut writes = Vec::new();
    if let Some(before) = &step.before {
        writes.push(Write::Update(
            Update::of(record_key(&table.id, &before.id))
                .set(LOCK, batch_id)
                .when(Condition::And(vec![
                    Condition::version_is(before.version),
                    Condition::AttributeAbsent(LOCK.into()),
                ])),
        ));
    }
    for (_, key) in moves(table, step)?.1 {
        writes.push(change::claim(&key, "record_id", &step.id)?);
    }
    Ok(writes)
}

/// Gives back what `takes` took; conditioned, so what was not taken (or
/// was already given back) stays as it is.
async fn give_back(
    store: &dyn ItemTable,
    table: &DataTable,
    batch_id: &str,
    steps: &[Step],
) -> Result<(), ApiError> {
    for step in steps {
        if let Some(before) = &step.before {
            let unlock = Update::of(record_key(&table.id, &before.id))
                .remove(LOCK)
                .when(Condition::Equals(LOCK.into(), json!(batch_id)));
            match store.update(unlock).await {
                Ok(_) | Err(TableError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for (_, key) in moves(table, step)?.1 {
            match store
                .delete(
                    &key,
                    Some(Condition::Equals("record_id".into(), json!(step.id))),
                )
                .await
            {
                Ok(()) | Err(TableError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    store
        .delete(&coordinator_key(&table.id, batch_id), None)
        .await?;
    Ok(())
}

/// One step's change: its record, released values, index entries, event.
fn applies(
    table: &DataTable,
    batch_id: &str,
    step: &Step,
    by: &crate::tenancy::UserId,
) -> Result<Change, ApiError> {
    let held = Condition::Equals(LOCK.into(), json!(batch_id));
    let record = match (&step.before, &step.after) {
        (_, Some(after)) if step.action == Action::Create => put(after, Condition::Absent)?,
        (_, Some(after)) => put(after, held)?,
        (Some(before), None) => Write::Delete {
            key: record_key(&table.id, &before.id),
            condition: Some(held),
        },
        (None, None) => return Err(ApiError::Internal("a step changes nothing".into())),
    };
    let before = step.before.as_ref().map(data_of).transpose()?;
    let after = step.after.as_ref().map(data_of).transpose()?;
    let mut change = Change::new().write("record", record);
    for (_, key) in moves(table, step)?.0 {
        change = change.write("release", change::release(&key, "record_id", &step.id));
    }
    change = change.then(index_writes(
        &table.fields,
        &table.id,
        &step.id,
        before.as_ref(),
        after.as_ref(),
    )?);
    let (kind, shown) = match (&step.after, &step.before) {
        (Some(after), _) if step.action == Action::Create => (CREATED, after),
        (Some(after), _) => (UPDATED, after),
        (None, Some(before)) => (DELETED, before),
        (None, None) => return Err(ApiError::Internal("a step changes nothing".into())),
    };
    let given_back = super::files::released(&table.fields, before.as_ref(), after.as_ref());
    let change = change.event(records::event_by(kind, table, shown, by, 0));
    Ok(
        match super::files::released_event(table, &step.id, &given_back) {
            Some(released) => change.event(released),
            None => change,
        },
    )
}

/// Applies every step not yet applied, then deletes the coordinator.
/// Whole steps go in each transaction; a refused one (a step applied
/// already, by the worker or the request) is retried step by step, and a
/// step refused alone is done.
async fn roll_forward(
    store: &dyn ItemTable,
    table: &DataTable,
    coordinator: &Coordinator,
) -> Result<(), ApiError> {
    let by = &coordinator.by;
    let mut groups: Vec<Vec<&Step>> = vec![Vec::new()];
    let mut size = 0;
    for step in &coordinator.steps {
        let writes = applies(table, &coordinator.id, step, by)?.len();
        if size + writes > MAX_TRANSACTION_WRITES && size > 0 {
            groups.push(Vec::new());
            size = 0;
        }
        size += writes;
        if let Some(group) = groups.last_mut() {
            group.push(step);
        }
    }
    for group in groups.into_iter().filter(|g| !g.is_empty()) {
        let mut all = Change::new();
        for step in &group {
            all = all.then(applies(table, &coordinator.id, step, by)?);
        }
        match all.commit(store).await {
            Ok(()) => {}
            Err(change::ChangeError::Refused(_)) => {
                for step in group {
                    match applies(table, &coordinator.id, step, by)?
                        .commit(store)
                        .await
                    {
                        Ok(()) | Err(change::ChangeError::Refused(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    store
        .delete(&coordinator_key(&table.id, &coordinator.id), None)
        .await?;
    Ok(())
}

/// Runs a batch (editors).
pub async fn run(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: BatchBody = json_body(&request, BODY_LIMIT)?;
    if body.operations.is_empty() || body.operations.len() > MAX_OPERATIONS {
        return Err(ApiError::invalid(
            "operations",
            format!("holds 1 to {MAX_OPERATIONS} operations"),
        ));
    }
    let table = tables::load(&services, &request, &tenant).await?;
    let store = services.table()?;
    let steps = plan(store, &table, &tenant, &body).await?;
    let coordinator = Coordinator {
        id: ulid::Ulid::generate().to_string(),
        table_id: table.id.clone(),
        project_id: table.project_id.to_string(),
        status: PENDING.into(),
        started_at: chrono::Utc::now().timestamp(),
        by: tenant.meta.caller.sub.clone(),
        steps,
    };
    let item = to_keyed_item(&coordinator, coordinator_key(&table.id, &coordinator.id))?;
    if serde_json::to_vec(&item).map_or(usize::MAX, |b| b.len()) > MAX_PLAN {
        return Err(ApiError::TooLarge { limit: MAX_PLAN });
    }
    let started = DomainEvent::new(
        EVENTS,
        STARTED,
        json!({"table_id": table.id, "project_id": table.project_id, "batch_id": coordinator.id}),
    );
    Change::new()
        .write(
            "batch",
            Write::Put {
                item,
                condition: Some(Condition::Absent),
            },
        )
        .event(started)
        .commit(store)
        .await?;
    // Take every lock and value, in whole steps per transaction.
    let mut groups = Vec::new();
    for step in &coordinator.steps {
        groups.push(takes(&table, &coordinator.id, step)?);
    }
    for (held, writes) in packed(groups) {
        if writes.is_empty() {
            continue;
        }
        let refused = match store.transact(writes).await {
            Ok(()) => None,
            Err(TableError::TransactionCancelled { reasons }) => Some(reasons),
            Err(e) => {
                give_back(store, &table, &coordinator.id, &coordinator.steps).await?;
                return Err(e.into());
            }
        };
        if let Some(reasons) = refused {
            give_back(store, &table, &coordinator.id, &coordinator.steps).await?;
            return Err(refusal(&table, &coordinator, &held, &reasons));
        }
    }
    let committed = Update::of(coordinator_key(&table.id, &coordinator.id))
        .set("status", COMMITTED)
        .when(Condition::Equals("status".into(), json!(PENDING)));
    let audited = audit::record(
        &tenant.meta,
        &table.organization_id,
        BATCHED,
        Target {
            kind: "batch",
            id: &coordinator.id,
        },
    )?;
    if let Err(e) = Change::new()
        .write("commit", Write::Update(committed))
        .write("audit", audited)
        .commit(store)
        .await
    {
        give_back(store, &table, &coordinator.id, &coordinator.steps).await?;
        return Err(e.into());
    }
    roll_forward(store, &table, &coordinator).await?;
    let mut items = Vec::with_capacity(coordinator.steps.len());
    for step in &coordinator.steps {
        items.push(OperationResult {
            action: step.action,
            id: step.id.clone(),
            record: step.after.as_ref().map(|a| view(&table, a)).transpose()?,
        });
    }
    json(StatusCode::OK, &BatchAnswer { items })
}

/// What a refused lock or claim means: which operation, and why.
fn refusal(
    table: &DataTable,
    coordinator: &Coordinator,
    held: &[usize],
    reasons: &[CancelReason],
) -> ApiError {
    // The transaction's writes are in the order `takes` made them for the
    // steps it held; the first refused one names the answer. A lock
    // refused is a stale version (or another batch holding the record); a
    // claim, a value another record holds.
    let mut position = 0;
    for &i in held {
        let Some(step) = coordinator.steps.get(i) else {
            continue;
        };
        let claims = moves(table, step).map(|m| m.1).unwrap_or_default();
        if step.before.is_some() {
            if reasons.get(position) == Some(&CancelReason::ConditionFailed) {
                return ApiError::StaleVersion(None);
            }
            position += 1;
        }
        for (field, _) in claims {
            if reasons.get(position) == Some(&CancelReason::ConditionFailed) {
                return RuntimeError::UniqueTaken(at(i, &format!("values.{field}"))).into();
            }
            position += 1;
        }
    }
    ApiError::Conflict(crate::http::Conflict::CHANGED_CONCURRENTLY)
}

/// The recovery worker: finishes a batch its request left, after
/// [`RECOVERY_AFTER`].
pub async fn recover(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    crate::routes::queued::each_event(&event, "batch not finished", |envelope| {
        finish(&services, envelope)
    })
    .await
}

async fn finish(services: &Services, event: EventBridgeEvent<Value>) -> Result<(), String> {
    let text = |name: &str| crate::routes::queued::detail_text(&event, name);
    let (table_id, project_id, batch_id) =
        (text("table_id")?, text("project_id")?, text("batch_id")?);
    let store = services.table().map_err(|e| e.to_string())?;
    let Some(item) = store
        .get(&coordinator_key(&table_id, &batch_id))
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(()); // finished
    };
    let coordinator: Coordinator = from_item(item).map_err(|e| e.to_string())?;
    let age = chrono::Utc::now().timestamp() - coordinator.started_at;
    let wait = RECOVERY_AFTER.as_secs() as i64 - age;
    if wait > 0 {
        // Its request may still be at work: look again once it cannot be.
        let queue = services.queue().map_err(|e| e.to_string())?;
        let delay = Duration::from_secs(wait.clamp(1, 900) as u64);
        let body = serde_json::to_string(&event).map_err(|e| e.to_string())?;
        queue
            .send(QUEUE, OutgoingMessage::new(body).delayed(delay))
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let Some(table) = tables::find_in(store, &project_id, &table_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(()); // the table is gone, and its partition with it
    };
    let done = if coordinator.status == COMMITTED {
        roll_forward(store, &table, &coordinator).await
    } else {
        give_back(store, &table, &coordinator.id, &coordinator.steps).await
    };
    done.map_err(|e| e.to_string())
}
