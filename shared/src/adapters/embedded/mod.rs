//! Embedded adapters: durable files under one data folder, no AWS needed.
//!
//! ```text
//! <data>/table.redb      items and index entries
//! <data>/queue.redb      queues and dead-letter queues
//! <data>/identity.redb   users, codes, refresh tokens
//! <data>/blobs/<bucket>/ blob files and their metadata
//! <data>/mailbox/         e-mails the identity provider would send
//! <data>/secrets/        signing keys, created on first start
//! ```

pub mod blobs;
pub mod events;
pub mod group;
pub mod identity;
pub mod mailbox;
pub mod queue;
pub mod secrets;
pub mod table;

pub use blobs::EmbeddedBlobs;
pub use events::EmbeddedBus;
pub use identity::EmbeddedIdentity;
pub use queue::EmbeddedQueue;
pub use table::EmbeddedTable;

/// Opens (or creates) a redb database with a page cache of `cache_mib`:
/// redb's default of 1 GiB would make the cache, not the data, the local
/// platform's memory.
pub(crate) fn open_database(
    path: &std::path::Path,
    cache_mib: usize,
) -> Result<redb::Database, redb::DatabaseError> {
    redb::Builder::new()
        .set_cache_size(cache_mib << 20)
        .create(path)
}

/// Runs blocking storage work off the async runtime's worker threads.
pub(crate) async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
    join_error: impl FnOnce(String) -> E,
) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(join_error(format!("storage task failed: {e}"))),
    }
}
