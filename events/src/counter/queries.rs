//! The counter's query: JSON on `csp.qry.counter.get_counter`.

use serde::{Deserialize, Serialize};

use super::replies::CounterView;
use crate::api::query;
use crate::id::TenantId;

/// Read a counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCounter {
    /// The customer's tenant id.
    pub customer: TenantId,
}

query!(GetCounter, "get_counter", CounterView);
