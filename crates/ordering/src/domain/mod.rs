//! Ordering's domain: pure deciders and nothing else. No `async`, no I/O, no clock, no
//! randomness: the time, the verified actor and the random seed come in through
//! [`csp_events::kernel::Context`], the catalog comes in with the command, and new ids are
//! derived with `ctx.new_id`, so a decision can be replayed, tested in microseconds and trusted.
//!
//! - [`access`]: who may act for which customer (roles, the partners that serve it, the
//!   tenancy module's checks) and the rejections that say so;
//! - [`customer`]: the partner's customer list (rule O2);
//! - [`pricing`]: turning requested lines into priced lines against the catalog and the policy
//!   in force (rules M1, M2, M3, O2), shared by ordering and review;
//! - [`order`]: placing and backfilling orders (rules O1, O2, O3, O6), and review;
//! - [`subscription`]: terms, renewals and expiries, auto-renew, cancellation (O6–O9);
//! - [`perpetual`]: perpetual purchases and their 30-day window (O10);
//! - [`cancellation`]: when a window ends and whether it has passed (O11);
//! - [`refund`]: "CSP Purchase/Refund on behalf of customers" requests (O12);
//! - [`term`]: calendar arithmetic of terms.
//!
//! Every decider's event type is the contract's [`csp_events::Event`], so what a decider returns
//! is exactly what the service records; each event's type says its stream and tenants
//! (`csp_events::event::Routed`), and [`emit`] and [`transition`] make one the kernel's `Emit`
//! the runtime records.

pub mod access;
pub mod cancellation;
pub mod customer;
pub mod order;
pub mod perpetual;
pub mod pricing;
pub mod refund;
pub mod subscription;
pub mod term;

#[cfg(test)]
pub(crate) mod testing;
