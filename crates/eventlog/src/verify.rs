//! [`EventLog::verify`](crate::EventLog::verify): the full integrity check, for tests (crash,
//! property) and for an operator command.
//!
//! What it proves: seqs `1..=last` exist in the events tree with no gap and decode; no event id
//! occurs twice; each stream's versions are `1..=n` in seq order; outbox seqs are contiguous in
//! seq order and end at the durable outbox end; the in-memory indexes the log serves reads and
//! appends from (`index.rs`) hold exactly what the durable events say (they are rebuilt
//! from a fresh scan and compared); every request record's seqs exist; every snapshot is at or
//! before the end; the epoch is there; the default tree holds only metadata and there is no
//! tree the log does not use.
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
    index::{Index, SharedIndex},
    keys,
    layout::{self, Trees},
    page::Page,
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

/// Which in-memory index an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Event id -> seq.
    Dedupe,
    /// Stream + version -> seq.
    Stream,
    /// Outbox seq -> seq.
    Outbox,
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
    /// An event id occurs twice.
    DuplicateEventId {
        /// The later event.
        seq: u64,
        /// The event that had the id first.
        first_seq: u64,
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
        /// The entry's key: the event id's 16 bytes, the stream name + `0xFF` + version (u64
        /// BE), or the outbox seq (u64 BE).
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
            Self::DuplicateEventId { seq, first_seq } => {
                write!(f, "event {seq} repeats the id of event {first_seq}")
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
    index: &SharedIndex,
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

    // 1. Events, in seq order, indexed afresh as they come.
    let mut fresh = Index::default();
    let mut expected_seq = 1;
    let mut gaps = false;
    for entry in trees.events.iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let page = match Page::open(&key, value) {
            Ok(page) => page,
            Err(e) => {
                report.problem(malformed(layout::EVENTS, &key, &e.to_string()));
                continue;
            }
        };
        for i in 0..page.len() {
            let seq = page.first + i as u64;
            if seq > last {
                beyond.push(Beyond {
                    kind: BeyondKind::Event,
                    key: keys::event(seq).to_vec(),
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
            let decoded = page
                .event_value(i)
                .ok_or_else(|| ReadError::corrupt_event(seq, "event outside its page"))
                .and_then(|v| value::decode_event(seq, v));
            let (header, _) = match decoded {
                Ok(decoded) => decoded,
                Err(e) => {
                    report.problem(malformed(layout::EVENTS, &keys::event(seq), &e.to_string()));
                    continue;
                }
            };
            let id = Uuid::from_bytes(header.event_id);
            if let Some(first_seq) = fresh.seq_of(&id) {
                report.problem(Problem::DuplicateEventId { seq, first_seq });
            }
            let expected_version = fresh.version_at(header.stream, u64::MAX) + 1;
            if expected_version == 1 {
                report.streams += 1;
            }
            if header.version != expected_version {
                report.problem(Problem::StreamVersionGap {
                    stream: header.stream.to_owned(),
                    expected: expected_version,
                    found: header.version,
                });
            }
            if let Some(outbox) = header.outbox_seq {
                let expected = fresh.outbox.len() as u64 + 1;
                if outbox != expected {
                    report.problem(Problem::OutboxOutOfOrder {
                        seq,
                        expected,
                        found: outbox,
                    });
                }
            }
            fresh.add(seq, id, header.stream, header.version, header.outbox_seq);
        }
    }
    if expected_seq <= last {
        gaps = true;
        report.problem(Problem::MissingEvents {
            from: expected_seq,
            to: last,
        });
    }
    if fresh.last_outbox != durable.outbox_seq {
        report.problem(Problem::OutboxOutOfOrder {
            seq: last,
            expected: durable.outbox_seq,
            found: fresh.last_outbox,
        });
    }

    // 2. The live indexes, up to the durable end, against the fresh ones.
    let live = index.read()?.up_to(last);
    compare_indexes(&mut report, &fresh, &live);

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
                || (gaps && !matches!(Page::holding(&trees.events, seq), Ok(Some(_))))
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
        } else if name == keys::META_EPOCHS.as_bytes() {
            let entries = value.get(1..).unwrap_or_default();
            if value.first() != Some(&value::LOG_VALUE_FORMAT)
                || entries.is_empty()
                || entries.len() % 24 != 0
            {
                report.problem(malformed(layout::META, &key, "malformed epoch history"));
            }
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

/// Reports every difference between the indexes rebuilt from the durable events (`fresh`) and
/// the live ones cut at the durable end (`live`): an entry missing or pointing elsewhere (by
/// the event it should name), or an entry no event names (an orphan).
fn compare_indexes(report: &mut VerifyReport, fresh: &Index, live: &Index) {
    if fresh.ids != live.ids {
        for (id, &seq) in &fresh.ids {
            match live.ids.get(id) {
                None => report.problem(Problem::MissingIndexEntry {
                    seq,
                    index: IndexKind::Dedupe,
                }),
                Some(&points_to) if points_to != seq => report.problem(Problem::WrongIndexEntry {
                    seq,
                    index: IndexKind::Dedupe,
                    points_to,
                }),
                Some(_) => {}
            }
        }
        for (id, &points_to) in &live.ids {
            if !fresh.ids.contains_key(id) {
                report.problem(Problem::OrphanIndexEntry {
                    index: IndexKind::Dedupe,
                    key: id.as_bytes().to_vec(),
                    points_to,
                });
            }
        }
    }
    if fresh.streams != live.streams {
        let empty = Vec::new();
        for (stream, seqs) in &fresh.streams {
            let key = |v: usize| stream_key(stream, v);
            compare_lists(
                report,
                IndexKind::Stream,
                seqs,
                live.streams.get(stream).unwrap_or(&empty),
                key,
            );
        }
        for (stream, seqs) in &live.streams {
            if !fresh.streams.contains_key(stream) {
                compare_lists(report, IndexKind::Stream, &empty, seqs, |v| {
                    stream_key(stream, v)
                });
            }
        }
    }
    if fresh.outbox != live.outbox {
        compare_lists(
            report,
            IndexKind::Outbox,
            &fresh.outbox,
            &live.outbox,
            |at| (at as u64 + 1).to_be_bytes().to_vec(),
        );
    }
}

/// Compares two position-indexed lists of seqs (a stream's versions, the outbox).
fn compare_lists(
    report: &mut VerifyReport,
    index: IndexKind,
    fresh: &[u64],
    live: &[u64],
    key: impl Fn(usize) -> Vec<u8>,
) {
    for (at, &seq) in fresh.iter().enumerate() {
        match live.get(at) {
            None => report.problem(Problem::MissingIndexEntry { seq, index }),
            Some(&points_to) if points_to != seq => report.problem(Problem::WrongIndexEntry {
                seq,
                index,
                points_to,
            }),
            Some(_) => {}
        }
    }
    for (at, &points_to) in live.iter().enumerate().skip(fresh.len()) {
        report.problem(Problem::OrphanIndexEntry {
            index,
            key: key(at),
            points_to,
        });
    }
}

/// How a report names the stream index entry of version `at + 1`.
fn stream_key(stream: &str, at: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 9);
    key.extend_from_slice(stream.as_bytes());
    key.push(keys::NAME_END);
    key.extend_from_slice(&(at as u64 + 1).to_be_bytes());
    key
}
