//! # csp-eventlog: one service's append-only event log, in sled
//!
//! Each service is the only writer of its own log (sled locks the directory). The log stores
//! opaque event records, already encoded by the caller, plus what the log itself needs:
//! gap-free seqs, dedupe by event id, per-stream versions for optimistic concurrency, outbox
//! seqs for the events to publish, per-tenant request records for idempotent retries,
//! projection snapshots and durable named cursors.
//!
//! ## Invariants
//!
//! - **Atomic appends**: a group's events (in pages) and its request records are written by ONE
//!   sled transaction over the events and requests trees (see [`layout::Trees::apply`]), so
//!   they are all there or none, also after a crash.
//! - **Gap-free seqs** from the writer's own counter (the last event of the last page at
//!   open), not sled's `generate_id`, which skips after a crash. Outbox seqs likewise.
//! - **Durable before acknowledged**: group commit (one writer thread decides and applies
//!   groups of appends, a flusher thread flushes each group once, then syncs it to stable
//!   storage, [`stable`]) answers only after the flush and the sync covering a batch
//!   returned; readers only see flushed events; a group whose apply or flush
//!   failed is undone (one transaction removing its keys), the indexes are rebuilt from sled,
//!   and every request in it fails.
//! - **Checks, in order**: the batch's shape ([`InvalidBatch`]); its request record (same body:
//!   [`AppendOutcome::AlreadyRecorded`], nothing written; other body:
//!   [`AppendError::IdempotencyConflict`]); then each event: an id already in the log (or
//!   earlier in the same group) is a duplicate, skipped and reported with its original seq; the
//!   others must continue their stream's version ([`AppendError::Conflict`]).
//! - **Snapshots and cursors** are written outside group commit, each flushed and synced before
//!   its call returns.
//!
//! ## Layout 3: pages of events, indexes in memory (see [`layout`], [`keys`], [`value`])
//!
//! | tree | key | value |
//! |---|---|---|
//! | `events` | seq of the page's first event | one event `[1][postcard {event_id, stream, version, outbox_seq}][payload]`, or a page `[2]([u32 len][event])*` of consecutive seqs, ≤ 4 KiB |
//! | `requests` | tenant (16) + request id | `[1][postcard {body_hash, reply, seqs}]` |
//! | `snapshots` | name + `0xFF` + code version (u32) | `[1][postcard {at_seq, bytes}]` |
//! | default tree | `m` + `epoch` / `layout` / `cursor/<name>` | `[1][uuid]` / `[1][3]` / `[1][u64]` |
//!
//! Why pages: sled's cost is per key, ~10 µs to apply one on the reference box whatever its
//! size up to a few KB; 1,000 events in ~70 pages cost a fraction of 1,000 keys. Why the dedupe,
//! stream and outbox indexes are in memory (see
//! `index.rs`): every event value already carries what they hold, so keeping them on disk
//! (layout 2) cost three more keys per event. They are rebuilt by one scan of the page headers
//! at open and cost ~50 bytes per event. Why separate trees: sled 0.34's memory grows without
//! bound when appends land at several positions of one tree (layout 1 reached 22 GB RSS at 1M
//! events). The metadata stays in sled's default tree under `m`-prefixed keys so every layout
//! version finds the layout version at the same key: a layout-2 log is upgraded in place (its
//! index trees dropped; its one-key events are one-event pages), layout 1 is refused with
//! [`OpenError::UnsupportedLayout`], never misread.
//!
//! ## Map
//!
//! - `log.rs`: [`EventLog`]: open, append, reads, epoch, snapshots, cursors, the layout upgrade.
//! - `writer.rs`: the writer thread (group commit); `writer/decide.rs` decides one request,
//!   `writer/flusher.rs` flushes and answers. Nothing else writes events.
//! - `index.rs`: the in-memory dedupe, stream and outbox indexes. `page.rs`: a page opened,
//!   and the scan over pages every whole-log read uses.
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
pub mod stable;
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
pub use stable::{Durability, Synced};
pub use stats::LogStats;
pub use tail::Tail;
pub use verify::{IndexKind, Problem, VerifyReport};
