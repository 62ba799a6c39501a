//! The billing service on the runtime: its endpoint table, its reactions to ordering's events,
//! and its due transitions (charges and month closes), which wait for upstream: billing is
//! asked what is due only as far as ordering is known to have recorded.

use csp_bus::{Emit, Endpoints, Origin, Service, Upstream};
use csp_events::{Envelope, Timestamp};
use serde_json::Value;

use crate::config::Config;
use crate::react::{due, react, Batch};
use crate::state::State;

/// The service name: `csp.qry.billing.*`, `csp.evt.billing.>`.
pub const SERVICE: &str = csp_events::billing::SERVICE;

/// The billing service, as the runtime runs it.
pub struct BillingService;

impl Service for BillingService {
    const NAME: &'static str = SERVICE;
    const DESCRIPTION: &'static str =
        "csp billing: charge schedules, prorated refunds, credits, monthly invoices, reconciliation export";
    const DUE_AFTER_UPSTREAM: bool = true;

    type Config = Config;
    type State = State;
    type Scratch<'a> = Batch<'a>;

    fn scratch(state: &State) -> Batch<'_> {
        Batch::new(state)
    }

    fn apply(state: &mut State, event: &Envelope, _origin: Origin<'_>) {
        state.apply(event);
    }

    fn endpoints() -> Endpoints<Self> {
        crate::api::endpoints()
    }

    fn due(state: &State, config: &Config, now: Timestamp) -> Vec<Emit> {
        due(state, config.grace_micros(), now)
    }

    fn summary(state: &State) -> Value {
        serde_json::json!({
            "customers": state.directory.customers(),
            "items": state.items.len(),
            "invoices": state.invoices.len(),
            "issued": state.invoices.values().filter(|i| i.issued).count(),
            "closed_through": state.closed.map(|m| m.to_string()),
            "agenda": state.agenda.len(),
        })
    }

    fn consumes() -> &'static [&'static str] {
        &[csp_events::ordering::SERVICE]
    }

    fn react(batch: &Batch<'_>, _config: &Config, upstream: &Upstream<'_>) -> Vec<Emit> {
        react(batch, upstream.event)
    }
}
