//! The read side of the JSON API: each query of the contract answered from [`State`] — the read
//! models for lists and single items, the deciders' states where the answer must be exact at
//! `now` (a window, a review). Pure like [`crate::api`]: state, query and context in, JSON out;
//! a query records nothing, except that the runtime records a `forbidden` as `AccessRefused`.
//!
//! Lists come in pages of at most [`PAGE_MAX`] items: `after` (the `next` of the previous
//! page) and `limit` in the query, `next` in the answer (`null` on the last page).
//!
//! Who may read is [`reader_for`]: the customer itself, its partner of record (any role), the
//! platform's `importer` and `support`. Reviews and windows keep their own rules (the domain's).

use std::sync::Arc;

use csp_catalog::Catalog;
use csp_events::kernel::{Context, Rejection};
use csp_events::ordering::{
    self as contract, CancellationWindows, CustomersPage, LineItem, OrderView, OrdersPage,
    PurchasesPage, Review, SubscriptionView, SubscriptionsPage,
};
use csp_events::{ActorKind, ErrorCode, Role};

use crate::domain::access::{forbidden, invalid_request, reader_for};
use crate::domain::cancellation::{may_ask, order_windows, subscription_window};
use crate::domain::order::review;
use crate::state::State;

/// The most items one page of a list holds (and the default).
pub const PAGE_MAX: u32 = 1000;

/// One page of `items` (in their list order): those after the item whose id is `after`, at
/// most `limit`; and the cursor of the next page (the last returned item's id) if more remain.
/// A cursor names an item, not a position, so a page asked for later still starts right after
/// what the client has seen.
fn page<T: Clone>(
    items: Vec<&T>,
    id: impl Fn(&T) -> String,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<(Vec<T>, Option<String>), Rejection> {
    let limit = match limit {
        None => PAGE_MAX,
        Some(n) if (1..=PAGE_MAX).contains(&n) => n,
        Some(n) => {
            return Err(invalid_request(
                "limit",
                format!("{n} is out of range: ask for 1 to {PAGE_MAX} items"),
            ))
        }
    } as usize;
    let start = match after {
        None => 0,
        Some(a) => match items.iter().position(|i| id(i) == a) {
            Some(p) => p + 1,
            None => {
                return Err(invalid_request(
                    "after",
                    format!("{a:?} is not in this list; give the `next` of the previous page, or nothing for the first"),
                ))
            }
        },
    };
    let rest = items.len().saturating_sub(start);
    let taken: Vec<T> = items.into_iter().skip(start).take(limit).cloned().collect();
    let next = if rest > limit {
        taken.last().map(&id)
    } else {
        None
    };
    Ok((taken, next))
}

/// `get_customers`: a partner's customers by domain name; a customer user sees itself; the
/// platform's `support` and `importer` see every customer.
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
        ActorKind::Customer => customers.by_tenant(actor.tenant).into_iter().collect(),
        ActorKind::Platform if actor.has(Role::Support) || actor.has(Role::Importer) => {
            customers.all()
        }
        _ => {
            return Err(forbidden(
                "only partner, customer and platform users may list customers",
                None,
            ))
        }
    };
    let (list, next) = page(
        list,
        |c| c.tenant_id.to_string(),
        q.after.as_deref(),
        q.limit,
    )?;
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
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let orders = state.views.orders.of_customer(customer);
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
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    match state.views.orders.get(q.order_id) {
        Some(o) if o.customer == customer => Ok(o.clone()),
        _ => Err(Rejection::new(
            ErrorCode::NotFound,
            format!(
                "customer {} has no order {}; get_orders lists its orders",
                q.customer, q.order_id
            ),
        )),
    }
}

/// `get_subscriptions`: a customer's subscriptions bought on or after the cut-over (rule O4).
pub fn get_subscriptions(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetSubscriptions,
    ctx: &Context,
) -> Result<SubscriptionsPage, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let subscriptions = state.views.subscriptions.listed_for(customer);
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
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    match state.views.subscriptions.visible(q.subscription_id) {
        Some(s) if s.customer == customer => Ok(s.clone()),
        _ => Err(Rejection::new(
            ErrorCode::NotFound,
            format!(
                "customer {} has no subscription {} bought on or after the cut-over; get_purchases lists every purchase",
                q.customer, q.subscription_id
            ),
        )),
    }
}

/// `get_purchases`: every purchase of a customer, whatever its date or status (rule O4).
pub fn get_purchases(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetPurchases,
    ctx: &Context,
) -> Result<PurchasesPage, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let purchases = state.views.purchases.of_customer(customer);
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
    review(catalog, &state.target(&q.customer), &q.lines, ctx)
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
    let target = state.target(&q.customer);
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

    fn ids(items: &[u32]) -> Vec<u32> {
        items.to_vec()
    }

    #[test]
    fn pages_follow_the_cursor_to_the_end() {
        let all: Vec<u32> = (1..=7).collect();
        let list = || all.iter().collect::<Vec<_>>();
        let id = |i: &u32| i.to_string();
        // given 7 items, when asked 3 at a time, then 3 pages chained by their cursors
        let (p1, next) = page(list(), id, None, Some(3)).unwrap();
        assert_eq!((ids(&p1), next.as_deref()), (vec![1, 2, 3], Some("3")));
        let (p2, next) = page(list(), id, next.as_deref(), Some(3)).unwrap();
        assert_eq!((ids(&p2), next.as_deref()), (vec![4, 5, 6], Some("6")));
        let (p3, next) = page(list(), id, next.as_deref(), Some(3)).unwrap();
        assert_eq!((ids(&p3), next), (vec![7], None));
        // a page that ends exactly at the end has no next
        let (p, next) = page(list(), id, Some("4"), Some(3)).unwrap();
        assert_eq!((ids(&p), next), (vec![5, 6, 7], None));
        // without a limit, everything up to the maximum
        let (p, next) = page(list(), id, None, None).unwrap();
        assert_eq!((p.len(), next), (7, None));
    }

    #[test]
    fn a_bad_limit_or_cursor_is_invalid_request_naming_it() {
        let all: Vec<u32> = (1..=3).collect();
        let list = || all.iter().collect::<Vec<_>>();
        let id = |i: &u32| i.to_string();
        for limit in [0, PAGE_MAX + 1] {
            let r = page(list(), id, None, Some(limit)).unwrap_err();
            assert_eq!(
                (r.code, r.details["path"].as_str()),
                (ErrorCode::InvalidRequest, Some("limit"))
            );
        }
        let r = page(list(), id, Some("9"), None).unwrap_err();
        assert_eq!(
            (r.code, r.details["path"].as_str()),
            (ErrorCode::InvalidRequest, Some("after"))
        );
    }

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
