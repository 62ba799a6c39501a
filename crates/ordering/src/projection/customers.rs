//! The customer list (rule O2): by tenant id, by domain name, and per partner.

use std::collections::{BTreeMap, BTreeSet};

use csp_events::api::CustomerRef;
pub use csp_events::ordering::CustomerView;
use csp_events::{Envelope, Event, TenantId};
use serde::Serialize;

/// Customers by tenant id and by domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Customers {
    by_tenant: BTreeMap<TenantId, CustomerView>,
    by_domain: BTreeMap<String, TenantId>,
    by_partner: BTreeMap<TenantId, BTreeSet<(String, TenantId)>>,
}

impl Customers {
    /// Folds one event.
    pub fn apply(&mut self, env: &Envelope) {
        if let Event::CustomerAdded(a) = &env.payload {
            self.by_domain.insert(a.domain.clone(), a.customer);
            self.by_partner
                .entry(a.partner)
                .or_default()
                .insert((a.domain.clone(), a.customer));
            self.by_tenant.insert(
                a.customer,
                CustomerView {
                    tenant_id: a.customer,
                    domain: a.domain.clone(),
                    company_name: a.company_name.clone(),
                    country: a.country,
                    currency: a.currency,
                    partner: a.partner,
                    added_at: env.effective_at,
                },
            );
        }
    }

    /// A customer by tenant id.
    pub fn by_tenant(&self, tenant: TenantId) -> Option<&CustomerView> {
        self.by_tenant.get(&tenant)
    }

    /// A customer by domain name (any case).
    pub fn by_domain(&self, domain: &str) -> Option<&CustomerView> {
        self.by_domain
            .get(&domain.to_ascii_lowercase())
            .and_then(|t| self.by_tenant.get(t))
    }

    /// The customer a command or query names, by tenant id or domain (rule O2).
    pub fn resolve(&self, named: &CustomerRef) -> Option<&CustomerView> {
        match named {
            CustomerRef::Tenant(t) => self.by_tenant(*t),
            CustomerRef::Domain(d) => self.by_domain(d),
        }
    }

    /// A partner's customers, by domain name.
    pub fn of_partner(&self, partner: TenantId) -> Vec<&CustomerView> {
        self.by_partner
            .get(&partner)
            .into_iter()
            .flatten()
            .filter_map(|(_, t)| self.by_tenant.get(t))
            .collect()
    }

    /// Every customer, by tenant id (the platform's view).
    pub fn all(&self) -> Vec<&CustomerView> {
        self.by_tenant.values().collect()
    }

    /// How many customers there are.
    pub fn len(&self) -> usize {
        self.by_tenant.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_tenant.is_empty()
    }
}
