//! [`Index`]: the dedupe, stream and outbox indexes, kept in memory and rebuilt from the events
//! tree when the log opens.
//!
//! Why in memory: every event value already carries its id, stream, version and outbox seq
//! ([`crate::value`]), so index trees on disk would only repeat it. Writing them cost three
//! extra sled keys per event, and sled's cost is per key: measured on the reference box, 1,000
//! events per flushed batch made ~22,000 events/s durable with four keys per event and ~90,000/s
//! with one. The price is one sequential scan of the events tree at open (the header of each
//! event, not its payload) and ~50 bytes of memory per event (~30 for the id, 8 each in the
//! stream and outbox lists) plus ~100 per stream.
//!
//! The writer thread is the only one that changes the index: it adds a group's events while it
//! decides the group, before the group is durable, and removes them if the group fails. Readers
//! therefore filter by the durable end themselves, exactly as they did with index trees.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use tracing::warn;
use uuid::Uuid;

use crate::{error::ReadError, page::Page, value};

/// The in-memory indexes of one log, behind a lock shared by the writer and the readers, built
/// on first use: by the writer before its first append, or by the first read that needs them
/// (a stream or outbox read, `stream_version`, `verify`), or at open when the newest pages hold
/// no published event (the index then tells the last outbox seq). A process that only reads
/// the log from a seq (a replay, `csp replay`) of a log that publishes never pays for the scan.
pub(crate) struct SharedIndex {
    events: sled::Tree,
    built: OnceLock<RwLock<Index>>,
    /// Held while building, so two first users do not both scan.
    building: Mutex<()>,
}

impl SharedIndex {
    pub(crate) fn new(events: sled::Tree) -> Self {
        Self {
            events,
            built: OnceLock::new(),
            building: Mutex::new(()),
        }
    }

    fn lock(&self) -> Result<&RwLock<Index>, ReadError> {
        if let Some(index) = self.built.get() {
            return Ok(index);
        }
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = self.built.get() {
            return Ok(index);
        }
        let index = Index::build(&self.events)?;
        Ok(self.built.get_or_init(|| RwLock::new(index)))
    }

    /// A poisoned lock only means a thread panicked while holding it; the index it guards is
    /// still the writer's last consistent view (the writer changes it in whole steps), so
    /// readers go on rather than cascading the panic.
    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, Index>, ReadError> {
        Ok(self.lock()?.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn write(&self) -> Result<RwLockWriteGuard<'_, Index>, ReadError> {
        Ok(self.lock()?.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the indexes with ones rebuilt from sled (after a failed group).
    pub(crate) fn replace(&self, index: Index) {
        match self.built.get() {
            Some(lock) => *lock.write().unwrap_or_else(|e| e.into_inner()) = index,
            None => {
                let _ = self.built.set(RwLock::new(index));
            }
        }
    }
}

/// Where an event is, as the indexes know it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    /// Event id -> seq.
    pub(crate) ids: HashMap<Uuid, u64>,
    /// Stream -> the seq of each version: version `v` is at `[v - 1]`, so seqs ascend.
    pub(crate) streams: HashMap<Box<str>, Vec<u64>>,
    /// Outbox seq `o` -> its event's seq, at `[o - 1]`; ascending.
    pub(crate) outbox: Vec<u64>,
    /// The last seq added.
    pub(crate) last_seq: u64,
    /// The highest outbox seq added: where the writer continues the outbox, also in a damaged
    /// log whose outbox has a gap (never reusing a seq).
    pub(crate) last_outbox: u64,
}

impl Index {
    /// Scans the events tree up to its end and indexes every event (each page's event headers,
    /// not their payloads). Damaged or inconsistent events do not stop it (so an operator can still open the log
    /// and run `verify`, which names them): they are counted and logged once.
    pub(crate) fn build(events: &sled::Tree) -> Result<Index, ReadError> {
        let mut index = Index::default();
        // Events that did not decode (not indexed), and events out of order for their index
        // (a seq gap, a version or outbox seq that does not continue, an id seen before).
        let (mut malformed, mut inconsistent) = (0u64, 0u64);
        for entry in events.iter() {
            let (key, value) = entry.map_err(ReadError::sled)?;
            let page = match Page::open(&key, value) {
                Ok(page) => page,
                Err(_) => {
                    malformed += 1;
                    continue;
                }
            };
            for i in 0..page.len() {
                let seq = page.first + i as u64;
                let header = page
                    .event_value(i)
                    .and_then(|v| value::decode_event(seq, v).ok());
                let Some((header, _)) = header else {
                    malformed += 1;
                    continue;
                };
                let id = Uuid::from_bytes(header.event_id);
                if !index.add(seq, id, header.stream, header.version, header.outbox_seq) {
                    inconsistent += 1;
                }
            }
        }
        if malformed + inconsistent > 0 {
            warn!(
                malformed,
                inconsistent,
                "the event log holds damaged or inconsistent events; run its verify for details"
            );
        }
        Ok(index)
    }

    /// Adds one event (seq above every seq added so far). Returns false if it does not continue
    /// the log, its stream or the outbox as a sound log would (it is indexed anyway, so the
    /// index stays usable, and `verify` reports the details).
    pub(crate) fn add(
        &mut self,
        seq: u64,
        id: Uuid,
        stream: &str,
        version: u64,
        outbox_seq: Option<u64>,
    ) -> bool {
        let mut sound = seq == self.last_seq + 1;
        self.last_seq = self.last_seq.max(seq);
        if self.ids.insert(id, seq).is_some() {
            sound = false;
        }
        let seqs = match self.streams.get_mut(stream) {
            Some(seqs) => seqs,
            None => self.streams.entry(stream.into()).or_default(),
        };
        sound &= seqs.len() as u64 + 1 == version;
        seqs.push(seq);
        if let Some(outbox_seq) = outbox_seq {
            sound &= self.outbox.len() as u64 + 1 == outbox_seq;
            self.outbox.push(seq);
            self.last_outbox = self.last_outbox.max(outbox_seq);
        }
        sound
    }

    /// The seq of the event with this id, if the index has it.
    pub(crate) fn seq_of(&self, id: &Uuid) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// The stream's version counting only events at or before `last` (0 if none).
    pub(crate) fn version_at(&self, stream: &str, last: u64) -> u64 {
        self.streams
            .get(stream)
            .map_or(0, |seqs| seqs.partition_point(|&s| s <= last) as u64)
    }

    /// The stream's seqs at or before `last`, in version order.
    pub(crate) fn stream_seqs(&self, stream: &str, last: u64) -> Vec<u64> {
        self.streams.get(stream).map_or_else(Vec::new, |seqs| {
            seqs[..seqs.partition_point(|&s| s <= last)].to_vec()
        })
    }

    /// The seq of the event with outbox seq `outbox_seq`.
    pub(crate) fn outbox_event(&self, outbox_seq: u64) -> Option<u64> {
        let at = usize::try_from(outbox_seq.checked_sub(1)?).ok()?;
        self.outbox.get(at).copied()
    }

    /// The same index restricted to events at or before `last`: what `verify` compares with an
    /// index rebuilt from the durable events (so `last_outbox` assumes a sound outbox).
    pub(crate) fn up_to(&self, last: u64) -> Index {
        let mut cut = Index {
            ids: self
                .ids
                .iter()
                .filter(|(_, &s)| s <= last)
                .map(|(id, &s)| (*id, s))
                .collect(),
            streams: HashMap::with_capacity(self.streams.len()),
            outbox: self.outbox[..self.outbox.partition_point(|&s| s <= last)].to_vec(),
            last_seq: self.last_seq.min(last),
            last_outbox: 0,
        };
        cut.last_outbox = cut.outbox.len() as u64;
        for (stream, seqs) in &self.streams {
            let len = seqs.partition_point(|&s| s <= last);
            if len > 0 {
                cut.streams.insert(stream.clone(), seqs[..len].to_vec());
            }
        }
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_reads_count_only_what_is_durable() {
        let mut index = Index::default();
        assert!(index.add(1, Uuid::from_u128(1), "a", 1, Some(1)));
        assert!(index.add(2, Uuid::from_u128(2), "b", 1, None));
        assert!(index.add(3, Uuid::from_u128(3), "a", 2, Some(2)));
        assert_eq!(index.version_at("a", 3), 2);
        assert_eq!(index.version_at("a", 2), 1);
        assert_eq!(index.version_at("nope", 3), 0);
        assert_eq!(index.stream_seqs("a", 2), vec![1]);
        assert_eq!(index.outbox_event(2), Some(3));
        assert_eq!(index.outbox_event(0), None);
        assert_eq!(index.seq_of(&Uuid::from_u128(2)), Some(2));
    }

    #[test]
    fn an_event_that_does_not_continue_is_indexed_and_reported() {
        let mut index = Index::default();
        assert!(index.add(1, Uuid::from_u128(1), "a", 1, None));
        assert!(!index.add(3, Uuid::from_u128(2), "a", 2, None), "seq gap");
        assert!(
            !index.add(4, Uuid::from_u128(3), "a", 5, None),
            "version gap"
        );
        assert!(!index.add(5, Uuid::from_u128(1), "b", 1, None), "id seen");
        assert!(
            !index.add(6, Uuid::from_u128(6), "c", 1, Some(2)),
            "outbox gap"
        );
        assert_eq!(index.seq_of(&Uuid::from_u128(1)), Some(5));
    }
}
