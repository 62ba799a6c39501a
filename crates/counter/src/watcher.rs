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

#[cfg(test)]
mod tests {
    use csp_bus::spec::ReactionSpec;
    use csp_events::counter::{CounterExpired, CounterIncremented, CounterOpened};
    use csp_events::{fixtures, EventId, EventKind};
    use uuid::Uuid;

    use super::*;

    const CUSTOMER: TenantId = TenantId(Uuid::from_u128(0xc1));

    /// The counter's event `n`, effective at minute `minute`.
    fn upstream(n: u128, minute: i64, event: impl Into<Event>) -> Envelope {
        let mut env = fixtures::sample(EventKind::CounterOpened);
        env.event_id = EventId(Uuid::from_u128(n));
        env.effective_at = Timestamp::from_micros(minute * 60_000_000);
        env.payload = event.into();
        env
    }

    fn names(emits: &[Emit]) -> Vec<&'static str> {
        emits.iter().map(|e| e.event.name()).collect()
    }

    #[test]
    fn a_reaction_sees_the_earlier_reactions_of_its_batch_and_what_falls_due_comes_first() {
        let until = Timestamp::from_micros(60 * 60_000_000);
        let opened = CounterOpened {
            customer: CUSTOMER,
            partner: TenantId(Uuid::from_u128(0xa1)),
            limit: 10,
            expires_at: until,
        };
        let inc = |n, total| {
            upstream(
                n,
                i64::try_from(n).unwrap(),
                CounterIncremented {
                    customer: CUSTOMER,
                    by: 1,
                    total,
                },
            )
        };
        let batch = [
            upstream(1, 0, opened),
            inc(2, 1),
            inc(3, 2),
            upstream(
                4,
                60,
                CounterExpired {
                    customer: CUSTOMER,
                    total: 2,
                },
            ),
        ];
        let decided = ReactionSpec::<CounterWatcher>::given((), []).when("counter", &batch);
        // The watch the first reaction starts is what the increments' reactions need.
        assert_eq!(names(&decided[0].reactions), ["counter_watched"]);
        assert_eq!(names(&decided[1].reactions), ["counter_observed"]);
        assert_eq!(names(&decided[2].reactions), ["counter_observed"]);
        // The watch ends before the expiry is taken in, at its own time, counting both.
        assert!(decided[..3].iter().all(|d| d.before.is_empty()));
        let ended = &decided[3].before;
        assert_eq!(names(ended), ["counter_watch_ended"]);
        assert_eq!(ended[0].effective_at, Some(until));
        assert_eq!(
            ended[0].event,
            Event::CounterWatchEnded(csp_events::counter::CounterWatchEnded {
                customer: CUSTOMER,
                observed: 2,
            })
        );
        // Reactions take effect when their upstream event did, with ids derived from it.
        assert_eq!(
            decided[1].reactions[0].effective_at,
            Some(batch[1].effective_at)
        );
        assert_eq!(
            decided[1].reactions[0].id,
            Some(EventId::reaction(SERVICE, batch[1].event_id, 0))
        );
    }

    #[test]
    fn a_watch_already_ended_sees_no_increment() {
        let watched = {
            let mut e = upstream(1, 0, watch::watched(CUSTOMER, Timestamp::from_micros(0)));
            e.stream = watch::stream(CUSTOMER);
            e
        };
        let ended = upstream(
            2,
            0,
            csp_events::counter::CounterWatchEnded {
                customer: CUSTOMER,
                observed: 0,
            },
        );
        let decided = ReactionSpec::<CounterWatcher>::given((), [watched, ended]).when(
            "counter",
            &[upstream(
                3,
                5,
                CounterIncremented {
                    customer: CUSTOMER,
                    by: 1,
                    total: 1,
                },
            )],
        );
        assert!(decided[0].reactions.is_empty() && decided[0].before.is_empty());
    }
}
