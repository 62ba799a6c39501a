//! Counters of the writer's work, so tests and benchmarks can see group commit at work (for
//! example that 64 concurrent appends cost far fewer than 64 flushes).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the log's counters since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Append requests the writer handled (accepted, refused or failed).
    pub appends: u64,
    /// Groups the writer formed (each at most one sled transaction and one flush).
    pub groups: u64,
    /// Flushes attempted by the writer (a group that writes nothing needs none).
    pub flushes: u64,
    /// Events made durable (duplicates not counted).
    pub events_written: u64,
    /// Events skipped as duplicates of an event already in the log.
    pub duplicates: u64,
    /// Requests refused (version conflict, idempotency conflict, invalid).
    pub refused: u64,
    /// Groups whose apply or flush failed.
    pub failed_groups: u64,
}

/// The live counters, shared between the writer and the handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) appends: AtomicU64,
    pub(crate) groups: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) events_written: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) failed_groups: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> LogStats {
        LogStats {
            appends: self.appends.load(Relaxed),
            groups: self.groups.load(Relaxed),
            flushes: self.flushes.load(Relaxed),
            events_written: self.events_written.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            refused: self.refused.load(Relaxed),
            failed_groups: self.failed_groups.load(Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}
