//! The stored value formats. Each value starts with a log value format byte, then postcard
//! bytes, so the log's own record shapes can change later without guessing (postcard is not
//! self-describing). An event value is `[1][postcard EventHeader][payload]`: the payload is the
//! caller's opaque bytes (which start with the caller's own format byte), appended raw after the
//! header so that reading never copies or re-parses it.
//!
//! Public so that a benchmark's raw-sled baseline, or an offline tool, can write byte-identical
//! values; the decoding side is crate-internal and returns typed errors, never panics.

use serde::{Deserialize, Serialize};

use crate::error::ReadError;

/// The format byte of every value this crate writes (events, request records, snapshots,
/// cursors, the epoch). A reader meeting another byte refuses the value instead of misreading it.
pub const LOG_VALUE_FORMAT: u8 = 1;

/// The layout version recorded under `m` + `layout` in sled's default tree; bumped whenever
/// the trees or their keys change. 1 was one tree with a prefix byte per key family; 2 was one
/// tree per family with the dedupe, stream and outbox indexes on disk; 3 keeps only the events
/// on disk and those indexes in memory ([`crate::layout`]). A layout-2 log is upgraded in place
/// when opened (its index trees dropped); layout 1 is refused.
pub const LAYOUT_VERSION: u8 = 3;

/// The layout upgraded in place to [`LAYOUT_VERSION`] on open.
pub const UPGRADABLE_LAYOUT: u8 = 2;

/// The fields the log itself needs from an event, stored before the payload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EventHeader<'a> {
    pub(crate) event_id: [u8; 16],
    #[serde(borrow)]
    pub(crate) stream: &'a str,
    pub(crate) version: u64,
    pub(crate) outbox_seq: Option<u64>,
}

/// Appends the stored form of an event to `buf` (not cleared first): format byte, header,
/// payload. `buf` is reused across events by the writer to avoid an allocation per event.
pub fn encode_event(
    buf: &mut Vec<u8>,
    event_id: &[u8; 16],
    stream: &str,
    version: u64,
    outbox_seq: Option<u64>,
    payload: &[u8],
) {
    buf.push(LOG_VALUE_FORMAT);
    let header = EventHeader {
        event_id: *event_id,
        stream,
        version,
        outbox_seq,
    };
    // Serialising into a Vec cannot fail: postcard only fails on a full fixed buffer or on
    // types it cannot represent, and the header is plain data.
    let extended = postcard::to_extend(&header, std::mem::take(buf));
    *buf = match extended {
        Ok(b) => b,
        Err(_) => unreachable_postcard(),
    };
    buf.extend_from_slice(payload);
}

#[cold]
fn unreachable_postcard() -> ! {
    // Kept out of line so the hot path stays small; see encode_event for why it cannot happen.
    panic!("postcard failed to serialise plain data into a Vec")
}

/// Decodes an event value into its header and where its payload starts.
pub(crate) fn decode_event(seq: u64, value: &[u8]) -> Result<(EventHeader<'_>, usize), ReadError> {
    let body =
        check_format(value).ok_or_else(|| ReadError::corrupt_event(seq, "bad format byte"))?;
    let (header, rest) = postcard::take_from_bytes::<EventHeader<'_>>(body)
        .map_err(|e| ReadError::corrupt_event(seq, format!("undecodable header: {e}")))?;
    Ok((header, value.len() - rest.len()))
}

/// A stored request record, as written.
#[derive(Serialize)]
pub(crate) struct StoredRequestRef<'a> {
    pub(crate) body_hash: &'a [u8; 32],
    pub(crate) reply: &'a Vec<u8>,
    pub(crate) seqs: &'a Vec<u64>,
}

/// A stored request record, as read.
#[derive(Deserialize)]
pub(crate) struct StoredRequest {
    pub(crate) body_hash: [u8; 32],
    pub(crate) reply: Vec<u8>,
    pub(crate) seqs: Vec<u64>,
}

/// A stored snapshot, as written.
#[derive(Serialize)]
pub(crate) struct StoredSnapshotRef<'a> {
    pub(crate) at_seq: u64,
    pub(crate) bytes: &'a [u8],
}

/// A stored snapshot, as read.
#[derive(Deserialize)]
pub(crate) struct StoredSnapshot {
    pub(crate) at_seq: u64,
    pub(crate) bytes: Vec<u8>,
}

/// `[format][postcard value]` for the small records (request records, snapshots).
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    match postcard::to_extend(value, vec![LOG_VALUE_FORMAT]) {
        Ok(b) => b,
        Err(_) => unreachable_postcard(),
    }
}

/// The inverse of [`encode`]; the error names what is wrong, for [`ReadError::Corrupt`].
pub(crate) fn decode<'a, T: Deserialize<'a>>(value: &'a [u8]) -> Result<T, String> {
    let body = check_format(value).ok_or_else(|| "bad format byte".to_string())?;
    postcard::from_bytes(body).map_err(|e| format!("undecodable: {e}"))
}

/// `[format][u64 BE]`: a cursor value.
pub(crate) fn encode_u64(n: u64) -> [u8; 9] {
    let mut v = [0u8; 9];
    v[0] = LOG_VALUE_FORMAT;
    v[1..].copy_from_slice(&n.to_be_bytes());
    v
}

/// The inverse of [`encode_u64`].
pub(crate) fn decode_u64(value: &[u8]) -> Option<u64> {
    crate::keys::u64_from(check_format(value)?)
}

fn check_format(value: &[u8]) -> Option<&[u8]> {
    match value.split_first() {
        Some((&LOG_VALUE_FORMAT, body)) => Some(body),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_value_round_trips_and_payload_follows_the_header() {
        let mut buf = Vec::new();
        encode_event(&mut buf, &[9; 16], "order/1", 3, Some(2), b"\x01payload");
        let (header, start) = decode_event(5, &buf).expect("decodes");
        assert_eq!(header.event_id, [9; 16]);
        assert_eq!(header.stream, "order/1");
        assert_eq!(header.version, 3);
        assert_eq!(header.outbox_seq, Some(2));
        assert_eq!(&buf[start..], b"\x01payload");
    }

    #[test]
    fn event_value_with_another_format_byte_is_refused() {
        let mut buf = Vec::new();
        encode_event(&mut buf, &[9; 16], "s", 1, None, b"x");
        buf[0] = 2;
        assert!(decode_event(1, &buf).is_err());
        assert!(decode_event(1, &[]).is_err());
    }

    #[test]
    fn request_record_round_trips_between_the_ref_and_owned_shapes() {
        let reply = b"ok".to_vec();
        let seqs = vec![3, 4, 90_000];
        let bytes = encode(&StoredRequestRef {
            body_hash: &[7; 32],
            reply: &reply,
            seqs: &seqs,
        });
        let back: StoredRequest = decode(&bytes).expect("decodes");
        assert_eq!(back.body_hash, [7; 32]);
        assert_eq!(back.reply, reply);
        assert_eq!(back.seqs, seqs);
    }

    #[test]
    fn snapshot_round_trips_between_the_ref_and_owned_shapes() {
        let bytes = encode(&StoredSnapshotRef {
            at_seq: 12,
            bytes: b"state",
        });
        let back: StoredSnapshot = decode(&bytes).expect("decodes");
        assert_eq!(back.at_seq, 12);
        assert_eq!(back.bytes, b"state");
    }
}
