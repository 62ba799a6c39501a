//! The counter's commands: JSON on `csp.cmd.counter.<name>`.

use serde::{Deserialize, Serialize};

use super::replies::{Incremented, Opened};
use crate::api::{command, RequestId};
use crate::id::TenantId;

/// Open a counter (partner `admin_agent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCounter {
    /// Idempotency key.
    pub request_id: RequestId,
    /// The customer's tenant id.
    pub customer: TenantId,
    /// Maximum total, at least 1.
    pub limit: u64,
    /// Lifetime in hours, at least 1.
    pub expires_in_hours: u32,
}

command!(OpenCounter, "open_counter", Opened);

/// Count up (the partner that opened the counter, `admin_agent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Increment {
    /// Idempotency key.
    pub request_id: RequestId,
    /// The customer's tenant id.
    pub customer: TenantId,
    /// At least 1.
    pub by: u64,
}

command!(Increment, "increment", Incremented);
