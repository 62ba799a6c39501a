//! # csp-bus: the service runtime
//!
//! - [`bus`]: one API over NATS ([`nats`]) and an in-process bus ([`local`]);
//! - [`service`]: what a service is (state, fold, endpoint table, due transitions);
//! - [`runtime`]: the shell that serves it (auth, idempotency, append, apply, reply, scheduler);
//! - [`clock`]: system and manual time;
//! - [`js`]: JetStream publish/consume; `outbox` (publisher, heartbeat, `events_from`) and
//!   `inbox` (consumers that recover what the bus lost), with [`crash`] points for tests.

mod admin;
pub mod bus;
pub mod clock;
mod core;
pub mod crash;
pub mod harness;
mod inbound;
mod inbox;
pub mod js;
pub mod local;
pub mod nats;
mod outbox;
mod request;
pub mod runtime;
pub mod service;

pub use bus::{Bus, BusError, Headers, Incoming, Msg, Served, ServiceInfo, Subscription};
pub use clock::Clock;
pub use harness::Harness;
pub use service::{
    decide_batch, spec, Access, BatchItem, CommandFn, Decided, Emit, Endpoints, Origin, QueryFn,
    Scratch, Service, Unchanged, Upstream,
};
