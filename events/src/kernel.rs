//! The shared kernel of every service's domain: deciders, their context, rejections and due
//! transitions. Nothing here does I/O, reads a clock or draws a random number: the shell does
//! that and hands the results in through [`Context`], so a decider is a pure function that tests
//! can run in microseconds and replay can trust.

use serde_json::Value;
use uuid::Uuid;

mod aggregates;

pub use aggregates::{Aggregates, Overlay};

use crate::actor::Actor;
use crate::api::{ApiError, ErrorCode};
use crate::event::Event;
use crate::id::{EventId, TenantId};
use crate::time::Timestamp;

/// A refused command: a stable [`crate::api::ErrorCode`], a message that says what to do
/// instead, and structured details (`window_ends_at`, `available_plans`...). It is the API
/// error itself, so a rejection reaches the client exactly as the decider wrote it.
pub type Rejection = ApiError;

/// What the shell knows and the decider may use: the time, the verified actor, and randomness
/// drawn beforehand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The time the command is judged at (the service's `Clock`).
    pub now: Timestamp,
    /// Who acts, from a verified token.
    pub actor: Actor,
    /// A random UUID v7 drawn by the shell per command; entity ids are derived from it.
    pub seed: Uuid,
    /// 32 random bytes drawn by the shell, for key material.
    pub entropy: [u8; 32],
}

/// Namespace for [`Context::new_id`].
const CONTEXT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a0f_4c55_1b0e_4e5b_9d3c_2f1a_7c4e_0004);

impl Context {
    /// The `n`-th new id of kind `kind` (`"order"`, `"subscription"`) this command creates: a
    /// UUID v7 with the seed's timestamp (so ids sort by creation time) and random bits derived
    /// from the seed, kind and `n` (so the decider stays deterministic).
    pub fn new_id(&self, kind: &str, n: u32) -> Uuid {
        let mut name = Vec::with_capacity(16 + kind.len() + 4);
        name.extend_from_slice(self.seed.as_bytes());
        name.extend_from_slice(kind.as_bytes());
        name.extend_from_slice(&n.to_be_bytes());
        let hashed = *Uuid::new_v5(&CONTEXT_ID_NAMESPACE, &name).as_bytes();
        let seed = self.seed.as_bytes();
        let mut b = hashed;
        b[..6].copy_from_slice(&seed[..6]);
        b[6] = 0x70 | (hashed[6] & 0x0f);
        b[8] = 0x80 | (hashed[8] & 0x3f);
        Uuid::from_bytes(b)
    }
}

/// An event a handler wants recorded: what the domain returns, and all the runtime needs to
/// envelope it (id unless given, stream version, times, actor, correlation). It lives in the
/// kernel so a domain returns it directly, with no mirror type and no adapter in its service.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// The stream it belongs to.
    pub stream: String,
    /// The event.
    pub event: Event,
    /// Business time; `None` means the command's `now`, or for a reaction its upstream event's
    /// `effective_at` (never the consumer's clock).
    pub effective_at: Option<Timestamp>,
    /// A deterministic id for derived events (transitions, reactions); `None` draws a UUID v7
    /// (a reaction without one gets `EventId::reaction(consumer, upstream, index)`).
    pub id: Option<EventId>,
    /// Partner tenant (subject token).
    pub partner: Option<TenantId>,
    /// Customer tenant (subject token, partition key).
    pub customer: Option<TenantId>,
}

impl Emit {
    /// An event on `stream`, effective now, with a fresh id.
    pub fn new(stream: impl Into<String>, event: impl Into<Event>) -> Emit {
        Emit {
            stream: stream.into(),
            event: event.into(),
            effective_at: None,
            id: None,
            partner: None,
            customer: None,
        }
    }

    /// Sets the tenants the event concerns.
    pub fn tenants(mut self, partner: Option<TenantId>, customer: Option<TenantId>) -> Emit {
        self.partner = partner;
        self.customer = customer;
        self
    }

    /// Sets its business time (a backfilled order's, say).
    pub fn effective(mut self, at: Option<Timestamp>) -> Emit {
        self.effective_at = at;
        self
    }

    /// Makes it a derived event: deterministic id, its own business time.
    pub fn derived(mut self, id: EventId, effective_at: Timestamp) -> Emit {
        self.id = Some(id);
        self.effective_at = Some(effective_at);
        self
    }

    /// A due transition as an emit: its derived id and its true business time.
    pub fn transition(t: Transition<Event>) -> Emit {
        Emit::new(t.stream, t.event).derived(t.id, t.effective_at)
    }

    /// An event recorded where its type says ([`crate::event::Routed`]): stream and customer
    /// from the event, partner from the event or, for the events after an aggregate's first
    /// that do not repeat it, `partner`. So no service maps its events to streams by hand.
    pub fn routed(event: impl Into<Event>, partner: Option<TenantId>) -> Emit {
        let event = event.into();
        // A kind whose recorder names its stream, emitted by a domain by mistake, is recorded
        // on a stream named after it, never on `""`.
        let stream = event
            .stream()
            .unwrap_or_else(|| format!("unrouted/{}", event.name()));
        Emit::new(stream, event).routed_tenants(partner)
    }

    /// A due transition routed like [`Emit::routed`]: its derived id and true business time.
    pub fn due(t: Transition<Event>, partner: Option<TenantId>) -> Emit {
        Emit::transition(t).routed_tenants(partner)
    }

    fn routed_tenants(self, partner: Option<TenantId>) -> Emit {
        let customer = self.event.customer();
        let partner = self.event.partner().or(partner);
        self.tenants(partner, customer)
    }
}

/// What a command handler decided: the events to record and the result to reply with once they
/// are durable and folded. `R` is the command's reply type from the contract
/// (`CommandBody::Reply`); the runtime writes it as JSON ([`Decided::into_json`]) once, at the
/// edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided<R = Value> {
    /// Events, in order (due transitions first, then the command's own).
    pub events: Vec<Emit>,
    /// The `result` of the `{"ok":true,"result":...}` reply.
    pub reply: R,
}

/// What a command handler returns: its decision, or the rejection the client gets. One name,
/// so a handler's signature fits on a line and says only what it decides and replies.
pub type Handled<R> = Result<Decided<R>, Rejection>;

impl<R: serde::Serialize> Decided<R> {
    /// The same decision with its reply as JSON. A reply type that cannot be written as JSON
    /// (a map keyed by a tuple, say) is `internal`, never a silent `null`; nothing is recorded.
    pub fn into_json(self) -> Result<Decided<Value>, Rejection> {
        Ok(Decided {
            events: self.events,
            reply: to_json(&self.reply)?,
        })
    }
}

/// A reply as JSON, or `internal` if its type cannot be written as JSON.
pub fn to_json<R: serde::Serialize>(reply: &R) -> Result<Value, Rejection> {
    serde_json::to_value(reply).map_err(|e| {
        Rejection::new(
            ErrorCode::Internal,
            format!("the answer could not be written as JSON: {e}"),
        )
    })
}

/// A transition a state schedules for itself (a term end becoming a renewal or an expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<E> {
    /// The stream it belongs to.
    pub stream: String,
    /// Unique within the stream, e.g. `"term-end/1"`: with the stream and `at` it makes the id.
    pub key: String,
    /// When it takes effect: the event's `effective_at`.
    pub at: Timestamp,
    /// The event it becomes.
    pub event: E,
}

/// A due transition turned into an event, with its deterministic id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition<E> {
    /// Derived from stream, key and due time: the same whoever computes it, however often.
    pub id: EventId,
    /// The stream.
    pub stream: String,
    /// The true business time, however late the scheduler ran.
    pub effective_at: Timestamp,
    /// The event.
    pub event: E,
}

/// A decider: an aggregate as two pure functions.
pub trait Decider {
    /// The aggregate's state; `Default` is "nothing happened yet".
    type State: Default + Clone;
    /// What it is asked to do.
    type Command;
    /// What it records.
    type Event: Clone;

    /// Judges `command` against `state` at `ctx.now`: the events to record, or why not.
    fn decide(
        state: &Self::State,
        command: &Self::Command,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, Rejection>;

    /// Applies one recorded event. Never fails and never decides: replay only folds.
    fn evolve(state: &mut Self::State, event: &Self::Event);

    /// The next transition `state` schedules, whatever the time; `None` if none. Each one, once
    /// applied, must move the next one strictly later.
    fn next_due(_state: &Self::State) -> Option<Due<Self::Event>> {
        None
    }
}

/// The most transitions one catch-up applies, so a faulty `next_due` cannot loop forever. A
/// monthly-billed subscription down for 80 years is still far below it.
pub const MAX_TRANSITIONS: usize = 10_000;

/// Applies every transition due at or before `now` to `state`, in order, and returns them.
pub fn apply_due<D: Decider>(state: &mut D::State, now: Timestamp) -> Vec<Transition<D::Event>> {
    let mut out = Vec::new();
    let mut last: Option<Timestamp> = None;
    while let Some(due) = D::next_due(state) {
        if due.at > now || out.len() >= MAX_TRANSITIONS || last.is_some_and(|l| due.at <= l) {
            break;
        }
        last = Some(due.at);
        D::evolve(state, &due.event);
        out.push(Transition {
            id: EventId::scheduled(&due.stream, &due.key, due.at.as_micros()),
            stream: due.stream,
            effective_at: due.at,
            event: due.event,
        });
    }
    out
}

/// What a command produced: the transitions that fell due first, then the command's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<E> {
    /// Transitions due at or before `ctx.now`, applied before judging the command.
    pub transitions: Vec<Transition<E>>,
    /// The command's own events.
    pub events: Vec<E>,
}

impl Decision<Event> {
    /// The decision as the runtime records it: the transitions first, then the command's
    /// events, each routed ([`Emit::routed`]), `partner` for those that do not name theirs.
    pub fn into_emits(self, partner: Option<TenantId>) -> Vec<Emit> {
        let transitions = self.transitions.into_iter();
        let mut out: Vec<Emit> = transitions.map(|t| Emit::due(t, partner)).collect();
        out.extend(self.events.into_iter().map(|e| Emit::routed(e, partner)));
        out
    }
}

/// Decides `command` the way DESIGN.md requires: first every transition already due, then the
/// command against the resulting state, so a cancel that arrives after a term end is judged
/// against the new term.
pub fn decide_at<D: Decider>(
    state: &D::State,
    command: &D::Command,
    ctx: &Context,
) -> Result<Decision<D::Event>, Rejection> {
    let mut s = state.clone();
    let transitions = apply_due::<D>(&mut s, ctx.now);
    let events = D::decide(&s, command, ctx)?;
    Ok(Decision {
        transitions,
        events,
    })
}

/// Given / when / then for deciders, so that every rule test reads in three lines:
///
/// ```text
/// Spec::<Subscription>::given([started]).when(&cancel, &ctx).then_reject(ErrorCode::CancellationWindowClosed);
/// ```
pub mod spec {
    use super::*;
    use crate::api::ErrorCode;

    /// A decider's state built from past events.
    pub struct Spec<D: Decider> {
        state: D::State,
    }

    /// The outcome of `when`, to assert on.
    pub struct Outcome<D: Decider> {
        /// The result, transitions included.
        pub result: Result<Decision<D::Event>, Rejection>,
        /// The state after the transitions and the accepted events.
        pub state: D::State,
    }

    impl<D: Decider> Spec<D> {
        /// The state after `events`.
        pub fn given(events: impl IntoIterator<Item = D::Event>) -> Spec<D> {
            let mut state = D::State::default();
            for e in events {
                D::evolve(&mut state, &e);
            }
            Spec { state }
        }

        /// Decides `command` at `ctx.now`, due transitions first.
        pub fn when(self, command: &D::Command, ctx: &Context) -> Outcome<D> {
            let result = decide_at::<D>(&self.state, command, ctx);
            let mut state = self.state;
            if let Ok(d) = &result {
                for t in &d.transitions {
                    D::evolve(&mut state, &t.event);
                }
                for e in &d.events {
                    D::evolve(&mut state, e);
                }
            }
            Outcome { result, state }
        }
    }

    impl<D: Decider> Outcome<D>
    where
        D::Event: PartialEq + std::fmt::Debug,
    {
        /// Asserts the command was accepted with exactly `expected` (transitions not included)
        /// and returns the outcome for further checks.
        #[track_caller]
        pub fn then(self, expected: &[D::Event]) -> Self {
            match &self.result {
                Ok(d) => assert_eq!(d.events, expected, "events"),
                Err(r) => panic!("expected events, got rejection {r}"),
            }
            self
        }

        /// Asserts the command was refused with `code` and returns the rejection.
        #[track_caller]
        pub fn then_reject(self, code: ErrorCode) -> Rejection {
            match self.result {
                Ok(d) => panic!("expected {code}, got events {:?}", d.events),
                Err(r) => {
                    assert_eq!(r.code, code, "rejection: {r}");
                    r
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::spec::Spec;
    use super::*;
    use crate::actor::{ActorKind, Role};
    use crate::api::ErrorCode;
    use crate::id::TenantId;

    /// A toy lease: it runs in terms of 10 time units and renews until stopped; it can be
    /// stopped only in the first 3 units of a term.
    struct Lease;

    #[derive(Default, Clone)]
    struct LeaseState {
        started: Option<Timestamp>,
        term: u32,
        stopped: bool,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum LeaseEvent {
        Started(Timestamp),
        Renewed(u32),
        Stopped,
    }

    enum LeaseCommand {
        Start,
        Stop,
    }

    fn term_start(s: &LeaseState) -> Option<Timestamp> {
        s.started
            .map(|t| Timestamp::from_micros(t.as_micros() + 10 * i64::from(s.term)))
    }

    impl Decider for Lease {
        type State = LeaseState;
        type Command = LeaseCommand;
        type Event = LeaseEvent;

        fn decide(
            s: &LeaseState,
            c: &LeaseCommand,
            ctx: &Context,
        ) -> Result<Vec<LeaseEvent>, Rejection> {
            match c {
                LeaseCommand::Start if s.started.is_none() => {
                    Ok(vec![LeaseEvent::Started(ctx.now)])
                }
                LeaseCommand::Start => Err(Rejection::new(ErrorCode::AlreadyExists, "started")),
                LeaseCommand::Stop => {
                    let start = term_start(s)
                        .ok_or_else(|| Rejection::new(ErrorCode::NotFound, "no lease"))?;
                    if ctx.now.as_micros() < start.as_micros() + 3 {
                        Ok(vec![LeaseEvent::Stopped])
                    } else {
                        Err(Rejection::new(
                            ErrorCode::CancellationWindowClosed,
                            "too late",
                        ))
                    }
                }
            }
        }

        fn evolve(s: &mut LeaseState, e: &LeaseEvent) {
            match e {
                LeaseEvent::Started(t) => s.started = Some(*t),
                LeaseEvent::Renewed(n) => s.term = *n,
                LeaseEvent::Stopped => s.stopped = true,
            }
        }

        fn next_due(s: &LeaseState) -> Option<Due<LeaseEvent>> {
            if s.stopped {
                return None;
            }
            let start = term_start(s)?;
            Some(Due {
                stream: "lease/1".into(),
                key: format!("term-end/{}", s.term + 1),
                at: Timestamp::from_micros(start.as_micros() + 10),
                event: LeaseEvent::Renewed(s.term + 1),
            })
        }
    }

    fn ctx(now: i64) -> Context {
        Context {
            now: Timestamp::from_micros(now),
            actor: Actor {
                kind: ActorKind::Partner,
                tenant: TenantId(Uuid::nil()),
                user: "u".into(),
                roles: vec![Role::AdminAgent],
            },
            seed: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            entropy: [0; 32],
        }
    }

    #[test]
    fn due_transitions_are_applied_before_the_command() {
        // Started at 0; at 21 two renewals have happened and term 3 started at 20: a stop at 21
        // is inside the new term's window.
        let out = Spec::<Lease>::given([LeaseEvent::Started(Timestamp::from_micros(0))])
            .when(&LeaseCommand::Stop, &ctx(21))
            .then(&[LeaseEvent::Stopped]);
        let d = out.result.unwrap();
        assert_eq!(d.transitions.len(), 2);
        assert_eq!(d.transitions[0].effective_at.as_micros(), 10);
        assert_eq!(d.transitions[1].effective_at.as_micros(), 20);
        assert_eq!(
            d.transitions[1].id,
            EventId::scheduled("lease/1", "term-end/2", 20),
            "ids are derived, not drawn"
        );
    }

    #[test]
    fn starting_twice_is_refused() {
        Spec::<Lease>::given([])
            .when(&LeaseCommand::Start, &ctx(0))
            .then(&[LeaseEvent::Started(Timestamp::from_micros(0))]);
        Spec::<Lease>::given([LeaseEvent::Started(Timestamp::from_micros(0))])
            .when(&LeaseCommand::Start, &ctx(1))
            .then_reject(ErrorCode::AlreadyExists);
    }

    #[test]
    fn a_rejection_still_reports_its_code() {
        let r = Spec::<Lease>::given([LeaseEvent::Started(Timestamp::from_micros(0))])
            .when(&LeaseCommand::Stop, &ctx(5))
            .then_reject(ErrorCode::CancellationWindowClosed);
        assert_eq!(r.message, "too late");
    }

    #[test]
    fn catching_up_is_idempotent_and_bounded() {
        let mut a = LeaseState::default();
        Lease::evolve(&mut a, &LeaseEvent::Started(Timestamp::from_micros(0)));
        let mut b = a.clone();
        let first = apply_due::<Lease>(&mut a, Timestamp::from_micros(1_000_000));
        assert_eq!(first.len(), MAX_TRANSITIONS);
        let ids: Vec<_> = apply_due::<Lease>(&mut b, Timestamp::from_micros(35))
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids, first.iter().take(3).map(|t| t.id).collect::<Vec<_>>());
    }

    #[test]
    fn new_ids_are_v7_deterministic_and_distinct() {
        let c = ctx(0);
        let a = c.new_id("order", 0);
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(a, c.new_id("order", 0));
        assert_ne!(a, c.new_id("order", 1));
        assert_ne!(a, c.new_id("subscription", 0));
        assert_eq!(&a.as_bytes()[..6], &c.seed.as_bytes()[..6]);
    }

    #[test]
    fn aggregates_keep_their_due_index_and_catch_up_term_by_term() {
        let mut leases: Aggregates<u32, Lease> = Aggregates::default();
        leases.evolve(1, &LeaseEvent::Started(Timestamp::from_micros(0)));
        leases.evolve(2, &LeaseEvent::Started(Timestamp::from_micros(5)));
        assert_eq!(leases.next_due_at(), Some(Timestamp::from_micros(10)));
        // At 16: lease 1 renewed at 10, lease 2 at 15; nothing else.
        let due = leases.due(Timestamp::from_micros(16));
        let at: Vec<(u32, i64)> = due
            .iter()
            .map(|(id, t)| (*id, t.effective_at.as_micros()))
            .collect();
        assert_eq!(at, vec![(1, 10), (2, 15)]);
        // Down until 31: lease 1 catches up term by term, each with its own time.
        let of_1: Vec<i64> = leases
            .due_of(1, Timestamp::from_micros(31))
            .iter()
            .map(|t| t.effective_at.as_micros())
            .collect();
        assert_eq!(of_1, vec![10, 20, 30]);
        // Once recorded, they are no longer due; a stopped lease schedules nothing.
        for (id, t) in due {
            leases.evolve(id, &t.event);
        }
        assert!(leases.due(Timestamp::from_micros(16)).is_empty());
        leases.evolve(2, &LeaseEvent::Stopped);
        assert_eq!(leases.next_due_at(), Some(Timestamp::from_micros(20)));
        assert!(leases.due_of(2, Timestamp::from_micros(1_000)).is_empty());
        assert_eq!(leases.len(), 2);
    }

    #[test]
    fn aggregates_decide_with_what_is_due_applied_first() {
        let mut leases: Aggregates<u32, Lease> = Aggregates::default();
        leases.evolve(7, &LeaseEvent::Started(Timestamp::from_micros(0)));
        let d = leases
            .decide(7, &LeaseCommand::Stop, &ctx(21))
            .expect("inside the third term's window");
        assert_eq!(d.transitions.len(), 2);
        assert_eq!(d.events, vec![LeaseEvent::Stopped]);
        // An aggregate nothing happened to decides from its default state.
        assert_eq!(
            leases
                .decide(8, &LeaseCommand::Stop, &ctx(0))
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
    }
}
