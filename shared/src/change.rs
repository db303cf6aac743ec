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
use serde_json::json;

use crate::ports::table::{CancelReason, Condition, ItemTable, Key, TableError, Write, to_item};

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

    /// Adds another change's writes and events after this one's.
    pub fn then(mut self, other: Change) -> Self {
        self.writes.extend(other.writes);
        self.events.extend(other.events);
        self
    }

    /// Adds a domain event; it is published after the change commits.
    pub fn event(mut self, event: DomainEvent) -> Self {
        self.events.push(event);
        self
    }

    /// How many writes it commits, its events' outbox writes included.
    pub fn len(&self) -> usize {
        self.writes.len() + self.events.len()
    }

    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

/// The write that claims `key` for its owner (`attribute` = `owner`): a
/// name or slug kept unique by an item of its own, taken only if free.
pub fn claim(key: &Key, attribute: &str, owner: &str) -> Result<Write, TableError> {
    Ok(Write::Put {
        item: to_item(&json!({"pk": key.pk, "sk": key.sk, attribute: owner}))?,
        condition: Some(Condition::Absent),
    })
}

/// The write that gives a claimed key back, only if `owner` still holds it.
pub fn release(key: &Key, attribute: &str, owner: &str) -> Write {
    Write::Delete {
        key: key.clone(),
        condition: Some(Condition::Equals(attribute.into(), json!(owner))),
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::adapters::embedded::EmbeddedTable;
    use crate::ports::table::{Query, Update};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    async fn events_in(table: &EmbeddedTable, id: &str) -> Result<usize, TableError> {
        let page = table
            .query(&Query::partition(crate::outbox::key(id).pk))
            .await?;
        Ok(page.items.len())
    }

    #[tokio::test]
    async fn a_change_commits_its_writes_and_its_events_together() -> TestResult {
        let dir = tempfile::tempdir()?;
        let table = EmbeddedTable::open(dir.path())?;
        let (one, two) = (Key::new("T#1", "A"), Key::new("T#2", "A"));
        let event = DomainEvent::new("foundation", "thing.done", json!({}));
        Change::new()
            .write("thing", claim(&one, "owner", "x")?)
            .event(event.clone())
            .commit(&table)
            .await?;
        assert_eq!(events_in(&table, &event.id).await?, 1);

        let refused = DomainEvent::new("foundation", "thing.done", json!({}));
        let result = Change::new()
            .write("other", claim(&two, "owner", "x")?)
            .write("thing", claim(&one, "owner", "y")?)
            .event(refused.clone())
            .commit(&table)
            .await;
        assert_eq!(result, Err(ChangeError::Refused("thing")));
        assert_eq!(events_in(&table, &refused.id).await?, 0);
        assert!(table.get(&two).await?.is_none());

        // Only its owner gives a claim back.
        let result = Change::new()
            .write("thing", release(&one, "owner", "y"))
            .commit(&table)
            .await;
        assert_eq!(result, Err(ChangeError::Refused("thing")));
        Change::new()
            .write("thing", Write::Update(Update::of(one.clone()).set("n", 1)))
            .commit(&table)
            .await?;
        Change::new()
            .write("thing", release(&one, "owner", "x"))
            .commit(&table)
            .await?;
        assert!(table.get(&one).await?.is_none());
        Ok(())
    }
}
