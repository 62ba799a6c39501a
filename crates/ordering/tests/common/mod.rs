//! A stand-in for the service shell, for integration tests: it records what the domain plans
//! the way the runtime will (envelopes, stream versions, dedupe by event id, the postcard codec)
//! and folds the log into a live [`State`], so tests can compare live state with a replay.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use csp_catalog::Catalog;
use csp_events::api::CustomerRef;
use csp_events::kernel::{Context, Decided, Rejection};
use csp_events::ordering as contract;
use csp_events::{Actor, ActorKind, Currency, Envelope, RequestId, Role, TenantId, Timestamp};
use csp_ordering::service::OrderingService;
use csp_ordering::State;
use uuid::Uuid;

pub const PARTNER: TenantId = TenantId(Uuid::from_u128(0x0a01));
pub const OTHER_PARTNER: TenantId = TenantId(Uuid::from_u128(0x0a02));
pub const CONTOSO: TenantId = TenantId(Uuid::from_u128(0x0c01));
pub const HAITI: TenantId = TenantId(Uuid::from_u128(0x0c03));
pub const AUSSIE: TenantId = TenantId(Uuid::from_u128(0x0c04));

pub fn catalog() -> Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(|| Arc::new(Catalog::load(csp_catalog::sample_dir()).expect("the sample loads")))
        .clone()
}

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
    Timestamp::ymd_hms(y, mo, d, h, mi, s).unwrap()
}

pub fn after(t: Timestamp, h: i64, m: i64, s: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() + ((h * 60 + m) * 60 + s) * 1_000_000)
}

pub fn partner(tenant: TenantId, role: Role) -> Actor {
    Actor {
        kind: ActorKind::Partner,
        tenant,
        user: format!("{}@partner.example", role.as_str()),
        roles: vec![role],
    }
}

pub fn platform(role: Role) -> Actor {
    Actor {
        kind: ActorKind::Platform,
        tenant: TenantId(Uuid::nil()),
        user: role.as_str().into(),
        roles: vec![role],
    }
}

pub fn admin() -> Actor {
    partner(PARTNER, Role::AdminAgent)
}

pub fn rid(s: &str) -> RequestId {
    RequestId::new(s).unwrap()
}

pub fn tenant(t: TenantId) -> CustomerRef {
    CustomerRef::Tenant(t)
}

pub fn domain(d: &str) -> CustomerRef {
    CustomerRef::Domain(d.into())
}

pub fn line(
    product: &str,
    sku: &str,
    quantity: u32,
    term: contract::Term,
    plan: contract::BillingPlan,
) -> contract::OrderLineRequest {
    contract::OrderLineRequest {
        product: csp_events::market::ProductId::new(product).unwrap(),
        sku: csp_events::market::SkuId::new(sku).unwrap(),
        quantity,
        term,
        billing_plan: plan,
    }
}

pub fn ws_p1y(q: u32) -> contract::OrderLineRequest {
    line(
        "windows-server-2022-datacenter",
        "16-core-p1y",
        q,
        contract::Term::P1Y,
        contract::BillingPlan::Annual,
    )
}

pub fn sql_perpetual(q: u32) -> contract::OrderLineRequest {
    line(
        "sql-server-2022-standard-perpetual",
        "2-core",
        q,
        contract::Term::Perpetual,
        contract::BillingPlan::OneTime,
    )
}

pub fn add_customer(
    t: TenantId,
    domain: &str,
    country: &str,
    currency: Currency,
) -> contract::AddCustomer {
    contract::AddCustomer {
        request_id: rid("add"),
        tenant_id: t,
        domain: domain.into(),
        company_name: format!("{domain} Ltd"),
        country: country.parse().unwrap(),
        currency,
    }
}

/// The ordering service in memory: `csp_bus::Harness`, which records and folds exactly as the
/// runtime does, with the catalog as its configuration and the sample catalog's helpers here.
pub struct Harness(csp_bus::Harness<OrderingService>);

impl std::ops::Deref for Harness {
    type Target = csp_bus::Harness<OrderingService>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness(csp_bus::Harness::new(catalog()))
    }

    /// A fresh context, as the harness gives each request.
    pub fn ctx(&mut self, actor: Actor, now: Timestamp) -> Context {
        self.0.context(actor, now)
    }

    /// Runs a decided command: records its events on success.
    pub fn run<R>(
        &mut self,
        actor: Actor,
        now: Timestamp,
        f: impl FnOnce(&State, &Context) -> Result<Decided<R>, Rejection>,
    ) -> Result<(R, Vec<Envelope>), Rejection> {
        self.0
            .decide(actor, now, |state, _catalog, ctx| f(state, ctx))
    }

    /// The digest the runtime computes of a state (live and in replay alike).
    pub fn digest(state: &State) -> String {
        csp_bus::runtime::digest(state)
    }
}
