//! The counter: a deliberately tiny service that exercises every part of the runtime (a rule,
//! a tenant check, a scheduled transition) before and beside the real services. It is part of
//! the contract because its events travel in the same envelope and log as everyone else's; it
//! is not a business feature.
//!
//! A partner opens a counter for a customer it serves, with a limit and a lifetime; it counts up
//! to the limit; at the end of its lifetime it expires (a scheduled transition).

//!
//! Laid out as every service's part of the contract is: [`events`], [`commands`], [`queries`]
//! and [`replies`], all re-exported here.

use crate::id::TenantId;

pub mod commands;
pub mod events;
pub mod queries;
pub mod replies;

pub use commands::*;
pub use events::*;
pub use queries::*;
pub use replies::*;

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
