//! Orders (Get Orders, rule O5): every order of a customer, whatever its date — backfilled ones
//! from before the cut-over included — oldest first, each line with what it created and where
//! that item is now.

use std::collections::{BTreeMap, BTreeSet};

use csp_events::ordering::{LineItem, OrderPlaced};
use csp_events::{Envelope, Event, OrderId, TenantId, Timestamp};
use serde::Serialize;

use super::subscriptions::Status;
pub use csp_events::ordering::{OrderLineView, OrderView};

/// Orders by id and per customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Orders {
    by_id: BTreeMap<OrderId, OrderView>,
    by_customer: BTreeMap<TenantId, BTreeSet<(Timestamp, OrderId)>>,
    /// The order each subscription or perpetual purchase came from, by the item's UUID.
    item_order: BTreeMap<uuid::Uuid, OrderId>,
}

fn item_uuid(item: LineItem) -> uuid::Uuid {
    match item {
        LineItem::Subscription(s) => s.as_uuid(),
        LineItem::Perpetual(p) => p.as_uuid(),
    }
}

impl Orders {
    fn set_status(&mut self, order: OrderId, item: LineItem, status: Status) {
        if let Some(o) = self.by_id.get_mut(&order) {
            for l in &mut o.lines {
                if l.line.creates == item {
                    l.status = status;
                }
            }
        }
    }

    /// Folds one event.
    pub fn apply(&mut self, env: &Envelope) {
        match &env.payload {
            Event::OrderPlaced(o) => self.placed(o),
            Event::SubscriptionCancelled(c) => self.set_status(
                c.order,
                LineItem::Subscription(c.subscription),
                Status::Cancelled,
            ),
            Event::PerpetualCancelled(c) => {
                self.set_status(c.order, LineItem::Perpetual(c.purchase), Status::Cancelled)
            }
            Event::SubscriptionExpired(x) => {
                if let Some(order) = self.item_order.get(&x.subscription.as_uuid()).copied() {
                    self.set_status(
                        order,
                        LineItem::Subscription(x.subscription),
                        Status::Expired,
                    );
                }
            }
            _ => {}
        }
    }

    fn placed(&mut self, o: &OrderPlaced) {
        for l in &o.lines {
            self.item_order.insert(item_uuid(l.creates), o.order);
        }
        self.by_customer
            .entry(o.customer)
            .or_default()
            .insert((o.purchased_at, o.order));
        self.by_id.insert(
            o.order,
            OrderView {
                order_id: o.order,
                customer: o.customer,
                partner: o.partner,
                purchased_at: o.purchased_at,
                backfilled: o.backfilled,
                total: o.total,
                lines: o
                    .lines
                    .iter()
                    .map(|l| OrderLineView {
                        line: l.clone(),
                        status: Status::Active,
                    })
                    .collect(),
            },
        );
    }

    /// One order.
    pub fn get(&self, order: OrderId) -> Option<&OrderView> {
        self.by_id.get(&order)
    }

    /// Every order of `customer`, whatever its date, oldest first (rule O5).
    pub fn of_customer(&self, customer: TenantId) -> Vec<&OrderView> {
        self.by_customer
            .get(&customer)
            .into_iter()
            .flatten()
            .filter_map(|(_, id)| self.by_id.get(id))
            .collect()
    }
}
