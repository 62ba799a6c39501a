//! What an appender hands the log ([`Batch`]) and what it gets back ([`AppendOutcome`]).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::error::InvalidBatch;

/// Everything one command appends, written all together or not at all: its events, their index
/// entries, their outbox entries and its request record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The events, in the order they get sequence numbers.
    pub events: Vec<NewEvent>,
    /// The request record of the command that caused the events, if it has a request id.
    pub request: Option<NewRequest>,
}

/// One event to append. The log treats `bytes` as opaque; the caller starts them with its own
/// format byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The event's id. An id already in the log makes the event a duplicate: it is skipped
    /// and reported with its original seq (derived events get deterministic ids for this).
    pub event_id: Uuid,
    /// The stream (aggregate) the event belongs to; must not be empty.
    pub stream: String,
    /// The stream version this event gets: the stream's current version + 1 for the first
    /// event of the stream in the batch, then consecutive (optimistic concurrency).
    pub version: u64,
    /// Whether the event goes to the outbox (gets an outbox seq and is published).
    pub publish: bool,
    /// The encoded event, stored and returned byte for byte.
    pub bytes: Vec<u8>,
}

/// The request record of a command, kept per (tenant, request id) so that a retry gets the
/// first reply instead of doing the work twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The tenant the request id belongs to; request ids of different tenants are independent.
    pub tenant: Uuid,
    /// The caller's idempotency key; must not be empty.
    pub request_id: String,
    /// A hash of the command body: the same id with another body is an idempotency conflict.
    pub body_hash: [u8; 32],
    /// The encoded reply, returned to every retry.
    pub reply: Vec<u8>,
}

/// A stored request record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The hash of the body of the request that was recorded first.
    pub body_hash: [u8; 32],
    /// Its reply.
    pub reply: Vec<u8>,
    /// The seqs of its batch's events, in batch order (a duplicate's original seq included).
    pub seqs: Vec<u64>,
}

/// The answer to an append that was not refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The batch is durable; one position per event, in batch order.
    Appended {
        /// Where each event of the batch is (for a duplicate: where it was first appended).
        positions: Vec<EventPosition>,
    },
    /// The same tenant and request id were already recorded with the same body hash: nothing
    /// was written, here is the first request's record (its reply and seqs).
    AlreadyRecorded(RequestRecord),
}

/// Where an event of a batch ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPosition {
    /// The event's id.
    pub event_id: Uuid,
    /// Its seq in the log (for a duplicate, the seq of the original).
    pub seq: u64,
    /// Its outbox seq if it was published (for a duplicate, the original's).
    pub outbox_seq: Option<u64>,
    /// True if the id was already in the log and this event was skipped.
    pub duplicate: bool,
}

impl Batch {
    /// Checks what can be checked without the log, so a malformed batch is refused before it
    /// reaches the writer (and costs the writer nothing).
    pub fn validate(&self) -> Result<(), InvalidBatch> {
        if self.events.is_empty() && self.request.is_none() {
            return Err(InvalidBatch::Empty);
        }
        if let Some(request) = &self.request {
            if request.request_id.is_empty() {
                return Err(InvalidBatch::EmptyRequestId);
            }
        }
        for (index, event) in self.events.iter().enumerate() {
            if event.stream.is_empty() {
                return Err(InvalidBatch::EmptyStream { index });
            }
            if event.version == 0 {
                return Err(InvalidBatch::ZeroVersion { index });
            }
        }
        if self.events.len() < 2 {
            return Ok(());
        }
        let mut ids = HashSet::with_capacity(self.events.len());
        let mut last_version: HashMap<&str, u64> = HashMap::new();
        for event in &self.events {
            if !ids.insert(event.event_id) {
                return Err(InvalidBatch::DuplicateEventId {
                    event_id: event.event_id,
                });
            }
            if let Some(previous) = last_version.insert(&event.stream, event.version) {
                if previous.checked_add(1) != Some(event.version) {
                    return Err(InvalidBatch::NonContiguousVersions {
                        stream: event.stream.clone(),
                        previous,
                        found: event.version,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u128, stream: &str, version: u64) -> NewEvent {
        NewEvent {
            event_id: Uuid::from_u128(id),
            stream: stream.into(),
            version,
            publish: false,
            bytes: vec![1],
        }
    }

    fn batch(events: Vec<NewEvent>) -> Batch {
        Batch {
            events,
            request: None,
        }
    }

    #[test]
    fn interleaved_streams_with_consecutive_versions_are_valid() {
        let b = batch(vec![event(1, "a", 4), event(2, "b", 1), event(3, "a", 5)]);
        assert_eq!(b.validate(), Ok(()));
    }

    #[test]
    fn a_gap_within_one_stream_is_invalid() {
        let b = batch(vec![event(1, "a", 4), event(2, "a", 6)]);
        assert_eq!(
            b.validate(),
            Err(InvalidBatch::NonContiguousVersions {
                stream: "a".into(),
                previous: 4,
                found: 6
            })
        );
    }

    #[test]
    fn the_same_id_twice_is_invalid() {
        let b = batch(vec![event(1, "a", 1), event(1, "a", 2)]);
        assert_eq!(
            b.validate(),
            Err(InvalidBatch::DuplicateEventId {
                event_id: Uuid::from_u128(1)
            })
        );
    }

    #[test]
    fn empty_names_zero_versions_and_empty_batches_are_invalid() {
        assert_eq!(batch(vec![]).validate(), Err(InvalidBatch::Empty));
        assert_eq!(
            batch(vec![event(1, "", 1)]).validate(),
            Err(InvalidBatch::EmptyStream { index: 0 })
        );
        assert_eq!(
            batch(vec![event(1, "a", 0)]).validate(),
            Err(InvalidBatch::ZeroVersion { index: 0 })
        );
        let with_empty_request = Batch {
            events: vec![],
            request: Some(NewRequest {
                tenant: Uuid::nil(),
                request_id: String::new(),
                body_hash: [0; 32],
                reply: vec![],
            }),
        };
        assert_eq!(
            with_empty_request.validate(),
            Err(InvalidBatch::EmptyRequestId)
        );
    }
}
