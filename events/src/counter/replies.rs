//! What the counter answers: the `result` of each reply.

use serde::{Deserialize, Serialize};

use crate::id::TenantId;
use crate::time::Timestamp;

/// `open_counter`: the counter opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opened {
    /// The customer whose counter it is.
    pub customer: TenantId,
}

/// `increment`: the total after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremented {
    /// The customer.
    pub customer: TenantId,
    /// The total now.
    pub total: u64,
}

/// `get_counter`: the counter as of now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterView {
    /// The customer.
    pub customer: TenantId,
    /// The total so far.
    pub total: u64,
    /// The total may not exceed this.
    pub limit: u64,
    /// When it expires (or expired).
    pub expires_at: Timestamp,
    /// Whether its expiry has been recorded.
    pub expired: bool,
}
