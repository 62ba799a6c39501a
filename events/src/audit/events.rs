//! Audit's own event. Everything else in audit's log is a copy of another service's event,
//! kept as its producer published it; each of those, and each of audit's own events, is one
//! leaf of the Merkle tree, in log order.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// A tree head was signed (RULES.md A1): the first `size` leaves have root `root`, signed with
/// the installation's checkpoint key. It also stores the leaf hash of every leaf it is the
/// first checkpoint to cover (`size - leaf_hashes.len() .. size`), so verification can name
/// the exact leaf that no longer hashes as it did when it was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointSigned {
    /// The log's name, the checkpoint's first line: `csp-audit/<installation>`.
    pub origin: String,
    /// How many leaves the head covers.
    pub size: u64,
    /// Their RFC 6962 root.
    pub root: [u8; 32],
    /// When it was taken, whole seconds (the checkpoint's `time` line).
    pub time: Timestamp,
    /// The signature line's blob: the key id (4 bytes) then the Ed25519 signature (64).
    pub signature: Vec<u8>,
    /// The leaf hashes of the leaves newly covered, in order.
    pub leaf_hashes: Vec<[u8; 32]>,
}

/// The streams audit's own events belong to.
pub mod stream {
    /// The tree's heads, in order.
    pub const TREE: &str = "audit/tree";
}
