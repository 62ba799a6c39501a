//! The counter's JSON edge and its fold: each contract command and query as one pure function
//! of the state (the runtime's handler shape, bound as it is in the service's table), and the
//! state they read. No I/O, no clock: what a service writes besides its domain and its table.

use csp_events::counter::{CounterView, GetCounter, Increment, Incremented, OpenCounter, Opened};
use csp_events::kernel::{Aggregates, Context, Decided, Handled, Rejection};
use csp_events::TenantId;

use crate::domain::counter::{partner, served, Counter, CounterCommand};

/// Every counter by customer, with when each next needs the scheduler: the kernel's
/// collection is the whole state (ordered, so the runtime's digest depends only on the events
/// folded).
pub type State = Aggregates<TenantId, Counter>;

/// `open_counter`.
pub fn open(state: &State, _: &(), c: &OpenCounter, ctx: &Context) -> Handled<Opened> {
    let command = CounterCommand::Open(c.clone());
    let events = state.decide_emits(c.customer, &command, ctx, partner)?;
    let reply = Opened {
        customer: c.customer,
    };
    Ok(Decided { events, reply })
}

/// `increment`.
pub fn increment(state: &State, _: &(), c: &Increment, ctx: &Context) -> Handled<Incremented> {
    let command = CounterCommand::Increment(c.clone());
    let events = state.decide_emits(c.customer, &command, ctx, partner)?;
    let total = state.state(c.customer).total.saturating_add(c.by);
    let reply = Incremented {
        customer: c.customer,
        total,
    };
    Ok(Decided { events, reply })
}

/// `get_counter`: a transition due but not yet recorded is shown as it will be.
pub fn get(state: &State, _: &(), q: &GetCounter, ctx: &Context) -> Result<CounterView, Rejection> {
    let view = state.view(q.customer, ctx.now).unwrap_or_default();
    let opened = served(&view, ctx, q.customer)?;
    Ok(CounterView {
        customer: q.customer,
        total: view.total,
        limit: opened.limit,
        expires_at: opened.expires_at,
        expired: view.expired,
    })
}
