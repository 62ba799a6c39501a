//! The request path: every command and query, from the bus to the reply — size limit, token
//! verification, strict decoding, the request record, deciding against the applied state,
//! recording (through [`crate::core`]), waiting for the fold, the reply — and the loop that
//! serves them with backpressure.

use std::sync::Arc;

use bytes::Bytes;
use csp_auth::IssuerKind;
use csp_eventlog::NewRequest;
use csp_events::{Actor, ActorKind, ApiError, ErrorCode, Reply, Role};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::admin::{admin_clock, admin_status};
use crate::bus::Incoming;
use crate::clock::wall_seconds;
use crate::core::*;
use crate::service::{Access, Handler, Service};

pub(crate) async fn serve_loop<S: Service>(
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
        .verify(msg.headers.all(AUTHORIZATION), wall_seconds())
    {
        Ok(v) => v,
        Err(e) => return error_reply(e.to_api_error()),
    };
    if endpoint_index == shared.table.len() + 2 {
        return crate::outbox::events_from(shared, &verified, &msg.payload).await;
    }
    if endpoint_index >= shared.table.len() {
        let name = if endpoint_index == shared.table.len() {
            "admin.clock"
        } else {
            "admin.status"
        };
        if !may_administer(&verified.actor) {
            let refusal = ApiError::new(
                ErrorCode::Forbidden,
                "the admin endpoints are for a platform operator or another csp service",
            );
            let correlation = Uuid::now_v7();
            return refuse(shared, name, refusal, &verified, correlation).await;
        }
        return if endpoint_index == shared.table.len() {
            admin_clock(shared, &msg.payload)
        } else {
            admin_status(shared, &msg.payload)
        };
    }
    if let Some(why) = shared.halted.borrow().as_deref() {
        return error_reply(halted_error(why));
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
        return refuse(shared, endpoint.name, refusal, &verified, correlation).await;
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
                Err(r) if r.is_refusal() => {
                    refuse(shared, endpoint.name, r, &verified, correlation).await
                }
                Err(r) => error_reply(r),
            }
        }
        Handler::Recorded(decode) => {
            let read = match decode(&msg.payload) {
                Ok(r) => r,
                Err(e) => return error_reply(e),
            };
            recorded_read(shared, endpoint.name, read, &verified, correlation).await
        }
        Handler::Command(decode) => {
            let mut prepared = match decode(&msg.payload) {
                Ok(p) => p,
                Err(e) => return error_reply(e),
            };
            let hash = request_hash(endpoint.name, &actor, &msg.payload);
            let tenant = actor.tenant;
            let request_id = prepared.request_id().as_str().to_string();
            match shared.log.request(tenant.as_uuid(), &request_id) {
                Ok(Some(record)) if record.body_hash == hash => return Bytes::from(record.reply),
                Ok(Some(_)) => return error_reply(idempotency_conflict(&request_id)),
                Ok(None) => {}
                Err(e) => return error_reply(unavailable(e)),
            }
            // The shell step of a prepared command, once: a retry of a recorded request was
            // answered above and never repeats it.
            let prepared_ok = match context(shared, &verified) {
                Ok(ctx) => {
                    let applied = read_lock(&shared.applied);
                    prepared.prepare(&applied.state, &shared.config, &ctx)
                }
                Err(e) => return error_reply(e),
            };
            match prepared_ok {
                Ok(()) => {}
                Err(r) if r.is_refusal() => {
                    return refuse(shared, endpoint.name, r, &verified, correlation).await
                }
                Err(r) => return error_reply(r),
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
                // Decided and versioned against one state, under one lock (see `stamp`).
                let (events, reply) = {
                    let applied = read_lock(&shared.applied);
                    let (emits, reply) = match prepared.decide(&applied.state, &shared.config, &ctx)
                    {
                        Ok(d) => (d.events, Bytes::from(Reply::Ok(d.reply).to_bytes())),
                        Err(r) if r.is_refusal() => {
                            let (refused, r) = take_refused(r);
                            let reply = error_reply(r.clone());
                            let emit = access_refused::<S>(endpoint.name, &r, &verified, refused);
                            (vec![emit], reply)
                        }
                        Err(r) => return error_reply(r),
                    };
                    let events = stamp(
                        shared,
                        &applied,
                        Vec::new(),
                        emits,
                        Some(&ctx),
                        Some(correlation),
                        None,
                    );
                    (events, reply)
                };
                let req = request(&reply);
                match append_stamped(shared, events, Some(req)).await {
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

/// A recorded read: decided like a query, its events appended (no request record: the reply
/// may hold a secret and must never reach the log) and folded, and only then revealed. If the
/// events cannot be recorded, nothing is revealed.
async fn recorded_read<S: Service>(
    shared: &Shared<S>,
    name: &'static str,
    read: Box<dyn crate::service::RecordedRead<S>>,
    verified: &csp_auth::Verified,
    correlation: Uuid,
) -> Bytes {
    for _attempt in 0..MAX_ATTEMPTS {
        let ctx = match context(shared, verified) {
            Ok(ctx) => ctx,
            Err(e) => return error_reply(e),
        };
        let decided = {
            let applied = read_lock(&shared.applied);
            read.decide(&applied.state, &shared.config, &ctx)
                .map(|(emits, handle)| {
                    let events = stamp(
                        shared,
                        &applied,
                        Vec::new(),
                        emits,
                        Some(&ctx),
                        Some(correlation),
                        None,
                    );
                    (events, handle)
                })
        };
        let (events, handle) = match decided {
            Ok(d) => d,
            Err(r) if r.is_refusal() => {
                return refuse(shared, name, r, verified, correlation).await
            }
            Err(r) => return error_reply(r),
        };
        let appended = if crate::crash::fails("recorded_read_append") {
            Err(AppendFailure::Failed(crate::core::unavailable(
                "the log refused the append (fault point recorded_read_append)",
            )))
        } else {
            append_stamped(shared, events, None).await
        };
        match appended {
            Ok(last) => {
                if let Some(last) = last {
                    wait_applied(shared, last).await;
                }
                return match handle.reveal(&shared.config) {
                    Ok(v) => Bytes::from(Reply::Ok(v).to_bytes()),
                    Err(r) => error_reply(r),
                };
            }
            Err(AppendFailure::Conflict) => {
                let last = shared.log.last_seq();
                wait_applied(shared, last).await;
            }
            Err(AppendFailure::Failed(e)) => return error_reply(e),
            Err(AppendFailure::AlreadyRecorded(_) | AppendFailure::IdempotencyConflict) => {
                return error_reply(ApiError::new(
                    ErrorCode::Internal,
                    "a recorded read met a request record it never writes",
                ))
            }
        }
    }
    error_reply(ApiError::new(
        ErrorCode::Conflict,
        "concurrent changes kept winning; ask again",
    ))
}

fn idempotency_conflict(request_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyConflict,
        format!("request_id {request_id:?} was already used in your tenant, with a different body or by another user; use a new request_id"),
    )
    .with("request_id", request_id)
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

/// The hash a command's request record keeps: its [`body_hash`] and who sent it (kind, tenant,
/// user). A stored reply answers only a retry by the same user with the same body: another
/// user of the tenant reusing the `request_id` (a `forbidden` answered to a sales agent, say)
/// gets `idempotency_conflict`, never someone else's answer.
pub(crate) fn request_hash(command: &str, actor: &Actor, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(body_hash(command, body));
    let kind = serde_json::to_vec(&actor.kind).unwrap_or_default();
    for part in [
        &kind[..],
        actor.tenant.as_uuid().as_bytes(),
        actor.user.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Who may read a service's status (with its all-tenant digest) and move its manual clock:
/// the platform's `operator`, or another csp service (a `service` token, which only the
/// internal issuer — or the local development issuer — can mint). Never a partner's or a
/// customer's user, whatever their role.
fn may_administer(actor: &Actor) -> bool {
    match actor.kind {
        ActorKind::Platform => actor.has(Role::Operator),
        ActorKind::Service => actor.has(Role::Service),
        ActorKind::Partner | ActorKind::Customer => false,
    }
}
