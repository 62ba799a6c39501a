//! The key layout of the log's single sled tree, in one place.
//!
//! Every key starts with a one-byte prefix naming its family, so the whole log lives in sled's
//! default tree and an append is one `sled::Batch` (atomic, also across crashes) instead of a
//! multi-tree transaction. Numbers are big-endian so that sled's byte order is numeric order:
//! a range scan over `e` keys is a scan in sequence order, over one stream's `s` keys a scan in
//! version order.
//!
//! This module is public so that tools and benchmarks outside the crate (a raw-sled baseline
//! loop, an offline inspector) build byte-identical keys instead of re-deriving the layout.
//! Nothing here touches sled.

use uuid::Uuid;

/// `e` + seq (u64 BE) -> an event record (see [`crate::value`]).
pub const EVENT: u8 = b'e';
/// `i` + event id (16 bytes) -> seq BE: the dedupe index.
pub const EVENT_ID: u8 = b'i';
/// `s` + stream (utf-8) + 0xFF + version BE -> seq BE: the stream index. 0xFF never occurs in
/// utf-8, so it cleanly ends the stream name and no stream's keys interleave with another's.
pub const STREAM: u8 = b's';
/// `o` + outbox seq BE -> seq BE: the outbox index, only for events appended with `publish`.
pub const OUTBOX: u8 = b'o';
/// `r` + tenant (16 bytes) + request id (utf-8) -> a request record. The tenant has a fixed
/// width, so no separator is needed and one tenant's request ids never collide with another's.
pub const REQUEST: u8 = b'r';
/// `n` + snapshot name + 0xFF + code version (u32 BE) -> a snapshot.
pub const SNAPSHOT: u8 = b'n';
/// `m` + name -> log metadata (the epoch, the layout version, named cursors).
pub const META: u8 = b'm';

/// The byte that ends a stream name or a snapshot name inside a key (never valid utf-8).
pub const NAME_END: u8 = 0xFF;

/// Meta name of the log epoch (a UUID v4 made when the log is created).
pub const META_EPOCH: &str = "epoch";
/// Meta name of the key-layout version, so a future layout is refused instead of misread.
pub const META_LAYOUT: &str = "layout";
/// Prefix of the meta names of durable named cursors (`m` + `cursor/` + name).
pub const META_CURSOR_PREFIX: &str = "cursor/";

/// `e` + seq.
#[inline]
pub fn event(seq: u64) -> [u8; 9] {
    prefixed_u64(EVENT, seq)
}

/// `i` + event id.
#[inline]
pub fn event_id(id: &Uuid) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = EVENT_ID;
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// `s` + stream + 0xFF: the prefix of every index key of one stream.
pub fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 10);
    key.push(STREAM);
    key.extend_from_slice(stream.as_bytes());
    key.push(NAME_END);
    key
}

/// `s` + stream + 0xFF + version.
pub fn stream(stream: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 10);
    stream_into(&mut key, stream, version);
    key
}

/// Writes `s` + stream + 0xFF + version into `buf` (cleared first), so a hot loop can reuse one
/// buffer instead of allocating a key per event.
#[inline]
pub fn stream_into(buf: &mut Vec<u8>, stream: &str, version: u64) {
    buf.clear();
    buf.push(STREAM);
    buf.extend_from_slice(stream.as_bytes());
    buf.push(NAME_END);
    buf.extend_from_slice(&version.to_be_bytes());
}

/// Splits a stream index key into (stream, version); `None` if it is not one.
pub fn parse_stream(key: &[u8]) -> Option<(&str, u64)> {
    if key.len() < 10 || key[0] != STREAM || key[key.len() - 9] != NAME_END {
        return None;
    }
    let stream = std::str::from_utf8(&key[1..key.len() - 9]).ok()?;
    let version = u64_from(&key[key.len() - 8..])?;
    Some((stream, version))
}

/// `o` + outbox seq.
#[inline]
pub fn outbox(outbox_seq: u64) -> [u8; 9] {
    prefixed_u64(OUTBOX, outbox_seq)
}

/// `r` + tenant + request id.
pub fn request(tenant: &Uuid, request_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(17 + request_id.len());
    key.push(REQUEST);
    key.extend_from_slice(tenant.as_bytes());
    key.extend_from_slice(request_id.as_bytes());
    key
}

/// Splits a request key into (tenant, request id); `None` if it is not one.
pub fn parse_request(key: &[u8]) -> Option<(Uuid, &str)> {
    if key.len() < 17 || key[0] != REQUEST {
        return None;
    }
    let tenant = Uuid::from_slice(&key[1..17]).ok()?;
    let request_id = std::str::from_utf8(&key[17..]).ok()?;
    Some((tenant, request_id))
}

/// `n` + name + 0xFF + code version.
pub fn snapshot(name: &str, code_version: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 6);
    key.push(SNAPSHOT);
    key.extend_from_slice(name.as_bytes());
    key.push(NAME_END);
    key.extend_from_slice(&code_version.to_be_bytes());
    key
}

/// `m` + name.
pub fn meta(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1);
    key.push(META);
    key.extend_from_slice(name.as_bytes());
    key
}

/// `m` + `cursor/` + name.
pub fn cursor(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(META_CURSOR_PREFIX.len() + name.len() + 1);
    key.push(META);
    key.extend_from_slice(META_CURSOR_PREFIX.as_bytes());
    key.extend_from_slice(name.as_bytes());
    key
}

/// The value of the `i`, `s` and `o` index entries: the event's seq, big-endian.
#[inline]
pub fn seq_value(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Reads a big-endian u64 from exactly 8 bytes; `None` for any other length, so a damaged
/// index value becomes a typed error rather than a panic.
#[inline]
pub fn u64_from(bytes: &[u8]) -> Option<u64> {
    let array: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(array))
}

/// The u64 after a one-byte prefix (`e` and `o` keys); `None` if the key is not 9 bytes.
#[inline]
pub fn parse_prefixed_u64(key: &[u8]) -> Option<u64> {
    if key.len() != 9 {
        return None;
    }
    u64_from(&key[1..])
}

#[inline]
fn prefixed_u64(prefix: u8, n: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = prefix;
    key[1..].copy_from_slice(&n.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_in_sequence_order() {
        assert!(event(255) < event(256));
        assert!(event(1) < event(u64::MAX));
        assert_eq!(parse_prefixed_u64(&event(42)), Some(42));
    }

    #[test]
    fn stream_keys_of_one_stream_never_interleave_with_a_longer_name() {
        // "a" + FF sorts after "a\u{0}..." and "ab", so the prefix scan of "a" sees only "a".
        let a = stream("a", u64::MAX);
        let ab = stream("ab", 0);
        assert!(!ab.starts_with(&stream_prefix("a")));
        assert!(a.starts_with(&stream_prefix("a")));
        assert_eq!(parse_stream(&stream("sub/1", 7)), Some(("sub/1", 7)));
        // A version whose bytes contain 0xFF still parses from the end.
        assert_eq!(parse_stream(&stream("x", 0xFF_FF)), Some(("x", 0xFF_FF)));
    }

    #[test]
    fn request_keys_round_trip() {
        let tenant = Uuid::from_u128(7);
        assert_eq!(
            parse_request(&request(&tenant, "req-1")),
            Some((tenant, "req-1"))
        );
    }
}
