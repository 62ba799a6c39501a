//! The counter's events (postcard, frozen once released).

use serde::{Deserialize, Serialize};

use crate::id::TenantId;
use crate::time::Timestamp;

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
