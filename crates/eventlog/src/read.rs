//! [`Records`]: the iterator behind every read. It walks sled directly: the whole-log read
//! decodes the events tree's values as sled yields them, stream and outbox reads walk their
//! index tree and fetch each event from the events tree by seq.

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
    /// Entries of the index tree `index` whose value is a seq; stops at the first seq past
    /// `last` (not durable).
    Indexed {
        events: sled::Tree,
        index: &'static str,
        iter: sled::Iter,
        last: u64,
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

    pub(crate) fn indexed(
        events: sled::Tree,
        index: &'static str,
        iter: sled::Iter,
        last: u64,
    ) -> Self {
        Self {
            inner: Inner::Indexed {
                events,
                index,
                iter,
                last,
            },
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Empty => None,
            Inner::Log { iter, last } => {
                let (key, value) = match iter.next()? {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(ReadError::sled(e))),
                };
                let Some(seq) = keys::u64_from(&key) else {
                    return Some(Err(ReadError::corrupt(EVENTS, &key, "malformed event key")));
                };
                if seq > *last {
                    // Keys are in seq order: everything from here on is past the durable end.
                    self.inner = Inner::Empty;
                    return None;
                }
                Some(Record::decode(seq, value))
            }
            Inner::Indexed {
                events,
                index,
                iter,
                last,
            } => {
                let (key, value) = match iter.next()? {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(ReadError::sled(e))),
                };
                let Some(seq) = keys::u64_from(&value) else {
                    return Some(Err(ReadError::corrupt(
                        index,
                        &key,
                        "index value is not a seq",
                    )));
                };
                if seq > *last {
                    // Index entries of one stream (or of the outbox) are in seq order, so
                    // everything after this one is past the durable end too.
                    self.inner = Inner::Empty;
                    return None;
                }
                Some(match events.get(keys::event(seq)) {
                    Err(e) => Err(ReadError::sled(e)),
                    Ok(None) => Err(ReadError::corrupt(
                        index,
                        &key,
                        format!("points to missing event {seq}"),
                    )),
                    Ok(Some(value)) => Record::decode(seq, value),
                })
            }
        }
    }
}
