//! The ordering service on the runtime: its endpoint table, and nothing else. Each contract
//! command and query is bound to its pure function in [`crate::api`] or [`crate::queries`]; the
//! fold, the due transitions and the summary are [`State`]'s. Decoding, tokens, idempotency,
//! append, the scheduler, the outbox, fire-and-forget (`csp.in.ordering.place_order`), recording
//! `forbidden` and the state digest are the runtime's.

use std::sync::Arc;

use csp_bus::{Emit, Endpoints, Origin, Service, Unchanged};
use csp_catalog::Catalog;
use csp_events::{Envelope, Timestamp};
use serde_json::Value;

use crate::state::State;
use crate::{api, queries};

/// The service name: `csp.cmd.ordering.*`, `csp.qry.ordering.*`, `csp.evt.ordering.>`.
pub const SERVICE: &str = "ordering";

/// The ordering service, as the runtime runs it. Its configuration is the catalog it sells
/// from: reference data, never folded.
pub struct OrderingService;

impl Service for OrderingService {
    const NAME: &'static str = SERVICE;
    const DESCRIPTION: &'static str =
        "csp ordering: customers, orders, subscriptions, cancellations and refund requests";

    type Config = Arc<Catalog>;
    type State = State;
    type Scratch<'a> = Unchanged<'a, State>;

    fn scratch(state: &State) -> Unchanged<'_, State> {
        Unchanged(state)
    }

    fn apply(state: &mut State, event: &Envelope, _origin: Origin<'_>) {
        state.apply(event);
    }

    fn endpoints() -> Endpoints<Self> {
        Endpoints::new()
            .command(api::add_customer)
            .command(api::place_order)
            .command(api::import_orders)
            .command(api::set_auto_renew)
            .command(api::cancel_subscription)
            .command(api::cancel_perpetual)
            .command(api::file_refund_request)
            .command(api::decide_refund_request)
            .query(queries::review_order)
            .query(queries::cancellation_info)
            .query(queries::get_customers)
            .query(queries::get_orders)
            .query(queries::get_order)
            .query(queries::get_subscriptions)
            .query(queries::get_subscription)
            .query(queries::get_purchases)
    }

    fn due(state: &State, _catalog: &Arc<Catalog>, now: Timestamp) -> Vec<Emit> {
        state.due(now)
    }

    fn summary(state: &State) -> Value {
        serde_json::to_value(state.summary()).unwrap_or(Value::Null)
    }
}
