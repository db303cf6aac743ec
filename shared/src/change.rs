//! A change: the writes of one transaction, each named for what it guards,
//! and the domain events it causes, committed together. The events go into
//! the outbox ([`crate::outbox`]) in the same transaction, so a committed
//! change always has its events and a refused one never does.
//!
//! A refused condition comes back as the name of the write that carried it,
//! so handlers say `Refused("owners")`, not "the third write failed".

use crate::http::ApiError;
use crate::http::problem::Conflict;
use crate::ports::events::DomainEvent;
use crate::ports::table::{CancelReason, ItemTable, TableError, Write};

/// The name the outbox writes of a change carry.
pub const EVENT: &str = "event";

/// The writes and events of one change.
#[derive(Debug, Default)]
#[must_use = "a change does nothing until it is committed"]
pub struct Change {
    writes: Vec<(&'static str, Write)>,
    events: Vec<DomainEvent>,
}

/// Why a change did not commit; nothing of it was written.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChangeError {
    /// The condition of the named write did not hold.
    #[error("the condition of `{0}` did not hold")]
    Refused(&'static str),
    /// Anything else the table answered (another transaction on the same
    /// items included).
    #[error(transparent)]
    Table(#[from] TableError),
}

impl Change {
    /// An empty change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write, named for what its condition guards.
    pub fn write(mut self, name: &'static str, write: Write) -> Self {
        self.writes.push((name, write));
        self
    }

    /// Adds a write when there is one.
    pub fn maybe(self, name: &'static str, write: Option<Write>) -> Self {
        match write {
            Some(write) => self.write(name, write),
            None => self,
        }
    }

    /// Adds a domain event; it is published after the change commits.
    pub fn event(mut self, event: DomainEvent) -> Self {
        self.events.push(event);
        self
    }

    /// Writes everything in one transaction.
    pub async fn commit(self, table: &dyn ItemTable) -> Result<(), ChangeError> {
        let mut names = Vec::with_capacity(self.writes.len() + self.events.len());
        let mut writes = Vec::with_capacity(names.capacity());
        for (name, write) in self.writes {
            names.push(name);
            writes.push(write);
        }
        for event in &self.events {
            names.push(EVENT);
            writes.push(crate::outbox::write(event)?);
        }
        match table.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { reasons }) => {
                match reasons
                    .iter()
                    .position(|r| *r == CancelReason::ConditionFailed)
                {
                    Some(at) => Err(ChangeError::Refused(names[at])),
                    None => Err(ChangeError::Table(TableError::TransactionCancelled {
                        reasons,
                    })),
                }
            }
            Err(error) => Err(error.into()),
        }
    }
}

impl From<ChangeError> for ApiError {
    /// The default: a condition that did not hold means someone changed the
    /// same data first. A handler that knows what a refusal means (a stale
    /// version, the last owner) maps it itself.
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::Refused(_) => ApiError::Conflict(Conflict::CHANGED_CONCURRENTLY),
            ChangeError::Table(error) => error.into(),
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::adapters::embedded::EmbeddedTable;
    use crate::ports::table::{Condition, Key, Query, Update};
    use serde_json::json;

    fn put(pk: &str) -> Write {
        let serde_json::Value::Object(item) = json!({"pk": pk, "sk": "A"}) else {
            unreachable!()
        };
        Write::Put {
            item,
            condition: Some(Condition::Absent),
        }
    }

    async fn events_in(table: &EmbeddedTable, id: &str) -> usize {
        table
            .query(&Query::partition(crate::outbox::key(id).pk))
            .await
            .expect("query")
            .items
            .len()
    }

    #[tokio::test]
    async fn a_change_commits_its_writes_and_its_events_together() {
        let dir = tempfile::tempdir().expect("dir");
        let table = EmbeddedTable::open(dir.path()).expect("table");
        let event = DomainEvent::new("foundation", "thing.done", json!({}));
        Change::new()
            .write("thing", put("T#1"))
            .event(event.clone())
            .commit(&table)
            .await
            .expect("commit");
        assert_eq!(events_in(&table, &event.id).await, 1);

        let refused = DomainEvent::new("foundation", "thing.done", json!({}));
        let result = Change::new()
            .write("other", put("T#2"))
            .write("thing", put("T#1"))
            .event(refused.clone())
            .commit(&table)
            .await;
        assert_eq!(result, Err(ChangeError::Refused("thing")));
        assert_eq!(events_in(&table, &refused.id).await, 0);
        assert!(
            table
                .get(&Key::new("T#2", "A"))
                .await
                .expect("get")
                .is_none()
        );
        let update = Update::of(Key::new("T#1", "A")).set("n", 1);
        Change::new()
            .write("thing", Write::Update(update))
            .commit(&table)
            .await
            .expect("a change without events");
    }
}
