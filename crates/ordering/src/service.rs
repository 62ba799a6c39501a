//! The ordering service on the runtime: the one file that knows both the domain and the bus.
//!
//! It is a table and three adapters, nothing more — the shape entitlement, billing and audit
//! copy:
//! - [`Live`]: what the runtime holds, the fold of the log ([`State`]) beside the catalog the
//!   service was started with (configuration, not history: never folded, never digested);
//! - [`OrderingService::endpoints`]: each contract command and query bound to its pure function
//!   in [`crate::api`] or [`crate::queries`];
//! - [`emit`] turns the domain's [`Planned`] into the runtime's [`Emit`], field for field.
//!
//! Decoding, tokens, idempotency, append, the scheduler, the outbox, fire-and-forget
//! (`csp.in.ordering.place_order`) and recording `forbidden` are the runtime's.

use std::sync::Arc;

use csp_bus::{Decided, Emit, Endpoints, Service};
use csp_catalog::Catalog;
use csp_events::kernel::{Context, Rejection};
use csp_events::ordering as contract;
use csp_events::{Envelope, Timestamp};
use serde_json::Value;

use crate::api::{self, Outcome, Planned};
use crate::queries;
use crate::state::State;

/// The service name: `csp.cmd.ordering.*`, `csp.qry.ordering.*`, `csp.evt.ordering.>`.
pub const SERVICE: &str = "ordering";

/// The ordering service, as the runtime runs it.
pub struct OrderingService;

/// What the running service holds: the fold of its log and the catalog it sells from.
pub struct Live {
    /// Reference data: products, prices, policy versions. Loaded at start-up.
    pub catalog: Arc<Catalog>,
    /// Everything the log says.
    pub state: State,
}

/// A planned event as the runtime's emit (the two types mirror each other; the domain does not
/// depend on the runtime).
pub fn emit(p: Planned) -> Emit {
    Emit {
        stream: p.stream,
        event: p.event,
        effective_at: p.effective_at,
        id: p.id,
        partner: p.partner,
        customer: p.customer,
    }
}

fn decided(outcome: Result<Outcome, Rejection>) -> Result<Decided, Rejection> {
    outcome.map(|o| Decided {
        events: o.emits.into_iter().map(emit).collect(),
        reply: o.reply,
    })
}

// One line per endpoint: the runtime takes plain `fn`s over `Live`.

fn add_customer(l: &Live, c: &contract::AddCustomer, ctx: &Context) -> Result<Decided, Rejection> {
    decided(api::add_customer(&l.state, &l.catalog, c, ctx))
}

fn place_order(l: &Live, c: &contract::PlaceOrder, ctx: &Context) -> Result<Decided, Rejection> {
    decided(api::place_order(&l.state, &l.catalog, c, ctx))
}

fn import_orders(
    l: &Live,
    c: &contract::ImportOrders,
    ctx: &Context,
) -> Result<Decided, Rejection> {
    decided(api::import_orders(&l.state, &l.catalog, c, ctx))
}

fn set_auto_renew(
    l: &Live,
    c: &contract::SetAutoRenew,
    ctx: &Context,
) -> Result<Decided, Rejection> {
    decided(api::set_auto_renew(&l.state, c, ctx))
}

fn cancel_subscription(
    l: &Live,
    c: &contract::CancelSubscription,
    ctx: &Context,
) -> Result<Decided, Rejection> {
    decided(api::cancel_subscription(&l.state, c, ctx))
}

fn cancel_perpetual(
    l: &Live,
    c: &contract::CancelPerpetual,
    ctx: &Context,
) -> Result<Decided, Rejection> {
    decided(api::cancel_perpetual(&l.state, c, ctx))
}

fn file_refund_request(
    l: &Live,
    c: &contract::FileRefundRequest,
    ctx: &Context,
) -> Result<Decided, Rejection> {
    decided(api::file_refund_request(&l.state, c, ctx))
}

fn decide_refund_request(
    l: &Live,
    c: &contract::DecideRefundRequest,
    ctx: &Context,
) -> Result<Decided, Rejection> {
    decided(api::decide_refund_request(&l.state, c, ctx))
}

fn review_order(l: &Live, q: &contract::ReviewOrder, ctx: &Context) -> Result<Value, Rejection> {
    queries::review_order(&l.state, &l.catalog, q, ctx)
}

fn cancellation_info(
    l: &Live,
    q: &contract::CancellationInfo,
    ctx: &Context,
) -> Result<Value, Rejection> {
    queries::cancellation_info(&l.state, q, ctx)
}

fn get_customers(l: &Live, q: &contract::GetCustomers, ctx: &Context) -> Result<Value, Rejection> {
    queries::get_customers(&l.state, q, ctx)
}

fn get_orders(l: &Live, q: &contract::GetOrders, ctx: &Context) -> Result<Value, Rejection> {
    queries::get_orders(&l.state, q, ctx)
}

fn get_order(l: &Live, q: &contract::GetOrder, ctx: &Context) -> Result<Value, Rejection> {
    queries::get_order(&l.state, q, ctx)
}

fn get_subscriptions(
    l: &Live,
    q: &contract::GetSubscriptions,
    ctx: &Context,
) -> Result<Value, Rejection> {
    queries::get_subscriptions(&l.state, q, ctx)
}

fn get_subscription(
    l: &Live,
    q: &contract::GetSubscription,
    ctx: &Context,
) -> Result<Value, Rejection> {
    queries::get_subscription(&l.state, q, ctx)
}

fn get_purchases(l: &Live, q: &contract::GetPurchases, ctx: &Context) -> Result<Value, Rejection> {
    queries::get_purchases(&l.state, q, ctx)
}

impl Service for OrderingService {
    const NAME: &'static str = SERVICE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "csp ordering: customers, orders, subscriptions, cancellations and refund requests";

    type Config = Arc<Catalog>;
    type State = Live;

    fn init(catalog: &Arc<Catalog>) -> Live {
        Live {
            catalog: Arc::clone(catalog),
            state: State::default(),
        }
    }

    fn apply(live: &mut Live, env: &Envelope) {
        live.state.apply(env);
    }

    fn endpoints() -> Endpoints<Live> {
        Endpoints::new(SERVICE)
            .command(add_customer)
            .command(place_order)
            .command(import_orders)
            .command(set_auto_renew)
            .command(cancel_subscription)
            .command(cancel_perpetual)
            .command(file_refund_request)
            .command(decide_refund_request)
            .query(review_order)
            .query(cancellation_info)
            .query(get_customers)
            .query(get_orders)
            .query(get_order)
            .query(get_subscriptions)
            .query(get_subscription)
            .query(get_purchases)
    }

    fn due(live: &Live, now: Timestamp) -> Vec<Emit> {
        live.state.due(now).into_iter().map(emit).collect()
    }

    fn summary(live: &Live, digest: bool) -> Value {
        serde_json::to_value(live.state.summary(digest)).unwrap_or(Value::Null)
    }
}
