//! The consumer side of events between services: one task per producer this service consumes.
//!
//! Per producer it pulls from a durable JetStream consumer over `csp.evt.<producer>.>` and, for
//! each message, in outbox order:
//! - bytes that do not decode become a `Quarantined` event in this log and a copy on
//!   `csp.dlq.<service>`; the message is acknowledged and the consumer goes on;
//! - a record of a kind this build does not know (a newer build's) is NAKed with backoff and
//!   reported, and this producer is held there (in-order delivery would break otherwise);
//!   other producers' tasks go on. A known kind from a newer build is read like any other;
//! - an outbox sequence at or below what this service holds for the producer's epoch is a
//!   duplicate: acknowledged, nothing else;
//! - a gap (a sequence beyond the next) is filled first from the producer's own log
//!   (`events_from`, paged), in order;
//! - otherwise the upstream event and its reactions are appended in one batch, flushed, then the
//!   message is acknowledged.
//!
//! Heartbeats (`csp.hb.<producer>`) reveal a lost tail: once JetStream has nothing more to
//! deliver (nothing came for half a second) and this service still lacks what the producer announced,
//! the rest is fetched the same way. Events merely in flight are never fetched twice. Positions
//! are durable log cursors (`inbox/<producer>/<epoch>`), written after the events they cover;
//! a crash in between only means a redelivery, which is a no-op. A new epoch (a producer log
//! restored from a backup) is tracked on its own, so its reused sequence numbers are never taken
//! for old events.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use csp_events::event::Quarantined;
use csp_events::feed::{EventsFrom, EventsPage, Heartbeat};
use csp_events::{codec, subject, Envelope, EventId, Reply};
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use crate::bus::Headers;
use crate::core::{
    append_emits, append_stamped, read_lock, stamp, wait_applied, AppendFailure, Ingest, Shared,
    AUTHORIZATION, INBOX_PREFIX,
};
use crate::crash;
use crate::js::{JsConsumer, JsMsg};
use crate::service::{decide_batch, Emit, Service};

/// How long JetStream must have delivered nothing before a tail the producer announced is
/// fetched from its log: events merely in flight arrive well within it.
const IDLE_BEFORE_RECOVERY: Duration = Duration::from_millis(500);

fn cursor_name(producer: &str, epoch: Uuid) -> String {
    format!("inbox/{producer}/{epoch}")
}

/// Namespace of quarantine event ids: one per (producer, stream sequence), so a redelivered bad
/// message is quarantined once.
const QUARANTINE_NAMESPACE: Uuid = Uuid::from_u128(0x6a0f_4c55_1b0e_4e5b_9d3c_2f1a_7c4e_0005);

/// Upstream events to append together, in order: the envelopes (which `react` reads, each
/// after the ones before it) and their bytes as published (what the log stores).
#[derive(Default)]
struct Pending {
    envs: Vec<Envelope>,
    bytes: Vec<Bytes>,
}

impl Pending {
    fn push(&mut self, env: Envelope, bytes: Bytes) {
        self.envs.push(env);
        self.bytes.push(bytes);
    }

    fn len(&self) -> usize {
        self.envs.len()
    }

    fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }
}

/// What a fetched message is.
enum Class {
    /// Already held: acknowledge.
    Duplicate,
    /// The next event: queue it.
    Next(Box<Envelope>, Bytes),
    /// Beyond the next: fetch `from..=to` from the producer first.
    Gap(Box<Envelope>, Bytes, u64, u64),
    /// Not an event: quarantine.
    Garbage(String),
    /// Hold the producer here; NAK with this delay.
    Hold(Duration),
}

/// Why a message could not be handled now.
enum Hold {
    /// Retry the message after this delay (NAK), and hold the producer meanwhile.
    Retry(Duration),
}

struct Consumer<S: Service> {
    shared: Arc<Shared<S>>,
    producer: &'static str,
    positions: HashMap<Uuid, u64>,
    dirty: HashMap<Uuid, u64>,
    /// Positions queued in the current batch, not yet durable.
    queued: HashMap<Uuid, u64>,
    /// Held at a record of a kind this build does not know (its stream sequence): nothing after it is taken
    /// from this producer, not even through heartbeats, until it can be read.
    held: Option<u64>,
    /// The producer announced more than this consumer has: (epoch, its last outbox seq). It
    /// is fetched from the producer's log once JetStream has nothing more to deliver (a fetch
    /// came back empty, or nothing came for [`IDLE_BEFORE_RECOVERY`]), so events merely in
    /// flight are not fetched twice.
    tail: Option<(Uuid, u64)>,
    /// The latest heartbeat's promise not yet consumed: (epoch, outbox seq, recorded until).
    /// Once this consumer holds that seq, the producer's horizon rises to it.
    mark: Option<(Uuid, u64, csp_events::Timestamp)>,
}

/// Runs the consumer of `producer` until shutdown.
pub(crate) async fn consumer<S: Service>(
    shared: Arc<Shared<S>>,
    producer: &'static str,
    mut shutdown: watch::Receiver<bool>,
) {
    let durable = format!("{}-from-{producer}", shared.name);
    let filter = subject::events_of(producer);
    let mut js = loop {
        match shared
            .bus
            .durable_consumer(
                subject::EVENTS_STREAM,
                &durable,
                &filter,
                Duration::from_secs(30),
            )
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                warn!(
                    service = shared.name,
                    producer, "creating the consumer: {e}; retrying"
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    let mut heartbeats = shared
        .bus
        .subscribe(&subject::heartbeat(producer))
        .await
        .ok();
    let mut c = Consumer {
        shared,
        producer,
        positions: HashMap::new(),
        dirty: HashMap::new(),
        queued: HashMap::new(),
        held: None,
        tail: None,
        mark: None,
    };
    info!(service = c.shared.name, producer, "consuming");
    let mut backoff = Duration::from_millis(100);
    let mut last_delivery = Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            batch = fetch(&mut js) => match batch {
                Ok(batch) if !batch.is_empty() => {
                    last_delivery = Instant::now();
                    crash::point("consumer_after_consume");

                    let held = c.run_batch(&batch, backoff).await;
                    c.save_positions();
                    c.advance_horizon().await;

                    if held {
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = shutdown.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    } else {
                        backoff = Duration::from_millis(100);
                    }
                }
                Ok(_) => {
                    c.recover_tail().await;
                    c.save_positions();
                    c.advance_horizon().await;
                }
                Err(e) => {
                    warn!(service = c.shared.name, producer, "fetch: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            },
            hb = next_heartbeat(&mut heartbeats) => {
                if let Some(hb) = hb {
                    c.on_heartbeat(hb);
                    // Heartbeats can come more often than a fetch waits, so an idle consumer
                    // also looks at the tail here, not only when a fetch comes back empty.
                    if last_delivery.elapsed() >= IDLE_BEFORE_RECOVERY {
                        c.recover_tail().await;
                        c.save_positions();
                    }
                    c.advance_horizon().await;
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn fetch(js: &mut JsConsumer) -> Result<Vec<JsMsg>, crate::BusError> {
    js.fetch(1000, Duration::from_millis(500)).await
}

async fn next_heartbeat(sub: &mut Option<crate::Subscription>) -> Option<Heartbeat> {
    match sub {
        Some(s) => {
            let m = s.next().await?;
            serde_json::from_slice(&m.payload).ok()
        }
        None => std::future::pending().await,
    }
}

impl<S: Service> Consumer<S> {
    /// Where this consumer stands for `epoch`: the highest of what is queued, what the log
    /// holds (a fold, never behind it) and the durable cursor (which also covers events the
    /// log already held under another epoch).
    fn position(&mut self, epoch: Uuid) -> u64 {
        if let Some(p) = self.positions.get(&epoch) {
            return *p;
        }
        let cursor = self
            .shared
            .log
            .cursor(&cursor_name(self.producer, epoch))
            .ok()
            .flatten()
            .unwrap_or(0);
        let folded = read_lock(&self.shared.applied).inbox_position(self.producer, epoch);
        let p = cursor.max(folded);
        self.positions.insert(epoch, p);
        p
    }

    /// Makes the positions durable; called after the events they cover are durable. A position
    /// the log's own upstream copies already prove (the fold is there) needs no cursor write,
    /// which would cost a flush per batch; the cursor is for what the log cannot show, such as
    /// events skipped as duplicates under a new epoch.
    fn save_positions(&mut self) {
        let dirty: Vec<(Uuid, u64)> = {
            let applied = read_lock(&self.shared.applied);
            self.dirty
                .drain()
                .filter(|&(epoch, seq)| applied.inbox_position(self.producer, epoch) < seq)
                .collect()
        };
        for (epoch, seq) in dirty {
            if let Err(e) = self
                .shared
                .log
                .set_cursor(&cursor_name(self.producer, epoch), seq)
            {
                warn!(service = self.shared.name, "saving the inbox position: {e}");
            }
        }
    }

    /// Handles a fetched batch in order: valid upstream events are gathered and appended
    /// together (one append, one flush), then their messages acknowledged. Returns whether the
    /// producer is held (the rest of the batch was NAKed, to come again in order).
    async fn run_batch(&mut self, batch: &[JsMsg], backoff: Duration) -> bool {
        let half = batch.len() / 2;
        let mut pending = Pending::default();
        let mut to_ack: Vec<&JsMsg> = Vec::new();
        let mut held = false;
        for (i, m) in batch.iter().enumerate() {
            if i == half && i > 0 {
                crash::point("consumer_mid_batch");
            }
            if held {
                let _ = m.nak(backoff).await;
                continue;
            }
            match self.classify(m).await {
                Class::Duplicate => to_ack.push(m),
                Class::Next(env, bytes) => {
                    pending.push(*env, bytes);
                    to_ack.push(m);
                }
                Class::Gap(env, bytes, from, to) => {
                    // Everything before the gap first, then the gap from the producer's log,
                    // then this one.
                    let epoch = env.outbox.map(|p| p.epoch).unwrap_or_default();
                    let done = match self.commit(std::mem::take(&mut pending), &mut to_ack).await {
                        Ok(()) => self.recover(epoch, from, to).await,
                        Err(e) => Err(e),
                    };
                    match done {
                        Ok(()) => {
                            self.queue(&env);
                            pending.push(*env, bytes);
                            to_ack.push(m);
                        }
                        Err(Hold::Retry(delay)) => {
                            held = true;
                            let _ = m.nak(delay).await;
                        }
                    }
                }
                Class::Garbage(reason) => {
                    let done = match self.commit(std::mem::take(&mut pending), &mut to_ack).await {
                        Ok(()) => self.quarantine(m, &reason).await,
                        Err(e) => Err(e),
                    };
                    match done {
                        Ok(()) => {
                            let _ = m.ack().await;
                        }
                        Err(Hold::Retry(delay)) => {
                            held = true;
                            let _ = m.nak(delay).await;
                        }
                    }
                }
                Class::Hold(delay) => {
                    if self
                        .commit(std::mem::take(&mut pending), &mut to_ack)
                        .await
                        .is_err()
                    {
                        self.forget_queued();
                    }
                    held = true;
                    let _ = m.nak(delay).await;
                }
            }
        }
        if self.commit(pending, &mut to_ack).await.is_err() {
            self.forget_queued();
            for m in to_ack.drain(..) {
                let _ = m.nak(backoff).await;
            }
            return true;
        }
        held
    }

    /// What one message is, given where this consumer stands. A valid next event is queued
    /// (the in-memory position moves) so the next message is judged after it.
    async fn classify(&mut self, m: &JsMsg) -> Class {
        if let Some(at) = self.held {
            if m.stream_seq != at {
                // In order: nothing after the held record, until it can be read.
                return Class::Hold(Duration::from_secs(1));
            }
        }
        let decoded = if S::OPAQUE_UPSTREAM {
            codec::decode_opaque(&m.msg.payload, self.producer)
        } else {
            codec::decode(&m.msg.payload)
        };
        let env = match decoded {
            Ok(env) => env,
            Err(e) if e.is_newer() => {
                self.held = Some(m.stream_seq);
                self.shared.counters.held.fetch_add(1, Ordering::Relaxed);
                warn!(
                    service = self.shared.name,
                    producer = self.producer,
                    subject = %m.msg.subject,
                    "holding: {e} (a newer producer is being rolled out; this consumer needs upgrading)"
                );
                return Class::Hold(Duration::from_secs(2));
            }
            Err(e) => return Class::Garbage(e.to_string()),
        };
        self.held = None;
        let Some(pos) = env.outbox else {
            return Class::Garbage("a published event without an outbox position".into());
        };
        let last = self.position(pos.epoch);
        if pos.seq <= last {
            self.shared
                .counters
                .duplicates
                .fetch_add(1, Ordering::Relaxed);
            return Class::Duplicate;
        }
        let bytes = m.msg.payload.clone();
        if pos.seq > last + 1 {
            return Class::Gap(Box::new(env), bytes, last + 1, pos.seq - 1);
        }
        self.queue(&env);
        Class::Next(Box::new(env), bytes)
    }

    /// Moves the in-memory position past a queued (not yet durable) event.
    fn queue(&mut self, env: &Envelope) {
        if let Some(p) = env.outbox {
            self.queued.insert(p.epoch, p.seq);
            let e = self.positions.entry(p.epoch).or_insert(0);
            *e = (*e).max(p.seq);
        }
    }

    /// A commit failed: positions go back to what is durable.
    fn forget_queued(&mut self) {
        self.queued.clear();
        self.positions.clear();
    }

    /// Appends `pending` (upstream copies and reactions) in one batch and acknowledges
    /// `to_ack`; on a conflict it catches up and decides again, and after repeated conflicts
    /// goes one event at a time (which also tolerates events the log already holds).
    async fn commit(&mut self, pending: Pending, to_ack: &mut Vec<&JsMsg>) -> Result<(), Hold> {
        if !pending.is_empty() {
            let mut done = false;
            for _ in 0..3 {
                match self.append(&pending.envs, &pending.bytes).await {
                    Ok(()) => {
                        done = true;
                        break;
                    }
                    Err(AppendFailure::Conflict) => {
                        let last = self.shared.log.last_seq();
                        wait_applied(&self.shared, last).await;
                    }
                    Err(e) => {
                        warn!(
                            service = self.shared.name,
                            "appending upstream events: {e:?}"
                        );
                        self.forget_queued();
                        return Err(Hold::Retry(Duration::from_millis(500)));
                    }
                }
            }
            if !done {
                for i in 0..pending.len() {
                    let mut ok = false;
                    for _ in 0..8 {
                        let one = i..i + 1;
                        match self
                            .append(&pending.envs[one.clone()], &pending.bytes[one])
                            .await
                        {
                            Ok(()) => {
                                ok = true;
                                break;
                            }
                            Err(AppendFailure::Conflict) => {
                                let last = self.shared.log.last_seq();
                                wait_applied(&self.shared, last).await;
                            }
                            Err(_) => break,
                        }
                    }
                    if !ok {
                        self.forget_queued();
                        return Err(Hold::Retry(Duration::from_millis(500)));
                    }
                }
            }
            self.shared
                .counters
                .ingested
                .fetch_add(pending.len() as u64, Ordering::Relaxed);
            for (epoch, seq) in self.queued.drain() {
                self.dirty.insert(epoch, seq);
            }
        }
        crash::point("consumer_after_append");
        for m in to_ack.drain(..) {
            if let Err(e) = m.ack().await {
                warn!(service = self.shared.name, "ack: {e}");
            }
        }
        Ok(())
    }

    /// One append: every upstream copy of `envs` (published as `bytes`), each followed by its
    /// reactions.
    async fn append(&self, envs: &[Envelope], bytes: &[Bytes]) -> Result<(), AppendFailure> {
        let stream = format!("{INBOX_PREFIX}{}", self.producer);
        // Decided and versioned against one state, under one lock (see `stamp`).
        let events = {
            let applied = read_lock(&self.shared.applied);
            let decided =
                decide_batch::<S>(&applied.state, &self.shared.config, self.producer, envs);
            let ingests: Vec<Ingest> = envs
                .iter()
                .zip(bytes)
                .zip(decided)
                .map(|((env, bytes), d)| Ingest {
                    stream: stream.clone(),
                    event_id: env.event_id.as_uuid(),
                    bytes: bytes.to_vec(),
                    correlation: env.correlation_id.as_uuid(),
                    before: d.before,
                    reactions: d.reactions,
                })
                .collect();
            stamp(
                &self.shared,
                &applied,
                ingests,
                Vec::new(),
                None,
                None,
                None,
            )
        };
        let last = append_stamped(&self.shared, events, None).await?;
        if let Some(last) = last {
            wait_applied(&self.shared, last).await;
        }
        Ok(())
    }

    /// Fetches `from..=to` of `epoch` from the producer's log and ingests it, in order, a page
    /// (one append) at a time.
    async fn recover(&mut self, epoch: Uuid, from: u64, to: u64) -> Result<(), Hold> {
        let mut next = from;
        while next <= to {
            let page = self
                .events_from(epoch, next, (to - next + 1).min(1000) as u32)
                .await?;
            if page.events.is_empty() {
                warn!(
                    service = self.shared.name,
                    producer = self.producer,
                    from = next,
                    "the producer has no events from here"
                );
                return Err(Hold::Retry(Duration::from_secs(1)));
            }
            let mut items = Pending::default();
            for b64 in &page.events {
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                    return Err(Hold::Retry(Duration::from_secs(1)));
                };
                let decoded = if S::OPAQUE_UPSTREAM {
                    codec::decode_opaque(&bytes, self.producer)
                } else {
                    codec::decode(&bytes)
                };
                let Ok(env) = decoded else {
                    return Err(Hold::Retry(Duration::from_secs(2)));
                };
                let Some(pos) = env.outbox else { continue };
                if pos.seq != next || pos.seq > to {
                    continue;
                }
                self.queue(&env);
                items.push(env, Bytes::from(bytes));
                next = pos.seq + 1;
            }
            if items.is_empty() {
                return Err(Hold::Retry(Duration::from_secs(1)));
            }
            let n = items.len() as u64;
            if let Err(e) = self.commit(items, &mut Vec::new()).await {
                self.forget_queued();
                return Err(e);
            }
            self.shared
                .counters
                .recovered
                .fetch_add(n, Ordering::Relaxed);
        }
        self.save_positions();
        Ok(())
    }

    async fn events_from(&self, epoch: Uuid, from: u64, limit: u32) -> Result<EventsPage, Hold> {
        let Some(internal) = &self.shared.internal else {
            warn!(
                service = self.shared.name,
                "no internal issuer: cannot fetch lost events"
            );
            return Err(Hold::Retry(Duration::from_secs(5)));
        };
        let token = internal.mint_service(self.shared.name, 300, crate::clock::wall_seconds());
        let body = serde_json::to_vec(&EventsFrom {
            epoch,
            from_outbox_seq: from,
            limit,
        })
        .unwrap_or_default();
        let reply = self
            .shared
            .bus
            .request(
                &subject::query(self.producer, "events_from"),
                Headers::new().with(AUTHORIZATION, format!("Bearer {token}")),
                Bytes::from(body),
                Duration::from_secs(10),
            )
            .await
            .map_err(|e| {
                warn!(
                    service = self.shared.name,
                    producer = self.producer,
                    "events_from: {e}"
                );
                Hold::Retry(Duration::from_secs(1))
            })?;
        match serde_json::from_slice::<Reply>(&reply.payload) {
            Ok(Reply::Ok(v)) => {
                serde_json::from_value(v).map_err(|_| Hold::Retry(Duration::from_secs(1)))
            }
            Ok(Reply::Err(e)) => {
                warn!(
                    service = self.shared.name,
                    producer = self.producer,
                    "events_from refused: {e}"
                );
                Err(Hold::Retry(Duration::from_secs(2)))
            }
            Err(_) => Err(Hold::Retry(Duration::from_secs(1))),
        }
    }

    /// Notes a producer's announcement; a tail this consumer lacks is fetched later, by
    /// [`Consumer::recover_tail`], if JetStream does not deliver it first.
    fn on_heartbeat(&mut self, hb: Heartbeat) {
        if let Some(until) = hb.recorded_until {
            self.mark = Some((hb.epoch, hb.last_outbox_seq, until));
        }
        if self.held.is_some() || hb.last_outbox_seq <= self.position(hb.epoch) {
            return;
        }
        self.tail = match self.tail {
            Some((epoch, seq)) if epoch == hb.epoch => Some((epoch, seq.max(hb.last_outbox_seq))),
            _ => Some((hb.epoch, hb.last_outbox_seq)),
        };
    }

    /// Raises the producer's horizon once this consumer holds what the latest heartbeat
    /// announced (never while held: something before it is missing), and has folded it: the
    /// scheduler decides against the folded state.
    async fn advance_horizon(&mut self) {
        let Some((epoch, seq, until)) = self.mark else {
            return;
        };
        if self.held.is_none() && self.position(epoch) >= seq {
            if !wait_applied(&self.shared, self.shared.log.last_seq()).await {
                return;
            }
            self.shared.horizons.raise(self.producer, until);
            self.mark = None;
        }
    }

    /// JetStream has nothing more for this consumer: whatever announced tail it still lacks
    /// was lost on the way (deleted from the stream, or never stored), so it is fetched from
    /// the producer's log.
    async fn recover_tail(&mut self) {
        let Some((epoch, announced)) = self.tail.take() else {
            return;
        };
        if self.held.is_some() {
            return;
        }
        let last = self.position(epoch);
        if announced > last && self.recover(epoch, last + 1, announced).await.is_err() {
            // Retried on the next empty fetch; the next heartbeat would note it again anyway.
            self.tail = Some((epoch, announced));
        }
    }

    async fn quarantine(&mut self, m: &JsMsg, reason: &str) -> Result<(), Hold> {
        let mut name = m.msg.subject.as_bytes().to_vec();
        name.extend_from_slice(&m.stream_seq.to_be_bytes());
        if m.stream_seq == 0 {
            name.extend_from_slice(&m.msg.payload);
        }
        let id = EventId(Uuid::new_v5(&QUARANTINE_NAMESPACE, &name));
        let event = Quarantined {
            producer: self.producer.to_string(),
            subject: m.msg.subject.clone(),
            reason: reason.to_string(),
            raw: m.msg.payload.to_vec(),
        };
        let emit = Emit::new(format!("quarantine/{}", self.producer), event)
            .derived(id, self.shared.clock.now());
        warn!(service = self.shared.name, producer = self.producer, subject = %m.msg.subject, "quarantined: {reason}");
        match append_emits(&self.shared, vec![emit], None, None, None, None).await {
            Ok(_) | Err(AppendFailure::AlreadyRecorded(_)) => {}
            Err(e) => {
                warn!(service = self.shared.name, "recording a quarantine: {e:?}");
                return Err(Hold::Retry(Duration::from_millis(500)));
            }
        }
        let dlq = subject::dlq(self.shared.name);
        let headers = Headers::new()
            .with("Csp-Quarantine-Reason", reason.replace(['\r', '\n'], " "))
            .with("Csp-Original-Subject", m.msg.subject.clone());
        if let Err(e) = self
            .shared
            .bus
            .js_publish(&dlq, &id.to_string(), headers, m.msg.payload.clone())
            .await
        {
            warn!(service = self.shared.name, "publishing to the DLQ: {e}");
        }
        self.shared
            .counters
            .quarantined
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
