//! Typed ids. Every id is a UUID under a name that says what it identifies, so a subscription id
//! can never be passed where an order id is expected. Ids of *derived* events (reactions and
//! scheduled transitions) are computed from what caused them, so deciding them twice yields the
//! same id and the log's dedupe turns the second append into a no-op.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The raw UUID, for keys and subjects.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                $name(u)
            }
        }
    };
}

uuid_id!(
    /// An event's identity: the dedupe key of every log and the `Nats-Msg-Id` on the bus.
    EventId
);
uuid_id!(
    /// A Microsoft tenant (partner or customer). Tenant ids are GUIDs in Partner Center too.
    TenantId
);
uuid_id!(
    /// An order: one customer, one or more lines.
    OrderId
);
uuid_id!(
    /// A software subscription (or Azure Reservation) created by an order line.
    SubscriptionId
);
uuid_id!(
    /// A perpetual software purchase created by an order line.
    PurchaseId
);
uuid_id!(
    /// A "CSP Purchase/Refund on behalf of customers" support request.
    RefundRequestId
);
uuid_id!(
    /// What a customer may download and activate for one purchased item (RULES.md K1): the
    /// same UUID as the subscription or perpetual purchase it was granted for, so either id
    /// names it and granting twice is the same entitlement.
    EntitlementId
);
uuid_id!(
    /// One product key held by the entitlement service, from import to revocation.
    KeyId
);
uuid_id!(
    /// A data key of the entitlement service's keyring: each product key is sealed under its
    /// own, so destroying it shreds exactly that key.
    DataKeyId
);
uuid_id!(
    /// One imported file (product keys, or a customer's device list).
    ImportId
);
uuid_id!(
    /// Ties together every event caused, directly or not, by one outside request.
    CorrelationId
);

/// Namespace of reaction ids (UUID v5): a reaction's id is a function of its upstream event.
const REACTION_NAMESPACE: Uuid = Uuid::from_u128(0x6a0f_4c55_1b0e_4e5b_9d3c_2f1a_7c4e_0001);
/// Namespace of scheduled-transition ids (UUID v5): a function of stream, key and due time.
const SCHEDULE_NAMESPACE: Uuid = Uuid::from_u128(0x6a0f_4c55_1b0e_4e5b_9d3c_2f1a_7c4e_0002);
/// Namespace of the ids a command derives for the entities it creates.
const ENTITY_NAMESPACE: Uuid = Uuid::from_u128(0x6a0f_4c55_1b0e_4e5b_9d3c_2f1a_7c4e_0003);

impl EventId {
    /// The id of the `index`-th reaction the service `consumer` derives from `cause` (an
    /// upstream event). The same upstream event always yields the same reaction ids, so a
    /// redelivered message decided again produces events the log already holds; two consumers
    /// of one event derive different ids (entitlement's `entitlement_ended` and billing's
    /// `refund_issued` for one cancellation are two events: audit keeps both).
    pub fn reaction(consumer: &str, cause: EventId, index: u32) -> EventId {
        let mut name = Vec::with_capacity(consumer.len() + 21);
        name.extend_from_slice(consumer.as_bytes());
        name.push(0);
        name.extend_from_slice(cause.0.as_bytes());
        name.extend_from_slice(&index.to_be_bytes());
        EventId(Uuid::new_v5(&REACTION_NAMESPACE, &name))
    }

    /// The id of a scheduled transition (a renewal, an expiry) of `stream`, named by a `key`
    /// unique within the stream (e.g. `"term-end/3"`) and its due time in microseconds. A
    /// scheduler that catches up twice, or two that race, derive the same id.
    pub fn scheduled(stream: &str, key: &str, due_at_micros: i64) -> EventId {
        let mut name = Vec::with_capacity(stream.len() + key.len() + 10);
        name.extend_from_slice(stream.as_bytes());
        name.push(0);
        name.extend_from_slice(key.as_bytes());
        name.push(0);
        name.extend_from_slice(&due_at_micros.to_be_bytes());
        EventId(Uuid::new_v5(&SCHEDULE_NAMESPACE, &name))
    }
}

/// Derives the `n`-th id of an entity a command creates from the one random seed the shell drew
/// for that command (see `kernel::Context`). Deterministic, so a decider stays pure.
pub fn derive_entity_id(seed: Uuid, kind: &str, n: u32) -> Uuid {
    let mut name = Vec::with_capacity(16 + kind.len() + 4);
    name.extend_from_slice(seed.as_bytes());
    name.extend_from_slice(kind.as_bytes());
    name.extend_from_slice(&n.to_be_bytes());
    Uuid::new_v5(&ENTITY_NAMESPACE, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_deterministic_and_distinct() {
        let cause = EventId(Uuid::from_u128(42));
        assert_eq!(
            EventId::reaction("billing", cause, 0),
            EventId::reaction("billing", cause, 0)
        );
        assert_ne!(
            EventId::reaction("billing", cause, 0),
            EventId::reaction("billing", cause, 1)
        );
        assert_ne!(
            EventId::reaction("billing", cause, 0),
            EventId::reaction("entitlement", cause, 0)
        );
        let a = EventId::scheduled("subscription/1", "term-end/1", 100);
        assert_eq!(a, EventId::scheduled("subscription/1", "term-end/1", 100));
        assert_ne!(a, EventId::scheduled("subscription/1", "term-end/1", 101));
        assert_ne!(a, EventId::scheduled("subscription/1", "term-end/2", 100));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            EventId::scheduled("ab", "c", 0),
            EventId::scheduled("a", "bc", 0)
        );
        let seed = Uuid::from_u128(7);
        assert_ne!(
            derive_entity_id(seed, "order", 0),
            derive_entity_id(seed, "subscription", 0)
        );
    }

    #[test]
    fn ids_round_trip_as_strings() {
        let id = OrderId(Uuid::from_u128(0x1234));
        let s = id.to_string();
        assert_eq!(s.parse::<OrderId>().ok(), Some(id));
        assert_eq!(serde_json::to_string(&id).ok(), Some(format!("\"{s}\"")));
    }
}
