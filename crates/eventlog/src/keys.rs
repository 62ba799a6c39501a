//! The keys of each of the log's sled trees (see [`crate::layout`]), in one place.
//!
//! Each key family has its own tree, so keys carry no family prefix, except the metadata keys
//! in sled's default tree, which keep their `m` prefix so that every layout version finds the
//! layout version at the same key. Numbers are big-endian so that sled's byte order is numeric
//! order: a scan of the events tree is a scan in sequence order.
//!
//! This module is public so that tools and benchmarks outside the crate (a raw-sled baseline
//! loop, an offline inspector) build byte-identical keys instead of re-deriving the layout.
//! Nothing here touches sled.

use uuid::Uuid;

/// The byte that ends a snapshot name inside a key. 0xFF never occurs in utf-8, so it cleanly
/// ends the name and no snapshot's keys interleave with another's.
pub const NAME_END: u8 = 0xFF;

/// The prefix of every metadata key in sled's default tree.
pub const META: u8 = b'm';
/// Meta name of the log epoch (a UUID v4 made when the log is created).
pub const META_EPOCH: &str = "epoch";
/// Meta name of the epoch history: each epoch the log has had, with the first outbox seq
/// published under it (written when a restored log gets a new epoch).
pub const META_EPOCHS: &str = "epochs";
/// Meta name of the layout version, so a log of another layout is refused instead of misread.
pub const META_LAYOUT: &str = "layout";
/// Prefix of the meta names of durable named cursors (`m` + `cursor/` + name).
pub const META_CURSOR_PREFIX: &str = "cursor/";

/// Events tree: seq (u64 BE).
#[inline]
pub fn event(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Requests tree: tenant (16 bytes) + request id (utf-8). The tenant has a fixed width, so no
/// separator is needed and one tenant's request ids never collide with another's.
pub fn request(tenant: &Uuid, request_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + request_id.len());
    key.extend_from_slice(tenant.as_bytes());
    key.extend_from_slice(request_id.as_bytes());
    key
}

/// Splits a requests-tree key into (tenant, request id); `None` if it is not one.
pub fn parse_request(key: &[u8]) -> Option<(Uuid, &str)> {
    if key.len() < 16 {
        return None;
    }
    let (tenant, request_id) = key.split_at(16);
    Some((
        Uuid::from_slice(tenant).ok()?,
        std::str::from_utf8(request_id).ok()?,
    ))
}

/// Snapshots tree: name + 0xFF + code version (u32 BE).
pub fn snapshot(name: &str, code_version: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 5);
    key.extend_from_slice(name.as_bytes());
    key.push(NAME_END);
    key.extend_from_slice(&code_version.to_be_bytes());
    key
}

/// Default tree: `m` + name.
pub fn meta(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1);
    key.push(META);
    key.extend_from_slice(name.as_bytes());
    key
}

/// Default tree: `m` + `cursor/` + name.
pub fn cursor(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(META_CURSOR_PREFIX.len() + name.len() + 1);
    key.push(META);
    key.extend_from_slice(META_CURSOR_PREFIX.as_bytes());
    key.extend_from_slice(name.as_bytes());
    key
}

/// Reads a big-endian u64 from exactly 8 bytes (an events key, a cursor);
/// `None` for any other length, so a damaged key or value becomes a typed error, not a panic.
#[inline]
pub fn u64_from(bytes: &[u8]) -> Option<u64> {
    let array: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_in_sequence_order() {
        assert!(event(255) < event(256));
        assert!(event(1) < event(u64::MAX));
        assert_eq!(u64_from(&event(42)), Some(42));
        assert_eq!(u64_from(&[1, 2]), None);
    }

    #[test]
    fn snapshot_keys_of_one_name_never_interleave_with_a_longer_name() {
        let a = snapshot("a", u32::MAX);
        let ab = snapshot("ab", 0);
        assert!(!ab.starts_with(b"a\xFF"));
        assert!(a.starts_with(b"a\xFF"));
    }

    #[test]
    fn request_keys_round_trip() {
        let tenant = Uuid::from_u128(7);
        assert_eq!(
            parse_request(&request(&tenant, "req-1")),
            Some((tenant, "req-1"))
        );
        assert_eq!(parse_request(&[1; 15]), None);
    }

    #[test]
    fn meta_keys_keep_their_prefix() {
        assert_eq!(meta(META_LAYOUT), b"mlayout");
        assert_eq!(cursor("outbox"), b"mcursor/outbox");
    }
}
