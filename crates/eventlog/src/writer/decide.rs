//! Deciding one append request: the request record, then each event (duplicate, or version
//! check), then the writes. Decisions are made against sled plus the group being built, so the
//! second of two identical concurrent requests sees the first even before it is applied.

use std::collections::HashMap;

use uuid::Uuid;

use super::{load_request, read_to_append, Writer};
use crate::{
    batch::{AppendOutcome, Batch, EventPosition, RequestRecord},
    error::{AppendError, ReadError, StorageError},
    keys,
    layout::{AppendBatches, EVENT_IDS, STREAMS},
    record::Record,
    value,
};

/// What the requests of the group being built will write, so later requests of the same group
/// are decided against it.
#[derive(Default)]
pub(super) struct GroupState {
    /// Event ids written by this group -> (seq, outbox seq).
    pub(super) ids: HashMap<Uuid, (u64, Option<u64>)>,
    /// Request records written by this group, by their sled key.
    pub(super) requests: HashMap<Vec<u8>, RequestRecord>,
    /// The group's writes, one batch per tree, applied as one sled transaction.
    pub(super) batch: AppendBatches,
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
    /// Decides one request against sled plus the group so far and, if it is accepted, adds
    /// its writes to the group.
    pub(super) fn decide(
        &mut self,
        batch: &Batch,
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
            if let Some((seq, outbox_seq)) = self.stored_event(&event.event_id)? {
                positions.push(duplicate(event.event_id, seq, outbox_seq));
                continue;
            }
            let current = match running.get(event.stream.as_str()) {
                Some(&v) => v,
                None => self.version_of(&event.stream).map_err(read_to_append)?,
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
            let seq_value = keys::seq_value(seq);
            self.value_buf.clear();
            value::encode_event(
                &mut self.value_buf,
                event.event_id.as_bytes(),
                &event.stream,
                event.version,
                outbox_seq,
                &event.bytes,
            );
            let writes = &mut state.batch;
            writes
                .events
                .insert(&keys::event(seq), self.value_buf.as_slice());
            writes
                .event_ids
                .insert(&keys::event_id(&event.event_id), &seq_value);
            keys::stream_into(&mut self.key_buf, &event.stream, event.version);
            writes.streams.insert(self.key_buf.as_slice(), &seq_value);
            if let Some(outbox) = outbox_seq {
                writes.outbox.insert(&keys::outbox(outbox), &seq_value);
            }
            state.ids.insert(event.event_id, (seq, outbox_seq));
            if let Some(ids) = &mut self.ids {
                ids.insert(event.event_id.as_bytes());
            }
            state.new_events += 1;
        }
        for (stream, version) in running {
            match self.versions.get_mut(stream) {
                Some(v) => *v = version,
                None => {
                    self.versions.insert(stream.to_owned(), version);
                }
            }
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

    /// The seq and outbox seq of an event id already in sled, if any.
    fn stored_event(&self, id: &Uuid) -> Result<Option<(u64, Option<u64>)>, AppendError> {
        // Without the filter (not built yet) every id goes to sled.
        if self
            .ids
            .as_ref()
            .is_some_and(|ids| !ids.may_contain(id.as_bytes()))
        {
            return Ok(None);
        }
        let key = keys::event_id(id);
        let Some(seq_bytes) = self
            .trees
            .event_ids
            .get(key)
            .map_err(|e| StorageError::sled("read", e))?
        else {
            return Ok(None);
        };
        let seq = keys::u64_from(&seq_bytes).ok_or_else(|| {
            read_to_append(ReadError::corrupt(
                EVENT_IDS,
                &key,
                "dedupe entry is not a seq",
            ))
        })?;
        // A duplicate is rare, so reading the original for its outbox seq costs nothing in
        // the common case.
        let value = self
            .trees
            .events
            .get(keys::event(seq))
            .map_err(|e| StorageError::sled("read", e))?
            .ok_or_else(|| {
                read_to_append(ReadError::corrupt(
                    EVENT_IDS,
                    &key,
                    "dedupe entry points to a missing event",
                ))
            })?;
        let record = Record::decode(seq, value).map_err(read_to_append)?;
        Ok(Some((seq, record.outbox_seq)))
    }

    /// The stream's current version: from the cache, else from the stream's last key in the
    /// streams tree.
    fn version_of(&mut self, stream: &str) -> Result<u64, ReadError> {
        if let Some(&v) = self.versions.get(stream) {
            return Ok(v);
        }
        let streams = &self.trees.streams;
        let v = match streams.scan_prefix(keys::stream_prefix(stream)).next_back() {
            None => 0,
            Some(entry) => {
                let (key, _) = entry.map_err(ReadError::sled)?;
                keys::parse_stream(&key)
                    .ok_or_else(|| ReadError::corrupt(STREAMS, &key, "malformed stream index key"))?
                    .1
            }
        };
        self.versions.insert(stream.to_owned(), v);
        Ok(v)
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
