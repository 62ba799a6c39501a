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
use csp_events::ordering::{self as contract, LineItem};
use csp_events::{ActorKind, ErrorCode, Role};
use serde_json::{json, Value};

use crate::api;
use crate::domain::access::{forbidden, invalid_request, reader_for};
use crate::state::State;

/// The most items one page of a list holds (and the default).
pub const PAGE_MAX: u32 = 1000;

/// One page of `items` (in their list order): those after the item whose id is `after`, at
/// most `limit`; and the cursor of the next page (the last returned item's id) if more remain.
/// A cursor names an item, not a position, so a page asked for later still starts right after
/// what the client has seen.
fn page<'a, T>(
    items: Vec<&'a T>,
    id: impl Fn(&T) -> String,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<(Vec<&'a T>, Option<String>), Rejection> {
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
    let taken: Vec<&T> = items.into_iter().skip(start).take(limit).collect();
    let next = if rest > limit {
        taken.last().map(|i| id(i))
    } else {
        None
    };
    Ok((taken, next))
}

/// A view as JSON. Views are plain data and serialise; should one ever not (a map keyed by a
/// tuple, say), the client gets `internal`, never a silent `null`.
fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, Rejection> {
    serde_json::to_value(value).map_err(|e| {
        Rejection::new(
            ErrorCode::Internal,
            format!("the answer could not be written as JSON: {e}"),
        )
    })
}

/// `get_customers`: a partner's customers by domain name; a customer user sees itself; the
/// platform's `support` and `importer` see every customer.
pub fn get_customers(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetCustomers,
    ctx: &Context,
) -> Result<Value, Rejection> {
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
    Ok(json!({ "customers": list, "next": next }))
}

/// `get_orders`: every order of a customer, whatever its date (rule O5), oldest first.
pub fn get_orders(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetOrders,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let orders = state.views.orders.of_customer(customer);
    let (orders, next) = page(
        orders,
        |o| o.order_id.to_string(),
        q.after.as_deref(),
        q.limit,
    )?;
    Ok(json!({ "customer": customer, "orders": orders, "next": next }))
}

/// `get_order`: one order, with each line's status.
pub fn get_order(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetOrder,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    match state.views.orders.get(q.order_id) {
        Some(o) if o.customer == customer => to_json(o),
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
) -> Result<Value, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let subscriptions = state.views.subscriptions.listed_for(customer);
    let (subscriptions, next) = page(
        subscriptions,
        |s| s.subscription_id.to_string(),
        q.after.as_deref(),
        q.limit,
    )?;
    Ok(json!({ "customer": customer, "subscriptions": subscriptions, "next": next }))
}

/// `get_subscription`: one subscription; one bought before the cut-over is not found here (rule
/// O4: it is in `get_orders` and `get_purchases`).
pub fn get_subscription(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::GetSubscription,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    match state.views.subscriptions.visible(q.subscription_id) {
        Some(s) if s.customer == customer => to_json(s),
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
) -> Result<Value, Rejection> {
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
    Ok(json!({ "customer": customer, "purchases": purchases, "next": next }))
}

/// `review_order` (rule O2): priced, each line's plans listed, nothing recorded.
pub fn review_order(
    state: &State,
    catalog: &Arc<Catalog>,
    q: &contract::ReviewOrder,
    ctx: &Context,
) -> Result<Value, Rejection> {
    to_json(&api::review_order(state, catalog, q, ctx)?)
}

/// `cancellation_info` (rule O11): when each window ends and whether it has passed, exact at
/// `now` (a term end not yet recorded by the scheduler is applied first).
pub fn cancellation_info(
    state: &State,
    _catalog: &Arc<Catalog>,
    q: &contract::CancellationInfo,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let windows = api::cancellation_info(state, q, ctx)?;
    Ok(json!({ "now": ctx.now, "windows": windows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(items: &[&u32]) -> Vec<u32> {
        items.iter().map(|i| **i).collect()
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
}
