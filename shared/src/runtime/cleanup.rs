//! The records cleanup worker, on studio's `table.deleted` and
//! `project.deleted` (delivered by the `runtime-cleanup` rule): it clears
//! the partition of each deleted table, its records and unique values.
//! What it clears is unreachable already (the table is gone); deleting what
//! is absent is fine, so a redelivered event is harmless.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;

use crate::ports::table::{Query, delete_matching};
use crate::services::Services;

/// Handles one SQS batch; answers the ids of the messages that failed.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    crate::routes::queued::each_event(&event, "records not cleared", |envelope| {
        clear(&services, envelope)
    })
    .await
}

/// The tables an event says are gone: a deleted table's id, or a deleted
/// project's `table_ids`.
fn tables_of(detail: &Value) -> Vec<String> {
    let one = detail.get("table_id").and_then(Value::as_str);
    let many = detail.get("table_ids").and_then(Value::as_array);
    match (one, many) {
        (Some(id), _) => vec![id.to_string()],
        (None, Some(ids)) => ids
            .iter()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect(),
        (None, None) => Vec::new(),
    }
}

async fn clear(services: &Services, event: EventBridgeEvent<Value>) -> Result<(), String> {
    let table = services.table().map_err(|e| e.to_string())?;
    for table_id in tables_of(&event.detail) {
        delete_matching(table, Query::partition(super::partition(&table_id)))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_names_the_tables_to_clear() {
        assert_eq!(tables_of(&json!({"table_id": "T1"})), ["T1"]);
        assert_eq!(tables_of(&json!({"table_ids": ["T1", "T2"]})), ["T1", "T2"]);
        assert!(tables_of(&json!({"project_id": "P"})).is_empty());
    }
}
