//! [`Records`]: the iterator behind every read. It walks sled directly: the whole-log and
//! outbox reads decode the events tree's values as sled yields them (the outbox read skipping
//! unpublished events), a stream read fetches each of the stream's seqs (from the in-memory
//! index) by key.

use crate::{error::ReadError, keys, layout::EVENTS, record::Record};

/// An iterator of stored events. Each item is a `Result` so a damaged record is reported (with
/// its key) instead of ending the read silently or panicking; the iterator continues after it.
pub struct Records {
    inner: Inner,
}

enum Inner {
    Empty,
    /// The events tree from some seq on, in seq order; stops after seq `last` (the durable
    /// end). The iterator has no upper bound: checking the seq already parsed from each key
    /// is cheaper than sled comparing every key against an upper-bound key.
    Log {
        iter: sled::Iter,
        last: u64,
    },
    /// The events tree from the event of outbox seq `from` on, yielding published events with
    /// outbox seqs `from..=last_outbox` and stopping after them or after seq `last`.
    Outbox {
        iter: sled::Iter,
        last: u64,
        from: u64,
        last_outbox: u64,
    },
    /// These seqs (all durable), each fetched from the events tree.
    Seqs {
        events: sled::Tree,
        seqs: std::vec::IntoIter<u64>,
    },
}

impl Records {
    pub(crate) fn empty() -> Self {
        Self {
            inner: Inner::Empty,
        }
    }

    pub(crate) fn log(iter: sled::Iter, last: u64) -> Self {
        Self {
            inner: Inner::Log { iter, last },
        }
    }

    pub(crate) fn outbox(iter: sled::Iter, last: u64, from: u64, last_outbox: u64) -> Self {
        Self {
            inner: Inner::Outbox {
                iter,
                last,
                from,
                last_outbox,
            },
        }
    }

    pub(crate) fn seqs(events: sled::Tree, seqs: Vec<u64>) -> Self {
        Self {
            inner: Inner::Seqs {
                events,
                seqs: seqs.into_iter(),
            },
        }
    }
}

/// The next entry of an events-tree scan as (seq, value); `Err` for a sled failure or a key
/// that is not a seq.
fn next_event(iter: &mut sled::Iter) -> Option<Result<(u64, sled::IVec), ReadError>> {
    let (key, value) = match iter.next()? {
        Ok(entry) => entry,
        Err(e) => return Some(Err(ReadError::sled(e))),
    };
    Some(match keys::u64_from(&key) {
        Some(seq) => Ok((seq, value)),
        None => Err(ReadError::corrupt(EVENTS, &key, "malformed event key")),
    })
}

impl Iterator for Records {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Empty => None,
            Inner::Log { iter, last } => {
                let (seq, value) = match next_event(iter)? {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(e)),
                };
                if seq > *last {
                    // Keys are in seq order: everything from here on is past the durable end.
                    self.inner = Inner::Empty;
                    return None;
                }
                Some(Record::decode(seq, value))
            }
            Inner::Outbox {
                iter,
                last,
                from,
                last_outbox,
            } => loop {
                let (seq, value) = match next_event(iter)? {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(e)),
                };
                if seq > *last {
                    self.inner = Inner::Empty;
                    return None;
                }
                let record = match Record::decode(seq, value) {
                    Ok(record) => record,
                    Err(e) => return Some(Err(e)),
                };
                match record.outbox_seq {
                    Some(o) if o > *last_outbox => {
                        self.inner = Inner::Empty;
                        return None;
                    }
                    Some(o) if o >= *from => return Some(Ok(record)),
                    _ => {} // not published, or before the start: skip
                }
            },
            Inner::Seqs { events, seqs } => {
                let seq = seqs.next()?;
                Some(match events.get(keys::event(seq)) {
                    Err(e) => Err(ReadError::sled(e)),
                    Ok(None) => Err(ReadError::corrupt_event(
                        seq,
                        "the stream index names a missing event",
                    )),
                    Ok(Some(value)) => Record::decode(seq, value),
                })
            }
        }
    }
}
