//! [`Harness`]: a whole service in memory — its commands and queries through its own endpoint
//! table (strict JSON decoding included), its reactions, its due transitions — recorded and
//! folded the way the runtime records and folds them (the same envelope function, the same
//! codec, the same batch decision), with no bus, no log directory and no clock. A service's
//! tests drive it like a client and read what it recorded, so they test the service and not a
//! second, hand-written runtime.
//!
//! What it does not do, by design: idempotency (request records), version conflicts, recording
//! a `forbidden` as `AccessRefused` — the runtime's, tested against the runtime.

use std::collections::{HashMap, HashSet};

use csp_events::kernel::{Context, Decided, Rejection};
use csp_events::{codec, Actor, ApiError, Envelope, ErrorCode, EventId, Timestamp};
use serde_json::Value;
use uuid::Uuid;

use crate::core::{envelope, INBOX_PREFIX};
use crate::service::{decide_batch, Emit, Endpoint, Endpoints, Handler, Origin, Service};

/// One service, in memory.
pub struct Harness<S: Service> {
    config: S::Config,
    table: Vec<Endpoint<S>>,
    state: S::State,
    /// Every recorded event, encoded as the log stores it, with the stream it was recorded on.
    log: Vec<(String, Vec<u8>)>,
    versions: HashMap<String, u64>,
    ids: HashSet<EventId>,
    /// Commands decided so far: seeds the next context, so ids are deterministic per run.
    commands: u128,
}

impl<S: Service> Harness<S> {
    /// The service with an empty log, started with `config`.
    pub fn new(config: S::Config) -> Harness<S> {
        let Endpoints { list } = S::endpoints();
        Harness {
            config,
            table: list,
            state: S::State::default(),
            log: Vec::new(),
            versions: HashMap::new(),
            ids: HashSet::new(),
            commands: 0,
        }
    }

    /// The live state.
    pub fn state(&self) -> &S::State {
        &self.state
    }

    /// The context a request is decided in: `now`, `actor`, a seed that differs per request (a
    /// UUID v7 with `now`'s milliseconds), no entropy.
    pub fn context(&mut self, actor: Actor, now: Timestamp) -> Context {
        self.commands += 1;
        let millis = u128::try_from(now.as_micros().max(0) / 1000).unwrap_or(0);
        Context {
            now,
            actor,
            seed: Uuid::from_u128((millis << 80) | (0x7 << 76) | (0x8 << 60) | self.commands),
            entropy: [0; 32],
        }
    }

    /// Sends the command `name` with `body` (JSON, decoded strictly by the service's own
    /// table) as `actor` at `now`: the reply's `result`, after its events are recorded and
    /// folded, or the error it was refused with (nothing recorded).
    pub fn command(
        &mut self,
        actor: Actor,
        now: Timestamp,
        name: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut prepared = match self.endpoint(name)? {
            Handler::Command(decode) => decode(&bytes)?,
            Handler::Query(_) | Handler::Recorded(_) => return Err(not_a(name, "command")),
        };
        let ctx = self.context(actor, now);
        prepared.prepare(&self.state, &self.config, &ctx)?;
        let decided = prepared.decide(&self.state, &self.config, &ctx)?;
        let correlation = ctx.seed;
        self.record(decided.events, &ctx, correlation, None);
        Ok(decided.reply)
    }

    /// Runs one handler directly — a domain function of the runtime's handler shape, given its
    /// typed command — as `actor` at `now`, and records what it decided: for tests that build
    /// commands as types rather than JSON. Returns the reply and the recorded events.
    pub fn decide<R>(
        &mut self,
        actor: Actor,
        now: Timestamp,
        handler: impl FnOnce(&S::State, &S::Config, &Context) -> Result<Decided<R>, Rejection>,
    ) -> Result<(R, Vec<Envelope>), Rejection> {
        let ctx = self.context(actor, now);
        let decided = handler(&self.state, &self.config, &ctx)?;
        let correlation = ctx.seed;
        let recorded = self.record(decided.events, &ctx, correlation, None);
        Ok((decided.reply, recorded))
    }

    /// How many events the log holds.
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// Asks the query `name` with `body` as `actor` at `now`.
    pub fn query(
        &mut self,
        actor: Actor,
        now: Timestamp,
        name: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let ctx = self.context(actor, now);
        match self.endpoint(name)? {
            Handler::Query(run) => run(&self.state, &self.config, &bytes, &ctx),
            Handler::Command(_) | Handler::Recorded(_) => Err(not_a(name, "query")),
        }
    }

    /// Delivers `batch`, upstream events `producer` published, as one inbox batch at `now`:
    /// each copy recorded after what fell due before it and ahead of its reactions, as the
    /// inbox records them. Returns what was recorded.
    pub fn deliver(&mut self, producer: &str, batch: &[Envelope], now: Timestamp) -> Vec<Envelope> {
        let decided = decide_batch::<S>(&self.state, &self.config, producer, batch);
        let ctx = self.context(Actor::system(S::NAME), now);
        let mut out = Vec::new();
        for (upstream, d) in batch.iter().zip(decided) {
            let correlation = upstream.correlation_id.as_uuid();
            out.extend(self.record(d.before, &ctx, correlation, None));
            if self.ids.insert(upstream.event_id) {
                // As the inbox stores it: the bytes as published (the log's own version of
                // the inbox stream is beside them, not in them).
                let stream = format!("{INBOX_PREFIX}{producer}");
                self.next_version(&stream);
                self.append(stream, codec::encode(upstream));
                out.push(upstream.clone());
            }
            let cause = Some(upstream.event_id.as_uuid());
            out.extend(self.record(d.reactions, &ctx, correlation, cause));
        }
        out
    }

    /// The scheduler at `now`: records every transition due. Returns what was recorded.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Envelope> {
        let due = S::due(&self.state, &self.config, now);
        let ctx = self.context(Actor::system(S::NAME), now);
        let correlation = ctx.seed;
        self.record(due, &ctx, correlation, None)
    }

    /// Every recorded event, decoded from its stored bytes, in log order.
    pub fn events(&self) -> Vec<Envelope> {
        self.log
            .iter()
            .filter_map(|(_, bytes)| codec::decode(bytes).ok())
            .collect()
    }

    /// Every recorded event as the log stores it: the stream it was appended to (an upstream
    /// copy's is the inbox's, not the producer's) and its encoded bytes, in log order. What a
    /// benchmark writes to a real log.
    pub fn records(&self) -> &[(String, Vec<u8>)] {
        &self.log
    }

    /// A fresh state folded from the stored bytes alone, as `csp replay` folds a log.
    pub fn replay(&self) -> S::State {
        let mut state = S::State::default();
        for (stream, bytes) in &self.log {
            if let Ok(env) = crate::service::decode_record::<S>(stream, bytes) {
                S::apply_recorded(&mut state, &env, bytes, origin(stream));
            }
        }
        state
    }

    fn endpoint(&self, name: &str) -> Result<&Handler<S>, ApiError> {
        self.table
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.handler)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("{} has no endpoint {name:?}", S::NAME),
                )
            })
    }

    /// Records emits as the runtime does: the envelope function, the log's dedupe by id, the
    /// next version of each stream; then folds each from its encoded bytes.
    fn record(
        &mut self,
        emits: Vec<Emit>,
        ctx: &Context,
        correlation: Uuid,
        causation: Option<Uuid>,
    ) -> Vec<Envelope> {
        let mut out = Vec::new();
        for (k, mut emit) in emits.into_iter().enumerate() {
            // Deterministic where the runtime draws a UUID v7: derived from the context.
            if emit.id.is_none() {
                emit.id = Some(EventId(ctx.new_id("event", u32::try_from(k).unwrap_or(0))));
            }
            if emit.id.is_some_and(|id| !self.ids.insert(id)) {
                continue;
            }
            let version = self.next_version(&emit.stream);
            let env = envelope(emit, version, ctx.now, &ctx.actor, correlation, causation);
            self.append(env.stream.clone(), codec::encode(&env));
            out.push(env);
        }
        out
    }

    fn next_version(&mut self, stream: &str) -> u64 {
        let v = self.versions.entry(stream.to_string()).or_insert(0);
        *v += 1;
        *v
    }

    fn append(&mut self, stream: String, bytes: Vec<u8>) {
        if let Ok(env) = crate::service::decode_record::<S>(&stream, &bytes) {
            S::apply_recorded(&mut self.state, &env, &bytes, origin(&stream));
        }
        self.log.push((stream, bytes));
    }
}

fn origin(stream: &str) -> Origin<'_> {
    match stream.strip_prefix(INBOX_PREFIX) {
        Some(producer) => Origin::Upstream { producer },
        None => Origin::Own,
    }
}

fn not_a(name: &str, what: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, format!("{name} is not a {what}"))
}

/// Sends `body` to `subject` on `bus` as `token`'s actor, as a client would: the reply, parsed.
/// For tests that drive a running service (the access matrices); panics on no reply or a reply
/// that is not JSON, which no test should accept.
pub async fn ask(bus: &crate::Bus, subject: &str, token: &str, body: &Value) -> Value {
    let reply = bus
        .request(
            subject,
            crate::Headers::new().with("Authorization", format!("Bearer {token}")),
            bytes::Bytes::from(body.to_string()),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{subject}: {e}"));
    serde_json::from_slice(&reply.payload).unwrap_or_else(|e| panic!("{subject}: {e}"))
}

/// What one access check observed: the reply's code (`ok`, or its `error.code`) and how many
/// `access_refused` events the service's `log` gained answering it.
pub async fn observe(
    bus: &crate::Bus,
    log: &csp_eventlog::EventLog,
    subject: &str,
    token: &str,
    body: &Value,
) -> (String, u64) {
    let before = log.last_seq();
    let reply = ask(bus, subject, token, body).await;
    let code = if reply["ok"] == true {
        "ok".to_string()
    } else {
        reply["error"]["code"].as_str().unwrap_or("?").to_string()
    };
    let refusals = log
        .read_from(before + 1)
        .map(|r| codec::decode(r.expect("a record").bytes()).expect("an event"))
        .filter(|e| matches!(e.payload, csp_events::Event::AccessRefused(_)))
        .count() as u64;
    (code, refusals)
}

/// An installation in one process, for tests that run several services on the runtime (the
/// access matrices): one in-process bus, one manual clock every service shares, the issuers
/// the test trusts plus a fresh internal issuer (so consumers can fetch lost events), and each
/// service's log in its own directory under `dir`.
pub struct Local {
    /// The bus.
    pub bus: crate::Bus,
    /// The clock, moved by the test.
    pub clock: crate::clock::ManualClock,
    verifier: std::sync::Arc<csp_auth::Verifier>,
    internal: std::sync::Arc<csp_auth::InternalIssuer>,
    dir: std::path::PathBuf,
}

impl Local {
    /// An installation trusting `auth`'s issuers, its clock at `start`, its logs under `dir`.
    /// Panics if the internal issuer cannot be made or the issuers are invalid: test setup.
    pub fn new(dir: &std::path::Path, mut auth: csp_auth::AuthConfig, start: Timestamp) -> Local {
        let internal =
            std::sync::Arc::new(csp_auth::InternalIssuer::generate().expect("an internal issuer"));
        auth.issuers.push(internal.issuer_config());
        Local {
            bus: crate::Bus::local(),
            clock: crate::clock::ManualClock::new(start),
            verifier: std::sync::Arc::new(csp_auth::Verifier::new(auth).expect("valid issuers")),
            internal,
            dir: dir.to_path_buf(),
        }
    }

    /// The runtime configuration of the service whose log is `<dir>/<name>`.
    pub fn config(&self, name: &str) -> crate::runtime::RuntimeConfig {
        let log =
            csp_eventlog::EventLog::open(self.dir.join(name), csp_eventlog::LogOptions::default())
                .expect("a log");
        let mut c = crate::runtime::RuntimeConfig::new(
            self.bus.clone(),
            log,
            crate::Clock::Manual(self.clock.clone()),
            std::sync::Arc::clone(&self.verifier),
        );
        c.internal = Some(std::sync::Arc::clone(&self.internal));
        c
    }
}
