//! Everything the entitlement service holds, folded from its log — its own events and the
//! copies of ordering's it consumed — and the reactions to ordering's events. Serialises
//! deterministically (ordered maps), so the runtime's digest is the same live and in replay.

use std::collections::BTreeMap;

use csp_catalog::Catalog;
use csp_events::entitlement::{DownloadOptions, EndReason, EntitlementGranted};
use csp_events::kernel::Emit;
use csp_events::ordering::LineItem;
use csp_events::{EntitlementId, Envelope, Event, TenantId};
use csp_tenancy::Directory;
use serde::Serialize;

use crate::domain::entitlement::{self, Ent, EntState};
use crate::domain::migration::Plan;
use crate::domain::pool::Pools;

/// The service's state.
#[derive(Debug, Default, Serialize)]
pub struct State {
    /// Customers and the partners that serve them, folded from ordering's `customer_added`.
    pub customers: Directory,
    /// Every entitlement, by id.
    pub entitlements: BTreeMap<EntitlementId, Ent>,
    /// Each customer's entitlements, in the order they were granted (the Software page).
    pub by_customer: BTreeMap<TenantId, Vec<EntitlementId>>,
    /// The MAK pools and the sealed keys.
    pub pools: Pools,
    /// VL→CSP migration plans, per customer.
    pub plans: BTreeMap<TenantId, Plan>,
}

impl State {
    /// Folds one recorded event: the one fold, live and in replay.
    pub fn apply(&mut self, env: &Envelope) {
        let event = &env.payload;
        match event {
            Event::CustomerAdded(_) => self.customers.evolve(event),
            Event::EntitlementGranted(g) => {
                let mut st = self.entitlements.remove(&g.entitlement);
                entitlement::evolve(&mut st, event);
                if let Some(e) = st {
                    let list = self.by_customer.entry(g.customer).or_default();
                    if !list.contains(&g.entitlement) {
                        list.push(g.entitlement);
                    }
                    self.entitlements.insert(g.entitlement, e);
                }
            }
            Event::KeysGenerated(_) | Event::EntitlementEnded(_) => {
                if let Some(id) = entitlement_of(event) {
                    let mut st = self.entitlements.remove(&id);
                    entitlement::evolve(&mut st, event);
                    if let Some(e) = st {
                        self.entitlements.insert(id, e);
                    }
                }
            }
            Event::DevicesImported(i) => self.plans.entry(i.customer).or_default().evolve(event),
            Event::MakDeployed(m) => self.plans.entry(m.customer).or_default().evolve(event),
            _ => {}
        }
        self.pools.evolve(event);
    }

    /// Cheap counts for `status` and `csp replay`.
    pub fn summary(&self) -> serde_json::Value {
        let active = self
            .entitlements
            .values()
            .filter(|e| e.ended.is_none())
            .count();
        serde_json::json!({
            "customers": self.customers.len(),
            "entitlements": self.entitlements.len(),
            "active": active,
            "pools": self.pools.pools.len(),
            "keys_available": self.pools.pools.values().map(|p| p.available.len()).sum::<usize>(),
            "migration_plans": self.plans.len(),
        })
    }
}

/// The entitlement an event is about.
pub fn entitlement_of(event: &Event) -> Option<EntitlementId> {
    match event {
        Event::EntitlementGranted(e) => Some(e.entitlement),
        Event::KeysGenerated(e) => Some(e.entitlement),
        Event::KeyShown(e) => Some(e.entitlement),
        Event::DownloadLinkIssued(e) => Some(e.entitlement),
        Event::EntitlementEnded(e) => Some(e.entitlement),
        _ => None,
    }
}

/// The state plus what a batch of reactions has recorded so far, entitlement by entitlement:
/// a purchase and its cancellation in one batch end the entitlement the batch just granted.
pub struct Batch<'a> {
    base: &'a State,
    touched: BTreeMap<EntitlementId, EntState>,
}

impl<'a> Batch<'a> {
    /// Nothing recorded yet.
    pub fn new(base: &'a State) -> Batch<'a> {
        Batch {
            base,
            touched: BTreeMap::new(),
        }
    }

    /// An entitlement as the batch sees it.
    pub fn get(&self, id: EntitlementId) -> Option<&Ent> {
        match self.touched.get(&id) {
            Some(st) => st.as_ref(),
            None => self.base.entitlements.get(&id),
        }
    }
}

impl csp_bus::Scratch for Batch<'_> {
    fn fold_own(&mut self, emit: &Emit) {
        if let Some(id) = entitlement_of(&emit.event) {
            let base = self.base;
            let st = self
                .touched
                .entry(id)
                .or_insert_with(|| base.entitlements.get(&id).cloned());
            entitlement::evolve(st, &emit.event);
        }
    }
}

/// The reactions to one of ordering's events: an entitlement for each purchased item (K1),
/// ended when its purchase is cancelled (K8) or its subscription expires. A renewal keeps keys
/// and links: nothing to record.
pub fn react(batch: &Batch<'_>, catalog: &Catalog, event: &Event) -> Vec<Emit> {
    let events = match event {
        Event::SubscriptionStarted(s) => vec![grant(
            catalog,
            EntitlementGranted {
                entitlement: EntitlementId(s.subscription.as_uuid()),
                item: LineItem::Subscription(s.subscription),
                order: s.order,
                customer: s.customer,
                partner: s.partner,
                product: s.product.clone(),
                sku: s.sku.clone(),
                product_name: s.product_name.clone(),
                quantity: s.quantity,
                license_only: s.license_only,
                downloads: DownloadOptions::default(),
                instructions: None,
                granted_at: s.term_start,
            },
        )],
        Event::PerpetualPurchased(p) => vec![grant(
            catalog,
            EntitlementGranted {
                entitlement: EntitlementId(p.purchase.as_uuid()),
                item: LineItem::Perpetual(p.purchase),
                order: p.order,
                customer: p.customer,
                partner: p.partner,
                product: p.product.clone(),
                sku: p.sku.clone(),
                product_name: p.product_name.clone(),
                quantity: p.quantity,
                license_only: p.license_only,
                downloads: DownloadOptions::default(),
                instructions: None,
                granted_at: p.purchased_at,
            },
        )],
        Event::SubscriptionCancelled(c) => {
            let id = EntitlementId(c.subscription.as_uuid());
            ended(batch, id, EndReason::Cancelled, c.cancelled_at)
        }
        Event::PerpetualCancelled(c) => {
            let id = EntitlementId(c.purchase.as_uuid());
            ended(batch, id, EndReason::Cancelled, c.cancelled_at)
        }
        Event::SubscriptionExpired(e) => {
            let id = EntitlementId(e.subscription.as_uuid());
            ended(batch, id, EndReason::Expired, e.expired_at)
        }
        _ => Vec::new(),
    };
    events.into_iter().map(|e| Emit::routed(e, None)).collect()
}

/// The grant, with what the catalog offers for its SKU (nothing for a license-only product,
/// K1) and the product's installation instructions (K6). A product or SKU the catalog no
/// longer lists is granted with no options: still listed, nothing to download.
fn grant(catalog: &Catalog, mut g: EntitlementGranted) -> Event {
    if let Some(product) = catalog.product(&g.product) {
        if !g.license_only {
            if let Some(sku) = product.sku(&g.sku) {
                let d = &sku.downloads;
                g.downloads = DownloadOptions {
                    versions: d.versions.clone(),
                    languages: d.languages.clone(),
                    file_types: d.file_types.clone(),
                };
            }
            g.instructions = product.installation_instructions.clone();
        }
    }
    g.into()
}

fn ended(
    batch: &Batch<'_>,
    id: EntitlementId,
    reason: EndReason,
    at: csp_events::Timestamp,
) -> Vec<Event> {
    let st: EntState = batch.get(id).cloned();
    entitlement::end(&st, reason, at)
}
