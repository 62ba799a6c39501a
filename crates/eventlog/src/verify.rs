//! [`EventLog::verify`](crate::EventLog::verify): the full integrity check, for tests (crash,
//! property) and for an operator command.
//!
//! What it proves, across the log's trees ([`crate::layout`]): seqs `1..=last` exist in the
//! events tree with no gap and decode; every event has its dedupe, stream and (if published)
//! outbox entry in those trees, each pointing back to it; outbox seqs are contiguous in seq
//! order; each stream's versions are `1..=n`; there is no index entry without its event
//! (counted: once every event's entries are found, equal counts mean there is no other entry;
//! only when a count differs are the entries walked one by one to name the orphans); every
//! request record's seqs exist; every snapshot is at or before the end; the epoch is there;
//! the default tree holds only metadata and there is no tree the log does not use.
//!
//! On a live log it ignores what the writer has in flight: entries pointing past the durable
//! end but not past what the writer has applied. Anything pointing beyond that is reported.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
};

use uuid::Uuid;

use crate::{
    error::ReadError,
    keys,
    layout::{self, Trees},
    record::Record,
    value,
    writer::Durable,
};

/// Problems beyond this many are counted, not listed.
const MAX_PROBLEMS: usize = 1000;

/// The result of a verification: what was seen, and every problem found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The durable end the check ran against.
    pub last_seq: u64,
    /// The durable outbox end the check ran against.
    pub last_outbox_seq: u64,
    /// Events found (seq <= `last_seq`).
    pub events: u64,
    /// Distinct streams.
    pub streams: u64,
    /// Request records.
    pub requests: u64,
    /// Snapshots.
    pub snapshots: u64,
    /// Named cursors.
    pub cursors: u64,
    /// The problems found, at most 1000.
    pub problems: Vec<Problem>,
    /// How many more problems were found than are listed.
    pub problems_omitted: u64,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.problems_omitted == 0
    }

    fn problem(&mut self, problem: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.problems_omitted += 1;
        }
    }
}

/// Which index an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// The [`layout::EVENT_IDS`] tree: event id -> seq.
    Dedupe,
    /// The [`layout::STREAMS`] tree: stream + version -> seq.
    Stream,
    /// The [`layout::OUTBOX`] tree: outbox seq -> seq.
    Outbox,
}

impl IndexKind {
    /// The name of the index's tree.
    pub fn tree(self) -> &'static str {
        match self {
            Self::Dedupe => layout::EVENT_IDS,
            Self::Stream => layout::STREAMS,
            Self::Outbox => layout::OUTBOX,
        }
    }

    fn of(self, trees: &Trees) -> &sled::Tree {
        match self {
            Self::Dedupe => &trees.event_ids,
            Self::Stream => &trees.streams,
            Self::Outbox => &trees.outbox,
        }
    }
}

/// One integrity problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Seqs `from..=to` are missing.
    MissingEvents {
        /// First missing seq.
        from: u64,
        /// Last missing seq.
        to: u64,
    },
    /// A key or value that cannot be decoded.
    Malformed {
        /// The tree it is in (a [`layout`] name).
        tree: &'static str,
        /// The key.
        key: Vec<u8>,
        /// What is wrong.
        reason: String,
    },
    /// An event lacks its index entry.
    MissingIndexEntry {
        /// The event.
        seq: u64,
        /// The index.
        index: IndexKind,
    },
    /// An event's index entry points to another seq.
    WrongIndexEntry {
        /// The event.
        seq: u64,
        /// The index.
        index: IndexKind,
        /// Where the entry points instead.
        points_to: u64,
    },
    /// An index entry with no event naming it.
    OrphanIndexEntry {
        /// The index.
        index: IndexKind,
        /// The entry's key.
        key: Vec<u8>,
        /// The seq it points to.
        points_to: u64,
    },
    /// A published event's outbox seq is not the next one.
    OutboxOutOfOrder {
        /// The event.
        seq: u64,
        /// The outbox seq it should have.
        expected: u64,
        /// The outbox seq it has.
        found: u64,
    },
    /// A stream's versions are not `1, 2, 3, ...`.
    StreamVersionGap {
        /// The stream.
        stream: String,
        /// The version expected.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// A request record names a seq that does not exist.
    RequestWithoutEvent {
        /// The tenant.
        tenant: Uuid,
        /// The request id.
        request_id: String,
        /// The missing seq.
        seq: u64,
    },
    /// A snapshot claims a seq past the end of the log.
    SnapshotPastEnd {
        /// The snapshot's key.
        key: Vec<u8>,
        /// Its claimed seq.
        at_seq: u64,
    },
    /// The log has no epoch.
    MissingEpoch,
    /// A key in sled's default tree that is not one of the log's metadata keys.
    UnknownKey {
        /// The key.
        key: Vec<u8>,
    },
    /// A sled tree the log does not use.
    UnknownTree {
        /// Its name (lossily decoded as utf-8).
        name: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingEvents { from, to } => write!(f, "events {from}..={to} are missing"),
            Self::Malformed { tree, key, reason } => {
                write!(f, "tree {tree}, key {key:02x?}: {reason}")
            }
            Self::MissingIndexEntry { seq, index } => {
                write!(f, "event {seq} has no {index:?} index entry")
            }
            Self::WrongIndexEntry {
                seq,
                index,
                points_to,
            } => write!(
                f,
                "event {seq}'s {index:?} index entry points to {points_to}"
            ),
            Self::OrphanIndexEntry {
                index,
                key,
                points_to,
            } => write!(
                f,
                "{index:?} index entry {key:02x?} points to {points_to}, which does not name it"
            ),
            Self::OutboxOutOfOrder {
                seq,
                expected,
                found,
            } => write!(f, "event {seq} has outbox seq {found}, expected {expected}"),
            Self::StreamVersionGap {
                stream,
                expected,
                found,
            } => write!(
                f,
                "stream {stream}: version {found} where {expected} was expected"
            ),
            Self::RequestWithoutEvent {
                tenant,
                request_id,
                seq,
            } => write!(
                f,
                "request {request_id} of tenant {tenant} names missing event {seq}"
            ),
            Self::SnapshotPastEnd { key, at_seq } => {
                write!(f, "snapshot {key:02x?} is at seq {at_seq}, past the end")
            }
            Self::MissingEpoch => write!(f, "the log has no epoch"),
            Self::UnknownKey { key } => write!(f, "unknown key {key:02x?} in the default tree"),
            Self::UnknownTree { name } => write!(f, "unknown tree {name:?}"),
        }
    }
}

/// What an entry seen past the durable end is.
enum BeyondKind {
    Event,
    Index(IndexKind),
    Request,
    Snapshot,
}

/// An entry seen past the durable end; judged at the end against what the writer had applied
/// by then.
struct Beyond {
    kind: BeyondKind,
    key: Vec<u8>,
    seq: u64,
}

pub(crate) fn verify(
    trees: &Trees,
    durable: Durable,
    applied: &AtomicU64,
) -> Result<VerifyReport, ReadError> {
    let applied_at_start = applied.load(Ordering::Acquire);
    let mut report = VerifyReport {
        last_seq: durable.seq,
        last_outbox_seq: durable.outbox_seq,
        ..VerifyReport::default()
    };
    let mut beyond = Vec::new();
    let last = durable.seq;

    // 1. Events, in seq order, each checked against its entries in the index trees.
    let mut expected_seq = 1;
    let mut expected_outbox = 1;
    let mut published = 0;
    let mut gaps = false;
    for entry in trees.events.iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let Some(seq) = keys::u64_from(&key) else {
            report.problem(malformed(layout::EVENTS, &key, "malformed event key"));
            continue;
        };
        if seq > last {
            beyond.push(Beyond {
                kind: BeyondKind::Event,
                key: key.to_vec(),
                seq,
            });
            continue;
        }
        if seq != expected_seq {
            gaps = true;
            report.problem(Problem::MissingEvents {
                from: expected_seq,
                to: seq.saturating_sub(1),
            });
        }
        expected_seq = seq + 1;
        report.events += 1;
        let record = match Record::decode(seq, value) {
            Ok(r) => r,
            Err(e) => {
                report.problem(malformed(layout::EVENTS, &key, &e.to_string()));
                continue;
            }
        };
        check_points_to(
            trees,
            &mut report,
            seq,
            IndexKind::Dedupe,
            &keys::event_id(&record.event_id),
        )?;
        check_points_to(
            trees,
            &mut report,
            seq,
            IndexKind::Stream,
            &keys::stream(record.stream(), record.version),
        )?;
        if let Some(outbox) = record.outbox_seq {
            published += 1;
            if outbox != expected_outbox {
                report.problem(Problem::OutboxOutOfOrder {
                    seq,
                    expected: expected_outbox,
                    found: outbox,
                });
            }
            expected_outbox = outbox + 1;
            check_points_to(
                trees,
                &mut report,
                seq,
                IndexKind::Outbox,
                &keys::outbox(outbox),
            )?;
        }
    }
    if expected_seq <= last {
        gaps = true;
        report.problem(Problem::MissingEvents {
            from: expected_seq,
            to: last,
        });
    }
    let last_outbox_found = expected_outbox - 1;
    if last_outbox_found != durable.outbox_seq {
        report.problem(Problem::OutboxOutOfOrder {
            seq: last,
            expected: durable.outbox_seq,
            found: last_outbox_found,
        });
    }

    // 2. The index trees: count entries up to the durable end; walk them only if a count is off.
    let dedupe = count_index(trees, &mut report, &mut beyond, IndexKind::Dedupe, last)?;
    let stream = count_streams(trees, &mut report, &mut beyond, last)?;
    let outbox = count_index(trees, &mut report, &mut beyond, IndexKind::Outbox, last)?;
    if dedupe != report.events {
        find_orphans(trees, &mut report, IndexKind::Dedupe, last)?;
    }
    if stream != report.events {
        find_orphans(trees, &mut report, IndexKind::Stream, last)?;
    }
    if outbox != published {
        find_orphans(trees, &mut report, IndexKind::Outbox, last)?;
    }

    // 3. Request records, snapshots, metadata, and any tree the log does not use.
    for entry in trees.requests.iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        report.requests += 1;
        let Some((tenant, request_id)) = keys::parse_request(&key) else {
            report.problem(malformed(layout::REQUESTS, &key, "malformed request key"));
            continue;
        };
        let stored: value::StoredRequest = match value::decode(&value) {
            Ok(s) => s,
            Err(reason) => {
                report.problem(malformed(layout::REQUESTS, &key, &reason));
                continue;
            }
        };
        for seq in stored.seqs {
            if seq > last {
                beyond.push(Beyond {
                    kind: BeyondKind::Request,
                    key: key.to_vec(),
                    seq,
                });
            } else if seq == 0
                || (gaps
                    && !trees
                        .events
                        .contains_key(keys::event(seq))
                        .map_err(ReadError::sled)?)
            {
                report.problem(Problem::RequestWithoutEvent {
                    tenant,
                    request_id: request_id.to_owned(),
                    seq,
                });
            }
        }
    }
    for entry in trees.snapshots.iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        report.snapshots += 1;
        match value::decode::<value::StoredSnapshot>(&value) {
            Ok(s) if s.at_seq > last => beyond.push(Beyond {
                kind: BeyondKind::Snapshot,
                key: key.to_vec(),
                seq: s.at_seq,
            }),
            Ok(_) => {}
            Err(reason) => report.problem(malformed(layout::SNAPSHOTS, &key, &reason)),
        }
    }
    let mut saw_epoch = false;
    for entry in trees.db.iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let Some((&keys::META, name)) = key.split_first() else {
            report.problem(Problem::UnknownKey { key: key.to_vec() });
            continue;
        };
        if name == keys::META_EPOCH.as_bytes() {
            saw_epoch = true;
        } else if name.starts_with(keys::META_CURSOR_PREFIX.as_bytes()) {
            report.cursors += 1;
            if value::decode_u64(&value).is_none() {
                report.problem(malformed(layout::META, &key, "cursor value is not a u64"));
            }
        } else if name != keys::META_LAYOUT.as_bytes() {
            report.problem(Problem::UnknownKey { key: key.to_vec() });
        }
    }
    if !saw_epoch {
        report.problem(Problem::MissingEpoch);
    }
    let default_tree = trees.db.name();
    for name in trees.db.tree_names() {
        if name != default_tree && !layout::TREES.iter().any(|t| name == t.as_bytes()) {
            report.problem(Problem::UnknownTree {
                name: String::from_utf8_lossy(&name).into_owned(),
            });
        }
    }

    // 4. What pointed past the durable end is in flight only if the writer had applied it.
    let limit = applied_at_start.max(applied.load(Ordering::Acquire));
    for b in beyond.into_iter().filter(|b| b.seq > limit) {
        match b.kind {
            BeyondKind::Index(index) => report.problem(Problem::OrphanIndexEntry {
                index,
                key: b.key,
                points_to: b.seq,
            }),
            BeyondKind::Request => match keys::parse_request(&b.key) {
                Some((tenant, request_id)) => report.problem(Problem::RequestWithoutEvent {
                    tenant,
                    request_id: request_id.to_owned(),
                    seq: b.seq,
                }),
                None => {
                    report.problem(malformed(layout::REQUESTS, &b.key, "malformed request key"))
                }
            },
            BeyondKind::Snapshot => report.problem(Problem::SnapshotPastEnd {
                key: b.key,
                at_seq: b.seq,
            }),
            BeyondKind::Event => report.problem(Problem::MissingEvents {
                from: last + 1,
                to: b.seq.saturating_sub(1),
            }),
        }
    }
    Ok(report)
}

fn malformed(tree: &'static str, key: &[u8], reason: &str) -> Problem {
    Problem::Malformed {
        tree,
        key: key.to_vec(),
        reason: reason.to_owned(),
    }
}

/// Checks that the entry `key` of the index exists and holds `seq`.
fn check_points_to(
    trees: &Trees,
    report: &mut VerifyReport,
    seq: u64,
    index: IndexKind,
    key: &[u8],
) -> Result<(), ReadError> {
    match index.of(trees).get(key).map_err(ReadError::sled)? {
        None => report.problem(Problem::MissingIndexEntry { seq, index }),
        Some(v) => match keys::u64_from(&v) {
            Some(points_to) if points_to == seq => {}
            Some(points_to) => report.problem(Problem::WrongIndexEntry {
                seq,
                index,
                points_to,
            }),
            None => report.problem(malformed(index.tree(), key, "index value is not a seq")),
        },
    }
    Ok(())
}

/// Counts the entries of the dedupe or outbox index pointing at or before `last`.
fn count_index(
    trees: &Trees,
    report: &mut VerifyReport,
    beyond: &mut Vec<Beyond>,
    index: IndexKind,
    last: u64,
) -> Result<u64, ReadError> {
    let mut count = 0;
    for entry in index.of(trees).iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        match keys::u64_from(&value) {
            Some(seq) if seq <= last => count += 1,
            Some(seq) => beyond.push(Beyond {
                kind: BeyondKind::Index(index),
                key: key.to_vec(),
                seq,
            }),
            None => report.problem(malformed(index.tree(), &key, "index value is not a seq")),
        }
    }
    Ok(count)
}

/// Counts the stream index entries at or before `last`, checking each stream's versions are
/// `1, 2, 3, ...` and counting streams.
fn count_streams(
    trees: &Trees,
    report: &mut VerifyReport,
    beyond: &mut Vec<Beyond>,
    last: u64,
) -> Result<u64, ReadError> {
    let mut count = 0;
    let mut current: Option<(String, u64)> = None;
    for entry in trees.streams.iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let (Some((stream, version)), Some(seq)) =
            (keys::parse_stream(&key), keys::u64_from(&value))
        else {
            report.problem(malformed(
                layout::STREAMS,
                &key,
                "malformed stream index entry",
            ));
            continue;
        };
        if seq > last {
            beyond.push(Beyond {
                kind: BeyondKind::Index(IndexKind::Stream),
                key: key.to_vec(),
                seq,
            });
            continue;
        }
        count += 1;
        let expected = match &mut current {
            Some((name, v)) if name == stream => {
                *v += 1;
                *v
            }
            _ => {
                report.streams += 1;
                current = Some((stream.to_owned(), 1));
                1
            }
        };
        if version != expected {
            report.problem(Problem::StreamVersionGap {
                stream: stream.to_owned(),
                expected,
                found: version,
            });
            if let Some((_, v)) = &mut current {
                *v = version;
            }
        }
    }
    Ok(count)
}

/// Walks one index tree and reports every entry (at or before `last`) whose event does not
/// name it.
fn find_orphans(
    trees: &Trees,
    report: &mut VerifyReport,
    index: IndexKind,
    last: u64,
) -> Result<(), ReadError> {
    for entry in index.of(trees).iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let Some(seq) = keys::u64_from(&value) else {
            continue; // already reported by the count
        };
        if seq > last {
            continue;
        }
        let names_it = match trees
            .events
            .get(keys::event(seq))
            .map_err(ReadError::sled)?
        {
            None => false,
            Some(v) => match Record::decode(seq, v) {
                Err(_) => false,
                Ok(r) => match index {
                    IndexKind::Dedupe => key.as_ref() == keys::event_id(&r.event_id),
                    IndexKind::Stream => {
                        key.as_ref() == keys::stream(r.stream(), r.version).as_slice()
                    }
                    IndexKind::Outbox => r
                        .outbox_seq
                        .is_some_and(|o| key.as_ref() == keys::outbox(o)),
                },
            },
        };
        if !names_it {
            report.problem(Problem::OrphanIndexEntry {
                index,
                key: key.to_vec(),
                points_to: seq,
            });
        }
    }
    Ok(())
}
