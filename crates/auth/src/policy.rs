//! What each kind of issuer may mint. A signature proves only who signed; this is what stops a
//! partner's identity provider from granting `support`, partner rights in another partner's
//! tenant, or a customer's `global_admin` (which sees every item of that customer, whoever sold
//! it): a partner issuer mints its own partner's users only, a customer's users come from that
//! customer's own issuer. Which customers a partner serves is not known here: the tenancy
//! module checks that against the customer directory.

use csp_events::{ActorKind, Role, TenantId, TokenClaims};

use crate::config::IssuerKind;

/// The roles a partner issuer may grant to its partner users: every partner role.
const PARTNER_ROLES: &[Role] = Role::PARTNER;

/// The roles a customer issuer may grant to its customer's users.
const CUSTOMER_ROLES: &[Role] = &[Role::GlobalAdmin];

/// The roles a platform issuer may grant.
const PLATFORM_ROLES: &[Role] = &[Role::Importer, Role::Support, Role::Operator];

/// The roles an internal issuer may grant.
const SERVICE_ROLES: &[Role] = &[Role::Service];

/// Checks that an issuer of `kind` (bound to `issuer_tenant` if a partner's or a customer's)
/// may mint `claims`;
/// `Err` holds the reason for the client.
pub(crate) fn check(
    kind: IssuerKind,
    issuer_tenant: Option<TenantId>,
    claims: &TokenClaims,
) -> Result<(), String> {
    match (kind, claims.kind) {
        (IssuerKind::Development, _) => Ok(()),
        (IssuerKind::Partner, ActorKind::Partner) => {
            if Some(claims.tid) != issuer_tenant {
                return Err(format!(
                    "a partner issuer mints partner tokens only for its own tenant, not {}",
                    claims.tid
                ));
            }
            roles_within(claims, PARTNER_ROLES, "a partner user")
        }
        (IssuerKind::Customer, ActorKind::Customer) => {
            if Some(claims.tid) != issuer_tenant {
                return Err(format!(
                    "a customer issuer mints tokens only for its own customer tenant, not {}",
                    claims.tid
                ));
            }
            roles_within(claims, CUSTOMER_ROLES, "a customer user")
        }
        (IssuerKind::Platform, ActorKind::Platform) => {
            roles_within(claims, PLATFORM_ROLES, "a platform user")
        }
        (IssuerKind::Internal, ActorKind::Service) => {
            roles_within(claims, SERVICE_ROLES, "a service")
        }
        (issuer, actor) => Err(format!(
            "a {issuer} issuer may not mint {} tokens (it mints {})",
            actor_kind_name(actor),
            mintable(issuer)
        )),
    }
}

/// Refuses the first role outside `allowed`, naming it.
fn roles_within(claims: &TokenClaims, allowed: &[Role], whom: &str) -> Result<(), String> {
    match claims.roles.iter().find(|r| !allowed.contains(r)) {
        None => Ok(()),
        Some(role) => Err(format!(
            "`{}` cannot be granted to {whom} by this issuer; allowed: {}",
            role.as_str(),
            allowed
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The token kinds an issuer kind may mint, for messages.
fn mintable(kind: IssuerKind) -> &'static str {
    match kind {
        IssuerKind::Partner => "partner tokens",
        IssuerKind::Customer => "customer tokens",
        IssuerKind::Platform => "platform tokens",
        IssuerKind::Internal => "service tokens",
        IssuerKind::Development => "any token",
    }
}

/// The snake_case name of an actor kind, as in tokens.
fn actor_kind_name(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::Partner => "partner",
        ActorKind::Customer => "customer",
        ActorKind::Platform => "platform",
        ActorKind::Service => "service",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(kind: ActorKind, tid: TenantId, roles: &[Role]) -> TokenClaims {
        TokenClaims {
            iss: "i".into(),
            sub: "u".into(),
            aud: "csp".into(),
            exp: 10,
            iat: 0,
            nbf: None,
            tid,
            kind,
            roles: roles.to_vec(),
        }
    }

    fn tenant(n: u128) -> TenantId {
        TenantId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn platform_issuer_mints_only_importer_support_and_operator() {
        let ok = claims(
            ActorKind::Platform,
            tenant(1),
            &[Role::Importer, Role::Support, Role::Operator],
        );
        assert!(check(IssuerKind::Platform, None, &ok).is_ok());
        let admin = claims(ActorKind::Platform, tenant(1), &[Role::AdminAgent]);
        assert!(check(IssuerKind::Platform, None, &admin).is_err());
        let partner = claims(ActorKind::Partner, tenant(1), &[]);
        assert!(check(IssuerKind::Platform, None, &partner).is_err());
    }

    #[test]
    fn internal_issuer_mints_only_service_tokens_with_role_service() {
        let ok = claims(ActorKind::Service, tenant(0), &[Role::Service]);
        assert!(check(IssuerKind::Internal, None, &ok).is_ok());
        let support = claims(ActorKind::Service, tenant(0), &[Role::Support]);
        assert!(check(IssuerKind::Internal, None, &support).is_err());
        let as_platform = claims(ActorKind::Platform, tenant(0), &[Role::Service]);
        assert!(check(IssuerKind::Internal, None, &as_platform).is_err());
    }

    #[test]
    fn partner_issuer_mints_only_its_own_partner_users() {
        for kind in [ActorKind::Service, ActorKind::Platform, ActorKind::Customer] {
            let c = claims(kind, tenant(1), &[]);
            let err = check(IssuerKind::Partner, Some(tenant(1)), &c).expect_err("refused");
            assert!(err.contains("mints partner tokens"), "{err}");
        }
        // A customer's global admin from a partner's IdP would see every item of that
        // customer, whichever partner sold it: never.
        let customer = claims(ActorKind::Customer, tenant(2), &[Role::GlobalAdmin]);
        assert!(check(IssuerKind::Partner, Some(tenant(1)), &customer).is_err());
        let other = claims(ActorKind::Partner, tenant(2), &[Role::AdminAgent]);
        assert!(check(IssuerKind::Partner, Some(tenant(1)), &other).is_err());
        let own = claims(ActorKind::Partner, tenant(1), &[Role::AdminAgent]);
        assert!(check(IssuerKind::Partner, Some(tenant(1)), &own).is_ok());
    }

    #[test]
    fn customer_issuer_mints_only_its_own_customers_global_admins() {
        let own = claims(ActorKind::Customer, tenant(5), &[Role::GlobalAdmin]);
        assert!(check(IssuerKind::Customer, Some(tenant(5)), &own).is_ok());
        let other = claims(ActorKind::Customer, tenant(6), &[Role::GlobalAdmin]);
        let err = check(IssuerKind::Customer, Some(tenant(5)), &other).expect_err("refused");
        assert!(err.contains("its own customer tenant"), "{err}");
        let agent = claims(ActorKind::Customer, tenant(5), &[Role::AdminAgent]);
        assert!(check(IssuerKind::Customer, Some(tenant(5)), &agent).is_err());
        let partner = claims(ActorKind::Partner, tenant(5), &[Role::AdminAgent]);
        assert!(check(IssuerKind::Customer, Some(tenant(5)), &partner).is_err());
    }

    #[test]
    fn development_issuer_mints_anything() {
        for kind in [
            ActorKind::Partner,
            ActorKind::Customer,
            ActorKind::Platform,
            ActorKind::Service,
        ] {
            let c = claims(kind, tenant(9), &[Role::Support, Role::AdminAgent]);
            assert!(check(IssuerKind::Development, None, &c).is_ok());
        }
    }
}
