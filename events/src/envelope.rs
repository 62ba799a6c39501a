//! The envelope every event travels in, stored and published alike.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::event::Event;
use crate::id::{CorrelationId, EventId, TenantId};
use crate::time::Timestamp;

/// Where a published event sits in its producer's outbox. Consumers track, per producer and
/// epoch, the last sequence they hold: a gap means lost messages, to be fetched from the
/// producer's log; a new epoch means a restored log whose sequence numbers start over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OutboxPosition {
    /// Contiguous over everything the producer publishes, from 1.
    pub seq: u64,
    /// The producer's log epoch (made when its log was created).
    pub epoch: Uuid,
}

/// An event with everything needed to route, dedupe, order, audit and replay it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique; derived deterministically for reactions and scheduled transitions.
    pub event_id: EventId,
    /// The aggregate it belongs to, e.g. `subscription/<id>`.
    pub stream: String,
    /// 1 for a stream's first event; contiguous within the stream.
    pub stream_version: u64,
    /// When it was appended to the log.
    pub recorded_at: Timestamp,
    /// When it takes effect in business time: a renewal at the term end, a backfill in 2021.
    pub effective_at: Timestamp,
    /// The event or request that caused it (a request's id is its correlation id).
    pub causation_id: Option<Uuid>,
    /// Shared by everything one outside request caused, across services.
    pub correlation_id: CorrelationId,
    /// Who acted (verified, never from a body).
    pub actor: Actor,
    /// The partner tenant, when there is one: a subject token and the billing partition.
    pub partner: Option<TenantId>,
    /// The customer tenant, when there is one: a subject token and the ordering partition.
    pub customer: Option<TenantId>,
    /// The schema the payload was written in. [`crate::codec::decode`] upcasts older payloads
    /// and keeps this field as it was written, so an operator can see what was upcast;
    /// [`crate::codec::encode`] always writes the current schema.
    pub schema_version: u16,
    /// The event itself.
    pub payload: Event,
    /// Set on published copies only; `None` in the producer's own log.
    pub outbox: Option<OutboxPosition>,
}
