//! Table stream workers run in process, the way Lambda's DynamoDB event
//! source mapping runs them: a batch of the stream's records (filtered as
//! the template's `FilterCriteria` filters them) goes to the handler; the
//! stream's position moves past what the handler did not report failed; a
//! reported record and everything after it come again after `retry_after`.
//!
//! The stream is the embedded table's change log, or on an emulator the
//! table's DynamoDB stream read through the Streams API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use serde_json::{Value, json};
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::embedded::table::TableChange;
use shared::routes::StreamHandler;
use shared::services::{Port, Services};
use tokio::sync::watch;

use super::WorkerSettings;

/// Most records one batch holds (the template's `BatchSize`).
pub const BATCH_SIZE: usize = 100;

/// A table's change stream, read from a position that only moves forward.
#[async_trait]
pub trait ChangeStream: Send + Sync {
    /// Up to `max` records after the position, oldest first.
    async fn read(&self, max: usize) -> Result<Vec<EventRecord>, String>;
    /// Moves the position past the record with this sequence number.
    async fn advance(&self, sequence: &str) -> Result<(), String>;
}

/// Whether a record passes a stream trigger's filter: a new item whose
/// partition key starts with `key_prefix`.
pub fn passes(record: &EventRecord, key_prefix: &str) -> bool {
    record.event_name == "INSERT"
        && serde_dynamo::from_item::<_, Value>(record.change.keys.clone())
            .ok()
            .and_then(|keys| keys.get("pk").and_then(Value::as_str).map(str::to_string))
            .is_some_and(|pk| pk.starts_with(key_prefix))
}

/// One read and one handler call. Gives how many records were read.
pub async fn poll_once(
    services: &Arc<Services>,
    stream: &dyn ChangeStream,
    key_prefix: &str,
    handler: StreamHandler,
    ports: &[Port],
) -> Result<usize, String> {
    let records = stream.read(BATCH_SIZE).await?;
    let Some(last) = records.last() else {
        return Ok(0);
    };
    let batch: Vec<EventRecord> = records
        .iter()
        .filter(|r| passes(r, key_prefix))
        .cloned()
        .collect();
    let failed = if batch.is_empty() {
        None
    } else {
        let mut event = Event::default();
        event.records = batch;
        let response = handler(Arc::new(services.only(ports)), event).await;
        response
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .filter_map(|id| {
                records
                    .iter()
                    .position(|r| r.change.sequence_number.as_deref() == Some(&id))
            })
            .min()
    };
    let through = match failed {
        None => Some(last),
        Some(0) => None,
        Some(at) => records.get(at - 1),
    };
    if let Some(sequence) = through.and_then(|r| r.change.sequence_number.as_deref()) {
        stream.advance(sequence).await?;
    }
    match failed {
        None => Ok(records.len()),
        Some(_) => Err("the handler reported a failed record; it is retried".into()),
    }
}

/// Polls until `stop` turns true.
pub async fn poll(
    services: Arc<Services>,
    stream: Arc<dyn ChangeStream>,
    key_prefix: &'static str,
    handler: StreamHandler,
    ports: &'static [Port],
    settings: WorkerSettings,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let pause = match poll_once(&services, stream.as_ref(), key_prefix, handler, ports).await {
            Ok(0) => settings.poll_wait,
            Ok(_) => Duration::ZERO,
            Err(error) => {
                tracing::warn!(%error, "table stream batch not done");
                settings.retry_after
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => break,
        }
    }
}

/// The embedded table's change log as a stream.
pub struct EmbeddedStream {
    table: EmbeddedTable,
    after: Mutex<Option<u64>>,
}

impl EmbeddedStream {
    /// The stream of `table`, from its oldest kept change.
    pub fn new(table: EmbeddedTable) -> Self {
        Self {
            table,
            after: Mutex::new(None),
        }
    }
}

/// Sequence numbers as strings that sort as the numbers do.
fn sequence_text(sequence: u64) -> String {
    format!("{sequence:020}")
}

fn record_of(change: TableChange) -> Result<EventRecord, String> {
    let image = |value: Value| -> Result<serde_dynamo::Item, String> {
        serde_dynamo::to_item(value).map_err(|e| e.to_string())
    };
    let mut record = EventRecord::default();
    record.aws_region = "local".into();
    record.event_id = change.sequence.to_string();
    record.event_name = change.event_name;
    record.event_source = Some("aws:dynamodb".into());
    record.event_version = Some("1.1".into());
    let mut stream = StreamRecord::default();
    stream.approximate_creation_date_time = change.at;
    stream.keys = image(json!({"pk": change.pk, "sk": change.sk}))?;
    if let Some(new) = change.new_image {
        stream.size_bytes = serde_json::to_vec(&new).map_or(0, |b| b.len() as i64);
        stream.new_image = image(Value::Object(new))?;
    }
    stream.sequence_number = Some(sequence_text(change.sequence));
    stream.stream_view_type = Some(StreamViewType::NewImage);
    record.change = stream;
    Ok(record)
}

#[async_trait]
impl ChangeStream for EmbeddedStream {
    async fn read(&self, max: usize) -> Result<Vec<EventRecord>, String> {
        let after = *self.after.lock().map_err(|e| e.to_string())?;
        let changes = self
            .table
            .changes(after, max)
            .await
            .map_err(|e| e.to_string())?;
        changes.into_iter().map(record_of).collect()
    }

    async fn advance(&self, sequence: &str) -> Result<(), String> {
        let sequence: u64 = sequence
            .parse()
            .map_err(|_| format!("not a sequence number: {sequence}"))?;
        self.table
            .forget_changes(sequence)
            .await
            .map_err(|e| e.to_string())?;
        *self.after.lock().map_err(|e| e.to_string())? = Some(sequence);
        Ok(())
    }
}

#[cfg(feature = "aws")]
pub use self::dynamo::DynamoStream;

#[cfg(feature = "aws")]
mod dynamo {
    use std::collections::BTreeMap;

    use aws_sdk_dynamodbstreams::Client;
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    use tokio::sync::Mutex;

    use super::*;

    /// A table's DynamoDB stream, read shard by shard through the Streams API
    /// (an emulator's, locally). A batch holds one shard's records, as
    /// Lambda's do.
    pub struct DynamoStream {
        client: Client,
        arn: String,
        /// Per shard, the last sequence number handled.
        positions: Mutex<BTreeMap<String, String>>,
        /// The shard the last read came from.
        reading: Mutex<Option<String>>,
    }

    impl DynamoStream {
        /// The stream of `table`: it must have one.
        pub async fn of_table(sdk: &aws_config::SdkConfig, table: &str) -> Result<Self, String> {
            let described = aws_sdk_dynamodb::Client::new(sdk)
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
            let arn = described
                .table()
                .and_then(|t| t.latest_stream_arn())
                .ok_or_else(|| format!("the table {table} has no stream"))?
                .to_string();
            Ok(Self {
                client: Client::new(sdk),
                arn,
                positions: Mutex::new(BTreeMap::new()),
                reading: Mutex::new(None),
            })
        }
    }

    fn describe<E: std::error::Error + 'static>(e: E) -> String {
        aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string()
    }

    fn convert(record: aws_sdk_dynamodbstreams::types::Record) -> Result<EventRecord, String> {
        let change = record
            .dynamodb
            .ok_or("a stream record without its change")?;
        let image = |map: Option<
            std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
        >|
         -> Result<serde_dynamo::Item, String> {
            let value: Value =
                serde_dynamo::aws_sdk_dynamodbstreams_1::from_item(map.unwrap_or_default())
                    .map_err(|e| e.to_string())?;
            serde_dynamo::to_item(value).map_err(|e| e.to_string())
        };
        let mut out = EventRecord::default();
        out.aws_region = record.aws_region.unwrap_or_default();
        out.event_id = record.event_id.unwrap_or_default();
        out.event_name = record
            .event_name
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        out.event_source = record.event_source;
        out.event_version = record.event_version;
        let mut stream = StreamRecord::default();
        if let Some(at) = change.approximate_creation_date_time {
            stream.approximate_creation_date_time =
                chrono::DateTime::from_timestamp_millis(at.to_millis().unwrap_or(0))
                    .unwrap_or_default();
        }
        stream.keys = image(change.keys)?;
        stream.new_image = image(change.new_image)?;
        stream.sequence_number = change.sequence_number;
        stream.size_bytes = change.size_bytes.unwrap_or(0);
        stream.stream_view_type = Some(StreamViewType::NewImage);
        out.change = stream;
        Ok(out)
    }

    #[async_trait]
    impl ChangeStream for DynamoStream {
        async fn read(&self, max: usize) -> Result<Vec<EventRecord>, String> {
            let described = self
                .client
                .describe_stream()
                .stream_arn(&self.arn)
                .send()
                .await
                .map_err(describe)?;
            let shards: Vec<String> = described
                .stream_description()
                .map(|d| {
                    d.shards()
                        .iter()
                        .filter_map(|s| s.shard_id().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let positions = self.positions.lock().await.clone();
            for shard in shards {
                let mut iterator = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.arn)
                    .shard_id(&shard);
                iterator = match positions.get(&shard) {
                    Some(after) => iterator
                        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                        .sequence_number(after),
                    None => iterator.shard_iterator_type(ShardIteratorType::TrimHorizon),
                };
                let Some(iterator) = iterator.send().await.map_err(describe)?.shard_iterator else {
                    continue;
                };
                let records = self
                    .client
                    .get_records()
                    .shard_iterator(iterator)
                    .limit(max as i32)
                    .send()
                    .await
                    .map_err(describe)?
                    .records
                    .unwrap_or_default();
                if !records.is_empty() {
                    *self.reading.lock().await = Some(shard);
                    return records.into_iter().map(convert).collect();
                }
            }
            Ok(Vec::new())
        }

        async fn advance(&self, sequence: &str) -> Result<(), String> {
            let shard = self
                .reading
                .lock()
                .await
                .clone()
                .ok_or("no batch was read")?;
            self.positions
                .lock()
                .await
                .insert(shard, sequence.to_string());
            Ok(())
        }
    }
}
