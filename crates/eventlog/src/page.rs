//! [`Page`]: one value of the events tree, opened (see [`crate::value`] for the format), and
//! [`PageScan`], the walk over pages in seq order that every whole-log read is built on.

use std::ops::Range;

use crate::{error::ReadError, keys, layout::EVENTS, record::Record, value};

/// One page of the events tree: the seq of its first event, its value, and where each of its
/// events is within the value.
pub(crate) struct Page {
    pub(crate) first: u64,
    value: sled::IVec,
    ranges: Vec<Range<usize>>,
}

impl Page {
    /// Opens a page from its key and value.
    pub(crate) fn open(key: &[u8], value: sled::IVec) -> Result<Page, ReadError> {
        let first = keys::u64_from(key)
            .ok_or_else(|| ReadError::corrupt(EVENTS, key, "malformed event key"))?;
        let ranges = value::page_ranges(first, &value)?;
        Ok(Page {
            first,
            value,
            ranges,
        })
    }

    /// The page holding `seq`, if any: the last page starting at or before it.
    pub(crate) fn holding(events: &sled::Tree, seq: u64) -> Result<Option<Page>, ReadError> {
        let Some(entry) = events.range(..=keys::event(seq)).next_back() else {
            return Ok(None);
        };
        let (key, value) = entry.map_err(ReadError::sled)?;
        let page = Page::open(&key, value)?;
        Ok(page.contains(seq).then_some(page))
    }

    /// The number of events in the page.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The seq of the page's last event.
    pub(crate) fn last(&self) -> u64 {
        self.first + self.ranges.len() as u64 - 1
    }

    /// Whether the page holds `seq`.
    pub(crate) fn contains(&self, seq: u64) -> bool {
        seq >= self.first && seq <= self.last()
    }

    /// The event value of the `i`-th event of the page (seq `first + i`).
    pub(crate) fn event_value(&self, i: usize) -> Option<&[u8]> {
        self.value.get(self.ranges.get(i)?.clone())
    }

    /// The record of `seq`, if the page holds it.
    pub(crate) fn record(&self, seq: u64) -> Option<Result<Record, ReadError>> {
        let i = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        let at = self.ranges.get(i)?.clone();
        Some(Record::decode_at(seq, self.value.clone(), at))
    }
}

/// Events in seq order from `from` to `last`, page by page.
pub(crate) struct PageScan {
    iter: sled::Iter,
    next: u64,
    last: u64,
    page: Option<Page>,
}

impl PageScan {
    /// Scans from the page holding `from` (or the first page after it) up to seq `last`.
    pub(crate) fn new(events: &sled::Tree, from: u64, last: u64) -> PageScan {
        let start = match events.range(..=keys::event(from)).next_back() {
            Some(Ok((key, _))) => keys::u64_from(&key).unwrap_or(from),
            _ => from,
        };
        PageScan {
            iter: events.range(keys::event(start)..),
            next: from,
            last,
            page: None,
        }
    }
}

impl Iterator for PageScan {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.next > self.last {
                return None;
            }
            if let Some(page) = &self.page {
                if let Some(record) = page.record(self.next) {
                    self.next += 1;
                    return Some(record);
                }
                self.page = None;
            }
            let (key, value) = match self.iter.next()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(ReadError::sled(e))),
            };
            match Page::open(&key, value) {
                // A page wholly before `next` (the first page found can start earlier and
                // end before it only in a damaged log) is skipped.
                Ok(page) if page.last() < self.next => {}
                Ok(page) => {
                    if page.first > self.next {
                        // A gap in a damaged log: go on from what is there.
                        self.next = page.first;
                    }
                    self.page = Some(page);
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
