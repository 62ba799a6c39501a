//! Purchases: every subscription and perpetual purchase of a customer, whatever its date —
//! before the cut-over, cancelled or expired included. It is the list behind the Software page
//! (rules O4, O10: a cancelled item stays listed); the page itself, with keys and downloads,
//! is entitlement's. Subscriptions carry their auto-renew flag and current term end, so a
//! pre-cut-over one, which Get Subscription does not show, still says that it never renews and
//! when it ends (O6).

use std::collections::BTreeMap;

use csp_events::ordering::{LineItem, ProductKind, Term};
use csp_events::{Envelope, Event, OrderId, TenantId, Timestamp};
use serde::Serialize;
use uuid::Uuid;

use super::subscriptions::Status;
pub use csp_events::ordering::PurchaseView;

type Key = (TenantId, Timestamp, OrderId, u32);

/// Purchases per customer, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Purchases {
    items: BTreeMap<Key, PurchaseView>,
    index: BTreeMap<Uuid, Key>,
}

impl Purchases {
    fn insert(&mut self, id: Uuid, view: PurchaseView) {
        let key = (view.customer, view.purchased_at, view.order_id, view.line);
        self.index.insert(id, key);
        self.items.insert(key, view);
    }

    fn update(&mut self, id: Uuid, change: impl FnOnce(&mut PurchaseView)) {
        if let Some(key) = self.index.get(&id) {
            if let Some(v) = self.items.get_mut(key) {
                change(v);
            }
        }
    }

    fn set_status(&mut self, id: Uuid, status: Status) {
        self.update(id, |v| v.status = status);
    }

    /// Folds one event.
    pub fn apply(&mut self, env: &Envelope) {
        match &env.payload {
            Event::SubscriptionStarted(s) => self.insert(
                s.subscription.as_uuid(),
                PurchaseView {
                    item: LineItem::Subscription(s.subscription),
                    order_id: s.order,
                    line: s.line,
                    customer: s.customer,
                    partner: s.partner,
                    product: s.product.clone(),
                    sku: s.sku.clone(),
                    product_name: s.product_name.clone(),
                    kind: s.kind,
                    term: s.term,
                    quantity: s.quantity,
                    purchased_at: s.term_start,
                    license_only: s.license_only,
                    before_cutover: s.before_cutover,
                    status: Status::Active,
                    auto_renew: Some(s.auto_renew),
                    term_end: Some(s.term_end),
                },
            ),
            Event::PerpetualPurchased(p) => self.insert(
                p.purchase.as_uuid(),
                PurchaseView {
                    item: LineItem::Perpetual(p.purchase),
                    order_id: p.order,
                    line: p.line,
                    customer: p.customer,
                    partner: p.partner,
                    product: p.product.clone(),
                    sku: p.sku.clone(),
                    product_name: p.product_name.clone(),
                    kind: ProductKind::PerpetualSoftware,
                    term: Term::Perpetual,
                    quantity: p.quantity,
                    purchased_at: p.purchased_at,
                    license_only: p.license_only,
                    before_cutover: false,
                    status: Status::Active,
                    auto_renew: None,
                    term_end: None,
                },
            ),
            Event::SubscriptionRenewed(r) => {
                self.update(r.subscription.as_uuid(), |v| v.term_end = Some(r.term_end))
            }
            Event::AutoRenewChanged(a) => self.update(a.subscription.as_uuid(), |v| {
                v.auto_renew = Some(a.auto_renew)
            }),
            Event::SubscriptionCancelled(c) => {
                self.set_status(c.subscription.as_uuid(), Status::Cancelled)
            }
            Event::SubscriptionExpired(x) => {
                self.set_status(x.subscription.as_uuid(), Status::Expired)
            }
            Event::PerpetualCancelled(c) => {
                self.set_status(c.purchase.as_uuid(), Status::Cancelled)
            }
            _ => {}
        }
    }

    /// Every purchase of `customer`, whatever its date or status, oldest first.
    pub fn of_customer(&self, customer: TenantId) -> Vec<&PurchaseView> {
        self.items
            .range(
                (
                    customer,
                    Timestamp::from_micros(i64::MIN),
                    OrderId(Uuid::nil()),
                    0,
                )..,
            )
            .take_while(|(k, _)| k.0 == customer)
            .map(|(_, v)| v)
            .collect()
    }
}
