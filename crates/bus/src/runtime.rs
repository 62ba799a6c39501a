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
//!
//! This file starts a service and runs its background: the applier and the scheduler. The
//! request path is `request.rs`, the operator endpoints `admin.rs`, what all parts share (the
//! fold, recording events) `core.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use csp_auth::{InternalIssuer, Verifier};
use csp_eventlog::EventLog;
use csp_events::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::bus::{Bus, ServiceInfo};
use crate::clock::Clock;
use crate::core::*;
use crate::request::serve_loop;
use crate::service::{Endpoints, Service};

pub use crate::admin::admin_subject;
pub use crate::core::{
    digest, replay, replay_until, summary, Applied, StartError, AUTHORIZATION, CORRELATION_ID,
};

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

/// Starts serving `S`: replays its log, then serves its endpoints, folds new events and runs
/// its scheduler until [`Running::shutdown`].
pub async fn start<S: Service>(
    config: RuntimeConfig,
    service_config: S::Config,
) -> Result<Running<S>, StartError> {
    let applied = replay::<S>(&config.log)?;
    info!(service = S::NAME, events = applied.seq, "log replayed");
    S::recover(&service_config, &applied.state).map_err(StartError::Recover)?;
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
        halted: watch::channel(None).0,
        table: Arc::new(endpoints.list),
        config: service_config,
        bus: config.bus.clone(),
        internal: config.internal.clone(),
        counters: crate::core::Counters::default(),
        scheduler_looks: AtomicU64::new(0),
        scheduled_until: std::sync::atomic::AtomicI64::new(i64::MIN),
        horizons: crate::core::Horizons::default(),
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

    /// Resolves, with the reason, once the service has halted: its applier met an event of its
    /// own log it cannot fold. A process that runs the service waits on this beside its
    /// signals and stops with an error, so a supervisor sees a failed service rather than one
    /// that answers `unavailable` forever.
    pub fn halted(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut halted = self.shared.halted.subscribe();
        async move {
            loop {
                if let Some(why) = halted.borrow_and_update().clone() {
                    return why;
                }
                if halted.changed().await.is_err() {
                    // The service is gone without halting: never resolves.
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// A handle on the live state, configuration and clock for a server beside the service
    /// that answers from them (entitlement's download links, checked against the
    /// entitlement's status at each request). It reads only; it keeps nothing alive but
    /// memory once the service is shut down.
    pub fn reader(&self) -> StateReader<S> {
        StateReader(Arc::clone(&self.shared))
    }
}

/// See [`Running::reader`].
pub struct StateReader<S: Service>(Arc<Shared<S>>);

impl<S: Service> Clone for StateReader<S> {
    fn clone(&self) -> Self {
        StateReader(Arc::clone(&self.0))
    }
}

impl<S: Service> StateReader<S> {
    /// Reads the live state.
    pub fn with_state<R>(&self, f: impl FnOnce(&S::State) -> R) -> R {
        f(&read_lock(&self.0.applied).state)
    }

    /// The configuration the service was started with.
    pub fn config(&self) -> &S::Config {
        &self.0.config
    }

    /// The service's clock, now.
    pub fn now(&self) -> csp_events::Timestamp {
        self.0.clock.now()
    }
}

impl<S: Service> Running<S> {
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
                Ok(r) => match crate::service::decode_record::<S>(r.stream(), r.bytes())
                    .map_err(|e| e.to_string())
                    .and_then(|env| {
                        if crate::crash::fails("fold_own_event") {
                            Err("fault point fold_own_event".to_string())
                        } else {
                            Ok(env)
                        }
                    }) {
                    Ok(env) => decoded.push((r, env)),
                    Err(e) => {
                        // Only this build writes this log, so this is corruption or a
                        // downgrade: stop folding rather than serve a state that skipped an
                        // event.
                        let why = format!("event {} of its own log cannot be folded ({e})", r.seq);
                        error!(service = shared.name, seq = r.seq, "halted: {why}");
                        shared.halted.send_replace(Some(why));
                        stop = true;
                        break;
                    }
                },
                Err(e) => {
                    let why = format!("its own log cannot be read ({e})");
                    error!(service = shared.name, "halted: {why}");
                    shared.halted.send_replace(Some(why));
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
            // Effects after the fold, before the waiters wake: a reply that follows an event
            // follows its effect. A failure is left to `recover` at the next start.
            {
                let applied = read_lock(&shared.applied);
                for (record, env) in &decoded {
                    if let Err(e) = S::effect(&shared.config, &applied.state, env) {
                        error!(
                            service = shared.name,
                            seq = record.seq,
                            "effect not done (redone at the next start): {e}"
                        );
                    }
                }
            }
            for (_, env) in &decoded {
                if let Some((subject, body)) = S::notice(&shared.config, env) {
                    let bus = shared.bus.clone();
                    tokio::spawn(async move {
                        if let Err(e) = bus
                            .publish(&subject, crate::Headers::new(), Bytes::from(body))
                            .await
                        {
                            warn!(subject, "notice not published: {e}");
                        }
                    });
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

/// How long the scheduler lets new events accumulate before it looks at what they made due.
const APPLIED_COALESCE: Duration = Duration::from_millis(10);

async fn scheduler<S: Service>(
    shared: Arc<Shared<S>>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut clock_changes = shared.clock.changes();
    let mut applied_changes = shared.applied_tx.subscribe();
    let mut horizon_changes = shared.horizons.changes();
    loop {
        shared.scheduler_looks.fetch_add(1, Ordering::Relaxed);
        let clock = shared.clock.now();
        // A service whose transitions wait for upstream looks only as far as every producer
        // it consumes is known to have recorded (and not at all before each was heard from).
        let now = if S::DUE_AFTER_UPSTREAM {
            shared.horizons.lowest(S::consumes()).map(|h| h.min(clock))
        } else {
            Some(clock)
        };
        // Found due and versioned against one state, under one lock (see `stamp`).
        let due = match now {
            Some(now) => {
                let applied = read_lock(&shared.applied);
                let due = S::due(&applied.state, &shared.config, now);
                stamp(&shared, &applied, Vec::new(), due, None, None, None)
            }
            None => Vec::new(),
        };
        if due.is_empty() {
            // Nothing is due up to the clock: what this service records effective before it
            // is recorded (the heartbeat announces it).
            shared
                .scheduled_until
                .fetch_max(clock.as_micros(), Ordering::Relaxed);
        }
        if !due.is_empty() {
            let n = due.len();
            match append_stamped(&shared, due, None).await {
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
            _ = horizon_changes.changed() => {}
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

/// Answers the query `name` (its JSON body) as `actor` at `now` against `state` — a stopped
/// service's log folded by [`replay`] — with the very function the running service answers it
/// with: how an operator's tool reads a stopped service's data offline (`csp invoice
/// --offline`). Internal endpoints and commands are refused: offline, nothing is recorded.
pub fn ask_offline<S: Service>(
    state: &S::State,
    config: &S::Config,
    name: &str,
    body: &[u8],
    actor: csp_events::Actor,
    now: Timestamp,
) -> Result<serde_json::Value, csp_events::ApiError> {
    use crate::service::{Access, Handler};
    use csp_events::{ApiError, ErrorCode};
    let table = S::endpoints();
    let endpoint = table.list.iter().find(|e| e.name == name).ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, format!("{} has no {name:?}", S::NAME))
    })?;
    match &endpoint.handler {
        Handler::Query(run) if endpoint.access != Access::Internal => {
            let ctx = csp_events::kernel::Context {
                now,
                actor,
                seed: uuid::Uuid::now_v7(),
                entropy: [0; 32],
            };
            run(state, config, body, &ctx)
        }
        _ => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("{name} is not a query a stopped service answers"),
        )),
    }
}
