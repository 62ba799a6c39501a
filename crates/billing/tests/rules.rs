//! Billing's rules, B1–B10 and M2, each proved by a test that names it, through the service's
//! own deciders: ordering's events are fed as the inbox feeds them (the charges due before each
//! recorded first, then the upstream copy, then its reactions), and the scheduler's due
//! transitions run as the clock moves, every event folded into the state as the log would.

use csp_billing::config::Config;
use csp_billing::react::due;
use csp_billing::service::BillingService;
use csp_billing::state::State;
use csp_bus::{decide_batch, Emit, Service};
use csp_events::billing::{
    ChargeType, GetInvoice, InvoiceStatus, LineKind, ListInvoices, Month, PreviewInvoice,
};
use csp_events::fixtures::sample;
use csp_events::kernel::Context;
use csp_events::market::CountryCode;
use csp_events::money::{Currency, Money};
use csp_events::ordering::*;
use csp_events::{
    Actor, ActorKind, CorrelationId, CustomerRef, Envelope, ErrorCode, Event, EventId, EventKind,
    OrderId, PurchaseId, RefundRequestId, Role, SubscriptionId, TenantId, Timestamp,
};
use uuid::Uuid;

const PARTNER: TenantId = TenantId(Uuid::from_u128(0xa1));
const OTHER_PARTNER: TenantId = TenantId(Uuid::from_u128(0xa2));
const CUSTOMER: TenantId = TenantId(Uuid::from_u128(0xc1));
const AU_CUSTOMER: TenantId = TenantId(Uuid::from_u128(0xc2));

fn at(y: i32, mo: u32, d: u32, h: u32) -> Timestamp {
    Timestamp::ymd_hms(y, mo, d, h, 0, 0).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::USD)
}

fn month(s: &str) -> Month {
    s.parse().unwrap()
}

fn hours_after(t: Timestamp, h: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() + h * 3_600_000_000)
}

/// A billing service fed by hand: its state, and every event it recorded, in log order.
struct World {
    state: State,
    config: Config,
    log: Vec<Envelope>,
    n: u128,
}

impl World {
    fn new() -> World {
        let mut w = World {
            state: State::default(),
            config: Config {
                grace: std::time::Duration::from_secs(300),
            },
            log: Vec::new(),
            n: 0,
        };
        w.customer(PARTNER, CUSTOMER, "US", "Contoso", "contoso.example");
        w.customer(PARTNER, AU_CUSTOMER, "AU", "Wingtip", "wingtip.example.au");
        w
    }

    fn customer(
        &mut self,
        partner: TenantId,
        customer: TenantId,
        country: &str,
        name: &str,
        domain: &str,
    ) {
        let c = CustomerAdded {
            customer,
            partner,
            domain: domain.into(),
            company_name: name.into(),
            country: country.parse::<CountryCode>().unwrap(),
            currency: Currency::USD,
        };
        self.upstream(c, at(2026, 1, 1, 0));
    }

    /// One of ordering's events, effective (and recorded) at `t`, as the inbox records it.
    fn upstream(&mut self, event: impl Into<Event>, t: Timestamp) {
        self.upstream_recorded(event, t, t);
    }

    fn upstream_recorded(&mut self, event: impl Into<Event>, t: Timestamp, recorded: Timestamp) {
        self.n += 1;
        let mut env = sample(EventKind::CustomerAdded);
        env.payload = event.into();
        env.event_id = EventId(Uuid::from_u128(0x5000_0000 + self.n));
        env.stream = "inbox/ordering".into();
        env.effective_at = t;
        env.recorded_at = recorded;
        let items = decide_batch::<BillingService>(
            &self.state,
            &self.config,
            "ordering",
            std::slice::from_ref(&env),
        );
        let item = items.into_iter().next().unwrap();
        for e in item.before {
            self.own(e);
        }
        self.state.apply(&env);
        self.log.push(env);
        for e in item.reactions {
            self.own(e);
        }
    }

    fn own(&mut self, e: Emit) {
        let mut env = sample(EventKind::CustomerAdded);
        env.event_id = e.id.unwrap_or(EventId(Uuid::from_u128(
            0x6000_0000 + self.log.len() as u128,
        )));
        assert!(
            !self.log.iter().any(|x| x.event_id == env.event_id),
            "recorded twice: {:?}",
            e.event
        );
        env.stream = e.stream;
        env.effective_at = e
            .effective_at
            .expect("the runtime sets a reaction's business time; a test gives it");
        env.recorded_at = env.effective_at;
        env.payload = e.event;
        env.correlation_id = CorrelationId(Uuid::nil());
        self.state.apply(&env);
        self.log.push(env);
    }

    /// The scheduler, run until nothing more is due at `now`.
    fn run_until(&mut self, now: Timestamp) {
        loop {
            let due = due(&self.state, self.config.grace_micros(), now);
            if due.is_empty() {
                return;
            }
            for e in due {
                self.own(e);
            }
        }
    }

    fn own_events(&self) -> Vec<&Event> {
        self.log
            .iter()
            .filter(|e| e.stream != "inbox/ordering")
            .map(|e| &e.payload)
            .collect()
    }

    fn charges(&self) -> Vec<(Timestamp, i64, ChargeType)> {
        self.log
            .iter()
            .filter_map(|e| match &e.payload {
                Event::ChargeBilled(c) => {
                    Some((e.effective_at, c.amount.amount_minor, c.charge_type))
                }
                _ => None,
            })
            .collect()
    }

    fn ctx(&self, kind: ActorKind, tenant: TenantId, role: Role) -> Context {
        Context {
            now: at(2030, 1, 1, 0),
            actor: Actor {
                kind,
                tenant,
                user: "u".into(),
                roles: vec![role],
            },
            seed: Uuid::nil(),
            entropy: [0; 32],
        }
    }

    fn admin(&self) -> Context {
        self.ctx(ActorKind::Partner, PARTNER, Role::BillingAdmin)
    }

    fn invoice(&self, m: &str) -> csp_events::billing::InvoicePage {
        let q = GetInvoice {
            partner: None,
            month: month(m),
            currency: None,
            after: None,
            limit: None,
        };
        csp_billing::api::get_invoice(&self.state, &self.config, &q, &self.admin()).unwrap()
    }

    fn preview(&self, m: &str) -> csp_events::billing::InvoicePage {
        let q = PreviewInvoice {
            partner: None,
            month: Some(month(m)),
            currency: None,
            after: None,
            limit: None,
        };
        csp_billing::api::preview_invoice(&self.state, &self.config, &q, &self.admin()).unwrap()
    }
}

fn order(n: u128, customer: TenantId, t: Timestamp, backfilled: bool) -> OrderPlaced {
    let Event::OrderPlaced(mut o) = sample(EventKind::OrderPlaced).payload else {
        unreachable!()
    };
    o.order = OrderId(Uuid::from_u128(0x0d00 + n));
    o.customer = customer;
    o.partner = PARTNER;
    o.purchased_at = t;
    o.backfilled = backfilled;
    o
}

#[allow(clippy::too_many_arguments)]
fn started(
    n: u128,
    customer: TenantId,
    start: Timestamp,
    term: Term,
    plan: BillingPlan,
    unit: i64,
    qty: u32,
) -> SubscriptionStarted {
    let Event::SubscriptionStarted(mut s) = sample(EventKind::SubscriptionStarted).payload else {
        unreachable!()
    };
    s.subscription = SubscriptionId(Uuid::from_u128(0x5b00 + n));
    s.order = OrderId(Uuid::from_u128(0x0d00 + n));
    s.customer = customer;
    s.partner = PARTNER;
    s.term = term;
    s.billing_plan = plan;
    s.unit_price = usd(unit);
    s.term_price = usd(unit * i64::from(qty));
    s.quantity = qty;
    s.tax_inclusive = customer == AU_CUSTOMER;
    s.term_start = start;
    s.term_end = start.plus_months(term.months().unwrap()).unwrap();
    s
}

fn cancelled(
    s: &SubscriptionStarted,
    term_number: u32,
    start: Timestamp,
    end: Timestamp,
    t: Timestamp,
) -> SubscriptionCancelled {
    SubscriptionCancelled {
        subscription: s.subscription,
        order: s.order,
        customer: s.customer,
        partner: s.partner,
        term_number,
        term_start: start,
        term_end: end,
        term_price: s.term_price,
        billing_plan: s.billing_plan,
        cancelled_at: t,
    }
}

fn perpetual(n: u128, customer: TenantId, t: Timestamp, price: i64) -> PerpetualPurchased {
    let Event::PerpetualPurchased(mut p) = sample(EventKind::PerpetualPurchased).payload else {
        unreachable!()
    };
    p.purchase = PurchaseId(Uuid::from_u128(0x9e00 + n));
    p.order = OrderId(Uuid::from_u128(0x0d00 + n));
    p.customer = customer;
    p.partner = PARTNER;
    p.quantity = 1;
    p.unit_price = usd(price);
    p.price = usd(price);
    p.purchased_at = t;
    p.tax_inclusive = customer == AU_CUSTOMER;
    p
}

/// Proves rule B1: a monthly RDS CAL for 3 users ($390.00 a year) bought Jan 31 2027 10:00 is
/// charged on the term start's monthly anniversaries — Jan 31, Feb 28, Mar 31, Apr 30 … — each
/// $32.50, twelve in all, adding up exactly to $390.00; nothing past the term end.
#[test]
fn rule_b1_monthly_charges_fall_on_the_term_starts_anniversaries_and_add_up() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    w.upstream(order(1, CUSTOMER, start, false), start);
    w.upstream(
        started(
            1,
            CUSTOMER,
            start,
            Term::P1Y,
            BillingPlan::Monthly,
            13_000,
            3,
        ),
        start,
    );
    w.run_until(at(2028, 6, 1, 0));
    let charges = w.charges();
    assert_eq!(charges.len(), 12);
    let days: Vec<String> = charges
        .iter()
        .take(4)
        .map(|c| c.0.to_string()[..10].to_string())
        .collect();
    assert_eq!(
        days,
        ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]
    );
    assert!(charges.iter().all(|c| c.1 == 3_250));
    assert_eq!(charges.iter().map(|c| c.1).sum::<i64>(), 39_000);
    assert_eq!(charges[0].2, ChargeType::New);
    assert_eq!(charges[1].2, ChargeType::Installment);
}

/// Proves rule B1 (worked example): the same P3Y SKU billed triennially is one charge of the
/// whole term at its start; billed annually, three charges on its anniversaries — the same
/// total, $42,540.00 for 10 users.
#[test]
fn rule_b1_triennial_and_annual_bill_the_same_total() {
    let start = at(2026, 12, 1, 9);
    let mut tri = World::new();
    tri.upstream(
        started(
            1,
            CUSTOMER,
            start,
            Term::P3Y,
            BillingPlan::Triennial,
            425_400,
            10,
        ),
        start,
    );
    tri.run_until(at(2030, 1, 1, 0));
    let mut annual = World::new();
    annual.upstream(
        started(
            1,
            CUSTOMER,
            start,
            Term::P3Y,
            BillingPlan::Annual,
            425_400,
            10,
        ),
        start,
    );
    annual.run_until(at(2030, 1, 1, 0));
    let (t, a) = (tri.charges(), annual.charges());
    assert_eq!(t.len(), 1);
    assert_eq!(a.len(), 3);
    assert_eq!(t.iter().map(|c| c.1).sum::<i64>(), 4_254_000);
    assert_eq!(a.iter().map(|c| c.1).sum::<i64>(), 4_254_000);
    assert_eq!(a[2].0, at(2028, 12, 1, 9));
}

/// Proves rule B2: each charge lands on the invoice of the calendar month (UTC) it falls in,
/// and a month closes (its invoice issued) only after it ended plus the grace.
#[test]
fn rule_b2_each_charge_lands_on_its_own_months_invoice() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    w.upstream(
        started(
            1,
            CUSTOMER,
            start,
            Term::P1Y,
            BillingPlan::Monthly,
            13_000,
            3,
        ),
        start,
    );
    w.run_until(at(2027, 3, 1, 0));
    // February ended at midnight, but the grace has not passed: January is closed, February open.
    assert_eq!(w.state.closed, Some(month("2027-01")));
    w.run_until(at(2027, 3, 1, 0).plus_hours(1).unwrap());
    assert_eq!(w.state.closed, Some(month("2027-02")));
    let jan = w.invoice("2027-01");
    let feb = w.invoice("2027-02");
    assert_eq!(
        (jan.invoice.number.as_str(), feb.invoice.number.as_str()),
        ("CSP-202701-0001", "CSP-202702-0001")
    );
    assert_eq!(jan.lines.len(), 1);
    assert_eq!(jan.lines[0].effective_at, at(2027, 1, 31, 10));
    assert_eq!(feb.lines[0].effective_at, at(2027, 2, 28, 10));
    assert_eq!(jan.status, InvoiceStatus::Issued);
}

/// Proves rule B3: a renewal starts a new term with its own charges, the first a `renewal`.
#[test]
fn rule_b3_a_renewal_starts_a_new_term_with_its_own_charges() {
    let mut w = World::new();
    let start = at(2026, 3, 1, 9);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P1Y,
        BillingPlan::Annual,
        100_000,
        1,
    );
    w.upstream(s.clone(), start);
    let end = start.plus_months(12).unwrap();
    w.upstream(
        SubscriptionRenewed {
            subscription: s.subscription,
            customer: CUSTOMER,
            partner: PARTNER,
            term_number: 2,
            term_start: end,
            term_end: end.plus_months(12).unwrap(),
            billing_plan: BillingPlan::Annual,
            term_price: usd(100_000),
            cancellable_until: None,
        },
        end,
    );
    let charges = w.charges();
    assert_eq!(charges.len(), 2);
    assert_eq!((charges[1].0, charges[1].2), (end, ChargeType::Renewal));
}

/// Proves rule B4 (worked example): a P3Y subscription billed annually for 10 users ($4,254.00
/// per user for the term) bought Dec 1 2026 09:00 and cancelled 50 hours later (day 3): billed
/// $14,180.00, used $116.44 (3 of 1,096 days, rounded once), refund $14,063.56 on the December
/// invoice, naming the charge it corrects; no charge of that term is billed afterwards.
#[test]
fn rule_b4_a_cancelled_subscription_is_refunded_prorated_and_billed_no_more() {
    let mut w = World::new();
    let start = at(2026, 12, 1, 9);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P3Y,
        BillingPlan::Annual,
        425_400,
        10,
    );
    w.upstream(s.clone(), start);
    let end = start.plus_months(36).unwrap();
    let cancel = hours_after(start, 50);
    w.upstream(cancelled(&s, 1, start, end, cancel), cancel);
    let refund = w
        .own_events()
        .into_iter()
        .find_map(|e| match e {
            Event::RefundIssued(r) => Some(r.clone()),
            _ => None,
        })
        .expect("a refund");
    assert_eq!(refund.billed, usd(1_418_000));
    assert_eq!((refund.days_used, refund.term_days), (3, 1096));
    assert_eq!(refund.used, usd(11_644));
    assert_eq!(refund.refund, usd(1_406_356));
    w.run_until(at(2030, 1, 1, 0));
    assert_eq!(
        w.charges().len(),
        1,
        "no charge of a cancelled term is billed afterwards"
    );
    let dec = w.invoice("2026-12");
    assert_eq!(dec.lines[1].kind, LineKind::Refund);
    assert_eq!(dec.lines[1].amount, usd(-1_406_356));
    assert_eq!(dec.lines[1].corrects[0].line, 1);
    assert_eq!(dec.invoice.total, usd(1_418_000 - 1_406_356));
}

/// Proves rule B4: the charges that fall at or before the cancellation are billed before the
/// refund, even when the scheduler never ran in between (the inbox records them first): a
/// monthly subscription cancelled on day 35 refunds two charges.
#[test]
fn rule_b4_charges_due_before_a_cancellation_are_billed_before_its_refund() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P1Y,
        BillingPlan::Monthly,
        13_000,
        3,
    );
    w.upstream(s.clone(), start);
    let cancel = hours_after(start, 35 * 24);
    w.upstream(
        cancelled(&s, 1, start, start.plus_months(12).unwrap(), cancel),
        cancel,
    );
    let kinds: Vec<&str> = w.own_events().iter().map(|e| e.name()).collect();
    assert_eq!(kinds, ["charge_billed", "charge_billed", "refund_issued"]);
    let Event::RefundIssued(r) = w.own_events()[2] else {
        unreachable!()
    };
    assert_eq!(r.billed, usd(6_500));
    assert_eq!(r.charges, vec![1, 2]);
    // 36 days started of 365: 39,000 × 36 ÷ 365 = 3,846.58 → 3,847; refund 6,500 − 3,847.
    assert_eq!(r.refund, usd(2_653));
}

/// Proves rule B5 (worked example): a perpetual SQL Server purchase ($3,717.00) bought Jan 2
/// 2027 and cancelled on day 29, the same month: a 100% credit on the same invoice, which nets
/// to zero.
#[test]
fn rule_b5_a_cancelled_perpetual_purchase_is_credited_in_full() {
    let mut w = World::new();
    let bought = at(2027, 1, 2, 9);
    let p = perpetual(1, CUSTOMER, bought, 371_700);
    w.upstream(order(1, CUSTOMER, bought, false), bought);
    w.upstream(p.clone(), bought);
    let cancel = hours_after(bought, 28 * 24);
    w.upstream(
        PerpetualCancelled {
            purchase: p.purchase,
            order: p.order,
            customer: CUSTOMER,
            partner: PARTNER,
            price: p.price,
            cancelled_at: cancel,
        },
        cancel,
    );
    w.run_until(at(2027, 2, 2, 0));
    let jan = w.invoice("2027-01");
    assert_eq!(jan.lines.len(), 2);
    assert_eq!(
        (jan.lines[1].kind, jan.lines[1].amount),
        (LineKind::Credit, usd(-371_700))
    );
    assert_eq!(jan.invoice.total, usd(0));
    assert_eq!(jan.lines[0].charge_type, Some(ChargeType::OneTime));
}

/// Proves rule B6: a subscription whose auto-renew is switched off is still billed for its
/// whole term.
#[test]
fn rule_b6_a_subscription_not_cancelled_is_billed_its_full_term() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P1Y,
        BillingPlan::Monthly,
        13_000,
        3,
    );
    w.upstream(s.clone(), start);
    w.upstream(
        AutoRenewChanged {
            subscription: s.subscription,
            customer: CUSTOMER,
            partner: PARTNER,
            auto_renew: false,
        },
        hours_after(start, 24),
    );
    w.run_until(at(2028, 6, 1, 0));
    assert_eq!(w.charges().iter().map(|c| c.1).sum::<i64>(), 39_000);
}

fn approved(
    n: u128,
    amount: i64,
    t_sub: &SubscriptionStarted,
) -> (RefundRequestFiled, RefundRequestApproved) {
    let Event::RefundRequestFiled(mut f) = sample(EventKind::RefundRequestFiled).payload else {
        unreachable!()
    };
    f.refund_request = RefundRequestId(Uuid::from_u128(0x7700 + n));
    f.customer = t_sub.customer;
    f.partner = PARTNER;
    f.subject = RefundSubject::Subscription(t_sub.subscription);
    f.amount_requested = usd(amount);
    let a = RefundRequestApproved {
        refund_request: f.refund_request,
        customer: t_sub.customer,
        partner: PARTNER,
        amount: usd(amount),
        note: None,
    };
    (f, a)
}

/// Proves rule B7: an approved refund request is a credit of the approved amount on the next
/// invoice — more than one charge billed, since it is a credit, not a refund of a charge.
#[test]
fn rule_b7_an_approved_refund_request_is_a_credit_of_its_amount() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P1Y,
        BillingPlan::Monthly,
        13_000,
        3,
    );
    w.upstream(s.clone(), start);
    let (f, a) = approved(1, 10_000, &s);
    w.upstream(f, at(2027, 2, 10, 9));
    w.upstream(a, at(2027, 2, 12, 9));
    w.run_until(at(2027, 3, 2, 0));
    let feb = w.invoice("2027-02");
    let credit = feb
        .lines
        .iter()
        .find(|l| l.kind == LineKind::Credit)
        .unwrap();
    assert_eq!(credit.amount, usd(-10_000));
    assert!(credit.refund_request.is_some());
    assert_eq!(credit.order, Some(s.order));
    assert_eq!(feb.invoice.total, usd(3_250 - 10_000));
}

/// Proves rule B8: an invoice's total is its charges less its refunds and credits, per
/// currency, in integer minor units.
#[test]
fn rule_b8_total_is_charges_less_refunds_and_credits() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P1Y,
        BillingPlan::Monthly,
        13_000,
        3,
    );
    w.upstream(s.clone(), start);
    let b = at(2027, 1, 5, 9);
    w.upstream(perpetual(2, CUSTOMER, b, 371_700), b);
    let (f, a) = approved(1, 1_234, &s);
    w.upstream(f, at(2027, 1, 20, 9));
    w.upstream(a, at(2027, 1, 21, 9));
    w.run_until(at(2027, 2, 2, 0));
    let jan = w.invoice("2027-01");
    let h = &jan.invoice;
    assert_eq!(
        (h.charges, h.refunds, h.credits),
        (usd(3_250 + 371_700), usd(0), usd(1_234))
    );
    assert_eq!(h.total, usd(3_250 + 371_700 - 1_234));
    let sum: i64 = jan.lines.iter().map(|l| l.amount.amount_minor).sum();
    assert_eq!(sum, h.total.amount_minor);
}

/// Proves rule B9: replaying the billing log from scratch reproduces every invoice exactly
/// (and the whole state, digest for digest).
#[test]
fn rule_b9_replaying_the_log_reproduces_every_invoice() {
    let mut w = World::new();
    let start = at(2026, 12, 1, 9);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P3Y,
        BillingPlan::Annual,
        425_400,
        10,
    );
    w.upstream(s.clone(), start);
    let m = started(
        2,
        AU_CUSTOMER,
        at(2027, 1, 31, 10),
        Term::P1Y,
        BillingPlan::Monthly,
        13_000,
        3,
    );
    w.upstream(m.clone(), at(2027, 1, 31, 10));
    w.run_until(at(2027, 5, 1, 0));
    let c = at(2027, 5, 3, 9);
    w.upstream(cancelled(&m, 1, m.term_start, m.term_end, c), c);
    w.run_until(at(2027, 7, 1, 0));
    let mut replayed = State::default();
    for e in &w.log {
        BillingService::apply(&mut replayed, e, csp_bus::Origin::Own);
    }
    assert_eq!(
        csp_bus::runtime::digest(&replayed),
        csp_bus::runtime::digest(&w.state)
    );
    assert_eq!(replayed.invoices, w.state.invoices);
    assert!(w.state.invoices.values().filter(|i| i.issued).count() >= 6);
}

/// Proves rule B10: invoices are read by the partner's `global_admin` and `billing_admin`;
/// the partner's other users are `forbidden`; another partner and a customer get `not_found`,
/// exactly as for a month with no invoice; each refusal is recorded.
#[test]
fn rule_b10_invoices_are_read_by_the_partners_billing_readers_only() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    w.upstream(
        started(
            1,
            CUSTOMER,
            start,
            Term::P1Y,
            BillingPlan::Monthly,
            13_000,
            3,
        ),
        start,
    );
    w.run_until(at(2027, 2, 2, 0));
    let q = ListInvoices {
        partner: None,
        after: None,
        limit: None,
    };
    let list = |ctx: &Context| csp_billing::api::list_invoices(&w.state, &w.config, &q, ctx);
    for role in [Role::GlobalAdmin, Role::BillingAdmin] {
        assert_eq!(
            list(&w.ctx(ActorKind::Partner, PARTNER, role))
                .unwrap()
                .invoices
                .len(),
            1
        );
    }
    for role in [Role::AdminAgent, Role::SalesAgent, Role::HelpdeskAgent] {
        let r = list(&w.ctx(ActorKind::Partner, PARTNER, role)).unwrap_err();
        assert_eq!(r.code, ErrorCode::Forbidden);
        assert!(r.is_refusal(), "recorded");
    }
    let other = list(&w.ctx(ActorKind::Partner, OTHER_PARTNER, Role::GlobalAdmin)).unwrap();
    assert!(
        other.invoices.is_empty(),
        "another partner lists its own (none), never ours"
    );
    let get = |ctx: &Context| {
        let q = GetInvoice {
            partner: Some(PARTNER),
            month: month("2027-01"),
            currency: None,
            after: None,
            limit: None,
        };
        csp_billing::api::get_invoice(&w.state, &w.config, &q, ctx)
    };
    for ctx in [
        w.ctx(ActorKind::Partner, OTHER_PARTNER, Role::GlobalAdmin),
        w.ctx(ActorKind::Customer, CUSTOMER, Role::GlobalAdmin),
    ] {
        let r = get(&ctx).unwrap_err();
        assert_eq!(r.code, ErrorCode::NotFound);
        assert!(r.is_refusal(), "recorded");
    }
    let charges = csp_events::billing::GetCharges {
        customer: CustomerRef::Tenant(CUSTOMER),
        item: Some(LineItem::Subscription(SubscriptionId(Uuid::from_u128(
            0x5b01,
        )))),
        order: None,
    };
    let r = csp_billing::api::get_charges(
        &w.state,
        &w.config,
        &charges,
        &w.ctx(ActorKind::Customer, CUSTOMER, Role::GlobalAdmin),
    )
    .unwrap_err();
    assert_eq!(r.code, ErrorCode::NotFound);
    let ok = csp_billing::api::get_charges(&w.state, &w.config, &charges, &w.admin()).unwrap();
    assert_eq!(ok.entries.len(), 1);
}

/// Proves rule M2: lines of a customer in Australia (or Brazil) are marked tax-inclusive, and
/// the reconciliation export shows them so: no tax broken out, "Price includes tax".
#[test]
fn rule_m2_australian_lines_are_tax_inclusive() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    w.upstream(
        started(
            1,
            AU_CUSTOMER,
            start,
            Term::P1Y,
            BillingPlan::Monthly,
            13_000,
            3,
        ),
        start,
    );
    w.upstream(
        started(
            2,
            CUSTOMER,
            start,
            Term::P1Y,
            BillingPlan::Monthly,
            13_000,
            3,
        ),
        start,
    );
    w.run_until(at(2027, 2, 2, 0));
    let jan = w.invoice("2027-01");
    let by_country: Vec<(String, bool)> = jan
        .lines
        .iter()
        .map(|l| (l.customer_country.to_string(), l.tax_inclusive))
        .collect();
    assert_eq!(
        by_country,
        [("AU".to_string(), true), ("US".to_string(), false)]
    );
    let q = csp_events::billing::ExportReconciliation {
        partner: None,
        month: month("2027-01"),
        currency: None,
        after: None,
        limit: None,
    };
    let csv = csp_billing::api::export_reconciliation(&w.state, &w.config, &q, &w.admin())
        .unwrap()
        .csv;
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let head = r.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(&rows[0][col("TaxTotal")], "");
    assert_eq!(
        &rows[0][col("PriceAdjustmentDescription")],
        "Price includes tax"
    );
    assert_eq!(&rows[1][col("TaxTotal")], "0.00");
    assert_eq!(&rows[1][col("Total")], "32.50");
}

/// Backfilled orders were billed by the system they came from: csp records them and bills only
/// terms that start after their import; cancelling a term csp never billed refunds nothing.
#[test]
fn backfilled_terms_are_not_billed_and_their_cancellation_refunds_nothing() {
    let mut w = World::new();
    let start = at(2026, 6, 1, 9);
    let imported = at(2027, 1, 10, 9);
    w.upstream_recorded(order(1, CUSTOMER, start, true), start, imported);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P1Y,
        BillingPlan::Monthly,
        13_000,
        3,
    );
    w.upstream_recorded(s.clone(), start, imported);
    w.run_until(at(2027, 3, 1, 0));
    assert!(
        w.charges().is_empty(),
        "the first term started before the import"
    );
    let end = start.plus_months(12).unwrap();
    w.upstream(
        SubscriptionRenewed {
            subscription: s.subscription,
            customer: CUSTOMER,
            partner: PARTNER,
            term_number: 2,
            term_start: end,
            term_end: end.plus_months(12).unwrap(),
            billing_plan: BillingPlan::Monthly,
            term_price: usd(39_000),
            cancellable_until: None,
        },
        end,
    );
    assert_eq!(
        w.charges().len(),
        1,
        "the renewed term starts after the import"
    );
    let mut never = World::new();
    never.upstream_recorded(order(1, CUSTOMER, start, true), start, imported);
    never.upstream_recorded(s.clone(), start, imported);
    let c = at(2027, 1, 11, 9);
    never.upstream(cancelled(&s, 1, start, end, c), c);
    assert!(
        never.own_events().is_empty(),
        "nothing billed, nothing refunded"
    );
}

/// A line that arrives for a closed month lands on the next open invoice, marked as belonging
/// to its own month; the issued invoice never changes. An invoice issued with nothing new
/// since equals its last preview, byte for byte.
#[test]
fn late_lines_correct_on_the_next_invoice_and_previews_equal_issued_invoices() {
    let mut w = World::new();
    let start = at(2027, 1, 31, 10);
    let s = started(
        1,
        CUSTOMER,
        start,
        Term::P1Y,
        BillingPlan::Monthly,
        13_000,
        3,
    );
    w.upstream(s.clone(), start);
    w.run_until(at(2027, 1, 31, 23));
    let preview = serde_json::to_vec(&w.preview("2027-01")).unwrap();
    w.run_until(at(2027, 2, 1, 1));
    let mut issued = w.invoice("2027-01");
    issued.status = InvoiceStatus::Preview;
    assert_eq!(serde_json::to_vec(&issued).unwrap(), preview);
    let jan = w.invoice("2027-01");
    // A cancellation effective Feb 3 arrives after February closed.
    w.run_until(at(2027, 3, 2, 0));
    let c = at(2027, 2, 3, 9);
    w.upstream(cancelled(&s, 1, start, s.term_end, c), c);
    assert_eq!(w.invoice("2027-01"), jan, "an issued invoice never changes");
    let mar = w.preview("2027-03");
    let late = mar
        .lines
        .iter()
        .find(|l| l.kind == LineKind::Refund)
        .unwrap();
    assert_eq!(late.belongs_to, month("2027-02"));
    assert_eq!(late.corrects.len(), 2);
    // Jan 31 10:00 to Feb 3 09:00 starts 3 days of 365: used 39,000 × 3 ÷ 365 = 320.55 → 321;
    // the January charge less that, and the February 28 charge (billed before the cancellation
    // arrived) in full.
    assert_eq!(late.amount, usd(-(3_250 - 321 + 3_250)));
}

/// Proves rule B8 for a preview read page after page: its head (totals, line count, hash) is
/// computed once and kept, and a new line makes the next read compute it afresh — never a
/// stale total.
#[test]
fn rule_b8_a_previews_head_follows_every_new_line() {
    let mut w = World::new();
    let b = at(2027, 1, 5, 9);
    w.upstream(perpetual(1, CUSTOMER, b, 371_700), b);
    let first = w.preview("2027-01");
    assert_eq!(
        first.invoice,
        w.preview("2027-01").invoice,
        "read twice, the same head"
    );
    let c = at(2027, 1, 6, 9);
    w.upstream(perpetual(2, CUSTOMER, c, 1_000), c);
    let second = w.preview("2027-01");
    assert_eq!(second.invoice.lines, first.invoice.lines + 1);
    assert_eq!(second.invoice.total, usd(371_700 + 1_000));
    assert_ne!(second.invoice.lines_hash, first.invoice.lines_hash);
}
