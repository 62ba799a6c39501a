//! The counter observer: the runtime's test *consumer*. It consumes the counter's events and
//! reacts to each `CounterIncremented` with one `CounterObserved` of its own, so end-to-end
//! tests and `csp bench bus` can check exactly-once effect: every upstream event once in its
//! log, and exactly one reaction for each.
//!
//! Nobody consumes `CounterObserved`, so by default the observer keeps its reactions in its log
//! ([`Kept`]), as a real service keeps its bookkeeping; [`Published`] sends them on the bus as
//! well, like a consumer whose reactions others consume, so `csp bench bus` can show what that
//! second publish costs.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use csp_bus::{Emit, Endpoints, Origin, Service, Unchanged, Upstream};
use csp_events::counter::{self, CounterObserved};
use csp_events::{Envelope, Event, EventKind, TenantId};

/// The service. `R` says whether its reactions go on the bus.
pub struct CounterObserver<R: Reactions = Kept>(PhantomData<R>);

/// Where the observer's reactions go.
pub trait Reactions: Send + Sync + 'static {
    /// Whether `CounterObserved` is published.
    const PUBLISHED: bool;
}

/// Reactions stay in the observer's log: nobody consumes them.
pub struct Kept;

impl Reactions for Kept {
    const PUBLISHED: bool = false;
}

/// Reactions are published too, as if another service consumed them.
pub struct Published;

impl Reactions for Published {
    const PUBLISHED: bool = true;
}

/// The service name.
pub const SERVICE: &str = "counter-observer";

/// How many increments were observed per customer, and how many upstream events each producer
/// delivered (a fold of the log).
#[derive(Default, serde::Serialize)]
pub struct State {
    /// Observations per customer.
    pub observed: BTreeMap<TenantId, u64>,
    /// Upstream copies folded, per producer: what `apply` is told about where each came from.
    pub upstream: BTreeMap<String, u64>,
}

impl<R: Reactions> Service for CounterObserver<R> {
    const NAME: &'static str = SERVICE;
    const DESCRIPTION: &'static str = "csp runtime test consumer: reacts to each counter increment";

    type Config = ();
    type State = State;
    type Scratch<'a> = Unchanged<'a, State>;

    fn scratch(state: &State) -> Unchanged<'_, State> {
        Unchanged(state)
    }

    fn apply(state: &mut State, env: &Envelope, origin: Origin<'_>) {
        if let Origin::Upstream { producer } = origin {
            *state.upstream.entry(producer.to_string()).or_default() += 1;
        }
        if let Event::CounterObserved(o) = &env.payload {
            *state.observed.entry(o.customer).or_default() += 1;
        }
    }

    fn endpoints() -> Endpoints<Self> {
        Endpoints::new()
    }

    fn summary(state: &State) -> serde_json::Value {
        serde_json::json!({
            "observed": state.observed.values().sum::<u64>(),
            "upstream": state.upstream,
        })
    }

    fn consumes() -> &'static [&'static str] {
        &[counter::SERVICE, "counter-b"]
    }

    fn publishes(kind: EventKind) -> bool {
        R::PUBLISHED || kind != EventKind::CounterObserved
    }

    fn react(_: &Unchanged<'_, State>, _: &(), upstream: &Upstream<'_>) -> Vec<Emit> {
        let event = upstream.event;
        let Event::CounterIncremented(i) = &event.payload else {
            return Vec::new();
        };
        let observed = CounterObserved {
            upstream: event.event_id,
            upstream_outbox_seq: event.outbox.map_or(0, |o| o.seq),
            customer: i.customer,
            total: i.total,
        };
        // One stream per producer and customer: which counter an observation came from is
        // the runtime's to say (`upstream.producer`), not the event's.
        vec![Emit::new(
            format!("observed/{}/{}", upstream.producer, i.customer),
            observed,
        )
        .tenants(event.partner, event.customer)]
    }
}
