//! The domain through its JSON edge and its read models: commands as clients send them,
//! recorded as the runtime will, read back through the projections.

mod common;

use common::*;
use csp_events::api::{decode_json, CustomerRef};
use csp_events::ordering::{self as contract, BillingPlan, LineItem, PlacedOrder, Term};
use csp_events::{Currency, ErrorCode, Event, OrderId, Role, SubscriptionId};
use csp_ordering::projection::subscriptions::Status;
use csp_ordering::{api, queries};

fn with_contoso() -> Harness {
    let mut h = Harness::new();
    let c = add_customer(CONTOSO, "Contoso.onmicrosoft.com", "US", Currency::USD);
    h.run(admin(), at(2021, 1, 1, 0, 0, 0), |s, ctx| {
        api::add_customer(s, &catalog(), &c, ctx)
    })
    .expect("customer added");
    h
}

fn place(customer: CustomerRef, lines: Vec<contract::OrderLineRequest>) -> contract::PlaceOrder {
    contract::PlaceOrder {
        request_id: rid("po"),
        customer,
        lines,
    }
}

fn order_id(reply: &PlacedOrder) -> OrderId {
    reply.order_id
}

#[test]
fn rule_o2_a_customer_named_by_domain_and_by_tenant_id_reaches_the_same_orders() {
    let mut h = with_contoso();
    let now = at(2026, 11, 2, 9, 0, 0);
    // given orders placed once by domain (any case) and once by tenant id
    let by_domain = place(domain("contoso.onmicrosoft.com"), vec![ws_p1y(1)]);
    let (r1, _) = h
        .run(admin(), now, |s, ctx| {
            api::place_order(s, &catalog(), &by_domain, ctx)
        })
        .unwrap();
    let by_tenant = place(tenant(CONTOSO), vec![sql_perpetual(1)]);
    let (r2, _) = h
        .run(admin(), now, |s, ctx| {
            api::place_order(s, &catalog(), &by_tenant, ctx)
        })
        .unwrap();
    // then both names resolve to the one customer, whose orders are both orders
    let v = &h.state().views;
    let directory = &h.state().customers;
    let a = directory
        .by_domain(PARTNER, "CONTOSO.onmicrosoft.com")
        .unwrap();
    let b = directory.relationship(PARTNER, CONTOSO).unwrap();
    assert_eq!(a, b);
    let orders: Vec<OrderId> = v
        .orders
        .of_customer(a.customer)
        .iter()
        .map(|o| o.order_id)
        .collect();
    assert_eq!(orders.len(), 2);
    assert!(orders.contains(&order_id(&r1)) && orders.contains(&order_id(&r2)));
    assert_eq!(v.customers.of_partner(PARTNER).len(), 1);
}

#[test]
fn rule_o2_a_body_that_does_not_decode_is_invalid_request_naming_the_json_path() {
    let body = br#"{"request_id":"po-1","customer":"contoso.onmicrosoft.com",
        "lines":[{"product":"windows-server-2022-datacenter","sku":"16-core-p1y","quantity":-1,
                  "term":"P1Y","billing_plan":"annual"}]}"#;
    let e = decode_json::<contract::PlaceOrder>(body).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.details["path"], "lines[0].quantity");
}

#[test]
fn rule_o2_an_unknown_name_is_not_found_and_nothing_is_recorded() {
    let mut h = with_contoso();
    let before = h.len();
    let o = place(domain("nobody.onmicrosoft.com"), vec![ws_p1y(1)]);
    let e = h
        .run(admin(), at(2026, 1, 1, 0, 0, 0), |s, ctx| {
            api::place_order(s, &catalog(), &o, ctx)
        })
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert_eq!(h.len(), before);
}

#[test]
fn rule_o4_subscriptions_before_the_cutover_leave_get_subscriptions_but_stay_on_the_software_page()
{
    // given Contoso, when two orders are backfilled one second either side of the cut-over
    let mut h = with_contoso();
    let now = at(2026, 11, 2, 9, 0, 0);
    let import = contract::ImportOrders {
        request_id: rid("backfill"),
        orders: vec![
            contract::ImportedOrder {
                customer: tenant(CONTOSO),
                partner: None,
                purchased_at: at(2021, 10, 13, 23, 59, 59),
                lines: vec![ws_p1y(1)],
            },
            contract::ImportedOrder {
                customer: domain("contoso.onmicrosoft.com"),
                partner: None,
                purchased_at: at(2021, 10, 14, 0, 0, 0),
                lines: vec![ws_p1y(2)],
            },
        ],
    };
    let (reply, envs) = h
        .run(platform(Role::Importer), now, |s, ctx| {
            api::import_orders(s, &catalog(), &import, ctx)
        })
        .unwrap();
    assert_eq!(reply.results.len(), 2);
    // The backfilled terms caught up at once, each transition at its true time.
    let expired = envs
        .iter()
        .find(|e| matches!(e.payload, Event::SubscriptionExpired(_)))
        .unwrap();
    assert_eq!(expired.effective_at, at(2022, 10, 13, 23, 59, 59));
    let renewals: Vec<_> = envs
        .iter()
        .filter(|e| matches!(e.payload, Event::SubscriptionRenewed(_)))
        .collect();
    assert_eq!(renewals.len(), 5, "2022, 2023, 2024, 2025 and 2026");
    assert_eq!(renewals[0].effective_at, at(2022, 10, 14, 0, 0, 0));
    let order_placed = envs
        .iter()
        .find(|e| matches!(e.payload, Event::OrderPlaced(_)))
        .unwrap();
    assert_eq!(
        order_placed.effective_at,
        at(2021, 10, 13, 23, 59, 59),
        "a backfill takes effect in the past"
    );

    // then Get Subscriptions lists only the later one, the Software page both
    let v = &h.state().views;
    let listed = v.subscriptions.listed_for(CONTOSO);
    assert_eq!(listed.len(), 1, "only the one bought on the cut-over day");
    assert_eq!(listed[0].quantity, 2);
    assert_eq!(listed[0].term_number, 6);
    assert!(listed[0].auto_renew);
    let purchases = v.purchases.of_customer(CONTOSO);
    assert_eq!(purchases.len(), 2, "the Software page lists both");
    assert!(purchases[0].before_cutover);
    assert_eq!(purchases[0].status, Status::Expired);
    let hidden = purchases[0].item;
    let LineItem::Subscription(hidden) = hidden else {
        panic!()
    };
    assert!(v.subscriptions.visible(hidden).is_none());
    assert!(v.subscriptions.get(hidden).is_some());
}

#[test]
fn rule_o5_get_orders_returns_every_order_whatever_its_date() {
    // given a backfilled order from 2020 and one placed today
    let mut h = with_contoso();
    let import = contract::ImportOrders {
        request_id: rid("backfill"),
        orders: vec![contract::ImportedOrder {
            customer: tenant(CONTOSO),
            partner: None,
            purchased_at: at(2020, 3, 1, 12, 0, 0),
            lines: vec![ws_p1y(1)],
        }],
    };
    let now = at(2026, 11, 2, 9, 0, 0);
    h.run(platform(Role::Importer), now, |s, ctx| {
        api::import_orders(s, &catalog(), &import, ctx)
    })
    .unwrap();
    let o = place(tenant(CONTOSO), vec![sql_perpetual(1)]);
    h.run(admin(), now, |s, ctx| {
        api::place_order(s, &catalog(), &o, ctx)
    })
    .unwrap();
    // when the customer's orders are read, then both are there
    let orders = h.state().views.orders.of_customer(CONTOSO);
    assert_eq!(orders.len(), 2);
    assert_eq!(
        orders[0].purchased_at,
        at(2020, 3, 1, 12, 0, 0),
        "oldest first, pre-cut-over included"
    );
    assert!(orders[0].backfilled && !orders[1].backfilled);
    assert_eq!(orders[0].lines[0].status, Status::Expired);
}

#[test]
fn rule_o10_several_orders_are_cancelled_one_by_one_each_with_its_own_answer() {
    // given three orders with perpetual lines, one bought two months ago
    let mut h = with_contoso();
    let t0 = at(2026, 11, 2, 9, 0, 0);
    let o1 = place(tenant(CONTOSO), vec![sql_perpetual(1), sql_perpetual(2)]);
    let (r1, _) = h
        .run(admin(), t0, |s, ctx| {
            api::place_order(s, &catalog(), &o1, ctx)
        })
        .unwrap();
    let o2 = place(tenant(CONTOSO), vec![sql_perpetual(1)]);
    let (r2, _) = h
        .run(admin(), after(t0, 0, 0, 1), |s, ctx| {
            api::place_order(s, &catalog(), &o2, ctx)
        })
        .unwrap();
    let old = place(tenant(CONTOSO), vec![sql_perpetual(1)]);
    let (r3, _) = h
        .run(admin(), at(2026, 9, 1, 0, 0, 0), |s, ctx| {
            api::place_order(s, &catalog(), &old, ctx)
        })
        .unwrap();
    let (o1, o2, o3) = (order_id(&r1), order_id(&r2), order_id(&r3));
    // when all three are cancelled in one request, 719:59:59 after the newest
    let cancel = contract::CancelPerpetual {
        request_id: rid("cancel"),
        customer: domain("contoso.onmicrosoft.com"),
        order_ids: vec![o3, o1, o2],
    };
    let (reply, envs) = h
        .run(admin(), after(t0, 719, 59, 59), |s, ctx| {
            api::cancel_perpetual(s, &catalog(), &cancel, ctx)
        })
        .unwrap();
    // then each order has its own answer: the old one refused, the two others cancelled
    let results = serde_json::to_value(&reply).unwrap()["results"].clone();
    assert_eq!(results[0]["ok"], false);
    assert_eq!(results[0]["error"]["code"], "cancellation_window_closed");
    assert_eq!(results[1]["cancelled"].as_array().unwrap().len(), 2);
    assert_eq!(results[2]["ok"], true);
    assert_eq!(envs.len(), 3);
    // The cancelled items stay listed on the Software page, marked cancelled.
    let purchases = h.state().views.purchases.of_customer(CONTOSO);
    assert_eq!(purchases.len(), 4);
    assert_eq!(
        purchases
            .iter()
            .filter(|p| p.status == Status::Cancelled)
            .count(),
        3
    );
    // One order alone, refused, reads like any refused command.
    let again = contract::CancelPerpetual {
        request_id: rid("again"),
        customer: tenant(CONTOSO),
        order_ids: vec![o2],
    };
    let e = h
        .run(admin(), after(t0, 720, 0, 0), |s, ctx| {
            api::cancel_perpetual(s, &catalog(), &again, ctx)
        })
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidState);
}

#[test]
fn rule_o11_cancellation_info_answers_through_the_api_for_either_name() {
    let mut h = with_contoso();
    let t0 = at(2026, 11, 2, 9, 0, 0);
    let o = place(tenant(CONTOSO), vec![ws_p1y(1)]);
    let (reply, _) = h
        .run(admin(), t0, |s, ctx| {
            api::place_order(s, &catalog(), &o, ctx)
        })
        .unwrap();
    let sub = reply.lines[0].subscription_id.unwrap();
    let q = contract::CancellationInfo {
        customer: domain("contoso.onmicrosoft.com"),
        subscription_id: Some(sub),
        order_id: None,
    };
    let ctx = h.ctx(admin(), after(t0, 1, 0, 0));
    let info = queries::cancellation_info(h.state(), &catalog(), &q, &ctx)
        .unwrap()
        .windows;
    assert_eq!(info[0].window_ends_at, Some(after(t0, 168, 0, 0)));
    assert!(!info[0].passed);
    let bad = contract::CancellationInfo {
        customer: tenant(CONTOSO),
        subscription_id: None,
        order_id: None,
    };
    assert_eq!(
        queries::cancellation_info(h.state(), &catalog(), &bad, &ctx)
            .unwrap_err()
            .code,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn rule_o12_a_missing_json_field_is_invalid_request_naming_it() {
    let body = br#"{"request_id":"refund-1","customer":"contoso.onmicrosoft.com",
        "order_id":"0190d7a1-4c2b-7e55-9a3f-5b7f2c1e0d01",
        "amount_requested":{"amount_minor":389900,"currency":"USD"},
        "contact":{"name":"Ana","email":"ana@partner.example","phone":"+61 2 5550 0100"}}"#;
    let e = decode_json::<contract::FileRefundRequest>(body).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.contains("`reason`"), "{}", e.message);
}

#[test]
fn rule_o12_a_request_about_an_order_of_the_customer_is_filed_and_decided() {
    let mut h = with_contoso();
    let t0 = at(2026, 11, 2, 9, 0, 0);
    let o = place(tenant(CONTOSO), vec![sql_perpetual(1)]);
    let (reply, _) = h
        .run(admin(), t0, |s, ctx| {
            api::place_order(s, &catalog(), &o, ctx)
        })
        .unwrap();
    let file = contract::FileRefundRequest {
        request_id: rid("refund"),
        customer: domain("contoso.onmicrosoft.com"),
        order_id: Some(order_id(&reply)),
        subscription_id: None,
        reason: "Bought the wrong edition".into(),
        amount_requested: csp_events::Money::new(389_900, Currency::USD),
        contact: contract::Contact {
            name: "Ana".into(),
            email: "ana@partner.example".into(),
            phone: "+1 555".into(),
        },
        impact: None,
        title: Some("Refund".into()),
        attachments: vec![],
    };
    let (filed, _) = h
        .run(admin(), after(t0, 800, 0, 0), |s, ctx| {
            api::file_refund_request(s, &catalog(), &file, ctx)
        })
        .unwrap();
    let id = filed.refund_request_id;
    let decide = contract::DecideRefundRequest {
        request_id: rid("decide"),
        refund_request_id: id,
        decision: contract::RefundDecision::Approve,
        amount: Some(csp_events::Money::new(389_900, Currency::USD)),
        reason: None,
    };
    let (_, envs) = h
        .run(platform(Role::Support), after(t0, 900, 0, 0), |s, ctx| {
            api::decide_refund_request(s, &catalog(), &decide, ctx)
        })
        .unwrap();
    assert!(matches!(envs[0].payload, Event::RefundRequestApproved(_)));
    let mut both = file.clone();
    both.subscription_id = Some(csp_events::SubscriptionId(uuid::Uuid::nil()));
    let e = h
        .run(admin(), after(t0, 901, 0, 0), |s, ctx| {
            api::file_refund_request(s, &catalog(), &both, ctx)
        })
        .unwrap_err();
    assert_eq!(
        (e.code, e.details["path"].as_str()),
        (ErrorCode::InvalidRequest, Some("subscription_id"))
    );
}

#[test]
fn the_scheduler_catches_up_after_downtime_with_true_times_and_replay_equals_live() {
    let mut h = with_contoso();
    let t0 = at(2022, 3, 1, 8, 0, 0);
    let o = place(
        tenant(CONTOSO),
        vec![line(
            "sql-server-2022-standard",
            "2-core-p1y",
            2,
            Term::P1Y,
            BillingPlan::Annual,
        )],
    );
    h.run(admin(), t0, |s, ctx| {
        api::place_order(s, &catalog(), &o, ctx)
    })
    .unwrap();
    // Down for years: the scheduler's first tick records every term end, each at its true time.
    let envs = h.tick(at(2026, 11, 2, 9, 0, 0));
    let times: Vec<_> = envs.iter().map(|e| e.effective_at).collect();
    assert_eq!(
        times,
        vec![
            at(2023, 3, 1, 8, 0, 0),
            at(2024, 3, 1, 8, 0, 0),
            at(2025, 3, 1, 8, 0, 0),
            at(2026, 3, 1, 8, 0, 0)
        ]
    );
    // A second tick finds nothing new: the ids are derived, so nothing is recorded twice.
    assert!(h.tick(at(2026, 11, 2, 9, 0, 1)).is_empty());
    let replay = h.replay();
    assert_eq!(replay, *h.state());
    assert_eq!(Harness::digest(&replay), Harness::digest(h.state()));
}

#[test]
fn a_refused_command_names_the_customer_for_the_audit_trail() {
    let mut h = with_contoso();
    let run = |h: &mut Harness, who, o: &contract::PlaceOrder| {
        h.run(who, at(2026, 1, 1, 0, 0, 0), |s, ctx| {
            api::place_order(s, &catalog(), o, ctx)
        })
        .unwrap_err()
    };
    // Another partner naming the customer by tenant id: `not_found`, recorded with it.
    let by_id = place(tenant(CONTOSO), vec![ws_p1y(1)]);
    let e = run(&mut h, partner(OTHER_PARTNER, Role::AdminAgent), &by_id);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert_eq!(e.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
    // By the first partner's domain for it, which names nothing in its own list: `not_found`,
    // nothing to record.
    let by_domain = place(domain("contoso.onmicrosoft.com"), vec![ws_p1y(1)]);
    let e = run(&mut h, partner(OTHER_PARTNER, Role::AdminAgent), &by_domain);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.refused.is_none());
    // The right partner with the wrong role: `forbidden`, recorded with the customer.
    let e = run(&mut h, partner(PARTNER, Role::SalesAgent), &by_domain);
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert_eq!(e.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
}

#[test]
fn rule_o4_get_subscriptions_lists_an_orders_lines_in_line_order() {
    // Found end to end: the lines of one order came back in subscription-id order.
    let mut h = with_contoso();
    let now = at(2026, 11, 2, 9, 0, 0);
    let order = place(tenant(CONTOSO), (1..=6).map(ws_p1y).collect());
    h.run(admin(), now, |s, ctx| {
        api::place_order(s, &catalog(), &order, ctx)
    })
    .unwrap();
    let lines: Vec<u32> = h
        .state()
        .views
        .subscriptions
        .listed_for(CONTOSO)
        .iter()
        .map(|v| v.line)
        .collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn rule_o4_o6_the_software_page_shows_a_pre_cutover_subscriptions_auto_renew_and_expiry() {
    // Found from outside: Get Subscription hides a pre-cut-over subscription (O4), and the
    // Software page's list showed neither that it never renews (O6) nor when it ends.
    let mut h = with_contoso();
    let now = at(2022, 3, 1, 9, 0, 0);
    let import = contract::ImportOrders {
        request_id: rid("backfill"),
        orders: vec![
            contract::ImportedOrder {
                customer: tenant(CONTOSO),
                partner: None,
                purchased_at: at(2021, 10, 13, 15, 30, 0),
                lines: vec![ws_p1y(1)],
            },
            contract::ImportedOrder {
                customer: tenant(CONTOSO),
                partner: None,
                purchased_at: at(2021, 10, 14, 0, 0, 0),
                lines: vec![ws_p1y(2), ws_p1y(3)],
            },
        ],
    };
    h.run(platform(Role::Importer), now, |s, ctx| {
        api::import_orders(s, &catalog(), &import, ctx)
    })
    .unwrap();
    let perpetual = place(tenant(CONTOSO), vec![sql_perpetual(1)]);
    h.run(admin(), now, |s, ctx| {
        api::place_order(s, &catalog(), &perpetual, ctx)
    })
    .unwrap();
    let read = |h: &mut Harness, now| {
        let ctx = h.ctx(admin(), now);
        let q = contract::GetPurchases {
            customer: domain("contoso.onmicrosoft.com"),
            after: None,
            limit: None,
        };
        let page = queries::get_purchases(h.state(), &catalog(), &q, &ctx).unwrap();
        serde_json::to_value(page).unwrap()["purchases"]
            .as_array()
            .unwrap()
            .clone()
    };
    let shown = |p: &serde_json::Value| {
        (
            p["status"].as_str().unwrap().to_string(),
            p["auto_renew"].clone(),
            p["term_end"].clone(),
        )
    };
    let list = read(&mut h, now);
    assert_eq!(list.len(), 4);
    assert_eq!(list[0]["before_cutover"], true);
    assert_eq!(
        shown(&list[0]),
        ("active".into(), false.into(), "2022-10-13T15:30:00Z".into()),
        "the pre-cut-over subscription never renews and says when it ends"
    );
    for p in &list[1..3] {
        assert_eq!(
            shown(p),
            ("active".into(), true.into(), "2022-10-14T00:00:00Z".into())
        );
    }
    assert_eq!(
        shown(&list[3]),
        (
            "active".into(),
            serde_json::Value::Null,
            serde_json::Value::Null
        ),
        "a perpetual purchase has neither"
    );
    let sub = |p: &serde_json::Value| -> SubscriptionId {
        serde_json::from_value(p["item"]["subscription"].clone()).unwrap()
    };
    let (old, off, on) = (sub(&list[0]), sub(&list[1]), sub(&list[2]));
    // Get Subscription still does not show it (O4).
    let ctx = h.ctx(admin(), now);
    let q = contract::GetSubscription {
        customer: tenant(CONTOSO),
        subscription_id: old,
    };
    let e = queries::get_subscription(h.state(), &catalog(), &q, &ctx).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);

    // when auto-renew is switched: on for the old one is refused (O6), off is already so; off
    // for a later one is recorded
    let switch = |id, on: bool| contract::SetAutoRenew {
        request_id: rid("ar"),
        customer: tenant(CONTOSO),
        subscription_id: id,
        auto_renew: on,
    };
    let e = h
        .run(admin(), now, |s, ctx| {
            api::set_auto_renew(s, &catalog(), &switch(old, true), ctx)
        })
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AutorenewUnavailable);
    let (_, envs) = h
        .run(admin(), now, |s, ctx| {
            api::set_auto_renew(s, &catalog(), &switch(old, false), ctx)
        })
        .unwrap();
    assert!(envs.is_empty(), "already off: nothing recorded");
    h.run(admin(), now, |s, ctx| {
        api::set_auto_renew(s, &catalog(), &switch(off, false), ctx)
    })
    .unwrap();
    let list = read(&mut h, now);
    assert_eq!(sub(&list[0]), old);
    assert_eq!(list[0]["auto_renew"], false);
    assert_eq!(sub(&list[1]), off);
    assert_eq!(list[1]["auto_renew"], false, "the switch shows");
    assert_eq!(list[2]["auto_renew"], true);

    // then at the term ends the two that do not renew expire where the list said, and the one
    // that renews shows its new term end
    let later = at(2022, 10, 14, 0, 0, 1);
    h.tick(later);
    let list = read(&mut h, later);
    assert_eq!(
        shown(&list[0]),
        (
            "expired".into(),
            false.into(),
            "2022-10-13T15:30:00Z".into()
        )
    );
    assert_eq!(
        shown(&list[1]),
        (
            "expired".into(),
            false.into(),
            "2022-10-14T00:00:00Z".into()
        )
    );
    assert_eq!(sub(&list[2]), on);
    assert_eq!(
        shown(&list[2]),
        ("active".into(), true.into(), "2023-10-14T00:00:00Z".into())
    );
    assert_eq!(
        h.replay(),
        *h.state(),
        "a fold of the log like every read model"
    );
}
