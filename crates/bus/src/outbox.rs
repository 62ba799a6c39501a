//! The producer side of events between services.
//!
//! - [`publisher`]: publishes what the log's outbox holds, in outbox order, pipelined (up to
//!   `in_flight` acknowledgements pending), each on
//!   `csp.evt.<service>.<event>.<partner>.<customer>` with `Nats-Msg-Id` = event id and its
//!   outbox position (sequence, epoch) set; a cursor in the log records what JetStream
//!   acknowledged (durable with the log's next group commit, not synced on its own: a cursor
//!   that lags after a crash only republishes), so a restart republishes from there
//!   (JetStream's duplicate window and the consumers' dedupe absorb the overlap).
//! - [`heartbeat`]: announces the latest outbox sequence on `csp.hb.<service>`, so consumers
//!   notice a lost tail.
//! - [`events_from`]: the internal endpoint that serves published events from the log itself,
//!   which is how consumers recover whatever the bus lost.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use csp_auth::{IssuerKind, Verified};
use csp_events::feed::{EventsFrom, EventsPage, Heartbeat};
use csp_events::{codec, subject, ApiError, ErrorCode, OutboxPosition, Reply, Role};
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::bus::{BusError, Headers};
use crate::core::{error_reply, refuse, Shared};
use crate::crash;
use crate::service::Service;

/// The log cursor of the last outbox sequence JetStream acknowledged.
pub const CURSOR: &str = "outbox.published";

/// The most events one `events_from` page carries.
pub const MAX_PAGE: u32 = 1000;

/// Publishes the outbox until shutdown; after shutdown is signalled it publishes what is already
/// durable once more (best effort) and stops.
pub(crate) async fn publisher<S: Service>(
    shared: Arc<Shared<S>>,
    in_flight: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wake = shared.applied_tx.subscribe();
    let mut published = shared.log.cursor(CURSOR).ok().flatten().unwrap_or(0);
    let mut backoff = Duration::from_millis(50);
    loop {
        let last = shared.log.last_outbox_seq();
        if last > published {
            match publish_range(&shared, published + 1, in_flight).await {
                Ok(acked) => {
                    if acked > published {
                        published = acked;
                        if let Err(e) = shared.log.note_cursor(CURSOR, published) {
                            warn!(service = shared.name, "saving the outbox cursor: {e}");
                        }
                    }
                    backoff = Duration::from_millis(50);
                    continue;
                }
                Err((acked, e)) => {
                    if acked > published {
                        published = acked;
                        let _ = shared.log.note_cursor(CURSOR, published);
                    }
                    warn!(
                        service = shared.name,
                        published, "publishing the outbox: {e}; retrying"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
        }
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = wake.changed() => {}
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Publishes from `from` on, up to 10,000 events, and returns the last acknowledged sequence
/// (or how far it got and why it stopped).
async fn publish_range<S: Service>(
    shared: &Shared<S>,
    from: u64,
    in_flight: usize,
) -> Result<u64, (u64, BusError)> {
    let epoch = shared.log.epoch();
    let mut pending = VecDeque::new();
    let mut acked = from - 1;
    for record in shared.log.read_outbox_from(from).take(10_000) {
        let record = record.map_err(|e| {
            (
                acked,
                BusError::Transport(format!("reading the outbox: {e}")),
            )
        })?;
        let Some(seq) = record.outbox_seq else {
            continue;
        };
        crash::point("producer_after_append");
        let position = OutboxPosition { seq, epoch };
        let (bytes, header, kind) = match codec::with_outbox(record.bytes(), position) {
            Ok(done) => done,
            Err(e) => {
                // Our own log, written by this build: never expected. Skipping would leave a
                // gap consumers wait on forever, so stop and say so.
                return Err((
                    acked,
                    BusError::Transport(format!("outbox #{seq} undecodable: {e}")),
                ));
            }
        };
        let subject = subject::event_of(shared.name, kind.name(), header.partner, header.customer);
        let ack = shared
            .bus
            .js_publish(
                &subject,
                &header.event_id.to_string(),
                Headers::new(),
                Bytes::from(bytes),
            )
            .await
            .map_err(|e| (acked, e))?;
        pending.push_back((seq, ack));
        if pending.len() >= in_flight.max(1) {
            if let Some((s, a)) = pending.pop_front() {
                a.wait().await.map_err(|e| (acked, e))?;
                acked = s;
            }
        }
    }
    while let Some((s, a)) = pending.pop_front() {
        a.wait().await.map_err(|e| (acked, e))?;
        acked = s;
    }
    debug!(service = shared.name, acked, "outbox published");
    Ok(acked)
}

/// Announces the latest durable outbox sequence every `interval`.
pub(crate) async fn heartbeat<S: Service>(
    shared: Arc<Shared<S>>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let subject = subject::heartbeat(shared.name);
    loop {
        // Read before the outbox sequence, so whatever was recorded up to it is covered.
        let until = shared
            .scheduled_until
            .load(std::sync::atomic::Ordering::Relaxed);
        let hb = Heartbeat {
            service: shared.name.to_string(),
            epoch: shared.log.epoch(),
            last_outbox_seq: shared.log.last_outbox_seq(),
            recorded_until: (until != i64::MIN).then(|| csp_events::Timestamp::from_micros(until)),
        };
        if let Ok(body) = serde_json::to_vec(&hb) {
            if let Err(e) = shared
                .bus
                .publish(&subject, Headers::new(), Bytes::from(body))
                .await
            {
                debug!(service = shared.name, "heartbeat: {e}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// `csp.qry.<service>.events_from`: published events from the log, for csp services only.
pub(crate) async fn events_from<S: Service>(
    shared: &Shared<S>,
    verified: &Verified,
    body: &[u8],
) -> Bytes {
    if !(verified.issuer_kind == IssuerKind::Internal && verified.actor.has(Role::Service)) {
        let refusal = ApiError::new(
            ErrorCode::Forbidden,
            "events_from is an internal endpoint, for csp services only",
        );
        return refuse(
            shared,
            "events_from",
            refusal,
            verified,
            uuid::Uuid::now_v7(),
        )
        .await;
    }
    let q: EventsFrom = match csp_events::api::decode_json(body) {
        Ok(q) => q,
        Err(e) => return error_reply(e),
    };
    let epoch = shared.log.epoch();
    if q.epoch != epoch {
        return error_reply(
            ApiError::new(
                ErrorCode::InvalidState,
                format!(
                    "this log's epoch is {epoch}; events of epoch {} are not here",
                    q.epoch
                ),
            )
            .with("epoch", epoch.to_string()),
        );
    }
    let limit = q.limit.clamp(1, MAX_PAGE) as usize;
    let mut events = Vec::with_capacity(limit);
    for record in shared
        .log
        .read_outbox_from(q.from_outbox_seq.max(1))
        .take(limit)
    {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                return error_reply(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("reading the log: {e}"),
                ))
            }
        };
        let Some(seq) = record.outbox_seq else {
            continue;
        };
        let mut env = match codec::decode(record.bytes()) {
            Ok(env) => env,
            Err(e) => {
                return error_reply(ApiError::new(
                    ErrorCode::Internal,
                    format!("outbox #{seq}: {e}"),
                ))
            }
        };
        env.outbox = Some(OutboxPosition { seq, epoch });
        events.push(base64::engine::general_purpose::STANDARD.encode(codec::encode(&env)));
    }
    let page = EventsPage {
        epoch,
        last_outbox_seq: shared.log.last_outbox_seq(),
        events,
    };
    Bytes::from(Reply::ok(&page).to_bytes())
}
