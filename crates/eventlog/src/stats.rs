//! Counters of the writer's work, so tests and benchmarks can see group commit at work (for
//! example that 64 concurrent appends cost far fewer than 64 flushes) and where a group's time
//! goes (deciding, the sled transaction, the flush).

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
    /// Microseconds the writer spent deciding requests (checks, seqs, encoding the writes).
    pub decide_micros: u64,
    /// Microseconds the writer spent applying groups (the multi-tree sled transaction).
    pub apply_micros: u64,
    /// Microseconds the flusher spent in sled's flush (which runs beside the next group's
    /// decide and apply).
    pub flush_micros: u64,
    /// Syncs to stable storage after a flush (one per flushed group, see [`crate::stable`]).
    pub syncs: u64,
    /// Microseconds the flusher spent making flushed groups stable (`fdatasync` and friends).
    pub sync_micros: u64,
}

impl LogStats {
    /// The work done between `before` (an earlier snapshot of the same log) and `self`: what a
    /// benchmark reports for its measured phase only.
    pub fn since(&self, before: &LogStats) -> LogStats {
        LogStats {
            appends: self.appends - before.appends,
            groups: self.groups - before.groups,
            flushes: self.flushes - before.flushes,
            events_written: self.events_written - before.events_written,
            duplicates: self.duplicates - before.duplicates,
            refused: self.refused - before.refused,
            failed_groups: self.failed_groups - before.failed_groups,
            decide_micros: self.decide_micros - before.decide_micros,
            apply_micros: self.apply_micros - before.apply_micros,
            flush_micros: self.flush_micros - before.flush_micros,
            syncs: self.syncs - before.syncs,
            sync_micros: self.sync_micros - before.sync_micros,
        }
    }
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
    pub(crate) decide_micros: AtomicU64,
    pub(crate) apply_micros: AtomicU64,
    pub(crate) flush_micros: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) sync_micros: AtomicU64,
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
            decide_micros: self.decide_micros.load(Relaxed),
            apply_micros: self.apply_micros.load(Relaxed),
            flush_micros: self.flush_micros.load(Relaxed),
            syncs: self.syncs.load(Relaxed),
            sync_micros: self.sync_micros.load(Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Adds the time since `start` to a microseconds counter.
    pub(crate) fn add_elapsed(counter: &AtomicU64, start: std::time::Instant) {
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        counter.fetch_add(micros, Relaxed);
    }
}
