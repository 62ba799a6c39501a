//! Audit's queries: JSON on `csp.qry.audit.<name>`. They record nothing but refusals.
//! Checkpoints and proofs are for anyone signed in (they reveal sizes and hashes, never an
//! event); an event's bytes only for a reader allowed to see it; verification for operators;
//! the activity log per RULES.md A3.

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::query;
use crate::id::{EventId, TenantId};
use crate::time::Timestamp;

/// The latest checkpoint, or the one of a given size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCheckpoint {
    /// A checkpoint's tree size (default: the latest).
    #[serde(default)]
    pub size: Option<u64>,
}
query!(GetCheckpoint, "get_checkpoint", Checkpoint);

/// Where one event is in the tree, and the audit path that proves it against a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProveInclusion {
    /// The event's id, as its producer recorded it.
    pub event: EventId,
    /// The checkpoint to prove against, by tree size (default: the latest).
    #[serde(default)]
    pub size: Option<u64>,
}
query!(ProveInclusion, "prove_inclusion", InclusionProof);

/// That the tree of a checkpoint extends the tree of an earlier size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProveConsistency {
    /// The older size (a checkpoint the caller kept).
    pub old_size: u64,
    /// The checkpoint to prove against, by tree size (default: the latest).
    #[serde(default)]
    pub size: Option<u64>,
}
query!(ProveConsistency, "prove_consistency", ConsistencyProof);

/// Recomputes the tree from the leaves the service holds (operators only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// A checkpoint kept outside csp (its signed-note text): is the log still consistent with
    /// it?
    #[serde(default)]
    pub checkpoint: Option<String>,
}
query!(Verify, "verify", VerifyReport);

/// Who viewed product keys, downloaded software or copied links (RULES.md A2), refused
/// attempts included (A4), in a date range: from inclusive, to exclusive, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetActivity {
    /// The partner (default: the caller's own tenant).
    #[serde(default)]
    pub partner: Option<TenantId>,
    /// From this instant (inclusive).
    pub from: Timestamp,
    /// To this instant (exclusive).
    pub to: Timestamp,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many records (and at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(GetActivity, "get_activity", ActivityPage);
