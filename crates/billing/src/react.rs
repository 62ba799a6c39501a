//! Billing's decisions, pure: the reactions to ordering's events (B3 renewals' first charges,
//! B4 refunds, B5 and B7 credits), the charges that fall due (B1) and the month close (B2) —
//! decided against the folded state, or against a batch's scratch of it.

use std::collections::BTreeMap;

use csp_bus::Emit;
use csp_events::billing::{
    stream, CreditIssued, CreditReason, InvoiceIssued, MonthClosed, RefundIssued,
};
use csp_events::ordering::LineItem;
use csp_events::{Envelope, Event, EventId, OrderId, RefundRequestId, Timestamp};

use crate::domain::refund::prorated;
use crate::state::{
    item_of, key, upstream, Agenda, Item, ItemKey, Items, OrderInfo, Request, State,
};

/// What reactions are decided against: the state plus the items, orders and requests the
/// batch has touched so far (copies of those alone).
pub struct Batch<'a> {
    base: &'a State,
    items: BTreeMap<ItemKey, Item>,
    /// The touched items' next unbilled charges, as the state's agenda holds the others'.
    agenda: Agenda,
    /// Each touched item's entry in `agenda`.
    next: BTreeMap<ItemKey, Timestamp>,
    /// Items changed since their last reschedule.
    dirty: Vec<ItemKey>,
    orders: BTreeMap<OrderId, OrderInfo>,
    requests: BTreeMap<RefundRequestId, Request>,
}

impl<'a> Batch<'a> {
    /// Nothing touched yet.
    pub fn new(base: &'a State) -> Batch<'a> {
        Batch {
            base,
            items: BTreeMap::new(),
            agenda: Agenda::default(),
            next: BTreeMap::new(),
            dirty: Vec::new(),
            orders: BTreeMap::new(),
            requests: BTreeMap::new(),
        }
    }

    /// An item as the batch sees it.
    pub fn item(&self, k: ItemKey) -> Option<&Item> {
        self.items
            .get(&k)
            .or_else(|| self.base.items.get(&k).map(|b| &**b))
    }

    fn order(&self, o: OrderId) -> Option<&OrderInfo> {
        self.orders.get(&o).or_else(|| self.base.orders.get(&o))
    }

    fn request(&self, r: RefundRequestId) -> Option<&Request> {
        self.requests.get(&r).or_else(|| self.base.requests.get(&r))
    }

    /// Copies what `event` reads from the state into the overlay, so [`upstream`] folds it.
    fn touch(&mut self, event: &Event) {
        let order = match event {
            Event::SubscriptionStarted(s) => Some(s.order),
            Event::PerpetualPurchased(p) => Some(p.order),
            _ => None,
        };
        if let Some(o) = order {
            if let Some(info) = self
                .base
                .orders
                .get(&o)
                .filter(|_| !self.orders.contains_key(&o))
            {
                self.orders.insert(o, info.clone());
            }
        }
    }

    /// Folds one of billing's own charges: the term knows it is billed.
    fn fold_charge(&mut self, event: &Event) {
        if let Event::ChargeBilled(c) = event {
            // Where the line lands is the fold's business; the batch only needs "billed".
            let placeholder = crate::state::LineAt {
                invoice: u32::MAX,
                line: std::num::NonZeroU32::MAX,
            };
            let k = key(&c.item);
            if let Some(item) = Overlay(self).item_mut(k) {
                if let Some(t) = item.term_mut(c.term_number) {
                    t.billed
                        .insert(c.charge_number, c.charges_in_term, placeholder);
                }
            }
            self.settle();
        }
    }

    /// Reschedules every item changed since the last call.
    fn settle(&mut self) {
        for k in std::mem::take(&mut self.dirty) {
            self.reschedule(k);
        }
    }

    /// Puts a touched item's next charge on the batch's agenda (as the state's reschedule).
    fn reschedule(&mut self, k: ItemKey) {
        if let Some(old) = self.next.remove(&k) {
            self.agenda.remove(old, k);
        }
        let next = self
            .items
            .get(&k)
            .and_then(|i| i.current())
            .and_then(crate::state::TermState::next_charge);
        if let Some(at) = next {
            self.next.insert(k, at);
            self.agenda.insert(at, k);
        }
    }
}

/// The batch's items as [`Items`]: copied from the state on first touch.
struct Overlay<'b, 'a>(&'b mut Batch<'a>);

impl Items for Overlay<'_, '_> {
    fn item_mut(&mut self, k: ItemKey) -> Option<&mut Item> {
        self.0.dirty.push(k);
        if !self.0.items.contains_key(&k) {
            let copy = Item::clone(self.0.base.items.get(&k)?);
            self.0.items.insert(k, copy);
        }
        self.0.items.get_mut(&k)
    }
    fn insert(&mut self, item: Item) {
        let k = key(&item.item);
        self.0.dirty.push(k);
        self.0.items.insert(k, item);
    }
}

impl csp_bus::Scratch for Batch<'_> {
    /// Every charge that falls at or before `upstream`, recorded before it is reacted to: a
    /// monthly charge due on the 15th is billed before a cancellation on the 16th is refunded
    /// (B4: "its charges that fall at or before the cancellation"), and a billing service that
    /// was down records what fell due in the order it would have live, not after the events it
    /// finds waiting.
    fn catch_up(&mut self, upstream: &Envelope) -> Vec<Emit> {
        let until = upstream.effective_at;
        // Both agendas are in time order: the state's for the items this batch has not
        // touched, the batch's own for those it has.
        let keys: Vec<ItemKey> = self
            .base
            .agenda
            .iter()
            .take_while(|(at, _)| *at <= until)
            .map(|(_, k)| k)
            .filter(|k| !self.items.contains_key(k))
            .chain(
                self.agenda
                    .iter()
                    .take_while(|(at, _)| *at <= until)
                    .map(|(_, k)| k),
            )
            .collect();
        let mut due = Vec::new();
        for k in keys {
            let Some(item) = self.item(k) else { continue };
            let charges = item.due_upto(until);
            for e in &charges {
                self.fold_charge(&e.event);
            }
            due.extend(charges);
        }
        due
    }

    fn fold_upstream(&mut self, env: &Envelope, _producer: &str) {
        self.touch(&env.payload);
        let (mut orders, mut requests) = (
            std::mem::take(&mut self.orders),
            std::mem::take(&mut self.requests),
        );
        upstream(
            &mut Overlay(self),
            &mut orders,
            &mut requests,
            env,
            &env.payload,
        );
        self.orders = orders;
        self.requests = requests;
        self.settle();
    }

    fn fold_own(&mut self, emit: &Emit) {
        self.fold_charge(&emit.event);
    }
}

/// The reactions to one of ordering's events.
pub fn react(batch: &Batch<'_>, env: &Envelope) -> Vec<Emit> {
    match &env.payload {
        // A new item, or a new term (B3): its charges due by now, starting with its first.
        Event::SubscriptionStarted(_)
        | Event::PerpetualPurchased(_)
        | Event::SubscriptionRenewed(_) => {
            let Some(k) = item_of(&env.payload) else {
                return Vec::new();
            };
            let mut items: BTreeMap<ItemKey, Item> =
                batch.item(k).cloned().map(|i| (k, i)).into_iter().collect();
            let mut orders: BTreeMap<OrderId, OrderInfo> = BTreeMap::new();
            let order = match &env.payload {
                Event::SubscriptionStarted(s) => Some(s.order),
                Event::PerpetualPurchased(p) => Some(p.order),
                _ => None,
            };
            if let Some((o, info)) = order.and_then(|o| batch.order(o).map(|i| (o, i.clone()))) {
                orders.insert(o, info);
            }
            upstream(
                &mut items,
                &mut orders,
                &mut BTreeMap::new(),
                env,
                &env.payload,
            );
            items
                .get(&k)
                .map(|i| i.due_upto(env.effective_at))
                .unwrap_or_default()
        }
        Event::SubscriptionCancelled(c) => {
            let Some(item) = batch.item(key(&LineItem::Subscription(c.subscription))) else {
                return Vec::new();
            };
            let Some(term) = item.term(c.term_number).filter(|t| t.billable) else {
                // Never billed here (a backfilled term): nothing to refund.
                return Vec::new();
            };
            let billed: Vec<_> = term
                .charges()
                .into_iter()
                .filter(|ch| term.billed.contains_key(&ch.number))
                .collect();
            let Ok(r) = prorated(term.start, term.end, term.total, &billed, c.cancelled_at) else {
                return Vec::new();
            };
            // A charge billed for after the cancellation (it arrived late, after the charge
            // fell) is reversed in full: no charge of a cancelled term stands past it.
            let late: i64 = billed
                .iter()
                .filter(|ch| ch.at > c.cancelled_at)
                .map(|ch| ch.amount.amount_minor)
                .sum();
            let with_late =
                |m: csp_events::Money| csp_events::Money::new(m.amount_minor + late, m.currency);
            vec![Emit::new(
                stream::item(&item.item),
                RefundIssued {
                    item: item.item,
                    order: item.order,
                    customer: item.customer,
                    partner: item.partner,
                    term_number: term.number,
                    cancelled_at: c.cancelled_at,
                    billed: with_late(r.billed),
                    days_used: r.days_used,
                    term_days: r.term_days,
                    used: r.used,
                    refund: with_late(r.refund),
                    charges: billed.iter().map(|ch| ch.number).collect(),
                },
            )
            .tenants(Some(item.partner), Some(item.customer))]
        }
        Event::PerpetualCancelled(c) => {
            let Some(item) = batch.item(key(&LineItem::Perpetual(c.purchase))) else {
                return Vec::new();
            };
            let Some(term) = item.term(1).filter(|t| t.billable && !t.billed.is_empty()) else {
                return Vec::new();
            };
            let charged: i64 = term
                .charges()
                .iter()
                .filter(|ch| term.billed.contains_key(&ch.number))
                .map(|ch| ch.amount.amount_minor)
                .sum();
            let reason = CreditReason::PerpetualCancelled {
                purchase: c.purchase,
            };
            vec![Emit::new(
                stream::credit(&reason),
                CreditIssued {
                    reason,
                    order: Some(item.order),
                    customer: item.customer,
                    partner: item.partner,
                    amount: csp_events::Money::new(charged, term.total.currency),
                },
            )
            .tenants(Some(item.partner), Some(item.customer))]
        }
        Event::RefundRequestApproved(a) => {
            let reason = CreditReason::RefundApproved {
                refund_request: a.refund_request,
            };
            let order = batch.request(a.refund_request).and_then(|r| r.order);
            vec![Emit::new(
                stream::credit(&reason),
                CreditIssued {
                    reason,
                    order,
                    customer: a.customer,
                    partner: a.partner,
                    amount: a.amount,
                },
            )
            .tenants(Some(a.partner), Some(a.customer))]
        }
        _ => Vec::new(),
    }
}

/// What falls due by `now`: every charge (B1), each with its true time; and when none is left,
/// the close of the open month once `grace` has passed since it ended — its invoices issued,
/// in number order, then the month closed.
pub fn due(state: &State, grace_micros: i64, now: Timestamp) -> Vec<Emit> {
    let mut out = Vec::new();
    for (at, k) in state.agenda.iter() {
        if at > now {
            break;
        }
        if let Some(item) = state.items.get(&k) {
            out.extend(item.due_upto(now));
        }
    }
    if !out.is_empty() {
        return out;
    }
    let Some(month) = state.open_month() else {
        return out;
    };
    let end = month.end();
    if end.as_micros().saturating_add(grace_micros) > now.as_micros() {
        return out;
    }
    let mut invoices: Vec<_> = state
        .invoices
        .iter()
        .filter(|((m, ..), _)| *m == month)
        .map(|(_, inv)| inv)
        .collect();
    invoices.sort_by(|a, b| a.number.cmp(&b.number));
    for inv in &invoices {
        let s = stream::invoice(inv.partner, inv.month, inv.currency);
        out.push(
            Emit::new(
                s.clone(),
                InvoiceIssued {
                    invoice: inv.current_head(state),
                },
            )
            .derived(EventId::scheduled(&s, "issue", end.as_micros()), end)
            .tenants(Some(inv.partner), None),
        );
    }
    let s = stream::month(month);
    out.push(
        Emit::new(
            s.clone(),
            MonthClosed {
                month,
                invoices: u32::try_from(invoices.len()).unwrap_or(u32::MAX),
            },
        )
        .derived(EventId::scheduled(&s, "close", end.as_micros()), end),
    );
    out
}
