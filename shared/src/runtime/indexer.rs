//! The index worker, on studio's `table.schema_changed` (delivered by the
//! `runtime-index` rule): it clears the entries of the indexes a change
//! left behind, fills each new index from the records the table holds, and
//! then marks it ready, so filters start using it.
//!
//! Filling races record writes safely: each entry is put in a transaction
//! with a check that its record is still at the version read (a refused
//! chunk is read again record by record), and record writes check the
//! schema they were validated against ([`super::records`]), so a write
//! either sees the field indexed and moves its entry itself, or fails.
//! Puts and deletes are idempotent, so a redelivered event is harmless.
//!
//! A large table takes longer than a function may run: past its time
//! budget the worker sends itself the same event with where it stopped
//! (`resume`), and the next delivery goes on from there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{Value, json};

use super::plan::{RECORD_PREFIX, index_prefix};
use super::records::{Stored, copies, data_of, entry_item, index_key, record_key};
use crate::ports::queue::OutgoingMessage;
use crate::ports::table::{
    Condition, Cursor, Item, ItemTable, MAX_TRANSACTION_WRITES, Query, TableError, Write,
    delete_matching, from_item,
};
use crate::services::Services;
use crate::studio::schema::Field;
use crate::studio::tables;

/// The queue it reads, and sends its continuations to.
pub const QUEUE: &str = "runtime-index";
/// How long one batch works before it hands the rest to a continuation:
/// well within the function's 10-second timeout.
const TIME_BUDGET: Duration = Duration::from_secs(7);

/// Handles one SQS batch; answers the ids of the messages that failed.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    let deadline = Instant::now() + TIME_BUDGET;
    crate::routes::queued::each_event(&event, "index not built", |envelope| {
        index(&services, envelope, deadline)
    })
    .await
}

/// Sends the event on with `resume` (none: unchanged), for the next
/// delivery to go on from there.
async fn continue_later(
    services: &Services,
    mut event: EventBridgeEvent<Value>,
    resume: Option<Value>,
) -> Result<(), String> {
    if let Some(resume) = resume {
        event.detail["resume"] = resume;
        // What is cleared stays cleared.
        event.detail["dropped_indexes"] = json!([]);
    }
    let body = serde_json::to_string(&event).map_err(|e| e.to_string())?;
    let queue = services.queue().map_err(|e| e.to_string())?;
    queue
        .send(QUEUE, OutgoingMessage::new(body))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn index(
    services: &Services,
    event: EventBridgeEvent<Value>,
    deadline: Instant,
) -> Result<(), String> {
    if Instant::now() >= deadline {
        return continue_later(services, event, None).await;
    }
    let detail = &event.detail;
    let text = |name: &str| crate::routes::queued::detail_text(&event, name);
    let (project_id, table_id) = (text("project_id")?, text("table_id")?);
    let store = services.table().map_err(|e| e.to_string())?;
    let dropped = detail
        .get("dropped_indexes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for index in dropped {
        let field = index.get("field_id").and_then(Value::as_str);
        let generation = index.get("generation").and_then(Value::as_u64);
        if let (Some(field), Some(generation)) = (field, generation) {
            let prefix = index_prefix(field, generation as u32);
            let query = Query::partition(super::partition(&table_id)).begins_with(prefix);
            delete_matching(store, query)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let Some(table) = tables::find_in(store, &project_id, &table_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(()); // deleted since: the cleanup worker clears it all
    };
    let resume = detail.get("resume");
    for field in table.fields.iter().filter(|f| f.indexed && !f.index_ready) {
        let after = resume
            .filter(|r| r.get("field_id").and_then(Value::as_str) == Some(&field.id))
            .and_then(|r| r.get("after").and_then(Value::as_str))
            .and_then(|c| Cursor::parse(c).ok());
        if let Some(stopped) = fill(store, &table_id, &table.fields, field, after, deadline).await?
        {
            let resume = json!({"field_id": field.id, "after": stopped.as_str()});
            return continue_later(services, event.clone(), Some(resume)).await;
        }
        tables::mark_index_ready(
            store,
            &project_id,
            &table_id,
            &field.id,
            field.index_generation,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// An entry's put, checked against the record's version.
fn entry_writes(
    table_id: &str,
    fields: &[Field],
    field: &Field,
    item: Item,
) -> Result<[Write; 2], String> {
    let stored: Stored = from_item(item).map_err(|e| e.to_string())?;
    let data = data_of(&stored).map_err(|e| e.to_string())?;
    let key = index_key(field, &data);
    let entry = entry_item(table_id, field, &key, &stored.id, &copies(fields, &data))
        .map_err(|e| e.to_string())?;
    Ok([
        Write::Check {
            key: record_key(table_id, &stored.id),
            condition: Condition::version_is(stored.version),
        },
        Write::Put {
            item: entry,
            condition: None,
        },
    ])
}

/// Puts an entry for every record of the table from `after` on, a page
/// at a time; past the deadline, answers where it stopped.
async fn fill(
    store: &dyn ItemTable,
    table_id: &str,
    fields: &[Field],
    field: &Field,
    after: Option<Cursor>,
    deadline: Instant,
) -> Result<Option<Cursor>, String> {
    let mut read = Query::partition(super::partition(table_id))
        .begins_with(RECORD_PREFIX)
        .limit(100)
        .after(after);
    loop {
        let page = store.query(&read).await.map_err(|e| e.to_string())?;
        for chunk in page.items.chunks(MAX_TRANSACTION_WRITES / 2) {
            let mut writes = Vec::with_capacity(chunk.len() * 2);
            for item in chunk {
                writes.extend(entry_writes(table_id, fields, field, item.clone())?);
            }
            match store.transact(writes).await {
                Ok(()) => {}
                // A record changed meanwhile: its own write moved its entry
                // if it saw the index; read each again and retry alone.
                Err(TableError::TransactionCancelled { .. }) => {
                    for item in chunk {
                        refill(store, table_id, fields, field, item).await?;
                    }
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        match page.next {
            Some(next) if Instant::now() >= deadline => return Ok(Some(next)),
            Some(next) => read = read.after(Some(next)),
            None => return Ok(None),
        }
    }
}

async fn refill(
    store: &dyn ItemTable,
    table_id: &str,
    fields: &[Field],
    field: &Field,
    item: &Item,
) -> Result<(), String> {
    let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
    for _ in 0..10 {
        let Some(current) = store
            .get(&record_key(table_id, id))
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(()); // deleted: nothing to index
        };
        match store
            .transact(entry_writes(table_id, fields, field, current)?.to_vec())
            .await
        {
            Ok(()) => return Ok(()),
            Err(TableError::TransactionCancelled { .. }) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("record {id} kept changing"))
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::adapters::embedded::EmbeddedTable;
    use crate::studio::schema::{FieldSpec, new_fields};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Past its deadline a fill stops after the page it is on and says
    /// where; filling on from there gives every record its entry once.
    #[tokio::test]
    async fn a_fill_past_its_deadline_goes_on_from_where_it_stopped() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedTable::open(dir.path())?;
        let specs: Vec<FieldSpec> =
            serde_json::from_value(json!([{"name": "n", "type": "integer", "indexed": true}]))?;
        let fields = new_fields(&specs)?;
        let table_id = "T1";
        for n in 0..250 {
            let id = format!("{n:026}");
            let data = json!({fields[0].id.clone(): n}).to_string();
            let record = json!({
                "pk": super::super::partition(table_id), "sk": format!("R#{id}"), "id": id,
                "table_id": table_id, "project_id": "P", "data": data, "created_by": "u",
                "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
                "version": 1,
            });
            store
                .put(crate::ports::table::to_item(&record)?, None)
                .await?;
        }
        let past = Instant::now();
        let mut after = None;
        let mut rounds = 0;
        loop {
            rounds += 1;
            match fill(&store, table_id, &fields, &fields[0], after, past).await? {
                Some(stopped) => after = Some(stopped),
                None => break,
            }
        }
        assert_eq!(rounds, 3, "a page of 100 per round");
        let entries = store
            .query(
                &Query::partition(super::super::partition(table_id))
                    .begins_with(index_prefix(&fields[0].id, fields[0].index_generation))
                    .limit(1000),
            )
            .await?;
        assert_eq!(entries.items.len(), 250);
        Ok(())
    }
}
