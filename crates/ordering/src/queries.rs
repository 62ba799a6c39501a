//! The read side of the JSON API: each query of the contract answered from [`State`] — the read
//! models for lists and single items, the deciders' states where the answer must be exact at
//! `now` (a window, a review). Pure like [`crate::api`]: state, query and context in, JSON out;
//! a query records nothing, except that the runtime records a refusal (`forbidden`, or a hidden
//! `not_found`) as `AccessRefused`.
//!
//! Lists come in pages of at most [`PAGE_MAX`] items: `after` (the `next` of the previous
//! page) and `limit` in the query, `next` in the answer (`null` on the last page).
//!
//! Who may read is [`reader_for`]: the customer's own `global_admin` (everything of its tenant),
//! a partner that serves it (any role; only what that partner sold), the platform's `importer`
//! and `support`. Reviews and windows keep their own rules (the domain's).

use std::sync::Arc;

use csp_catalog::Catalog;
use csp_events::kernel::{Context, Rejection};
use csp_events::ordering::{
    self as contract, CancellationWindows, CustomersPage, LineItem, OrderView, OrdersPage,
    PurchasesPage, Review, SubscriptionView, SubscriptionsPage,
};
use csp_events::{ActorKind, ErrorCode, ItemRef, Role};

use crate::domain::access::{forbidden, invalid_request, reader_for};
use crate::domain::cancellation::{may_ask, order_windows, subscription_window};
use crate::domain::order::review;
use crate::state::State;

use csp_tenancy::page;
pub use csp_tenancy::PAGE_MAX;

/// `get_customers`: a partner's customers by domain name; a customer's own user sees its
/// tenant as each partner that serves it knows it; the platform's `support` and `importer` see
/// every relationship.
pub fn get_customers(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetCustomers,
    ctx: &Context,
) -> Result<CustomersPage, Rejection> {
    let customers = &state.views.customers;
    let actor = &ctx.actor;
    let list: Vec<_> = match actor.kind {
        ActorKind::Partner => customers.of_partner(actor.tenant),
        ActorKind::Customer => customers.of_customer(actor.tenant),
        ActorKind::Platform if actor.has(Role::Support) || actor.has(Role::Importer) => {
            customers.all()
        }
        _ => {
            return Err(forbidden(
                "only partner, customer and platform users may list customers",
                None,
                None,
            ))
        }
    };
    // A partner's list names each customer once; the others may list a tenant once per partner.
    let id = |c: &csp_events::ordering::CustomerView| match actor.kind {
        ActorKind::Partner => c.tenant_id.to_string(),
        _ => format!("{}/{}", c.tenant_id, c.partner),
    };
    let (list, next) = page(list, id, q.after.as_deref(), q.limit)?;
    Ok(CustomersPage {
        customers: list,
        next,
    })
}

/// `get_orders`: every order of a customer, whatever its date (rule O5), oldest first.
pub fn get_orders(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetOrders,
    ctx: &Context,
) -> Result<OrdersPage, Rejection> {
    let scope = reader_for(ctx, &state.target(&ctx.actor, &q.customer))?;
    let customer = scope.customer();
    let mut orders = state.views.orders.of_customer(customer);
    orders.retain(|o| scope.sees(o.partner));
    let (orders, next) = page(
        orders,
        |o| o.order_id.to_string(),
        q.after.as_deref(),
        q.limit,
    )?;
    Ok(OrdersPage {
        customer,
        orders,
        next,
    })
}

/// `get_order`: one order, with each line's status.
pub fn get_order(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetOrder,
    ctx: &Context,
) -> Result<OrderView, Rejection> {
    let scope = reader_for(ctx, &state.target(&ctx.actor, &q.customer))?;
    let missing = || {
        Rejection::new(
            ErrorCode::NotFound,
            format!(
                "customer {} has no order {}; get_orders lists its orders",
                q.customer, q.order_id
            ),
        )
    };
    let found = state.views.orders.get(q.order_id);
    let owner = |o: &&OrderView| (o.customer, o.partner);
    let item = ItemRef::new("order", q.order_id);
    Ok(scope.find(found, owner, item, missing)?.clone())
}

/// `get_subscriptions`: a customer's subscriptions bought on or after the cut-over (rule O4).
pub fn get_subscriptions(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetSubscriptions,
    ctx: &Context,
) -> Result<SubscriptionsPage, Rejection> {
    let scope = reader_for(ctx, &state.target(&ctx.actor, &q.customer))?;
    let customer = scope.customer();
    let mut subscriptions = state.views.subscriptions.listed_for(customer);
    subscriptions.retain(|s| scope.sees(s.partner));
    let (subscriptions, next) = page(
        subscriptions,
        |s| s.subscription_id.to_string(),
        q.after.as_deref(),
        q.limit,
    )?;
    Ok(SubscriptionsPage {
        customer,
        subscriptions,
        next,
    })
}

/// `get_subscription`: one subscription; one bought before the cut-over is not found here (rule
/// O4: it is in `get_orders` and `get_purchases`).
pub fn get_subscription(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetSubscription,
    ctx: &Context,
) -> Result<SubscriptionView, Rejection> {
    let scope = reader_for(ctx, &state.target(&ctx.actor, &q.customer))?;
    let missing = || {
        Rejection::new(
            ErrorCode::NotFound,
            format!(
                "customer {} has no subscription {} bought on or after the cut-over; get_purchases lists every purchase",
                q.customer, q.subscription_id
            ),
        )
    };
    let found = state.views.subscriptions.visible(q.subscription_id);
    let owner = |s: &&SubscriptionView| (s.customer, s.partner);
    let item = ItemRef::new("subscription", q.subscription_id);
    Ok(scope.find(found, owner, item, missing)?.clone())
}

/// `get_purchases`: every purchase of a customer, whatever its date or status (rule O4).
pub fn get_purchases(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetPurchases,
    ctx: &Context,
) -> Result<PurchasesPage, Rejection> {
    let scope = reader_for(ctx, &state.target(&ctx.actor, &q.customer))?;
    let customer = scope.customer();
    let mut purchases = state.views.purchases.of_customer(customer);
    purchases.retain(|p| scope.sees(p.partner));
    let (purchases, next) = page(
        purchases,
        |p| match p.item {
            LineItem::Subscription(s) => s.to_string(),
            LineItem::Perpetual(p) => p.to_string(),
        },
        q.after.as_deref(),
        q.limit,
    )?;
    Ok(PurchasesPage {
        customer,
        purchases,
        next,
    })
}

/// `review_order` (rule O2): priced, each line's plans listed, nothing recorded.
pub fn review_order(
    state: &State,
    catalog: &Arc<Catalog>,
    q: &contract::ReviewOrder,
    ctx: &Context,
) -> Result<Review, Rejection> {
    review(
        catalog,
        &state.target(&ctx.actor, &q.customer),
        &q.lines,
        ctx,
    )
}

/// `cancellation_info` (rule O11): when each window ends and whether it has passed, exact at
/// `now` (a term end not yet recorded by the scheduler is applied first), for a subscription or
/// for each perpetual purchase of an order.
pub fn cancellation_info(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::CancellationInfo,
    ctx: &Context,
) -> Result<CancellationWindows, Rejection> {
    let target = state.target(&ctx.actor, &q.customer);
    // Who may ask, before what is asked: a refused actor is refused (and recorded) whatever it
    // sent.
    may_ask(&target, ctx)?;
    let windows = match (q.subscription_id, q.order_id) {
        (Some(s), None) => vec![subscription_window(
            &state.subscription(s),
            &target,
            s,
            ctx,
        )?],
        (None, Some(o)) => {
            let purchases: Vec<_> = state
                .perpetuals_by_order
                .get(&o)
                .into_iter()
                .flatten()
                .filter_map(|p| state.perpetuals.get(p))
                .collect();
            order_windows(purchases, &target, o, ctx)?
        }
        _ => {
            return Err(invalid_request(
                "subscription_id",
                "give exactly one of subscription_id and order_id",
            ))
        }
    };
    Ok(CancellationWindows {
        now: ctx.now,
        windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::api::tests::with_contoso;
    use crate::domain::testing::*;
    use csp_events::api::CustomerRef;

    #[test]
    fn rule_o11_an_actor_that_may_not_ask_is_forbidden_whatever_it_asks() {
        // Found end to end: a helpdesk agent naming both a subscription and an order was
        // answered `invalid_request`, so its refusal was never recorded.
        let state = with_contoso();
        let q = contract::CancellationInfo {
            customer: CustomerRef::Tenant(CONTOSO),
            subscription_id: Some(csp_events::SubscriptionId(uuid::Uuid::from_u128(1))),
            order_id: Some(csp_events::OrderId(uuid::Uuid::from_u128(2))),
        };
        let helpdesk = ctx_partner(Role::HelpdeskAgent, now());
        let r = cancellation_info(&state, &catalog(), &q, &helpdesk).unwrap_err();
        assert_eq!(r.code, ErrorCode::Forbidden, "{r:?}");
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
        // a buyer asking the same is told what is wrong with the question
        let buyer = ctx_partner(Role::AdminAgent, now());
        let r = cancellation_info(&state, &catalog(), &q, &buyer).unwrap_err();
        assert_eq!(r.code, ErrorCode::InvalidRequest, "{r:?}");
    }
}
