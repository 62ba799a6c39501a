//! [`Tail`]: a live read that waits for new appends.

use tokio::sync::watch;

use crate::{error::ReadError, page::Page, record::Record, writer::Durable};

/// Yields durable events in seq order from a starting seq, waiting for new appends. It follows
/// the writer's watch of the last durable seq, so it never yields an event before the flush
/// covering it returned, and never misses one.
pub struct Tail {
    /// The events tree (it keeps the sled database open).
    events: sled::Tree,
    durable: watch::Receiver<Durable>,
    next_seq: u64,
    /// The page of the last event yielded: the next events of a group are in it.
    page: Option<Page>,
}

impl Tail {
    pub(crate) fn new(
        events: sled::Tree,
        durable: watch::Receiver<Durable>,
        from_seq: u64,
    ) -> Self {
        Self {
            events,
            durable,
            next_seq: from_seq.max(1),
            page: None,
        }
    }

    /// The seq the next call to [`Tail::next`] or [`Tail::ready`] yields.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next event: at once if it is durable, else when it becomes durable. `None` once the
    /// log is closed (every `EventLog` handle dropped) and every durable event was yielded. On
    /// an error the position does not move, so the caller may retry or give up.
    pub async fn next(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            if let Some(record) = self.ready() {
                return Some(record);
            }
            if self.durable.changed().await.is_err() {
                // The writer is gone; nothing new can become durable. Yield what is left.
                if self.next_seq <= self.durable.borrow().seq {
                    continue;
                }
                return None;
            }
        }
    }

    /// The next event if it is already durable, without waiting: a reader that got one event
    /// from [`Tail::next`] takes the rest of a group with this and handles them together.
    pub fn ready(&mut self) -> Option<Result<Record, ReadError>> {
        let last = self.durable.borrow_and_update().seq;
        if self.next_seq > last {
            return None;
        }
        let seq = self.next_seq;
        if !self.page.as_ref().is_some_and(|p| p.contains(seq)) {
            self.page = match Page::holding(&self.events, seq) {
                Ok(page) => page,
                Err(e) => return Some(Err(e)),
            };
        }
        let record = self
            .page
            .as_ref()
            .and_then(|p| p.record(seq))
            .unwrap_or_else(|| Err(ReadError::corrupt_event(seq, "durable event is missing")));
        if record.is_ok() {
            self.next_seq += 1;
        }
        Some(record)
    }
}
