//! The one enum of every event csp records, and the events every service shares.
//!
//! postcard encodes an enum variant by its position, so variants are only ever appended at the
//! end, and a released variant's shape never changes (a change is a new variant; the frozen
//! golden files check it). Every addition bumps [`crate::codec::SCHEMA_VERSION`]; a consumer
//! of an older build reads every kind it knows from a newer writer and holds back only at a
//! kind it does not know, instead of quarantining what it cannot read yet.

use serde::{Deserialize, Serialize};

use crate::audit::CheckpointSigned;
use crate::billing::stream as bill;
use crate::billing::{ChargeBilled, CreditIssued, InvoiceIssued, MonthClosed, RefundIssued};
use crate::counter::*;
use crate::entitlement::stream as ent;
use crate::entitlement::{
    DevicesImported, DownloadLinkIssued, EntitlementEnded, EntitlementGranted, KeyAssigned,
    KeyPoolFilled, KeyPoolLow, KeyShown, KeysGenerated, MakDeployed,
};
use crate::id::TenantId;
use crate::ordering::*;

/// The runtime refused an actor (`forbidden`): who is in the envelope, what is here. It changes
/// no other state; K5 and A4 rely on every refusal being recorded exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRefused {
    /// The service that refused.
    pub service: String,
    /// The command or query refused, e.g. `place_order`.
    pub action: String,
    /// The customer the actor tried to act for, when known.
    pub customer: Option<TenantId>,
    /// Why, for the audit trail.
    pub reason: String,
    /// What was refused, when it is one item (a subscription, a product key's entitlement,
    /// an invoice), so the activity log can show it; since schema 6.
    pub item: Option<ItemRef>,
}

/// One item of a customer's, named for the audit trail: its kind (`subscription`, `order`,
/// `perpetual`, `refund_request`, `entitlement`, `invoice`...) and its id as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemRef {
    /// The kind of item, snake_case.
    pub kind: String,
    /// Its id.
    pub id: String,
}

impl ItemRef {
    /// `kind` `id`.
    pub fn new(kind: &str, id: impl std::fmt::Display) -> ItemRef {
        ItemRef {
            kind: kind.to_string(),
            id: id.to_string(),
        }
    }
}

impl std::fmt::Display for ItemRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// A consumer met bytes it could not decode at all. They are kept here, and copied to
/// `csp.dlq.<service>`, so nothing is silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The producing service (the subject's second token), so a report can say whose bytes.
    pub producer: String,
    /// The subject the bytes arrived on.
    pub subject: String,
    /// The decode error.
    pub reason: String,
    /// The bytes, as received.
    pub raw: Vec<u8>,
}

/// A fire-and-forget command (`csp.in.…`) was refused; its sender has no reply to read, so the
/// outcome is this event, carrying the message's correlation id in its envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRejected {
    /// The command's name.
    pub command: String,
    /// Its `request_id`, when the body had one.
    pub request_id: Option<String>,
    /// The error code (`ErrorCode` wire name).
    pub code: String,
    /// The error message.
    pub message: String,
}

macro_rules! events {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        /// Every event csp records. Each variant wraps a struct of the same name.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Event {
            $(
                #[doc = concat!("See [`", stringify!($variant), "`].")]
                $variant($variant),
            )+
        }

        /// The name of an event variant, without its data: the subject token and the fixture
        /// file name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )+
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),+];

            /// The snake_case name: a subject token (`csp.evt.ordering.<name>.…`).
            pub fn name(&self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)+
                }
            }

            /// The kind named `name`.
            pub fn from_name(name: &str) -> Option<EventKind> {
                match name {
                    $($name => Some(EventKind::$variant),)+
                    _ => None,
                }
            }
        }

        impl Event {
            /// This event's kind.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant(_) => EventKind::$variant,)+
                }
            }

            /// The stream it is recorded on, as its type states ([`Routed`]); `None` for an
            /// event whose recorder names the stream.
            pub fn stream(&self) -> Option<String> {
                match self {
                    $(Event::$variant(e) => Routed::stream(e),)+
                }
            }

            /// The customer tenant it concerns (subject token, partition key), if any.
            pub fn customer(&self) -> Option<TenantId> {
                match self {
                    $(Event::$variant(e) => Routed::customer(e),)+
                }
            }

            /// The partner tenant it names, if it names one.
            pub fn partner(&self) -> Option<TenantId> {
                match self {
                    $(Event::$variant(e) => Routed::partner(e),)+
                }
            }
        }

        $(
            impl From<$variant> for Event {
                fn from(e: $variant) -> Event {
                    Event::$variant(e)
                }
            }
        )+
    };
}

/// Where an event is recorded and whom it concerns, stated by each event type: the registry
/// below dispatches to it for every variant, so a type listed there without saying where it
/// goes is a compile error (an unknown event used to get the stream `""` silently).
pub trait Routed {
    /// The stream it is recorded on; `None` when whoever records it names the stream (the
    /// runtime for `access-refused/<actor>`, `rejected/<service>`, `quarantine/<producer>`; a
    /// consumer for streams per producer).
    fn stream(&self) -> Option<String>;
    /// The customer tenant it concerns (subject token, partition key), if any.
    fn customer(&self) -> Option<TenantId>;
    /// The partner tenant it names, if it names one (the rest get theirs from the recorder).
    fn partner(&self) -> Option<TenantId>;
}

/// `Type => |e| (stream, customer, partner);` for each event type.
macro_rules! routed {
    ($($ty:ident => |$e:ident| ($stream:expr, $customer:expr, $partner:expr);)+) => {
        $(
            impl Routed for $ty {
                fn stream(&self) -> Option<String> {
                    let $e = self;
                    let _ = $e;
                    $stream
                }
                fn customer(&self) -> Option<TenantId> {
                    let $e = self;
                    let _ = $e;
                    $customer
                }
                fn partner(&self) -> Option<TenantId> {
                    let $e = self;
                    let _ = $e;
                    $partner
                }
            }
        )+
    };
}

routed! {
    AccessRefused => |e| (None, e.customer, None);
    Quarantined => |_e| (None, None, None);
    CommandRejected => |_e| (None, None, None);
    CustomerAdded => |e| (Some(stream::customer(e.customer)), Some(e.customer), Some(e.partner));
    OrderPlaced => |e| (Some(stream::order(e.order)), Some(e.customer), Some(e.partner));
    SubscriptionStarted => |e| (Some(stream::subscription(e.subscription)), Some(e.customer), Some(e.partner));
    SubscriptionRenewed => |e| (Some(stream::subscription(e.subscription)), Some(e.customer), Some(e.partner));
    SubscriptionExpired => |e| (Some(stream::subscription(e.subscription)), Some(e.customer), Some(e.partner));
    AutoRenewChanged => |e| (Some(stream::subscription(e.subscription)), Some(e.customer), Some(e.partner));
    SubscriptionCancelled => |e| (Some(stream::subscription(e.subscription)), Some(e.customer), Some(e.partner));
    PerpetualPurchased => |e| (Some(stream::perpetual(e.purchase)), Some(e.customer), Some(e.partner));
    PerpetualCancelled => |e| (Some(stream::perpetual(e.purchase)), Some(e.customer), Some(e.partner));
    RefundRequestFiled => |e| (Some(stream::refund_request(e.refund_request)), Some(e.customer), Some(e.partner));
    RefundRequestApproved => |e| (Some(stream::refund_request(e.refund_request)), Some(e.customer), Some(e.partner));
    RefundRequestDeclined => |e| (Some(stream::refund_request(e.refund_request)), Some(e.customer), Some(e.partner));
    CounterOpened => |e| (Some(crate::counter::stream(e.customer)), Some(e.customer), Some(e.partner));
    CounterIncremented => |e| (Some(crate::counter::stream(e.customer)), Some(e.customer), None);
    CounterExpired => |e| (Some(crate::counter::stream(e.customer)), Some(e.customer), None);
    CounterObserved => |e| (None, Some(e.customer), None);
    CounterWatched => |e| (Some(crate::counter::watch_stream(e.customer)), Some(e.customer), None);
    CounterWatchEnded => |e| (Some(crate::counter::watch_stream(e.customer)), Some(e.customer), None);
    EntitlementGranted => |e| (Some(ent::entitlement(e.entitlement)), Some(e.customer), Some(e.partner));
    KeysGenerated => |e| (Some(ent::entitlement(e.entitlement)), Some(e.customer), Some(e.partner));
    KeyAssigned => |e| (Some(ent::pool(&e.pool)), None, None);
    KeyShown => |e| (Some(ent::entitlement(e.entitlement)), Some(e.customer), Some(e.partner));
    DownloadLinkIssued => |e| (Some(ent::entitlement(e.entitlement)), Some(e.customer), Some(e.partner));
    EntitlementEnded => |e| (Some(ent::entitlement(e.entitlement)), Some(e.customer), Some(e.partner));
    KeyPoolFilled => |e| (Some(ent::pool(&e.pool)), None, None);
    KeyPoolLow => |e| (Some(ent::pool(&e.pool)), None, None);
    DevicesImported => |e| (Some(ent::migration(e.customer)), Some(e.customer), None);
    MakDeployed => |e| (Some(ent::migration(e.customer)), Some(e.customer), None);
    ChargeBilled => |e| (Some(bill::item(&e.item)), Some(e.customer), Some(e.partner));
    RefundIssued => |e| (Some(bill::item(&e.item)), Some(e.customer), Some(e.partner));
    CreditIssued => |e| (Some(bill::credit(&e.reason)), Some(e.customer), Some(e.partner));
    InvoiceIssued => |e| (Some(bill::invoice(e.invoice.partner, e.invoice.month, e.invoice.currency)), None, Some(e.invoice.partner));
    MonthClosed => |e| (Some(bill::month(e.month)), None, None);
    CheckpointSigned => |_e| (Some(crate::audit::stream::TREE.to_string()), None, None);
}

// Append only, and never change a released variant's shape. Adding a variant: add it at the end,
// bump codec::SCHEMA_VERSION, add a sample in fixtures.rs, run `cargo xtask fixtures` (it writes
// the new kind's frozen record too), and write a line in CHANGELOG.md.
events! {
    AccessRefused = "access_refused",
    Quarantined = "quarantined",
    CommandRejected = "command_rejected",
    CustomerAdded = "customer_added",
    OrderPlaced = "order_placed",
    SubscriptionStarted = "subscription_started",
    SubscriptionRenewed = "subscription_renewed",
    SubscriptionExpired = "subscription_expired",
    AutoRenewChanged = "auto_renew_changed",
    SubscriptionCancelled = "subscription_cancelled",
    PerpetualPurchased = "perpetual_purchased",
    PerpetualCancelled = "perpetual_cancelled",
    RefundRequestFiled = "refund_request_filed",
    RefundRequestApproved = "refund_request_approved",
    RefundRequestDeclined = "refund_request_declined",
    CounterOpened = "counter_opened",
    CounterIncremented = "counter_incremented",
    CounterExpired = "counter_expired",
    CounterObserved = "counter_observed",
    CounterWatched = "counter_watched",
    CounterWatchEnded = "counter_watch_ended",
    EntitlementGranted = "entitlement_granted",
    KeysGenerated = "keys_generated",
    KeyAssigned = "key_assigned",
    KeyShown = "key_shown",
    DownloadLinkIssued = "download_link_issued",
    EntitlementEnded = "entitlement_ended",
    KeyPoolFilled = "key_pool_filled",
    KeyPoolLow = "key_pool_low",
    DevicesImported = "devices_imported",
    MakDeployed = "mak_deployed",
    ChargeBilled = "charge_billed",
    RefundIssued = "refund_issued",
    CreditIssued = "credit_issued",
    InvoiceIssued = "invoice_issued",
    MonthClosed = "month_closed",
    CheckpointSigned = "checkpoint_signed",
}

impl Event {
    /// The snake_case name of this event.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::sample;

    /// Which kinds name their own stream, and that every sample routes to its own customer:
    /// the table above, pinned.
    #[test]
    fn every_kind_states_its_stream_and_tenants() {
        let recorder_named = [
            EventKind::AccessRefused,
            EventKind::Quarantined,
            EventKind::CommandRejected,
            EventKind::CounterObserved,
        ];
        for kind in EventKind::ALL {
            let event = sample(*kind).payload;
            match event.stream() {
                Some(stream) => {
                    assert!(!recorder_named.contains(kind), "{kind:?}");
                    assert!(
                        !stream.is_empty() && stream.contains('/'),
                        "{kind:?}: {stream}"
                    );
                }
                None => assert!(recorder_named.contains(kind), "{kind:?} states no stream"),
            }
        }
        let placed = sample(EventKind::OrderPlaced).payload;
        let Event::OrderPlaced(o) = &placed else {
            panic!("an order")
        };
        assert_eq!(placed.stream(), Some(format!("order/{}", o.order)));
        assert_eq!(
            (placed.customer(), placed.partner()),
            (Some(o.customer), Some(o.partner))
        );
    }
}
