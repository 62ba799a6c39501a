//! Ordering's domain: pure deciders and nothing else. No `async`, no I/O, no clock, no
//! randomness: the time, the verified actor and the random seed come in through
//! [`csp_events::kernel::Context`], the catalog comes in with the command, and new ids are
//! derived with `ctx.new_id`, so a decision can be replayed, tested in microseconds and trusted.
//!
//! - [`access`]: who may act for which customer (roles, partner of record) and the rejections
//!   that say so;
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
//! is exactly what the service records; [`stream_of`] says which stream each event belongs to,
//! and [`emit`] and [`transition`] make one the kernel's `Emit` the runtime records.

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

use csp_events::kernel::{Emit, Transition};
use csp_events::ordering::stream;
use csp_events::{Event, TenantId, Timestamp};

/// The stream an ordering event is recorded on (`order/<id>`, `subscription/<id>`, ...); `None`
/// for events that are not ordering's. One command may write several streams — an order and the
/// subscriptions its lines create — in one atomic append.
pub fn stream_of(event: &Event) -> Option<String> {
    Some(match event {
        Event::CustomerAdded(e) => stream::customer(e.customer),
        Event::OrderPlaced(e) => stream::order(e.order),
        Event::SubscriptionStarted(e) => stream::subscription(e.subscription),
        Event::SubscriptionRenewed(e) => stream::subscription(e.subscription),
        Event::SubscriptionExpired(e) => stream::subscription(e.subscription),
        Event::AutoRenewChanged(e) => stream::subscription(e.subscription),
        Event::SubscriptionCancelled(e) => stream::subscription(e.subscription),
        Event::PerpetualPurchased(e) => stream::perpetual(e.purchase),
        Event::PerpetualCancelled(e) => stream::perpetual(e.purchase),
        Event::RefundRequestFiled(e) => stream::refund_request(e.refund_request),
        Event::RefundRequestApproved(e) => stream::refund_request(e.refund_request),
        Event::RefundRequestDeclined(e) => stream::refund_request(e.refund_request),
        _ => return None,
    })
}

/// The customer tenant an ordering event concerns: a subject token and the partition key.
pub fn customer_of(event: &Event) -> Option<csp_events::TenantId> {
    Some(match event {
        Event::CustomerAdded(e) => e.customer,
        Event::OrderPlaced(e) => e.customer,
        Event::SubscriptionStarted(e) => e.customer,
        Event::SubscriptionRenewed(e) => e.customer,
        Event::SubscriptionExpired(e) => e.customer,
        Event::AutoRenewChanged(e) => e.customer,
        Event::SubscriptionCancelled(e) => e.customer,
        Event::PerpetualPurchased(e) => e.customer,
        Event::PerpetualCancelled(e) => e.customer,
        Event::RefundRequestFiled(e) => e.customer,
        Event::RefundRequestApproved(e) => e.customer,
        Event::RefundRequestDeclined(e) => e.customer,
        _ => return None,
    })
}

/// A command's own event, as the runtime records it: its stream and customer from the event,
/// effective now (or at `effective_at`, for a backfill).
pub fn emit(event: Event, partner: Option<TenantId>, effective_at: Option<Timestamp>) -> Emit {
    let stream = stream_of(&event).unwrap_or_default();
    let customer = customer_of(&event);
    Emit::new(stream, event)
        .tenants(partner, customer)
        .effective(effective_at)
}

/// A due transition, as the runtime records it: its derived id and its true business time.
pub fn transition(t: Transition<Event>, partner: Option<TenantId>) -> Emit {
    let customer = customer_of(&t.event);
    Emit::transition(t).tenants(partner, customer)
}
