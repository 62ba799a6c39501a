//! Properties: random command sequences over random times — crossing the cut-over, landing on
//! the window edges, skipping years — by random actors never break the invariants below, and
//! folding the recorded events from scratch (decoded from their bytes) gives the live state,
//! projections and digest included.
//!
//! Invariants, checked on the log of every run:
//! 1. a subscription is in exactly one state: after it is cancelled or expired nothing more
//!    happens to it, and its read model agrees with its decider state;
//! 2. no cancel is accepted outside its window: a subscription's at or after its current term's
//!    start and before start + window (rule O8, never for O9 plans); a perpetual purchase's
//!    before purchase + 720 h (rule O10);
//! 3. a subscription bought before the cut-over never renews and never auto-renews (rule O6);
//! 4. money sums are exact: line price = unit × quantity, order total = Σ lines, each term's
//!    price = the line's price, a cancelled purchase's credit = its price, an approval ≤ the
//!    amount requested;
//! 5. terms chain: each renewal starts at the previous end, at its true `effective_at`, numbered
//!    one up; an expiry happens at the term end;
//! 6. no Azure Reservation is sold where it is unavailable (rule M1), and every recorded plan is
//!    one the catalog offers for that SKU and term (rule M3);
//! 7. a refused command records nothing;
//! 8. replay equals live.

mod common;

use std::collections::BTreeMap;

use common::*;
use csp_events::ordering::{self as contract, BillingPlan, LineItem, ProductKind, Term};
use csp_events::{
    Currency, Envelope, ErrorCode, Event, Money, OrderId, Role, SubscriptionId, TenantId, Timestamp,
};
use csp_ordering::api;
use csp_ordering::domain::subscription::Status as SubStatus;
use csp_ordering::projection::subscriptions::Status;
use proptest::prelude::*;
use uuid::Uuid;

const FABRIKAM: TenantId = TenantId(Uuid::from_u128(0x0c02));

/// The customers a run may add: (tenant, domain, country, currency, partner).
const CUSTOMERS: [(TenantId, &str, &str, Currency); 4] = [
    (CONTOSO, "contoso.onmicrosoft.com", "US", Currency::USD),
    (HAITI, "haiti-ventures.onmicrosoft.com", "HT", Currency::USD),
    (AUSSIE, "kangaroo.onmicrosoft.com", "AU", Currency::AUD),
    (FABRIKAM, "fabrikam.onmicrosoft.com", "DE", Currency::EUR),
];

/// Lines a run may order: valid ones of every kind and some that break a rule.
fn line_menu() -> Vec<contract::OrderLineRequest> {
    vec![
        ws_p1y(1),
        line(
            "windows-server-2022-standard",
            "16-core-p3y",
            1,
            Term::P3Y,
            BillingPlan::Triennial,
        ),
        line(
            "windows-server-2022-standard",
            "16-core-p3y",
            1,
            Term::P3Y,
            BillingPlan::Monthly,
        ),
        line(
            "windows-server-2022-rds-user-cal",
            "user-cal-p1y",
            1,
            Term::P1Y,
            BillingPlan::Monthly,
        ),
        line(
            "azure-reserved-vm-instances",
            "d4s-v5-eastus",
            1,
            Term::P1Y,
            BillingPlan::Monthly,
        ),
        line(
            "azure-reserved-vm-instances",
            "d4s-v5-eastus",
            1,
            Term::P3Y,
            BillingPlan::Annual,
        ),
        line(
            "rhel-software-plan",
            "1-4-vcpu-p1y",
            1,
            Term::P1Y,
            BillingPlan::Annual,
        ),
        line(
            "sles-software-plan",
            "1-2-vcpu-p3y",
            1,
            Term::P3Y,
            BillingPlan::Triennial,
        ),
        line(
            "esu-windows-server-2012",
            "16-core-p1y",
            1,
            Term::P1Y,
            BillingPlan::Annual,
        ),
        line(
            "windows-server-2022-user-cal",
            "user-cal-p1y",
            1,
            Term::P1Y,
            BillingPlan::Annual,
        ),
        sql_perpetual(1),
        line(
            "sql-server-2022-standard-perpetual",
            "2-core",
            1,
            Term::P1Y,
            BillingPlan::Annual,
        ),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        customer: usize,
        by_other_partner: bool,
    },
    Place {
        customer: usize,
        by_domain: bool,
        lines: Vec<(usize, u32)>,
        actor: u8,
    },
    Import {
        customer: usize,
        days_back: u32,
        lines: Vec<(usize, u32)>,
        actor: u8,
    },
    AutoRenew {
        pick: usize,
        on: bool,
        actor: u8,
    },
    CancelSub {
        pick: usize,
        actor: u8,
    },
    CancelPerp {
        picks: Vec<usize>,
        actor: u8,
    },
    FileRefund {
        pick: usize,
        amount: i64,
    },
    DecideRefund {
        pick: usize,
        approve: bool,
        amount: i64,
    },
    Tick,
}

/// Time steps that land on the edges the rules state, and arbitrary ones.
fn delta() -> impl Strategy<Value = i64> {
    let s = 1_000_000i64;
    prop_oneof![
        6 => Just(0),
        4 => Just(s),
        6 => (0i64..48 * 3600).prop_map(move |x| x * s),
        3 => Just((167 * 3600 + 59 * 60 + 59) * s),
        3 => Just(168 * 3600 * s),
        1 => Just((719 * 3600 + 59 * 60 + 59) * s),
        1 => Just(720 * 3600 * s),
        1 => Just(365 * 24 * 3600 * s),
        1 => (0i64..400 * 24 * 3600).prop_map(move |x| x * s),
    ]
}

fn lines() -> impl Strategy<Value = Vec<(usize, u32)>> {
    // Mostly lines that can be bought; now and then one that breaks a rule (indices 2 and 11,
    // or a quantity of 0), which refuses the whole order.
    let index = prop_oneof![
        10 => prop::sample::select(vec![0usize, 1, 3, 4, 5, 6, 7, 8, 9, 10]),
        1 => prop::sample::select(vec![2usize, 11]),
    ];
    prop::collection::vec((index, prop_oneof![19 => 1u32..5, 1 => Just(0u32)]), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0usize..4, prop::bool::weighted(0.1)).prop_map(|(customer, by_other_partner)| Op::Add { customer, by_other_partner }),
        4 => (0usize..4, any::<bool>(), lines(), 0u8..8).prop_map(|(customer, by_domain, lines, actor)| Op::Place { customer, by_domain, lines, actor }),
        2 => (0usize..4, 1u32..2000, lines(), 0u8..8).prop_map(|(customer, days_back, lines, actor)| Op::Import { customer, days_back, lines, actor }),
        2 => (any::<usize>(), any::<bool>(), 0u8..8).prop_map(|(pick, on, actor)| Op::AutoRenew { pick, on, actor }),
        5 => (any::<usize>(), 0u8..8).prop_map(|(pick, actor)| Op::CancelSub { pick, actor }),
        4 => (prop::collection::vec(any::<usize>(), 1..3), 0u8..8).prop_map(|(picks, actor)| Op::CancelPerp { picks, actor }),
        1 => (any::<usize>(), -10i64..2_000_000).prop_map(|(pick, amount)| Op::FileRefund { pick, amount }),
        1 => (any::<usize>(), any::<bool>(), -10i64..2_000_000).prop_map(|(pick, approve, amount)| Op::DecideRefund { pick, approve, amount }),
        2 => Just(Op::Tick),
    ]
}

/// Mostly the partner's admin agent; sometimes someone who may not act.
fn actor(n: u8) -> csp_events::Actor {
    match n {
        0..=4 => admin(),
        5 => partner(PARTNER, Role::GlobalAdmin),
        6 => partner(PARTNER, Role::SalesAgent),
        _ => partner(OTHER_PARTNER, Role::AdminAgent),
    }
}

fn name(i: usize, by_domain: bool) -> csp_events::api::CustomerRef {
    let (t, d, ..) = CUSTOMERS[i];
    if by_domain {
        domain(d)
    } else {
        tenant(t)
    }
}

fn requested(
    menu: &[contract::OrderLineRequest],
    picks: &[(usize, u32)],
) -> Vec<contract::OrderLineRequest> {
    picks
        .iter()
        .map(|(i, q)| {
            let mut l = menu[*i].clone();
            l.quantity = *q;
            l
        })
        .collect()
}

/// One of `items`, three times in four among the first two.
fn pick<T: Copy>(items: &[T], n: usize) -> Option<T> {
    if items.is_empty() {
        return None;
    }
    let span = if n.is_multiple_of(4) {
        items.len()
    } else {
        items.len().min(2)
    };
    Some(items[(n / 4) % span])
}

/// Runs one step; a refused command must record nothing.
fn step(h: &mut Harness, now: Timestamp, op: &Op, menu: &[contract::OrderLineRequest]) {
    let before = h.len();
    // Newest first, and picks favour the newest: windows are open for recent purchases only.
    let mut subs: Vec<(Timestamp, SubscriptionId)> = h
        .state()
        .subscriptions
        .values()
        .flatten()
        .map(|s| (s.term_start, s.id()))
        .collect();
    subs.sort_by(|a, b| b.cmp(a));
    let subs: Vec<SubscriptionId> = subs.into_iter().map(|(_, id)| id).collect();
    let mut orders: Vec<(Timestamp, OrderId)> = h
        .state()
        .orders
        .values()
        .flatten()
        .map(|o| (o.purchased_at, o.order))
        .collect();
    orders.sort_by(|a, b| b.cmp(a));
    let orders: Vec<OrderId> = orders.into_iter().map(|(_, id)| id).collect();
    let refunds: Vec<_> = h.state().refunds.keys().copied().collect();
    let cat = catalog();
    let owner = |h: &Harness, s: SubscriptionId| {
        h.state()
            .subscription(s)
            .map(|s| s.started.customer)
            .unwrap_or(CONTOSO)
    };
    let result = match op {
        Op::Add {
            customer,
            by_other_partner,
        } => {
            let (t, d, c, cur) = CUSTOMERS[*customer];
            let by = if *by_other_partner {
                partner(OTHER_PARTNER, Role::AdminAgent)
            } else {
                admin()
            };
            let cmd = add_customer(t, d, c, cur);
            h.run(by, now, |s, ctx| api::add_customer(s, &cat, &cmd, ctx))
                .map(|_| ())
        }
        Op::Place {
            customer,
            by_domain,
            lines,
            actor: a,
        } => {
            let cmd = contract::PlaceOrder {
                request_id: rid("po"),
                customer: name(*customer, *by_domain),
                lines: requested(menu, lines),
            };
            h.run(actor(*a), now, |s, ctx| {
                api::place_order(s, &cat, &cmd, ctx)
            })
            .map(|_| ())
        }
        Op::Import {
            customer,
            days_back,
            lines,
            actor: a,
        } => {
            let dated =
                Timestamp::from_micros(now.as_micros() - i64::from(*days_back) * 86_400_000_000);
            let cmd = contract::ImportOrders {
                request_id: rid("import"),
                orders: vec![contract::ImportedOrder {
                    customer: name(*customer, false),
                    partner: None,
                    purchased_at: dated,
                    lines: requested(menu, lines),
                }],
            };
            let who = if *a < 6 {
                platform(Role::Importer)
            } else {
                actor(*a)
            };
            h.run(who, now, |s, ctx| api::import_orders(s, &cat, &cmd, ctx))
                .map(|_| ())
        }
        Op::AutoRenew {
            pick: p,
            on,
            actor: a,
        } => match pick(&subs, *p) {
            None => Ok(()),
            Some(s) => {
                let cmd = contract::SetAutoRenew {
                    request_id: rid("ar"),
                    customer: tenant(owner(h, s)),
                    subscription_id: s,
                    auto_renew: *on,
                };
                h.run(actor(*a), now, |st, ctx| {
                    api::set_auto_renew(st, &catalog(), &cmd, ctx)
                })
                .map(|_| ())
            }
        },
        Op::CancelSub { pick: p, actor: a } => match pick(&subs, *p) {
            None => Ok(()),
            Some(s) => {
                let cmd = contract::CancelSubscription {
                    request_id: rid("cs"),
                    customer: tenant(owner(h, s)),
                    subscription_id: s,
                };
                h.run(actor(*a), now, |st, ctx| {
                    api::cancel_subscription(st, &catalog(), &cmd, ctx)
                })
                .map(|_| ())
            }
        },
        Op::CancelPerp { picks, actor: a } => {
            let mut ids: Vec<OrderId> = picks.iter().filter_map(|p| pick(&orders, *p)).collect();
            ids.dedup();
            match ids
                .first()
                .and_then(|o| h.state().order(*o))
                .map(|o| o.customer)
            {
                None => Ok(()),
                Some(c) => {
                    let cmd = contract::CancelPerpetual {
                        request_id: rid("cp"),
                        customer: tenant(c),
                        order_ids: ids,
                    };
                    h.run(actor(*a), now, |st, ctx| {
                        api::cancel_perpetual(st, &catalog(), &cmd, ctx)
                    })
                    .map(|_| ())
                }
            }
        }
        Op::FileRefund { pick: p, amount } => {
            match pick(&orders, *p).and_then(|o| h.state().order(o).cloned()) {
                None => Ok(()),
                Some(o) => {
                    let cmd = contract::FileRefundRequest {
                        request_id: rid("rr"),
                        customer: tenant(o.customer),
                        order_id: Some(o.order),
                        subscription_id: None,
                        reason: "wrong edition".into(),
                        amount_requested: Money::new(*amount, o.currency),
                        contact: contract::Contact {
                            name: "Ana".into(),
                            email: "ana@partner.example".into(),
                            phone: "+1".into(),
                        },
                        impact: None,
                        title: None,
                        attachments: vec![],
                    };
                    h.run(admin(), now, |st, ctx| {
                        api::file_refund_request(st, &catalog(), &cmd, ctx)
                    })
                    .map(|_| ())
                }
            }
        }
        Op::DecideRefund {
            pick: p,
            approve,
            amount,
        } => match pick(&refunds, *p) {
            None => Ok(()),
            Some(r) => {
                let currency = h.state().refunds[&r]
                    .as_ref()
                    .map_or(Currency::USD, |x| x.filed.amount_requested.currency);
                let cmd = contract::DecideRefundRequest {
                    request_id: rid("dr"),
                    refund_request_id: r,
                    decision: if *approve {
                        contract::RefundDecision::Approve
                    } else {
                        contract::RefundDecision::Decline
                    },
                    amount: approve.then(|| Money::new(*amount, currency)),
                    reason: Some("decided".into()),
                };
                h.run(platform(Role::Support), now, |st, ctx| {
                    api::decide_refund_request(st, &catalog(), &cmd, ctx)
                })
                .map(|_| ())
            }
        },
        Op::Tick => {
            h.tick(now);
            Ok(())
        }
    };
    if let Err(r) = result {
        assert_eq!(
            h.len(),
            before,
            "a refused command ({}) recorded something",
            r.code
        );
        assert_ne!(r.code, ErrorCode::Internal, "{r}");
    }
}

/// The term a subscription is in, as its events tell it.
#[derive(Clone)]
struct TermSeen {
    number: u32,
    start: Timestamp,
    end: Timestamp,
    ended: bool,
}

fn check_invariants(h: &Harness) {
    let cat = catalog();
    let policy = &cat.policies()[0];
    let cutover = policy.cutover;
    let events: Vec<Envelope> = h.events();
    let mut terms: BTreeMap<SubscriptionId, TermSeen> = BTreeMap::new();
    let mut started: BTreeMap<SubscriptionId, contract::SubscriptionStarted> = BTreeMap::new();
    let mut lines: BTreeMap<Uuid, contract::PricedLine> = BTreeMap::new();
    let mut perpetual: BTreeMap<Uuid, contract::PerpetualPurchased> = BTreeMap::new();
    let mut requested: BTreeMap<Uuid, Money> = BTreeMap::new();
    let mut countries: BTreeMap<TenantId, csp_events::market::CountryCode> = BTreeMap::new();
    for env in &events {
        match &env.payload {
            Event::CustomerAdded(c) => {
                countries.insert(c.customer, c.country);
            }
            Event::OrderPlaced(o) => {
                let mut sum = Money::zero(o.currency);
                for l in &o.lines {
                    assert_eq!(
                        l.unit_price.checked_mul(i64::from(l.quantity)).unwrap(),
                        l.line_price,
                        "line price"
                    );
                    assert_eq!(l.unit_price.currency, o.currency);
                    sum = sum.checked_add(l.line_price).unwrap();
                    // Rule M3: the plan is one the catalog offers for this SKU and term.
                    let offer = cat
                        .product(&l.product)
                        .and_then(|p| p.sku(&l.sku))
                        .and_then(|s| s.offer(l.term))
                        .unwrap();
                    assert!(offer.offers(l.billing_plan));
                    // Rule M1.
                    if l.kind == ProductKind::AzureReservation {
                        assert!(policy.reservations_available_in(o.customer_country));
                    }
                    let id = match l.creates {
                        LineItem::Subscription(s) => s.as_uuid(),
                        LineItem::Perpetual(p) => p.as_uuid(),
                    };
                    lines.insert(id, l.clone());
                }
                assert_eq!(sum, o.total, "order total");
                assert_eq!(Some(&o.customer_country), countries.get(&o.customer));
            }
            Event::SubscriptionStarted(s) => {
                assert_eq!(s.term_price, lines[&s.subscription.as_uuid()].line_price);
                assert_eq!(s.before_cutover, s.term_start < cutover, "cut-over flag");
                assert_eq!(s.auto_renew, !s.before_cutover, "rule O6 default");
                assert_eq!(env.effective_at, s.term_start);
                terms.insert(
                    s.subscription,
                    TermSeen {
                        number: 1,
                        start: s.term_start,
                        end: s.term_end,
                        ended: false,
                    },
                );
                started.insert(s.subscription, s.clone());
            }
            Event::SubscriptionRenewed(r) => {
                let st = &started[&r.subscription];
                assert!(!st.before_cutover, "a pre-cut-over subscription renewed");
                let t = terms.get_mut(&r.subscription).unwrap();
                assert!(!t.ended, "renewed after it ended");
                assert_eq!(r.term_start, t.end, "terms chain");
                assert_eq!(env.effective_at, t.end, "true effective_at");
                assert_eq!(r.term_number, t.number + 1);
                assert_eq!(r.term_price, st.term_price);
                assert_eq!(r.billing_plan, st.billing_plan);
                *t = TermSeen {
                    number: r.term_number,
                    start: r.term_start,
                    end: r.term_end,
                    ended: false,
                };
            }
            Event::SubscriptionExpired(x) => {
                let t = terms.get_mut(&x.subscription).unwrap();
                assert!(!t.ended, "expired twice");
                assert_eq!((x.expired_at, env.effective_at), (t.end, t.end));
                t.ended = true;
            }
            Event::AutoRenewChanged(a) => {
                assert!(!terms[&a.subscription].ended, "switched after it ended");
                assert!(
                    !(a.auto_renew && started[&a.subscription].before_cutover),
                    "rule O6"
                );
            }
            Event::SubscriptionCancelled(c) => {
                let t = terms.get_mut(&c.subscription).unwrap();
                assert!(!t.ended, "cancelled after it ended");
                let window = started[&c.subscription]
                    .policy
                    .cancellation_window_hours
                    .expect("rule O9: never cancellable");
                assert!(c.cancelled_at >= t.start, "cancel before its term");
                assert!(
                    c.cancelled_at < t.start.plus_hours(window).unwrap(),
                    "rule O8: cancel outside its window"
                );
                assert_eq!(
                    (c.term_number, c.term_start, c.term_end),
                    (t.number, t.start, t.end)
                );
                assert_eq!(c.cancelled_at, env.recorded_at);
                t.ended = true;
            }
            Event::PerpetualPurchased(p) => {
                assert_eq!(p.price, lines[&p.purchase.as_uuid()].line_price);
                perpetual.insert(p.purchase.as_uuid(), p.clone());
            }
            Event::PerpetualCancelled(c) => {
                let p = perpetual
                    .remove(&c.purchase.as_uuid())
                    .expect("cancelled once, after purchase");
                assert!(
                    c.cancelled_at < p.purchased_at.plus_hours(720).unwrap(),
                    "rule O10"
                );
                assert_eq!(c.price, p.price, "the credit is what was charged");
            }
            Event::RefundRequestFiled(f) => {
                assert!(f.amount_requested.amount_minor > 0);
                requested.insert(f.refund_request.as_uuid(), f.amount_requested);
            }
            Event::RefundRequestApproved(a) => {
                let r = requested
                    .remove(&a.refund_request.as_uuid())
                    .expect("decided once");
                assert_eq!(a.amount.currency, r.currency);
                assert!(a.amount.amount_minor > 0 && a.amount.amount_minor <= r.amount_minor);
            }
            Event::RefundRequestDeclined(d) => {
                requested
                    .remove(&d.refund_request.as_uuid())
                    .expect("decided once");
            }
            other => panic!("ordering recorded a foreign event {other:?}"),
        }
    }
    // Exactly one state, and the read model agrees with the decider state.
    for (id, t) in &terms {
        let sub = h.state().subscription(*id).unwrap();
        let view = h.state().views.subscriptions.get(*id).unwrap();
        let expected = match sub.status {
            SubStatus::Active => Status::Active,
            SubStatus::Cancelled { .. } => Status::Cancelled,
            SubStatus::Expired { .. } => Status::Expired,
        };
        assert_eq!(view.status, expected);
        assert_eq!(sub.status != SubStatus::Active, t.ended);
        assert_eq!(
            (view.term_number, view.term_start, view.term_end),
            (t.number, t.start, t.end)
        );
        assert_eq!(view.cancellable_until, sub.cancellable_until);
    }
    // Replay equals live, from the bytes.
    let replay = h.replay();
    assert_eq!(Harness::digest(&replay), Harness::digest(h.state()));
    assert!(
        replay == *h.state(),
        "replayed state differs from live state"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_every_invariant_and_replay_equals_live(
        steps in prop::collection::vec((delta(), op()), 1..50),
    ) {
        let menu = line_menu();
        let mut h = Harness::new();
        let mut now = at(2021, 9, 1, 0, 0, 0);
        // Most customers exist from the start, so most commands have someone to act for.
        for customer in 0..3 {
            step(&mut h, now, &Op::Add { customer, by_other_partner: false }, &menu);
        }
        for (d, op) in &steps {
            now = Timestamp::from_micros(now.as_micros() + d);
            step(&mut h, now, op, &menu);
        }
        check_invariants(&h);
        if std::env::var_os("CSP_PROPTEST_COVERAGE").is_some() {
            let mut kinds = std::collections::BTreeMap::new();
            for e in h.events() {
                *kinds.entry(e.payload.name()).or_insert(0u32) += 1;
            }
            eprintln!("coverage {kinds:?}");
        }
    }
}

#[test]
fn the_digest_changes_when_the_state_does() {
    let mut h = Harness::new();
    let empty = Harness::digest(h.state());
    let cmd = add_customer(CONTOSO, "contoso.onmicrosoft.com", "US", Currency::USD);
    h.run(admin(), at(2026, 1, 1, 0, 0, 0), |s, ctx| {
        api::add_customer(s, &catalog(), &cmd, ctx)
    })
    .unwrap();
    assert_ne!(Harness::digest(h.state()), empty);
    assert_eq!(Harness::digest(h.state()).len(), 64);
}
