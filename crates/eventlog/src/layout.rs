//! The log's sled trees: their names (part of the on-disk layout), [`Trees`] to open them all,
//! and [`AppendBatches`] + [`Trees::apply`], the one atomic write of an append group.
//!
//! Layout 3: the events tree holds pages of events under the seq of each page's first event
//! ([`crate::value`]); each event's value carries its id, stream, version and outbox seq, so
//! the dedupe, stream and outbox indexes are rebuilt in memory (on first use) instead of being
//! written as three more keys per event (sled's cost is per key). Layout 2 had those three
//! index trees and one key per event; opening a layout-2 log drops the index trees and records
//! layout 3, which is all the upgrade takes (a one-event value is a one-event page).
//!
//! One tree per key family, not one tree with prefixed keys: sled 0.34's memory grows without
//! bound when appends land at several positions of one tree (measured in layout 1: 22 GB RSS at
//! 1M events). sled transactions are atomic across trees, also across a crash, so an append
//! group (its events and its request records) is still all there or not at all.
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
//! let mut pages = value::PageBuilder::default();
//! pages.push(seq, &buf);
//! for (first, page) in pages.finish() {
//!     group.events.insert(&keys::event(first)[..], page);
//! }
//! trees.apply(&group)?;
//! db.flush()?;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;

use sled::{transaction::TransactionError, Transactional};

/// Tree of the events: [`crate::keys::event`] (seq) -> an event value ([`crate::value`]).
pub const EVENTS: &str = "events";
/// Tree of the request records: [`crate::keys::request`] (tenant, request id) -> a record.
pub const REQUESTS: &str = "requests";
/// Tree of the projection snapshots: [`crate::keys::snapshot`] (name, code version) -> one.
pub const SNAPSHOTS: &str = "snapshots";
/// How errors and reports name sled's default tree, which holds the log's metadata.
pub const META: &str = "meta";

/// Every tree the log creates besides sled's default tree, in the order of [`Trees`]' fields.
pub const TREES: [&str; 3] = [EVENTS, REQUESTS, SNAPSHOTS];

/// The index trees of layout 2 (dedupe, stream, outbox), dropped when a layout-2 log is opened:
/// layout 3 keeps those indexes in memory.
pub const RETIRED_TREES: [&str; 3] = ["event_ids", "streams", "outbox"];

/// Handles to every tree of one log. Cheap to clone (sled handles are reference counted).
#[derive(Clone)]
pub struct Trees {
    /// The database; its default tree holds the metadata, and `db.flush()` flushes every tree.
    pub db: sled::Db,
    /// [`EVENTS`].
    pub events: sled::Tree,
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
            requests: db.open_tree(REQUESTS)?,
            snapshots: db.open_tree(SNAPSHOTS)?,
        })
    }

    /// Applies one group's writes as ONE multi-tree sled transaction: both batches or none,
    /// also across a crash. It does not flush; durability is the caller's `db.flush()`.
    /// (Measured: a transaction over the two trees costs the same as a plain `apply_batch` of
    /// the events alone; what costs is the number of keys.)
    pub fn apply(&self, group: &AppendBatches) -> sled::Result<()> {
        // The closure only touches the transactional views (sled holds its global write lock
        // while it runs), and sled reruns it on an internal conflict, so it must stay pure.
        (&self.events, &self.requests)
            .transaction(|(events, requests)| {
                events.apply_batch(&group.events)?;
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
    /// Writes to [`REQUESTS`].
    pub requests: sled::Batch,
}
