//! How events travel between services, beyond the envelope: the producer's heartbeat and the
//! `events_from` query a consumer uses to fetch, from the producer's own log, what the bus lost.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::QueryBody;

/// `csp.qry.<producer>.events_from`: published events from an outbox sequence on, in order.
/// Internal: only csp services (service tokens of the internal issuer) may call it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsFrom {
    /// The producer log epoch the consumer is tracking; a different epoch is refused with
    /// `invalid_state` and the current epoch in `details.epoch`.
    pub epoch: Uuid,
    /// The first outbox sequence wanted.
    pub from_outbox_seq: u64,
    /// At most this many events (the producer caps it).
    pub limit: u32,
}

impl QueryBody for EventsFrom {
    const NAME: &'static str = "events_from";
    type Reply = EventsPage;
}

/// The reply to [`EventsFrom`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsPage {
    /// The producer's epoch.
    pub epoch: Uuid,
    /// The producer's latest durable outbox sequence.
    pub last_outbox_seq: u64,
    /// The records, each as published (outbox position set), base64 (standard alphabet).
    pub events: Vec<String>,
}

/// `csp.hb.<producer>`: announced periodically, so a consumer that lost the tail of the stream
/// (which leaves no gap to notice) sees it is behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The producer.
    pub service: String,
    /// Its log epoch.
    pub epoch: Uuid,
    /// Its latest durable outbox sequence.
    pub last_outbox_seq: u64,
    /// Everything the producer records effective before this instant is at or before
    /// `last_outbox_seq` (its scheduler has caught up to here; a command decided a moment
    /// before may still be in flight, which a consumer's grace covers). A consumer that has
    /// read up to `last_outbox_seq` knows the producer's past up to here: billing closes a
    /// month on it. `None` from a producer that has not looked at its clock yet (since schema 8).
    #[serde(default)]
    pub recorded_until: Option<crate::Timestamp>,
}
