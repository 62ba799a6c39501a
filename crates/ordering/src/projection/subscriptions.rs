//! Subscriptions (Get Subscriptions, rule O4): status, term start and end, auto-renew, billing
//! plan and `cancellable_until` (rule O8: every subscription shows when its window ends).
//! Subscriptions bought before the cut-over are kept here (their history matters) but are not
//! listed by [`Subscriptions::listed_for`], which is what Get Subscriptions and the Subscriptions
//! page show.

use std::collections::{BTreeMap, BTreeSet};

pub use csp_events::ordering::{Status, SubscriptionView};
use csp_events::{Envelope, Event, OrderId, SubscriptionId, TenantId, Timestamp};
use serde::Serialize;

/// Subscriptions by id and per customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subscriptions {
    by_id: BTreeMap<SubscriptionId, SubscriptionView>,
    /// Per customer, by term start, then order and line: an order's lines list in line order.
    by_customer: BTreeMap<TenantId, BTreeSet<(Timestamp, OrderId, u32, SubscriptionId)>>,
}

impl Subscriptions {
    /// Folds one event.
    pub fn apply(&mut self, env: &Envelope) {
        match &env.payload {
            Event::SubscriptionStarted(s) => {
                self.by_customer.entry(s.customer).or_default().insert((
                    s.term_start,
                    s.order,
                    s.line,
                    s.subscription,
                ));
                self.by_id.insert(
                    s.subscription,
                    SubscriptionView {
                        subscription_id: s.subscription,
                        order_id: s.order,
                        line: s.line,
                        customer: s.customer,
                        partner: s.partner,
                        product: s.product.clone(),
                        sku: s.sku.clone(),
                        product_name: s.product_name.clone(),
                        kind: s.kind,
                        quantity: s.quantity,
                        term: s.term,
                        billing_plan: s.billing_plan,
                        term_price: s.term_price,
                        status: Status::Active,
                        term_number: 1,
                        term_start: s.term_start,
                        term_end: s.term_end,
                        auto_renew: s.auto_renew,
                        cancellable_until: s.cancellable_until,
                        before_cutover: s.before_cutover,
                        purchased_at: s.term_start,
                        ended_at: None,
                        policy_version: s.policy.version,
                    },
                );
            }
            Event::SubscriptionRenewed(r) => {
                if let Some(v) = self.by_id.get_mut(&r.subscription) {
                    v.term_number = r.term_number;
                    v.term_start = r.term_start;
                    v.term_end = r.term_end;
                    v.billing_plan = r.billing_plan;
                    v.term_price = r.term_price;
                    v.cancellable_until = r.cancellable_until;
                }
            }
            Event::SubscriptionExpired(x) => {
                if let Some(v) = self.by_id.get_mut(&x.subscription) {
                    v.status = Status::Expired;
                    v.ended_at = Some(x.expired_at);
                }
            }
            Event::AutoRenewChanged(a) => {
                if let Some(v) = self.by_id.get_mut(&a.subscription) {
                    v.auto_renew = a.auto_renew;
                }
            }
            Event::SubscriptionCancelled(c) => {
                if let Some(v) = self.by_id.get_mut(&c.subscription) {
                    v.status = Status::Cancelled;
                    v.ended_at = Some(c.cancelled_at);
                }
            }
            _ => {}
        }
    }

    /// One subscription, whatever its purchase date (for the service's own use; Get
    /// Subscription answers through [`Subscriptions::visible`]).
    pub fn get(&self, id: SubscriptionId) -> Option<&SubscriptionView> {
        self.by_id.get(&id)
    }

    /// One subscription as Get Subscription returns it: `None` if bought before the cut-over
    /// (rule O4).
    pub fn visible(&self, id: SubscriptionId) -> Option<&SubscriptionView> {
        self.get(id).filter(|v| !v.before_cutover)
    }

    /// A customer's subscriptions bought on or after the cut-over, oldest first: what Get
    /// Subscriptions and the Subscriptions page show (rule O4).
    pub fn listed_for(&self, customer: TenantId) -> Vec<&SubscriptionView> {
        self.all_of(customer)
            .into_iter()
            .filter(|v| !v.before_cutover)
            .collect()
    }

    /// Every subscription of a customer, whatever its date.
    pub fn all_of(&self, customer: TenantId) -> Vec<&SubscriptionView> {
        self.by_customer
            .get(&customer)
            .into_iter()
            .flatten()
            .filter_map(|(_, _, _, id)| self.by_id.get(id))
            .collect()
    }

    /// Every subscription, by id.
    pub fn iter(&self) -> impl Iterator<Item = &SubscriptionView> {
        self.by_id.values()
    }
}
