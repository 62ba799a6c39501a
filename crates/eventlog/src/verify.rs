//! [`EventLog::verify`](crate::EventLog::verify): the full integrity check, for tests (crash,
//! property) and for an operator command.
//!
//! What it proves: seqs `1..=last` exist with no gap and decode; every event has its dedupe,
//! stream and (if published) outbox entry, each pointing back to it; outbox seqs are contiguous
//! in seq order; each stream's versions are `1..=n`; there is no index entry without its event
//! (counted: once every event's entries are found, equal counts mean there is no other entry;
//! only when a count differs are the entries walked one by one to name the orphans); every
//! request record's seqs exist; every snapshot is at or before the end; the epoch is there.
//!
//! On a live log it ignores what the writer has in flight: entries pointing past the durable
//! end but not past what the writer has applied. Anything pointing beyond that is reported.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
};

use uuid::Uuid;

use crate::{error::ReadError, keys, record::Record, value, writer::Durable};

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
    /// `i`: event id -> seq.
    Dedupe,
    /// `s`: stream + version -> seq.
    Stream,
    /// `o`: outbox seq -> seq.
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
    /// A key with a prefix the log does not use.
    UnknownKey {
        /// The key.
        key: Vec<u8>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingEvents { from, to } => write!(f, "events {from}..={to} are missing"),
            Self::Malformed { key, reason } => write!(f, "key {key:02x?}: {reason}"),
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
            Self::UnknownKey { key } => write!(f, "unknown key {key:02x?}"),
        }
    }
}

/// An index entry seen past the durable end; judged at the end against what the writer had
/// applied by then.
struct Beyond {
    index: Option<IndexKind>,
    key: Vec<u8>,
    seq: u64,
}

pub(crate) fn verify(
    db: &sled::Db,
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

    // 1. Events, in seq order, each checked against its index entries.
    let mut expected_seq = 1;
    let mut expected_outbox = 1;
    let mut published = 0;
    let mut gaps = false;
    for entry in db.scan_prefix([keys::EVENT]) {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let Some(seq) = keys::parse_prefixed_u64(&key) else {
            report.problem(malformed(&key, "malformed event key"));
            continue;
        };
        if seq > last {
            beyond.push(Beyond {
                index: None,
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
                report.problem(malformed(&key, &e.to_string()));
                continue;
            }
        };
        check_points_to(
            db,
            &mut report,
            seq,
            IndexKind::Dedupe,
            &keys::event_id(&record.event_id),
        )?;
        check_points_to(
            db,
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
                db,
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

    // 2. The indexes: count entries up to the durable end; walk them only if a count is off.
    let dedupe = count_index(
        db,
        &mut report,
        &mut beyond,
        keys::EVENT_ID,
        IndexKind::Dedupe,
        last,
    )?;
    let stream = count_streams(db, &mut report, &mut beyond, last)?;
    let outbox = count_index(
        db,
        &mut report,
        &mut beyond,
        keys::OUTBOX,
        IndexKind::Outbox,
        last,
    )?;
    if dedupe != report.events {
        find_orphans(db, &mut report, keys::EVENT_ID, IndexKind::Dedupe, last)?;
    }
    if stream != report.events {
        find_orphans(db, &mut report, keys::STREAM, IndexKind::Stream, last)?;
    }
    if outbox != published {
        find_orphans(db, &mut report, keys::OUTBOX, IndexKind::Outbox, last)?;
    }

    // 3. Request records, snapshots, metadata, and anything else.
    let mut saw_epoch = false;
    for entry in db.iter() {
        let (key, value) = entry.map_err(ReadError::sled)?;
        match key.first() {
            Some(&(keys::EVENT | keys::EVENT_ID | keys::STREAM | keys::OUTBOX)) => {}
            Some(&keys::REQUEST) => {
                report.requests += 1;
                let Some((tenant, request_id)) = keys::parse_request(&key) else {
                    report.problem(malformed(&key, "malformed request key"));
                    continue;
                };
                let stored: value::StoredRequest = match value::decode(&value) {
                    Ok(s) => s,
                    Err(reason) => {
                        report.problem(malformed(&key, &reason));
                        continue;
                    }
                };
                for seq in stored.seqs {
                    if seq > last {
                        beyond.push(Beyond {
                            index: None,
                            key: key.to_vec(),
                            seq,
                        });
                    } else if seq == 0
                        || (gaps && !db.contains_key(keys::event(seq)).map_err(ReadError::sled)?)
                    {
                        report.problem(Problem::RequestWithoutEvent {
                            tenant,
                            request_id: request_id.to_owned(),
                            seq,
                        });
                    }
                }
            }
            Some(&keys::SNAPSHOT) => {
                report.snapshots += 1;
                match value::decode::<value::StoredSnapshot>(&value) {
                    Ok(s) if s.at_seq > last => beyond.push(Beyond {
                        index: None,
                        key: key.to_vec(),
                        seq: s.at_seq,
                    }),
                    Ok(_) => {}
                    Err(reason) => report.problem(malformed(&key, &reason)),
                }
            }
            Some(&keys::META) => {
                let name = &key[1..];
                if name == keys::META_EPOCH.as_bytes() {
                    saw_epoch = true;
                } else if let Some(_cursor) = name.strip_prefix(keys::META_CURSOR_PREFIX.as_bytes())
                {
                    report.cursors += 1;
                    if value::decode_u64(&value).is_none() {
                        report.problem(malformed(&key, "cursor value is not a u64"));
                    }
                } else if name != keys::META_LAYOUT.as_bytes() {
                    report.problem(Problem::UnknownKey { key: key.to_vec() });
                }
            }
            _ => report.problem(Problem::UnknownKey { key: key.to_vec() }),
        }
    }
    if !saw_epoch {
        report.problem(Problem::MissingEpoch);
    }

    // 4. What pointed past the durable end is in flight only if the writer had applied it.
    let limit = applied_at_start.max(applied.load(Ordering::Acquire));
    for b in beyond.into_iter().filter(|b| b.seq > limit) {
        match (b.index, b.key.first()) {
            (Some(index), _) => report.problem(Problem::OrphanIndexEntry {
                index,
                key: b.key,
                points_to: b.seq,
            }),
            (None, Some(&keys::REQUEST)) => match keys::parse_request(&b.key) {
                Some((tenant, request_id)) => report.problem(Problem::RequestWithoutEvent {
                    tenant,
                    request_id: request_id.to_owned(),
                    seq: b.seq,
                }),
                None => report.problem(malformed(&b.key, "malformed request key")),
            },
            (None, Some(&keys::SNAPSHOT)) => report.problem(Problem::SnapshotPastEnd {
                key: b.key,
                at_seq: b.seq,
            }),
            (None, _) => report.problem(Problem::MissingEvents {
                from: last + 1,
                to: b.seq.saturating_sub(1),
            }),
        }
    }
    Ok(report)
}

fn malformed(key: &[u8], reason: &str) -> Problem {
    Problem::Malformed {
        key: key.to_vec(),
        reason: reason.to_owned(),
    }
}

/// Checks that the index entry `key` exists and holds `seq`.
fn check_points_to(
    db: &sled::Db,
    report: &mut VerifyReport,
    seq: u64,
    index: IndexKind,
    key: &[u8],
) -> Result<(), ReadError> {
    match db.get(key).map_err(ReadError::sled)? {
        None => report.problem(Problem::MissingIndexEntry { seq, index }),
        Some(v) => match keys::u64_from(&v) {
            Some(points_to) if points_to == seq => {}
            Some(points_to) => report.problem(Problem::WrongIndexEntry {
                seq,
                index,
                points_to,
            }),
            None => report.problem(malformed(key, "index value is not a seq")),
        },
    }
    Ok(())
}

/// Counts the entries of a `i` or `o` index pointing at or before `last`.
fn count_index(
    db: &sled::Db,
    report: &mut VerifyReport,
    beyond: &mut Vec<Beyond>,
    prefix: u8,
    index: IndexKind,
    last: u64,
) -> Result<u64, ReadError> {
    let mut count = 0;
    for entry in db.scan_prefix([prefix]) {
        let (key, value) = entry.map_err(ReadError::sled)?;
        match keys::u64_from(&value) {
            Some(seq) if seq <= last => count += 1,
            Some(seq) => beyond.push(Beyond {
                index: Some(index),
                key: key.to_vec(),
                seq,
            }),
            None => report.problem(malformed(&key, "index value is not a seq")),
        }
    }
    Ok(count)
}

/// Counts the stream index entries at or before `last`, checking each stream's versions are
/// `1, 2, 3, ...` and counting streams.
fn count_streams(
    db: &sled::Db,
    report: &mut VerifyReport,
    beyond: &mut Vec<Beyond>,
    last: u64,
) -> Result<u64, ReadError> {
    let mut count = 0;
    let mut current: Option<(String, u64)> = None;
    for entry in db.scan_prefix([keys::STREAM]) {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let (Some((stream, version)), Some(seq)) =
            (keys::parse_stream(&key), keys::u64_from(&value))
        else {
            report.problem(malformed(&key, "malformed stream index entry"));
            continue;
        };
        if seq > last {
            beyond.push(Beyond {
                index: Some(IndexKind::Stream),
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

/// Walks one index and reports every entry (at or before `last`) whose event does not name it.
fn find_orphans(
    db: &sled::Db,
    report: &mut VerifyReport,
    prefix: u8,
    index: IndexKind,
    last: u64,
) -> Result<(), ReadError> {
    for entry in db.scan_prefix([prefix]) {
        let (key, value) = entry.map_err(ReadError::sled)?;
        let Some(seq) = keys::u64_from(&value) else {
            continue; // already reported by the count
        };
        if seq > last {
            continue;
        }
        let names_it = match db.get(keys::event(seq)).map_err(ReadError::sled)? {
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
