//! What a service is, to the runtime: a state folded from its log, a table of endpoints whose
//! handlers are pure functions of that state, and the transitions the state schedules.
//!
//! The runtime ([`crate::runtime`]) owns everything else — decoding, authentication,
//! idempotency, event envelopes, append, apply, reply — the way an HTTP framework owns routing,
//! so the four services read alike and hold only what is particular to them.

use std::sync::Arc;

use csp_events::api::{decode_json, CommandBody, QueryBody};
use csp_events::kernel::{to_json, Context, Rejection};
pub use csp_events::kernel::{Decided, Emit};
use csp_events::{ApiError, Envelope, EventId, EventKind, RequestId, Timestamp};
use serde::Serialize;
use serde_json::Value;

/// A csp service, as the runtime runs it.
pub trait Service: Send + Sync + 'static {
    /// The service name: subject token (`csp.cmd.<NAME>.…`) and `$SRV` name.
    const NAME: &'static str;
    /// Semantic version, shown by `$SRV.INFO`: csp's, since the workspace is versioned (and
    /// released) as one; a service built on its own would say its own.
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// One line for `$SRV.INFO`.
    const DESCRIPTION: &'static str;

    /// What the service is started with besides its log: reference data its handlers decide
    /// with (ordering's catalog), never anything that changes what happened. Handlers receive
    /// it beside the state; it is never folded, never digested. `()` for none.
    type Config: Send + Sync + 'static;

    /// Everything the service knows: a fold of its log, from `Default` (nothing happened yet).
    /// It serialises deterministically (ordered maps, no hashing order), so the runtime
    /// digests any state the same way live and in replay ([`crate::runtime::digest`]).
    type State: Default + Serialize + Send + Sync + 'static;

    /// Folds one recorded event: the service's own, or a copy of an upstream event (`origin`
    /// names its producer). Replay and live serving both call only this, in log order, so live
    /// state always equals replayed state.
    fn apply(state: &mut Self::State, event: &Envelope, origin: Origin<'_>);

    /// Folds one recorded event given also the bytes the log stores for it — for an upstream
    /// copy, exactly the bytes its producer published. The runtime calls only this; it calls
    /// [`Service::apply`] unless a service needs the bytes themselves (audit hashes them into
    /// its Merkle tree, so a leaf is what was published, not a re-encoding of it).
    fn apply_recorded(state: &mut Self::State, event: &Envelope, bytes: &[u8], origin: Origin<'_>) {
        let _ = bytes;
        Self::apply(state, event, origin);
    }

    /// The endpoint table.
    fn endpoints() -> Endpoints<Self>
    where
        Self: Sized;

    /// Transitions due at or before `now`, as events with deterministic ids (see
    /// `EventId::scheduled`) and their true `effective_at`. The scheduler appends them; a
    /// transition already in the log is deduplicated by its id.
    fn due(_state: &Self::State, _config: &Self::Config, _now: Timestamp) -> Vec<Emit> {
        Vec::new()
    }

    /// Whether [`Service::due`] waits for upstream: asked with `now` no later than the lowest
    /// horizon of the producers it consumes (how far each is known, from heartbeats, to have
    /// recorded everything effective earlier, and this service to have consumed it), and not
    /// at all before each was heard from. Billing: a charge is never recorded ahead of a
    /// cancellation effective before it, and a month closes only once its past is complete.
    const DUE_AFTER_UPSTREAM: bool = false;

    /// What an operator checks first about the state — cheap counts, read under the state's
    /// lock — shown by `csp.admin.<service>.status` and printed by `csp replay`, beside the
    /// state digest the runtime adds when asked. `null` for a service that has none.
    fn summary(_state: &Self::State) -> Value {
        Value::Null
    }

    /// Whether this service keeps its producers' events without reading them: a record of a
    /// kind this build does not know (a producer upgraded first) is kept, and folded, with its
    /// header and a stand-in payload ([`csp_events::codec::decode_opaque`]), where any other
    /// consumer holds it back until it is upgraded. Audit, which hashes the bytes as they were
    /// published, sets it; a service that reacts to what events say must not.
    const OPAQUE_UPSTREAM: bool = false;

    /// The producers whose events this service consumes (each one's whole subject space).
    fn consumes() -> &'static [&'static str] {
        &[]
    }

    /// Whether an event of this service goes out on the bus (`CSP_EVENTS`, with an outbox
    /// sequence) or stays in its own log. A service publishes its contract: the events other
    /// services consume. One that nobody consumes (the service's own bookkeeping) costs the bus
    /// a stored message, a dedupe entry and a delivery per event for nothing, so a service may
    /// keep it. Decided per event kind, so a consumer gets every event of a kind or none; the
    /// log numbers only what is published, so the outbox sequence stays contiguous, and a kind
    /// can be published from some release on (its earlier events are then not in the stream).
    fn publishes(_kind: EventKind) -> bool {
        true
    }

    /// What reactions are decided against: the state plus what the batch being appended has
    /// added so far, aggregate by aggregate (see [`Scratch`]). A service with no reactions, or
    /// whose reactions need nothing beyond the folded state, uses [`Unchanged`].
    type Scratch<'a>: Scratch
    where
        Self: 'a;

    /// A scratch over `state` with nothing added yet: one per appended batch, never a copy of
    /// the state.
    fn scratch(state: &Self::State) -> Self::Scratch<'_>;

    /// The reactions to one upstream event: a pure function of the scratch (the state, every
    /// earlier upstream event of the batch and the reactions decided for them, and the
    /// transitions the runtime recorded first), the configuration and [`Upstream`] (the event
    /// and its producer). The runtime gives each reaction without an id
    /// `EventId::reaction(consumer, upstream, index)` and without a business time the upstream event's
    /// `effective_at`, so a redelivered event decided again yields events the log already
    /// holds, and a consumer that was down files a March event in March. Replay never calls
    /// this: the reactions are in the log.
    fn react(
        _scratch: &Self::Scratch<'_>,
        _config: &Self::Config,
        _upstream: &Upstream<'_>,
    ) -> Vec<Emit> {
        Vec::new()
    }

    /// An **effect**: what must happen outside the log once `event` is durable and folded
    /// (entitlement destroys a revoked key's data key). The applier runs it for each event it
    /// folds, before anyone waiting for that event is woken, so a reply that follows an event
    /// follows its effect too. It must be idempotent: a crash between the event and its effect
    /// is repaired by [`Service::recover`] at the next start, which may redo it. A failure is
    /// logged and left to `recover`; it never stops the fold.
    fn effect(
        _config: &Self::Config,
        _state: &Self::State,
        _event: &Envelope,
    ) -> Result<(), String> {
        Ok(())
    }

    /// A **notice**: a message published (plain NATS, at most once, not kept in a stream)
    /// once `event` is durable and folded live — audit's signed checkpoints on
    /// `csp.audit.checkpoint`, for partners and auditors who keep them outside csp. Never
    /// during replay; a notice lost to a crash or a disconnect is not sent again (whoever
    /// needs every one reads them from the service's queries). `(subject, body)`, or `None`.
    fn notice(_config: &Self::Config, _event: &Envelope) -> Option<(String, Vec<u8>)> {
        None
    }

    /// At start-up, after the log is replayed and before anything is served: redoes every
    /// effect the state says is due and may not be done (and undoes what a crash left half
    /// made, such as data keys sealed for an import that was never recorded). Idempotent.
    fn recover(_config: &Self::Config, _state: &Self::State) -> Result<(), String> {
        Ok(())
    }
}

/// The state a batch of reactions is decided against, changed only for the aggregates the
/// batch touches (the kernel's `Overlay` keeps a copy of those alone: a catch-up batch of
/// 1,000 events never clones the whole state). For each upstream event of a batch the runtime
/// calls, in order: [`Scratch::catch_up`] (and records what it returns ahead of the upstream
/// copy), then [`Service::react`], then [`Scratch::fold_upstream`] and [`Scratch::fold_own`]
/// for each reaction.
pub trait Scratch {
    /// The due transitions of the aggregates `upstream` touches that fall due at or before its
    /// `effective_at`, applied to this scratch. The runtime records them before the upstream
    /// copy, each with its own business time and derived id, so a subscription's first charge
    /// is billed before a cancellation in the same batch is refunded.
    fn catch_up(&mut self, _upstream: &Envelope) -> Vec<Emit> {
        Vec::new()
    }

    /// Folds an upstream event the batch records.
    fn fold_upstream(&mut self, _upstream: &Envelope, _producer: &str) {}

    /// Folds one of the service's own events the batch records (a reaction).
    fn fold_own(&mut self, _event: &Emit) {}
}

/// What a consumer decided for one upstream event of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// Its own transitions due before the upstream event, recorded ahead of its copy.
    pub before: Vec<Emit>,
    /// Its reactions, each with its id and business time set.
    pub reactions: Vec<Emit>,
}

/// Decides a batch of upstream events from `producer`, in order, exactly as the inbox records
/// it (and as [`spec::ReactionSpec`] tests it): for each, what falls due before it, then its
/// reactions against the scratch — each reaction without an id gets
/// `EventId::reaction(consumer, upstream, index)`, without a business time the upstream event's
/// `effective_at` (never the consumer's clock) — then both folded into the scratch for the
/// events after it.
pub fn decide_batch<S: Service>(
    state: &S::State,
    config: &S::Config,
    producer: &str,
    batch: &[Envelope],
) -> Vec<BatchItem> {
    let mut scratch = S::scratch(state);
    batch
        .iter()
        .map(|env| {
            let before = scratch.catch_up(env);
            let upstream = Upstream {
                producer,
                event: env,
            };
            let reactions: Vec<Emit> = S::react(&scratch, config, &upstream)
                .into_iter()
                .enumerate()
                .map(|(k, mut e)| {
                    if e.id.is_none() {
                        e.id = Some(EventId::reaction(S::NAME, env.event_id, k as u32));
                    }
                    if e.effective_at.is_none() {
                        e.effective_at = Some(env.effective_at);
                    }
                    e
                })
                .collect();
            scratch.fold_upstream(env, producer);
            for r in &reactions {
                scratch.fold_own(r);
            }
            BatchItem { before, reactions }
        })
        .collect()
}

/// Given / when / then for reactions, as `csp_events::kernel::spec` is for commands:
///
/// ```text
/// ReactionSpec::<Watcher>::given((), [watched]).when("counter", &[incremented, expired])
///     .then_before(1, &[ended]);
/// ```
pub mod spec {
    use super::*;

    /// A consumer's state, folded from its own past events.
    pub struct ReactionSpec<S: Service> {
        state: S::State,
        config: S::Config,
    }

    impl<S: Service> ReactionSpec<S> {
        /// The state after `events` (the consumer's own, folded as replay folds them).
        pub fn given(config: S::Config, events: impl IntoIterator<Item = Envelope>) -> Self {
            let mut state = S::State::default();
            for e in events {
                let bytes = csp_events::codec::encode(&e);
                S::apply_recorded(&mut state, &e, &bytes, Origin::Own);
            }
            ReactionSpec { state, config }
        }

        /// Decides `batch` from `producer` in one go, as the inbox would.
        pub fn when(&self, producer: &str, batch: &[Envelope]) -> Vec<BatchItem> {
            decide_batch::<S>(&self.state, &self.config, producer, batch)
        }
    }
}

/// The scratch of a service whose reactions read the folded state only (or that has none).
pub struct Unchanged<'a, St>(pub &'a St);

impl<St> Scratch for Unchanged<'_, St> {}

impl<St> std::ops::Deref for Unchanged<'_, St> {
    type Target = St;
    fn deref(&self) -> &St {
        self.0
    }
}

/// Decodes a record of `S`'s log (`stream` is where it was appended): an upstream copy of a
/// kind this build does not know is read opaquely if `S` keeps upstream events unread.
pub(crate) fn decode_record<S: Service>(
    stream: &str,
    bytes: &[u8],
) -> Result<Envelope, csp_events::codec::DecodeError> {
    match stream.strip_prefix(crate::core::INBOX_PREFIX) {
        Some(producer) if S::OPAQUE_UPSTREAM => csp_events::codec::decode_opaque(bytes, producer),
        _ => csp_events::codec::decode(bytes),
    }
}

/// Where a folded event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// The service recorded it (a command's event, a transition, a reaction).
    Own,
    /// A copy of an event `producer` published, kept in this log ahead of its reactions.
    Upstream {
        /// The producing service's name.
        producer: &'a str,
    },
}

/// One upstream event being reacted to.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    /// The producing service (audit, consuming several, attributes every event by it).
    pub producer: &'a str,
    /// The event.
    pub event: &'a Envelope,
}

/// Who may call an endpoint, checked by the runtime before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated actor; the handler decides the rest (roles, tenants).
    Public,
    /// Only other csp services (tokens of the internal issuer, role `service`).
    Internal,
}

/// A command handler: a pure function of the state, the configuration, the decoded body and
/// the context, replying with the command's contract type. A domain function of this shape is
/// bound in the table as it is.
pub type CommandFn<S, C> = fn(
    &<S as Service>::State,
    &<S as Service>::Config,
    &C,
    &Context,
) -> Result<Decided<<C as CommandBody>::Reply>, Rejection>;

/// A query handler: like [`CommandFn`], answering the query's contract type and recording
/// nothing.
pub type QueryFn<S, Q> = fn(
    &<S as Service>::State,
    &<S as Service>::Config,
    &Q,
    &Context,
) -> Result<<Q as QueryBody>::Reply, Rejection>;

/// A command's shell step, run once before it is decided (outside the decide-and-retry loop,
/// after a retry with the same `request_id` has been answered from its record): work with side
/// effects the pure decision needs the result of — sealing imported keys into the keyring,
/// durably, so the event that refers to them may be recorded. It may read the state (to refuse
/// what would only be refused later, before doing the work).
pub type PrepareFn<S, C, P> =
    fn(&<S as Service>::State, &<S as Service>::Config, &C, &Context) -> Result<P, Rejection>;

/// A command decided with what its [`PrepareFn`] made.
pub type PreparedFn<S, C, P> = fn(
    &<S as Service>::State,
    &<S as Service>::Config,
    &C,
    &P,
    &Context,
) -> Result<Decided<<C as CommandBody>::Reply>, Rejection>;

/// A **recorded read**'s decision: the events the read records (who saw what, RULES.md K7) and
/// a handle the reply is made from once they are durable.
pub type RecordedFn<S, Q, H> = fn(
    &<S as Service>::State,
    &<S as Service>::Config,
    &Q,
    &Context,
) -> Result<Decided<H>, Rejection>;

/// Makes a recorded read's reply from its handle, after its events are durable: the one place
/// a secret may be opened (a product key for `get_key`). Never stored anywhere.
pub type RevealFn<S, Q, H> =
    fn(&<S as Service>::Config, H) -> Result<<Q as QueryBody>::Reply, Rejection>;

/// A decoded command, ready to be decided (possibly several times, on a version conflict).
pub(crate) trait Prepared<S: Service>: Send + Sync {
    fn request_id(&self) -> &RequestId;
    /// The shell step of a command that has one ([`Endpoints::prepared_command`]).
    fn prepare(
        &mut self,
        _state: &S::State,
        _config: &S::Config,
        _ctx: &Context,
    ) -> Result<(), Rejection> {
        Ok(())
    }
    fn decide(
        &self,
        state: &S::State,
        config: &S::Config,
        ctx: &Context,
    ) -> Result<Decided, Rejection>;
}

struct PreparedCommand<S: Service, C: CommandBody> {
    body: C,
    handler: CommandFn<S, C>,
}

impl<S: Service, C: CommandBody + Send + Sync> Prepared<S> for PreparedCommand<S, C> {
    fn request_id(&self) -> &RequestId {
        self.body.request_id()
    }
    fn decide(
        &self,
        state: &S::State,
        config: &S::Config,
        ctx: &Context,
    ) -> Result<Decided, Rejection> {
        (self.handler)(state, config, &self.body, ctx)?.into_json()
    }
}

struct PreparedWith<S: Service, C: CommandBody, P> {
    body: C,
    prepare: PrepareFn<S, C, P>,
    handler: PreparedFn<S, C, P>,
    made: Option<P>,
}

impl<S, C, P> Prepared<S> for PreparedWith<S, C, P>
where
    S: Service,
    C: CommandBody + Send + Sync,
    P: Send + Sync,
{
    fn request_id(&self) -> &RequestId {
        self.body.request_id()
    }
    fn prepare(
        &mut self,
        state: &S::State,
        config: &S::Config,
        ctx: &Context,
    ) -> Result<(), Rejection> {
        self.made = Some((self.prepare)(state, config, &self.body, ctx)?);
        Ok(())
    }
    fn decide(
        &self,
        state: &S::State,
        config: &S::Config,
        ctx: &Context,
    ) -> Result<Decided, Rejection> {
        let Some(made) = &self.made else {
            return Err(Rejection::new(
                csp_events::ErrorCode::Internal,
                "a prepared command was decided before its shell step ran",
            ));
        };
        (self.handler)(state, config, &self.body, made, ctx)?.into_json()
    }
}

/// A recorded read's events and the handle its reply is revealed from.
pub(crate) type ReadDecided<S> = (Vec<Emit>, Box<dyn Reveal<S>>);

/// A decoded recorded read: decided against the state (events and a handle), then revealed.
pub(crate) trait RecordedRead<S: Service>: Send + Sync {
    fn decide(
        &self,
        state: &S::State,
        config: &S::Config,
        ctx: &Context,
    ) -> Result<ReadDecided<S>, Rejection>;
}

/// What a recorded read reveals once its events are durable.
pub(crate) trait Reveal<S: Service>: Send {
    fn reveal(self: Box<Self>, config: &S::Config) -> Result<Value, Rejection>;
}

struct Read<S: Service, Q: QueryBody, H> {
    body: Q,
    decide: RecordedFn<S, Q, H>,
    reveal: RevealFn<S, Q, H>,
}

struct Handle<S: Service, Q: QueryBody, H> {
    handle: H,
    reveal: RevealFn<S, Q, H>,
}

impl<S, Q, H> Reveal<S> for Handle<S, Q, H>
where
    S: Service,
    Q: QueryBody + 'static,
    H: Send + 'static,
{
    fn reveal(self: Box<Self>, config: &S::Config) -> Result<Value, Rejection> {
        to_json(&(self.reveal)(config, self.handle)?)
    }
}

impl<S, Q, H> RecordedRead<S> for Read<S, Q, H>
where
    S: Service,
    Q: QueryBody + Send + Sync + 'static,
    H: Send + 'static,
{
    fn decide(
        &self,
        state: &S::State,
        config: &S::Config,
        ctx: &Context,
    ) -> Result<ReadDecided<S>, Rejection> {
        let d = (self.decide)(state, config, &self.body, ctx)?;
        let handle: Box<dyn Reveal<S>> = Box::new(Handle::<S, Q, H> {
            handle: d.reply,
            reveal: self.reveal,
        });
        Ok((d.events, handle))
    }
}

type DecodeCommand<S> = Box<dyn Fn(&[u8]) -> Result<Box<dyn Prepared<S>>, ApiError> + Send + Sync>;
type DecodeRead<S> = Box<dyn Fn(&[u8]) -> Result<Box<dyn RecordedRead<S>>, ApiError> + Send + Sync>;
type RunQuery<S> = Box<
    dyn Fn(
            &<S as Service>::State,
            &<S as Service>::Config,
            &[u8],
            &Context,
        ) -> Result<Value, Rejection>
        + Send
        + Sync,
>;

pub(crate) enum Handler<S: Service> {
    Command(DecodeCommand<S>),
    Query(RunQuery<S>),
    Recorded(DecodeRead<S>),
}

pub(crate) struct Endpoint<S: Service> {
    pub(crate) name: &'static str,
    pub(crate) subject: String,
    pub(crate) access: Access,
    pub(crate) handler: Handler<S>,
}

/// A service's endpoint table: `csp.cmd.<service>.<command>` and `csp.qry.<service>.<query>`,
/// each bound to its pure function.
pub struct Endpoints<S: Service> {
    pub(crate) list: Vec<Endpoint<S>>,
}

impl<S: Service> Default for Endpoints<S> {
    fn default() -> Self {
        Endpoints::new()
    }
}

impl<S: Service> Endpoints<S> {
    /// An empty table for `S`.
    pub fn new() -> Endpoints<S> {
        Endpoints { list: Vec::new() }
    }

    /// The subject of the command or query `name`, for tools that address endpoints by name
    /// (`csp send ordering place_order`).
    pub fn subject(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.subject.as_str())
    }

    /// Every endpoint's name, in table order.
    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|e| e.name).collect()
    }

    /// A command: decoded strictly from JSON, decided against the state, its events appended
    /// with its request record in one atomic batch.
    pub fn command<C>(mut self, handler: CommandFn<S, C>) -> Self
    where
        C: CommandBody + Send + Sync + 'static,
    {
        let decode: DecodeCommand<S> = Box::new(move |body| {
            let body: C = decode_json(body)?;
            Ok(Box::new(PreparedCommand::<S, C> { body, handler }) as Box<dyn Prepared<S>>)
        });
        self.list.push(Endpoint {
            name: C::NAME,
            subject: csp_events::subject::command(S::NAME, C::NAME),
            access: Access::Public,
            handler: Handler::Command(decode),
        });
        self
    }

    /// A command with a shell step ([`PrepareFn`]) run once before the pure decision
    /// ([`PreparedFn`]), e.g. sealing imported keys into the keyring durably before the event
    /// that refers to them. Otherwise exactly a [`Endpoints::command`].
    pub fn prepared_command<C, P>(
        mut self,
        prepare: PrepareFn<S, C, P>,
        handler: PreparedFn<S, C, P>,
    ) -> Self
    where
        C: CommandBody + Send + Sync + 'static,
        P: Send + Sync + 'static,
    {
        let decode: DecodeCommand<S> = Box::new(move |body| {
            let body: C = decode_json(body)?;
            Ok(Box::new(PreparedWith::<S, C, P> {
                body,
                prepare,
                handler,
                made: None,
            }) as Box<dyn Prepared<S>>)
        });
        self.list.push(Endpoint {
            name: C::NAME,
            subject: csp_events::subject::command(S::NAME, C::NAME),
            access: Access::Public,
            handler: Handler::Command(decode),
        });
        self
    }

    /// A **recorded read** (DESIGN.md "Endpoint kinds"): a read whose access is itself a fact.
    /// Decided against the state like a query, its events (a key shown, a link issued) are
    /// appended and durable **before** the reply is made by `reveal` — if they cannot be
    /// recorded, nothing is revealed. Served on `csp.qry.<service>.<name>`, never stored (no
    /// request record: the reply may hold a secret), never accepted fire-and-forget.
    pub fn recorded_read<Q, H>(
        mut self,
        decide: RecordedFn<S, Q, H>,
        reveal: RevealFn<S, Q, H>,
    ) -> Self
    where
        Q: QueryBody + Send + Sync + 'static,
        H: Send + 'static,
    {
        let decode: DecodeRead<S> = Box::new(move |body| {
            let body: Q = decode_json(body)?;
            Ok(Box::new(Read::<S, Q, H> {
                body,
                decide,
                reveal,
            }) as Box<dyn RecordedRead<S>>)
        });
        self.list.push(Endpoint {
            name: Q::NAME,
            subject: csp_events::subject::query(S::NAME, Q::NAME),
            access: Access::Public,
            handler: Handler::Recorded(decode),
        });
        self
    }

    /// A query: answered from the state, recording nothing (but a `forbidden`).
    pub fn query<Q>(self, handler: QueryFn<S, Q>) -> Self
    where
        Q: QueryBody + Send + Sync + 'static,
    {
        self.query_with(Access::Public, handler)
    }

    /// A query only other csp services may call (e.g. `events_from`).
    pub fn internal_query<Q>(self, handler: QueryFn<S, Q>) -> Self
    where
        Q: QueryBody + Send + Sync + 'static,
    {
        self.query_with(Access::Internal, handler)
    }

    fn query_with<Q>(mut self, access: Access, handler: QueryFn<S, Q>) -> Self
    where
        Q: QueryBody + Send + Sync + 'static,
    {
        let run: RunQuery<S> = Box::new(move |state, config, body, ctx| {
            let q: Q = decode_json(body)?;
            to_json(&handler(state, config, &q, ctx)?)
        });
        self.list.push(Endpoint {
            name: Q::NAME,
            subject: csp_events::subject::query(S::NAME, Q::NAME),
            access,
            handler: Handler::Query(run),
        });
        self
    }
}

/// Shared, read-only view of the endpoint table.
pub(crate) type Table<S> = Arc<Vec<Endpoint<S>>>;
