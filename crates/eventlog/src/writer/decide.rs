//! Deciding one append request: the request record, then each event (duplicate, or version
//! check), then the writes. Decisions are made against the indexes, which include the group
//! being built (each accepted request adds its events at once), and the request records in sled
//! plus the group's, so the second of two identical concurrent requests sees the first even
//! before it is applied.

use std::collections::HashMap;

use uuid::Uuid;

use super::{load_request, read_to_append, Writer};
use crate::{
    batch::{AppendOutcome, Batch, EventPosition, RequestRecord},
    error::{AppendError, ReadError},
    index::Index,
    keys,
    layout::AppendBatches,
    page::Page,
    value::{self, PageBuilder},
};

/// What the requests of the group being built will write, so later requests of the same group
/// are decided against it.
#[derive(Default)]
pub(super) struct GroupState {
    /// Event ids written by this group -> (seq, outbox seq).
    pub(super) ids: HashMap<Uuid, (u64, Option<u64>)>,
    /// Request records written by this group, by their sled key.
    pub(super) requests: HashMap<Vec<u8>, RequestRecord>,
    /// The group's writes, one batch per tree, applied as one sled transaction; its events
    /// are added from `pages` once the group is decided.
    pub(super) batch: AppendBatches,
    /// The group's new events, packed into pages.
    pub(super) pages: PageBuilder,
    pub(super) writes: bool,
    pub(super) new_events: u64,
    pub(super) duplicates: u64,
}

/// How a request was decided.
pub(super) enum Decision {
    /// It writes (new events and/or a request record).
    Write(AppendOutcome),
    /// It writes nothing but succeeds (all duplicates, or already recorded).
    NoWrite(AppendOutcome),
}

impl Writer {
    /// Decides one request against the indexes and sled plus the group so far and, if it is
    /// accepted, adds its events to the indexes and its writes to the group.
    pub(super) fn decide(
        &mut self,
        batch: &Batch,
        index: &mut Index,
        state: &mut GroupState,
    ) -> Result<Decision, AppendError> {
        // 1. The request record: a retry is answered from it and writes nothing.
        let request_key = match &batch.request {
            Some(request) => {
                let key = keys::request(&request.tenant, &request.request_id);
                let existing = match state.requests.get(&key) {
                    Some(record) => Some(record.clone()),
                    None => load_request(&self.trees.requests, &key).map_err(read_to_append)?,
                };
                if let Some(record) = existing {
                    return if record.body_hash == request.body_hash {
                        Ok(Decision::NoWrite(AppendOutcome::AlreadyRecorded(record)))
                    } else {
                        Err(AppendError::IdempotencyConflict {
                            tenant: request.tenant,
                            request_id: request.request_id.clone(),
                        })
                    };
                }
                Some(key)
            }
            None => None,
        };

        // 2. Events, first pass: duplicates and version checks, nothing written yet.
        let mut positions = Vec::with_capacity(batch.events.len());
        let mut running: HashMap<&str, u64> = HashMap::new();
        for event in &batch.events {
            if let Some(&(seq, outbox_seq)) = state.ids.get(&event.event_id) {
                positions.push(duplicate(event.event_id, seq, outbox_seq));
                continue;
            }
            if let Some((seq, outbox_seq)) = self.stored_event(index, &event.event_id)? {
                positions.push(duplicate(event.event_id, seq, outbox_seq));
                continue;
            }
            let current = match running.get(event.stream.as_str()) {
                Some(&v) => v,
                None => index
                    .streams
                    .get(event.stream.as_str())
                    .map_or(0, |s| s.len() as u64),
            };
            if current.checked_add(1) != Some(event.version) {
                return Err(AppendError::Conflict {
                    stream: event.stream.clone(),
                    expected: event.version.saturating_sub(1),
                    actual: current,
                });
            }
            running.insert(&event.stream, event.version);
            positions.push(EventPosition {
                event_id: event.event_id,
                seq: 0,
                outbox_seq: None,
                duplicate: false,
            });
        }

        // 3. Accepted: assign seqs and add the writes to the group's batches.
        let mut writes = false;
        for (event, position) in batch.events.iter().zip(positions.iter_mut()) {
            if position.duplicate {
                state.duplicates += 1;
                continue;
            }
            writes = true;
            self.last_seq += 1;
            let seq = self.last_seq;
            let outbox_seq = event.publish.then(|| {
                self.last_outbox += 1;
                self.last_outbox
            });
            position.seq = seq;
            position.outbox_seq = outbox_seq;
            self.value_buf.clear();
            value::encode_event(
                &mut self.value_buf,
                event.event_id.as_bytes(),
                &event.stream,
                event.version,
                outbox_seq,
                &event.bytes,
            );
            state.pages.push(seq, &self.value_buf);
            state.ids.insert(event.event_id, (seq, outbox_seq));
            index.add(
                seq,
                event.event_id,
                &event.stream,
                event.version,
                outbox_seq,
            );
            state.new_events += 1;
        }
        // 4. The request record, in the same transaction as its events.
        if let (Some(request), Some(key)) = (&batch.request, request_key) {
            let record = RequestRecord {
                body_hash: request.body_hash,
                reply: request.reply.clone(),
                seqs: positions.iter().map(|p| p.seq).collect(),
            };
            let stored = value::encode(&value::StoredRequestRef {
                body_hash: &record.body_hash,
                reply: &record.reply,
                seqs: &record.seqs,
            });
            state.batch.requests.insert(key.as_slice(), stored);
            state.requests.insert(key, record);
            writes = true;
        }

        state.writes |= writes;
        let outcome = AppendOutcome::Appended { positions };
        Ok(if writes {
            Decision::Write(outcome)
        } else {
            Decision::NoWrite(outcome)
        })
    }

    /// The seq and outbox seq of an event id already in the log (durable or in flight), if any.
    fn stored_event(
        &self,
        index: &Index,
        id: &Uuid,
    ) -> Result<Option<(u64, Option<u64>)>, AppendError> {
        let Some(seq) = index.seq_of(id) else {
            return Ok(None);
        };
        // A duplicate is rare, so reading the original for its outbox seq costs nothing in
        // the common case. Events of the group being built are found in `GroupState::ids`
        // first, so this one was applied by an earlier group and sled has it.
        let missing = || {
            read_to_append(ReadError::corrupt_event(
                seq,
                "the dedupe index names a missing event",
            ))
        };
        let page = Page::holding(&self.trees.events, seq)
            .map_err(read_to_append)?
            .ok_or_else(missing)?;
        let record = page
            .record(seq)
            .ok_or_else(missing)?
            .map_err(read_to_append)?;
        Ok(Some((seq, record.outbox_seq)))
    }
}

fn duplicate(event_id: Uuid, seq: u64, outbox_seq: Option<u64>) -> EventPosition {
    EventPosition {
        event_id,
        seq,
        outbox_seq,
        duplicate: true,
    }
}
