//! Who may act, for whom: the tenancy module's answer (`csp_tenancy`), shared with every
//! service, applied in `decide` from the verified actor (DESIGN.md) so every decider test can
//! prove its rule's roles. The order of checks is the tenancy module's: first whether the actor
//! may know the customer (or item) exists — `not_found` if not, exactly as if it did not —
//! then its role (`forbidden`). The runtime records every such refusal as one `AccessRefused`
//! naming the customer and item (`Rejection::refusal`), never sent in the reply.

use csp_events::kernel::{Context, Rejection};
use csp_events::ordering::CustomerAdded;
use csp_events::ErrorCode;
pub use csp_tenancy::{
    forbidden, platform, unknown_customer, Named as Target, Rule, Scope, BUYERS, PURCHASE_READERS,
    REVIEWERS, SUBSCRIPTION_ADMINS,
};

/// Checks that the actor is a user, holding a role of `rule`, of a partner that serves the
/// customer `target` names; returns that partner's relationship with it.
pub fn partner_for(
    ctx: &Context,
    target: &Target,
    rule: &Rule,
    action: &str,
) -> Result<CustomerAdded, Rejection> {
    match csp_tenancy::check(&ctx.actor, target, rule, action)? {
        Scope::Partner(relationship) => Ok(relationship),
        _ => Err(forbidden(
            format!("only a partner that serves the customer may {action}"),
            target.customer,
            None,
        )),
    }
}

/// Checks that the actor may read what `target` names (rule [`PURCHASE_READERS`]) and returns
/// what it sees: a partner only what it sold, the customer and the platform everything.
pub fn reader_for(ctx: &Context, target: &Target) -> Result<Scope, Rejection> {
    csp_tenancy::check(&ctx.actor, target, &PURCHASE_READERS, "read its purchases")
}

/// `invalid_request` naming the field (`details.path`), for a body that decodes but leaves a
/// required value empty (rule O12) or out of range.
pub fn invalid_request(path: &str, message: impl Into<String>) -> Rejection {
    let message = message.into();
    Rejection::new(
        ErrorCode::InvalidRequest,
        format!("field `{path}`: {message}"),
    )
    .with("path", path)
    .with("reason", message)
}

/// `invalid_order` naming the field (`details.path`, e.g. `lines[0].quantity`), rule O2.
pub fn invalid_order(path: &str, message: impl Into<String>) -> Rejection {
    let message = message.into();
    Rejection::new(
        ErrorCode::InvalidOrder,
        format!("field `{path}`: {message}"),
    )
    .with("path", path)
    .with("reason", message)
}
