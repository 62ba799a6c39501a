//! Billing's state: a fold of its log — the upstream copies of ordering's events (customers,
//! orders, purchased items, refund requests) and billing's own charges, refunds, credits,
//! issued invoices and closed months. Every invoice line is stored once, when its event is
//! folded, as its facts ([`Line`]) and never changes; names (customer, product) are joined in
//! when a line is rendered ([`State::render`]) from what never changes either (a customer's
//! relationship, an item's product). An issued invoice and a preview are rendered by the same
//! code under the same [`head`], so an invoice issued with nothing new equals its preview.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroU32;

use csp_events::billing::{
    ChargeBilled, ChargeType, CreditIssued, CreditReason, InvoiceHead, InvoiceLine, LineKind,
    LineRef, Month, RefundIssued,
};
use csp_events::market::{ProductId, SkuId};
use csp_events::money::{Currency, Money};
use csp_events::ordering::{
    BillingPlan, LineItem, PerpetualPurchased, RefundSubject, SubscriptionStarted, Term,
};
use csp_events::{Envelope, Event, OrderId, RefundRequestId, TenantId, Timestamp};
use csp_tenancy::Directory;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::schedule::{schedule, Charge};

/// A purchased item's key: subscriptions (0) and perpetual purchases (1) by id, ordered.
pub type ItemKey = (u8, Uuid);

/// The key of `item`.
pub fn key(item: &LineItem) -> ItemKey {
    match item {
        LineItem::Subscription(s) => (0, s.0),
        LineItem::Perpetual(p) => (1, p.0),
    }
}

/// An order, as billing needs it: when it was placed and whether it was backfilled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderInfo {
    /// When it was bought.
    pub purchased_at: Timestamp,
    /// Backfilled by the importer: billed by the system it came from until its import.
    pub backfilled: bool,
    /// Its prices include tax (M2), as ordering priced it: what a credit of the whole order
    /// shows.
    pub tax_inclusive: bool,
}

/// A term's billed charges by number (from 1), and the line that carries each: a dense table,
/// allocated once per term for all its charges (they are numbered 1 to n and billed nearly
/// always in order) — an ordered map's node per term cost more than the rest of a charge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Billed {
    lines: Vec<Option<LineAt>>,
    count: u32,
}

/// More charges than any term has (a monthly P3Y has 36): a charge number past it is not one
/// billing recorded, and is ignored rather than allocated for.
const MAX_CHARGES: u32 = 1_000;

impl Billed {
    /// Charge `number` of `of` is billed on `line`.
    pub fn insert(&mut self, number: u32, of: u32, line: LineAt) {
        if number == 0 || number > MAX_CHARGES {
            return;
        }
        let i = (number - 1) as usize;
        if self.lines.len() <= i {
            let want = of.clamp(number, MAX_CHARGES) as usize;
            self.lines.reserve_exact(want - self.lines.len());
            self.lines.resize(i + 1, None);
        }
        if self.lines[i].replace(line).is_none() {
            self.count += 1;
        }
    }

    /// Whether charge `number` is billed.
    pub fn contains_key(&self, number: &u32) -> bool {
        self.get(number).is_some()
    }

    /// The line of charge `number`, if billed.
    pub fn get(&self, number: &u32) -> Option<&LineAt> {
        let i = number.checked_sub(1)? as usize;
        self.lines.get(i)?.as_ref()
    }

    /// The lines of the billed charges, in number order.
    pub fn values(&self) -> impl Iterator<Item = &LineAt> {
        self.lines.iter().flatten()
    }

    /// Whether nothing is billed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The first charge number not billed.
    pub fn next_unbilled(&self) -> u32 {
        if self.count as usize == self.lines.len() {
            return self.count + 1;
        }
        self.lines
            .iter()
            .position(Option::is_none)
            .map_or(self.count + 1, |i| i as u32 + 1)
    }
}

/// One term of an item (a perpetual purchase has one, its purchase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermState {
    /// 1 for the first.
    pub number: u32,
    /// Its start.
    pub start: Timestamp,
    /// Its end (exclusive); a perpetual purchase's is its start.
    pub end: Timestamp,
    /// Its length.
    pub term: Term,
    /// Its billing plan.
    pub plan: BillingPlan,
    /// Its price × quantity.
    pub total: Money,
    /// Whether csp bills it: a term that started before its order was imported was billed by
    /// the system the order came from.
    pub billable: bool,
    /// The charges billed, by number, and the line that carries each.
    pub billed: Billed,
    /// Cancelled at: nothing of the term is billed after it.
    pub cancelled_at: Option<Timestamp>,
}

impl TermState {
    /// The term's charge schedule (B1); empty if it cannot be scheduled (ordering never sells
    /// such a term).
    pub fn charges(&self) -> Vec<Charge> {
        schedule(self.start, self.term, self.plan, self.total).unwrap_or_default()
    }

    /// Its charge `number` (from 1), if the term has one.
    pub fn charge(&self, number: u32) -> Option<Charge> {
        crate::domain::schedule::charge(self.start, self.term, self.plan, self.total, number)
            .ok()
            .flatten()
    }

    /// Its charges not billed yet that fall at or before `upto` (none once cancelled: a
    /// cancellation's own instant is covered by its catch-up, recorded before it). Charges fall
    /// in number order, so the walk stops at the first unbilled one still to come.
    pub fn unbilled_upto(&self, upto: Timestamp) -> Vec<Charge> {
        let mut out = Vec::new();
        if !self.billable || self.cancelled_at.is_some() {
            return out;
        }
        for number in 1.. {
            if self.billed.contains_key(&number) {
                continue;
            }
            match self.charge(number) {
                Some(c) if c.at <= upto => out.push(c),
                _ => break,
            }
        }
        out
    }

    /// When its next unbilled charge falls, if any.
    pub fn next_charge(&self) -> Option<Timestamp> {
        if !self.billable || self.cancelled_at.is_some() {
            return None;
        }
        // Charges are billed in number order, so the billed numbers are almost always 1..=n.
        let number = self.billed.next_unbilled();
        crate::domain::schedule::charge_at(self.start, self.term, self.plan, number)
            .ok()
            .flatten()
    }
}

/// Items by when their next unbilled charge falls, then by key: what the scheduler and a
/// batch's catch-up walk in time order. Every charge moves its item on it, so its entries
/// compare as integers (a UUID compared as a key compares sixteen bytes through `memcmp`), in
/// the same order as `(Timestamp, ItemKey)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Agenda(BTreeSet<(Timestamp, u8, u128)>);

impl Agenda {
    /// Files item `k` at `at`.
    pub fn insert(&mut self, at: Timestamp, k: ItemKey) {
        self.0.insert((at, k.0, k.1.as_u128()));
    }

    /// Takes item `k` off `at`.
    pub fn remove(&mut self, at: Timestamp, k: ItemKey) {
        self.0.remove(&(at, k.0, k.1.as_u128()));
    }

    /// Every entry, earliest first.
    pub fn iter(&self) -> impl Iterator<Item = (Timestamp, ItemKey)> + '_ {
        self.0
            .iter()
            .map(|&(at, kind, id)| (at, (kind, Uuid::from_u128(id))))
    }

    /// How many items are filed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An item's terms, oldest first: the current one inline, so a charge folds into it with no
/// further pointer to chase; the earlier ones, none until a renewal, beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    current: TermState,
    earlier: Vec<TermState>,
}

impl Terms {
    /// An item's first term.
    pub fn first(term: TermState) -> Terms {
        Terms {
            current: term,
            earlier: Vec::new(),
        }
    }

    /// The latest term.
    pub fn current(&self) -> &TermState {
        &self.current
    }

    /// The term numbered `n`.
    pub fn get(&self, n: u32) -> Option<&TermState> {
        if self.current.number == n {
            return Some(&self.current);
        }
        self.earlier.iter().find(|t| t.number == n)
    }

    /// The term numbered `n`, to change.
    pub fn get_mut(&mut self, n: u32) -> Option<&mut TermState> {
        if self.current.number == n {
            return Some(&mut self.current);
        }
        self.earlier.iter_mut().find(|t| t.number == n)
    }

    /// A new latest term (a renewal's).
    pub fn push(&mut self, term: TermState) {
        let earlier = std::mem::replace(&mut self.current, term);
        self.earlier.push(earlier);
    }

    /// Every term, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &TermState> {
        self.earlier.iter().chain(std::iter::once(&self.current))
    }
}

/// Serialised as the sequence of terms, oldest first, its length given up front (see
/// [`Lines`]'s).
impl Serialize for Terms {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut seq = serializer.serialize_seq(Some(self.earlier.len() + 1))?;
        for term in self.iter() {
            seq.serialize_element(term)?;
        }
        seq.end()
    }
}

/// A purchased item: a subscription or a perpetual purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Which.
    pub item: LineItem,
    /// Its order.
    pub order: OrderId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// Catalog product.
    pub product: ProductId,
    /// Catalog SKU.
    pub sku: SkuId,
    /// Display name at purchase.
    pub product_name: String,
    /// Units.
    pub quantity: u32,
    /// Unit price of one term.
    pub unit_price: Money,
    /// Prices include tax (M2).
    pub tax_inclusive: bool,
    /// Its terms, oldest first.
    pub terms: Terms,
    /// When its next unbilled charge falls (the agenda's entry).
    pub next: Option<Timestamp>,
    /// Expired or cancelled: no later term.
    pub ended: bool,
    /// The line of a perpetual purchase's credit (B5), once credited.
    pub credited: Option<LineAt>,
    /// When its backfilled order was imported: terms starting before it were billed by the
    /// system the order came from.
    pub imported_at: Option<Timestamp>,
}

impl Item {
    /// A subscription's first term; `imported_at` for a backfilled order.
    pub fn started(s: &SubscriptionStarted, imported_at: Option<Timestamp>) -> Item {
        Item {
            item: LineItem::Subscription(s.subscription),
            order: s.order,
            customer: s.customer,
            partner: s.partner,
            product: s.product.clone(),
            sku: s.sku.clone(),
            product_name: s.product_name.clone(),
            quantity: s.quantity,
            unit_price: s.unit_price,
            tax_inclusive: s.tax_inclusive,
            terms: Terms::first(TermState {
                number: 1,
                start: s.term_start,
                end: s.term_end,
                term: s.term,
                plan: s.billing_plan,
                total: s.term_price,
                billable: imported_at.is_none_or(|at| s.term_start >= at),
                billed: Billed::default(),
                cancelled_at: None,
            }),
            next: None,
            ended: false,
            credited: None,
            imported_at,
        }
    }

    /// A perpetual purchase, its one charge at purchase.
    pub fn purchased(p: &PerpetualPurchased, imported_at: Option<Timestamp>) -> Item {
        Item {
            item: LineItem::Perpetual(p.purchase),
            order: p.order,
            customer: p.customer,
            partner: p.partner,
            product: p.product.clone(),
            sku: p.sku.clone(),
            product_name: p.product_name.clone(),
            quantity: p.quantity,
            unit_price: p.unit_price,
            tax_inclusive: p.tax_inclusive,
            terms: Terms::first(TermState {
                number: 1,
                start: p.purchased_at,
                end: p.purchased_at,
                term: Term::Perpetual,
                plan: BillingPlan::OneTime,
                total: p.price,
                billable: imported_at.is_none_or(|at| p.purchased_at >= at),
                billed: Billed::default(),
                cancelled_at: None,
            }),
            next: None,
            ended: false,
            credited: None,
            imported_at,
        }
    }

    /// The term numbered `n`.
    pub fn term(&self, n: u32) -> Option<&TermState> {
        self.terms.get(n)
    }

    pub(crate) fn term_mut(&mut self, n: u32) -> Option<&mut TermState> {
        self.terms.get_mut(n)
    }

    /// The current (latest) term.
    pub fn current(&self) -> Option<&TermState> {
        Some(self.terms.current())
    }

    /// Its charges due at or before `upto`, as events: billing's own transitions, each with a
    /// deterministic id and its true `effective_at`, so a scheduler that runs twice, a
    /// catch-up and a scheduler, or a replay, record each charge once.
    pub fn due_upto(&self, upto: Timestamp) -> Vec<csp_bus::Emit> {
        let Some(term) = self.current() else {
            return Vec::new();
        };
        let stream = csp_events::billing::stream::item(&self.item);
        term.unbilled_upto(upto)
            .into_iter()
            .map(|c| {
                let charge_type = match (self.item, term.number, c.number) {
                    (LineItem::Perpetual(_), ..) => ChargeType::OneTime,
                    (_, 1, 1) => ChargeType::New,
                    (_, _, 1) => ChargeType::Renewal,
                    _ => ChargeType::Installment,
                };
                let id = csp_events::EventId::scheduled(
                    &stream,
                    &format!("term/{}/charge/{}", term.number, c.number),
                    c.at.as_micros(),
                );
                csp_bus::Emit::new(
                    stream.clone(),
                    ChargeBilled {
                        item: self.item,
                        order: self.order,
                        customer: self.customer,
                        partner: self.partner,
                        term_number: term.number,
                        charge_number: c.number,
                        charges_in_term: c.of,
                        period_start: c.period_start,
                        period_end: c.period_end,
                        amount: c.amount,
                        charge_type,
                    },
                )
                .derived(id, c.at)
                .tenants(Some(self.partner), Some(self.customer))
            })
            .collect()
    }
}

/// A refund request as billing needs it: what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The order it concerns (a subscription's order when it names a subscription).
    pub order: Option<OrderId>,
    /// The subscription it names, if it names one.
    pub item: Option<LineItem>,
}

/// One invoice: a partner's lines of one month in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    /// `CSP-YYYYMM-NNNN`.
    pub number: String,
    /// Its place in [`State::ledger`].
    pub ordinal: u32,
    /// The partner.
    pub partner: TenantId,
    /// The month.
    pub month: Month,
    /// The currency.
    pub currency: Currency,
    /// Its lines, in the order recorded (line `n` is `lines[n - 1]`).
    pub lines: Lines,
    /// Issued: closed, immutable.
    pub issued: bool,
    /// The head `invoice_issued` recorded, once issued: what its pages show without rehashing.
    pub head: Option<InvoiceHead>,
    /// An open invoice's head as last computed, until its next line: paging through a preview
    /// of 100,000 lines renders and hashes them once, not once per page.
    #[serde(skip)]
    pub preview: HeadCache,
}

/// A computed head, kept beside the state and never part of it: not serialised (so not in the
/// digest), equal to any other, empty when cloned.
#[derive(Default)]
pub struct HeadCache(std::sync::OnceLock<InvoiceHead>);

impl Clone for HeadCache {
    fn clone(&self) -> HeadCache {
        HeadCache::default()
    }
}

impl PartialEq for HeadCache {
    fn eq(&self, _: &HeadCache) -> bool {
        true
    }
}

impl Eq for HeadCache {}

impl std::fmt::Debug for HeadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeadCache")
    }
}

/// Which invoice: month, partner, currency.
pub type InvoiceKey = (Month, TenantId, Currency);

/// Where a line is: its invoice, by the order invoices were opened in ([`State::ledger`]), and
/// its number (from 1); rendered as a [`LineRef`]. Eight bytes, not the invoice's 28-byte key:
/// every charge of every term keeps one, and at a million events that table was a quarter of
/// the fold's memory traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineAt {
    /// The invoice: its place in [`State::ledger`].
    pub invoice: u32,
    /// The line's number.
    pub line: NonZeroU32,
}

/// One invoice line as folded: its facts, with no copy of a name. A month of 100,000 lines is
/// 100,000 of these, not 100,000 copies of the customer's and the product's names; a charge —
/// nearly every line — keeps only what its item does not already say (56 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Charge, refund or credit.
    pub kind: LineKind,
    /// For a charge: its type.
    pub charge_type: Option<ChargeType>,
    /// Prices include tax (M2).
    pub tax_inclusive: bool,
    /// The term (numbered from 1, so `None` costs no space).
    pub term_number: Option<NonZeroU32>,
    /// The item (its customer, order and product columns come from the item).
    pub item: Option<LineItem>,
    /// When it took effect (a charge's period starts then).
    pub effective_at: Timestamp,
    /// For a charge, the end of the period charged (exclusive); a refund or credit keeps its
    /// own in its detail, so a charge — nearly every line — pays for no `Option`.
    pub charge_end: Timestamp,
    /// In the invoice's currency: positive for a charge, negative for a refund or credit.
    pub amount_minor: i64,
    /// What a refund or credit says beyond that; `None` for a charge.
    pub detail: Option<Box<Detail>>,
}

impl Line {
    /// The end of the period charged or refunded (exclusive), if it has one.
    pub fn period_end(&self) -> Option<Timestamp> {
        match &self.detail {
            Some(d) => d.period_end,
            None => Some(self.charge_end),
        }
    }
}

/// An invoice's lines, in order, kept in chunks of [`Lines::CHUNK`]: a month grows to 100,000
/// lines and more one push at a time, and one growing vector copied itself, and touched fresh
/// memory for every copy, each time it doubled. A chunk, once allocated, never moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines {
    chunks: Vec<Vec<Line>>,
    len: usize,
}

impl Lines {
    /// Lines per chunk (a chunk is ~230 KB).
    pub const CHUNK: usize = 4096;

    /// How many.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `line`, numbered `len()` after. The first chunk grows as a vector does (most
    /// invoices are small: one per partner, month and currency), the later ones are
    /// allocated whole.
    pub fn push(&mut self, line: Line) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(line),
            Some(_) => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(line);
                self.chunks.push(chunk);
            }
            None => self.chunks.push(vec![line]),
        }
        self.len += 1;
    }

    /// Every line, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Line> {
        self.chunks.iter().flatten()
    }

    /// The lines of `range` (indexes from 0), in order; what lies past the end is left out.
    pub fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &Line> {
        let start = range.start.min(self.len);
        let end = range.end.clamp(start, self.len);
        self.chunks
            .iter()
            .skip(start / Self::CHUNK)
            .flatten()
            .skip(start % Self::CHUNK)
            .take(end - start)
    }
}

impl<'a> IntoIterator for &'a Lines {
    type Item = &'a Line;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Line>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

/// Serialised as one sequence, as a vector of the lines would be: how they are stored is not
/// part of the state. Its length is given up front: postcard (the digest's format) cannot
/// write a sequence of unknown length, and a flattened iterator does not know its own.
impl Serialize for Lines {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for line in self.iter() {
            seq.serialize_element(line)?;
        }
        seq.end()
    }
}

/// What a refund or a credit line says that its item (if any) does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// The customer.
    pub customer: TenantId,
    /// The order.
    pub order: Option<OrderId>,
    /// The refund request a credit approves.
    pub refund_request: Option<RefundRequestId>,
    /// The start of the period refunded.
    pub period_start: Option<Timestamp>,
    /// The end of the period refunded (exclusive).
    pub period_end: Option<Timestamp>,
    /// The lines it undoes.
    pub corrects: Vec<LineAt>,
}

impl Invoice {
    /// Its head as readers see it: as issued, or the preview's (computed once per line added).
    pub fn current_head(&self, state: &State) -> InvoiceHead {
        match &self.head {
            Some(h) => h.clone(),
            None => self.preview.0.get_or_init(|| head(state, self)).clone(),
        }
    }

    /// Issued, or still a preview.
    pub fn status(&self) -> csp_events::billing::InvoiceStatus {
        if self.issued {
            csp_events::billing::InvoiceStatus::Issued
        } else {
            csp_events::billing::InvoiceStatus::Preview
        }
    }
}

/// An invoice's head — totals (B8) and the hash of its rendered lines — computed one way for a
/// preview and for the issued invoice, so an invoice issued with nothing new equals its last
/// preview. (Readers of an issued invoice get the head it was issued with, `Invoice::head`.)
pub fn head(state: &State, inv: &Invoice) -> InvoiceHead {
    let zero = Money::new(0, inv.currency);
    let (mut charges, mut refunds, mut credits) = (zero, zero, zero);
    for l in inv.lines.iter() {
        let amount = Money::new(l.amount_minor.saturating_abs(), inv.currency);
        let sum = match l.kind {
            LineKind::Charge => &mut charges,
            LineKind::Refund => &mut refunds,
            LineKind::Credit => &mut credits,
        };
        *sum = sum.checked_add(amount).unwrap_or(*sum);
    }
    let total = charges
        .checked_sub(refunds)
        .and_then(|t| t.checked_sub(credits))
        .unwrap_or(zero);
    let bytes = serde_json::to_vec(&state.render(inv, &inv.lines, 1)).unwrap_or_default();
    let lines_hash = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    InvoiceHead {
        number: inv.number.clone(),
        partner: inv.partner,
        month: inv.month,
        currency: inv.currency,
        lines: u32::try_from(inv.lines.len()).unwrap_or(u32::MAX),
        charges,
        refunds,
        credits,
        total,
        lines_hash,
    }
}

/// Everything billing knows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct State {
    /// Who serves whom (from ordering's `customer_added`): tenancy, and the customer columns.
    pub directory: Directory,
    /// Orders.
    pub orders: BTreeMap<OrderId, OrderInfo>,
    /// Purchased items.
    #[serde(serialize_with = "sorted")]
    pub items: HashMap<ItemKey, Box<Item>>,
    /// Refund requests filed.
    pub requests: BTreeMap<RefundRequestId, Request>,
    /// Each item's next unbilled charge, by when it falls: what the scheduler looks at.
    pub agenda: Agenda,
    /// Invoices by month, partner and currency.
    pub invoices: BTreeMap<(Month, TenantId, Currency), Invoice>,
    /// Every invoice's key, in the order they were opened: what a [`LineAt`] names.
    pub ledger: Vec<InvoiceKey>,
    /// How many invoices each month has opened (their numbers).
    pub opened: BTreeMap<Month, u32>,
    /// The last month closed.
    pub closed: Option<Month>,
    /// The earliest month any line belongs to: where closing starts.
    pub first_month: Option<Month>,
}

impl State {
    /// The month to close next: the one after the last closed, or the first with a line.
    pub fn open_month(&self) -> Option<Month> {
        match self.closed {
            Some(m) => Some(m.next()),
            None => self.first_month,
        }
    }

    /// Folds one recorded event (an upstream copy or billing's own).
    pub fn apply(&mut self, env: &Envelope) {
        match &env.payload {
            Event::CustomerAdded(c) => self.directory.add(c),
            // Reschedules its item itself, in the same lookup.
            Event::ChargeBilled(c) => return self.charge(env, c),
            Event::RefundIssued(r) => self.refund(env, r),
            Event::CreditIssued(c) => self.credit(env, c),
            Event::InvoiceIssued(i) => {
                let h = &i.invoice;
                if let Some(inv) = self.invoices.get_mut(&(h.month, h.partner, h.currency)) {
                    inv.issued = true;
                    inv.head = Some(h.clone());
                }
            }
            Event::MonthClosed(m) => self.closed = Some(m.month),
            other => upstream(
                &mut self.items,
                &mut self.orders,
                &mut self.requests,
                env,
                other,
            ),
        }
        if let Some(k) = item_of(&env.payload) {
            self.reschedule(k);
        }
    }

    /// Puts the item's next charge on the agenda.
    fn reschedule(&mut self, k: ItemKey) {
        if let Some(item) = self.items.get_mut(&k) {
            reschedule(&mut self.agenda, k, item);
        }
    }

    /// The invoices, as a line is added to them.
    fn books(&mut self) -> Books<'_> {
        Books {
            invoices: &mut self.invoices,
            ledger: &mut self.ledger,
            opened: &mut self.opened,
            closed: self.closed,
            first_month: &mut self.first_month,
        }
    }

    /// Adds `line` to the invoice for its `effective_at`; returns where.
    fn add_line(&mut self, partner: TenantId, currency: Currency, line: Line) -> LineAt {
        self.books().add_line(partner, currency, line)
    }

    /// `lines` of `inv`, the first numbered `first`, as readers see them: names joined from
    /// the directory and the items, references as invoice numbers.
    pub fn render<'l>(
        &self,
        inv: &Invoice,
        lines: impl IntoIterator<Item = &'l Line>,
        first: u32,
    ) -> Vec<InvoiceLine> {
        lines
            .into_iter()
            .zip(first..)
            .map(|(l, number)| self.render_line(inv, l, number))
            .collect()
    }

    /// A line's customer and order: its detail's, else (a charge) its item's.
    pub fn line_owner(&self, l: &Line) -> (Option<TenantId>, Option<OrderId>) {
        match &l.detail {
            Some(d) => (Some(d.customer), d.order),
            None => l
                .item
                .and_then(|i| self.items.get(&key(&i)))
                .map_or((None, None), |i| (Some(i.customer), Some(i.order))),
        }
    }

    fn render_line(&self, inv: &Invoice, l: &Line, number: u32) -> InvoiceLine {
        let partner = inv.partner;
        let (customer, order) = self.line_owner(l);
        let customer = customer.unwrap_or(TenantId(Uuid::nil()));
        let (customer_name, customer_domain, customer_country) =
            match self.directory.relationship(partner, customer) {
                Some(c) => (c.company_name.clone(), c.domain.clone(), c.country),
                None => (String::new(), String::new(), unknown_country()),
            };
        let item = l.item.and_then(|i| self.items.get(&key(&i)));
        let detail = l.detail.as_deref();
        InvoiceLine {
            number,
            kind: l.kind,
            customer,
            customer_name,
            customer_domain,
            customer_country,
            order,
            order_date: order
                .and_then(|o| self.orders.get(&o))
                .map(|o| o.purchased_at),
            item: l.item,
            refund_request: detail.and_then(|d| d.refund_request),
            product: item.map(|i| i.product.clone()),
            sku: item.map(|i| i.sku.clone()),
            product_name: item.map(|i| i.product_name.clone()),
            quantity: item.map(|i| i.quantity),
            unit_price: item.map(|i| i.unit_price),
            charge_type: l.charge_type,
            term_number: l.term_number.map(NonZeroU32::get),
            period_start: match detail {
                Some(d) => d.period_start,
                None => Some(l.effective_at),
            },
            period_end: l.period_end(),
            effective_at: l.effective_at,
            belongs_to: Month::of(l.effective_at),
            amount: Money::new(l.amount_minor, inv.currency),
            tax_inclusive: l.tax_inclusive,
            corrects: detail.map_or_else(Vec::new, |d| {
                d.corrects.iter().map(|at| self.line_ref(*at)).collect()
            }),
        }
    }

    /// A line's place as readers name it: its invoice's number.
    pub fn line_ref(&self, at: LineAt) -> LineRef {
        LineRef {
            invoice: self
                .ledger
                .get(at.invoice as usize)
                .and_then(|k| self.invoices.get(k))
                .map(|i| i.number.clone())
                .unwrap_or_default(),
            line: at.line.get(),
        }
    }

    fn charge(&mut self, env: &Envelope, c: &ChargeBilled) {
        let k = key(&c.item);
        // One lookup of the item for the whole fold: the books, the item and the agenda are
        // borrowed apart.
        let State {
            items,
            agenda,
            invoices,
            ledger,
            opened,
            closed,
            first_month,
            ..
        } = self;
        let Some(item) = items.get_mut(&k) else {
            return;
        };
        let books = Books {
            invoices,
            ledger,
            opened,
            closed: *closed,
            first_month,
        };
        let at = books.add_line(
            c.partner,
            c.amount.currency,
            Line {
                kind: LineKind::Charge,
                charge_type: Some(c.charge_type),
                tax_inclusive: item.tax_inclusive,
                term_number: NonZeroU32::new(c.term_number),
                item: Some(c.item),
                effective_at: env.effective_at,
                charge_end: c.period_end,
                amount_minor: c.amount.amount_minor,
                detail: None,
            },
        );
        if let Some(term) = item.term_mut(c.term_number) {
            term.billed.insert(c.charge_number, c.charges_in_term, at);
        }
        reschedule(agenda, k, item);
    }

    fn refund(&mut self, env: &Envelope, r: &RefundIssued) {
        let Some(item) = self.items.get(&key(&r.item)) else {
            return;
        };
        let term = item.term(r.term_number);
        let corrects: Vec<LineAt> = term
            .map(|t| {
                r.charges
                    .iter()
                    .filter_map(|n| t.billed.get(n).copied())
                    .collect()
            })
            .unwrap_or_default();
        let line = Line {
            kind: LineKind::Refund,
            charge_type: None,
            tax_inclusive: item.tax_inclusive,
            term_number: NonZeroU32::new(r.term_number),
            item: Some(r.item),
            effective_at: env.effective_at,
            charge_end: env.effective_at,
            amount_minor: -r.refund.amount_minor,
            detail: Some(Box::new(Detail {
                customer: r.customer,
                order: Some(r.order),
                refund_request: None,
                period_start: Some(r.cancelled_at),
                period_end: term.map(|t| t.end),
                corrects,
            })),
        };
        self.add_line(r.partner, r.refund.currency, line);
    }

    fn credit(&mut self, env: &Envelope, c: &CreditIssued) {
        let (item, corrects, refund_request) = match c.reason {
            CreditReason::PerpetualCancelled { purchase } => {
                let item = self.items.get(&key(&LineItem::Perpetual(purchase)));
                let corrects = item
                    .and_then(|i| i.term(1))
                    .map(|t| t.billed.values().copied().collect())
                    .unwrap_or_default();
                (item, corrects, None)
            }
            CreditReason::RefundApproved { refund_request } => {
                let item = self
                    .requests
                    .get(&refund_request)
                    .and_then(|r| r.item)
                    .and_then(|i| self.items.get(&key(&i)));
                (item, Vec::new(), Some(refund_request))
            }
        };
        // As ordering priced what is credited: the item's, else its order's (the market list
        // is the catalog's policy, never a constant here).
        let tax_inclusive = match item {
            Some(i) => i.tax_inclusive,
            None => c
                .order
                .and_then(|o| self.orders.get(&o))
                .is_some_and(|o| o.tax_inclusive),
        };
        let line = Line {
            kind: LineKind::Credit,
            charge_type: None,
            tax_inclusive,
            term_number: None,
            item: item.map(|i| i.item),
            effective_at: env.effective_at,
            charge_end: env.effective_at,
            amount_minor: -c.amount.amount_minor,
            detail: Some(Box::new(Detail {
                customer: c.customer,
                order: c.order,
                refund_request,
                period_start: None,
                period_end: None,
                corrects,
            })),
        };
        let at = self.add_line(c.partner, c.amount.currency, line);
        if let CreditReason::PerpetualCancelled { purchase } = c.reason {
            if let Some(i) = self.items.get_mut(&key(&LineItem::Perpetual(purchase))) {
                i.credited = Some(at);
            }
        }
    }
}

/// The invoices and their numbering, borrowed apart from the items.
struct Books<'a> {
    invoices: &'a mut BTreeMap<InvoiceKey, Invoice>,
    ledger: &'a mut Vec<InvoiceKey>,
    opened: &'a mut BTreeMap<Month, u32>,
    closed: Option<Month>,
    first_month: &'a mut Option<Month>,
}

impl Books<'_> {
    /// Adds `line` to the invoice its `effective_at` lands on (B2; after its month closed, the
    /// open month's), opened if needed; returns where.
    fn add_line(self, partner: TenantId, currency: Currency, line: Line) -> LineAt {
        let own = Month::of(line.effective_at);
        let month = match self.closed {
            Some(closed) if own <= closed => closed.next(),
            _ => own,
        };
        if self.first_month.is_none_or(|f| month < f) {
            *self.first_month = Some(month);
        }
        let opened = self.opened;
        let ledger = self.ledger;
        let inv = self
            .invoices
            .entry((month, partner, currency))
            .or_insert_with(|| {
                let n = opened.entry(month).or_insert(0);
                *n += 1;
                ledger.push((month, partner, currency));
                Invoice {
                    ordinal: u32::try_from(ledger.len() - 1).unwrap_or(u32::MAX),
                    number: format!("CSP-{:04}{:02}-{:04}", month.year(), month.month(), n),
                    partner,
                    month,
                    currency,
                    lines: Lines::default(),
                    issued: false,
                    head: None,
                    preview: HeadCache::default(),
                }
            });
        inv.lines.push(line);
        if inv.preview.0.get().is_some() {
            inv.preview = HeadCache::default();
        }
        LineAt {
            invoice: inv.ordinal,
            line: u32::try_from(inv.lines.len())
                .ok()
                .and_then(NonZeroU32::new)
                .unwrap_or(NonZeroU32::MAX),
        }
    }
}

/// A hash map written in key order: the state's digest is the same however the map was built.
fn sorted<S: serde::Serializer, K: Ord + Serialize, V: Serialize>(
    map: &HashMap<K, V>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    serializer.collect_map(entries)
}

/// Moves `item`'s entry on `agenda` to its next unbilled charge.
fn reschedule(agenda: &mut Agenda, k: ItemKey, item: &mut Item) {
    let next = item.current().and_then(TermState::next_charge);
    if next == item.next {
        return;
    }
    if let Some(old) = item.next.take() {
        agenda.remove(old, k);
    }
    item.next = next;
    if let Some(at) = next {
        agenda.insert(at, k);
    }
}

fn unknown_country() -> csp_events::market::CountryCode {
    // Only for a line whose customer was never added, which ordering never publishes.
    "ZZ".parse()
        .unwrap_or_else(|_| unreachable!("ZZ is two upper-case letters"))
}

/// The item an event is about, if any.
pub fn item_of(event: &Event) -> Option<ItemKey> {
    Some(match event {
        Event::SubscriptionStarted(e) => (0, e.subscription.0),
        Event::SubscriptionRenewed(e) => (0, e.subscription.0),
        Event::SubscriptionExpired(e) => (0, e.subscription.0),
        Event::SubscriptionCancelled(e) => (0, e.subscription.0),
        Event::PerpetualPurchased(e) => (1, e.purchase.0),
        Event::PerpetualCancelled(e) => (1, e.purchase.0),
        Event::ChargeBilled(e) => key(&e.item),
        Event::RefundIssued(e) => key(&e.item),
        _ => return None,
    })
}

/// Folds an upstream event of ordering's into the items, orders and requests it touches; the
/// state and the reactions' scratch both fold through here, so they never disagree.
pub(crate) fn upstream(
    items: &mut dyn Items,
    orders: &mut BTreeMap<OrderId, OrderInfo>,
    requests: &mut BTreeMap<RefundRequestId, Request>,
    env: &Envelope,
    event: &Event,
) {
    let imported = |orders: &BTreeMap<OrderId, OrderInfo>, order: OrderId| {
        orders
            .get(&order)
            .filter(|o| o.backfilled)
            .map(|_| env.recorded_at)
    };
    match event {
        Event::OrderPlaced(o) => {
            orders.insert(
                o.order,
                OrderInfo {
                    purchased_at: o.purchased_at,
                    backfilled: o.backfilled,
                    tax_inclusive: o.lines.iter().any(|l| l.tax_inclusive),
                },
            );
        }
        Event::SubscriptionStarted(s) if items.item_mut((0, s.subscription.0)).is_none() => {
            items.insert(Item::started(s, imported(orders, s.order)));
        }
        Event::PerpetualPurchased(p) if items.item_mut((1, p.purchase.0)).is_none() => {
            items.insert(Item::purchased(p, imported(orders, p.order)));
        }
        Event::SubscriptionRenewed(r) => {
            if let Some(item) = items.item_mut((0, r.subscription.0)) {
                if item.term(r.term_number).is_none() {
                    let billed_from = item.imported_at;
                    let prior = item.current().map(|t| t.term);
                    item.terms.push(TermState {
                        number: r.term_number,
                        start: r.term_start,
                        end: r.term_end,
                        term: prior.unwrap_or(Term::P1Y),
                        plan: r.billing_plan,
                        total: r.term_price,
                        billable: billed_from.is_none_or(|at| r.term_start >= at),
                        billed: Billed::default(),
                        cancelled_at: None,
                    });
                }
            }
        }
        Event::SubscriptionExpired(x) => {
            if let Some(item) = items.item_mut((0, x.subscription.0)) {
                item.ended = true;
            }
        }
        Event::SubscriptionCancelled(c) => {
            if let Some(item) = items.item_mut((0, c.subscription.0)) {
                item.ended = true;
                if let Some(t) = item.term_mut(c.term_number) {
                    t.cancelled_at.get_or_insert(c.cancelled_at);
                }
            }
        }
        Event::PerpetualCancelled(c) => {
            if let Some(item) = items.item_mut((1, c.purchase.0)) {
                item.ended = true;
                if let Some(t) = item.term_mut(1) {
                    t.cancelled_at.get_or_insert(c.cancelled_at);
                }
            }
        }
        Event::RefundRequestFiled(f) => {
            let (order, item) = match f.subject {
                RefundSubject::Order(o) => (Some(o), None),
                RefundSubject::Subscription(s) => (
                    items.item_mut((0, s.0)).map(|i| i.order),
                    Some(LineItem::Subscription(s)),
                ),
            };
            requests.insert(f.refund_request, Request { order, item });
        }
        _ => {}
    }
}

/// Where [`upstream`] finds and adds items: the state's map, or a scratch's overlay of it.
pub(crate) trait Items {
    /// The item, to change.
    fn item_mut(&mut self, k: ItemKey) -> Option<&mut Item>;
    /// Adds an item.
    fn insert(&mut self, item: Item);
}

/// The state's items: looked up by key on every charge, never walked in order (the agenda is
/// the ordered view), so a hash map of boxed items — one probe, and a table of pointers, not of
/// 250-byte items.
impl Items for HashMap<ItemKey, Box<Item>> {
    fn item_mut(&mut self, k: ItemKey) -> Option<&mut Item> {
        self.get_mut(&k).map(|b| &mut **b)
    }
    fn insert(&mut self, item: Item) {
        HashMap::insert(self, key(&item.item), Box::new(item));
    }
}

impl Items for BTreeMap<ItemKey, Item> {
    fn item_mut(&mut self, k: ItemKey) -> Option<&mut Item> {
        self.get_mut(&k)
    }
    fn insert(&mut self, item: Item) {
        BTreeMap::insert(self, key(&item.item), item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: i64) -> Line {
        Line {
            kind: LineKind::Charge,
            charge_type: Some(ChargeType::Installment),
            tax_inclusive: false,
            term_number: NonZeroU32::new(1),
            item: None,
            effective_at: Timestamp::from_micros(n),
            charge_end: Timestamp::from_micros(n + 1),
            amount_minor: n,
            detail: None,
        }
    }

    /// Pages of an invoice cross chunk boundaries: a range reads exactly the lines a vector's
    /// slice would, and the lines serialise as the vector would (the digest does not depend on
    /// how they are stored).
    #[test]
    fn lines_read_and_serialise_as_one_vector_across_chunks() {
        let n = Lines::CHUNK * 2 + 17;
        let all: Vec<Line> = (0..n as i64).map(line).collect();
        let mut lines = Lines::default();
        for l in &all {
            lines.push(l.clone());
        }
        assert_eq!(lines.len(), n);
        let c = Lines::CHUNK;
        for range in [
            0..0,
            0..1,
            5..c,
            c - 3..c + 3,
            c..2 * c,
            2 * c - 1..n,
            n - 2..n + 5,
            n..n + 1,
        ] {
            let got: Vec<&Line> = lines.range(range.clone()).collect();
            let end = range.end.min(n);
            let want: Vec<&Line> = all[range.start.min(end)..end].iter().collect();
            assert_eq!(got, want, "range {range:?}");
        }
        assert_eq!(lines.iter().count(), n);
        // In the digest's format (postcard, which refuses a sequence of unknown length) as in
        // JSON: the same bytes as the vector's.
        assert_eq!(
            postcard::to_allocvec(&lines).unwrap(),
            postcard::to_allocvec(&all).unwrap()
        );
        assert_eq!(
            serde_json::to_vec(&lines).unwrap(),
            serde_json::to_vec(&all).unwrap()
        );
        assert_eq!(
            lines.chunks[0].capacity(),
            Lines::CHUNK,
            "the first chunk grew to a chunk"
        );
    }
}
