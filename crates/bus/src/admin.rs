//! The runtime's own operator endpoints, `csp.admin.<service>.{clock,status}`, for a platform
//! `operator` or another csp service only (never a partner's or a customer's user): the
//! business clock, and where the service stands (log, outbox, consumers,
//! the state's summary and, on request, its digest).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use csp_events::{ApiError, ErrorCode, Reply, Timestamp};

use crate::clock::Clock;
use crate::core::*;
use crate::service::Service;

/// `csp.admin.<service>.<op>`: the runtime's own operator endpoints, for a platform `operator`
/// or a csp service only: `clock` reads or moves a manual clock; `status` tells the
/// log's position and the applied position.
pub fn admin_subject(service: &str, op: &str) -> String {
    format!("csp.admin.{service}.{op}")
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
/// `{"set": "<RFC 3339>"}` moves a manual clock. Only a platform `operator` or a csp service
/// may call it, and only a manual clock moves.
pub(crate) fn admin_clock<S: Service>(shared: &Shared<S>, body: &[u8]) -> Bytes {
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
pub(crate) fn admin_status<S: Service>(shared: &Shared<S>, body: &[u8]) -> Bytes {
    let req: StatusRequest = match csp_events::api::decode_json(body) {
        Ok(r) => r,
        Err(e) => return error_reply(e),
    };
    let stats = shared.log.stats();
    // Read together, so the summary is of exactly `applied_seq` events.
    let (applied_seq, summary, positions) = {
        let applied = read_lock(&shared.applied);
        (
            applied.seq,
            summary::<S>(&applied.state, req.digest),
            serde_json::to_value(&applied.inbox).unwrap_or_default(),
        )
    };
    let status = serde_json::json!({
        "service": shared.name,
        "epoch": shared.log.epoch(),
        "last_seq": shared.log.last_seq(),
        "last_outbox_seq": shared.log.last_outbox_seq(),
        "applied_seq": applied_seq,
        // Why the service halted (an event of its own log it cannot fold), or null.
        "halted": shared.halted.borrow().clone(),
        "state": summary,
        "outbox_published": shared.log.cursor(crate::outbox::CURSOR).ok().flatten().unwrap_or(0),
        "inbox": shared.counters.snapshot(),
        // How far this consumer holds each producer's outbox, per epoch: caught up with a
        // producer when it equals that producer's `last_outbox_seq`.
        "upstream_positions": positions,
        "scheduler_looks": shared.scheduler_looks.load(Ordering::Relaxed),
        "upstream_horizons": shared.horizons.snapshot(),
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
