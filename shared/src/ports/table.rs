//! The item table port: DynamoDB single-table semantics.
//!
//! Items are JSON objects (`serde_json::Map`) whose `pk` and `sk` attributes are
//! strings and form the primary key. Optional `gsi1pk`/`gsi1sk` and
//! `gsi2pk`/`gsi2sk` string attributes place an item in the two global
//! secondary indexes (sparse: an item without them is not in the index).
//! Typed access goes through [`ItemTableExt`], which converts serde types.
//!
//! Everything here is checked the same way for every adapter
//! ([`validate_put`], [`validate_transaction`], …) so both behave alike on bad
//! input, not only on good input.

use std::collections::HashSet;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// An item: a JSON object holding at least string `pk` and `sk` attributes.
pub type Item = Map<String, Value>;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// The attribute optimistic concurrency checks (see [`Condition::version_is`]).
pub const VERSION: &str = "version";
/// Most writes one transaction may hold.
pub const MAX_TRANSACTION_WRITES: usize = 25;
/// Most keys one batch get may ask for.
pub const MAX_BATCH_GET: usize = 100;
/// Most items one query page may return.
pub const MAX_QUERY_LIMIT: u32 = 1000;

/// Result of an item table operation.
pub type TableResult<T> = Result<T, TableError>;

/// The primary key of an item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Partition key, e.g. `ORG#01J…`.
    pub pk: String,
    /// Sort key, e.g. `PROJECT#01J…`.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key of an item, or [`TableError::Invalid`] when `pk`/`sk` are missing or not strings.
    pub fn of(item: &Item) -> TableResult<Self> {
        let part = |name: &str| match item.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(TableError::Invalid(format!(
                "`{name}` must be a non-empty string"
            ))),
            None => Err(TableError::Invalid(format!("item has no `{name}`"))),
        };
        Ok(Self::new(part(PK)?, part(SK)?))
    }
}

/// A global secondary index. Both project every attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Index {
    /// `gsi1pk` / `gsi1sk`.
    Gsi1,
    /// `gsi2pk` / `gsi2sk`.
    Gsi2,
}

impl Index {
    /// Every index, in declaration order.
    pub const ALL: [Index; 2] = [Index::Gsi1, Index::Gsi2];

    /// The index name as DynamoDB knows it.
    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
        }
    }

    /// The attribute holding this index's partition key.
    pub fn partition_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
        }
    }

    /// The attribute holding this index's sort key.
    pub fn sort_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
        }
    }
}

/// Which part of a partition a query reads, on the sort key.
/// Sort keys compare as UTF-8 bytes, as DynamoDB compares strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SortRange {
    /// The whole partition.
    #[default]
    All,
    /// Exactly this sort key.
    Equals(String),
    /// Sort keys starting with this prefix.
    BeginsWith(String),
    /// Sort keys between both bounds, inclusive.
    Between(String, String),
    /// Sort keys greater than or equal to this.
    AtLeast(String),
    /// Sort keys less than or equal to this.
    AtMost(String),
}

impl SortRange {
    /// Whether a sort key lies in the range.
    pub fn contains(&self, sk: &str) -> bool {
        match self {
            SortRange::All => true,
            SortRange::Equals(v) => sk == v,
            SortRange::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortRange::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
            SortRange::AtLeast(lo) => lo.as_str() <= sk,
            SortRange::AtMost(hi) => sk <= hi.as_str(),
        }
    }
}

/// A query of one partition of the table or of an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// `None` queries the table itself.
    pub index: Option<Index>,
    /// The partition key value.
    pub partition: String,
    /// The sort key range.
    pub range: SortRange,
    /// Ascending sort key order when true.
    pub forward: bool,
    /// Most items in the page.
    pub limit: u32,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
}

impl Query {
    /// A forward query of a whole table partition, 100 items a page.
    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            index: None,
            partition: partition.into(),
            range: SortRange::All,
            forward: true,
            limit: 100,
            cursor: None,
        }
    }

    /// The same query on a secondary index.
    pub fn on(mut self, index: Index) -> Self {
        self.index = Some(index);
        self
    }

    /// Restricts the sort key range.
    pub fn range(mut self, range: SortRange) -> Self {
        self.range = range;
        self
    }

    /// Sort keys starting with `prefix`.
    pub fn begins_with(self, prefix: impl Into<String>) -> Self {
        self.range(SortRange::BeginsWith(prefix.into()))
    }

    /// Descending sort key order.
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }

    /// Page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Continues after a previous page.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    /// The attributes that name an item's position in what this query reads.
    pub fn position_attrs(&self) -> &'static [&'static str] {
        match self.index {
            None => &[PK, SK],
            Some(Index::Gsi1) => &[PK, SK, "gsi1pk", "gsi1sk"],
            Some(Index::Gsi2) => &[PK, SK, "gsi2pk", "gsi2sk"],
        }
    }

    fn partition_attr(&self) -> &'static str {
        self.index.map_or(PK, Index::partition_attr)
    }

    fn sort_attr(&self) -> &'static str {
        self.index.map_or(SK, Index::sort_attr)
    }

    /// Checks limit, partition and cursor; the cursor must come from this partition.
    pub fn validate(&self) -> TableResult<()> {
        if self.partition.is_empty() {
            return Err(TableError::Invalid("query partition is empty".into()));
        }
        if self.limit == 0 || self.limit > MAX_QUERY_LIMIT {
            return Err(TableError::Invalid(format!(
                "query limit must be within 1..={MAX_QUERY_LIMIT}"
            )));
        }
        if let Some(cursor) = &self.cursor {
            let position = cursor.position()?;
            let fits = self
                .position_attrs()
                .iter()
                .all(|a| position.get(*a).is_some_and(|v| !v.is_empty()))
                && position.get(self.partition_attr()) == Some(&self.partition)
                // A position outside the range (a cursor of another list
                // of the same partition) is no place to resume from.
                && position
                    .get(self.sort_attr())
                    .is_some_and(|sk| self.range.contains(sk));
            if !fits {
                return Err(TableError::InvalidCursor);
            }
        }
        Ok(())
    }
}

/// One page of query results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// The items, in query order.
    pub items: Vec<Item>,
    /// Present when more items may follow.
    pub next: Option<Cursor>,
}

/// An opaque position in a query: base64url of the last item's key attributes.
/// Clients only ever pass it back; [`Query::validate`] rejects a cursor from
/// another partition, so a forged one cannot reach another tenant's items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// A cursor from the key attributes of the last item returned.
    pub fn from_position(position: &std::collections::BTreeMap<String, String>) -> Self {
        let json = serde_json::to_vec(position).unwrap_or_default();
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    /// A cursor pointing after `item` in `query`.
    pub fn after_item(query: &Query, item: &Item) -> Self {
        let position = query
            .position_attrs()
            .iter()
            .filter_map(|a| match item.get(*a) {
                Some(Value::String(s)) => Some(((*a).to_string(), s.clone())),
                _ => None,
            })
            .collect();
        Self::from_position(&position)
    }

    /// Parses a cursor a client sent back.
    pub fn parse(text: &str) -> TableResult<Self> {
        let cursor = Self(text.to_string());
        cursor.position()?;
        Ok(cursor)
    }

    /// The key attributes this cursor holds.
    pub fn position(&self) -> TableResult<std::collections::BTreeMap<String, String>> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| TableError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| TableError::InvalidCursor)
    }

    /// The text to hand to a client.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A condition a write must meet, evaluated atomically with it.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// The item does not exist.
    Absent,
    /// The attribute exists and equals the value.
    Equals(String, Value),
    /// The attribute exists and is less than the value (numbers or strings).
    LessThan(String, Value),
    /// The attribute exists and is greater than the value (numbers or strings).
    GreaterThan(String, Value),
    /// The attribute does not exist (on an absent item: true).
    AttributeAbsent(String),
    /// Every condition holds.
    And(Vec<Condition>),
    /// At least one condition holds.
    Or(Vec<Condition>),
}

impl Condition {
    /// The item's `version` attribute equals `n`: optimistic concurrency.
    pub fn version_is(n: u64) -> Self {
        Condition::Equals(VERSION.into(), Value::from(n))
    }

    /// Whether the condition holds for the current item (`None`: absent).
    pub fn holds(&self, item: Option<&Item>) -> bool {
        let attr = |name: &str| item.and_then(|i| i.get(name));
        match self {
            Condition::Exists => item.is_some(),
            Condition::Absent => item.is_none(),
            Condition::Equals(name, v) => attr(name).is_some_and(|a| values_equal(a, v)),
            Condition::LessThan(name, v) => attr(name)
                .and_then(|a| compare(a, v))
                .is_some_and(|o| o.is_lt()),
            Condition::GreaterThan(name, v) => attr(name)
                .and_then(|a| compare(a, v))
                .is_some_and(|o| o.is_gt()),
            Condition::AttributeAbsent(name) => attr(name).is_none(),
            Condition::And(all) => all.iter().all(|c| c.holds(item)),
            Condition::Or(any) => any.iter().any(|c| c.holds(item)),
        }
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare(a, b).is_some_and(|o| o.is_eq()),
        _ => a == b,
    }
}

/// Orders two numbers or two strings as DynamoDB does; other pairs are incomparable.
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    }
}

/// A partial update of one item (created when absent, as DynamoDB does,
/// unless the condition forbids it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    /// The item to update.
    pub key: Key,
    /// Attributes to set.
    pub set: Item,
    /// Attributes to remove.
    pub remove: Vec<String>,
    /// Numeric attributes to add to (created at 0 when absent).
    pub add: Vec<(String, i64)>,
    /// Condition on the current item.
    pub condition: Option<Condition>,
}

impl Update {
    /// An empty update of `key`.
    pub fn of(key: Key) -> Self {
        Self {
            key,
            ..Self::default()
        }
    }

    /// Sets an attribute.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.insert(name.into(), value.into());
        self
    }

    /// Removes an attribute.
    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }

    /// Adds `by` to a numeric attribute.
    pub fn add(mut self, name: impl Into<String>, by: i64) -> Self {
        self.add.push((name.into(), by));
        self
    }

    /// Only if `condition` holds.
    pub fn when(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }

    /// Applies the update to the current item, giving the new one.
    pub fn apply(&self, current: Option<&Item>) -> TableResult<Item> {
        let mut item = current.cloned().unwrap_or_default();
        item.insert(PK.into(), Value::String(self.key.pk.clone()));
        item.insert(SK.into(), Value::String(self.key.sk.clone()));
        for (k, v) in &self.set {
            item.insert(k.clone(), v.clone());
        }
        for k in &self.remove {
            item.remove(k);
        }
        for (k, by) in &self.add {
            let now = match item.get(k) {
                None => 0,
                Some(v) => v.as_i64().ok_or_else(|| {
                    TableError::Invalid(format!("cannot add to non-integer attribute `{k}`"))
                })?,
            };
            let sum = now
                .checked_add(*by)
                .ok_or_else(|| TableError::Invalid(format!("`{k}` overflows")))?;
            item.insert(k.clone(), Value::from(sum));
        }
        Ok(item)
    }

    /// Checks the update names each attribute once and never touches the key.
    pub fn validate(&self) -> TableResult<()> {
        validate_key(&self.key)?;
        let mut seen = HashSet::new();
        let names = self
            .set
            .keys()
            .chain(self.remove.iter())
            .chain(self.add.iter().map(|(k, _)| k));
        for name in names {
            if name == PK || name == SK {
                return Err(TableError::Invalid(format!(
                    "an update cannot change `{name}`"
                )));
            }
            check_attr_name(name)?;
            if !seen.insert(name.as_str()) {
                return Err(TableError::Invalid(format!(
                    "attribute `{name}` appears twice in one update"
                )));
            }
        }
        if seen.is_empty() {
            return Err(TableError::Invalid(
                "an update must change something".into(),
            ));
        }
        for index in Index::ALL {
            for attr in [index.partition_attr(), index.sort_attr()] {
                if let Some(v) = self.set.get(attr) {
                    check_index_value(attr, v)?;
                }
            }
        }
        Ok(())
    }
}

/// One write of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Put a whole item.
    Put {
        /// The item.
        item: Item,
        /// Condition on the current item.
        condition: Option<Condition>,
    },
    /// Update an item.
    Update(Update),
    /// Delete an item.
    Delete {
        /// The item's key.
        key: Key,
        /// Condition on the current item.
        condition: Option<Condition>,
    },
    /// Write nothing, but require the condition.
    Check {
        /// The item's key.
        key: Key,
        /// Condition on the current item.
        condition: Condition,
    },
}

impl Write {
    /// The key of the item this write touches.
    pub fn key(&self) -> TableResult<Key> {
        match self {
            Write::Put { item, .. } => Key::of(item),
            Write::Update(u) => Ok(u.key.clone()),
            Write::Delete { key, .. } | Write::Check { key, .. } => Ok(key.clone()),
        }
    }

    /// The write's condition, if any.
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Write::Put { condition, .. } | Write::Delete { condition, .. } => condition.as_ref(),
            Write::Update(u) => u.condition.as_ref(),
            Write::Check { condition, .. } => Some(condition),
        }
    }
}

/// Why one write of a cancelled transaction failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// This write was fine; another one failed.
    None,
    /// Its condition did not hold.
    ConditionFailed,
    /// Another transaction touched the item at the same time.
    Conflict,
}

/// Errors of the item table.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TableError {
    /// A write's condition did not hold; nothing changed.
    #[error("the condition of the write did not hold")]
    ConditionFailed,
    /// A transaction was cancelled; nothing changed. One reason per write, in
    /// order ([`crate::change::Change`] turns them back into write names).
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCancelled {
        /// One entry per write of the transaction.
        reasons: Vec<CancelReason>,
    },
    /// The request itself is wrong (the caller's bug, not the data).
    #[error("invalid table request: {0}")]
    Invalid(String),
    /// A cursor that this table did not hand out for this query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The backend is throttling; retry later.
    #[error("the table is throttling requests")]
    Throttled,
    /// The backend failed.
    #[error("table backend failure: {0}")]
    Backend(String),
}

fn check_attr_name(name: &str) -> TableResult<()> {
    if name.is_empty() || name.len() > 255 {
        return Err(TableError::Invalid(format!(
            "attribute name `{name}` must be 1 to 255 bytes"
        )));
    }
    Ok(())
}

fn check_index_value(attr: &str, value: &Value) -> TableResult<()> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(()),
        _ => Err(TableError::Invalid(format!(
            "index attribute `{attr}` must be a non-empty string"
        ))),
    }
}

fn validate_key(key: &Key) -> TableResult<()> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(TableError::Invalid(
            "`pk` and `sk` must be non-empty".into(),
        ));
    }
    Ok(())
}

/// Checks a key given to get, delete or batch get.
pub fn validate_read_key(key: &Key) -> TableResult<()> {
    validate_key(key)
}

/// Checks an item about to be put: string key, string index attributes.
pub fn validate_put(item: &Item) -> TableResult<()> {
    Key::of(item)?;
    for name in item.keys() {
        check_attr_name(name)?;
    }
    for index in Index::ALL {
        for attr in [index.partition_attr(), index.sort_attr()] {
            if let Some(v) = item.get(attr) {
                check_index_value(attr, v)?;
            }
        }
    }
    Ok(())
}

/// Checks a single write, as a transaction member or on its own.
pub fn validate_write(write: &Write) -> TableResult<()> {
    match write {
        Write::Put { item, .. } => validate_put(item),
        Write::Update(u) => u.validate(),
        Write::Delete { key, .. } | Write::Check { key, .. } => validate_key(key),
    }
}

/// Checks a transaction: 1 to 25 writes, each valid, no item touched twice.
pub fn validate_transaction(writes: &[Write]) -> TableResult<()> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(TableError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_WRITES} writes"
        )));
    }
    let mut keys = HashSet::new();
    for write in writes {
        validate_write(write)?;
        if !keys.insert(write.key()?) {
            return Err(TableError::Invalid(
                "a transaction cannot touch one item twice".into(),
            ));
        }
    }
    Ok(())
}

/// Checks a batch get: 1 to 100 distinct keys.
pub fn validate_batch_get(keys: &[Key]) -> TableResult<()> {
    if keys.is_empty() || keys.len() > MAX_BATCH_GET {
        return Err(TableError::Invalid(format!(
            "a batch get asks for 1 to {MAX_BATCH_GET} keys"
        )));
    }
    let mut seen = HashSet::new();
    for key in keys {
        validate_key(key)?;
        if !seen.insert(key) {
            return Err(TableError::Invalid("a batch get names a key twice".into()));
        }
    }
    Ok(())
}

/// The item table: every adapter behaves as DynamoDB does.
#[async_trait]
pub trait ItemTable: Send + Sync {
    /// Whether the backend answers, for the health report; the error says why not.
    async fn probe(&self) -> Result<(), String>;

    /// The item with this key, if any (strongly consistent).
    async fn get(&self, key: &Key) -> TableResult<Option<Item>>;

    /// Writes a whole item, if the condition holds.
    async fn put(&self, item: Item, condition: Option<Condition>) -> TableResult<()>;

    /// Updates part of an item, if the condition holds; gives the new item.
    async fn update(&self, update: Update) -> TableResult<Item>;

    /// Deletes an item (absent is fine), if the condition holds.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> TableResult<()>;

    /// One page of a partition, in sort key order.
    async fn query(&self, query: &Query) -> TableResult<Page>;

    /// Applies every write or none; a failed condition cancels all and says which.
    async fn transact(&self, writes: Vec<Write>) -> TableResult<()>;

    /// The items that exist among `keys`, in the order asked.
    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>>;
}

/// Typed access on top of any [`ItemTable`]: serde types in, serde types out.
#[async_trait]
pub trait ItemTableExt: ItemTable {
    /// Reads an item as `T`.
    async fn get_as<T: DeserializeOwned>(&self, key: &Key) -> TableResult<Option<T>> {
        self.get(key).await?.map(from_item).transpose()
    }

    /// Writes a `T` as an item.
    async fn put_as<T: Serialize + Sync>(
        &self,
        value: &T,
        condition: Option<Condition>,
    ) -> TableResult<()> {
        self.put(to_item(value)?, condition).await
    }
}

impl<T: ItemTable + ?Sized> ItemTableExt for T {}

/// Converts a serde value into an item; it must serialize to a JSON object.
pub fn to_item<T: Serialize>(value: &T) -> TableResult<Item> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(TableError::Invalid(
            "an item must serialize to an object".into(),
        )),
        Err(e) => Err(TableError::Invalid(format!("item does not serialize: {e}"))),
    }
}

/// Converts a serde value into an item stored under `key`.
pub fn to_keyed_item<T: Serialize>(value: &T, key: Key) -> TableResult<Item> {
    let mut item = to_item(value)?;
    item.insert(PK.into(), Value::String(key.pk));
    item.insert(SK.into(), Value::String(key.sk));
    Ok(item)
}

/// Converts an item into a serde value.
pub fn from_item<T: DeserializeOwned>(item: Item) -> TableResult<T> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| TableError::Backend(format!("stored item does not deserialize: {e}")))
}

/// Deletes every item a query matches (its partition, or those under its
/// sort key prefix), a page at a time, each page in one transaction of at
/// most [`MAX_TRANSACTION_WRITES`]. Always reads the first page again:
/// what was read is gone before the next read. Deleting what is absent is
/// fine, so a repeated clear is harmless.
pub async fn delete_matching(table: &dyn ItemTable, query: Query) -> TableResult<()> {
    let query = query.limit(MAX_TRANSACTION_WRITES as u32);
    loop {
        let page = table.query(&query).await?;
        let deletes = page
            .items
            .iter()
            .map(|item| {
                Key::of(item).map(|key| Write::Delete {
                    key,
                    condition: None,
                })
            })
            .collect::<TableResult<Vec<_>>>()?;
        if !deletes.is_empty() {
            table.transact(deletes).await?;
        }
        if page.next.is_none() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn version_condition_compares_numbers_by_value() {
        let it = item(json!({"pk": "a", "sk": "b", "version": 3}));
        assert!(Condition::version_is(3).holds(Some(&it)));
        assert!(!Condition::version_is(4).holds(Some(&it)));
        assert!(!Condition::version_is(3).holds(None));
        let float = item(json!({"pk": "a", "sk": "b", "version": 3.0}));
        assert!(Condition::version_is(3).holds(Some(&float)));
    }

    #[test]
    fn idempotency_condition_absent_or_expired() {
        let cond = Condition::Or(vec![
            Condition::Absent,
            Condition::LessThan("expiry".into(), json!(100)),
        ]);
        assert!(cond.holds(None));
        assert!(cond.holds(Some(&item(json!({"pk":"a","sk":"b","expiry": 99})))));
        assert!(!cond.holds(Some(&item(json!({"pk":"a","sk":"b","expiry": 100})))));
        assert!(!cond.holds(Some(&item(json!({"pk":"a","sk":"b"})))));
    }

    #[test]
    fn a_cursor_outside_the_querys_range_is_refused() {
        let mut position = std::collections::BTreeMap::new();
        position.insert(PK.to_string(), "P".to_string());
        position.insert(SK.to_string(), "COMPONENT#1".to_string());
        let cursor = Cursor::from_position(&position);
        let tables = Query::partition("P")
            .begins_with("TABLE#")
            .after(Some(cursor.clone()));
        assert_eq!(tables.validate(), Err(TableError::InvalidCursor));
        let components = Query::partition("P")
            .begins_with("COMPONENT#")
            .after(Some(cursor));
        assert_eq!(components.validate(), Ok(()));
    }

    #[test]
    fn sort_ranges_compare_bytes() {
        assert!(SortRange::BeginsWith("P#".into()).contains("P#1"));
        assert!(!SortRange::BeginsWith("P#".into()).contains("Q#1"));
        assert!(SortRange::Between("a".into(), "c".into()).contains("c"));
        assert!(!SortRange::Between("a".into(), "c".into()).contains("ca"));
        assert!(SortRange::AtMost("b".into()).contains("a"));
        assert!(SortRange::AtLeast("b".into()).contains("bb"));
    }

    #[test]
    fn update_cannot_touch_the_key_or_name_an_attribute_twice() {
        let k = Key::new("a", "b");
        assert!(Update::of(k.clone()).set("pk", "x").validate().is_err());
        assert!(
            Update::of(k.clone())
                .set("n", 1)
                .add("n", 1)
                .validate()
                .is_err()
        );
        assert!(Update::of(k.clone()).validate().is_err());
        assert!(Update::of(k.clone()).set("gsi1pk", 3).validate().is_err());
        assert!(Update::of(k).set("n", 1).remove("m").validate().is_ok());
    }

    #[test]
    fn update_applies_set_remove_add() {
        let current = item(json!({"pk":"a","sk":"b","n": 1, "gone": true}));
        let next = Update::of(Key::new("a", "b"))
            .set("name", "x")
            .remove("gone")
            .add("n", 2)
            .add("fresh", 5)
            .apply(Some(&current))
            .unwrap();
        assert_eq!(
            Value::Object(next),
            json!({"pk":"a","sk":"b","n":3,"name":"x","fresh":5})
        );
    }

    #[test]
    fn transactions_are_bounded_and_touch_each_item_once() {
        let put = |sk: &str| Write::Put {
            item: item(json!({"pk": "a", "sk": sk})),
            condition: None,
        };
        assert!(validate_transaction(&[]).is_err());
        assert!(validate_transaction(&[put("1"), put("1")]).is_err());
        let many: Vec<_> = (0..26).map(|i| put(&i.to_string())).collect();
        assert!(validate_transaction(&many).is_err());
        assert!(validate_transaction(&many[..25]).is_ok());
    }

    #[test]
    fn cursor_from_another_partition_is_rejected() {
        let q = Query::partition("ORG#1");
        let c = Cursor::after_item(&q, &item(json!({"pk": "ORG#2", "sk": "x"})));
        assert_eq!(
            q.clone().after(Some(c)).validate(),
            Err(TableError::InvalidCursor)
        );
        let own = Cursor::after_item(&q, &item(json!({"pk": "ORG#1", "sk": "x"})));
        assert!(q.clone().after(Some(own)).validate().is_ok());
        assert!(Cursor::parse("not base64!").is_err());
    }

    #[test]
    fn put_requires_string_keys_and_index_attributes() {
        assert!(validate_put(&item(json!({"pk": "a", "sk": "b"}))).is_ok());
        assert!(validate_put(&item(json!({"pk": "a"}))).is_err());
        assert!(validate_put(&item(json!({"pk": 1, "sk": "b"}))).is_err());
        assert!(validate_put(&item(json!({"pk": "a", "sk": "b", "gsi1pk": 1}))).is_err());
    }
}
