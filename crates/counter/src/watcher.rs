//! The counter watcher: a test consumer with a schedule of its own (see `domain/watch.rs`). On
//! `CounterOpened` it starts a watch until the counter's expiry; it reacts to each increment
//! while the watch is open; at the expiry its own due transition ends the watch with the count.
//! A batch holding the opening, the increments and the counter's expiry (a consumer catching
//! up) must record the watch's end before the expiry's copy, with the full count: which only
//! works because reactions are decided against the batch's scratch.

use csp_bus::{Emit, Endpoints, Origin, Scratch, Service, Upstream};
use csp_events::counter::{self, CounterObserved};
use csp_events::kernel::{Aggregates, Overlay};
use csp_events::{Envelope, Event, EventKind, TenantId, Timestamp};

use crate::domain::watch::{self, Watch};

/// The service name.
pub const SERVICE: &str = "counter-watcher";

/// The watcher.
pub struct CounterWatcher;

/// Every watch by customer.
#[derive(Default, serde::Serialize)]
pub struct State {
    /// The watches.
    pub watches: Aggregates<TenantId, Watch>,
}

/// The watches as a batch sees them.
pub struct Batch<'a> {
    watches: Overlay<'a, TenantId, Watch>,
}

/// The customer a watcher event or a counter event concerns.
fn customer_of(event: &Event) -> Option<TenantId> {
    match event {
        Event::CounterOpened(e) => Some(e.customer),
        Event::CounterIncremented(e) => Some(e.customer),
        Event::CounterExpired(e) => Some(e.customer),
        Event::CounterObserved(e) => Some(e.customer),
        Event::CounterWatched(e) => Some(e.customer),
        Event::CounterWatchEnded(e) => Some(e.customer),
        _ => None,
    }
}

impl Scratch for Batch<'_> {
    fn catch_up(&mut self, upstream: &Envelope) -> Vec<Emit> {
        let Some(customer) = customer_of(&upstream.payload) else {
            return Vec::new();
        };
        self.watches
            .catch_up(customer, upstream.effective_at)
            .into_iter()
            .map(|t| Emit::transition(t).tenants(upstream.partner, Some(customer)))
            .collect()
    }

    fn fold_own(&mut self, event: &Emit) {
        if let Some(customer) = customer_of(&event.event) {
            self.watches.evolve(customer, &event.event);
        }
    }
}

impl Service for CounterWatcher {
    const NAME: &'static str = SERVICE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "csp runtime test consumer: watches each counter until its expiry, on a schedule of its own";

    type Config = ();
    type State = State;
    type Scratch<'a> = Batch<'a>;

    fn scratch(state: &State) -> Batch<'_> {
        Batch {
            watches: Overlay::new(&state.watches),
        }
    }

    fn apply(state: &mut State, env: &Envelope, origin: Origin<'_>) {
        if origin != Origin::Own {
            return;
        }
        if let Some(customer) = customer_of(&env.payload) {
            state.watches.evolve(customer, &env.payload);
        }
    }

    fn endpoints() -> Endpoints<Self> {
        Endpoints::new()
    }

    fn consumes() -> &'static [&'static str] {
        &[counter::SERVICE]
    }

    fn publishes(_kind: EventKind) -> bool {
        false
    }

    fn due(state: &State, _: &(), now: Timestamp) -> Vec<Emit> {
        state
            .watches
            .due(now)
            .into_iter()
            .map(|(customer, t)| Emit::transition(t).tenants(None, Some(customer)))
            .collect()
    }

    fn react(batch: &Batch<'_>, _: &(), upstream: &Upstream<'_>) -> Vec<Emit> {
        let event = upstream.event;
        let (customer, reaction) = match &event.payload {
            Event::CounterOpened(o) => (o.customer, watch::watched(o.customer, o.expires_at)),
            // While the watch is open: the watch a reaction earlier in this batch started counts.
            Event::CounterIncremented(i)
                if batch.watches.get(i.customer).is_some_and(|w| w.open()) =>
            {
                let observed = CounterObserved {
                    upstream: event.event_id,
                    upstream_outbox_seq: event.outbox.map_or(0, |o| o.seq),
                    customer: i.customer,
                    total: i.total,
                };
                (i.customer, observed.into())
            }
            _ => return Vec::new(),
        };
        vec![Emit::new(watch::stream(customer), reaction).tenants(event.partner, Some(customer))]
    }
}
