//! [`Records`]: the iterator behind every read. It walks sled directly: the whole-log and
//! outbox reads scan the events tree's pages in seq order (the outbox read skipping unpublished
//! events), a stream read fetches the page of each of the stream's seqs (from the in-memory
//! index).

use crate::{error::ReadError, page::Page, page::PageScan, record::Record};

/// An iterator of stored events. Each item is a `Result` so a damaged record is reported (with
/// its key) instead of ending the read silently or panicking; the iterator continues after it.
pub struct Records {
    inner: Inner,
}

enum Inner {
    Empty,
    /// The read could not start (its index could not be built): this error, then nothing.
    Failed(Option<ReadError>),
    /// The events from some seq to the durable end.
    Log(PageScan),
    /// Published events with outbox seqs `from..=last_outbox`, found by scanning from the
    /// event of outbox seq `from`.
    Outbox {
        scan: PageScan,
        from: u64,
        last_outbox: u64,
    },
    /// These seqs (all durable), each looked up; consecutive seqs in one page cost one lookup.
    Seqs {
        events: sled::Tree,
        seqs: std::vec::IntoIter<u64>,
        page: Option<Page>,
    },
}

impl Records {
    pub(crate) fn empty() -> Self {
        Self {
            inner: Inner::Empty,
        }
    }

    pub(crate) fn failed(e: ReadError) -> Self {
        Self {
            inner: Inner::Failed(Some(e)),
        }
    }

    pub(crate) fn log(scan: PageScan) -> Self {
        Self {
            inner: Inner::Log(scan),
        }
    }

    pub(crate) fn outbox(scan: PageScan, from: u64, last_outbox: u64) -> Self {
        Self {
            inner: Inner::Outbox {
                scan,
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
                page: None,
            },
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Empty => None,
            Inner::Failed(e) => e.take().map(Err),
            Inner::Log(scan) => scan.next(),
            Inner::Outbox {
                scan,
                from,
                last_outbox,
            } => loop {
                let record = match scan.next()? {
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
            Inner::Seqs { events, seqs, page } => {
                let seq = seqs.next()?;
                if !page.as_ref().is_some_and(|p| p.contains(seq)) {
                    *page = match Page::holding(events, seq) {
                        Ok(Some(found)) => Some(found),
                        Ok(None) => {
                            return Some(Err(ReadError::corrupt_event(
                                seq,
                                "the stream index names a missing event",
                            )))
                        }
                        Err(e) => return Some(Err(e)),
                    };
                }
                page.as_ref().and_then(|p| p.record(seq))
            }
        }
    }
}
