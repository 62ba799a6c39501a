//! The read side of the JSON API: each query of the contract answered from [`State`] — the read
//! models for lists and single items, the deciders' states where the answer must be exact at
//! `now` (a window, a review). Pure like [`crate::api`]: state, query and context in, JSON out;
//! a query records nothing, except that the runtime records a `forbidden` as `AccessRefused`.
//!
//! Who may read is [`reader_for`]: the customer itself, its partner of record (any role), the
//! platform's `importer` and `support`. Reviews and windows keep their own rules (the domain's).

use csp_catalog::Catalog;
use csp_events::kernel::{Context, Rejection};
use csp_events::ordering as contract;
use csp_events::{ActorKind, ErrorCode, Role};
use serde_json::{json, Value};

use crate::api;
use crate::domain::access::{forbidden, reader_for};
use crate::state::State;

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
    _q: &contract::GetCustomers,
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
    Ok(json!({ "customers": list }))
}

/// `get_orders`: every order of a customer, whatever its date (rule O5), oldest first.
pub fn get_orders(
    state: &State,
    q: &contract::GetOrders,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let orders = state.views.orders.of_customer(customer);
    Ok(json!({ "customer": customer, "orders": orders }))
}

/// `get_order`: one order, with each line's status.
pub fn get_order(state: &State, q: &contract::GetOrder, ctx: &Context) -> Result<Value, Rejection> {
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
    q: &contract::GetSubscriptions,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let subscriptions = state.views.subscriptions.listed_for(customer);
    Ok(json!({ "customer": customer, "subscriptions": subscriptions }))
}

/// `get_subscription`: one subscription; one bought before the cut-over is not found here (rule
/// O4: it is in `get_orders` and `get_purchases`).
pub fn get_subscription(
    state: &State,
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
    q: &contract::GetPurchases,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let customer = reader_for(ctx, &state.target(&q.customer))?.customer;
    let purchases = state.views.purchases.of_customer(customer);
    Ok(json!({ "customer": customer, "purchases": purchases }))
}

/// `review_order` (rule O2): priced, each line's plans listed, nothing recorded.
pub fn review_order(
    state: &State,
    catalog: &Catalog,
    q: &contract::ReviewOrder,
    ctx: &Context,
) -> Result<Value, Rejection> {
    to_json(&api::review_order(state, catalog, q, ctx)?)
}

/// `cancellation_info` (rule O11): when each window ends and whether it has passed, exact at
/// `now` (a term end not yet recorded by the scheduler is applied first).
pub fn cancellation_info(
    state: &State,
    q: &contract::CancellationInfo,
    ctx: &Context,
) -> Result<Value, Rejection> {
    let windows = api::cancellation_info(state, q, ctx)?;
    Ok(json!({ "now": ctx.now, "windows": windows }))
}
