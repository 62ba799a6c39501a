//! How a log is opened: [`LogOptions`] and the [`FlushObserver`] hook.

use std::{fmt, sync::Arc};

use crate::stable::{Durability, Synced};

/// Options for [`crate::EventLog::open`]; `LogOptions::default()` suits a service.
#[derive(Clone)]
pub struct LogOptions {
    /// sled's page cache size. Default 64 MiB: enough to keep the indexes and the recent tail
    /// of a service's log hot (appends check the dedupe index, projections replay from recent
    /// seqs), while four services plus NATS still fit comfortably on a small VM. sled's own
    /// default (1 GiB) is sized for a machine dedicated to one database.
    pub cache_capacity_bytes: u64,
    /// The most append requests the writer folds into one group (one sled batch, one flush).
    /// Larger groups mean fewer flushes under load but more memory per group; values below 1
    /// count as 1. It also sizes the request queue (twice this), which gives appenders
    /// backpressure when the disk falls behind.
    pub max_group_appends: usize,
    /// Called around every group flush; for tests and instrumentation (see [`FlushObserver`]).
    pub flush_observer: Option<Arc<dyn FlushObserver>>,
    /// How long `open` waits for a directory lock that may be about to be released: sled's IO
    /// threads can hold it for a moment after the last handle in this process closed, so a
    /// close-then-reopen would otherwise fail. Default 2 s; a lock held longer belongs to a live
    /// holder and `open` reports [`crate::OpenError::Locked`].
    pub lock_wait: std::time::Duration,
    /// What an acknowledged append survives. Default [`Durability::Synced`]: stable storage,
    /// which a service always uses; [`Durability::UnsafeNoFsync`] is for benchmarks only.
    pub durability: Durability,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            cache_capacity_bytes: 64 * 1024 * 1024,
            max_group_appends: 256,
            flush_observer: None,
            lock_wait: std::time::Duration::from_secs(2),
            durability: Durability::Synced,
        }
    }
}

impl fmt::Debug for LogOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogOptions")
            .field("cache_capacity_bytes", &self.cache_capacity_bytes)
            .field("max_group_appends", &self.max_group_appends)
            .field("flush_observer", &self.flush_observer.is_some())
            .field("lock_wait", &self.lock_wait)
            .field("durability", &self.durability)
            .finish()
    }
}

/// A hook around each group commit's flush, called on the writer thread. It lets tests prove
/// the ordering "flush returned, then ack" and inject flush failures, and lets a service time
/// its flushes. Both methods block the writer, so they must be quick in production.
pub trait FlushObserver: Send + Sync {
    /// Called after the group's batch is applied and before `flush`. `up_to_seq` is the last
    /// seq the flush will cover. Returning an error fails the whole group exactly as a failed
    /// flush would: every request of the group gets a storage error and the group is undone.
    fn before_flush(&self, up_to_seq: u64) -> std::io::Result<()>;
    /// Called after `flush` returned successfully, before the sync to stable storage and before
    /// any request of the group is answered.
    fn after_flush(&self, up_to_seq: u64);
    /// Called after the flushed data reached stable storage (see [`crate::stable`]), before any
    /// request of the group is answered; also after each snapshot or cursor write's sync. It
    /// lets a test prove that every acknowledged group was synced first.
    fn after_sync(&self, _up_to_seq: u64, _synced: &Synced) {}
}
