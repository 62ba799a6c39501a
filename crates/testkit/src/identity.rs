//! Issuers as a real deployment configures them, for tests: one identity provider per partner
//! tenant, one per customer tenant, one for the platform — each with its own Ed25519 key — so a
//! test can mint exactly the tokens an outside issuer could, including the ones the verifier
//! must refuse (a customer token signed by a partner's issuer).
//!
//! The keys are fixed (derived from each issuer's index), so a failing run can be reproduced;
//! they sign for test tenants only.

use csp_auth::{AuthConfig, DevIssuer, IssuerConfig, IssuerKind};
use csp_events::actor::TOKEN_AUDIENCE;
use csp_events::{ActorKind, Role, TenantId, TokenClaims};
use uuid::Uuid;

/// The `iss` of the platform's identity provider.
pub const PLATFORM_ISSUER: &str = "platform-idp";

/// One issuer: its configuration (public half) and its signing key.
struct Signer {
    config: IssuerConfig,
    key: DevIssuer,
}

/// A set of trusted issuers and their signing keys: the platform's, and one per partner or
/// customer tenant added.
pub struct Issuers {
    signers: Vec<Signer>,
}

impl Default for Issuers {
    fn default() -> Self {
        Issuers::new()
    }
}

impl Issuers {
    /// The platform's issuer alone (`importer`, `support`, `operator`).
    pub fn new() -> Issuers {
        let mut issuers = Issuers {
            signers: Vec::new(),
        };
        issuers.add(PLATFORM_ISSUER.into(), IssuerKind::Platform, None);
        issuers
    }

    fn add(&mut self, iss: String, kind: IssuerKind, tenant: Option<TenantId>) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(self.signers.len() as u64 + 1).to_le_bytes());
        seed[8] = 0x5e;
        let key = DevIssuer::from_seed(seed);
        let config = IssuerConfig {
            iss,
            kind,
            tenant,
            public_keys: vec![key.public_key_base64()],
        };
        self.signers.push(Signer { config, key });
    }

    /// Adds the identity provider of partner tenant `tenant` (`iss` [`Issuers::partner_iss`]).
    pub fn partner(mut self, tenant: TenantId) -> Issuers {
        self.add(
            Issuers::partner_iss(tenant),
            IssuerKind::Partner,
            Some(tenant),
        );
        self
    }

    /// Adds the identity provider of customer tenant `tenant` (`iss` [`Issuers::customer_iss`]).
    pub fn customer(mut self, tenant: TenantId) -> Issuers {
        self.add(
            Issuers::customer_iss(tenant),
            IssuerKind::Customer,
            Some(tenant),
        );
        self
    }

    /// The `iss` of partner `tenant`'s identity provider.
    pub fn partner_iss(tenant: TenantId) -> String {
        format!("partner-idp-{tenant}")
    }

    /// The `iss` of customer `tenant`'s identity provider.
    pub fn customer_iss(tenant: TenantId) -> String {
        format!("customer-idp-{tenant}")
    }

    /// What a verifier trusts: every issuer's public half.
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            issuers: self.signers.iter().map(|s| s.config.clone()).collect(),
        }
    }

    /// The same, as the JSON file `csp serve --issuers` reads.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.auth_config()).expect("an AuthConfig serialises")
    }

    /// The flags under which `csp serve` trusts these issuers, with one internal issuer key
    /// shared by every service of a test: the issuers file and the key, written in `dir`.
    pub fn serve_flags(&self, dir: &std::path::Path) -> Vec<String> {
        let file = dir.join("issuers.json");
        std::fs::write(&file, self.json()).expect("writing the issuers file");
        vec![
            "--issuers".into(),
            file.display().to_string(),
            "--internal-key".into(),
            dir.join("internal.key").display().to_string(),
        ]
    }

    /// A token signed by issuer `iss` claiming `kind`, `tenant` and `roles` for `user`, valid
    /// for an hour from now (wall clock) — whether the verifier accepts it is the point.
    pub fn mint(
        &self,
        iss: &str,
        kind: ActorKind,
        tenant: TenantId,
        user: &str,
        roles: &[Role],
    ) -> String {
        let signer = self
            .signers
            .iter()
            .find(|s| s.config.iss == iss)
            .unwrap_or_else(|| panic!("no issuer {iss} in this test's set"));
        let now = crate::e2e::now_secs();
        signer.key.mint(&TokenClaims {
            iss: iss.to_string(),
            sub: user.to_string(),
            aud: TOKEN_AUDIENCE.to_string(),
            exp: now + 3600,
            iat: now,
            nbf: None,
            tid: tenant,
            kind,
            roles: roles.to_vec(),
        })
    }

    /// A user of partner `tenant` with `role`, from that partner's own issuer.
    pub fn partner_user(&self, tenant: TenantId, role: Role) -> String {
        let user = format!("{}@{tenant}", role.as_str());
        let iss = Issuers::partner_iss(tenant);
        self.mint(&iss, ActorKind::Partner, tenant, &user, &[role])
    }

    /// Customer `tenant`'s `global_admin`, from its own issuer.
    pub fn customer_admin(&self, tenant: TenantId) -> String {
        let iss = Issuers::customer_iss(tenant);
        let user = format!("admin@{tenant}");
        self.mint(
            &iss,
            ActorKind::Customer,
            tenant,
            &user,
            &[Role::GlobalAdmin],
        )
    }

    /// A platform user with `role`, from the platform's issuer.
    pub fn platform_user(&self, role: Role) -> String {
        let user = format!("{}@platform", role.as_str());
        let nil = TenantId(Uuid::nil());
        self.mint(PLATFORM_ISSUER, ActorKind::Platform, nil, &user, &[role])
    }
}

impl Issuers {
    /// The 16 actors of every service's access matrix, in the tables' column order: partner
    /// `p1`'s admin_agent, sales_agent, helpdesk_agent, global_admin and billing_admin; the same
    /// of `p2`; customer `c1`'s own global admin; a `c1` customer token minted by `p2`'s partner
    /// issuer (refused whoever it claims to be); customer `c2`'s global admin; the platform's
    /// importer, support and operator. The issuers must include those tenants'.
    pub fn matrix_actors(
        &self,
        p1: TenantId,
        p2: TenantId,
        c1: TenantId,
        c2: TenantId,
    ) -> Vec<String> {
        let roles = [
            Role::AdminAgent,
            Role::SalesAgent,
            Role::HelpdeskAgent,
            Role::GlobalAdmin,
            Role::BillingAdmin,
        ];
        let mut out = Vec::new();
        for p in [p1, p2] {
            for r in roles {
                out.push(self.partner_user(p, r));
            }
        }
        out.push(self.customer_admin(c1));
        let forged = format!("admin@{c1}");
        out.push(self.mint(
            &Issuers::partner_iss(p2),
            ActorKind::Customer,
            c1,
            &forged,
            &[Role::GlobalAdmin],
        ));
        out.push(self.customer_admin(c2));
        for r in [Role::Importer, Role::Support, Role::Operator] {
            out.push(self.platform_user(r));
        }
        out
    }
}
