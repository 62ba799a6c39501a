//! # csp-events: the contract
//!
//! Everything two csp processes — or csp and an outside system — must agree on lives here, and
//! nothing else does: this crate depends on nothing of ours, and every service depends on it.
//!
//! - [`envelope`] and [`event`]: the events every service records and publishes;
//! - [`codec`]: format byte + postcard, schema versions and upcasting;
//! - [`api`]: the JSON edge (one reply shape, stable error codes, strict decoding);
//! - [`ordering`]: the ordering service's events, commands, queries and their replies, one
//!   file each in one folder (the layout every service's part follows);
//! - [`entitlement`]: the entitlement service's events and the value types its API shares;
//! - [`audit`]: the audit service's checkpoint event, commands, queries and replies;
//! - [`billing`]: the billing service's events, queries and replies, and [`billing::Month`];
//! - [`counter`]: the runtime's test service (a counter with a rule and a due transition);
//! - [`feed`]: heartbeats and `events_from`, how consumers recover what the bus lost;
//! - [`subject`]: NATS subject and stream names;
//! - [`kernel`]: deciders, their [`kernel::Context`], rejections and due transitions;
//! - [`actor`], [`money`], [`id`], [`time`], [`market`]: the value types the rest is made of;
//! - [`fixtures`]: one golden sample per event kind.
//!
//! A released event shape never changes (postcard is not self-describing): add a variant or a
//! schema version instead, and upcast on read. Until 1.0, every shape change is a line in
//! `CHANGELOG.md` and regenerated fixtures.

#![warn(missing_docs)]

pub mod actor;
pub mod api;
pub mod audit;
pub mod billing;
pub mod codec;
pub mod counter;
pub mod entitlement;
pub mod envelope;
pub mod event;
pub mod feed;
pub mod fixtures;
pub mod id;
pub mod kernel;
pub mod market;
pub mod money;
pub mod ordering;
pub mod subject;
pub mod time;

pub use actor::{Actor, ActorKind, Role, TokenClaims};
pub use api::{ApiError, CustomerRef, ErrorCode, Refused, Reply, RequestId};
pub use envelope::{Envelope, OutboxPosition};
pub use event::{Event, EventKind, ItemRef};
pub use id::{
    CorrelationId, DataKeyId, EntitlementId, EventId, ImportId, KeyId, OrderId, PurchaseId,
    RefundRequestId, SubscriptionId, TenantId,
};
pub use money::{Currency, Money};
pub use time::Timestamp;
