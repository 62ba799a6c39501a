//! What a service is, to the runtime: a state folded from its log, a table of endpoints whose
//! handlers are pure functions of that state, and the transitions the state schedules.
//!
//! The runtime ([`crate::runtime`]) owns everything else — decoding, authentication,
//! idempotency, event envelopes, append, apply, reply — the way an HTTP framework owns routing,
//! so the four services read alike and hold only what is particular to them.

use std::sync::Arc;

use csp_events::api::{decode_json, CommandBody, QueryBody};
use csp_events::kernel::{Context, Rejection};
use csp_events::{ApiError, Envelope, Event, EventId, EventKind, RequestId, TenantId, Timestamp};
use serde_json::Value;

/// A csp service, as the runtime runs it.
pub trait Service: Send + Sync + 'static {
    /// The service name: subject token (`csp.cmd.<NAME>.…`) and `$SRV` name.
    const NAME: &'static str;
    /// Semantic version, shown by `$SRV.INFO`.
    const VERSION: &'static str;
    /// One line for `$SRV.INFO`.
    const DESCRIPTION: &'static str;

    /// What the service is started with besides its log: reference data its handlers decide
    /// with (ordering's catalog), never anything that changes what happened. `()` for none.
    type Config: Send + Sync + 'static;

    /// Everything the service knows: a fold of its log (plus the configuration it was given).
    type State: Send + Sync + 'static;

    /// The state before the first event.
    fn init(config: &Self::Config) -> Self::State;

    /// Folds one recorded event. Replay and live serving both call only this, in log order, so
    /// live state always equals replayed state.
    fn apply(state: &mut Self::State, event: &Envelope);

    /// The endpoint table.
    fn endpoints() -> Endpoints<Self::State>;

    /// Transitions due at or before `now`, as events with deterministic ids (see
    /// `EventId::scheduled`) and their true `effective_at`. The scheduler appends them; a
    /// transition already in the log is deduplicated by its id.
    fn due(_state: &Self::State, _now: Timestamp) -> Vec<Emit> {
        Vec::new()
    }

    /// What an operator checks first about the state — counts, and with `digest` a digest of
    /// the whole state — shown by `csp.admin.<service>.status` from the live state and printed
    /// by `csp replay` from a fold of the log, so the two can be compared. The counts must be
    /// cheap (they are read under the state's lock); the digest is asked for explicitly.
    /// `null` for a service that has none.
    fn summary(_state: &Self::State, _digest: bool) -> Value {
        Value::Null
    }

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

    /// The reactions to one upstream event, a pure function of the state, the event, and the
    /// upstream events `pending` ahead of it in the same batch (appended together with it, so
    /// not yet folded into `state`: a reaction that depends on an earlier upstream event looks
    /// there first). The runtime gives each reaction without an id
    /// `EventId::reaction(upstream, index)`, so a redelivered event decided again yields events
    /// the log already holds. Replay never calls this: the reactions are in the log.
    fn react(_state: &Self::State, _pending: &[Envelope], _upstream: &Envelope) -> Vec<Emit> {
        Vec::new()
    }
}

/// An event a handler wants recorded. The runtime wraps it in an envelope: id (unless given),
/// stream version, times, actor, correlation.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// The stream it belongs to.
    pub stream: String,
    /// The event.
    pub event: Event,
    /// Business time; `None` means the command's `now`.
    pub effective_at: Option<Timestamp>,
    /// A deterministic id for derived events (transitions, reactions); `None` draws a UUID v7.
    pub id: Option<EventId>,
    /// Partner tenant (subject token).
    pub partner: Option<TenantId>,
    /// Customer tenant (subject token).
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

    /// Makes it a derived event: deterministic id, its own business time.
    pub fn derived(mut self, id: EventId, effective_at: Timestamp) -> Emit {
        self.id = Some(id);
        self.effective_at = Some(effective_at);
        self
    }
}

/// What a command handler decided: the events to record and the result to reply with.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// Events, in order.
    pub events: Vec<Emit>,
    /// The `result` of the `{"ok":true,"result":...}` reply.
    pub reply: Value,
}

/// Who may call an endpoint, checked by the runtime before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated actor; the handler decides the rest (roles, tenants).
    Public,
    /// Only other csp services (tokens of the internal issuer, role `service`).
    Internal,
}

/// A decoded command, ready to be decided (possibly several times, on a version conflict).
pub(crate) trait Prepared<St>: Send + Sync {
    fn request_id(&self) -> &RequestId;
    fn decide(&self, state: &St, ctx: &Context) -> Result<Decided, Rejection>;
}

struct PreparedCommand<C, St> {
    body: C,
    handler: fn(&St, &C, &Context) -> Result<Decided, Rejection>,
}

impl<C: CommandBody + Send + Sync, St> Prepared<St> for PreparedCommand<C, St> {
    fn request_id(&self) -> &RequestId {
        self.body.request_id()
    }
    fn decide(&self, state: &St, ctx: &Context) -> Result<Decided, Rejection> {
        (self.handler)(state, &self.body, ctx)
    }
}

type DecodeCommand<St> =
    Box<dyn Fn(&[u8]) -> Result<Box<dyn Prepared<St>>, ApiError> + Send + Sync>;
type RunQuery<St> = Box<dyn Fn(&St, &[u8], &Context) -> Result<Value, Rejection> + Send + Sync>;

pub(crate) enum Handler<St> {
    Command(DecodeCommand<St>),
    Query(RunQuery<St>),
}

pub(crate) struct Endpoint<St> {
    pub(crate) name: &'static str,
    pub(crate) subject: String,
    pub(crate) access: Access,
    pub(crate) handler: Handler<St>,
}

/// A service's endpoint table: `csp.cmd.<service>.<command>` and `csp.qry.<service>.<query>`.
pub struct Endpoints<St> {
    service: &'static str,
    pub(crate) list: Vec<Endpoint<St>>,
}

impl<St: Send + Sync + 'static> Endpoints<St> {
    /// An empty table for `service`.
    pub fn new(service: &'static str) -> Endpoints<St> {
        Endpoints {
            service,
            list: Vec::new(),
        }
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
    pub fn command<C>(
        mut self,
        handler: fn(&St, &C, &Context) -> Result<Decided, Rejection>,
    ) -> Self
    where
        C: CommandBody + Send + Sync + 'static,
    {
        let decode: DecodeCommand<St> = Box::new(move |body| {
            let body: C = decode_json(body)?;
            Ok(Box::new(PreparedCommand { body, handler }) as Box<dyn Prepared<St>>)
        });
        self.list.push(Endpoint {
            name: C::NAME,
            subject: csp_events::subject::command(self.service, C::NAME),
            access: Access::Public,
            handler: Handler::Command(decode),
        });
        self
    }

    /// A query: answered from the state, recording nothing (but a `forbidden`).
    pub fn query<Q>(self, handler: fn(&St, &Q, &Context) -> Result<Value, Rejection>) -> Self
    where
        Q: QueryBody + Send + Sync + 'static,
    {
        self.query_with(Access::Public, handler)
    }

    /// A query only other csp services may call (e.g. `events_from`).
    pub fn internal_query<Q>(
        self,
        handler: fn(&St, &Q, &Context) -> Result<Value, Rejection>,
    ) -> Self
    where
        Q: QueryBody + Send + Sync + 'static,
    {
        self.query_with(Access::Internal, handler)
    }

    fn query_with<Q>(
        mut self,
        access: Access,
        handler: fn(&St, &Q, &Context) -> Result<Value, Rejection>,
    ) -> Self
    where
        Q: QueryBody + Send + Sync + 'static,
    {
        let run: RunQuery<St> = Box::new(move |state, body, ctx| {
            let q: Q = decode_json(body)?;
            handler(state, &q, ctx)
        });
        self.list.push(Endpoint {
            name: Q::NAME,
            subject: csp_events::subject::query(self.service, Q::NAME),
            access,
            handler: Handler::Query(run),
        });
        self
    }
}

/// Shared, read-only view of the endpoint table.
pub(crate) type Table<St> = Arc<Vec<Endpoint<St>>>;
