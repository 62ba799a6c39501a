//! # csp-eventlog: one service's append-only event log, in sled
//!
//! Each service is the only writer of its own log (sled locks the directory). The log stores
//! opaque event records, already encoded by the caller, plus what the log itself needs:
//! gap-free seqs, a dedupe index, per-stream versions for optimistic concurrency, an outbox
//! index of the events to publish, per-tenant request records for idempotent retries,
//! projection snapshots and durable named cursors.
//!
//! ## Invariants
//!
//! - **Atomic appends**: a group's events, their index and outbox entries and its request
//!   records are written by ONE multi-tree sled transaction (one `sled::Batch` per tree, see
//!   [`layout::Trees::apply`]), so they are all there or none, also after a crash.
//! - **Gap-free seqs** from the writer's own counter (re-read from the events tree's last key
//!   at open), not sled's `generate_id`, which skips after a crash. Outbox seqs likewise.
//! - **Durable before acknowledged**: group commit (one writer thread decides and applies
//!   groups of appends, a flusher thread flushes each group once) answers only after the flush
//!   covering a batch returned; readers only see flushed events; a group whose apply or flush
//!   failed is undone (one transaction removing its keys) and every request in it fails.
//! - **Checks, in order**: the batch's shape ([`InvalidBatch`]); its request record (same body:
//!   [`AppendOutcome::AlreadyRecorded`], nothing written; other body:
//!   [`AppendError::IdempotencyConflict`]); then each event: an id already in the log (or
//!   earlier in the same group) is a duplicate, skipped and reported with its original seq; the
//!   others must continue their stream's version ([`AppendError::Conflict`]).
//! - **Snapshots and cursors** are written outside group commit, each flushed before its call
//!   returns.
//!
//! ## Layout: one sled tree per key family (numbers big-endian), see [`layout`] and [`keys`]
//!
//! | tree | key | value |
//! |---|---|---|
//! | `events` | seq | `[1][postcard {event_id, stream, version, outbox_seq}][payload]` |
//! | `event_ids` | event id (16) | seq |
//! | `streams` | stream + `0xFF` + version | seq |
//! | `outbox` | outbox seq | seq (published events only) |
//! | `requests` | tenant (16) + request id | `[1][postcard {body_hash, reply, seqs}]` |
//! | `snapshots` | name + `0xFF` + code version (u32) | `[1][postcard {at_seq, bytes}]` |
//! | default tree | `m` + `epoch` / `layout` / `cursor/<name>` | `[1][uuid]` / `[1][2]` / `[1][u64]` |
//!
//! Why separate trees: sled 0.34's memory grows without bound when appends land at several
//! positions of one tree (measured: ~1 GB RSS after 100k events, 22 GB after 1M, with four keys
//! per event in one tree; a few hundred MB with one tree per family). The metadata stays in
//! sled's default tree under `m`-prefixed keys so every layout version finds the layout version
//! (2; 1 was the single-tree layout) at the same key: a log of another layout is refused with
//! [`OpenError::UnsupportedLayout`], never misread.
//!
//! No per-stream "current version" key: the writer caches stream versions in memory and reads
//! the stream's last key only on a cache miss. Likewise the dedupe index is not read for new
//! ids: the writer keeps a Bloom filter of every id (built by the writer thread before its first
//! append, not by `open`, so a read-only process never scans the index) and reads `event_ids`
//! only on a "maybe" — measured, reading it cost ~20 % of a 1,000-event append.
//!
//! ## Map
//!
//! - `log.rs`: [`EventLog`]: open, append, reads, epoch, snapshots, cursors.
//! - `writer.rs`: the writer thread (group commit); `writer/decide.rs` decides one request,
//!   `writer/flusher.rs` flushes and answers. Nothing else writes events.
//! - `id_filter.rs`: the writer's Bloom filter of event ids.
//! - `batch.rs`: [`Batch`] in, [`AppendOutcome`] out. `record.rs`: [`Record`], [`Snapshot`].
//! - `read.rs`: [`Records`]. `tail.rs`: [`Tail`]. `verify.rs`: [`VerifyReport`].
//! - [`layout`] (trees), [`keys`] and [`value`]: the stored layout, public so benchmarks and
//!   offline tools open the same trees and write byte-identical data.
//! - `error.rs`, `options.rs`, `stats.rs`: errors, [`LogOptions`], [`LogStats`].

#![warn(missing_docs)]

mod batch;
mod error;
mod index;
pub mod keys;
pub mod layout;
mod log;
mod options;
mod page;
mod read;
mod record;
mod stats;
mod tail;
pub mod value;
mod verify;
mod writer;

#[cfg(test)]
mod tests;

pub use batch::{AppendOutcome, Batch, EventPosition, NewEvent, NewRequest, RequestRecord};
pub use error::{AppendError, InvalidBatch, OpenError, ReadError, StorageError, WriteError};
pub use log::EventLog;
pub use options::{FlushObserver, LogOptions};
pub use read::Records;
pub use record::{Record, Snapshot};
pub use stats::LogStats;
pub use tail::Tail;
pub use verify::{IndexKind, Problem, VerifyReport};
