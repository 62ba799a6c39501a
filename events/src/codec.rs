//! The binary codec of stored and published events.
//!
//! A record is `[format byte][postcard header][postcard payload]`:
//! - the **format byte** names the layout of everything after it, so even the envelope's own
//!   shape can change later (a reader meets an unknown format byte and says so);
//! - the **header** is the envelope without its payload, including `schema_version`;
//! - the **payload** is the [`Event`] enum.
//!
//! postcard is not self-describing, so **a released shape never changes: a change is a new
//! variant** (the frozen golden files in `fixtures/frozen/`, one per kind written when the kind
//! was added and never rewritten, fail the tests if a shape moves). That rule is what lets a
//! consumer take records from a newer build without lock-step upgrades: whatever schema the
//! writer knew, a record of a kind this build knows decodes with this build's types and is
//! folded; only a kind it does not know ([`DecodeError::UnknownKind`]), or a known kind that
//! does not decode from a newer writer, is held back (a rolling upgrade), never dropped. The
//! header's `schema_version` says what the writer knew; schema 1, from before the rule, is
//! decoded with its frozen types and upcast. History of the schema:
//! - 1: first shapes (`Quarantined` without `producer`);
//! - 2: `Quarantined` gained `producer`;
//! - 3: the counter's events appended (additions only: schema 2 decodes as 3);
//! - 4: `CounterObserved` appended (additions only);
//! - 5: `CounterWatched`, `CounterWatchEnded` appended (additions only);
//! - 6: every ordering event about a purchase names its selling partner, and `AccessRefused`
//!   names the item refused. Schema 2–5 records of those kinds decode with their frozen types
//!   ([`v5`]) and are upcast: the partner is the envelope's (the runtime has always recorded
//!   the selling partner there), the item unknown. Before 1.0 this is how a shape changes; after
//!   it, a change is a new variant.
//! - 7: the entitlement service's events appended (additions only);
//! - 8: the billing service's events appended (additions only);
//! - 9: the audit service's `CheckpointSigned` appended (additions only).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::envelope::{Envelope, OutboxPosition};
use crate::event::{Event, EventKind};
use crate::id::{CorrelationId, EventId, TenantId};
use crate::time::Timestamp;

/// The only record layout so far: format byte, postcard header, postcard payload.
pub const FORMAT_V1: u8 = 1;

/// Format bytes reserved for future layouts. A record starting with one of these was written by
/// a newer build (hold back); any other unknown first byte is garbage (quarantine).
pub const FUTURE_FORMATS: std::ops::RangeInclusive<u8> = 2..=31;

/// The schema this build writes, and the newest it reads.
pub const SCHEMA_VERSION: u16 = 9;

/// Why bytes are not an event this build can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Zero bytes.
    #[error("empty record")]
    Empty,
    /// A format byte this build does not know. Newer than [`FORMAT_V1`] means a newer writer.
    #[error("unknown record format {0} (this build reads format {FORMAT_V1})")]
    UnknownFormat(u8),
    /// An event kind this build does not know (appended by a newer build): hold back,
    /// upgrade, do not drop.
    #[error("event kind #{variant} (schema {schema}) is unknown to this build, which knows {known} kinds")]
    UnknownKind {
        /// The variant index in the record.
        variant: u32,
        /// The schema the writer knew.
        schema: u16,
        /// How many kinds this build knows.
        known: usize,
    },
    /// A known kind from a newer build that does not decode with this build's types: held
    /// back like an unknown kind (it should not happen: released shapes never change).
    #[error("event schema {found} is newer than this build's {known}")]
    NewerSchema {
        /// The schema in the record.
        found: u16,
        /// The newest schema this build reads.
        known: u16,
    },
    /// The bytes do not decode in the layout and schema they claim.
    #[error("malformed record: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// Whether the record was written by a newer build (hold back and retry later) rather than
    /// being garbage (quarantine it).
    pub fn is_newer(&self) -> bool {
        match self {
            DecodeError::NewerSchema { .. } | DecodeError::UnknownKind { .. } => true,
            DecodeError::UnknownFormat(f) => FUTURE_FORMATS.contains(f),
            _ => false,
        }
    }
}

/// The envelope without its payload, as stored. Field order is the wire order: never change it
/// within a format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// See [`Envelope::event_id`].
    pub event_id: EventId,
    /// See [`Envelope::stream`].
    pub stream: String,
    /// See [`Envelope::stream_version`].
    pub stream_version: u64,
    /// See [`Envelope::recorded_at`].
    pub recorded_at: Timestamp,
    /// See [`Envelope::effective_at`].
    pub effective_at: Timestamp,
    /// See [`Envelope::causation_id`].
    pub causation_id: Option<Uuid>,
    /// See [`Envelope::correlation_id`].
    pub correlation_id: CorrelationId,
    /// See [`Envelope::actor`].
    pub actor: Actor,
    /// See [`Envelope::partner`].
    pub partner: Option<TenantId>,
    /// See [`Envelope::customer`].
    pub customer: Option<TenantId>,
    /// See [`Envelope::outbox`].
    pub outbox: Option<OutboxPosition>,
    /// The payload's schema.
    pub schema_version: u16,
}

#[derive(Serialize)]
struct HeaderRef<'a> {
    event_id: &'a EventId,
    stream: &'a str,
    stream_version: u64,
    recorded_at: Timestamp,
    effective_at: Timestamp,
    causation_id: &'a Option<Uuid>,
    correlation_id: &'a CorrelationId,
    actor: &'a Actor,
    partner: &'a Option<TenantId>,
    customer: &'a Option<TenantId>,
    outbox: &'a Option<OutboxPosition>,
    schema_version: u16,
}

/// Encodes an envelope in the current format and schema.
pub fn encode(env: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode_into(env, &mut out);
    out
}

/// Encodes an envelope at the end of `out` (reusing its allocation in hot loops).
pub fn encode_into(env: &Envelope, out: &mut Vec<u8>) {
    out.push(FORMAT_V1);
    let header = HeaderRef {
        event_id: &env.event_id,
        stream: &env.stream,
        stream_version: env.stream_version,
        recorded_at: env.recorded_at,
        effective_at: env.effective_at,
        causation_id: &env.causation_id,
        correlation_id: &env.correlation_id,
        actor: &env.actor,
        partner: &env.partner,
        customer: &env.customer,
        outbox: &env.outbox,
        schema_version: SCHEMA_VERSION,
    };
    // Serialising into a Vec cannot fail: every type here serialises infallibly.
    let taken = std::mem::take(out);
    let taken = postcard::to_extend(&header, taken).unwrap_or_default();
    *out = postcard::to_extend(&env.payload, taken).unwrap_or_default();
}

/// Decodes only the header: enough to route, dedupe or report a record whose payload this build
/// cannot read (a newer schema).
pub fn decode_header(bytes: &[u8]) -> Result<(Header, &[u8]), DecodeError> {
    let (&format, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if format != FORMAT_V1 {
        return Err(DecodeError::UnknownFormat(format));
    }
    postcard::take_from_bytes::<Header>(rest).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// The record with its outbox position set, re-encoding only the header and copying the payload
/// bytes as they are: what an outbox publisher does to every event, without decoding and
/// re-encoding every payload. Also returns the header and the payload's kind, which name the
/// subject. (Payload schemas only ever append variants, so a variant index means the same kind
/// in every schema.)
pub fn with_outbox(
    bytes: &[u8],
    outbox: OutboxPosition,
) -> Result<(Vec<u8>, Header, EventKind), DecodeError> {
    let (mut header, payload) = decode_header(bytes)?;
    let (variant, _) = postcard::take_from_bytes::<u32>(payload)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let kind = usize::try_from(variant)
        .ok()
        .and_then(|i| EventKind::ALL.get(i).copied())
        .ok_or_else(|| DecodeError::Malformed(format!("unknown event variant {variant}")))?;
    header.outbox = Some(outbox);
    let mut out = Vec::with_capacity(bytes.len() + 32);
    out.push(FORMAT_V1);
    // Serialising into a Vec cannot fail: every type here serialises infallibly.
    let mut out = postcard::to_extend(&header, out).unwrap_or_default();
    out.extend_from_slice(payload);
    Ok((out, header, kind))
}

/// Decodes a record as [`decode`] does; a record of a kind this build does not know (from a
/// newer writer, [`DecodeError::is_newer`]) but whose header reads is returned with its header
/// and a `Quarantined` stand-in payload naming why, instead of an error. For a consumer that
/// keeps records without reading them (audit hashes the bytes): it never needs to decode a
/// payload it does not know, so a producer upgraded first is not held back. The stand-in is
/// never stored: the bytes are.
pub fn decode_opaque(bytes: &[u8], producer: &str) -> Result<Envelope, DecodeError> {
    match decode(bytes) {
        Err(e) if e.is_newer() => {
            let (header, _) = decode_header(bytes)?;
            let stand_in = crate::event::Quarantined {
                producer: producer.to_string(),
                subject: String::new(),
                reason: format!("kept unread: {e}"),
                raw: Vec::new(),
            };
            Ok(header.into_envelope(stand_in.into()))
        }
        other => other,
    }
}

/// Decodes a record, upcasting an older payload schema to the current [`Event`].
pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let (h, payload) = decode_header(bytes)?;
    let event = decode_payload(h.schema_version, h.partner, payload)?;
    Ok(h.into_envelope(event))
}

impl Header {
    /// The envelope this header and `payload` make.
    pub fn into_envelope(self, payload: Event) -> Envelope {
        Envelope {
            event_id: self.event_id,
            stream: self.stream,
            stream_version: self.stream_version,
            recorded_at: self.recorded_at,
            effective_at: self.effective_at,
            causation_id: self.causation_id,
            correlation_id: self.correlation_id,
            actor: self.actor,
            partner: self.partner,
            customer: self.customer,
            schema_version: self.schema_version,
            payload,
            outbox: self.outbox,
        }
    }
}

fn decode_exact<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    let (v, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if rest.is_empty() {
        Ok(v)
    } else {
        Err(DecodeError::Malformed(format!(
            "{} trailing bytes after the payload",
            rest.len()
        )))
    }
}

fn decode_payload(
    schema: u16,
    partner: Option<TenantId>,
    bytes: &[u8],
) -> Result<Event, DecodeError> {
    match schema {
        0 => Err(DecodeError::Malformed("unknown event schema 0".into())),
        1 => v5::upcast(v1::upcast(decode_exact::<v1::Event>(bytes)?), partner),
        // Schemas 2 to 5 only appended variants: a kind decodes with its schema-5 type.
        2..=5 => {
            known_kind(schema, bytes)?;
            v5::upcast(decode_exact::<v5::Event>(bytes)?, partner)
        }
        // From schema 6 on, shapes are frozen and variants only appended: a kind this build
        // knows decodes with its types whatever the writer's schema.
        schema => {
            known_kind(schema, bytes)?;
            match decode_exact::<Event>(bytes) {
                Err(_) if schema > SCHEMA_VERSION => Err(DecodeError::NewerSchema {
                    found: schema,
                    known: SCHEMA_VERSION,
                }),
                decoded => decoded,
            }
        }
    }
}

/// Refuses a payload whose variant this build does not know (appended by a newer build).
fn known_kind(schema: u16, bytes: &[u8]) -> Result<(), DecodeError> {
    let (variant, _) = postcard::take_from_bytes::<u32>(bytes)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if usize::try_from(variant).map_or(true, |v| v >= EventKind::ALL.len()) {
        return Err(DecodeError::UnknownKind {
            variant,
            schema,
            known: EventKind::ALL.len(),
        });
    }
    Ok(())
}

/// Schemas 2 to 5, frozen: the shapes that schema 6 changed, and the event enum of schema 5
/// (which schemas 2 to 4 are prefixes of). Unchanged variants reuse the current structs.
pub mod v5 {
    use serde::{Deserialize, Serialize};

    use super::DecodeError;
    use crate::counter::*;
    use crate::event::{self, CommandRejected, Quarantined};
    use crate::id::{OrderId, PurchaseId, RefundRequestId, SubscriptionId, TenantId};
    use crate::money::Money;
    use crate::ordering::*;
    use crate::time::Timestamp;

    /// `AccessRefused` before it named the item.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct AccessRefused {
        pub service: String,
        pub action: String,
        pub customer: Option<TenantId>,
        pub reason: String,
    }

    /// `SubscriptionRenewed` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct SubscriptionRenewed {
        pub subscription: SubscriptionId,
        pub customer: TenantId,
        pub term_number: u32,
        pub term_start: Timestamp,
        pub term_end: Timestamp,
        pub billing_plan: BillingPlan,
        pub term_price: Money,
        pub cancellable_until: Option<Timestamp>,
    }

    /// `SubscriptionExpired` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct SubscriptionExpired {
        pub subscription: SubscriptionId,
        pub customer: TenantId,
        pub expired_at: Timestamp,
    }

    /// `AutoRenewChanged` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct AutoRenewChanged {
        pub subscription: SubscriptionId,
        pub customer: TenantId,
        pub auto_renew: bool,
    }

    /// `SubscriptionCancelled` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct SubscriptionCancelled {
        pub subscription: SubscriptionId,
        pub order: OrderId,
        pub customer: TenantId,
        pub term_number: u32,
        pub term_start: Timestamp,
        pub term_end: Timestamp,
        pub term_price: Money,
        pub billing_plan: BillingPlan,
        pub cancelled_at: Timestamp,
    }

    /// `PerpetualCancelled` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct PerpetualCancelled {
        pub purchase: PurchaseId,
        pub order: OrderId,
        pub customer: TenantId,
        pub price: Money,
        pub cancelled_at: Timestamp,
    }

    /// `RefundRequestFiled` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct RefundRequestFiled {
        pub refund_request: RefundRequestId,
        pub customer: TenantId,
        pub subject: RefundSubject,
        pub reason: String,
        pub amount_requested: Money,
        pub contact: Contact,
        pub impact: Option<String>,
        pub title: Option<String>,
        pub attachments: Vec<Attachment>,
    }

    /// `RefundRequestApproved` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct RefundRequestApproved {
        pub refund_request: RefundRequestId,
        pub customer: TenantId,
        pub amount: Money,
        pub note: Option<String>,
    }

    /// `RefundRequestDeclined` before it named the selling partner.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub struct RefundRequestDeclined {
        pub refund_request: RefundRequestId,
        pub customer: TenantId,
        pub reason: String,
    }

    /// The event enum of schema 5, variant for variant.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub enum Event {
        AccessRefused(AccessRefused),
        Quarantined(Quarantined),
        CommandRejected(CommandRejected),
        CustomerAdded(CustomerAdded),
        OrderPlaced(OrderPlaced),
        SubscriptionStarted(SubscriptionStarted),
        SubscriptionRenewed(SubscriptionRenewed),
        SubscriptionExpired(SubscriptionExpired),
        AutoRenewChanged(AutoRenewChanged),
        SubscriptionCancelled(SubscriptionCancelled),
        PerpetualPurchased(PerpetualPurchased),
        PerpetualCancelled(PerpetualCancelled),
        RefundRequestFiled(RefundRequestFiled),
        RefundRequestApproved(RefundRequestApproved),
        RefundRequestDeclined(RefundRequestDeclined),
        CounterOpened(CounterOpened),
        CounterIncremented(CounterIncremented),
        CounterExpired(CounterExpired),
        CounterObserved(CounterObserved),
        CounterWatched(CounterWatched),
        CounterWatchEnded(CounterWatchEnded),
    }

    /// Schema 5 → current: the selling partner is the envelope's `partner` (`partner`), which
    /// the runtime has always set to it for these kinds; a record without one cannot name it
    /// and is malformed rather than guessed.
    pub fn upcast(e: Event, partner: Option<TenantId>) -> Result<event::Event, DecodeError> {
        use event::Event as E;
        let selling = || {
            partner.ok_or_else(|| {
                DecodeError::Malformed("a schema-5 purchase event without a partner".into())
            })
        };
        Ok(match e {
            Event::AccessRefused(x) => E::AccessRefused(event::AccessRefused {
                service: x.service,
                action: x.action,
                customer: x.customer,
                reason: x.reason,
                item: None,
            }),
            Event::Quarantined(x) => E::Quarantined(x),
            Event::CommandRejected(x) => E::CommandRejected(x),
            Event::CustomerAdded(x) => E::CustomerAdded(x),
            Event::OrderPlaced(x) => E::OrderPlaced(x),
            Event::SubscriptionStarted(x) => E::SubscriptionStarted(x),
            Event::SubscriptionRenewed(x) => {
                E::SubscriptionRenewed(crate::ordering::SubscriptionRenewed {
                    subscription: x.subscription,
                    customer: x.customer,
                    partner: selling()?,
                    term_number: x.term_number,
                    term_start: x.term_start,
                    term_end: x.term_end,
                    billing_plan: x.billing_plan,
                    term_price: x.term_price,
                    cancellable_until: x.cancellable_until,
                })
            }
            Event::SubscriptionExpired(x) => {
                E::SubscriptionExpired(crate::ordering::SubscriptionExpired {
                    subscription: x.subscription,
                    customer: x.customer,
                    partner: selling()?,
                    expired_at: x.expired_at,
                })
            }
            Event::AutoRenewChanged(x) => E::AutoRenewChanged(crate::ordering::AutoRenewChanged {
                subscription: x.subscription,
                customer: x.customer,
                partner: selling()?,
                auto_renew: x.auto_renew,
            }),
            Event::SubscriptionCancelled(x) => {
                E::SubscriptionCancelled(crate::ordering::SubscriptionCancelled {
                    subscription: x.subscription,
                    order: x.order,
                    customer: x.customer,
                    partner: selling()?,
                    term_number: x.term_number,
                    term_start: x.term_start,
                    term_end: x.term_end,
                    term_price: x.term_price,
                    billing_plan: x.billing_plan,
                    cancelled_at: x.cancelled_at,
                })
            }
            Event::PerpetualPurchased(x) => E::PerpetualPurchased(x),
            Event::PerpetualCancelled(x) => {
                E::PerpetualCancelled(crate::ordering::PerpetualCancelled {
                    purchase: x.purchase,
                    order: x.order,
                    customer: x.customer,
                    partner: selling()?,
                    price: x.price,
                    cancelled_at: x.cancelled_at,
                })
            }
            Event::RefundRequestFiled(x) => {
                E::RefundRequestFiled(crate::ordering::RefundRequestFiled {
                    refund_request: x.refund_request,
                    customer: x.customer,
                    partner: selling()?,
                    subject: x.subject,
                    reason: x.reason,
                    amount_requested: x.amount_requested,
                    contact: x.contact,
                    impact: x.impact,
                    title: x.title,
                    attachments: x.attachments,
                })
            }
            Event::RefundRequestApproved(x) => {
                E::RefundRequestApproved(crate::ordering::RefundRequestApproved {
                    refund_request: x.refund_request,
                    customer: x.customer,
                    partner: selling()?,
                    amount: x.amount,
                    note: x.note,
                })
            }
            Event::RefundRequestDeclined(x) => {
                E::RefundRequestDeclined(crate::ordering::RefundRequestDeclined {
                    refund_request: x.refund_request,
                    customer: x.customer,
                    partner: selling()?,
                    reason: x.reason,
                })
            }
            Event::CounterOpened(x) => E::CounterOpened(x),
            Event::CounterIncremented(x) => E::CounterIncremented(x),
            Event::CounterExpired(x) => E::CounterExpired(x),
            Event::CounterObserved(x) => E::CounterObserved(x),
            Event::CounterWatched(x) => E::CounterWatched(x),
            Event::CounterWatchEnded(x) => E::CounterWatchEnded(x),
        })
    }

    /// Writes a schema-5 record, as a build of schema 5 did: for the frozen fixtures and the
    /// upcast tests; nothing in production writes schema 5 any more.
    pub fn encode(env: &crate::envelope::Envelope, payload: &Event) -> Vec<u8> {
        super::encode_at(env, 5, payload)
    }
}

/// Schema 1, frozen. Only what changed since is a type of its own; the rest are schema 5's
/// (`v5`, itself the current structs where nothing changed), so a frozen schema is a list of
/// variants, not a copy of the contract.
pub mod v1 {
    use serde::{Deserialize, Serialize};

    use super::v5::{self, *};
    use crate::event::{self, CommandRejected};
    use crate::ordering::{CustomerAdded, OrderPlaced, PerpetualPurchased, SubscriptionStarted};

    /// `Quarantined` before it named the producer.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Quarantined {
        /// The subject the bytes arrived on.
        pub subject: String,
        /// The decode error.
        pub reason: String,
        /// The bytes.
        pub raw: Vec<u8>,
    }

    /// The event enum of schema 1, variant for variant.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub enum Event {
        AccessRefused(AccessRefused),
        Quarantined(Quarantined),
        CommandRejected(CommandRejected),
        CustomerAdded(CustomerAdded),
        OrderPlaced(OrderPlaced),
        SubscriptionStarted(SubscriptionStarted),
        SubscriptionRenewed(SubscriptionRenewed),
        SubscriptionExpired(SubscriptionExpired),
        AutoRenewChanged(AutoRenewChanged),
        SubscriptionCancelled(SubscriptionCancelled),
        PerpetualPurchased(PerpetualPurchased),
        PerpetualCancelled(PerpetualCancelled),
        RefundRequestFiled(RefundRequestFiled),
        RefundRequestApproved(RefundRequestApproved),
        RefundRequestDeclined(RefundRequestDeclined),
    }

    /// Schema 1 → schema 5. The producer of a quarantined message is the service token of its
    /// subject (`csp.evt.<service>.…`), which is what schema 2 records explicitly.
    pub fn upcast(e: Event) -> v5::Event {
        use v5::Event as E;
        match e {
            Event::AccessRefused(x) => E::AccessRefused(x),
            Event::Quarantined(q) => E::Quarantined(event::Quarantined {
                producer: q.subject.split('.').nth(2).unwrap_or("unknown").to_string(),
                subject: q.subject,
                reason: q.reason,
                raw: q.raw,
            }),
            Event::CommandRejected(x) => E::CommandRejected(x),
            Event::CustomerAdded(x) => E::CustomerAdded(x),
            Event::OrderPlaced(x) => E::OrderPlaced(x),
            Event::SubscriptionStarted(x) => E::SubscriptionStarted(x),
            Event::SubscriptionRenewed(x) => E::SubscriptionRenewed(x),
            Event::SubscriptionExpired(x) => E::SubscriptionExpired(x),
            Event::AutoRenewChanged(x) => E::AutoRenewChanged(x),
            Event::SubscriptionCancelled(x) => E::SubscriptionCancelled(x),
            Event::PerpetualPurchased(x) => E::PerpetualPurchased(x),
            Event::PerpetualCancelled(x) => E::PerpetualCancelled(x),
            Event::RefundRequestFiled(x) => E::RefundRequestFiled(x),
            Event::RefundRequestApproved(x) => E::RefundRequestApproved(x),
            Event::RefundRequestDeclined(x) => E::RefundRequestDeclined(x),
        }
    }

    /// Writes a schema-1 record, as a build of schema 1 did. Kept for the upcast test and the
    /// frozen fixture; nothing in production writes schema 1.
    pub fn encode(env: &crate::envelope::Envelope, payload: &Event) -> Vec<u8> {
        super::encode_at(env, 1, payload)
    }
}

/// A record as a build of `schema` wrote it, `payload` being that schema's enum.
fn encode_at(env: &Envelope, schema: u16, payload: &impl Serialize) -> Vec<u8> {
    let header = Header {
        event_id: env.event_id,
        stream: env.stream.clone(),
        stream_version: env.stream_version,
        recorded_at: env.recorded_at,
        effective_at: env.effective_at,
        causation_id: env.causation_id,
        correlation_id: env.correlation_id,
        actor: env.actor.clone(),
        partner: env.partner,
        customer: env.customer,
        outbox: env.outbox,
        schema_version: schema,
    };
    // Serialising into a Vec cannot fail: every type here serialises infallibly.
    let out = postcard::to_extend(&header, vec![FORMAT_V1]).unwrap_or_default();
    postcard::to_extend(payload, out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn every_sample_round_trips() {
        for kind in crate::event::EventKind::ALL {
            let env = fixtures::sample(*kind);
            let bytes = encode(&env);
            assert_eq!(bytes[0], FORMAT_V1);
            let back = decode(&bytes).unwrap();
            assert_eq!(back, env, "{}", kind.name());
        }
    }

    /// A hidden selector (an ESU offers a version only) is `None` in the event, and must read
    /// back: postcard has no field names, so a skipped field shifts every byte after it.
    #[test]
    fn an_event_with_hidden_selectors_round_trips() {
        let mut env = fixtures::sample(crate::event::EventKind::KeysGenerated);
        let crate::Event::KeysGenerated(e) = &mut env.payload else {
            panic!("the keys_generated sample is not keys_generated");
        };
        e.selection.language = None;
        e.selection.file_type = None;
        assert_eq!(decode(&encode(&env)).unwrap(), env);
    }

    /// The same mistake anywhere else: no type that can be inside an event skips a field when
    /// serialising. Only the JSON-only modules (commands, queries, replies, the API envelope and
    /// token claims) may.
    #[test]
    fn no_event_type_skips_a_field() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if path.is_dir() {
                    walk(&path, found);
                } else if ![
                    "commands.rs",
                    "queries.rs",
                    "replies.rs",
                    "api.rs",
                    "actor.rs",
                ]
                .contains(&name.as_str())
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let marker = ["skip_serializing", "_if"].concat();
                    if text.contains(&marker) {
                        found.push(path.display().to_string());
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.is_empty(), "postcard types skip fields in {found:?}");
    }

    #[test]
    fn setting_the_outbox_without_decoding_the_payload_equals_a_full_re_encode() {
        for kind in crate::event::EventKind::ALL {
            let mut env = fixtures::sample(*kind);
            env.outbox = None;
            let position = OutboxPosition {
                seq: 300,
                epoch: Uuid::from_u128(9),
            };
            let (bytes, header, found) = with_outbox(&encode(&env), position).unwrap();
            env.outbox = Some(position);
            assert_eq!(bytes, encode(&env), "{}", kind.name());
            assert_eq!(found, *kind);
            assert_eq!(header.event_id, env.event_id);
        }
        let position = OutboxPosition {
            seq: 1,
            epoch: Uuid::nil(),
        };
        assert!(with_outbox(&[FORMAT_V1, 0], position).is_err());
    }

    #[test]
    fn a_schema_1_record_is_read_back_upcast() {
        let env = fixtures::sample(crate::event::EventKind::Quarantined);
        let old = v1::Event::Quarantined(v1::Quarantined {
            subject: "csp.evt.billing.charge_due.p.c".into(),
            reason: "bad varint".into(),
            raw: vec![0xff, 0x00],
        });
        let bytes = v1::encode(&env, &old);
        let back = decode(&bytes).unwrap();
        assert_eq!(
            back.schema_version, 1,
            "the envelope says what it was written in"
        );
        assert_eq!(
            back.payload,
            Event::Quarantined(crate::event::Quarantined {
                producer: "billing".into(),
                subject: "csp.evt.billing.charge_due.p.c".into(),
                reason: "bad varint".into(),
                raw: vec![0xff, 0x00],
            })
        );
        // Re-encoding writes the current schema.
        let again = decode(&encode(&back)).unwrap();
        assert_eq!(again.schema_version, SCHEMA_VERSION);
        assert_eq!(again.payload, back.payload);
    }

    /// `header` (with `schema`) followed by `payload`.
    fn record(h: &Header, schema: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = h.clone();
        h.schema_version = schema;
        let mut out = postcard::to_extend(&h, vec![FORMAT_V1]).unwrap();
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_known_kind_from_a_newer_build_is_read_and_an_unknown_kind_is_held() {
        let env = fixtures::sample(crate::event::EventKind::AccessRefused);
        let bytes = encode(&env);
        let (h, payload) = decode_header(&bytes).unwrap();
        // A newer build that added kinds wrote a kind this build knows: it is folded.
        let newer = decode(&record(&h, SCHEMA_VERSION + 1, payload)).unwrap();
        assert_eq!(newer.payload, env.payload);
        assert_eq!(newer.schema_version, SCHEMA_VERSION + 1);
        // A kind this build does not know: held (reported), never quarantined.
        let mut unknown = Vec::new();
        let next = u32::try_from(EventKind::ALL.len()).unwrap();
        unknown.extend(postcard::to_stdvec(&next).unwrap());
        unknown.extend_from_slice(&[3, b'a', b'b', b'c']);
        let e = decode(&record(&h, SCHEMA_VERSION + 1, &unknown)).unwrap_err();
        assert!(e.is_newer(), "{e}");
        assert!(matches!(e, DecodeError::UnknownKind { variant, .. } if variant == next));
        // A known kind from a newer build that does not decode: held too, not garbage.
        let mut changed = payload.to_vec();
        changed.truncate(2);
        let e = decode(&record(&h, SCHEMA_VERSION + 1, &changed)).unwrap_err();
        assert!(matches!(e, DecodeError::NewerSchema { .. }), "{e}");
        // The same bytes claiming this build's schema are garbage.
        let e = decode(&record(&h, SCHEMA_VERSION, &changed)).unwrap_err();
        assert!(!e.is_newer(), "{e}");
    }

    #[test]
    fn newer_formats_are_told_apart_from_garbage() {
        let env = fixtures::sample(crate::event::EventKind::AccessRefused);
        let mut bytes = encode(&env);

        bytes[0] = 9;
        assert!(decode(&bytes).unwrap_err().is_newer());
        bytes[0] = 0xff;
        assert!(
            !decode(&bytes).unwrap_err().is_newer(),
            "0xff is garbage, not a future format"
        );
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        let e = decode(&[FORMAT_V1, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(!e.is_newer());
        let e = decode(&[0]).unwrap_err();
        assert!(!e.is_newer());
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        let env = fixtures::sample(crate::event::EventKind::AccessRefused);
        let mut bytes = encode(&env);
        bytes.push(0);
        assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn truncated_records_never_panic() {
        for kind in crate::event::EventKind::ALL {
            let bytes = encode(&fixtures::sample(*kind));
            for cut in 0..bytes.len() {
                assert!(
                    decode(&bytes[..cut]).is_err(),
                    "{} cut at {cut}",
                    kind.name()
                );
            }
        }
    }
}
