//! The counter watcher's aggregate: a watch over one customer's counter, started by a reaction,
//! counting the increments it reacts to, ended by a due transition of its own at the counter's
//! expiry. It exists to prove what a consumer with its own schedule needs from the runtime
//! (billing's charge schedule is the real case): within one batch, a reaction sees the
//! reactions decided before it, and a transition due before an upstream event is recorded
//! first, with its own business time.

use std::convert::Infallible;

use csp_events::counter::{CounterWatchEnded, CounterWatched};
use csp_events::kernel::{Context, Decider, Due, Rejection};
use csp_events::{Event, TenantId, Timestamp};

/// A watch.
pub struct Watch;

/// One customer's watch (`Default`: not watched).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WatchState {
    /// Set once watched: whose counter, and until when.
    pub watched: Option<(TenantId, Timestamp)>,
    /// Increments reacted to.
    pub observed: u64,
    /// Whether it ended.
    pub ended: bool,
}

impl WatchState {
    /// Whether increments count now.
    pub fn open(&self) -> bool {
        self.watched.is_some() && !self.ended
    }
}

/// The watcher's stream for `customer`.
pub fn stream(customer: TenantId) -> String {
    csp_events::counter::watch_stream(customer)
}

impl Decider for Watch {
    type State = WatchState;
    /// A watch takes no commands: it is driven by reactions and time alone.
    type Command = Infallible;
    type Event = Event;

    fn decide(_: &WatchState, command: &Infallible, _: &Context) -> Result<Vec<Event>, Rejection> {
        match *command {}
    }

    fn evolve(state: &mut WatchState, event: &Event) {
        match event {
            Event::CounterWatched(w) => state.watched = Some((w.customer, w.until)),
            Event::CounterObserved(_) => state.observed += 1,
            Event::CounterWatchEnded(_) => state.ended = true,
            _ => {}
        }
    }

    fn next_due(state: &WatchState) -> Option<Due<Event>> {
        let (customer, until) = state.watched?;
        if state.ended {
            return None;
        }
        Some(Due {
            stream: stream(customer),
            key: "end".into(),
            at: until,
            event: CounterWatchEnded {
                customer,
                observed: state.observed,
            }
            .into(),
        })
    }
}

/// The watch a `CounterOpened` starts: until the counter expires.
pub fn watched(customer: TenantId, until: Timestamp) -> Event {
    CounterWatched { customer, until }.into()
}
