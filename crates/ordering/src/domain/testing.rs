//! Shared fixtures of the decider tests: the shipped catalog, a partner and its customers in
//! several markets, actors and contexts. Test-only.

use std::sync::{Arc, OnceLock};

use csp_catalog::Catalog;
use csp_events::api::CustomerRef;
use csp_events::kernel::Context;
use csp_events::market::{CountryCode, ProductId, SkuId};
use csp_events::ordering::{BillingPlan, CustomerAdded, OrderLineRequest, Term};
use csp_events::{Actor, ActorKind, Currency, Event, Role, TenantId, Timestamp};
use uuid::Uuid;

use super::access::Target;

/// The partner that serves the test customer and sells to it.
pub const PARTNER: TenantId = TenantId(Uuid::from_u128(0x0a01));
/// Another partner, which serves none of the customers below.
pub const OTHER_PARTNER: TenantId = TenantId(Uuid::from_u128(0x0a02));
/// A US customer, billed in USD.
pub const CONTOSO: TenantId = TenantId(Uuid::from_u128(0x0c01));
/// A German customer, billed in EUR (added by tests).
pub const FABRIKAM: TenantId = TenantId(Uuid::from_u128(0x0c02));
/// A customer in Haiti, where Azure Reservations are not sold.
pub const HAITI: TenantId = TenantId(Uuid::from_u128(0x0c03));
/// A customer in Australia (prices include tax).
pub const AUSSIE: TenantId = TenantId(Uuid::from_u128(0x0c04));

/// The shipped sample catalog, loaded once.
pub fn catalog() -> Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(|| match Catalog::load(csp_catalog::sample_dir()) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("the shipped catalog must load: {e}"),
    })
    .clone()
}

/// A country code.
pub fn cc(s: &str) -> CountryCode {
    s.parse().unwrap()
}

/// A UTC instant.
pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
    Timestamp::ymd_hms(y, mo, d, h, mi, s).unwrap()
}

/// "Now" in most tests: well after the cut-over.
pub fn now() -> Timestamp {
    at(2026, 11, 2, 9, 0, 0)
}

/// A customer of [`PARTNER`].
pub fn customer(
    tenant: TenantId,
    domain: &str,
    country: &str,
    currency: Currency,
) -> CustomerAdded {
    CustomerAdded {
        customer: tenant,
        partner: PARTNER,
        domain: domain.into(),
        company_name: format!("{domain} Ltd"),
        country: cc(country),
        currency,
    }
}

/// Contoso as the partner's list records it.
pub fn contoso() -> CustomerAdded {
    customer(CONTOSO, "contoso.onmicrosoft.com", "US", Currency::USD)
}

/// Contoso's `CustomerAdded`.
pub fn contoso_added() -> Event {
    contoso().into()
}

/// A name that resolved to `c`, by tenant id.
pub fn target(c: &CustomerAdded) -> Target {
    Target::found(CustomerRef::Tenant(c.customer), c.clone())
}

/// A partner user of `partner` with one role.
pub fn partner_actor(partner: TenantId, role: Role) -> Actor {
    Actor {
        kind: ActorKind::Partner,
        tenant: partner,
        user: format!("{}@partner.example", role.as_str()),
        roles: vec![role],
    }
}

/// A context at `now` for `actor`.
pub fn ctx(actor: Actor, now: Timestamp) -> Context {
    Context {
        now,
        actor,
        seed: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_5eed),
        entropy: [7; 32],
    }
}

/// A context for a [`PARTNER`] user with `role`.
pub fn ctx_partner(role: Role, now: Timestamp) -> Context {
    ctx(partner_actor(PARTNER, role), now)
}

/// A context for a platform user with `role` (`importer`, `support`).
pub fn ctx_platform(role: Role, now: Timestamp) -> Context {
    ctx(
        Actor {
            kind: ActorKind::Platform,
            tenant: TenantId(Uuid::nil()),
            user: format!("{}@platform.example", role.as_str()),
            roles: vec![role],
        },
        now,
    )
}

/// A requested line.
pub fn line(
    product: &str,
    sku: &str,
    quantity: u32,
    term: Term,
    plan: BillingPlan,
) -> OrderLineRequest {
    OrderLineRequest {
        product: ProductId::new(product).unwrap(),
        sku: SkuId::new(sku).unwrap(),
        quantity,
        term,
        billing_plan: plan,
    }
}

/// Windows Server 2022 Datacenter, 16 cores, one year, annual billing.
pub fn ws_p1y(quantity: u32) -> OrderLineRequest {
    line(
        "windows-server-2022-datacenter",
        "16-core-p1y",
        quantity,
        Term::P1Y,
        BillingPlan::Annual,
    )
}

/// Perpetual SQL Server 2022 Standard, 2 cores.
pub fn sql_perpetual(quantity: u32) -> OrderLineRequest {
    line(
        "sql-server-2022-standard-perpetual",
        "2-core",
        quantity,
        Term::Perpetual,
        BillingPlan::OneTime,
    )
}

/// An Azure Reserved VM Instance for one year, billed monthly.
pub fn reservation_p1y() -> OrderLineRequest {
    line(
        "azure-reserved-vm-instances",
        "d4s-v5-eastus",
        1,
        Term::P1Y,
        BillingPlan::Monthly,
    )
}

/// Contoso's customer target by tenant id.
pub fn contoso_target() -> Target {
    target(&contoso())
}

/// The events of `customer` buying `lines` at `when`, by a partner admin agent.
pub fn bought_by(
    customer: &CustomerAdded,
    lines: Vec<OrderLineRequest>,
    when: Timestamp,
) -> Vec<Event> {
    use csp_events::kernel::Decider;
    let cmd = super::order::PlaceOrder {
        target: target(customer),
        lines,
        backfill: None,
        slot: 0,
        catalog: catalog(),
    };
    match super::order::Order::decide(&None, &cmd, &ctx_partner(Role::AdminAgent, when)) {
        Ok(e) => e,
        Err(r) => panic!("the purchase must be accepted: {r}"),
    }
}

/// The events of Contoso buying `lines` at `when`.
pub fn bought(lines: Vec<OrderLineRequest>, when: Timestamp) -> Vec<Event> {
    bought_by(&contoso(), lines, when)
}

/// The events of the importer backfilling Contoso's order dated `dated`, imported at `now`.
pub fn backfilled(lines: Vec<OrderLineRequest>, dated: Timestamp, now: Timestamp) -> Vec<Event> {
    use csp_events::kernel::Decider;
    let cmd = super::order::PlaceOrder {
        target: contoso_target(),
        lines,
        backfill: Some(dated),
        slot: 0,
        catalog: catalog(),
    };
    match super::order::Order::decide(&None, &cmd, &ctx_platform(Role::Importer, now)) {
        Ok(e) => e,
        Err(r) => panic!("the backfill must be accepted: {r}"),
    }
}

/// The first `SubscriptionStarted` among `events`.
pub fn started(events: &[Event]) -> csp_events::ordering::SubscriptionStarted {
    events
        .iter()
        .find_map(|e| match e {
            Event::SubscriptionStarted(s) => Some(s.clone()),
            _ => None,
        })
        .expect("a subscription was started")
}

/// The first `PerpetualPurchased` among `events`.
pub fn purchased(events: &[Event]) -> csp_events::ordering::PerpetualPurchased {
    events
        .iter()
        .find_map(|e| match e {
            Event::PerpetualPurchased(p) => Some(p.clone()),
            _ => None,
        })
        .expect("a perpetual purchase was made")
}

/// `Spec`'s `then`, when the expected events are easier to check than to write out.
pub trait ThenWith {
    /// Asserts the command was accepted and hands its events (transitions not included) to `f`.
    fn then_with(self, f: impl FnOnce(&[Event])) -> Self;
}

impl<D> ThenWith for csp_events::kernel::spec::Outcome<D>
where
    D: csp_events::kernel::Decider<Event = Event>,
{
    #[track_caller]
    fn then_with(self, f: impl FnOnce(&[Event])) -> Self {
        match &self.result {
            Ok(d) => f(&d.events),
            Err(r) => panic!("expected events, got rejection {r}"),
        }
        self
    }
}

/// A duration in hours, minutes and seconds after `t`.
pub fn after(t: Timestamp, h: i64, m: i64, s: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() + ((h * 60 + m) * 60 + s) * 1_000_000)
}
