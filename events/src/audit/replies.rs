//! The `result` of each audit command and query.

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::id::{EventId, TenantId};
use crate::time::Timestamp;

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// How many leaves.
    pub size: u64,
    /// Their root, base64.
    pub root: String,
    /// When it was signed.
    pub time: Timestamp,
    /// The checkpoint in the signed-note text format: what an auditor keeps and verifies
    /// against the public key it pinned.
    pub text: String,
}

/// One event's place in the tree and its audit path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf's index, from 0.
    pub index: u64,
    /// The service that recorded the event (`audit` for audit's own).
    pub producer: String,
    /// Its position in that service's outbox, for a published event.
    pub outbox_seq: Option<u64>,
    /// The leaf hash, `SHA-256(0x00 ‖ bytes)`, base64.
    pub leaf_hash: String,
    /// The audit path, leaf to root, base64 each (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
    /// The checkpoint it proves against.
    pub checkpoint: Checkpoint,
    /// The event's exact bytes, base64: only for a reader allowed to see the event (an
    /// operator, or its partner's or customer's administrators); otherwise left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
}

/// That a checkpoint's tree extends an older size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The older size's root, base64.
    pub old_root: String,
    /// The proof, base64 each (RFC 9162 §2.1.4).
    pub proof: Vec<String>,
    /// The checkpoint it proves against.
    pub checkpoint: Checkpoint,
}

/// Where verification found the log broken, or that it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Whether everything holds.
    pub ok: bool,
    /// How many leaves were recomputed.
    pub leaves: u64,
    /// The recomputed root, base64.
    pub root: String,
    /// How many recorded checkpoints were checked (signature and root).
    pub checkpoints: u64,
    /// The first leaf index where the log breaks, if one can be named.
    pub first_bad_index: Option<u64>,
    /// Every finding, first first.
    pub findings: Vec<String>,
    /// Whether the log is consistent with the checkpoint given, if one was.
    pub consistent_with_checkpoint: Option<bool>,
}

/// What a user did with keys or software (RULES.md A2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Viewed a product key.
    ViewKey,
    /// Downloaded software.
    Download,
    /// Copied a download link.
    CopyLink,
}

/// One record of the activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// When (the event's business time).
    pub at: Timestamp,
    /// The customer tenant.
    pub customer: Option<TenantId>,
    /// The action, or the action refused.
    pub action: Activity,
    /// Whether it was refused (RULES.md A4, K5).
    pub refused: bool,
    /// Who: the user (its tenant, id and roles), from the verified token.
    pub by: Actor,
    /// The product, when known (a refused attempt names the item instead).
    pub product: Option<String>,
    /// The product's display name, when known.
    pub product_name: Option<String>,
    /// The item refused (`entitlement <id>`), for a refused attempt.
    pub item: Option<String>,
    /// The event it comes from (prove it with `prove_inclusion`).
    pub event: EventId,
}

/// A page of the activity log, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPage {
    /// The partner.
    pub partner: TenantId,
    /// The records.
    pub records: Vec<ActivityRecord>,
    /// Pass as `after` for the next page; left out on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
