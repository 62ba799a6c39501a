//! The customer list (rule O2): each relationship between a customer tenant and a partner that
//! serves it, per partner by domain name, and per customer.

use std::collections::{BTreeMap, BTreeSet};

pub use csp_events::ordering::CustomerView;
use csp_events::{Envelope, Event, TenantId};
use serde::Serialize;

/// Every relationship, with when it began.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Customers {
    /// (customer, partner) → the partner's view of the customer.
    by_relationship: BTreeMap<(TenantId, TenantId), CustomerView>,
    /// partner → (domain, customer).
    by_partner: BTreeMap<TenantId, BTreeSet<(String, TenantId)>>,
}

impl Customers {
    /// Folds one event.
    pub fn apply(&mut self, env: &Envelope) {
        if let Event::CustomerAdded(a) = &env.payload {
            self.by_partner
                .entry(a.partner)
                .or_default()
                .insert((a.domain.clone(), a.customer));
            self.by_relationship.insert(
                (a.customer, a.partner),
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

    /// A partner's customers, by domain name.
    pub fn of_partner(&self, partner: TenantId) -> Vec<&CustomerView> {
        self.by_partner
            .get(&partner)
            .into_iter()
            .flatten()
            .filter_map(|(_, t)| self.by_relationship.get(&(*t, partner)))
            .collect()
    }

    /// A customer tenant as each partner that serves it knows it, by partner id.
    pub fn of_customer(&self, customer: TenantId) -> Vec<&CustomerView> {
        let first = (customer, TenantId(uuid::Uuid::nil()));
        self.by_relationship
            .range(first..)
            .take_while(|((c, _), _)| *c == customer)
            .map(|(_, v)| v)
            .collect()
    }

    /// Every relationship, by customer then partner (the platform's view).
    pub fn all(&self) -> Vec<&CustomerView> {
        self.by_relationship.values().collect()
    }

    /// How many relationships there are.
    pub fn len(&self) -> usize {
        self.by_relationship.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_relationship.is_empty()
    }
}
