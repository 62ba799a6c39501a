//! The counter: a deliberately tiny service that exercises every part of the runtime (a rule,
//! a tenant check, a scheduled transition) before and beside the real services. It is part of
//! the contract because its events travel in the same envelope and log as everyone else's; it
//! is not a business feature.
//!
//! A partner opens a counter for a customer it serves, with a limit and a lifetime; it counts up
//! to the limit; at the end of its lifetime it expires (a scheduled transition).

use serde::{Deserialize, Serialize};

use crate::api::{CommandBody, QueryBody, RequestId};
use crate::id::TenantId;
use crate::time::Timestamp;

/// The service name.
pub const SERVICE: &str = "counter";

/// The stream of a customer's counter.
pub fn stream(customer: TenantId) -> String {
    format!("counter/{customer}")
}

/// The counter watcher's stream of `customer`'s watch.
pub fn watch_stream(customer: TenantId) -> String {
    format!("watch/{customer}")
}

/// A partner opened a counter for a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterOpened {
    /// The customer.
    pub customer: TenantId,
    /// The partner that serves it (only it may count).
    pub partner: TenantId,
    /// The total may not exceed this.
    pub limit: u64,
    /// When the counter expires.
    pub expires_at: Timestamp,
}

/// The counter went up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterIncremented {
    /// The customer.
    pub customer: TenantId,
    /// By how much.
    pub by: u64,
    /// The total after.
    pub total: u64,
}

/// The counter reached the end of its lifetime (a scheduled transition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterExpired {
    /// The customer.
    pub customer: TenantId,
    /// The total at expiry.
    pub total: u64,
}

/// A consumer of the counter's events saw one increment: the reaction of the runtime's test
/// consumer, one per upstream event, with an id derived from it (`EventId::reaction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterObserved {
    /// The upstream `CounterIncremented`.
    pub upstream: crate::id::EventId,
    /// The producer's outbox sequence of the upstream event.
    pub upstream_outbox_seq: u64,
    /// The customer.
    pub customer: TenantId,
    /// The total the upstream event recorded.
    pub total: u64,
}

/// The runtime's test consumer with a schedule of its own (the counter watcher) started watching
/// a counter: a reaction to `CounterOpened`, until the counter's expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterWatched {
    /// The customer.
    pub customer: TenantId,
    /// When the watch ends: a due transition of the watcher's.
    pub until: Timestamp,
}

/// The watch ended at its `until` (a due transition, recorded with that business time however
/// late), with how many increments it saw: the figure a reaction must get right when the
/// watch's start, its increments and a later event arrive in one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterWatchEnded {
    /// The customer.
    pub customer: TenantId,
    /// Increments the watch saw.
    pub observed: u64,
}

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

impl CommandBody for OpenCounter {
    const NAME: &'static str = "open_counter";
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

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

impl CommandBody for Increment {
    const NAME: &'static str = "increment";
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

/// Read a counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCounter {
    /// The customer's tenant id.
    pub customer: TenantId,
}

impl QueryBody for GetCounter {
    const NAME: &'static str = "get_counter";
}
