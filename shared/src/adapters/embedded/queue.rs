//! The embedded queue: SQS semantics in a redb file under the data folder.
//!
//! Every message lives in `messages` under `(queue, id)`; a second table,
//! `visible`, orders them by `(queue, visible at, id)` so a receive reads
//! only what is due. Each receive hands out a fresh receipt; a message
//! received more than its queue's `max_receives` times moves to the
//! dead-letter queue instead of being delivered again. Every operation
//! commits durably before it answers, so the queue survives a crash or
//! restart; concurrent operations share one commit ([`GroupCommit`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::blocking;
use super::group::GroupCommit;
use crate::ports::queue::{
    MAX_BATCH, OutgoingMessage, Queue, QueueError, QueueResult, ReceivedMessage, validate_batch,
    validate_receive, validate_visibility,
};
use crate::resources::{QUEUES, QueueSpec};

const MESSAGES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("messages");
const VISIBLE: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("visible");

#[derive(Serialize, Deserialize)]
struct Stored {
    body: String,
    visible_at: u64,
    receive_count: u32,
    /// The nonce of the latest receipt; older receipts no longer work.
    receipt: Option<String>,
}

/// A queue's place in the embedded store: its own name and, for a source
/// queue, its dead-letter policy.
#[derive(Clone, Debug)]
struct Declared {
    name: String,
    redrive: Option<(u32, String)>,
}

/// The queue port on an embedded redb database.
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Arc<Database>,
    commits: GroupCommit,
    queues: Arc<Vec<Declared>>,
    arrivals: Arc<Notify>,
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn backend(e: impl std::fmt::Display) -> QueueError {
    QueueError::Backend(e.to_string())
}

impl EmbeddedQueue {
    /// Opens (or creates) `<data_dir>/queue.redb` with the platform's queues.
    pub fn open(data_dir: &Path) -> QueueResult<Self> {
        Self::open_with(data_dir, QUEUES)
    }

    /// Opens the store with other queue declarations (tests of edge cases).
    pub fn open_with(data_dir: &Path, specs: &[QueueSpec]) -> QueueResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(backend)?;
        let db = super::open_database(&data_dir.join("queue.redb"), 4).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(MESSAGES).map_err(backend)?;
        txn.open_table(VISIBLE).map_err(backend)?;
        release_in_flight(&txn)?;
        txn.commit().map_err(backend)?;
        let mut queues = Vec::new();
        for spec in specs {
            queues.push(Declared {
                name: spec.name.to_string(),
                redrive: Some((spec.max_receives, spec.dead_letter_name())),
            });
            queues.push(Declared {
                name: spec.dead_letter_name(),
                redrive: None,
            });
        }
        let db = Arc::new(db);
        Ok(Self {
            commits: GroupCommit::new(Arc::clone(&db)),
            db,
            queues: Arc::new(queues),
            arrivals: Arc::new(Notify::new()),
        })
    }

    fn declared(&self, queue: &str) -> QueueResult<Declared> {
        self.queues
            .iter()
            .find(|q| q.name == queue)
            .cloned()
            .ok_or_else(|| QueueError::UnknownQueue(queue.to_string()))
    }

    /// Runs one operation's writes through the group commit.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction) -> QueueResult<T> + Send + 'static,
    ) -> QueueResult<T> {
        self.commits
            .run(
                move |txn| match work(txn) {
                    // A backend error may come halfway through the writes.
                    Err(QueueError::Backend(why)) => Err(why),
                    own => Ok(own),
                },
                QueueError::Backend,
            )
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> QueueResult<T> + Send + 'static,
    ) -> QueueResult<T> {
        let db = Arc::clone(&self.db);
        blocking(move || work(&db), QueueError::Backend).await
    }

    /// How many messages a queue holds, visible or not (for the gateway's
    /// health report and tests).
    pub async fn depth(&self, queue: &str) -> QueueResult<usize> {
        self.declared(queue)?;
        let queue = queue.to_string();
        self.run(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(MESSAGES).map_err(backend)?;
            let end = format!("{queue}\0");
            Ok(table
                .range::<(&str, &str)>((queue.as_str(), "")..(end.as_str(), ""))
                .map_err(backend)?
                .count())
        })
        .await
    }
}

fn insert(txn: &WriteTransaction, queue: &str, id: &str, message: &Stored) -> QueueResult<()> {
    let bytes = serde_json::to_vec(message).map_err(backend)?;
    txn.open_table(MESSAGES)
        .map_err(backend)?
        .insert((queue, id), bytes.as_slice())
        .map_err(backend)?;
    txn.open_table(VISIBLE)
        .map_err(backend)?
        .insert((queue, message.visible_at, id), ())
        .map_err(backend)?;
    Ok(())
}

fn remove(txn: &WriteTransaction, queue: &str, id: &str, message: &Stored) -> QueueResult<()> {
    txn.open_table(MESSAGES)
        .map_err(backend)?
        .remove((queue, id))
        .map_err(backend)?;
    txn.open_table(VISIBLE)
        .map_err(backend)?
        .remove((queue, message.visible_at, id))
        .map_err(backend)?;
    Ok(())
}

fn load(txn: &WriteTransaction, queue: &str, id: &str) -> QueueResult<Option<Stored>> {
    let table = txn.open_table(MESSAGES).map_err(backend)?;
    let found = table.get((queue, id)).map_err(backend)?;
    found
        .map(|v| {
            serde_json::from_slice(v.value())
                .map_err(|e| QueueError::Backend(format!("corrupt message: {e}")))
        })
        .transpose()
}

/// A receipt is `<message id>.<nonce>`: the id finds the message, the nonce
/// proves this is its latest receive.
fn parse_receipt(receipt: &str) -> QueueResult<(&str, &str)> {
    receipt
        .split_once('.')
        .filter(|(id, nonce)| !id.is_empty() && !nonce.is_empty())
        .ok_or(QueueError::InvalidReceipt)
}

/// The message a receipt names, if the receipt is still its latest.
fn by_receipt(txn: &WriteTransaction, queue: &str, receipt: &str) -> QueueResult<(String, Stored)> {
    let (id, nonce) = parse_receipt(receipt)?;
    match load(txn, queue, id)? {
        Some(message) if message.receipt.as_deref() == Some(nonce) => Ok((id.to_string(), message)),
        _ => Err(QueueError::InvalidReceipt),
    }
}

/// Makes what was received but not deleted visible again. The store is
/// one process's (the file is locked while open), so a message in flight
/// when it opens belonged to a consumer that died with its process: SQS
/// would redeliver it once its visibility timeout ran out; a restarted
/// local platform need not wait. Its receive count stands, and the dead
/// consumer's receipt no longer works.
fn release_in_flight(txn: &WriteTransaction) -> QueueResult<()> {
    let now = now_ms();
    let in_flight: Vec<(String, String, Stored)> = {
        let table = txn.open_table(MESSAGES).map_err(backend)?;
        let mut found = Vec::new();
        for entry in table.iter().map_err(backend)? {
            let (key, value) = entry.map_err(backend)?;
            let message: Stored = serde_json::from_slice(value.value())
                .map_err(|e| QueueError::Backend(format!("corrupt message: {e}")))?;
            if message.receipt.is_some() && message.visible_at > now {
                let (queue, id) = key.value();
                found.push((queue.to_string(), id.to_string(), message));
            }
        }
        found
    };
    for (queue, id, mut message) in in_flight {
        remove(txn, &queue, &id, &message)?;
        message.visible_at = now;
        message.receipt = None;
        insert(txn, &queue, &id, &message)?;
    }
    Ok(())
}

fn send_all(
    txn: &WriteTransaction,
    queue: &str,
    messages: &[OutgoingMessage],
) -> QueueResult<Vec<String>> {
    let now = now_ms();
    let mut ids = Vec::with_capacity(messages.len());
    for message in messages {
        let id = ulid::Ulid::generate().to_string();
        let stored = Stored {
            body: message.body.clone(),
            visible_at: now + message.delay.map_or(0, millis),
            receive_count: 0,
            receipt: None,
        };
        insert(txn, queue, &id, &stored)?;
        ids.push(id);
    }
    Ok(ids)
}

fn receive_due(
    txn: &WriteTransaction,
    declared: &Declared,
    max: u32,
    visibility: Duration,
) -> QueueResult<Vec<ReceivedMessage>> {
    let queue = declared.name.as_str();
    let now = now_ms();
    let due: Vec<String> = {
        let visible = txn.open_table(VISIBLE).map_err(backend)?;
        let mut ids = Vec::new();
        // Some due messages may be dead-lettered rather than delivered, so
        // look a little further than `max`; the rest wait for the next receive.
        for entry in visible
            .range::<(&str, u64, &str)>((queue, 0, "")..=(queue, now, "\u{10FFFF}"))
            .map_err(backend)?
            .take(max as usize * 4 + 16)
        {
            let (key, _) = entry.map_err(backend)?;
            ids.push(key.value().2.to_string());
        }
        ids
    };
    let mut received = Vec::new();
    for id in due {
        if received.len() >= max as usize {
            break;
        }
        let Some(mut message) = load(txn, queue, &id)? else {
            continue;
        };
        remove(txn, queue, &id, &message)?;
        if let Some((max_receives, dead_letters)) = &declared.redrive
            && message.receive_count >= *max_receives
        {
            // Received too often without being deleted: dead-letter it.
            message.receive_count = 0;
            message.receipt = None;
            message.visible_at = now;
            insert(txn, dead_letters, &id, &message)?;
            continue;
        }
        let nonce = crate::random::token();
        message.receive_count += 1;
        message.visible_at = now + millis(visibility);
        message.receipt = Some(nonce.clone());
        insert(txn, queue, &id, &message)?;
        received.push(ReceivedMessage {
            receipt: format!("{id}.{nonce}"),
            id,
            body: message.body,
            receive_count: message.receive_count,
        });
    }
    Ok(received)
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn probe(&self) -> Result<(), String> {
        self.run(|db| db.begin_read().map(drop).map_err(backend))
            .await
            .map_err(|e| e.to_string())
    }

    async fn send(&self, queue: &str, message: OutgoingMessage) -> QueueResult<String> {
        let mut ids = self.send_batch(queue, vec![message]).await?;
        ids.pop()
            .ok_or_else(|| QueueError::Backend("send gave no id".into()))
    }

    async fn send_batch(
        &self,
        queue: &str,
        messages: Vec<OutgoingMessage>,
    ) -> QueueResult<Vec<String>> {
        self.declared(queue)?;
        validate_batch(&messages)?;
        let mut ids = Vec::with_capacity(messages.len());
        // Batches of ten, as on SQS, so a batch is all-or-nothing at the same size.
        for chunk in messages.chunks(MAX_BATCH) {
            let (queue, chunk) = (queue.to_string(), chunk.to_vec());
            ids.extend(self.write(move |txn| send_all(txn, &queue, &chunk)).await?);
        }
        self.arrivals.notify_waiters();
        Ok(ids)
    }

    async fn receive(
        &self,
        queue: &str,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> QueueResult<Vec<ReceivedMessage>> {
        let declared = self.declared(queue)?;
        validate_receive(max, wait)?;
        validate_visibility(visibility)?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register for arrivals before looking, so a send in between is not missed.
            let arrival = self.arrivals.notified();
            let d = declared.clone();
            let got = self
                .write(move |txn| receive_due(txn, &d, max, visibility))
                .await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // Delayed or hidden messages become due without an arrival: poll too.
            let nap = (deadline - now).min(Duration::from_millis(100));
            let _ = tokio::time::timeout(nap, arrival).await;
        }
    }

    async fn delete(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        self.declared(queue)?;
        let (queue, receipt) = (queue.to_string(), receipt.to_string());
        self.write(move |txn| {
            let (id, message) = by_receipt(txn, &queue, &receipt)?;
            remove(txn, &queue, &id, &message)
        })
        .await
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &str,
        timeout: Duration,
    ) -> QueueResult<()> {
        self.declared(queue)?;
        validate_visibility(timeout)?;
        let (queue, receipt) = (queue.to_string(), receipt.to_string());
        self.write(move |txn| {
            let (id, mut message) = by_receipt(txn, &queue, &receipt)?;
            remove(txn, &queue, &id, &message)?;
            message.visible_at = now_ms() + millis(timeout);
            insert(txn, &queue, &id, &message)
        })
        .await?;
        self.arrivals.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_a_dead_process_received_is_delivered_again_on_open()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let queue = EmbeddedQueue::open(dir.path())?;
        queue
            .send("workflow-runs", OutgoingMessage::new("in flight"))
            .await?;
        queue
            .send(
                "workflow-runs",
                OutgoingMessage::new("delayed").delayed(Duration::from_secs(600)),
            )
            .await?;
        let taken = queue
            .receive(
                "workflow-runs",
                10,
                Duration::from_secs(600),
                Duration::ZERO,
            )
            .await?;
        assert_eq!(taken.len(), 1);
        drop(queue);

        let reopened = EmbeddedQueue::open(dir.path())?;
        let again = reopened
            .receive("workflow-runs", 10, Duration::from_secs(60), Duration::ZERO)
            .await?;
        // The received one is back at once, counted; the delayed one waits.
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].body, "in flight");
        assert_eq!(again[0].receive_count, 2);
        assert!(matches!(
            reopened.delete("workflow-runs", &taken[0].receipt).await,
            Err(QueueError::InvalidReceipt)
        ));
        Ok(())
    }
}
