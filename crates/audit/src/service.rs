//! The audit service on the runtime: its endpoint table; every producer it consumes (each
//! event kept as published, a leaf); checkpoints as due transitions; each signed checkpoint
//! published as a notice on `csp.audit.checkpoint`.

use csp_bus::{Emit, Endpoints, Origin, Service, Unchanged};
use csp_events::{Envelope, Event, EventKind, Timestamp};
use serde_json::Value;

use crate::config::Config;
use crate::state::{State, OWN};

/// The service name: `csp.qry.audit.*`, `csp.cmd.audit.*`.
pub const SERVICE: &str = csp_events::audit::SERVICE;

/// The audit service, as the runtime runs it.
pub struct AuditService;

impl Service for AuditService {
    const NAME: &'static str = SERVICE;
    const DESCRIPTION: &'static str =
        "csp audit: every event of every service in an RFC 6962 Merkle tree log, signed checkpoints, proofs, the activity log";
    /// A leaf is the bytes as published: an event of a kind this build does not know is kept
    /// all the same (a producer upgraded before audit is not held back).
    const OPAQUE_UPSTREAM: bool = true;

    type Config = Config;
    type State = State;
    type Scratch<'a> = Unchanged<'a, State>;

    fn scratch(state: &State) -> Unchanged<'_, State> {
        Unchanged(state)
    }

    fn apply(state: &mut State, event: &Envelope, origin: Origin<'_>) {
        // Only reached by a caller without the bytes; the runtime folds with them below.
        let bytes = csp_events::codec::encode(event);
        Self::apply_recorded(state, event, &bytes, origin);
    }

    fn apply_recorded(state: &mut State, event: &Envelope, bytes: &[u8], origin: Origin<'_>) {
        let producer = match origin {
            Origin::Own => OWN,
            Origin::Upstream { producer } => producer,
        };
        state.apply(event, bytes, producer);
    }

    fn endpoints() -> Endpoints<Self> {
        crate::api::endpoints()
    }

    fn due(state: &State, config: &Config, now: Timestamp) -> Vec<Emit> {
        crate::heads::due(state, config, now)
    }

    fn summary(state: &State) -> Value {
        let latest = state.latest().map(|h| h.signed.size);
        serde_json::json!({
            "leaves": state.tree.len(),
            "checkpoints": state.checkpoints.len(),
            "latest_checkpoint_size": latest,
            "activity_records": state.activity.values().map(Vec::len).sum::<usize>(),
        })
    }

    fn consumes() -> &'static [&'static str] {
        &[
            csp_events::ordering::SERVICE,
            csp_events::entitlement::SERVICE,
            csp_events::billing::SERVICE,
        ]
    }

    /// Nobody consumes audit: its checkpoints go out as notices, its log stays its own.
    fn publishes(_kind: EventKind) -> bool {
        false
    }

    fn notice(_config: &Config, event: &Envelope) -> Option<(String, Vec<u8>)> {
        let Event::CheckpointSigned(signed) = &event.payload else {
            return None;
        };
        let text = crate::heads::reply(signed).text;
        Some((
            csp_events::audit::CHECKPOINT_SUBJECT.to_string(),
            text.into_bytes(),
        ))
    }
}
