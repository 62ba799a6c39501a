//! Who acts. An actor always comes from a verified token (the runtime checks the signature and
//! expiry), never from a request body; the claims below are that token's payload.

use serde::{Deserialize, Serialize};

use crate::id::TenantId;

/// A role from RULES.md, "Actors and roles". The same name can exist on both sides of the
/// partner/customer line (`global_admin`), so an actor's [`ActorKind`] is part of every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Partner: buys, cancels, sees keys for its customers.
    AdminAgent,
    /// Partner: sells, may not buy or see keys.
    SalesAgent,
    /// Partner: support staff.
    HelpdeskAgent,
    /// Partner's or customer's global administrator.
    GlobalAdmin,
    /// Partner: reads the activity log.
    AccountAdmin,
    /// Partner: reads the activity log.
    ReferralAdmin,
    /// Partner: reads the activity log.
    MarketingContentAdmin,
    /// Partner: reads invoices.
    BillingAdmin,
    /// Platform: backfills historical orders.
    Importer,
    /// Platform: decides refund requests.
    Support,
    /// Another csp service, calling an internal endpoint.
    Service,
    /// Platform: runs csp — reads a service's status and digest, moves a manual clock (the
    /// admin endpoints). Appended last: a role's position is its postcard tag in every
    /// envelope already recorded.
    Operator,
}

impl Role {
    /// Every partner-tenant role (RULES.md, "Actors and roles"): what a partner issuer may
    /// grant, and who of a partner may read what it sold.
    pub const PARTNER: &'static [Role] = &[
        Role::AdminAgent,
        Role::SalesAgent,
        Role::HelpdeskAgent,
        Role::GlobalAdmin,
        Role::AccountAdmin,
        Role::ReferralAdmin,
        Role::MarketingContentAdmin,
        Role::BillingAdmin,
    ];

    /// The snake_case name used in tokens and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::AdminAgent => "admin_agent",
            Role::SalesAgent => "sales_agent",
            Role::HelpdeskAgent => "helpdesk_agent",
            Role::GlobalAdmin => "global_admin",
            Role::AccountAdmin => "account_admin",
            Role::ReferralAdmin => "referral_admin",
            Role::MarketingContentAdmin => "marketing_content_admin",
            Role::BillingAdmin => "billing_admin",
            Role::Importer => "importer",
            Role::Support => "support",
            Role::Service => "service",
            Role::Operator => "operator",
        }
    }
}

/// Which side of the CSP relationship a tenant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A CSP partner's user, acting for the customers the partner serves.
    Partner,
    /// A customer tenant's own user, seeing only its own tenant.
    Customer,
    /// The platform's own users (`importer`, `support`, `operator`).
    Platform,
    /// A csp service (internal issuer only).
    Service,
}

/// The verified actor of a command or query, recorded in every event's envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// Partner, customer, platform or service.
    pub kind: ActorKind,
    /// The actor's own tenant (the partner's for a partner agent).
    pub tenant: TenantId,
    /// The user (the token's `sub`), for the audit trail.
    pub user: String,
    /// Roles granted by the token.
    pub roles: Vec<Role>,
}

impl Actor {
    /// Whether the actor holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the actor is a partner user holding any of `roles`.
    pub fn is_partner_with_any(&self, roles: &[Role]) -> bool {
        self.kind == ActorKind::Partner && roles.iter().any(|r| self.has(*r))
    }

    /// The actor of events a service records on its own (scheduled renewals, quarantines).
    pub fn system(service: &str) -> Actor {
        Actor {
            kind: ActorKind::Service,
            tenant: TenantId(uuid::Uuid::nil()),
            user: format!("csp-{service}"),
            roles: vec![Role::Service],
        }
    }
}

/// The claims of the signed token (JWT) an actor comes from. Standard names where JWT has them
/// (`iss`, `sub`, `exp`, `iat`, `nbf`, `aud`), csp's own for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// The issuer; it selects the trusted verification key (one or more per partner).
    pub iss: String,
    /// The user.
    pub sub: String,
    /// Audience: always `"csp"`, so a token minted for another system is useless here.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The actor's tenant.
    pub tid: TenantId,
    /// Partner, customer, platform or service.
    pub kind: ActorKind,
    /// Granted roles.
    pub roles: Vec<Role>,
}

/// The audience every csp token must name.
pub const TOKEN_AUDIENCE: &str = "csp";

impl TokenClaims {
    /// The actor these claims describe, once the token has been verified.
    pub fn actor(&self) -> Actor {
        Actor {
            kind: self.kind,
            tenant: self.tid,
            user: self.sub.clone(),
            roles: self.roles.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_snake_case_in_json() {
        let claims: TokenClaims = serde_json::from_str(
            r#"{"iss":"dev","sub":"alice","aud":"csp","exp":2,"iat":1,
                "tid":"00000000-0000-0000-0000-000000000001","kind":"partner",
                "roles":["admin_agent","global_admin"]}"#,
        )
        .unwrap();
        let actor = claims.actor();
        assert!(actor.is_partner_with_any(&[Role::AdminAgent]));
        assert!(!actor.has(Role::SalesAgent));
        assert_eq!(
            Role::MarketingContentAdmin.as_str(),
            "marketing_content_admin"
        );
        assert_eq!(
            serde_json::to_string(&Role::MarketingContentAdmin).unwrap(),
            "\"marketing_content_admin\""
        );
    }

    #[test]
    fn unknown_claims_are_refused() {
        let r = serde_json::from_str::<TokenClaims>(
            r#"{"iss":"dev","sub":"a","aud":"csp","exp":2,"iat":1,
                "tid":"00000000-0000-0000-0000-000000000001","kind":"partner",
                "roles":[],"admin":true}"#,
        );
        assert!(r.is_err());
    }
}
