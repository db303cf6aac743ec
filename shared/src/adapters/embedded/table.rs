//! The embedded item table: a redb file under the data folder.
//!
//! Items are stored as JSON under `(pk, sk)`; each secondary index is a
//! second redb table of `(index pk, index sk, pk, sk)` entries kept in the same
//! write transaction as the item, so an index never disagrees with its items.
//! redb commits are durable (fsync) before a write returns.
//!
//! Writes are group-committed: concurrent writes queue, and whichever
//! finds no commit under way takes the whole queue into one redb write
//! transaction, each write applied (or refused) in turn exactly as if it
//! ran alone, then commits once. Every acknowledged write is as durable as
//! before, but N concurrent writers pay one fsync instead of N.
//!
//! Like a DynamoDB table with a `NEW_IMAGE` stream, the table keeps a log of
//! its changes ([`TableChange`]), written in the same transaction as the
//! change: the local gateway tails it for the outbox publisher, as Lambda
//! tails DynamoDB Streams, and forgets what the publisher has handled.

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde_json::Value;

use super::blocking;
use crate::ports::table::{
    CancelReason, Condition, Cursor, Index, Item, ItemTable, Key, Page, Query, SortRange,
    TableError, TableResult, Update, Write, validate_batch_get, validate_put, validate_read_key,
    validate_transaction, validate_write,
};

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<(&str, &str, &str, &str), ()> = TableDefinition::new("gsi1");
const GSI2: TableDefinition<(&str, &str, &str, &str), ()> = TableDefinition::new("gsi2");
/// The change log: sequence number → JSON of a [`TableChange`].
const STREAM: TableDefinition<u64, &[u8]> = TableDefinition::new("stream");
/// The last sequence number handed out, kept apart from the log so trimming
/// the log never reuses one.
const STREAM_LAST: TableDefinition<&str, u64> = TableDefinition::new("stream_last");

/// One change of the table, as its stream tells it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TableChange {
    /// Increasing with every change; the position a reader resumes after.
    pub sequence: u64,
    /// `INSERT`, `MODIFY` or `REMOVE`, as DynamoDB Streams names them.
    pub event_name: String,
    /// The changed item's key.
    pub pk: String,
    /// The changed item's sort key.
    pub sk: String,
    /// The item after the change; `None` once removed.
    pub new_image: Option<Item>,
    /// When the change committed.
    pub at: chrono::DateTime<chrono::Utc>,
}

fn index_table(
    index: Index,
) -> TableDefinition<'static, (&'static str, &'static str, &'static str, &'static str), ()> {
    match index {
        Index::Gsi1 => GSI1,
        Index::Gsi2 => GSI2,
    }
}

/// The item table on an embedded redb database.
#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
    commits: Arc<Mutex<Commits>>,
    /// The partition key prefixes the stream records; `None`: every key.
    streamed: Option<Arc<[String]>>,
}

/// What a transaction answers: the items it left, or why each write was
/// refused.
type Applied = Result<Vec<Option<Item>>, Vec<CancelReason>>;

/// One transaction waiting for the group commit.
struct Waiting {
    writes: Vec<Write>,
    reply: tokio::sync::oneshot::Sender<TableResult<Applied>>,
}

/// The queue of the group commit, and whether a commit is under way.
#[derive(Default)]
struct Commits {
    waiting: Vec<Waiting>,
    leading: bool,
}

impl EmbeddedTable {
    /// Opens (or creates) `<data_dir>/table.redb`.
    pub fn open(data_dir: &Path) -> TableResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(backend)?;
        // The cache holds the hot pages (the indexes' upper levels, the
        // items being written); the rest is read from the OS's page cache.
        // A larger one makes the local platform's memory its size.
        let db = super::open_database(&data_dir.join("table.redb"), 16).map_err(backend)?;
        // Create every table once so readers never meet a missing one.
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(ITEMS).map_err(backend)?;
        txn.open_table(STREAM).map_err(backend)?;
        txn.open_table(STREAM_LAST).map_err(backend)?;
        for index in Index::ALL {
            txn.open_table(index_table(index)).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(Self {
            db: Arc::new(db),
            commits: Arc::default(),
            streamed: None,
        })
    }

    /// The same table, its stream recording only changes of partition keys
    /// with these prefixes: what its stream triggers read (DynamoDB
    /// records every change and the trigger's filter drops the rest;
    /// here nothing unread is written).
    pub fn streaming_only(mut self, prefixes: &[&str]) -> Self {
        self.streamed = Some(prefixes.iter().map(|p| p.to_string()).collect());
        self
    }

    /// Runs a transaction through the group commit.
    async fn apply(&self, writes: Vec<Write>) -> TableResult<Applied> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let lead = {
            let mut commits = self.commits.lock().map_err(backend)?;
            commits.waiting.push(Waiting { writes, reply });
            !std::mem::replace(&mut commits.leading, true)
        };
        if lead {
            let this = self.clone();
            tokio::task::spawn_blocking(move || commit_groups(&this));
        }
        answer
            .await
            .map_err(|_| TableError::Backend("the group commit stopped".into()))?
    }

    /// Up to `max` changes after sequence number `after` (all kept ones
    /// when `None`), oldest first.
    pub async fn changes(&self, after: Option<u64>, max: usize) -> TableResult<Vec<TableChange>> {
        self.run(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let log = txn.open_table(STREAM).map_err(backend)?;
            let from = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut changes = Vec::new();
            for entry in log
                .range::<u64>((from, Bound::Unbounded))
                .map_err(backend)?
            {
                if changes.len() == max {
                    break;
                }
                let (_, bytes) = entry.map_err(backend)?;
                changes.push(
                    serde_json::from_slice(bytes.value())
                        .map_err(|e| TableError::Backend(format!("corrupt change: {e}")))?,
                );
            }
            Ok(changes)
        })
        .await
    }

    /// Drops the changes up to and including `through`: their reader is done
    /// with them.
    pub async fn forget_changes(&self, through: u64) -> TableResult<()> {
        self.run(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut log = txn.open_table(STREAM).map_err(backend)?;
                log.retain_in(..=through, |_, _| false).map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> TableResult<T> + Send + 'static,
    ) -> TableResult<T> {
        let db = Arc::clone(&self.db);
        blocking(move || work(&db), TableError::Backend).await
    }
}

fn backend(e: impl std::fmt::Display) -> TableError {
    TableError::Backend(e.to_string())
}

fn decode(bytes: &[u8]) -> TableResult<Item> {
    serde_json::from_slice(bytes).map_err(|e| TableError::Backend(format!("corrupt item: {e}")))
}

/// The tables of one write transaction, opened once for all its writes,
/// with the stream's sequence number kept in memory until it closes.
struct Tables<'txn> {
    items: redb::Table<'txn, (&'static str, &'static str), &'static [u8]>,
    gsi1: redb::Table<'txn, (&'static str, &'static str, &'static str, &'static str), ()>,
    gsi2: redb::Table<'txn, (&'static str, &'static str, &'static str, &'static str), ()>,
    stream: redb::Table<'txn, u64, &'static [u8]>,
    last: redb::Table<'txn, &'static str, u64>,
    sequence: u64,
    streamed: Option<Arc<[String]>>,
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn WriteTransaction, streamed: Option<Arc<[String]>>) -> TableResult<Self> {
        let last = txn.open_table(STREAM_LAST).map_err(backend)?;
        let sequence = last.get("last").map_err(backend)?.map_or(0, |v| v.value());
        Ok(Self {
            items: txn.open_table(ITEMS).map_err(backend)?,
            gsi1: txn.open_table(GSI1).map_err(backend)?,
            gsi2: txn.open_table(GSI2).map_err(backend)?,
            stream: txn.open_table(STREAM).map_err(backend)?,
            last,
            sequence,
            streamed,
        })
    }

    fn index(
        &mut self,
        index: Index,
    ) -> &mut redb::Table<'txn, (&'static str, &'static str, &'static str, &'static str), ()> {
        match index {
            Index::Gsi1 => &mut self.gsi1,
            Index::Gsi2 => &mut self.gsi2,
        }
    }

    /// Keeps the last sequence number handed out.
    fn close(mut self) -> TableResult<()> {
        let sequence = self.sequence;
        self.last.insert("last", sequence).map_err(backend)?;
        Ok(())
    }
}

fn read_item(tables: &Tables<'_>, key: &Key) -> TableResult<Option<Item>> {
    let found = tables
        .items
        .get((key.pk.as_str(), key.sk.as_str()))
        .map_err(backend)?;
    found.map(|v| decode(v.value())).transpose()
}

fn index_entry(item: &Item, index: Index) -> Option<(&str, &str)> {
    match (
        item.get(index.partition_attr()),
        item.get(index.sort_attr()),
    ) {
        (Some(Value::String(p)), Some(Value::String(s))) => Some((p, s)),
        _ => None,
    }
}

/// Logs a change to the stream, in the change's own transaction.
fn log_change(
    tables: &mut Tables<'_>,
    key: &Key,
    old: Option<&Item>,
    new: Option<&Item>,
) -> TableResult<()> {
    let event_name = match (old, new) {
        (None, Some(_)) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        (Some(_), None) => "REMOVE",
        (None, None) => return Ok(()),
    };
    if let Some(prefixes) = &tables.streamed
        && !prefixes.iter().any(|p| key.pk.starts_with(p.as_str()))
    {
        return Ok(());
    }
    tables.sequence += 1;
    let sequence = tables.sequence;
    let change = TableChange {
        sequence,
        event_name: event_name.into(),
        pk: key.pk.clone(),
        sk: key.sk.clone(),
        new_image: new.cloned(),
        at: chrono::Utc::now(),
    };
    let bytes = serde_json::to_vec(&change).map_err(backend)?;
    tables
        .stream
        .insert(sequence, bytes.as_slice())
        .map_err(backend)?;
    Ok(())
}

/// Replaces the stored item under `key` by `new` (or removes it), keeping the
/// index tables and the stream in step.
fn store(
    tables: &mut Tables<'_>,
    key: &Key,
    old: Option<&Item>,
    new: Option<&Item>,
) -> TableResult<()> {
    let (pk, sk) = (key.pk.as_str(), key.sk.as_str());
    match new {
        Some(item) => {
            let bytes = serde_json::to_vec(item).map_err(backend)?;
            tables
                .items
                .insert((pk, sk), bytes.as_slice())
                .map_err(backend)?;
        }
        None => {
            tables.items.remove((pk, sk)).map_err(backend)?;
        }
    }
    for index in Index::ALL {
        let (old_entry, new_entry) = (
            old.and_then(|o| index_entry(o, index)),
            new.and_then(|n| index_entry(n, index)),
        );
        if old_entry == new_entry {
            continue;
        }
        let entries = tables.index(index);
        if let Some((ipk, isk)) = old_entry {
            entries.remove((ipk, isk, pk, sk)).map_err(backend)?;
        }
        if let Some((ipk, isk)) = new_entry {
            entries.insert((ipk, isk, pk, sk), ()).map_err(backend)?;
        }
    }
    log_change(tables, key, old, new)
}

/// What a write would leave behind, or the reason it cannot happen.
enum Outcome {
    Store(Option<Item>),
    Nothing,
}

fn plan(write: &Write, current: Option<&Item>) -> TableResult<Result<Outcome, CancelReason>> {
    if let Some(condition) = write.condition()
        && !condition.holds(current)
    {
        return Ok(Err(CancelReason::ConditionFailed));
    }
    Ok(Ok(match write {
        Write::Put { item, .. } => Outcome::Store(Some(item.clone())),
        Write::Update(update) => Outcome::Store(Some(update.apply(current)?)),
        Write::Delete { .. } => Outcome::Store(None),
        Write::Check { .. } => Outcome::Nothing,
    }))
}

/// Commits what waits, a group at a time, until nothing does.
fn commit_groups(table: &EmbeddedTable) {
    loop {
        let group = match table.commits.lock() {
            Ok(mut commits) if commits.waiting.is_empty() => {
                commits.leading = false;
                return;
            }
            Ok(mut commits) => std::mem::take(&mut commits.waiting),
            // A panic while holding the lock: nothing can be committed.
            Err(_) => return,
        };
        let answers = commit_group(table, &group);
        for (waiting, answer) in group.into_iter().zip(answers) {
            // A writer that stopped waiting no longer needs its answer.
            let _ = waiting.reply.send(answer);
        }
    }
}

/// One redb transaction for a group: each transaction's writes applied in
/// turn (or refused, leaving no trace), one commit for all. A failure of
/// the commit itself fails every one of them.
fn commit_group(table: &EmbeddedTable, group: &[Waiting]) -> Vec<TableResult<Applied>> {
    let failed = |why: String| -> Vec<TableResult<Applied>> {
        group
            .iter()
            .map(|_| Err(TableError::Backend(why.clone())))
            .collect()
    };
    let txn = match table.db.begin_write() {
        Ok(txn) => txn,
        Err(e) => return failed(e.to_string()),
    };
    let answers = match Tables::open(&txn, table.streamed.clone()) {
        Ok(mut tables) => {
            let mut answers: Vec<TableResult<Applied>> = Vec::with_capacity(group.len());
            for waiting in group {
                match apply_all(&mut tables, &waiting.writes) {
                    Ok(answer) => answers.push(answer),
                    // A write failed halfway: the transaction holds a
                    // partial change, so none of the group may commit.
                    Err(e) => return failed(e.to_string()),
                }
            }
            if let Err(e) = tables.close() {
                return failed(e.to_string());
            }
            answers
        }
        Err(e) => return failed(e.to_string()),
    };
    match txn.commit() {
        Ok(()) => answers,
        Err(e) => failed(e.to_string()),
    }
}

/// Applies one transaction's writes within `txn`: every condition is
/// checked against the state before any of its writes, then all are
/// applied, or none. The outer error is a failure halfway (the group's);
/// the inner one this transaction's own, before it wrote anything.
fn apply_all(tables: &mut Tables<'_>, writes: &[Write]) -> TableResult<TableResult<Applied>> {
    match plan_all(tables, writes) {
        Ok(Ok(planned)) => store_all(tables, planned).map(|r| Ok(Ok(r))),
        Ok(Err(reasons)) => Ok(Ok(Err(reasons))),
        Err(e) => Ok(Err(e)),
    }
}

type Planned = Vec<(Key, Option<Item>, Outcome)>;

fn plan_all(
    tables: &Tables<'_>,
    writes: &[Write],
) -> TableResult<Result<Planned, Vec<CancelReason>>> {
    let mut planned = Vec::with_capacity(writes.len());
    let mut reasons = Vec::with_capacity(writes.len());
    for write in writes {
        let key = write.key()?;
        let current = read_item(tables, &key)?;
        match plan(write, current.as_ref())? {
            Ok(outcome) => {
                reasons.push(CancelReason::None);
                planned.push((key, current, outcome));
            }
            Err(reason) => reasons.push(reason),
        }
    }
    if reasons.iter().any(|r| *r != CancelReason::None) {
        return Ok(Err(reasons));
    }
    Ok(Ok(planned))
}

fn store_all(tables: &mut Tables<'_>, planned: Planned) -> TableResult<Vec<Option<Item>>> {
    let mut results = Vec::with_capacity(planned.len());
    for (key, current, outcome) in planned {
        match outcome {
            Outcome::Store(new) => {
                store(tables, &key, current.as_ref(), new.as_ref())?;
                results.push(new);
            }
            Outcome::Nothing => results.push(current),
        }
    }
    Ok(results)
}

/// A single write's answer: a failed condition is [`TableError::ConditionFailed`].
fn one(applied: Applied) -> TableResult<Option<Item>> {
    match applied {
        Ok(mut results) => Ok(results.pop().flatten()),
        Err(_) => Err(TableError::ConditionFailed),
    }
}

/// The smallest string greater than every string starting with `prefix`,
/// if there is one.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The sort key bounds of a range as a half-open interval `[lower, upper)`;
/// `None` for no upper bound. Appending NUL gives a string's direct successor.
fn sort_bounds(range: &SortRange) -> (String, Option<String>) {
    let successor = |s: &str| format!("{s}\0");
    match range {
        SortRange::All => (String::new(), None),
        SortRange::Equals(v) => (v.clone(), Some(successor(v))),
        SortRange::BeginsWith(p) => (p.clone(), prefix_end(p)),
        SortRange::Between(lo, hi) => (lo.clone(), Some(successor(hi))),
        SortRange::AtLeast(lo) => (lo.clone(), None),
        SortRange::AtMost(hi) => (String::new(), Some(successor(hi))),
    }
}

fn cursor_position(query: &Query) -> TableResult<Option<Vec<String>>> {
    let Some(cursor) = &query.cursor else {
        return Ok(None);
    };
    let position = cursor.position()?;
    query
        .position_attrs()
        .iter()
        .map(|a| position.get(*a).cloned().ok_or(TableError::InvalidCursor))
        .collect::<TableResult<Vec<_>>>()
        .map(Some)
}

fn query_primary(db: &Database, query: &Query) -> TableResult<Page> {
    let txn = db.begin_read().map_err(backend)?;
    let table = txn.open_table(ITEMS).map_err(backend)?;
    let p = query.partition.as_str();
    let end_of_partition = format!("{p}\0");
    let (lower, upper) = sort_bounds(&query.range);
    let cursor = cursor_position(query)?;
    let mut lo = Bound::Included((p, lower.as_str()));
    let mut hi = match &upper {
        Some(u) => Bound::Excluded((p, u.as_str())),
        None => Bound::Excluded((end_of_partition.as_str(), "")),
    };
    if let Some(position) = &cursor {
        // position = [pk, sk]
        let after = (p, position[1].as_str());
        if query.forward {
            lo = Bound::Excluded(after);
        } else {
            hi = Bound::Excluded(after);
        }
    }
    if bound_is_empty(&lo, &hi) {
        return Ok(Page::default());
    }
    let range = table.range::<(&str, &str)>((lo, hi)).map_err(backend)?;
    walk(range, query, |(_, value)| decode(value.value()))
}

fn query_index(db: &Database, query: &Query, index: Index) -> TableResult<Page> {
    let txn = db.begin_read().map_err(backend)?;
    let entries = txn.open_table(index_table(index)).map_err(backend)?;
    let items = txn.open_table(ITEMS).map_err(backend)?;
    let p = query.partition.as_str();
    let end_of_partition = format!("{p}\0");
    let (lower, upper) = sort_bounds(&query.range);
    let cursor = cursor_position(query)?;
    let mut lo = Bound::Included((p, lower.as_str(), "", ""));
    let mut hi = match &upper {
        Some(u) => Bound::Excluded((p, u.as_str(), "", "")),
        None => Bound::Excluded((end_of_partition.as_str(), "", "", "")),
    };
    if let Some(position) = &cursor {
        // position = [pk, sk, index pk, index sk]
        let after = (
            p,
            position[3].as_str(),
            position[0].as_str(),
            position[1].as_str(),
        );
        if query.forward {
            lo = Bound::Excluded(after);
        } else {
            hi = Bound::Excluded(after);
        }
    }
    if bound_is_empty(&lo, &hi) {
        return Ok(Page::default());
    }
    let range = entries
        .range::<(&str, &str, &str, &str)>((lo, hi))
        .map_err(backend)?;
    walk(range, query, |(key, _)| {
        let (_, _, pk, sk) = key.value();
        let item = items
            .get((pk, sk))
            .map_err(backend)?
            .ok_or_else(|| TableError::Backend(format!("index entry without item {pk}/{sk}")))?;
        decode(item.value())
    })
}

/// Reads a range in the query's direction, one entry more than the page so
/// the page knows whether more follow.
fn walk<E>(
    range: impl DoubleEndedIterator<Item = Result<E, redb::StorageError>>,
    query: &Query,
    mut read: impl FnMut(E) -> TableResult<Item>,
) -> TableResult<Page> {
    let entries: Box<dyn Iterator<Item = _>> = if query.forward {
        Box::new(range)
    } else {
        Box::new(range.rev())
    };
    let mut items = Vec::new();
    for entry in entries.take(query.limit as usize + 1) {
        items.push(read(entry.map_err(backend)?)?);
    }
    Ok(page(query, items))
}

/// A reversed or empty interval would make redb panic; it simply has no items.
fn bound_is_empty<T: PartialOrd>(lo: &Bound<T>, hi: &Bound<T>) -> bool {
    match (lo, hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    }
}

/// Cuts the `limit + 1` items read into a page and a cursor when more follow.
fn page(query: &Query, mut items: Vec<Item>) -> Page {
    let more = items.len() > query.limit as usize;
    items.truncate(query.limit as usize);
    let next = match items.last() {
        Some(last) if more => Some(Cursor::after_item(query, last)),
        _ => None,
    };
    Page { items, next }
}

#[async_trait]
impl ItemTable for EmbeddedTable {
    async fn probe(&self) -> Result<(), String> {
        self.run(|db| db.begin_read().map(drop).map_err(backend))
            .await
            .map_err(|e| e.to_string())
    }

    // Reads run on the calling task: they are served from redb's cache in
    // microseconds, far less than a hand-off to the blocking pool costs.
    async fn get(&self, key: &Key) -> TableResult<Option<Item>> {
        validate_read_key(key)?;
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(ITEMS).map_err(backend)?;
        let found = table
            .get((key.pk.as_str(), key.sk.as_str()))
            .map_err(backend)?;
        found.map(|v| decode(v.value())).transpose()
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> TableResult<()> {
        validate_put(&item)?;
        one(self.apply(vec![Write::Put { item, condition }]).await?).map(drop)
    }

    async fn update(&self, update: Update) -> TableResult<Item> {
        update.validate()?;
        one(self.apply(vec![Write::Update(update)]).await?)?
            .ok_or_else(|| TableError::Backend("update left no item".into()))
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> TableResult<()> {
        let write = Write::Delete {
            key: key.clone(),
            condition,
        };
        validate_write(&write)?;
        one(self.apply(vec![write]).await?).map(drop)
    }

    async fn query(&self, query: &Query) -> TableResult<Page> {
        query.validate()?;
        match query.index {
            None => query_primary(&self.db, query),
            Some(index) => query_index(&self.db, query, index),
        }
    }

    async fn transact(&self, writes: Vec<Write>) -> TableResult<()> {
        validate_transaction(&writes)?;
        match self.apply(writes).await? {
            Ok(_) => Ok(()),
            Err(reasons) => Err(TableError::TransactionCancelled { reasons }),
        }
    }

    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>> {
        validate_batch_get(keys)?;
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(ITEMS).map_err(backend)?;
        let mut found = Vec::new();
        for key in keys {
            if let Some(v) = table
                .get((key.pk.as_str(), key.sk.as_str()))
                .map_err(backend)?
            {
                found.push(decode(v.value())?);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_string_past_the_prefix() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn empty_intervals_are_detected() {
        assert!(bound_is_empty(&Bound::Included(2), &Bound::Excluded(2)));
        assert!(bound_is_empty(&Bound::Excluded(3), &Bound::Excluded(2)));
        assert!(!bound_is_empty(&Bound::Included(1), &Bound::Excluded(2)));
    }

    fn item(pk: &str, sk: &str, n: u64) -> Item {
        let mut item = Item::new();
        item.insert("pk".into(), pk.into());
        item.insert("sk".into(), sk.into());
        item.insert("version".into(), n.into());
        item
    }

    /// Concurrent writes share commits, each applied as if it ran alone:
    /// every plain put lands, and of the claims of one key exactly one
    /// wins, the others are refused without a trace.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_group_commit_keeps_each_write_its_own() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let table = EmbeddedTable::open(dir.path()).map_err(|e| e.to_string())?;
        let mut tasks = Vec::new();
        for n in 0..64u64 {
            let table = table.clone();
            tasks.push(tokio::spawn(async move {
                let own = table.put(item("P", &format!("own#{n:02}"), n), None).await;
                let claim = table
                    .transact(vec![
                        Write::Put {
                            item: item("P", "claimed", n),
                            condition: Some(Condition::Absent),
                        },
                        Write::Put {
                            item: item("P", &format!("with-claim#{n:02}"), n),
                            condition: None,
                        },
                    ])
                    .await;
                (own, claim)
            }));
        }
        let mut won = 0;
        for task in tasks {
            let (own, claim) = task.await.map_err(|e| e.to_string())?;
            own.map_err(|e| e.to_string())?;
            match claim {
                Ok(()) => won += 1,
                Err(TableError::TransactionCancelled { .. }) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        assert_eq!(won, 1);
        let page = table
            .query(&Query::partition("P").limit(1000))
            .await
            .map_err(|e| e.to_string())?;
        let count = |prefix: &str| {
            page.items
                .iter()
                .filter(|i| i["sk"].as_str().is_some_and(|s| s.starts_with(prefix)))
                .count()
        };
        assert_eq!(
            (count("own#"), count("with-claim#"), count("claimed")),
            (64, 1, 1)
        );
        Ok(())
    }
}
