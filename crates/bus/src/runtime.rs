//! The runtime that serves a [`Service`]: the shell around its pure handlers.
//!
//! For every request it does, in order: size limit → token verification → strict JSON decode →
//! (commands) request-record lookup → decide against the applied state → envelopes → one atomic
//! append with the request record → wait until the applier has folded the new events → reply.
//! A `forbidden` decision is recorded as one `AccessRefused` event; every other refusal records
//! nothing. On a stream-version conflict it waits for the state to catch up and decides again.
//!
//! State is changed by one task only, the applier, which folds the log's durable tail in
//! sequence order: live state is therefore always a prefix-fold of the log, exactly what replay
//! computes. A command replies only after its own events are folded (read-your-writes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use csp_auth::{InternalIssuer, IssuerKind, Verified, Verifier};
use csp_eventlog::{AppendError, AppendOutcome, Batch, EventLog, NewEvent, NewRequest};
use csp_events::event::AccessRefused;
use csp_events::kernel::{Context, Rejection};
use csp_events::{
    codec, ActorKind, ApiError, CorrelationId, Envelope, ErrorCode, EventId, Reply, Role, TenantId,
    Timestamp,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};
use uuid::Uuid;

use crate::bus::{Bus, BusError, Incoming, ServiceInfo};
use crate::clock::{wall_seconds, Clock};
use crate::service::{Access, Emit, Endpoints, Handler, Origin, Service, Table};

/// The header carrying the token: `Authorization: Bearer <jwt>`.
pub const AUTHORIZATION: &str = "Authorization";
/// An optional header a client may set to tie its request to its own trace; a UUID.
pub const CORRELATION_ID: &str = "Csp-Correlation-Id";

/// How a service is run.
pub struct RuntimeConfig {
    /// The transport.
    pub bus: Bus,
    /// The service's own log (it is its only writer).
    pub log: EventLog,
    /// The business clock.
    pub clock: Clock,
    /// Trusted token issuers.
    pub verifier: Arc<Verifier>,
    /// The largest request body the service accepts: its own limit, below the bus's
    /// `max_payload`, so an oversized body gets a `payload_too_large` reply instead of never
    /// arriving. Default 256 KiB.
    pub max_body_bytes: usize,
    /// Requests handled at once; more wait (backpressure). Default 1024.
    pub max_in_flight: usize,
    /// How often the scheduler looks for due transitions when nothing else wakes it.
    pub scheduler_interval: Duration,
    /// The internal issuer, to mint the service tokens this service's consumers present to
    /// producers' `events_from`. Without it a consumer cannot recover lost events.
    pub internal: Option<Arc<InternalIssuer>>,
    /// Publishes awaiting JetStream's acknowledgement at once (the outbox pipeline depth).
    pub outbox_in_flight: usize,
    /// How often the producer announces its latest outbox sequence on `csp.hb.<service>`.
    pub heartbeat_interval: Duration,
}

impl RuntimeConfig {
    /// Defaults for everything but the essentials.
    pub fn new(bus: Bus, log: EventLog, clock: Clock, verifier: Arc<Verifier>) -> RuntimeConfig {
        RuntimeConfig {
            bus,
            log,
            clock,
            verifier,
            max_body_bytes: 256 * 1024,
            max_in_flight: 1024,
            scheduler_interval: Duration::from_secs(1),
            internal: None,
            outbox_in_flight: 1000,
            heartbeat_interval: Duration::from_secs(1),
        }
    }
}

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
    pub(crate) table: Table<S>,
    /// The configuration the service was started with (reference data its handlers read).
    pub(crate) config: S::Config,
    pub(crate) bus: Bus,
    pub(crate) internal: Option<Arc<InternalIssuer>>,
    pub(crate) counters: crate::inbox::Counters,
    /// How many times the scheduler looked at what is due: a handful per interval when idle,
    /// reported by the status endpoint so a spinning scheduler shows.
    pub(crate) scheduler_looks: AtomicU64,
}

/// A running service. Stop it with [`Running::shutdown`], which finishes what is in hand.
/// Dropped without it (a start-up that failed half-way), it still leaves nothing behind: the
/// background tasks and the applier are `JoinSet`s, which abort on drop, and the request loop
/// ends as soon as its stop signal's sender (held here) is gone.
pub struct Running<S: Service> {
    shared: Arc<Shared<S>>,
    /// Stops the request loop first: handlers in hand still need the applier to finish.
    stop_serving: watch::Sender<bool>,
    serving: tokio::task::JoinHandle<()>,
    /// Then stops the background tasks (scheduler, outbox, heartbeats, consumers), which may
    /// also be waiting for the applier to fold what they appended.
    stop_background: watch::Sender<bool>,
    background: JoinSet<()>,
    /// The applier stops last. (A set of one: dropped, it aborts its task, as when start-up
    /// fails half-way.)
    stop_applier: watch::Sender<bool>,
    applier: JoinSet<()>,
}

pub(crate) fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The applier never panics while holding the lock (apply is total), and a poisoned lock
    // would otherwise take every request down with it.
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Folds one record: the service's state, the stream's version, a consumer's position.
fn fold<S: Service>(
    applied: &mut Applied<S::State>,
    record: &csp_eventlog::Record,
    env: &Envelope,
) {
    let stream = record.stream();
    let producer = stream.strip_prefix(crate::inbox::INBOX_PREFIX);
    let origin = match producer {
        Some(producer) => Origin::Upstream { producer },
        None => Origin::Own,
    };
    S::apply(&mut applied.state, env, origin);
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
    let mut applied = Applied {
        state: S::State::default(),
        versions: HashMap::new(),
        inbox: HashMap::new(),
        seq: 0,
    };
    for record in log.read_from(1) {
        let record = record?;
        let env = codec::decode(record.bytes()).map_err(|e| StartError::Unreadable {
            seq: record.seq,
            reason: e.to_string(),
        })?;
        fold::<S>(&mut applied, &record, &env);
    }
    Ok(applied)
}

/// Starts serving `S`: replays its log, then serves its endpoints, folds new events and runs
/// its scheduler until [`Running::shutdown`].
pub async fn start<S: Service>(
    config: RuntimeConfig,
    service_config: S::Config,
) -> Result<Running<S>, StartError> {
    let applied = replay::<S>(&config.log)?;
    info!(service = S::NAME, events = applied.seq, "log replayed");
    let (applied_tx, _) = watch::channel(applied.seq);
    let endpoints: Endpoints<S> = S::endpoints();
    let shared = Arc::new(Shared::<S> {
        name: S::NAME,
        log: config.log.clone(),
        clock: config.clock.clone(),
        verifier: config.verifier,
        max_body_bytes: config.max_body_bytes,
        applied: RwLock::new(applied),
        applied_tx,
        applier_stopped: watch::channel(false).0,
        table: Arc::new(endpoints.list),
        config: service_config,
        bus: config.bus.clone(),
        internal: config.internal.clone(),
        counters: crate::inbox::Counters::default(),
        scheduler_looks: AtomicU64::new(0),
    });
    let (stop_background, background_rx) = watch::channel(false);
    let mut background = JoinSet::new();
    let (stop_applier, applier_rx) = watch::channel(false);
    let mut applier_task = JoinSet::new();
    applier_task.spawn(applier(Arc::clone(&shared), applier_rx));
    background.spawn(scheduler(
        Arc::clone(&shared),
        config.scheduler_interval,
        background_rx.clone(),
    ));
    background.spawn(crate::outbox::publisher(
        Arc::clone(&shared),
        config.outbox_in_flight,
        background_rx.clone(),
    ));

    let mut subjects: Vec<String> = shared.table.iter().map(|e| e.subject.clone()).collect();
    subjects.push(admin_subject(S::NAME, "clock"));
    subjects.push(admin_subject(S::NAME, "status"));
    subjects.push(csp_events::subject::query(S::NAME, "events_from"));
    let info = ServiceInfo {
        name: S::NAME.to_string(),
        version: S::VERSION.to_string(),
        description: S::DESCRIPTION.to_string(),
    };
    config.bus.ensure_streams().await?;
    background.spawn(crate::inbound::consumer(
        Arc::clone(&shared),
        background_rx.clone(),
    ));
    for producer in S::consumes() {
        background.spawn(crate::inbox::consumer(
            Arc::clone(&shared),
            producer,
            background_rx.clone(),
        ));
    }
    let served = config.bus.serve(&info, &subjects).await?;
    // Announced only once `events_from` answers: a consumer that sees the announcement ahead of
    // it may ask at once.
    background.spawn(crate::outbox::heartbeat(
        Arc::clone(&shared),
        config.heartbeat_interval,
        background_rx.clone(),
    ));
    let (stop_serving, serving_rx) = watch::channel(false);
    let serving = tokio::spawn(serve_loop(
        Arc::clone(&shared),
        served,
        config.max_in_flight,
        serving_rx,
    ));
    info!(service = S::NAME, endpoints = subjects.len(), "serving");
    Ok(Running {
        shared,
        stop_serving,
        serving,
        stop_background,
        background,
        stop_applier,
        applier: applier_task,
    })
}

/// `csp.admin.<service>.<op>`: the runtime's own operator endpoints, for csp's own issuers
/// (internal, development) only: `clock` reads or moves a manual clock; `status` tells the
/// log's position and the applied position.
pub fn admin_subject(service: &str, op: &str) -> String {
    format!("csp.admin.{service}.{op}")
}

impl<S: Service> Running<S> {
    /// The last sequence number folded into the state.
    pub fn applied_seq(&self) -> u64 {
        *self.shared.applied_tx.borrow()
    }

    /// Reads the live state (for digests and tests).
    pub fn with_state<R>(&self, f: impl FnOnce(&Applied<S::State>) -> R) -> R {
        f(&read_lock(&self.shared.applied))
    }

    /// The service's log.
    pub fn log(&self) -> &EventLog {
        &self.shared.log
    }

    /// Stops taking requests, finishes those in hand (their appends are durable before they
    /// are answered), stops the applier and scheduler, and returns once all are done.
    pub async fn shutdown(mut self) {
        info!(service = self.shared.name, "shutting down");
        let _ = self.stop_serving.send(true);
        if let Err(e) = (&mut self.serving).await {
            error!(
                service = self.shared.name,
                "request loop failed at shutdown: {e}"
            );
        }
        let _ = self.stop_background.send(true);
        while let Some(r) = self.background.join_next().await {
            if let Err(e) = r {
                error!(service = self.shared.name, "task failed at shutdown: {e}");
            }
        }
        let _ = self.stop_applier.send(true);
        while let Some(r) = self.applier.join_next().await {
            if let Err(e) = r {
                error!(
                    service = self.shared.name,
                    "applier failed at shutdown: {e}"
                );
            }
        }
        info!(service = self.shared.name, "stopped");
    }
}

async fn applier<S: Service>(shared: Arc<Shared<S>>, shutdown: watch::Receiver<bool>) {
    fold_tail(&shared, shutdown).await;
    shared.applier_stopped.send_replace(true);
}

/// Folds the log's durable tail into the state, in order, until shutdown or an event it cannot
/// fold.
async fn fold_tail<S: Service>(shared: &Shared<S>, mut shutdown: watch::Receiver<bool>) {
    let from = read_lock(&shared.applied).seq + 1;
    let mut tail = shared.log.tail(from);
    let mut decoded = Vec::with_capacity(APPLY_BATCH);
    loop {
        let next = tokio::select! {
            r = tail.next() => r,
            _ = shutdown.changed() => None,
        };
        let Some(mut record) = next else { return };
        // What else is already durable is folded with it: one lock and one wake-up of the
        // waiters per group rather than per event.
        let mut stop = false;
        loop {
            match record {
                Ok(r) => match codec::decode(r.bytes()) {
                    Ok(env) => decoded.push((r, env)),
                    Err(e) => {
                        // Only this build writes this log, so this is corruption or a
                        // downgrade: stop folding rather than serve a state that skipped an
                        // event.
                        error!(
                            service = shared.name,
                            seq = r.seq,
                            "undecodable event in own log: {e}"
                        );
                        stop = true;
                        break;
                    }
                },
                Err(e) => {
                    error!(service = shared.name, "reading the log tail: {e}");
                    stop = true;
                    break;
                }
            }
            if decoded.len() >= APPLY_BATCH {
                break;
            }
            match tail.ready() {
                Some(r) => record = r,
                None => break,
            }
        }
        if let Some(last) = decoded.last().map(|(r, _)| r.seq) {
            {
                let mut applied = write_lock(&shared.applied);
                for (record, env) in &decoded {
                    fold::<S>(&mut applied, record, env);
                }
            }
            decoded.clear();
            shared.applied_tx.send_replace(last);
        }
        if stop {
            return;
        }
    }
}

/// The most events the applier folds under one lock: queries wait at most that long.
const APPLY_BATCH: usize = 256;

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

/// How long the scheduler lets new events accumulate before it looks at what they made due.
const APPLIED_COALESCE: Duration = Duration::from_millis(10);

async fn scheduler<S: Service>(
    shared: Arc<Shared<S>>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut clock_changes = shared.clock.changes();
    let mut applied_changes = shared.applied_tx.subscribe();
    loop {
        shared.scheduler_looks.fetch_add(1, Ordering::Relaxed);
        let due = {
            let applied = read_lock(&shared.applied);
            S::due(&applied.state, &shared.config, shared.clock.now())
        };
        if !due.is_empty() {
            let n = due.len();
            match append_emits(&shared, due, None, None, None, None).await {
                Ok(Some(last)) => {
                    debug!(
                        service = shared.name,
                        transitions = n,
                        "recorded due transitions"
                    );
                    if !wait_applied(&shared, last).await {
                        return;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(AppendFailure::Conflict) => {
                    let last = shared.log.last_seq();
                    if !wait_applied(&shared, last).await {
                        return;
                    }
                    continue;
                }
                Err(e) => warn!(service = shared.name, "recording due transitions: {e:?}"),
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = clock_moved(&mut clock_changes) => {}
            _ = applied_changes.changed() => {
                // A burst of appends is one look at what is due, not one per event (under
                // load, waking per event cost 5% of the service's CPU).
                tokio::time::sleep(APPLIED_COALESCE).await;
                applied_changes.borrow_and_update();
            }
            _ = tokio::time::sleep(interval) => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Waits until a manual clock moves; never returns for a system clock, or once the clock's
/// sender is gone (a closed watch would otherwise answer at once, forever, and the scheduler
/// would spin: it once did, burning a core in every service on the system clock).
async fn clock_moved(changes: &mut Option<watch::Receiver<Timestamp>>) {
    let Some(rx) = changes.as_mut() else {
        return std::future::pending().await;
    };
    if rx.changed().await.is_err() {
        *changes = None;
    }
}

async fn serve_loop<S: Service>(
    shared: Arc<Shared<S>>,
    mut served: crate::bus::Served,
    max_in_flight: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut in_flight = JoinSet::new();
    loop {
        let incoming = tokio::select! {
            m = served.next() => m,
            _ = shutdown.changed() => None,
        };
        let Some(incoming) = incoming else { break };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let shared = Arc::clone(&shared);
        in_flight.spawn(async move {
            let reply = fit(&shared, handle(&shared, &incoming).await);
            if let Err(e) = incoming.respond(reply).await {
                debug!(service = shared.name, "reply not delivered: {e}");
            }
            drop(permit);
        });
        // Reap finished handlers so the set does not grow with the request count.
        while in_flight.try_join_next().is_some() {}
    }
    // Stop taking work, then finish what is in hand.
    served.stop();
    while let Some(incoming) = served.next().await {
        let reply = Reply::Err(ApiError::new(
            ErrorCode::Unavailable,
            "the service is shutting down; retry with the same request_id",
        ))
        .to_bytes();
        let _ = incoming.respond(Bytes::from(reply)).await;
    }
    while in_flight.join_next().await.is_some() {}
}

/// Room left in a reply message for its headers.
const REPLY_HEADROOM: usize = 1024;

/// A reply the bus cannot carry would never arrive: the client would wait out its timeout with
/// no answer. Such a reply becomes `payload_too_large`, saying how large it was.
fn fit<S: Service>(shared: &Shared<S>, reply: Bytes) -> Bytes {
    let limit = shared.bus.max_payload().saturating_sub(REPLY_HEADROOM);
    if reply.len() <= limit {
        return reply;
    }
    warn!(
        service = shared.name,
        size = reply.len(),
        limit,
        "an answer too large for the bus was replaced by payload_too_large"
    );
    error_reply(
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the answer ({} bytes) is larger than the bus carries ({limit} bytes); ask for less",
                reply.len()
            ),
        )
        .with("size", reply.len() as u64)
        .with("limit", limit as u64),
    )
}

pub(crate) fn error_reply(e: ApiError) -> Bytes {
    Bytes::from(Reply::Err(e).to_bytes())
}

async fn handle<S: Service>(shared: &Shared<S>, incoming: &Incoming) -> Bytes {
    handle_request(shared, incoming.endpoint, &incoming.msg).await
}

/// Handles one request to endpoint number `endpoint` (an index into the served subjects) and
/// returns the reply. Fire-and-forget commands come through here too.
pub(crate) async fn handle_request<S: Service>(
    shared: &Shared<S>,
    endpoint_index: usize,
    msg: &crate::bus::Msg,
) -> Bytes {
    if msg.payload.len() > shared.max_body_bytes {
        return error_reply(
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the body is {} bytes; this service accepts at most {}",
                    msg.payload.len(),
                    shared.max_body_bytes
                ),
            )
            .with("limit", shared.max_body_bytes as u64),
        );
    }
    let verified = match shared
        .verifier
        .verify(msg.headers.get(AUTHORIZATION), wall_seconds())
    {
        Ok(v) => v,
        Err(e) => return error_reply(e.to_api_error()),
    };
    if endpoint_index == shared.table.len() + 2 {
        return crate::outbox::events_from(shared, &verified, &msg.payload).await;
    }
    if endpoint_index >= shared.table.len() {
        if !matches!(
            verified.issuer_kind,
            IssuerKind::Internal | IssuerKind::Development
        ) {
            return error_reply(ApiError::new(
                ErrorCode::Forbidden,
                "admin endpoints are for csp's own tools only",
            ));
        }
        return if endpoint_index == shared.table.len() {
            admin_clock(shared, &msg.payload)
        } else {
            admin_status(shared, &msg.payload)
        };
    }
    let Some(endpoint) = shared.table.get(endpoint_index) else {
        return error_reply(ApiError::new(ErrorCode::Internal, "unknown endpoint"));
    };
    let correlation = msg
        .headers
        .get(CORRELATION_ID)
        .and_then(|c| Uuid::parse_str(c).ok())
        .unwrap_or_else(Uuid::now_v7);
    let actor = verified.actor.clone();
    if endpoint.access == Access::Internal
        && !(verified.issuer_kind == IssuerKind::Internal && actor.has(Role::Service))
    {
        let refusal = ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{} is an internal endpoint, for csp services only",
                endpoint.name
            ),
        );
        return refuse(shared, endpoint.name, refusal, &verified, correlation, None).await;
    }
    match &endpoint.handler {
        Handler::Query(run) => {
            let ctx = match context(shared, &verified) {
                Ok(ctx) => ctx,
                Err(e) => return error_reply(e),
            };
            let result = {
                let applied = read_lock(&shared.applied);
                run(&applied.state, &shared.config, &msg.payload, &ctx)
            };
            match result {
                Ok(v) => Bytes::from(Reply::Ok(v).to_bytes()),
                Err(r) if r.code == ErrorCode::Forbidden => {
                    refuse(shared, endpoint.name, r, &verified, correlation, None).await
                }
                Err(r) => error_reply(r),
            }
        }
        Handler::Command(decode) => {
            let prepared = match decode(&msg.payload) {
                Ok(p) => p,
                Err(e) => return error_reply(e),
            };
            let hash = body_hash(endpoint.name, &msg.payload);
            let tenant = actor.tenant;
            let request_id = prepared.request_id().as_str().to_string();
            match shared.log.request(tenant.as_uuid(), &request_id) {
                Ok(Some(record)) if record.body_hash == hash => return Bytes::from(record.reply),
                Ok(Some(_)) => return error_reply(idempotency_conflict(&request_id)),
                Ok(None) => {}
                Err(e) => return error_reply(unavailable(e)),
            }
            let request = |reply: &Bytes| NewRequest {
                tenant: tenant.as_uuid(),
                request_id: request_id.clone(),
                body_hash: hash,
                reply: reply.to_vec(),
            };
            for _attempt in 0..MAX_ATTEMPTS {
                let ctx = match context(shared, &verified) {
                    Ok(ctx) => ctx,
                    Err(e) => return error_reply(e),
                };
                let decided = {
                    let applied = read_lock(&shared.applied);
                    prepared.decide(&applied.state, &shared.config, &ctx)
                };
                let (emits, reply) = match decided {
                    Ok(d) => (d.events, Bytes::from(Reply::Ok(d.reply).to_bytes())),
                    Err(r) if r.code == ErrorCode::Forbidden => {
                        let (customer, r) = take_customer(r);
                        let reply = error_reply(r.clone());
                        let emit = access_refused::<S>(endpoint.name, &r, &verified, customer);
                        (vec![emit], reply)
                    }
                    Err(r) => return error_reply(r),
                };
                let req = request(&reply);
                match append_emits(
                    shared,
                    emits,
                    Some(&ctx),
                    Some(correlation),
                    Some(req),
                    None,
                )
                .await
                {
                    Ok(Some(last)) => {
                        wait_applied(shared, last).await;
                        return reply;
                    }
                    Ok(None) => return reply,
                    Err(AppendFailure::AlreadyRecorded(reply)) => return reply,
                    Err(AppendFailure::Conflict) => {
                        let last = shared.log.last_seq();
                        wait_applied(shared, last).await;
                    }
                    Err(AppendFailure::IdempotencyConflict) => {
                        return error_reply(idempotency_conflict(&request_id))
                    }
                    Err(AppendFailure::Failed(e)) => return error_reply(e),
                }
            }
            error_reply(ApiError::new(
                ErrorCode::Conflict,
                "concurrent changes kept winning; retry with the same request_id",
            ))
        }
    }
}

/// Decisions retried on a version conflict before answering `conflict`.
const MAX_ATTEMPTS: usize = 8;

fn idempotency_conflict(request_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyConflict,
        format!("request_id {request_id:?} was already used with a different body; use a new request_id"),
    )
    .with("request_id", request_id)
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("storage unavailable ({e}); retry with the same request_id"),
    )
}

/// The hash a request record keeps: the command name and the body's canonical JSON (sorted
/// keys, no insignificant whitespace), so a retry that re-serialises the same body still
/// matches.
pub(crate) fn body_hash(command: &str, body: &[u8]) -> [u8; 32] {
    let canonical = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_vec(&v).ok())
        .unwrap_or_else(|| body.to_vec());
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    h.update([0]);
    h.update(&canonical);
    h.finalize().into()
}

/// The context a handler decides in. Its entropy (key material) comes from the OS, not from
/// UUIDs; if the OS cannot give any, the request is `unavailable` rather than decided with
/// weak randomness.
fn context<S: Service>(shared: &Shared<S>, verified: &Verified) -> Result<Context, ApiError> {
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

/// A forbidden rejection may name, in `details.customer`, the customer the actor tried to reach:
/// the runtime records it in `AccessRefused` and removes it from the reply, so a refused actor
/// learns nothing about a tenant it may not see.
fn take_customer(mut r: Rejection) -> (Option<TenantId>, Rejection) {
    let customer = r
        .details
        .remove("customer")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()));
    (customer, r)
}

fn access_refused<S: Service>(
    action: &str,
    r: &Rejection,
    verified: &Verified,
    customer: Option<TenantId>,
) -> Emit {
    let actor = &verified.actor;
    let partner = (actor.kind == ActorKind::Partner).then_some(actor.tenant);
    Emit::new(
        format!("access-refused/{}", actor.tenant),
        AccessRefused {
            service: S::NAME.to_string(),
            action: action.to_string(),
            customer,
            reason: r.message.clone(),
        },
    )
    .tenants(partner, customer)
}

/// Records a refusal outside a command (queries, internal endpoints) and answers `forbidden`.
pub(crate) async fn refuse<S: Service>(
    shared: &Shared<S>,
    action: &str,
    r: Rejection,
    verified: &Verified,
    correlation: Uuid,
    customer: Option<TenantId>,
) -> Bytes {
    let (named, r) = take_customer(r);
    let emit = access_refused::<S>(action, &r, verified, customer.or(named));
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

/// Wraps emits in envelopes (versions from the applied state) and appends them with the request
/// record in one batch. Returns the last new sequence number, if anything new was written.
pub(crate) async fn append_emits<S: Service>(
    shared: &Shared<S>,
    emits: Vec<Emit>,
    ctx: Option<&Context>,
    correlation: Option<Uuid>,
    request: Option<NewRequest>,
    causation: Option<Uuid>,
) -> Result<Option<u64>, AppendFailure> {
    append_with_upstream(
        shared,
        Vec::new(),
        emits,
        ctx,
        correlation,
        request,
        causation,
    )
    .await
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

/// [`append_emits`], with upstream copies and their reactions first.
pub(crate) async fn append_with_upstream<S: Service>(
    shared: &Shared<S>,
    ingests: Vec<Ingest>,
    emits: Vec<Emit>,
    ctx: Option<&Context>,
    correlation: Option<Uuid>,
    request: Option<NewRequest>,
    causation: Option<Uuid>,
) -> Result<Option<u64>, AppendFailure> {
    let now = ctx.map_or_else(|| shared.clock.now(), |c| c.now);
    let actor = ctx.map_or_else(
        || csp_events::Actor::system(shared.name),
        |c| c.actor.clone(),
    );
    let correlation = correlation.unwrap_or_else(Uuid::now_v7);
    let mut events = Vec::with_capacity(emits.len() + ingests.len() * 2);
    {
        let applied = read_lock(&shared.applied);
        let mut next: HashMap<String, u64> = HashMap::new();
        let mut version = |stream: &str| -> u64 {
            let v = next
                .entry(stream.to_string())
                .or_insert_with(|| applied.versions.get(stream).copied().unwrap_or(0));
            *v += 1;
            *v
        };
        let make = |emit: Emit, version: u64, correlation: Uuid, causation: Option<Uuid>| {
            let env = Envelope {
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
            };
            let bytes = codec::encode(&env);
            NewEvent {
                event_id: env.event_id.as_uuid(),
                stream: env.stream,
                version: env.stream_version,
                publish: S::publishes(env.payload.kind()),
                bytes,
            }
        };
        // Each upstream copy follows the transitions due before it and precedes its reactions
        // in log order, which is what replay folds.
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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    #[serde(default)]
    advance_seconds: Option<u64>,
    #[serde(default)]
    set: Option<Timestamp>,
}

/// `csp.admin.<service>.clock`: `{}` reads the clock, `{"advance_seconds": n}` or
/// `{"set": "<RFC 3339>"}` moves a manual clock. Only csp's own issuers (internal or the
/// development issuer) may call it, and only a manual clock moves.
fn admin_clock<S: Service>(shared: &Shared<S>, body: &[u8]) -> Bytes {
    let req: ClockRequest = match csp_events::api::decode_json(body) {
        Ok(r) => r,
        Err(e) => return error_reply(e),
    };
    let now = match (&shared.clock, req.advance_seconds, req.set) {
        (_, None, None) => shared.clock.now(),
        (Clock::System, _, _) => {
            return error_reply(ApiError::new(
                ErrorCode::InvalidState,
                "this service runs on the system clock; start it with a manual clock to move time",
            ))
        }
        (Clock::Manual(m), Some(s), None) => m.advance_micros(s.saturating_mul(1_000_000)),
        (Clock::Manual(m), None, Some(t)) => match m.set(t) {
            Ok(t) => t,
            Err(e) => return error_reply(ApiError::new(ErrorCode::InvalidRequest, e.to_string())),
        },
        (Clock::Manual(_), Some(_), Some(_)) => {
            return error_reply(ApiError::new(
                ErrorCode::InvalidRequest,
                "give advance_seconds or set, not both",
            ))
        }
    };
    Bytes::from(Reply::ok(&serde_json::json!({ "now": now })).to_bytes())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    /// Also digest the whole state: costly on a large state (it is read under the state's
    /// lock, which holds the applier back meanwhile), so only when asked.
    #[serde(default)]
    digest: bool,
}

/// `csp.admin.<service>.status`: `{}` for positions and counts, `{"digest": true}` to add the
/// state digest `csp replay` recomputes.
fn admin_status<S: Service>(shared: &Shared<S>, body: &[u8]) -> Bytes {
    let req: StatusRequest = match csp_events::api::decode_json(body) {
        Ok(r) => r,
        Err(e) => return error_reply(e),
    };
    let stats = shared.log.stats();
    // Read together, so the summary is of exactly `applied_seq` events.
    let (applied_seq, summary) = {
        let applied = read_lock(&shared.applied);
        (applied.seq, summary::<S>(&applied.state, req.digest))
    };
    let status = serde_json::json!({
        "service": shared.name,
        "epoch": shared.log.epoch(),
        "last_seq": shared.log.last_seq(),
        "last_outbox_seq": shared.log.last_outbox_seq(),
        "applied_seq": applied_seq,
        "state": summary,
        "outbox_published": shared.log.cursor(crate::outbox::CURSOR).ok().flatten().unwrap_or(0),
        "inbox": shared.counters.snapshot(),
        "scheduler_looks": shared.scheduler_looks.load(Ordering::Relaxed),
        "now": shared.clock.now(),
        "manual_clock": shared.clock.is_manual(),
        "log": {
            "appends": stats.appends,
            "groups": stats.groups,
            "flushes": stats.flushes,
            "events_written": stats.events_written,
        },
    });
    Bytes::from(Reply::ok(&status).to_bytes())
}

/// SHA-256 of the state's canonical serialisation (postcard; every service state serialises
/// deterministically: ordered maps, no hashing order), in lower-case hex: equal for equal
/// folds, so the live state can be compared with a replay from scratch, byte for byte, and a
/// service never writes a digest of its own.
pub fn digest<St: serde::Serialize>(state: &St) -> String {
    use std::fmt::Write as _;
    let mut hasher = Sha256::new();
    // postcard writes into the hasher as it serialises: no copy of a large state. postcard
    // fails only on a sequence of unknown length, which derived states never produce; if one
    // did, the digest would be of what was written so far, never a panic.
    let _ = postcard::to_io(state, HashWriter(&mut hasher));
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
