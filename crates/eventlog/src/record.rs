//! What reads return: [`Record`] (one stored event) and [`Snapshot`].

use std::{fmt, ops::Range};

use uuid::Uuid;

use crate::{error::ReadError, value};

/// One stored event. It keeps the value sled returned (its page, shared by the page's other
/// records) and borrows the stream name and payload from it, so reading the log costs no copy
/// of the payload (`read_from(1)` stays close to a raw sled scan); call `.bytes().to_vec()`
/// for an owned copy.
#[derive(Clone)]
pub struct Record {
    /// The event's position in the log (1-based, gap-free).
    pub seq: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The event's version within its stream.
    pub version: u64,
    /// The event's outbox seq, if it was appended with `publish`.
    pub outbox_seq: Option<u64>,
    value: sled::IVec,
    stream: Range<usize>,
    payload: Range<usize>,
}

impl Record {
    /// Decodes the event value at `at` within a stored page (see [`crate::value`]). The stream
    /// name is validated as utf-8 here, once.
    pub(crate) fn decode_at(
        seq: u64,
        value: sled::IVec,
        at: Range<usize>,
    ) -> Result<Self, ReadError> {
        let event = value
            .get(at.clone())
            .ok_or_else(|| ReadError::corrupt_event(seq, "event outside its page"))?;
        let (header, payload_start) = value::decode_event(seq, event)?;
        let base = value.as_ptr() as usize;
        let stream_start = header.stream.as_ptr() as usize - base;
        let stream = stream_start..stream_start + header.stream.len();
        let event_id = Uuid::from_bytes(header.event_id);
        let (version, outbox_seq) = (header.version, header.outbox_seq);
        Ok(Self {
            seq,
            event_id,
            version,
            outbox_seq,
            payload: at.start + payload_start..at.end,
            value,
            stream,
        })
    }

    /// The stream the event belongs to.
    pub fn stream(&self) -> &str {
        // The range was cut from a &str that postcard validated as utf-8 in `decode`, and the
        // value is immutable, so this cannot fail; the fallback only keeps the code panic-free.
        std::str::from_utf8(&self.value[self.stream.clone()]).unwrap_or_default()
    }

    /// The event's bytes exactly as appended (starting with the caller's format byte).
    pub fn bytes(&self) -> &[u8] {
        &self.value[self.payload.clone()]
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.event_id == other.event_id
            && self.version == other.version
            && self.outbox_seq == other.outbox_seq
            && self.stream() == other.stream()
            && self.bytes() == other.bytes()
    }
}

impl Eq for Record {}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("seq", &self.seq)
            .field("event_id", &self.event_id)
            .field("stream", &self.stream())
            .field("version", &self.version)
            .field("outbox_seq", &self.outbox_seq)
            .field("bytes_len", &self.bytes().len())
            .finish()
    }
}

/// A saved projection state: the state after folding events `1..=at_seq`. Snapshots are an
/// optimisation only: restoring one and replaying from `at_seq + 1` must equal a full replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last seq folded into `bytes`.
    pub at_seq: u64,
    /// The projection's encoded state.
    pub bytes: Vec<u8>,
}
