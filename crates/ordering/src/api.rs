//! The JSON edge of the domain: each JSON command of the contract (`csp_events::ordering`) mapped
//! to domain commands — the customer resolved by tenant id or domain through the customer list,
//! due transitions applied first — and the decision turned into the kernel's [`Decided`]: the
//! events to record plus the reply. Pure like the domain, and each command has the runtime's
//! handler shape `(state, catalog, command, context)`, so the endpoint table binds it as it is.
//!
//! Commands that name several independent things — `import_orders` (several orders) and
//! `cancel_perpetual` (several order ids) — judge each on its own (rule O10: "each with its own
//! answer"): the reply lists every item's outcome, the accepted ones are recorded together, and
//! only when *none* is accepted is the command refused, with the first item's error (so a
//! single-item request reads like any other command) and every outcome in `details.results`.
//! A `forbidden` is never per item: it refuses the command, so the runtime records it once.

use std::collections::BTreeSet;

use csp_catalog::Catalog;
use csp_events::kernel::{
    apply_due, decide_at, Context, Decided, Decider, Emit, Handled, Rejection,
};
use csp_events::ordering::{
    self as contract, AddedCustomer, AutoRenewSet, CancelledSubscription, DecidedRefundRequest,
    FiledRefundRequest, ImportResult, ImportResults, OrderCancellation, PerpetualCancellations,
    PlacedLine, PlacedOrder, RefundSubject, Status,
};
use csp_events::{ErrorCode, Event, Role, Timestamp};
use serde_json::Value;
use std::sync::Arc;

use crate::domain::access::{
    invalid_request, partner_for, platform, Target, BUYERS, SUBSCRIPTION_ADMINS,
};
use crate::domain::customer::{AddCustomer, Customers};
use crate::domain::order::{Order, PlaceOrder};
use crate::domain::perpetual::{CancelPerpetual, Perpetual};
use crate::domain::refund::{FileRefund, Refund, RefundCommand};
use crate::domain::subscription::{Subscription, SubscriptionCommand};
use crate::state::State;

/// The most items one `import_orders` or `cancel_perpetual` may carry: a bound on one command's
/// work (split larger batches).
pub const MAX_BATCH: usize = 1000;

/// The decision's events as the runtime records them: every ordering event names its partner
/// and customer, so each routes itself (`effective_at` set for a backfill).
fn plan_events(events: Vec<Event>, effective_at: Option<Timestamp>) -> Vec<Emit> {
    events
        .into_iter()
        .map(|e| Emit::routed(e, None).effective(effective_at))
        .collect()
}

/// The customer an imported order names, with its selling partner's relationship: the one the
/// order names, or the customer's only one (several and none named: the decider says so).
fn import_target(state: &State, ctx: &Context, o: &contract::ImportedOrder) -> Target {
    let mut target = state.target(&ctx.actor, &o.customer);
    let directory = &state.customers;
    target.relationship = match (o.partner, target.customer) {
        (Some(p), Some(c)) => directory.relationship(p, c).cloned(),
        (None, Some(c)) => {
            let mut all = directory.partners_of(c);
            match (all.next(), all.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
        (_, None) => None,
    };
    target
}

/// `add_customer` (rule O2).
pub fn add_customer(
    state: &State,
    catalog: &Arc<Catalog>,
    c: &contract::AddCustomer,
    ctx: &Context,
) -> Handled<AddedCustomer> {
    let cmd = AddCustomer {
        tenant_id: c.tenant_id,
        domain: c.domain.clone(),
        company_name: c.company_name.clone(),
        country: c.country,
        currency: c.currency,
        catalog: Arc::clone(catalog),
    };
    let events = Customers::decide(&state.customers, &cmd, ctx)?;
    let reply = match events.first() {
        Some(Event::CustomerAdded(a)) => AddedCustomer {
            tenant_id: a.customer,
            domain: a.domain.clone(),
        },
        _ => return Err(unrecorded("customer_added")),
    };
    Ok(Decided {
        events: plan_events(events, None),
        reply,
    })
}

/// Due transitions of the subscriptions an order just started: a backfilled subscription whose
/// terms ended long ago is renewed or expired at once, each with its true `effective_at`.
fn catch_up(events: &[Event], now: Timestamp) -> Vec<Emit> {
    let mut out = Vec::new();
    for e in events {
        if let Event::SubscriptionStarted(s) = e {
            let mut st = None;
            Subscription::evolve(&mut st, e);
            for t in apply_due::<Subscription>(&mut st, now) {
                out.push(Emit::due(t, Some(s.partner)));
            }
        }
    }
    out
}

/// A decision without the event its reply reports: a defect in the decider, answered
/// `internal` (nothing is recorded) rather than with a reply that says nothing.
fn unrecorded(kind: &str) -> Rejection {
    Rejection::new(
        ErrorCode::Internal,
        format!("the decision recorded no {kind} to answer with"),
    )
}

fn order_reply(events: &[Event]) -> Result<PlacedOrder, Rejection> {
    match events.first() {
        Some(Event::OrderPlaced(o)) => Ok(PlacedOrder {
            order_id: o.order,
            customer: o.customer,
            purchased_at: o.purchased_at,
            total: o.total,
            lines: o
                .lines
                .iter()
                .map(|l| PlacedLine::new(l.line, l.creates))
                .collect(),
        }),
        _ => Err(unrecorded("order_placed")),
    }
}

/// `place_order` (rules O1–O3, M1, M3).
pub fn place_order(
    state: &State,
    catalog: &Arc<Catalog>,
    c: &contract::PlaceOrder,
    ctx: &Context,
) -> Handled<PlacedOrder> {
    let cmd = PlaceOrder {
        target: state.target(&ctx.actor, &c.customer),
        lines: c.lines.clone(),
        backfill: None,
        slot: 0,
        catalog: Arc::clone(catalog),
    };
    let events = Order::decide(&None, &cmd, ctx)?;
    let reply = order_reply(&events)?;
    Ok(Decided {
        events: plan_events(events, None),
        reply,
    })
}

/// Rewrites a rejection's field path (`lines[0].quantity`) as seen from the whole request
/// (`orders[3].lines[0].quantity`).
fn under(prefix: &str, mut r: Rejection) -> Rejection {
    if let Some(Value::String(path)) = r.details.get("path").cloned() {
        let full = format!("{prefix}.{path}");
        r.message = r
            .message
            .replacen(&format!("`{path}`"), &format!("`{full}`"), 1);
        r.details.insert("path".into(), Value::String(full));
    }
    r
}

/// The reply of a batch: every item's outcome; refused as a whole only when nothing was accepted.
fn batch<R: serde::Serialize, Reply>(
    emits: Vec<Emit>,
    results: Vec<R>,
    first_error: Option<Rejection>,
    reply: impl FnOnce(Vec<R>) -> Reply,
) -> Handled<Reply> {
    if emits.is_empty() {
        if let Some(e) = first_error {
            return Err(e.with("results", csp_events::kernel::to_json(&results)?));
        }
    }
    Ok(Decided {
        events: emits,
        reply: reply(results),
    })
}

/// What the importer does, in a refusal's message.
const BACKFILL: &str = "backfill historical orders";

/// `import_orders` (rule O6): each historical order judged on its own.
pub fn import_orders(
    state: &State,
    catalog: &Arc<Catalog>,
    c: &contract::ImportOrders,
    ctx: &Context,
) -> Handled<ImportResults> {
    // The role first, as everywhere (`domain::access`): an actor that may not backfill is
    // refused, and so recorded, whatever its batch holds — an empty one included. The refusal
    // names the first order's customer, as the per-order check below would.
    let first = c
        .orders
        .first()
        .and_then(|o| state.target(&ctx.actor, &o.customer).customer);
    platform(&ctx.actor, Role::Importer, BACKFILL, first)?;
    if c.orders.is_empty() {
        return Err(invalid_request(
            "orders",
            "give at least one order to import",
        ));
    }
    if c.orders.len() > MAX_BATCH {
        return Err(invalid_request(
            "orders",
            format!("at most {MAX_BATCH} orders per request; split the batch"),
        ));
    }
    let mut emits = Vec::new();
    let mut results = Vec::new();
    let mut first_error = None;
    for (i, o) in c.orders.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let cmd = PlaceOrder {
            target: import_target(state, ctx, o),
            lines: o.lines.clone(),
            backfill: Some(o.purchased_at),
            slot: index,
            catalog: Arc::clone(catalog),
        };
        match Order::decide(&None, &cmd, ctx) {
            Ok(events) => {
                results.push(ImportResult {
                    index,
                    ok: true,
                    order: Some(order_reply(&events)?),
                    error: None,
                });
                let transitions = catch_up(&events, ctx.now);
                emits.extend(plan_events(events, Some(o.purchased_at)));
                emits.extend(transitions);
            }
            Err(r) if r.code == ErrorCode::Forbidden => return Err(r),
            Err(r) => {
                let r = under(&format!("orders[{i}]"), r);
                results.push(ImportResult {
                    index,
                    ok: false,
                    order: None,
                    error: Some(r.clone()),
                });
                first_error.get_or_insert(r);
            }
        }
    }
    batch(emits, results, first_error, |results| ImportResults {
        results,
    })
}

/// Decides a subscription command, due transitions first (a cancel after a term end is judged
/// against the new term).
fn on_subscription(
    state: &State,
    id: csp_events::SubscriptionId,
    cmd: &SubscriptionCommand,
    ctx: &Context,
) -> Result<Vec<Emit>, Rejection> {
    let partner = crate::domain::subscription::partner;
    state.subscriptions.decide_emits(id, cmd, ctx, partner)
}

/// `set_auto_renew` (rules O6, O7).
pub fn set_auto_renew(
    state: &State,
    _catalog: &Arc<Catalog>,
    c: &contract::SetAutoRenew,
    ctx: &Context,
) -> Handled<AutoRenewSet> {
    let cmd = SubscriptionCommand::SetAutoRenew {
        target: state.target(&ctx.actor, &c.customer),
        subscription: c.subscription_id,
        auto_renew: c.auto_renew,
    };
    Ok(Decided {
        events: on_subscription(state, c.subscription_id, &cmd, ctx)?,
        reply: AutoRenewSet {
            subscription_id: c.subscription_id,
            auto_renew: c.auto_renew,
        },
    })
}

/// `cancel_subscription` (rules O8, O9).
pub fn cancel_subscription(
    state: &State,
    _catalog: &Arc<Catalog>,
    c: &contract::CancelSubscription,
    ctx: &Context,
) -> Handled<CancelledSubscription> {
    let cmd = SubscriptionCommand::Cancel {
        target: state.target(&ctx.actor, &c.customer),
        subscription: c.subscription_id,
    };
    let emits = on_subscription(state, c.subscription_id, &cmd, ctx)?;
    let reply = emits
        .iter()
        .find_map(|p| match &p.event {
            Event::SubscriptionCancelled(x) => Some(CancelledSubscription {
                subscription_id: x.subscription,
                status: Status::Cancelled,
                cancelled_at: x.cancelled_at,
                term_number: x.term_number,
            }),
            _ => None,
        })
        .ok_or_else(|| unrecorded("subscription_cancelled"))?;
    Ok(Decided {
        events: emits,
        reply,
    })
}

/// `cancel_perpetual` (rule O10): each order cancelled on its own, each with its own answer.
pub fn cancel_perpetual(
    state: &State,
    _catalog: &Arc<Catalog>,
    c: &contract::CancelPerpetual,
    ctx: &Context,
) -> Handled<PerpetualCancellations> {
    let target = state.target(&ctx.actor, &c.customer);
    partner_for(ctx, &target, &SUBSCRIPTION_ADMINS, "cancel a purchase")?;
    if c.order_ids.is_empty() {
        return Err(invalid_request("order_ids", "give at least one order id"));
    }
    if c.order_ids.len() > MAX_BATCH {
        return Err(invalid_request(
            "order_ids",
            format!("at most {MAX_BATCH} orders per request"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, o) in c.order_ids.iter().enumerate() {
        if !seen.insert(*o) {
            return Err(invalid_request(
                &format!("order_ids[{i}]"),
                format!("order {o} is listed twice"),
            ));
        }
    }
    let mut emits = Vec::new();
    let mut results = Vec::new();
    let mut first_error = None;
    for order in &c.order_ids {
        let cmd = CancelPerpetual {
            target: target.clone(),
            order: *order,
        };
        let purchases: Vec<_> = state
            .perpetuals_by_order
            .get(order)
            .into_iter()
            .flatten()
            .map(|p| state.perpetuals.get(p).cloned().flatten())
            .collect();
        let decided: Result<Vec<Event>, Rejection> = if purchases.is_empty() {
            Perpetual::decide(&None, &cmd, ctx)
        } else {
            purchases.iter().try_fold(Vec::new(), |mut acc, p| {
                acc.extend(decide_at::<Perpetual>(p, &cmd, ctx)?.events);
                Ok(acc)
            })
        };
        match decided {
            Ok(events) => {
                let ids = events
                    .iter()
                    .filter_map(|e| match e {
                        Event::PerpetualCancelled(p) => Some(p.purchase),
                        _ => None,
                    })
                    .collect();
                results.push(OrderCancellation {
                    order_id: *order,
                    ok: true,
                    cancelled: Some(ids),
                    error: None,
                });
                emits.extend(plan_events(events, None));
            }
            Err(r) if r.code == ErrorCode::Forbidden => return Err(r),
            Err(r) => {
                results.push(OrderCancellation {
                    order_id: *order,
                    ok: false,
                    cancelled: None,
                    error: Some(r.clone()),
                });
                first_error.get_or_insert(r);
            }
        }
    }
    batch(emits, results, first_error, |results| {
        PerpetualCancellations { results }
    })
}

/// `file_refund_request` (rule O12).
pub fn file_refund_request(
    state: &State,
    _catalog: &Arc<Catalog>,
    c: &contract::FileRefundRequest,
    ctx: &Context,
) -> Handled<FiledRefundRequest> {
    let target = state.target(&ctx.actor, &c.customer);
    // Roles before body checks, so a refused actor is recorded whatever it sent.
    partner_for(ctx, &target, &BUYERS, "file a refund request")?;
    let (subject, owner) = match (c.order_id, c.subscription_id) {
        (Some(o), None) => (
            RefundSubject::Order(o),
            state.order(o).map(|o| (o.customer, o.partner)),
        ),
        (None, Some(s)) => (
            RefundSubject::Subscription(s),
            state
                .subscription(s)
                .map(|s| (s.started.customer, s.started.partner)),
        ),
        (None, None) => {
            return Err(invalid_request(
                "order_id",
                "give the order_id or the subscription_id the refund is about",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(invalid_request(
                "subscription_id",
                "give either order_id or subscription_id, not both",
            ))
        }
    };
    let cmd = RefundCommand::File(Box::new(FileRefund {
        target,
        subject,
        subject_owner: owner,
        reason: c.reason.clone(),
        amount_requested: c.amount_requested,
        contact: c.contact.clone(),
        impact: c.impact.clone(),
        title: c.title.clone(),
        attachments: c.attachments.clone(),
    }));
    let events = Refund::decide(&None, &cmd, ctx)?;
    let reply = match events.first() {
        Some(Event::RefundRequestFiled(f)) => FiledRefundRequest {
            refund_request_id: f.refund_request,
        },
        _ => return Err(unrecorded("refund_request_filed")),
    };
    Ok(Decided {
        events: plan_events(events, None),
        reply,
    })
}

/// `decide_refund_request` (rule O12, `support`).
pub fn decide_refund_request(
    state: &State,
    _catalog: &Arc<Catalog>,
    c: &contract::DecideRefundRequest,
    ctx: &Context,
) -> Handled<DecidedRefundRequest> {
    let s = state.refunds.get(&c.refund_request_id).cloned().flatten();
    let cmd = RefundCommand::Decide {
        request: c.refund_request_id,
        decision: c.decision,
        amount: c.amount,
        reason: c.reason.clone(),
    };
    let events = Refund::decide(&s, &cmd, ctx)?;
    let reply = DecidedRefundRequest {
        refund_request_id: c.refund_request_id,
        decision: c.decision,
    };
    Ok(Decided {
        events: plan_events(events, None),
        reply,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::testing::*;
    use csp_events::api::{CustomerRef, RequestId};
    use csp_events::ordering::ImportedOrder;

    /// The state after Contoso was added by [`PARTNER`].
    pub(crate) fn with_contoso() -> State {
        let mut env = csp_events::fixtures::sample(csp_events::EventKind::CustomerAdded);
        env.payload = contoso_added();
        let mut state = State::default();
        state.apply(&env);
        state
    }

    fn import(orders: Vec<ImportedOrder>) -> contract::ImportOrders {
        contract::ImportOrders {
            request_id: RequestId::new("import-1").unwrap(),
            orders,
        }
    }

    fn contoso_2021() -> ImportedOrder {
        ImportedOrder {
            customer: CustomerRef::Tenant(CONTOSO),
            partner: None,
            purchased_at: at(2021, 10, 13, 15, 30, 0),
            lines: vec![ws_p1y(1)],
        }
    }

    #[test]
    fn rule_o6_an_actor_that_may_not_backfill_is_forbidden_whatever_its_batch_holds() {
        // Found end to end (tests/ordering_api.rs): a partner sending an empty batch was answered
        // `invalid_request`, so its refusal was never recorded as an AccessRefused.
        let state = with_contoso();
        let partner = ctx_partner(Role::AdminAgent, now());
        // given an empty batch, when a partner imports it, then forbidden (no customer named)
        let r = import_orders(&state, &catalog(), &import(vec![]), &partner).unwrap_err();
        assert_eq!(r.code, ErrorCode::Forbidden, "{r:?}");
        assert!(r.details.get("customer").is_none());
        // given a batch for Contoso, then forbidden, naming Contoso for the audit trail
        let r =
            import_orders(&state, &catalog(), &import(vec![contoso_2021()]), &partner).unwrap_err();
        assert_eq!(r.code, ErrorCode::Forbidden, "{r:?}");
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
        // given an empty batch from the importer, then the batch itself is refused
        let importer = ctx_platform(Role::Importer, now());
        let r = import_orders(&state, &catalog(), &import(vec![]), &importer).unwrap_err();
        assert_eq!(
            (r.code, r.details["path"].as_str()),
            (ErrorCode::InvalidRequest, Some("orders"))
        );
        // and a real one is accepted
        let o = import_orders(&state, &catalog(), &import(vec![contoso_2021()]), &importer)
            .expect("backfilled");
        assert!(o.reply.results[0].ok);
    }
}
