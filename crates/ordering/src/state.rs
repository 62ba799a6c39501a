//! Everything the ordering service knows, as one fold of its log: every aggregate's decider state
//! and every read model. The service (`service.rs`) holds one [`State`], folds each recorded event
//! with [`State::apply`] — live and in replay alike — and asks [`State::due`] what the scheduler
//! must record. The runtime digests it (`csp_bus::runtime::digest`) so an operator (and the
//! property tests) can check that live state equals a replay from scratch, byte for byte.

use std::collections::{BTreeMap, BTreeSet};

use csp_events::api::CustomerRef;
use csp_events::kernel::{Aggregates, Decider, Emit};
use csp_events::ordering::OrderPlaced;
use csp_events::{
    Actor, Envelope, Event, OrderId, PurchaseId, RefundRequestId, SubscriptionId, Timestamp,
};
use serde::Serialize;

use crate::domain::access::Target;
use crate::domain::customer::{Customers, Directory};
use crate::domain::order::{Order, OrderState};
use crate::domain::perpetual::{Perpetual, PerpetualState};
use crate::domain::refund::{Refund, RefundState};
use crate::domain::subscription::{Subscription, SubscriptionState};
use crate::projection::Projections;

/// The ordering service's whole state. Every field is an ordered map, so its serialisation — and
/// so its digest — depends only on the events folded, never on hashing or insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct State {
    /// The customer list (decider state).
    pub customers: Directory,
    /// Orders (decider states).
    pub orders: BTreeMap<OrderId, OrderState>,
    /// Subscriptions (decider states), with when each next term ends.
    pub subscriptions: Aggregates<SubscriptionId, Subscription>,
    /// Perpetual purchases (decider states).
    pub perpetuals: BTreeMap<PurchaseId, PerpetualState>,
    /// The perpetual purchases of each order: rule O10 cancels by order id.
    pub perpetuals_by_order: BTreeMap<OrderId, BTreeSet<PurchaseId>>,
    /// Refund requests (decider states).
    pub refunds: BTreeMap<RefundRequestId, RefundState>,
    /// The read models.
    pub views: Projections,
    /// How many events were folded.
    pub folded: u64,
}

impl State {
    /// Folds one recorded event: decider states first, then read models. Events that are not
    /// ordering's are ignored (a service log also holds `AccessRefused`).
    pub fn apply(&mut self, env: &Envelope) {
        let e = &env.payload;
        match e {
            Event::CustomerAdded(_) => Customers::evolve(&mut self.customers, e),
            Event::OrderPlaced(o) => Order::evolve(self.orders.entry(o.order).or_default(), e),
            Event::SubscriptionStarted(x) => self.evolve_subscription(x.subscription, e),
            Event::SubscriptionRenewed(x) => self.evolve_subscription(x.subscription, e),
            Event::SubscriptionExpired(x) => self.evolve_subscription(x.subscription, e),
            Event::AutoRenewChanged(x) => self.evolve_subscription(x.subscription, e),
            Event::SubscriptionCancelled(x) => self.evolve_subscription(x.subscription, e),
            Event::PerpetualPurchased(p) => {
                self.perpetuals_by_order
                    .entry(p.order)
                    .or_default()
                    .insert(p.purchase);
                Perpetual::evolve(self.perpetuals.entry(p.purchase).or_default(), e);
            }
            Event::PerpetualCancelled(p) => {
                Perpetual::evolve(self.perpetuals.entry(p.purchase).or_default(), e)
            }
            Event::RefundRequestFiled(r) => {
                Refund::evolve(self.refunds.entry(r.refund_request).or_default(), e)
            }
            Event::RefundRequestApproved(r) => {
                Refund::evolve(self.refunds.entry(r.refund_request).or_default(), e)
            }
            Event::RefundRequestDeclined(r) => {
                Refund::evolve(self.refunds.entry(r.refund_request).or_default(), e)
            }
            _ => return,
        }
        self.folded = self.folded.saturating_add(1);
        self.views.apply(env);
    }

    fn evolve_subscription(&mut self, id: SubscriptionId, e: &Event) {
        self.subscriptions.evolve(id, e);
    }

    /// The customer a request names, resolved through the customer list for the actor asking
    /// (rule O2: a partner names its customers by tenant id or by its own domain for them).
    pub fn target(&self, actor: &Actor, named: &CustomerRef) -> Target {
        self.customers.named(actor, named)
    }

    /// A subscription's decider state (`None` if there is no such subscription).
    pub fn subscription(&self, id: SubscriptionId) -> SubscriptionState {
        self.subscriptions.state(id)
    }

    /// An order as placed.
    pub fn order(&self, id: OrderId) -> Option<&OrderPlaced> {
        self.orders.get(&id).and_then(Option::as_ref)
    }

    /// Every term end due at or before `now`, as the events the scheduler records: renewals and
    /// expiries with their deterministic ids and true `effective_at`, in due order per
    /// subscription (a subscription down for years catches up term by term).
    pub fn due(&self, now: Timestamp) -> Vec<Emit> {
        let partner = crate::domain::subscription::partner;
        self.subscriptions.due_emits(now, partner)
    }

    /// What an operator checks first, the same from the running service (`csp.admin.ordering.status`)
    /// and from a replay of its log (`csp replay ordering`): counts, cheap enough to read under
    /// the state's lock (the runtime adds the digest when asked).
    pub fn summary(&self) -> Summary {
        use crate::domain::subscription::Status;
        let mut subscriptions = Counts::default();
        for s in self.subscriptions.values().flatten() {
            match s.status {
                Status::Active => subscriptions.active += 1,
                Status::Cancelled { .. } => subscriptions.cancelled += 1,
                Status::Expired { .. } => subscriptions.expired += 1,
            }
        }
        let mut perpetual = Counts::default();
        for p in self.perpetuals.values().flatten() {
            match p.cancelled_at {
                None => perpetual.active += 1,
                Some(_) => perpetual.cancelled += 1,
            }
        }
        Summary {
            events_folded: self.folded,
            customers: self.customers.customers() as u64,
            orders: self.orders.values().flatten().count() as u64,
            subscriptions,
            perpetual_purchases: perpetual,
            refund_requests: self.refunds.values().flatten().count() as u64,
        }
    }
}

/// Purchases by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// In force.
    pub active: u64,
    /// Cancelled inside a window.
    pub cancelled: u64,
    /// Ended at a term end (subscriptions only).
    pub expired: u64,
}

/// [`State::summary`]: what `csp replay ordering` prints and the status endpoint shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Ordering events folded (`AccessRefused` and others are not).
    pub events_folded: u64,
    /// Customers.
    pub customers: u64,
    /// Orders, backfilled ones included.
    pub orders: u64,
    /// Subscriptions by status.
    pub subscriptions: Counts,
    /// Perpetual purchases by status.
    pub perpetual_purchases: Counts,
    /// Refund requests filed.
    pub refund_requests: u64,
}
