//! The core every part of the runtime shares: the state as a fold of the log ([`Applied`],
//! [`replay`], the digest), what a running service holds ([`Shared`]), and how events get
//! recorded — envelopes, one atomic append with the request record, `forbidden` as one
//! `AccessRefused` — so the request path, the scheduler, the inbox, the outbox and
//! fire-and-forget all record the same way. It depends on none of them: the import graph of
//! the runtime is a tree with this at its root.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use csp_auth::{InternalIssuer, Verified, Verifier};
use csp_eventlog::{AppendError, AppendOutcome, Batch, EventLog, NewEvent, NewRequest};
use csp_events::event::AccessRefused;
use csp_events::kernel::{Context, Rejection};
use csp_events::{
    codec, ActorKind, ApiError, CorrelationId, Envelope, ErrorCode, EventId, Refused, Reply,
    Timestamp,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::error;
use uuid::Uuid;

use crate::bus::{Bus, BusError};
use crate::clock::Clock;
use crate::service::{Emit, Origin, Service, Table};

/// The log stream of a producer's upstream copies: `inbox/<producer>`.
pub(crate) const INBOX_PREFIX: &str = "inbox/";

/// What the consumers did, for `csp.admin.<service>.status` and tests.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) ingested: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) recovered: AtomicU64,
    pub(crate) quarantined: AtomicU64,
    pub(crate) held: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "ingested": self.ingested.load(Ordering::Relaxed),
            "duplicates": self.duplicates.load(Ordering::Relaxed),
            "recovered": self.recovered.load(Ordering::Relaxed),
            "quarantined": self.quarantined.load(Ordering::Relaxed),
            "held_newer_schema": self.held.load(Ordering::Relaxed),
        })
    }
}

/// The header carrying the token: `Authorization: Bearer <jwt>`.
pub const AUTHORIZATION: &str = "Authorization";

/// An optional header a client may set to tie its request to its own trace; a UUID.
pub const CORRELATION_ID: &str = "Csp-Correlation-Id";

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its log holds a record this build cannot read.
    #[error("event #{seq} of the log cannot be read by this build: {reason}")]
    Unreadable {
        /// The record's sequence number.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// Reading the log failed.
    #[error("reading the log: {0}")]
    Read(#[from] csp_eventlog::ReadError),
    /// The bus refused to serve the endpoints.
    #[error("serving the endpoints: {0}")]
    Bus(#[from] BusError),
    /// The effects a crash left undone could not be redone (`Service::recover`).
    #[error("recovering effects left undone: {0}")]
    Recover(String),
}

/// The state as of a log position, with each stream's version (for optimistic concurrency).
pub struct Applied<St> {
    /// The service's state.
    pub state: St,
    /// Each stream's last folded version.
    pub versions: HashMap<String, u64>,
    /// Per producer and epoch, the highest outbox sequence of the upstream copies in this log:
    /// where each consumer stands, as a fold of the log (so never behind it).
    pub inbox: HashMap<String, HashMap<Uuid, u64>>,
    /// The last folded sequence number.
    pub seq: u64,
}

pub(crate) struct Shared<S: Service> {
    pub(crate) name: &'static str,
    pub(crate) log: EventLog,
    pub(crate) clock: Clock,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) max_body_bytes: usize,
    pub(crate) applied: RwLock<Applied<S::State>>,
    pub(crate) applied_tx: watch::Sender<u64>,
    /// Set when the applier stopped (at shutdown, or at an event it cannot fold): whoever
    /// waits for a fold then stops waiting instead of hanging.
    pub(crate) applier_stopped: watch::Sender<bool>,
    /// Why the service halted, once it has: its applier met an event of its own log it cannot
    /// fold (corruption, or a log written by a newer build). From then on no append starts
    /// (one already past the check when the halt came is durable, never folded) and nothing is
    /// answered from a state that would be missing that event.
    pub(crate) halted: watch::Sender<Option<String>>,
    pub(crate) table: Table<S>,
    /// The configuration the service was started with (reference data its handlers read).
    pub(crate) config: S::Config,
    pub(crate) bus: Bus,
    pub(crate) internal: Option<Arc<InternalIssuer>>,
    pub(crate) counters: Counters,
    /// How many times the scheduler looked at what is due: a handful per interval when idle,
    /// reported by the status endpoint so a spinning scheduler shows.
    pub(crate) scheduler_looks: AtomicU64,
    /// What this service's heartbeat announces as `recorded_until`: the `now` of the
    /// scheduler's last look that found nothing (more) due, in microseconds; `i64::MIN` before
    /// the first.
    pub(crate) scheduled_until: AtomicI64,
    /// How far each consumed producer's past is known here: the `recorded_until` of its latest
    /// heartbeat whose outbox sequence this service has consumed (see [`Horizons`]).
    pub(crate) horizons: Horizons,
}

/// How far each consumed producer's past is known: the inbox raises a producer's horizon
/// once it has consumed up to a heartbeat's outbox sequence; a service whose transitions wait
/// for upstream (`Service::DUE_AFTER_UPSTREAM`) is asked what is due only up to the lowest.
/// In memory: after a restart the first heartbeat consumed sets it again.
#[derive(Default)]
pub(crate) struct Horizons {
    known: std::sync::Mutex<HashMap<&'static str, Timestamp>>,
    changed: watch::Sender<u64>,
}

impl Horizons {
    /// Raises `producer`'s horizon to `to` (never lowers it) and wakes the scheduler.
    pub(crate) fn raise(&self, producer: &'static str, to: Timestamp) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let raised = match known.get_mut(producer) {
            Some(h) if *h >= to => false,
            Some(h) => {
                *h = to;
                true
            }
            None => {
                known.insert(producer, to);
                true
            }
        };
        drop(known);
        if raised {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// The lowest horizon of `producers`; `None` while any of them has not been heard from.
    pub(crate) fn lowest(&self, producers: &[&str]) -> Option<Timestamp> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        producers
            .iter()
            .map(|p| known.get(p).copied())
            .try_fold(None::<Timestamp>, |low, h| {
                let h = h?;
                Some(Some(low.map_or(h, |l| l.min(h))))
            })
            .flatten()
    }

    /// Each known horizon, for the status endpoint.
    pub(crate) fn snapshot(&self) -> serde_json::Value {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = serde_json::Map::new();
        let mut names: Vec<_> = known.keys().collect();
        names.sort();
        for name in names {
            map.insert(name.to_string(), Value::String(known[name].to_string()));
        }
        Value::Object(map)
    }

    /// Wakes on every raise.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

pub(crate) fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The applier never panics while holding the lock (apply is total), and a poisoned lock
    // would otherwise take every request down with it.
    l.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Folds one record: the service's state, the stream's version, a consumer's position.
pub(crate) fn fold<S: Service>(
    applied: &mut Applied<S::State>,
    record: &csp_eventlog::Record,
    env: &Envelope,
) {
    let stream = record.stream();
    let producer = stream.strip_prefix(INBOX_PREFIX);
    let origin = match producer {
        Some(producer) => Origin::Upstream { producer },
        None => Origin::Own,
    };
    S::apply_recorded(&mut applied.state, env, record.bytes(), origin);
    if let (Some(producer), Some(pos)) = (producer, env.outbox) {
        let epochs = match applied.inbox.get_mut(producer) {
            Some(epochs) => epochs,
            None => applied.inbox.entry(producer.to_string()).or_default(),
        };
        let p = epochs.entry(pos.epoch).or_insert(0);
        *p = (*p).max(pos.seq);
    }
    // Most events extend a stream already folded: no new key to allocate.
    match applied.versions.get_mut(stream) {
        Some(v) => *v = record.version,
        None => {
            applied.versions.insert(stream.to_string(), record.version);
        }
    }
    applied.seq = record.seq;
}

impl<St> Applied<St> {
    /// Where the upstream copies in this log put the consumer of `producer` for `epoch` (0: none).
    pub fn inbox_position(&self, producer: &str, epoch: Uuid) -> u64 {
        self.inbox
            .get(producer)
            .and_then(|epochs| epochs.get(&epoch))
            .copied()
            .unwrap_or(0)
    }
}

/// Folds the whole log into a fresh state: what start-up and `csp replay` do.
pub fn replay<S: Service>(log: &EventLog) -> Result<Applied<S::State>, StartError> {
    replay_until::<S>(log, None, |_| {})
}

/// Folds the log into a fresh state up to `until` (all of it for `None`): the events recorded
/// at or before it — the longest prefix of the log recorded by then, as the service held it
/// at that moment (live state is always a fold of a prefix). `progress` is told the seq
/// folded every 100,000 events, for a long log's progress line.
pub fn replay_until<S: Service>(
    log: &EventLog,
    until: Option<Timestamp>,
    mut progress: impl FnMut(u64),
) -> Result<Applied<S::State>, StartError> {
    let mut applied = Applied {
        state: S::State::default(),
        versions: HashMap::new(),
        inbox: HashMap::new(),
        seq: 0,
    };
    for record in log.read_from(1) {
        let record = record?;
        let env =
            crate::service::decode_record::<S>(record.stream(), record.bytes()).map_err(|e| {
                StartError::Unreadable {
                    seq: record.seq,
                    reason: e.to_string(),
                }
            })?;
        if until.is_some_and(|t| env.recorded_at > t) {
            break;
        }
        fold::<S>(&mut applied, &record, &env);
        if record.seq % 100_000 == 0 {
            progress(record.seq);
        }
    }
    Ok(applied)
}

/// Waits until the applier has folded `seq`; false if it stopped short of it (the events are
/// durable all the same: the state just does not show them).
pub(crate) async fn wait_applied<S: Service>(shared: &Shared<S>, seq: u64) -> bool {
    let mut applied = shared.applied_tx.subscribe();
    let mut stopped = shared.applier_stopped.subscribe();
    tokio::select! {
        r = applied.wait_for(|applied| *applied >= seq) => r.is_ok(),
        _ = stopped.wait_for(|stopped| *stopped) => *shared.applied_tx.borrow() >= seq,
    }
}

pub(crate) fn error_reply(e: ApiError) -> Bytes {
    Bytes::from(Reply::Err(e).to_bytes())
}

/// Decisions retried on a version conflict before answering `conflict`.
pub(crate) const MAX_ATTEMPTS: usize = 8;

/// The answer of a halted service, to every request but an operator's status.
pub(crate) fn halted_error(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!(
            "the service halted: {why}; it records and answers nothing until an operator \
             repairs its log (`csp log --verify`) and restarts it"
        ),
    )
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("storage unavailable ({e}); retry with the same request_id"),
    )
}

/// The context a handler decides in. Its entropy (key material) comes from the OS, not from
/// UUIDs; if the OS cannot give any, the request is `unavailable` rather than decided with
/// weak randomness.
pub(crate) fn context<S: Service>(
    shared: &Shared<S>,
    verified: &Verified,
) -> Result<Context, ApiError> {
    let mut entropy = [0u8; 32];
    getrandom::fill(&mut entropy).map_err(|e| {
        error!(
            service = shared.name,
            "the operating system gave no randomness: {e}"
        );
        ApiError::new(
            ErrorCode::Unavailable,
            "the service cannot draw randomness right now; retry with the same request_id",
        )
    })?;
    Ok(Context {
        now: shared.clock.now(),
        actor: verified.actor.clone(),
        seed: Uuid::now_v7(),
        entropy,
    })
}

/// Splits a refusal into what the runtime records (whom it concerned: [`Refused`], set by the
/// tenancy checks) and what the actor is told, which never names them.
pub(crate) fn take_refused(mut r: Rejection) -> (Refused, Rejection) {
    let refused = r.refused.take().map(|b| *b).unwrap_or_default();
    (refused, r)
}

pub(crate) fn access_refused<S: Service>(
    action: &str,
    r: &Rejection,
    verified: &Verified,
    refused: Refused,
) -> Emit {
    let actor = &verified.actor;
    let partner = (actor.kind == ActorKind::Partner).then_some(actor.tenant);
    let customer = refused.customer;
    Emit::new(
        format!("access-refused/{}", actor.tenant),
        AccessRefused {
            service: S::NAME.to_string(),
            action: action.to_string(),
            customer,
            reason: format!("{}: {}", r.code, r.message),
            item: refused.item,
        },
    )
    .tenants(partner, customer)
}

/// Records a refusal outside a command (queries, internal and admin endpoints) and answers it
/// (`forbidden`, or `not_found` for what the actor may not know exists).
pub(crate) async fn refuse<S: Service>(
    shared: &Shared<S>,
    action: &str,
    r: Rejection,
    verified: &Verified,
    correlation: Uuid,
) -> Bytes {
    let (refused, r) = take_refused(r);
    let emit = access_refused::<S>(action, &r, verified, refused);
    // A refusal decides nothing and needs no key material: it is recorded even when the OS
    // has no randomness to give.
    let ctx = Context {
        now: shared.clock.now(),
        actor: verified.actor.clone(),
        seed: Uuid::now_v7(),
        entropy: [0; 32],
    };
    for _ in 0..MAX_ATTEMPTS {
        match append_emits(
            shared,
            vec![emit.clone()],
            Some(&ctx),
            Some(correlation),
            None,
            None,
        )
        .await
        {
            Ok(Some(last)) => {
                wait_applied(shared, last).await;
                break;
            }
            Err(AppendFailure::Conflict) => {
                let last = shared.log.last_seq();
                wait_applied(shared, last).await;
            }
            Ok(None) | Err(_) => break,
        }
    }
    error_reply(r)
}

#[derive(Debug)]
pub(crate) enum AppendFailure {
    AlreadyRecorded(Bytes),
    Conflict,
    IdempotencyConflict,
    Failed(ApiError),
}

/// Wraps emits in envelopes (versions from the applied state as it is now) and appends them
/// with the request record in one batch: for what decides nothing from the state (refusals,
/// quarantines, rejected commands). Returns the last new sequence number, if anything new was
/// written.
pub(crate) async fn append_emits<S: Service>(
    shared: &Shared<S>,
    emits: Vec<Emit>,
    ctx: Option<&Context>,
    correlation: Option<Uuid>,
    request: Option<NewRequest>,
    causation: Option<Uuid>,
) -> Result<Option<u64>, AppendFailure> {
    let events = {
        let applied = read_lock(&shared.applied);
        stamp(
            shared,
            &applied,
            Vec::new(),
            emits,
            ctx,
            correlation,
            causation,
        )
    };
    append_stamped(shared, events, request).await
}

/// An upstream event, stored verbatim (as published, outbox position included) in the
/// consumer's own log, ahead of its reactions and in the same batch.
pub(crate) struct Ingest {
    /// The log stream of a producer's copies (`inbox/<producer>`).
    pub(crate) stream: String,
    /// The upstream event's own id: a redelivery is deduplicated on it.
    pub(crate) event_id: Uuid,
    /// The bytes as published.
    pub(crate) bytes: Vec<u8>,
    /// Its correlation id, which its reactions carry on.
    pub(crate) correlation: Uuid,
    /// The consumer's own due transitions recorded ahead of it (see `Scratch::catch_up`).
    pub(crate) before: Vec<Emit>,
    /// Its reactions (ids derived from it).
    pub(crate) reactions: Vec<Emit>,
}

/// The envelope the runtime records an emit in — the one place that decides ids, times,
/// causation and correlation, for the runtime and the in-memory harness alike: a fresh UUID v7
/// unless the emit carries a derived id; business time `now` unless it says otherwise; caused
/// by `causation`, else by the request it belongs to.
pub(crate) fn envelope(
    emit: Emit,
    version: u64,
    now: csp_events::Timestamp,
    actor: &csp_events::Actor,
    correlation: Uuid,
    causation: Option<Uuid>,
) -> Envelope {
    Envelope {
        event_id: emit.id.unwrap_or_else(|| EventId(Uuid::now_v7())),
        stream: emit.stream,
        stream_version: version,
        recorded_at: now,
        effective_at: emit.effective_at.unwrap_or(now),
        causation_id: causation.or(Some(correlation)),
        correlation_id: CorrelationId(correlation),
        actor: actor.clone(),
        partner: emit.partner,
        customer: emit.customer,
        schema_version: codec::SCHEMA_VERSION,
        payload: emit.event,
        outbox: None,
    }
}

/// Envelopes for `emits`, after every upstream copy with what fell due before it and its
/// reactions, versioned from `applied` — which must be the very state they were decided on,
/// read under the same lock: a version taken from a later state would hide a concurrent change
/// from the log's optimistic check (two racing cancels would both be recorded).
pub(crate) fn stamp<S: Service>(
    shared: &Shared<S>,
    applied: &Applied<S::State>,
    ingests: Vec<Ingest>,
    emits: Vec<Emit>,
    ctx: Option<&Context>,
    correlation: Option<Uuid>,
    causation: Option<Uuid>,
) -> Vec<NewEvent> {
    let now = ctx.map_or_else(|| shared.clock.now(), |c| c.now);
    let actor = ctx.map_or_else(
        || csp_events::Actor::system(shared.name),
        |c| c.actor.clone(),
    );
    let correlation = correlation.unwrap_or_else(Uuid::now_v7);
    let mut events = Vec::with_capacity(emits.len() + ingests.len() * 2);
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut version = |stream: &str| -> u64 {
        let v = next
            .entry(stream.to_string())
            .or_insert_with(|| applied.versions.get(stream).copied().unwrap_or(0));
        *v += 1;
        *v
    };
    let make = |emit: Emit, version: u64, correlation: Uuid, causation: Option<Uuid>| {
        let env = envelope(emit, version, now, &actor, correlation, causation);
        let bytes = codec::encode(&env);
        NewEvent {
            event_id: env.event_id.as_uuid(),
            stream: env.stream,
            version: env.stream_version,
            publish: S::publishes(env.payload.kind()),
            bytes,
        }
    };
    // Each upstream copy follows the transitions due before it and precedes its reactions in
    // log order, which is what replay folds.
    for ingest in ingests {
        for t in ingest.before {
            let v = version(&t.stream);
            events.push(make(t, v, ingest.correlation, None));
        }
        let version_of_copy = version(&ingest.stream);
        events.push(NewEvent {
            event_id: ingest.event_id,
            stream: ingest.stream,
            version: version_of_copy,
            publish: false,
            bytes: ingest.bytes,
        });
        for r in ingest.reactions {
            let v = version(&r.stream);
            events.push(make(r, v, ingest.correlation, Some(ingest.event_id)));
        }
    }
    for emit in emits {
        let v = version(&emit.stream);
        events.push(make(emit, v, correlation, causation));
    }
    events
}

/// Appends what [`stamp`] built, with the request record, in one batch. Returns the last new
/// sequence number, if anything new was written.
pub(crate) async fn append_stamped<S: Service>(
    shared: &Shared<S>,
    events: Vec<NewEvent>,
    request: Option<NewRequest>,
) -> Result<Option<u64>, AppendFailure> {
    if let Some(why) = shared.halted.borrow().as_deref() {
        return Err(AppendFailure::Failed(halted_error(why)));
    }
    match shared.log.append(Batch { events, request }).await {
        Ok(AppendOutcome::Appended { positions }) => Ok(positions
            .iter()
            .filter(|p| !p.duplicate)
            .map(|p| p.seq)
            .max()),
        Ok(AppendOutcome::AlreadyRecorded(record)) => {
            Err(AppendFailure::AlreadyRecorded(Bytes::from(record.reply)))
        }
        Err(AppendError::Conflict { .. }) => Err(AppendFailure::Conflict),
        Err(AppendError::IdempotencyConflict { .. }) => Err(AppendFailure::IdempotencyConflict),
        Err(e) => Err(AppendFailure::Failed(unavailable(e))),
    }
}

/// SHA-256 of the state's canonical serialisation (postcard; every service state serialises
/// deterministically: ordered maps, no hashing order), in lower-case hex: equal for equal
/// folds, so the live state can be compared with a replay from scratch, byte for byte, and a
/// service never writes a digest of its own.
pub fn digest<St: serde::Serialize>(state: &St) -> String {
    use std::fmt::Write as _;
    let mut hasher = Sha256::new();
    // postcard writes into the hasher as it serialises: no copy of a large state. postcard
    // fails only on a sequence of unknown length, which derived states never produce but a
    // hand-written `Serialize` can (billing's lines did, and every digest silently stopped at
    // the first line): the tests, built with debug assertions, fail on it; a release build
    // digests what was written so far rather than panic.
    let written = postcard::to_io(state, HashWriter(&mut hasher));
    debug_assert!(
        written.is_ok(),
        "the state cannot be written in full for its digest: {:?}",
        written.err()
    );
    hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the status endpoint and `csp replay` show of a state: the service's counts, and with
/// `with_digest` the state digest beside them (`state.digest`).
pub fn summary<S: Service>(state: &S::State, with_digest: bool) -> Value {
    let mut summary = S::summary(state);
    if with_digest {
        let d = Value::String(digest(state));
        match &mut summary {
            Value::Object(fields) => {
                fields.insert("digest".into(), d);
            }
            other => *other = serde_json::json!({ "digest": d }),
        }
    }
    summary
}
