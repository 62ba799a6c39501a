//! Fire-and-forget commands: another system publishes a command on
//! `csp.in.<service>.<command>` (captured by the `CSP_INBOUND` stream) and moves on. The
//! service runs it exactly as if it had been requested — same token, same idempotency — and the
//! outcome is an event carrying the message's correlation id (`Csp-Correlation-Id`): the
//! accepted command's own events, or a `CommandRejected` with the code, since the sender has no
//! reply to read. Published twice, a command has one outcome: the request record answers the
//! retry of an accepted one, and a rejection's id is derived from the command, so it is stored
//! once.

use std::sync::Arc;
use std::time::Duration;

use csp_events::event::CommandRejected;
use csp_events::{subject, EventId, Reply, RequestId, TenantId};
use tokio::sync::watch;
use tracing::warn;
use uuid::Uuid;

use crate::core::{
    append_emits, error_reply, AppendFailure, Shared, AUTHORIZATION, CORRELATION_ID,
};
use crate::js::JsMsg;
use crate::request::{body_hash, handle_request};
use crate::service::{Emit, Handler, Service};
use crate::Headers;

/// Namespace of `CommandRejected` ids.
const REJECTED_NAMESPACE: Uuid = Uuid::from_u128(0x6a0f_4c55_1b0e_4e5b_9d3c_2f1a_7c4e_0006);

/// The id of the `CommandRejected` recorded for one fire-and-forget command of `tenant`.
fn rejection_id(command: &str, tenant: TenantId, body_hash: &[u8; 32]) -> EventId {
    let mut name = Vec::with_capacity(command.len() + 16 + 32 + 1);
    name.extend_from_slice(command.as_bytes());
    name.push(0);
    name.extend_from_slice(tenant.0.as_bytes());
    name.extend_from_slice(body_hash);
    EventId(Uuid::new_v5(&REJECTED_NAMESPACE, &name))
}

/// Runs the service's fire-and-forget commands until shutdown.
pub(crate) async fn consumer<S: Service>(
    shared: Arc<Shared<S>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let durable = format!("{}-inbound", shared.name);
    let filter = subject::inbound(shared.name, ">");
    let mut js = loop {
        match shared
            .bus
            .durable_consumer(
                subject::INBOUND_STREAM,
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
                    "creating the inbound consumer: {e}; retrying"
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    loop {
        let batch = tokio::select! {
            b = js.fetch(100, Duration::from_millis(500)) => b,
            _ = shutdown.changed() => return,
        };
        match batch {
            Ok(batch) => {
                for m in &batch {
                    if run(&shared, m).await {
                        let _ = m.ack().await;
                    } else {
                        let _ = m.nak(Duration::from_secs(1)).await;
                    }
                }
            }
            Err(e) => {
                warn!(service = shared.name, "inbound fetch: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// Runs one message; false if it should be retried (the outcome could not be recorded).
async fn run<S: Service>(shared: &Shared<S>, m: &JsMsg) -> bool {
    let command = m.msg.subject.rsplit('.').next().unwrap_or("").to_string();
    let index = shared
        .table
        .iter()
        .position(|e| e.name == command && matches!(e.handler, Handler::Command(_)));
    let reply = match index {
        Some(i) => handle_request(shared, i, &m.msg).await,
        None => error_reply(csp_events::ApiError::new(
            csp_events::ErrorCode::InvalidRequest,
            format!("{} has no command {command:?}", shared.name),
        )),
    };
    let error = match serde_json::from_slice::<Reply>(&reply) {
        Ok(Reply::Ok(_)) => return true,
        Ok(Reply::Err(e)) => e,
        Err(_) => return true,
    };
    use csp_events::ErrorCode as E;
    if matches!(error.code, E::Unavailable | E::Conflict) {
        // Storage trouble or a lost race: the command may yet succeed; NAK for redelivery.
        return false;
    }
    // Whoever sent this is unknown (no valid token) or sent more than a request may hold:
    // nothing of theirs enters the log (a stranger must not be able to write to it). A copy goes
    // to the DLQ with the reason, for the operator.
    let verified = shared.verifier.verify(
        m.msg.headers.all(AUTHORIZATION),
        crate::clock::wall_seconds(),
    );
    let tenant = match (&verified, error.code) {
        (Ok(v), code) if code != E::PayloadTooLarge => v.actor.tenant,
        _ => {
            warn!(service = shared.name, subject = %m.msg.subject, code = error.code.as_str(), "fire-and-forget message refused before it was read: sent to the DLQ, not recorded");
            let headers = Headers::new()
                .with(
                    "Csp-Quarantine-Reason",
                    format!("{}: {}", error.code.as_str(), error.message)
                        .replace(['\r', '\n'], " "),
                )
                .with("Csp-Original-Subject", m.msg.subject.clone());
            let id = Uuid::new_v5(&REJECTED_NAMESPACE, &m.msg.payload).to_string();
            let dlq = subject::dlq(shared.name);
            if let Err(e) = shared
                .bus
                .js_publish(&dlq, &id, headers, m.msg.payload.clone())
                .await
            {
                warn!(service = shared.name, "publishing to the DLQ: {e}");
            }
            return true;
        }
    };
    let request_id = serde_json::from_slice::<serde_json::Value>(&m.msg.payload)
        .ok()
        .and_then(|v| {
            v.get("request_id")
                .and_then(|r| r.as_str())
                .and_then(|r| RequestId::new(r).ok())
                .map(|r| r.as_str().to_string())
        });
    // One outcome per command: the id is derived from who sent it and what it says (the
    // tenant and the canonical body, request id included), so the same command published or
    // delivered again — with a refreshed token or re-serialised — records nothing new, while
    // another tenant's command under the same request id, or a corrected body refused for
    // another reason, gets an outcome of its own.
    let id = rejection_id(&command, tenant, &body_hash(&command, &m.msg.payload));
    let correlation = m
        .msg
        .headers
        .get(CORRELATION_ID)
        .and_then(|c| Uuid::parse_str(c).ok());
    let event = CommandRejected {
        command: command.clone(),
        request_id,
        code: error.code.as_str().to_string(),
        message: error.message.clone(),
    };
    let emit =
        Emit::new(format!("rejected/{}", shared.name), event).derived(id, shared.clock.now());
    match append_emits(shared, vec![emit], None, correlation, None, None).await {
        Ok(_) => true,
        Err(AppendFailure::Conflict) => false,
        Err(e) => {
            warn!(service = shared.name, "recording a rejected command: {e:?}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rejection_id;
    use crate::request::body_hash;
    use csp_events::TenantId;
    use uuid::Uuid;

    #[test]
    fn one_rejection_per_command_of_a_tenant_not_per_request_id() {
        let (a, b) = (TenantId(Uuid::from_u128(1)), TenantId(Uuid::from_u128(2)));
        let body = body_hash("place_order", br#"{"request_id":"po-1","lines":[]}"#);
        let same = rejection_id("place_order", a, &body);
        assert_eq!(same, rejection_id("place_order", a, &body), "redelivery");
        // Re-serialised, the same command.
        let spaced = body_hash("place_order", br#"{ "lines": [], "request_id": "po-1" }"#);
        assert_eq!(same, rejection_id("place_order", a, &spaced));
        // Request ids are per tenant: another tenant, same body, another outcome.
        assert_ne!(same, rejection_id("place_order", b, &body));
        // A corrected body under the same request id is another command.
        let corrected = body_hash("place_order", br#"{"request_id":"po-1","lines":[1]}"#);
        assert_ne!(same, rejection_id("place_order", a, &corrected));
    }
}
