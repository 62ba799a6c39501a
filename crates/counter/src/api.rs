//! The counter's JSON edge and its fold: each contract command and query as one pure function
//! of the state (the runtime's handler shape, bound as it is in the service's table), and the
//! state they read. No I/O, no clock: what a service writes besides its domain and its table.

use csp_bus::{Decided, Emit};
use csp_events::counter::{
    self, CounterView, GetCounter, Increment, Incremented, OpenCounter, Opened,
};
use csp_events::kernel::{apply_due, Aggregates, Context, Rejection};
use csp_events::{Envelope, ErrorCode, TenantId, Timestamp};

use crate::domain::counter::{check_admin_agent, forbidden, Counter, CounterCommand, CounterState};

/// Every counter by customer, with when each next needs the scheduler (the kernel's
/// collection: ordered, so the runtime's digest depends only on the events folded).
#[derive(Default, serde::Serialize)]
pub struct State {
    counters: Aggregates<TenantId, Counter>,
}

impl State {
    fn counter(&self, customer: TenantId) -> CounterState {
        self.counters.state(customer)
    }

    /// Folds one event of the log (events that are not a counter's are ignored).
    pub fn apply(&mut self, env: &Envelope) {
        if let Some(customer) = customer_of(env) {
            self.counters.evolve(customer, &env.payload);
        }
    }

    /// The transitions due at or before `now`, as the scheduler records them.
    pub fn due(&self, now: Timestamp) -> Vec<Emit> {
        self.counters
            .due(now)
            .into_iter()
            .map(|(customer, t)| {
                let partner = self
                    .counters
                    .get(customer)
                    .and_then(|s| s.opened.as_ref().map(|o| o.partner));
                Emit::transition(t).tenants(partner, Some(customer))
            })
            .collect()
    }
}

fn customer_of(env: &Envelope) -> Option<TenantId> {
    match &env.payload {
        csp_events::Event::CounterOpened(e) => Some(e.customer),
        csp_events::Event::CounterIncremented(e) => Some(e.customer),
        csp_events::Event::CounterExpired(e) => Some(e.customer),
        _ => None,
    }
}

/// Decides a command on a customer's counter, due transitions first, and turns the decision
/// into emits: the transitions with their deterministic ids and true times, then the events.
fn decide<R>(
    state: &State,
    customer: TenantId,
    command: CounterCommand,
    ctx: &Context,
    reply: R,
) -> Result<Decided<R>, Rejection> {
    let s = state.counter(customer);
    let decision = state.counters.decide(customer, &command, ctx)?;
    let stream = counter::stream(customer);
    let partner = s.opened.as_ref().map_or(ctx.actor.tenant, |o| o.partner);
    let mut events: Vec<Emit> = decision
        .transitions
        .into_iter()
        .map(|t| Emit::transition(t).tenants(Some(partner), Some(customer)))
        .collect();
    events.extend(
        decision
            .events
            .into_iter()
            .map(|e| Emit::new(stream.clone(), e).tenants(Some(partner), Some(customer))),
    );
    Ok(Decided { events, reply })
}

/// `open_counter`.
pub fn open(
    state: &State,
    _: &(),
    c: &OpenCounter,
    ctx: &Context,
) -> Result<Decided<Opened>, Rejection> {
    let command = CounterCommand::Open {
        customer: c.customer,
        limit: c.limit,
        expires_in_hours: c.expires_in_hours,
    };
    decide(
        state,
        c.customer,
        command,
        ctx,
        Opened {
            customer: c.customer,
        },
    )
}

/// `increment`.
pub fn increment(
    state: &State,
    _: &(),
    c: &Increment,
    ctx: &Context,
) -> Result<Decided<Incremented>, Rejection> {
    let command = CounterCommand::Increment {
        customer: c.customer,
        by: c.by,
    };
    let total = state.counter(c.customer).total.saturating_add(c.by);
    decide(
        state,
        c.customer,
        command,
        ctx,
        Incremented {
            customer: c.customer,
            total,
        },
    )
}

/// `get_counter`.
pub fn get(state: &State, _: &(), q: &GetCounter, ctx: &Context) -> Result<CounterView, Rejection> {
    check_admin_agent(ctx, q.customer)?;
    let Some(s) = state.counters.get(q.customer) else {
        return Err(Rejection::new(
            ErrorCode::NotFound,
            format!("customer {} has no counter", q.customer),
        ));
    };
    let Some(opened) = &s.opened else {
        return Err(Rejection::new(ErrorCode::NotFound, "no counter"));
    };
    if opened.partner != ctx.actor.tenant {
        return Err(forbidden(
            "this partner does not serve that customer",
            q.customer,
        ));
    }
    // A transition that is due but not yet recorded is shown as it will be.
    let mut view = s.clone();
    apply_due::<Counter>(&mut view, ctx.now);
    Ok(CounterView {
        customer: q.customer,
        total: view.total,
        limit: opened.limit,
        expires_at: opened.expires_at,
        expired: view.expired,
    })
}
