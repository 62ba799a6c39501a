//! Who may act, for whom. Roles are checked in `decide`, from the verified actor (DESIGN.md), so
//! every decider test can prove its rule's roles; the runtime turns each `forbidden` into one
//! `AccessRefused` event naming the customer (`Rejection::refusal`), never sent in the reply.
//!
//! The order of checks is fixed and the same everywhere: the actor's kind and role first (so an
//! actor without the role is refused — and recorded — whatever it names), then whether the named
//! customer exists (`not_found`), then whether the acting partner serves it (`forbidden`).

use csp_events::api::CustomerRef;
use csp_events::kernel::{Context, Rejection};
use csp_events::ordering::CustomerAdded;
use csp_events::{ActorKind, ErrorCode, Role, TenantId};

/// Partner roles that buy on a customer's behalf (rule O1); they also add customers and file
/// refund requests.
pub const BUYERS: &[Role] = &[Role::AdminAgent, Role::GlobalAdmin];

/// Partner roles that may review (price) an order: the buyers, and the sales agent who prepares
/// the quote but may not buy (a choice: a review records nothing and reveals only list prices).
pub const REVIEWERS: &[Role] = &[Role::AdminAgent, Role::GlobalAdmin, Role::SalesAgent];

/// Partner roles that cancel and switch auto-renew (rules O7, O8, O10).
pub const ADMIN_AGENT: &[Role] = &[Role::AdminAgent];

/// A customer as a command names it, with what the customer list knows about that name. The
/// shell resolves the name through the customers state (by tenant id or by domain, rule O2);
/// the decider judges the result, so "no such customer" and "not yours" are domain answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name as given: a tenant id or a domain.
    pub named: CustomerRef,
    /// The customer it names, if any.
    pub customer: Option<CustomerAdded>,
}

impl Target {
    /// A name that resolved to `customer`.
    pub fn found(named: CustomerRef, customer: CustomerAdded) -> Target {
        Target {
            named,
            customer: Some(customer),
        }
    }

    /// The customer's tenant id, when known: whom a `forbidden` concerned, for the audit trail.
    pub fn tenant(&self) -> Option<TenantId> {
        self.customer.as_ref().map(|c| c.customer)
    }
}

/// `forbidden`, naming the customer for the audit trail when it is known (the runtime records
/// it in `AccessRefused` and never sends it, so the refusal leaks nothing).
pub fn forbidden(message: impl Into<String>, customer: Option<TenantId>) -> Rejection {
    Rejection::new(ErrorCode::Forbidden, message).refusal(customer, None)
}

/// `not_found` for a customer name that names nobody.
pub fn unknown_customer(named: &CustomerRef) -> Rejection {
    Rejection::new(
        ErrorCode::NotFound,
        format!(
            "no customer is named {named}; name it by its tenant id or domain as get_customers lists it, or add it with add_customer"
        ),
    )
    .with("customer", named.to_string())
}

fn role_names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Checks that the actor is a partner user holding one of `roles`, that the target exists and
/// that the actor's partner serves it; returns the customer.
pub fn partner_for<'a>(
    ctx: &Context,
    target: &'a Target,
    roles: &[Role],
    action: &str,
) -> Result<&'a CustomerAdded, Rejection> {
    if !ctx.actor.is_partner_with_any(roles) {
        return Err(forbidden(
            format!(
                "only a partner {} may {action}; ask one to do it",
                role_names(roles)
            ),
            target.tenant(),
        ));
    }
    let customer = target
        .customer
        .as_ref()
        .ok_or_else(|| unknown_customer(&target.named))?;
    if customer.partner != ctx.actor.tenant {
        return Err(forbidden(
            format!(
                "your partner tenant does not serve customer {}; only its partner of record may {action}",
                target.named
            ),
            Some(customer.customer),
        ));
    }
    Ok(customer)
}

/// Checks that the actor is a platform user holding `role` (`importer`, `support`).
pub fn platform(
    ctx: &Context,
    role: Role,
    action: &str,
    customer: Option<TenantId>,
) -> Result<(), Rejection> {
    if ctx.actor.kind == ActorKind::Platform && ctx.actor.has(role) {
        Ok(())
    } else {
        Err(forbidden(
            format!("only the platform's {} may {action}", role.as_str()),
            customer,
        ))
    }
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

/// Checks that the actor may read what `target` names and returns the customer: the customer's
/// own users; any user of its partner of record (reading is not buying, so every partner role
/// reads); the platform's `importer` and `support` (who backfill and decide refunds for any
/// customer). Same order of checks as [`partner_for`]: kind and role, existence, partner.
pub fn reader_for<'a>(ctx: &Context, target: &'a Target) -> Result<&'a CustomerAdded, Rejection> {
    let actor = &ctx.actor;
    let platform_reader = actor.kind == ActorKind::Platform
        && (actor.has(Role::Importer) || actor.has(Role::Support));
    if !matches!(actor.kind, ActorKind::Partner | ActorKind::Customer) && !platform_reader {
        return Err(forbidden(
            "only the customer, its partner of record or the platform's importer and support may read its purchases",
            target.tenant(),
        ));
    }
    let customer = target
        .customer
        .as_ref()
        .ok_or_else(|| unknown_customer(&target.named))?;
    let allowed = match actor.kind {
        ActorKind::Partner => customer.partner == actor.tenant,
        ActorKind::Customer => customer.customer == actor.tenant,
        _ => platform_reader,
    };
    if allowed {
        Ok(customer)
    } else {
        Err(forbidden(
            format!("you may not read customer {}'s purchases", target.named),
            Some(customer.customer),
        ))
    }
}
