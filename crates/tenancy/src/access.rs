//! Who may do what for a customer: [`Rule`]s from RULES.md, checked by [`check`] in one fixed
//! order — first whether the actor may know the customer exists at all (`not_found` if not,
//! exactly as for one that does not exist), then its role (`forbidden`) — and the [`Scope`] of
//! items the actor then sees.

use csp_events::api::CustomerRef;
use csp_events::kernel::Rejection;
use csp_events::ordering::CustomerAdded;
use csp_events::{Actor, ActorKind, ErrorCode, ItemRef, Role, TenantId};

use crate::Directory;

/// Who may do one thing for a customer: the roles that may, per kind of actor. A kind with no
/// roles listed may not (and a partner or customer who may not know the customer exists is
/// told `not_found` before its role is even looked at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Roles of a partner that serves the customer.
    pub partner: &'static [Role],
    /// Roles of the customer's own users.
    pub customer: &'static [Role],
    /// Roles of the platform's users (`importer`, `support`, `operator`) and of csp services
    /// (`service`).
    pub platform: &'static [Role],
}

/// RULES.md O1: a partner `admin_agent` or `global_admin` buys on a customer's behalf (and adds
/// customers, files refund requests).
pub const BUYERS: Rule = Rule {
    partner: &[Role::AdminAgent, Role::GlobalAdmin],
    customer: &[],
    platform: &[],
};

/// Reviewing (pricing) an order: the buyers, and the sales agent who prepares the quote.
pub const REVIEWERS: Rule = Rule {
    partner: &[Role::AdminAgent, Role::GlobalAdmin, Role::SalesAgent],
    customer: &[],
    platform: &[],
};

/// RULES.md O7, O8, O10: an `admin_agent` switches auto-renew and cancels.
pub const SUBSCRIPTION_ADMINS: Rule = Rule {
    partner: &[Role::AdminAgent],
    customer: &[],
    platform: &[],
};

/// Reading a customer's orders and purchases: every user of a partner that serves it, any role
/// (reading is not acting; only what that partner sold), the customer's own `global_admin`
/// (everything), the platform's `importer` and `support` (who backfill and decide refunds for
/// any customer).
pub const PURCHASE_READERS: Rule = Rule {
    partner: Role::PARTNER,
    customer: &[Role::GlobalAdmin],
    platform: &[Role::Importer, Role::Support],
};

/// RULES.md K5: keys and links, to the selling partner's `admin_agent` and the customer's own
/// `global_admin`.
pub const KEY_VIEWERS: Rule = Rule {
    partner: &[Role::AdminAgent],
    customer: &[Role::GlobalAdmin],
    platform: &[],
};

/// RULES.md B10: invoices, to the partner's `global_admin` and `billing_admin`.
pub const INVOICE_READERS: Rule = Rule {
    partner: &[Role::GlobalAdmin, Role::BillingAdmin],
    customer: &[],
    platform: &[],
};

/// RULES.md A3: the activity log, to the partner's `global_admin`, `account_admin`,
/// `referral_admin` and `marketing_content_admin`.
pub const ACTIVITY_READERS: Rule = Rule {
    partner: &[
        Role::GlobalAdmin,
        Role::AccountAdmin,
        Role::ReferralAdmin,
        Role::MarketingContentAdmin,
    ],
    customer: &[],
    platform: &[],
};

impl Rule {
    /// The roles `actor`'s kind may act with.
    fn roles(&self, actor: &Actor) -> &'static [Role] {
        match actor.kind {
            ActorKind::Partner => self.partner,
            ActorKind::Customer => self.customer,
            ActorKind::Platform | ActorKind::Service => self.platform,
        }
    }

    /// Whether `actor` holds a role this rule grants its kind.
    pub fn allows(&self, actor: &Actor) -> bool {
        self.roles(actor).iter().any(|r| actor.has(*r))
    }

    /// Who may, for a refusal's message: "a partner admin_agent or global_admin".
    fn who(&self) -> String {
        let mut parts = Vec::new();
        for (kind, roles) in [
            ("a partner", self.partner),
            ("the customer's own", self.customer),
            ("the platform's", self.platform),
        ] {
            if !roles.is_empty() {
                let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
                parts.push(format!("{kind} {}", names.join(" or ")));
            }
        }
        if parts.is_empty() {
            "nobody".into()
        } else {
            parts.join(", or ")
        }
    }
}

/// A customer as a request names it, resolved for the actor asking ([`Directory::named`]):
/// what [`check`] judges. Owned, so a decider's command can carry it and its tests can build it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The name as given: a tenant id or a domain.
    pub named: CustomerRef,
    /// The customer tenant it names, if some partner serves it.
    pub customer: Option<TenantId>,
    /// The acting partner's relationship with it (a partner's user only).
    pub relationship: Option<CustomerAdded>,
}

impl Named {
    /// A name that resolved to `relationship`, as its partner's user sees it.
    pub fn found(named: CustomerRef, relationship: CustomerAdded) -> Named {
        Named {
            named,
            customer: Some(relationship.customer),
            relationship: Some(relationship),
        }
    }
}

impl Directory {
    /// Resolves `named` for `actor`: the customer it names and, for a partner's user, that
    /// partner's relationship with it (see [`Directory::resolve`]).
    pub fn named(&self, actor: &Actor, named: &CustomerRef) -> Named {
        let customer = self.resolve(actor, named).filter(|c| self.exists(*c));
        let relationship = match (actor.kind, customer) {
            (ActorKind::Partner, Some(c)) => self.relationship(actor.tenant, c).cloned(),
            _ => None,
        };
        Named {
            named: named.clone(),
            customer,
            relationship,
        }
    }
}

/// What an actor allowed to act for a customer sees of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A user of a partner that serves the customer: that partner's relationship with it, and
    /// only the items it sold.
    Partner(CustomerAdded),
    /// The customer's own user: every item of its tenant, whoever sold it.
    Customer(TenantId),
    /// The platform or a csp service: every item of the customer.
    Platform(TenantId),
}

impl Scope {
    /// The customer tenant.
    pub fn customer(&self) -> TenantId {
        match self {
            Scope::Partner(r) => r.customer,
            Scope::Customer(c) | Scope::Platform(c) => *c,
        }
    }

    /// The acting partner's relationship with the customer, for a partner's user.
    pub fn relationship(&self) -> Option<&CustomerAdded> {
        match self {
            Scope::Partner(r) => Some(r),
            Scope::Customer(_) | Scope::Platform(_) => None,
        }
    }

    /// Whether an item of this customer sold by `selling_partner` is visible: a partner sees
    /// what it sold, the customer and the platform everything.
    pub fn sees(&self, selling_partner: TenantId) -> bool {
        match self {
            Scope::Partner(r) => r.partner == selling_partner,
            Scope::Customer(_) | Scope::Platform(_) => true,
        }
    }

    /// The item `found` (if it exists) when this scope sees it — it is this customer's, and
    /// sold by the acting partner for a partner's user — else `not_found`: the caller's own
    /// "no such item" rejection, so an item the actor may not know exists (another partner's
    /// sale, another customer's item) is answered exactly as a missing one, and recorded as a
    /// refusal naming its customer and `item`. `owner` gives an item's (customer, selling
    /// partner).
    pub fn find<T>(
        &self,
        found: Option<T>,
        owner: impl Fn(&T) -> (TenantId, TenantId),
        item: ItemRef,
        not_found: impl Fn() -> Rejection,
    ) -> Result<T, Rejection> {
        let Some(found) = found else {
            return Err(not_found());
        };
        let (customer, selling) = owner(&found);
        if customer == self.customer() && self.sees(selling) {
            Ok(found)
        } else {
            Err(hidden(not_found(), customer, item))
        }
    }

    /// Checks that an item (sold by `selling_partner`) is visible; if not, refuses with
    /// `not_found` — the caller's own "no such item" rejection, so the answer is the one a
    /// missing item gets — recorded as a refusal naming the customer and the item.
    pub fn item(
        &self,
        selling_partner: TenantId,
        item: ItemRef,
        not_found: impl FnOnce() -> Rejection,
    ) -> Result<(), Rejection> {
        if self.sees(selling_partner) {
            Ok(())
        } else {
            Err(hidden(not_found(), self.customer(), item))
        }
    }
}

/// Checks that `actor` may `action` for the customer `target` names (resolved for this actor
/// by [`Directory::named`]) under `rule`, and returns what it sees. In this order, the same for every service:
///
/// 1. **May it know the customer exists?** A partner only if it serves it; a customer's user
///    only for its own tenant; the platform and csp services always. If not — or if nobody
///    serves such a customer — `not_found`, the same answer either way, recorded as a refusal
///    when the customer does exist.
/// 2. **Its role**: the right tenant with a role `rule` does not grant is `forbidden`,
///    recorded.
pub fn check(actor: &Actor, target: &Named, rule: &Rule, action: &str) -> Result<Scope, Rejection> {
    let missing = || unknown_customer(&target.named);
    let Some(customer) = target.customer else {
        return Err(missing());
    };
    let scope = match actor.kind {
        ActorKind::Partner => match &target.relationship {
            Some(r) if r.partner == actor.tenant && r.customer == customer => {
                Scope::Partner(r.clone())
            }
            _ => return Err(missing().refusal(Some(customer), None)),
        },
        ActorKind::Customer if actor.tenant == customer => Scope::Customer(customer),
        ActorKind::Customer => return Err(missing().refusal(Some(customer), None)),
        ActorKind::Platform | ActorKind::Service => Scope::Platform(customer),
    };
    if !rule.allows(actor) {
        return Err(forbidden(
            format!("only {} may {action}", rule.who()),
            Some(customer),
            None,
        ));
    }
    Ok(scope)
}

/// Checks that `actor` is the platform's user holding `role` (`importer` backfills, `support`
/// decides refund requests): work that is the platform's, for any customer.
pub fn platform(
    actor: &Actor,
    role: Role,
    action: &str,
    customer: Option<TenantId>,
) -> Result<(), Rejection> {
    if actor.kind == ActorKind::Platform && actor.has(role) {
        Ok(())
    } else {
        Err(forbidden(
            format!("only the platform's {} may {action}", role.as_str()),
            customer,
            None,
        ))
    }
}

/// `forbidden`: the actor may know the customer (or item) exists but may not do this. Recorded
/// as a refusal naming them; they are never sent.
pub fn forbidden(
    message: impl Into<String>,
    customer: Option<TenantId>,
    item: Option<ItemRef>,
) -> Rejection {
    Rejection::new(ErrorCode::Forbidden, message).refusal(customer, item)
}

/// `not_found` for an item the actor may not know exists: `not_found` as the caller builds it
/// for a missing item (so the two answers are the same bytes), recorded as a refusal.
pub fn hidden(not_found: Rejection, customer: TenantId, item: ItemRef) -> Rejection {
    not_found.refusal(Some(customer), Some(item))
}

/// `not_found` for a customer name that names no customer the actor may know.
pub fn unknown_customer(named: &CustomerRef) -> Rejection {
    Rejection::new(
        ErrorCode::NotFound,
        format!(
            "no customer is named {named}; name it by its tenant id or domain as get_customers lists it, or add it with add_customer"
        ),
    )
    .with("customer", named.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use csp_events::money::Currency;
    use uuid::Uuid;

    const P1: TenantId = TenantId(Uuid::from_u128(1));
    const P2: TenantId = TenantId(Uuid::from_u128(2));
    const P3: TenantId = TenantId(Uuid::from_u128(3));
    const C: TenantId = TenantId(Uuid::from_u128(9));
    const OTHER_C: TenantId = TenantId(Uuid::from_u128(8));
    const NOBODY: TenantId = TenantId(Uuid::from_u128(7));

    fn directory() -> Directory {
        let mut d = Directory::default();
        for (partner, domain) in [(P1, "fabrikam.example"), (P2, "fabrikam-eu.example")] {
            d.add(&CustomerAdded {
                customer: C,
                partner,
                domain: domain.into(),
                company_name: "Fabrikam".into(),
                country: "DE".parse().unwrap(),
                currency: Currency::EUR,
            });
        }
        d.add(&CustomerAdded {
            customer: OTHER_C,
            partner: P3,
            domain: "other.example".into(),
            company_name: "Other".into(),
            country: "FR".parse().unwrap(),
            currency: Currency::EUR,
        });
        d
    }

    fn actor(kind: ActorKind, tenant: TenantId, role: Role) -> Actor {
        Actor {
            kind,
            tenant,
            user: "u".into(),
            roles: vec![role],
        }
    }

    fn by_id(t: TenantId) -> CustomerRef {
        CustomerRef::Tenant(t)
    }

    // rule O1 (who buys) and the no-oracle rule of "Actors and roles".
    #[test]
    fn rule_o1_a_partner_that_does_not_serve_the_customer_is_told_it_does_not_exist() {
        let d = directory();
        let stranger = actor(ActorKind::Partner, P3, Role::AdminAgent);
        let hidden = check(&stranger, &d.named(&stranger, &by_id(C)), &BUYERS, "buy").unwrap_err();
        let missing = check(
            &stranger,
            &d.named(&stranger, &by_id(NOBODY)),
            &BUYERS,
            "buy",
        )
        .unwrap_err();
        assert_eq!(hidden.code, ErrorCode::NotFound);
        // The same answer, apart from the id the caller sent...
        let sent = |r: &Rejection, t: TenantId| r.message.replace(&t.to_string(), "<id>");
        assert_eq!(sent(&hidden, C), sent(&missing, NOBODY));
        assert_eq!(
            serde_json::to_string(&hidden.details)
                .unwrap()
                .replace(&C.to_string(), "<id>"),
            serde_json::to_string(&missing.details)
                .unwrap()
                .replace(&NOBODY.to_string(), "<id>")
        );
        // ...but the hidden one is recorded, naming the customer; the missing one is not.
        assert_eq!(hidden.refused.and_then(|r| r.customer), Some(C));
        assert!(missing.refused.is_none());
    }

    #[test]
    fn rule_o1_the_right_partner_with_the_wrong_role_is_forbidden_and_recorded() {
        let d = directory();
        let sales = actor(ActorKind::Partner, P1, Role::SalesAgent);
        let r = check(&sales, &d.named(&sales, &by_id(C)), &BUYERS, "buy").unwrap_err();
        assert_eq!(r.code, ErrorCode::Forbidden);
        assert!(
            r.message.contains("admin_agent or global_admin"),
            "{}",
            r.message
        );
        assert_eq!(r.refused.and_then(|r| r.customer), Some(C));
        let agent = actor(ActorKind::Partner, P1, Role::AdminAgent);
        let scope = check(&agent, &d.named(&agent, &by_id(C)), &BUYERS, "buy").unwrap();
        assert_eq!(scope.relationship().map(|r| r.partner), Some(P1));
    }

    // rule O2: several partners per customer; each sees only what it sold.
    #[test]
    fn rule_o2_each_partner_sees_only_what_it_sold_and_the_customer_sees_all() {
        let d = directory();
        let helpdesk = actor(ActorKind::Partner, P1, Role::HelpdeskAgent);
        let p1 = check(
            &helpdesk,
            &d.named(&helpdesk, &by_id(C)),
            &PURCHASE_READERS,
            "read",
        )
        .unwrap();
        assert!(p1.sees(P1) && !p1.sees(P2));
        let item = ItemRef::new("subscription", 42);
        let missing = || Rejection::new(ErrorCode::NotFound, "no subscription 42");
        let r = p1.item(P2, item.clone(), missing).unwrap_err();
        assert_eq!(r, hidden(missing(), C, item.clone()));
        assert_eq!(r.refused.and_then(|f| f.item), Some(item));
        let admin = actor(ActorKind::Customer, C, Role::GlobalAdmin);
        let own = check(
            &admin,
            &d.named(&admin, &by_id(C)),
            &PURCHASE_READERS,
            "read",
        )
        .unwrap();
        assert!(own.sees(P1) && own.sees(P2));
    }

    // The rules entitlement (K5) and billing (B10) will check: another tenant's user learns
    // nothing; a customer is outside the partner.
    #[test]
    fn key_viewers_refuse_another_customer_as_not_found_and_invoice_readers_exclude_customers() {
        let d = directory();
        let other = actor(ActorKind::Customer, OTHER_C, Role::GlobalAdmin);
        let r = check(
            &other,
            &d.named(&other, &by_id(C)),
            &KEY_VIEWERS,
            "see keys",
        )
        .unwrap_err();
        assert_eq!(r.code, ErrorCode::NotFound);
        let own = actor(ActorKind::Customer, C, Role::GlobalAdmin);
        assert!(check(&own, &d.named(&own, &by_id(C)), &KEY_VIEWERS, "see keys").is_ok());
        let r = check(
            &own,
            &d.named(&own, &by_id(C)),
            &INVOICE_READERS,
            "read invoices",
        )
        .unwrap_err();
        assert_eq!(r.code, ErrorCode::Forbidden);
    }

    #[test]
    fn a_domain_names_a_customer_only_in_the_partner_s_own_list() {
        let d = directory();
        let p2 = actor(ActorKind::Partner, P2, Role::AdminAgent);
        let named = CustomerRef::Domain("fabrikam.example".into());
        let r = check(&p2, &d.named(&p2, &named), &BUYERS, "buy").unwrap_err();
        assert_eq!(r.code, ErrorCode::NotFound);
        let own = CustomerRef::Domain("fabrikam-eu.example".into());
        assert!(check(&p2, &d.named(&p2, &own), &BUYERS, "buy").is_ok());
    }

    #[test]
    fn the_platform_reads_any_customer_with_its_roles_only() {
        let d = directory();
        let support = actor(ActorKind::Platform, NOBODY, Role::Support);
        assert!(check(
            &support,
            &d.named(&support, &by_id(C)),
            &PURCHASE_READERS,
            "read"
        )
        .is_ok());
        let r = check(&support, &d.named(&support, &by_id(C)), &BUYERS, "buy").unwrap_err();
        assert_eq!(r.code, ErrorCode::Forbidden);
        assert!(platform(&support, Role::Support, "decide", None).is_ok());
        let importer = actor(ActorKind::Platform, NOBODY, Role::Importer);
        assert!(platform(&importer, Role::Support, "decide", None).is_err());
    }
}
