//! Group commit for a redb database whose operations are small and many
//! (the queue's sends, receives, deletes): concurrent operations wait in
//! line, and whichever finds no commit under way takes the whole line into
//! one write transaction, runs each in turn and commits once. Every
//! answered operation is as durable as if it had committed alone, but N
//! concurrent ones pay one fsync instead of N.
//!
//! An operation answers `Ok(Err(_))` for a refusal it made before writing
//! anything (a stale receipt): only it fails. `Err(_)` is a failure that may
//! have left a partial change in the transaction, so the whole group is
//! abandoned and every operation in it fails.

use std::sync::{Arc, Mutex, Weak};

use redb::{Database, WriteTransaction};

/// What an operation gives back once the group's commit is known.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation: its writes in the group's transaction, then its answer.
type Job = Box<dyn FnOnce(&WriteTransaction) -> Result<Answer, String> + Send>;

#[derive(Default)]
struct Line {
    waiting: Vec<Job>,
    leading: bool,
}

/// The group commit of one database.
#[derive(Clone)]
pub struct GroupCommit {
    db: Arc<Database>,
    line: Arc<Mutex<Line>>,
}

impl GroupCommit {
    /// Group commits on `db`.
    pub fn new(db: Arc<Database>) -> Self {
        Self {
            db,
            line: Arc::default(),
        }
    }

    /// Runs `work` in the next group's transaction; its value once that
    /// transaction committed. `failed` turns a failure of the group (its
    /// commit, or another operation's halfway error) into `E`.
    pub async fn run<T, E>(
        &self,
        work: impl FnOnce(&WriteTransaction) -> Result<Result<T, E>, String> + Send + 'static,
        failed: fn(String) -> E,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |txn| {
            let own = work(txn)?;
            Ok(Box::new(move |committed: Result<(), String>| {
                let answer = match (committed, own) {
                    (Ok(()), own) => own,
                    // A refusal wrote nothing: it stands even if the group failed.
                    (Err(_), Err(refused)) => Err(refused),
                    (Err(why), Ok(_)) => Err(failed(why)),
                };
                // An operation whose caller stopped waiting needs no answer.
                let _ = reply.send(answer);
            }) as Answer)
        });
        let lead = {
            let mut line = self
                .line
                .lock()
                .map_err(|_| failed("the group commit is poisoned".into()))?;
            line.waiting.push(job);
            !std::mem::replace(&mut line.leading, true)
        };
        if lead {
            // The committing thread holds the database only while it
            // commits, so it closes when its owner drops it (a reopen in
            // the same process must find it unlocked).
            let (db, line) = (Arc::downgrade(&self.db), Arc::clone(&self.line));
            tokio::task::spawn_blocking(move || commit_groups(&db, &line));
        }
        answer
            .await
            .map_err(|_| failed("the group commit stopped".into()))?
    }
}

/// Commits what waits, a group at a time, until nothing does.
fn commit_groups(db: &Weak<Database>, line: &Mutex<Line>) {
    loop {
        let group = match line.lock() {
            Ok(mut line) if line.waiting.is_empty() => {
                line.leading = false;
                return;
            }
            Ok(mut line) => std::mem::take(&mut line.waiting),
            // A panic while holding the lock: nothing can be committed,
            // and the dropped jobs answer their callers with an error.
            Err(_) => return,
        };
        let Some(db) = db.upgrade() else {
            // Closed: the jobs are dropped, their callers told so.
            return;
        };
        let answers = commit_group(&db, group);
        drop(db);
        for (answer, committed) in answers {
            answer(committed);
        }
    }
}

/// Runs a group's jobs in one transaction and commits it: each job's answer
/// with what the commit gave, to be sent once the database is let go.
fn commit_group(db: &Database, group: Vec<Job>) -> Vec<(Answer, Result<(), String>)> {
    let txn = match db.begin_write() {
        Ok(txn) => txn,
        // The jobs are dropped unrun: their callers see the commit stop.
        Err(e) => {
            tracing::error!(error = %e, "a group transaction did not begin");
            return Vec::new();
        }
    };
    let mut answers = Vec::with_capacity(group.len());
    for job in group {
        match job(&txn) {
            Ok(answer) => answers.push(answer),
            Err(why) => {
                // Half a change is in the transaction: drop it all.
                drop(txn);
                return answers.into_iter().map(|a| (a, Err(why.clone()))).collect();
            }
        }
    }
    let committed = txn.commit().map_err(|e| e.to_string());
    answers
        .into_iter()
        .map(|a| (a, committed.clone()))
        .collect()
}
