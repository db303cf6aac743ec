//! The item table on DynamoDB (one table, `pk`/`sk` strings, GSIs `gsi1` and
//! `gsi2` projecting all attributes). Items convert with serde_dynamo.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
};
use serde_json::Value;

use super::describe;
use crate::config::AwsSettings;
use crate::ports::table::{
    CancelReason, Condition, Cursor, Item, ItemTable, Key, PK, Page, Query, SK, SortRange,
    TableError, TableResult, Update, Write, validate_batch_get, validate_put, validate_read_key,
    validate_transaction, validate_write,
};

type Attributes = HashMap<String, AttributeValue>;

/// The item table on a DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    /// A table adapter from the shared SDK configuration.
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings) -> TableResult<Self> {
        let table = settings
            .table_name
            .clone()
            .ok_or_else(|| TableError::Backend("NOCODE_TABLE_NAME is not set".into()))?;
        Ok(Self::from_client(Client::new(sdk), table))
    }

    /// A table adapter on an existing client.
    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// Placeholders of one expression: `#n0` for names, `:v0` for values.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: Attributes,
}

impl Expression {
    fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    fn value(&mut self, value: &Value) -> TableResult<String> {
        let placeholder = format!(":v{}", self.values.len());
        self.values
            .insert(placeholder.clone(), to_attribute(value)?);
        Ok(placeholder)
    }

    fn condition(&mut self, condition: &Condition) -> TableResult<String> {
        Ok(match condition {
            Condition::Exists => format!("attribute_exists({})", self.name(PK)),
            Condition::Absent => format!("attribute_not_exists({})", self.name(PK)),
            Condition::Equals(a, v) => format!("{} = {}", self.name(a), self.value(v)?),
            Condition::LessThan(a, v) => format!("{} < {}", self.name(a), self.value(v)?),
            Condition::GreaterThan(a, v) => format!("{} > {}", self.name(a), self.value(v)?),
            Condition::AttributeAbsent(a) => format!("attribute_not_exists({})", self.name(a)),
            Condition::And(all) => self.join(all, " AND ")?,
            Condition::Or(any) => self.join(any, " OR ")?,
        })
    }

    fn join(&mut self, parts: &[Condition], op: &str) -> TableResult<String> {
        if parts.is_empty() {
            return Err(TableError::Invalid("an empty AND/OR condition".into()));
        }
        let rendered = parts
            .iter()
            .map(|c| self.condition(c))
            .collect::<TableResult<Vec<_>>>()?;
        Ok(format!("({})", rendered.join(op)))
    }

    fn update(&mut self, update: &Update) -> TableResult<String> {
        let mut clauses = Vec::new();
        if !update.set.is_empty() {
            let sets = update
                .set
                .iter()
                .map(|(k, v)| Ok(format!("{} = {}", self.name(k), self.value(v)?)))
                .collect::<TableResult<Vec<_>>>()?;
            clauses.push(format!("SET {}", sets.join(", ")));
        }
        if !update.remove.is_empty() {
            let removes: Vec<_> = update.remove.iter().map(|k| self.name(k)).collect();
            clauses.push(format!("REMOVE {}", removes.join(", ")));
        }
        if !update.add.is_empty() {
            let adds = update
                .add
                .iter()
                .map(|(k, by)| {
                    Ok(format!(
                        "{} {}",
                        self.name(k),
                        self.value(&Value::from(*by))?
                    ))
                })
                .collect::<TableResult<Vec<_>>>()?;
            clauses.push(format!("ADD {}", adds.join(", ")));
        }
        Ok(clauses.join(" "))
    }

    fn key_condition(&mut self, query: &Query) -> TableResult<String> {
        let (pk_attr, sk_attr) = match query.index {
            None => (PK, SK),
            Some(index) => (index.partition_attr(), index.sort_attr()),
        };
        let partition = format!(
            "{} = {}",
            self.name(pk_attr),
            self.value(&Value::from(query.partition.as_str()))?
        );
        if query.range == SortRange::All {
            return Ok(partition);
        }
        let s = self.name(sk_attr);
        let mut v = |text: &str| self.value(&Value::from(text));
        let sort = match &query.range {
            SortRange::All => return Ok(partition),
            SortRange::Equals(x) => format!("{s} = {}", v(x)?),
            SortRange::BeginsWith(p) => format!("begins_with({s}, {})", v(p)?),
            SortRange::Between(lo, hi) => format!("{s} BETWEEN {} AND {}", v(lo)?, v(hi)?),
            SortRange::AtLeast(lo) => format!("{s} >= {}", v(lo)?),
            SortRange::AtMost(hi) => format!("{s} <= {}", v(hi)?),
        };
        Ok(format!("{partition} AND {sort}"))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Attributes> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn to_attribute(value: &Value) -> TableResult<AttributeValue> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| TableError::Invalid(format!("value does not convert: {e}")))
}

fn to_attributes(item: &Item) -> TableResult<Attributes> {
    serde_dynamo::to_item(item)
        .map_err(|e| TableError::Invalid(format!("item does not convert: {e}")))
}

fn from_attributes(attributes: Attributes) -> TableResult<Item> {
    serde_dynamo::from_item(attributes)
        .map_err(|e| TableError::Backend(format!("stored item does not convert: {e}")))
}

fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(key.pk.clone())),
        (SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Maps an SDK error by its error code; the full text goes to `Backend` only.
fn map_error<E, R>(error: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.code() {
        Some("ConditionalCheckFailedException") => TableError::ConditionFailed,
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => TableError::Throttled,
        Some("ValidationException") => {
            TableError::Invalid(error.message().unwrap_or("validation failed").to_string())
        }
        _ => TableError::Backend(describe(&error)),
    }
}

/// Sets an expression's condition, names and values on any of the SDK's
/// request or transaction-member builders (they share the setters, not a trait).
macro_rules! with_expression {
    ($builder:expr, $condition:expr, $expr:expr) => {
        $builder
            .set_condition_expression($condition)
            .set_expression_attribute_names($expr.names())
            .set_expression_attribute_values($expr.values())
    };
}

impl DynamoTable {
    fn transact_item(&self, write: &Write) -> TableResult<TransactWriteItem> {
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| TableError::Invalid(e.to_string());
        let mut expr = Expression::default();
        let condition = write.condition().map(|c| expr.condition(c)).transpose()?;
        let member = TransactWriteItem::builder();
        let member = match write {
            Write::Put { item, .. } => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_attributes(item)?));
                member.put(
                    with_expression!(put, condition, expr)
                        .build()
                        .map_err(invalid)?,
                )
            }
            Write::Update(update) => {
                let update_expr = expr.update(update)?;
                let built = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(&update.key)))
                    .update_expression(update_expr);
                member.update(
                    with_expression!(built, condition, expr)
                        .build()
                        .map_err(invalid)?,
                )
            }
            Write::Delete { key, .. } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)));
                member.delete(
                    with_expression!(delete, condition, expr)
                        .build()
                        .map_err(invalid)?,
                )
            }
            Write::Check { key, .. } => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)));
                member.condition_check(
                    with_expression!(check, condition, expr)
                        .build()
                        .map_err(invalid)?,
                )
            }
        };
        Ok(member.build())
    }
}

fn cancel_reasons(error: &TransactWriteItemsError, writes: usize) -> Option<Vec<CancelReason>> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = error else {
        return None;
    };
    let mut reasons: Vec<CancelReason> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| match r.code() {
            Some("ConditionalCheckFailed") => CancelReason::ConditionFailed,
            Some("TransactionConflict") => CancelReason::Conflict,
            _ => CancelReason::None,
        })
        .collect();
    reasons.resize(writes, CancelReason::None);
    Some(reasons)
}

/// Times a transaction cancelled by conflicts alone is sent again.
const CONFLICT_RETRIES: u32 = 5;

/// How long to wait before sending a cancelled transaction again, if it
/// should be: only when another transaction on the same items was in
/// flight (nothing was written, so sending it again is safe) and none of
/// its conditions failed (which would fail again). The wait doubles from
/// 20 ms with jitter, so hot items' writers (a busy organization's
/// counters) spread out instead of colliding in step.
fn conflict_retry(reasons: &[CancelReason], attempt: u32) -> Option<Duration> {
    let conflicted = reasons.contains(&CancelReason::Conflict);
    if !conflicted
        || reasons.contains(&CancelReason::ConditionFailed)
        || attempt >= CONFLICT_RETRIES
    {
        return None;
    }
    let ceiling = 20u64 << attempt;
    let jitter = u64::from_le_bytes(crate::random::bytes::<8>()) % (ceiling / 2 + 1);
    Some(Duration::from_millis(ceiling / 2 + jitter))
}

#[async_trait]
impl ItemTable for DynamoTable {
    async fn probe(&self) -> Result<(), String> {
        self.get(&Key::new("HEALTH", "PROBE"))
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn get(&self, key: &Key) -> TableResult<Option<Item>> {
        validate_read_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_error)?;
        out.item.map(from_attributes).transpose()
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> TableResult<()> {
        validate_put(&item)?;
        let mut expr = Expression::default();
        let condition = condition.as_ref().map(|c| expr.condition(c)).transpose()?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attributes(&item)?));
        with_expression!(request, condition, expr)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn update(&self, update: Update) -> TableResult<Item> {
        update.validate()?;
        let mut expr = Expression::default();
        let update_expr = expr.update(&update)?;
        let condition = update
            .condition
            .as_ref()
            .map(|c| expr.condition(c))
            .transpose()?;
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&update.key)))
            .update_expression(update_expr)
            .return_values(ReturnValue::AllNew);
        let out = with_expression!(request, condition, expr)
            .send()
            .await
            .map_err(map_error)?;
        from_attributes(out.attributes.unwrap_or_default())
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> TableResult<()> {
        validate_write(&Write::Delete {
            key: key.clone(),
            condition: condition.clone(),
        })?;
        let mut expr = Expression::default();
        let condition = condition.as_ref().map(|c| expr.condition(c)).transpose()?;
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)));
        with_expression!(request, condition, expr)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn query(&self, query: &Query) -> TableResult<Page> {
        query.validate()?;
        let mut expr = Expression::default();
        let key_condition = expr.key_condition(query)?;
        let start = match &query.cursor {
            Some(cursor) => Some(
                cursor
                    .position()?
                    .into_iter()
                    .map(|(k, v)| (k, AttributeValue::S(v)))
                    .collect::<Attributes>(),
            ),
            None => None,
        };
        // One item more than asked tells whether another page follows, so a
        // cursor is only handed out when there is something after it.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.map(|i| i.name().to_string()))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .scan_index_forward(query.forward)
            .limit(query.limit as i32 + 1)
            .consistent_read(query.index.is_none())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(map_error)?;
        let truncated = out.last_evaluated_key.is_some();
        let mut items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_attributes)
            .collect::<TableResult<Vec<_>>>()?;
        let more = items.len() > query.limit as usize;
        items.truncate(query.limit as usize);
        // DynamoDB also stops at 1 MB of data; then the page is short but more follows.
        let next = match items.last() {
            Some(last) if more || truncated => Some(Cursor::after_item(query, last)),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn transact(&self, writes: Vec<Write>) -> TableResult<()> {
        validate_transaction(&writes)?;
        // One write is atomic on its own: as a plain conditional write it
        // costs half the capacity of a transaction, and DynamoDB Local and
        // moto copy the whole table for each transaction.
        if let [single] = writes.as_slice()
            && !matches!(single, Write::Check { .. })
        {
            let done = match writes.into_iter().next() {
                Some(Write::Put { item, condition }) => self.put(item, condition).await,
                Some(Write::Delete { key, condition }) => self.delete(&key, condition).await,
                Some(Write::Update(update)) => self.update(update).await.map(drop),
                _ => Ok(()),
            };
            return done.map_err(|error| match error {
                TableError::ConditionFailed => TableError::TransactionCancelled {
                    reasons: vec![CancelReason::ConditionFailed],
                },
                other => other,
            });
        }
        let items = writes
            .iter()
            .map(|w| self.transact_item(w))
            .collect::<TableResult<Vec<_>>>()?;
        let mut attempt = 0;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match sent {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let Some(reasons) = error
                .as_service_error()
                .and_then(|e| cancel_reasons(e, writes.len()))
            else {
                return Err(map_error(error));
            };
            match conflict_retry(&reasons, attempt) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(TableError::TransactionCancelled { reasons }),
            }
            attempt += 1;
        }
    }

    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>> {
        validate_batch_get(keys)?;
        let mut pending: Vec<Attributes> = keys.iter().map(key_attributes).collect();
        let mut found: HashMap<Key, Item> = HashMap::new();
        // Unprocessed keys are retried with backoff, as DynamoDB asks.
        for attempt in 0..8u32 {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| TableError::Invalid(e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(map_error)?;
            for attributes in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                let item = from_attributes(attributes)?;
                found.insert(Key::of(&item)?, item);
            }
            pending = out
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(TableError::Throttled);
        }
        Ok(keys.iter().filter_map(|k| found.remove(k)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conflicts_alone_are_sent_again_with_a_growing_wait() {
        use CancelReason::{ConditionFailed, Conflict, None as Fine};
        assert_eq!(conflict_retry(&[Fine, Fine], 0), None);
        assert_eq!(conflict_retry(&[Conflict, ConditionFailed], 0), None);
        for attempt in 0..CONFLICT_RETRIES {
            let wait = conflict_retry(&[Fine, Conflict], attempt).map(|w| w.as_millis());
            let ceiling = 20u128 << attempt;
            assert!(
                wait.is_some_and(|w| (ceiling / 2..=ceiling).contains(&w)),
                "attempt {attempt}: {wait:?}"
            );
        }
        assert_eq!(conflict_retry(&[Conflict], CONFLICT_RETRIES), None);
    }
}
