//! The stored value formats. Each value starts with a log value format byte, then postcard
//! bytes, so the log's own record shapes can change later without guessing (postcard is not
//! self-describing). An event value is `[1][postcard EventHeader][payload]`: the payload is the
//! caller's opaque bytes (which start with the caller's own format byte), appended raw after the
//! header so that reading never copies or re-parses it.
//!
//! The events tree stores *pages*: under the seq of its first event, either one event value as
//! above (format 1), or `[2]` followed by several event values of consecutive seqs, each as a
//! u32 little-endian length and the value (format 2). sled's cost is per key (~10 µs to apply
//! one on the reference box, whatever its size up to a few KB), so an append group of 1,000
//! events written as ~70 pages costs a fraction of 1,000 keys. A page holds at most
//! [`PAGE_MAX_BYTES`], small enough that sled never moves the tree nodes holding pages out of
//! its log into blob files of their own. Logs of layouts 2 and 3 hold only format-1 values, which are one-event
//! pages, so they read unchanged.
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
/// tree per family with the dedupe, stream and outbox indexes on disk and one key per event;
/// 3 (current) keeps those indexes in memory and stores events in pages ([`crate::layout`]).
/// A layout-2 log is upgraded in place when opened (its index trees dropped; its one-key events
/// are one-event pages); layout 1 is refused.
pub const LAYOUT_VERSION: u8 = 3;

/// The layout upgraded in place to [`LAYOUT_VERSION`] on open.
pub const UPGRADABLE_LAYOUT: u8 = 2;

/// The format byte of a page of several events (see the module docs).
pub const PAGE_FORMAT: u8 = 2;

/// The most bytes a multi-event page holds. An event value larger than this is a page of its
/// own (format 1). Why 4 KiB: sled writes a tree node whose serialised form exceeds a quarter of
/// its 512 KiB segment as a blob file of its own, and a node holds several values; measured on
/// the reference box (200,000 events in batches of 1,000), 16 KiB pages made 297 blob files and
/// ran at half the speed of 4 KiB pages, which made none (8 KiB: 6).
pub const PAGE_MAX_BYTES: usize = 4 * 1024;

/// Packs the event values of consecutive seqs into pages, as the writer stores them; public so
/// a raw-sled baseline writes byte-identical pages.
#[derive(Debug, Default)]
pub struct PageBuilder {
    first: u64,
    count: usize,
    buf: Vec<u8>,
    pages: Vec<(u64, Vec<u8>)>,
}

impl PageBuilder {
    /// Adds the event value of `seq`. A seq that does not follow the page's last one starts a
    /// new page, so every page holds consecutive seqs.
    pub fn push(&mut self, seq: u64, event_value: &[u8]) {
        let next = self.first.saturating_add(self.count as u64);
        if self.count > 0
            && (seq != next || self.buf.len() + 4 + event_value.len() > PAGE_MAX_BYTES)
        {
            self.close();
        }
        if 1 + 4 + event_value.len() > PAGE_MAX_BYTES {
            self.pages.push((seq, event_value.to_vec()));
            return;
        }
        if self.count == 0 {
            self.first = seq;
            self.buf.clear();
            self.buf.push(PAGE_FORMAT);
        }
        // Below PAGE_MAX_BYTES, so the length fits a u32.
        self.buf
            .extend_from_slice(&(event_value.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(event_value);
        self.count += 1;
    }

    /// Ends the page being filled: a page of one event is stored as that event's value.
    pub fn close(&mut self) {
        match self.count {
            0 => return,
            1 => self.pages.push((self.first, self.buf[5..].to_vec())),
            _ => self.pages.push((self.first, std::mem::take(&mut self.buf))),
        }
        self.count = 0;
        self.buf.clear();
    }

    /// Every page built so far, as (seq of its first event, value), the open one closed.
    pub fn finish(&mut self) -> Vec<(u64, Vec<u8>)> {
        self.close();
        std::mem::take(&mut self.pages)
    }
}

/// Where the event values of one stored page are, in seq order (the first is the page's key).
pub(crate) fn page_ranges(
    first_seq: u64,
    value: &[u8],
) -> Result<Vec<std::ops::Range<usize>>, ReadError> {
    match value.first() {
        Some(&LOG_VALUE_FORMAT) => Ok(std::iter::once(0..value.len()).collect()),
        Some(&PAGE_FORMAT) => {
            let mut ranges = Vec::new();
            let mut at = 1;
            while at < value.len() {
                let len = value
                    .get(at..at + 4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_le_bytes)
                    .ok_or_else(|| ReadError::corrupt_event(first_seq, "truncated page"))?;
                let start = at + 4;
                let end = start
                    .checked_add(len as usize)
                    .filter(|&end| end <= value.len())
                    .ok_or_else(|| ReadError::corrupt_event(first_seq, "truncated page"))?;
                ranges.push(start..end);
                at = end;
            }
            if ranges.len() < 2 {
                return Err(ReadError::corrupt_event(
                    first_seq,
                    "a page of fewer than two events",
                ));
            }
            Ok(ranges)
        }
        _ => Err(ReadError::corrupt_event(first_seq, "bad format byte")),
    }
}

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
    fn pages_hold_consecutive_seqs_and_a_single_event_page_is_its_value() {
        let value = |n: u8| vec![LOG_VALUE_FORMAT, n, n];
        let mut pages = PageBuilder::default();
        pages.push(1, &value(1));
        pages.push(2, &value(2));
        pages.push(4, &value(4)); // not consecutive: a new page
        pages.push(5, &vec![LOG_VALUE_FORMAT; PAGE_MAX_BYTES]); // too large: a page of its own
        let built = pages.finish();
        assert_eq!(built.len(), 3);
        let (first, page) = &built[0];
        assert_eq!(*first, 1);
        let ranges = page_ranges(1, page).expect("reads");
        assert_eq!(ranges.len(), 2);
        assert_eq!(&page[ranges[1].clone()], value(2).as_slice());
        assert_eq!(built[1], (4, value(4)));
        assert_eq!(page_ranges(4, &built[1].1).expect("reads"), vec![0..3]);
        assert_eq!(built[2].0, 5);
        // Damage is an error, never a panic.
        assert!(page_ranges(1, &page[..page.len() - 1]).is_err());
        assert!(page_ranges(1, &[PAGE_FORMAT, 9]).is_err());
        assert!(page_ranges(1, &[7]).is_err());
    }

    #[test]
    fn a_full_page_starts_the_next() {
        let value = vec![LOG_VALUE_FORMAT; 1000];
        let mut pages = PageBuilder::default();
        for seq in 1..=40 {
            pages.push(seq, &value);
        }
        let built = pages.finish();
        assert!(built.len() >= 3, "{} pages", built.len());
        assert!(built.iter().all(|(_, p)| p.len() <= PAGE_MAX_BYTES));
        let total: usize = built
            .iter()
            .map(|(first, p)| page_ranges(*first, p).expect("reads").len())
            .sum();
        assert_eq!(total, 40);
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
