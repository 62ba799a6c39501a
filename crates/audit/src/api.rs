//! Audit's endpoint table, its command and its queries, pure functions of the state.
//!
//! Who may: checkpoints and proofs, anyone signed in (sizes and hashes reveal no event); an
//! event's bytes in a proof, only a reader of that event (the platform's `operator` or
//! `support`, its partner's `global_admin`, its customer's `global_admin`); `verify` and
//! `sign_checkpoint`, the platform's `operator` (and csp services); the activity log per
//! RULES.md A3 — the partner's `global_admin`, `account_admin`, `referral_admin` and
//! `marketing_content_admin`; its other users `forbidden`; anyone else `not_found`. Each
//! refusal is recorded by the runtime, and is a leaf like everything else (A4).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csp_bus::Endpoints;
use csp_events::audit::{
    ActivityPage, Checkpoint, ConsistencyProof, GetActivity, GetCheckpoint, InclusionProof,
    ProveConsistency, ProveInclusion, SignCheckpoint, Verify, VerifyReport,
};
use csp_events::kernel::{Context, Decided, Handled, Rejection};
use csp_events::{Actor, ActorKind, ErrorCode, ItemRef, Role, TenantId};
use csp_tenancy::{forbidden, ACTIVITY_READERS};

use crate::config::Config;
use crate::heads::{reply, sign};
use crate::service::AuditService;
use crate::state::{Head, Leaf, State};
use crate::verify::Verification;

/// The table.
pub fn endpoints() -> Endpoints<AuditService> {
    Endpoints::new()
        .command(sign_checkpoint)
        .query(get_checkpoint)
        .query(prove_inclusion)
        .query(prove_consistency)
        .query(verify)
        .query(get_activity)
}

/// Whether `actor` runs the platform (an `operator`) or is a csp service.
fn operator(actor: &Actor, action: &str) -> Result<(), Rejection> {
    let ok = match actor.kind {
        ActorKind::Platform => actor.has(Role::Operator),
        ActorKind::Service => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(forbidden(
            format!("only the platform's operator may {action}"),
            None,
            Some(ItemRef::new("audit_log", "tree")),
        ))
    }
}

fn no_checkpoint() -> Rejection {
    Rejection::new(
        ErrorCode::NotFound,
        "no checkpoint has been signed yet; sign_checkpoint signs one",
    )
}

/// The checkpoint of `size`, or the latest.
fn head(state: &State, size: Option<u64>) -> Result<&Head, Rejection> {
    match size {
        None => state.latest().ok_or_else(no_checkpoint),
        Some(size) => state.checkpoint(size).ok_or_else(|| {
            Rejection::new(
                ErrorCode::NotFound,
                format!(
                    "no checkpoint of size {size}; get_checkpoint without a size names the latest"
                ),
            )
            .with("size", size.to_string())
        }),
    }
}

/// `sign_checkpoint`: the tree as it stands, signed now; the last checkpoint if nothing new
/// came since.
pub fn sign_checkpoint(
    state: &State,
    config: &Config,
    _c: &SignCheckpoint,
    ctx: &Context,
) -> Handled<Checkpoint> {
    operator(&ctx.actor, "sign a checkpoint")?;
    if let (0, Some(last)) = (state.uncovered(), state.latest()) {
        return Ok(Decided {
            events: Vec::new(),
            reply: reply(&last.signed),
        });
    }
    let from = state.latest().map_or(0, |h| h.signed.size);
    let emit = sign(state, config, from, state.tree.len(), ctx.now).ok_or_else(|| {
        Rejection::new(ErrorCode::Internal, "the tree has no root at its own size")
    })?;
    let csp_events::Event::CheckpointSigned(signed) = &emit.event else {
        return Err(Rejection::new(
            ErrorCode::Internal,
            "signing made something other than a checkpoint",
        ));
    };
    let reply = reply(signed);
    Ok(Decided {
        events: vec![emit],
        reply,
    })
}

/// `get_checkpoint`: the latest signed tree head, or the one of a size.
pub fn get_checkpoint(
    state: &State,
    _config: &Config,
    q: &GetCheckpoint,
    _ctx: &Context,
) -> Result<Checkpoint, Rejection> {
    Ok(reply(&head(state, q.size)?.signed))
}

fn b64_all(hashes: Vec<[u8; 32]>) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// Whether `actor` may see the event `leaf`: the platform's operator or support, a csp
/// service, the event's partner's `global_admin`, its customer's `global_admin`.
fn may_read(actor: &Actor, leaf: &Leaf<'_>) -> bool {
    match actor.kind {
        ActorKind::Platform => actor.has(Role::Operator) || actor.has(Role::Support),
        ActorKind::Service => true,
        ActorKind::Partner => leaf.partner == Some(actor.tenant) && actor.has(Role::GlobalAdmin),
        ActorKind::Customer => leaf.customer == Some(actor.tenant) && actor.has(Role::GlobalAdmin),
    }
}

/// `prove_inclusion`: the event's leaf index and audit path against a checkpoint.
pub fn prove_inclusion(
    state: &State,
    _config: &Config,
    q: &ProveInclusion,
    ctx: &Context,
) -> Result<InclusionProof, Rejection> {
    let missing = || {
        Rejection::new(
            ErrorCode::NotFound,
            format!("the audit log holds no event {}", q.event),
        )
        .with("event", q.event.to_string())
    };
    let index = *state.by_event.get(&q.event).ok_or_else(missing)?;
    let head = head(state, q.size)?;
    let size = head.signed.size;
    if index >= size {
        return Err(Rejection::new(
            ErrorCode::InvalidState,
            format!(
                "event {} is leaf {index}, after the checkpoint of size {size}: ask again once a checkpoint covers it (sign_checkpoint signs one now)",
                q.event
            ),
        )
        .with("index", index.to_string()));
    }
    let leaf = state.leaves.get(index).ok_or_else(missing)?;
    let proof = state
        .tree
        .inclusion_proof(index, size)
        .ok_or_else(|| Rejection::new(ErrorCode::Internal, "no audit path within the tree"))?;
    let leaf_hash = state
        .tree
        .leaf(index)
        .ok_or_else(|| Rejection::new(ErrorCode::Internal, "no leaf hash within the tree"))?;
    Ok(InclusionProof {
        index,
        producer: leaf.producer.to_string(),
        outbox_seq: leaf.outbox_seq,
        leaf_hash: B64.encode(leaf_hash),
        proof: b64_all(proof),
        checkpoint: reply(&head.signed),
        bytes: may_read(&ctx.actor, &leaf).then(|| B64.encode(leaf.bytes)),
    })
}

/// `prove_consistency`: that a checkpoint's tree extends an older size.
pub fn prove_consistency(
    state: &State,
    _config: &Config,
    q: &ProveConsistency,
    _ctx: &Context,
) -> Result<ConsistencyProof, Rejection> {
    let head = head(state, q.size)?;
    let size = head.signed.size;
    if q.old_size > size {
        return Err(Rejection::new(
            ErrorCode::InvalidRequest,
            format!(
                "field `old_size`: {} is past the checkpoint's size {size}",
                q.old_size
            ),
        )
        .with("path", "old_size"));
    }
    let internal = || Rejection::new(ErrorCode::Internal, "no proof within the tree");
    let proof = state
        .tree
        .consistency_proof(q.old_size, size)
        .ok_or_else(internal)?;
    let old_root = state.tree.root_at(q.old_size).ok_or_else(internal)?;
    Ok(ConsistencyProof {
        old_size: q.old_size,
        old_root: B64.encode(old_root),
        proof: b64_all(proof),
        checkpoint: reply(&head.signed),
    })
}

/// `verify`: the tree recomputed from the leaves the service holds (read from its log at
/// start-up and kept since), against every recorded checkpoint and, if given, one kept
/// outside. Operators only.
pub fn verify(
    state: &State,
    config: &Config,
    q: &Verify,
    ctx: &Context,
) -> Result<VerifyReport, Rejection> {
    operator(&ctx.actor, "verify the audit log")?;
    let mut v = Verification::new(config.key.name(), config.key.public());
    for leaf in state.leaves.iter() {
        v.leaf(leaf.bytes, leaf.producer);
    }
    Ok(v.finish(q.checkpoint.as_deref()).0)
}

/// Whose activity the actor may read: its own partner's, with an A3 role.
fn reader(ctx: &Context, partner: Option<TenantId>) -> Result<TenantId, Rejection> {
    let actor = &ctx.actor;
    let asked = partner.unwrap_or(actor.tenant);
    let item = || Some(ItemRef::new("activity_log", asked));
    if actor.kind != ActorKind::Partner || asked != actor.tenant {
        return Err(Rejection::new(
            ErrorCode::NotFound,
            format!("no activity log of partner {asked} is visible to you"),
        )
        .refusal(None, item()));
    }
    if !ACTIVITY_READERS.allows(actor) {
        return Err(forbidden(
            "only a partner global_admin, account_admin, referral_admin or marketing_content_admin may read the activity log",
            None,
            item(),
        ));
    }
    Ok(asked)
}

/// `get_activity` (A2–A5): the partner's key views, downloads and link copies, refused
/// attempts included, from `from` (inclusive) to `to` (exclusive), in log order, in pages.
pub fn get_activity(
    state: &State,
    _config: &Config,
    q: &GetActivity,
    ctx: &Context,
) -> Result<ActivityPage, Rejection> {
    let partner = reader(ctx, q.partner)?;
    if q.to < q.from {
        return Err(Rejection::new(
            ErrorCode::InvalidRequest,
            "field `to`: the range ends before it starts",
        )
        .with("path", "to"));
    }
    let all = state.activity.get(&partner).map_or(&[][..], Vec::as_slice);
    let within: Vec<_> = all
        .iter()
        .filter(|r| r.at >= q.from && r.at < q.to)
        .collect();
    let (range, next) = csp_tenancy::page_numbered(within.len(), q.after.as_deref(), q.limit)?;
    Ok(ActivityPage {
        partner,
        records: within[range].iter().map(|r| (*r).clone()).collect(),
        next,
    })
}
