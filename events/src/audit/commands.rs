//! Audit's one command: JSON on `csp.cmd.audit.sign_checkpoint`.

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::{command, RequestId};

/// Signs the tree as it stands now (RULES.md A1), besides the periodic checkpoints: an
/// operator or a csp service. If no leaf came since the last checkpoint, that one is returned
/// and nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignCheckpoint {
    /// Idempotency key.
    pub request_id: RequestId,
}
command!(SignCheckpoint, "sign_checkpoint", Checkpoint);
