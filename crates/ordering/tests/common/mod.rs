//! A stand-in for the service shell, for integration tests: it records what the domain plans
//! the way the runtime will (envelopes, stream versions, dedupe by event id, the postcard codec)
//! and folds the log into a live [`State`], so tests can compare live state with a replay.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use csp_catalog::Catalog;
use csp_events::api::CustomerRef;
use csp_events::kernel::{Context, Decided, Emit, Rejection};
use csp_events::ordering as contract;
use csp_events::{
    codec, Actor, ActorKind, CorrelationId, Currency, Envelope, EventId, RequestId, Role, TenantId,
    Timestamp,
};
use csp_ordering::State;
use serde_json::Value;
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

/// The live service, in miniature.
#[derive(Default)]
pub struct Harness {
    pub state: State,
    pub log: Vec<Vec<u8>>,
    ids: BTreeSet<EventId>,
    versions: BTreeMap<String, u64>,
    commands: u128,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::default()
    }

    /// A fresh context: the seed differs per command, as the shell's UUID v7 would.
    pub fn ctx(&mut self, actor: Actor, now: Timestamp) -> Context {
        self.commands += 1;
        Context {
            now,
            actor,
            seed: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | self.commands),
            entropy: [0; 32],
        }
    }

    /// Appends planned events (deduplicated by id) and folds them into the live state.
    pub fn record(&mut self, planned: Vec<Emit>, ctx: &Context) -> Vec<Envelope> {
        let mut out = Vec::new();
        for (k, p) in planned.into_iter().enumerate() {
            let id =
                p.id.unwrap_or_else(|| EventId(ctx.new_id("event", u32::try_from(k).unwrap())));
            if !self.ids.insert(id) {
                continue;
            }
            let v = self.versions.entry(p.stream.clone()).or_insert(0);
            *v += 1;
            let env = Envelope {
                event_id: id,
                stream: p.stream,
                stream_version: *v,
                recorded_at: ctx.now,
                effective_at: p.effective_at.unwrap_or(ctx.now),
                causation_id: None,
                correlation_id: CorrelationId(ctx.seed),
                actor: ctx.actor.clone(),
                partner: p.partner,
                customer: p.customer,
                schema_version: codec::SCHEMA_VERSION,
                payload: p.event,
                outbox: None,
            };
            self.log.push(codec::encode(&env));
            self.state.apply(&env);
            out.push(env);
        }
        out
    }

    /// Runs a decided command: records its events on success.
    pub fn run(
        &mut self,
        actor: Actor,
        now: Timestamp,
        f: impl FnOnce(&State, &Context) -> Result<Decided, Rejection>,
    ) -> Result<(Value, Vec<Envelope>), Rejection> {
        let ctx = self.ctx(actor, now);
        let outcome = f(&self.state, &ctx)?;
        let envs = self.record(outcome.events, &ctx);
        Ok((outcome.reply, envs))
    }

    /// The scheduler at `now`: records every transition due.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Envelope> {
        let ctx = self.ctx(Actor::system("ordering"), now);
        let due = self.state.due(now);
        self.record(due, &ctx)
    }

    /// The digest the runtime computes of a state (live and in replay alike).
    pub fn digest(state: &State) -> String {
        csp_bus::runtime::digest(state)
    }

    /// Folds the whole log, decoded from its bytes, into a fresh state.
    pub fn replay(&self) -> State {
        let mut s = State::default();
        for bytes in &self.log {
            s.apply(&codec::decode(bytes).expect("every recorded event decodes"));
        }
        s
    }

    /// Every recorded event, decoded.
    pub fn events(&self) -> Vec<Envelope> {
        self.log.iter().map(|b| codec::decode(b).unwrap()).collect()
    }
}
