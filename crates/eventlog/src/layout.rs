//! The log's sled trees: their names (part of the on-disk layout), [`Trees`] to open them all,
//! and [`AppendBatches`] + [`Trees::apply`], the one atomic write of an append group.
//!
//! One tree per key family, not one tree with prefixed keys: sled 0.34's memory grows without
//! bound when appends land at several positions of one tree (measured: 4 keys per event in
//! 1,000-event batches reached ~1 GB RSS at 100k events and 22 GB at 1M), while the same keys
//! in separate trees, written by one multi-tree transaction per group, stay near 200–350 MB.
//! sled transactions are atomic across trees, also across a crash, so an append group is still
//! all there or not at all.
//!
//! The log's metadata (epoch, layout version, cursors) stays in sled's default tree under its
//! `m`-prefixed keys ([`crate::keys::meta`]): every layout version finds the layout version at
//! the same key, so a log of another layout is refused instead of misread.
//!
//! Public, like [`crate::keys`] and [`crate::value`], so that a benchmark's raw-sled baseline
//! or an offline tool opens the same trees and writes byte-identical data:
//!
//! ```no_run
//! # fn main() -> sled::Result<()> {
//! use csp_eventlog::{keys, layout, value};
//! let db = sled::open("/tmp/raw-log")?;
//! let trees = layout::Trees::open(&db)?;
//! let (seq, id, stream, version) = (1, uuid::Uuid::from_u128(1), "order/1", 1);
//! let mut group = layout::AppendBatches::default();
//! let mut buf = Vec::new();
//! value::encode_event(&mut buf, id.as_bytes(), stream, version, Some(seq), b"\x01payload");
//! group.events.insert(&keys::event(seq)[..], buf.as_slice());
//! group.event_ids.insert(&keys::event_id(&id)[..], &keys::seq_value(seq)[..]);
//! group.streams.insert(keys::stream(stream, version), &keys::seq_value(seq)[..]);
//! group.outbox.insert(&keys::outbox(seq)[..], &keys::seq_value(seq)[..]);
//! trees.apply(&group)?;
//! db.flush()?;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;

use sled::{transaction::TransactionError, Transactional};

/// Tree of the events: [`crate::keys::event`] (seq) -> an event value ([`crate::value`]).
pub const EVENTS: &str = "events";
/// Tree of the dedupe index: [`crate::keys::event_id`] -> seq.
pub const EVENT_IDS: &str = "event_ids";
/// Tree of the stream index: [`crate::keys::stream`] (stream, version) -> seq.
pub const STREAMS: &str = "streams";
/// Tree of the outbox index: [`crate::keys::outbox`] (outbox seq) -> seq.
pub const OUTBOX: &str = "outbox";
/// Tree of the request records: [`crate::keys::request`] (tenant, request id) -> a record.
pub const REQUESTS: &str = "requests";
/// Tree of the projection snapshots: [`crate::keys::snapshot`] (name, code version) -> one.
pub const SNAPSHOTS: &str = "snapshots";
/// How errors and reports name sled's default tree, which holds the log's metadata.
pub const META: &str = "meta";

/// Every tree the log creates besides sled's default tree, in the order of [`Trees`]' fields.
pub const TREES: [&str; 6] = [EVENTS, EVENT_IDS, STREAMS, OUTBOX, REQUESTS, SNAPSHOTS];

/// Handles to every tree of one log. Cheap to clone (sled handles are reference counted).
#[derive(Clone)]
pub struct Trees {
    /// The database; its default tree holds the metadata, and `db.flush()` flushes every tree.
    pub db: sled::Db,
    /// [`EVENTS`].
    pub events: sled::Tree,
    /// [`EVENT_IDS`].
    pub event_ids: sled::Tree,
    /// [`STREAMS`].
    pub streams: sled::Tree,
    /// [`OUTBOX`].
    pub outbox: sled::Tree,
    /// [`REQUESTS`].
    pub requests: sled::Tree,
    /// [`SNAPSHOTS`].
    pub snapshots: sled::Tree,
}

impl Trees {
    /// Opens (creating if missing) every tree of the log in `db`.
    pub fn open(db: &sled::Db) -> sled::Result<Trees> {
        Ok(Trees {
            db: db.clone(),
            events: db.open_tree(EVENTS)?,
            event_ids: db.open_tree(EVENT_IDS)?,
            streams: db.open_tree(STREAMS)?,
            outbox: db.open_tree(OUTBOX)?,
            requests: db.open_tree(REQUESTS)?,
            snapshots: db.open_tree(SNAPSHOTS)?,
        })
    }

    /// Applies one group's writes as ONE multi-tree sled transaction: every batch or none,
    /// also across a crash. It does not flush; durability is the caller's `db.flush()`.
    pub fn apply(&self, group: &AppendBatches) -> sled::Result<()> {
        let trees = (
            &self.events,
            &self.event_ids,
            &self.streams,
            &self.outbox,
            &self.requests,
        );
        // The closure only touches the transactional views (sled holds its global write lock
        // while it runs), and sled reruns it on an internal conflict, so it must stay pure.
        trees
            .transaction(|(events, event_ids, streams, outbox, requests)| {
                events.apply_batch(&group.events)?;
                event_ids.apply_batch(&group.event_ids)?;
                streams.apply_batch(&group.streams)?;
                outbox.apply_batch(&group.outbox)?;
                requests.apply_batch(&group.requests)?;
                Ok::<(), sled::transaction::ConflictableTransactionError<Infallible>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => e,
                TransactionError::Abort(never) => match never {},
            })
    }
}

/// One append group's writes, one `sled::Batch` per tree; [`Trees::apply`] writes them
/// atomically. The writer also uses it, with removals, to undo a failed group.
#[derive(Debug, Clone, Default)]
pub struct AppendBatches {
    /// Writes to [`EVENTS`].
    pub events: sled::Batch,
    /// Writes to [`EVENT_IDS`].
    pub event_ids: sled::Batch,
    /// Writes to [`STREAMS`].
    pub streams: sled::Batch,
    /// Writes to [`OUTBOX`].
    pub outbox: sled::Batch,
    /// Writes to [`REQUESTS`].
    pub requests: sled::Batch,
}
