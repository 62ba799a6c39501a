//! Signing tree heads (RULES.md A1): periodically, as a due transition, and on request. Pure:
//! Ed25519 signatures are deterministic, so the same tree, time and key always make the same
//! checkpoint, live or decided again.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csp_events::audit::{stream, Checkpoint, CheckpointSigned};
use csp_events::kernel::Emit;
use csp_events::{EventId, Timestamp};

use crate::checkpoint::{note, whole_second, TreeHead};
use crate::config::{Config, SEAL_EVERY};
use crate::state::State;

/// The checkpoint of the first `size` leaves, signed at `at` (to the second), storing the
/// hashes of leaves `from..size`: those no earlier checkpoint covers.
pub fn sign(state: &State, config: &Config, from: u64, size: u64, at: Timestamp) -> Option<Emit> {
    if size < from {
        return None;
    }
    let root = state.tree.root_at(size)?;
    let time = whole_second(at);
    let head = TreeHead {
        origin: config.key.name().to_string(),
        size,
        root,
        time: time.to_string(),
    };
    let leaf_hashes = (from..size).filter_map(|i| state.tree.leaf(i)).collect();
    let signed = CheckpointSigned {
        origin: head.origin.clone(),
        size,
        root,
        time,
        signature: config.key.signature(&head),
        leaf_hashes,
    };
    // One checkpoint per size: signed again (a retry, the scheduler and a request racing), it
    // is the same event and the log keeps the first.
    let id = EventId::scheduled(
        stream::TREE,
        "checkpoint",
        i64::try_from(size).unwrap_or(i64::MAX),
    );
    Some(Emit::new(stream::TREE, signed).derived(id, time))
}

/// The checkpoints due at `now`: one per [`SEAL_EVERY`] leaves not yet covered, then one for
/// the rest once the last is `interval` old. Nothing while only checkpoints are uncovered.
pub fn due(state: &State, config: &Config, now: Timestamp) -> Vec<Emit> {
    let mut out = Vec::new();
    if state.uncovered() == 0 {
        return out;
    }
    let len = state.tree.len();
    let mut from = state.latest().map_or(0, |h| h.signed.size);
    while len - from >= SEAL_EVERY {
        out.extend(sign(state, config, from, from + SEAL_EVERY, now));
        from += SEAL_EVERY;
    }
    let last = state.latest().map(|h| h.signed.time);
    let waited = last
        .is_none_or(|t| now.as_micros() >= t.as_micros().saturating_add(config.interval_micros()));
    if from < len && waited {
        out.extend(sign(state, config, from, len, now));
    }
    out
}

/// A recorded checkpoint as the API shows it: its text rebuilt from what was recorded.
pub fn reply(signed: &CheckpointSigned) -> Checkpoint {
    let head = TreeHead {
        origin: signed.origin.clone(),
        size: signed.size,
        root: signed.root,
        time: signed.time.to_string(),
    };
    Checkpoint {
        size: signed.size,
        root: B64.encode(signed.root),
        time: signed.time,
        text: note(&head, &signed.origin, &signed.signature),
    }
}
