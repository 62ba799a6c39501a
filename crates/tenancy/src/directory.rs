//! [`Directory`]: every customer relationship csp knows, folded from `customer_added`.

use std::collections::BTreeMap;

use csp_events::api::CustomerRef;
use csp_events::ordering::CustomerAdded;
use csp_events::{Actor, ActorKind, Event, TenantId};
use serde::Serialize;

/// The customer directory: one relationship per (customer tenant, partner) — a customer tenant
/// may work with several partners, each keeping its own domain name, company name, country and
/// currency for it (RULES.md O2) — and each partner's domains. Ordered maps, so a service's
/// state digest depends only on the events folded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directory {
    /// customer → partner → relationship.
    relationships: BTreeMap<TenantId, BTreeMap<TenantId, CustomerAdded>>,
    /// partner → lower-cased domain → customer.
    domains: BTreeMap<TenantId, BTreeMap<String, TenantId>>,
}

impl Directory {
    /// Folds one event (only `customer_added` changes the directory).
    pub fn evolve(&mut self, event: &Event) {
        if let Event::CustomerAdded(added) = event {
            self.add(added);
        }
    }

    /// Adds (or, replayed, re-adds) one relationship.
    pub fn add(&mut self, added: &CustomerAdded) {
        self.domains
            .entry(added.partner)
            .or_default()
            .insert(added.domain.clone(), added.customer);
        self.relationships
            .entry(added.customer)
            .or_default()
            .insert(added.partner, added.clone());
    }

    /// Partner `partner`'s relationship with `customer`, if it serves it.
    pub fn relationship(&self, partner: TenantId, customer: TenantId) -> Option<&CustomerAdded> {
        self.relationships.get(&customer)?.get(&partner)
    }

    /// The customer partner `partner` calls `domain` (any case).
    pub fn by_domain(&self, partner: TenantId, domain: &str) -> Option<&CustomerAdded> {
        let customer = self
            .domains
            .get(&partner)?
            .get(&domain.to_ascii_lowercase())?;
        self.relationship(partner, *customer)
    }

    /// Every partner's relationship with `customer`, by partner id.
    pub fn partners_of(&self, customer: TenantId) -> impl Iterator<Item = &CustomerAdded> {
        self.relationships
            .get(&customer)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Whether any partner serves `customer`.
    pub fn exists(&self, customer: TenantId) -> bool {
        self.relationships.contains_key(&customer)
    }

    /// Partner `partner`'s customers, by domain.
    pub fn of_partner(&self, partner: TenantId) -> impl Iterator<Item = &CustomerAdded> {
        self.domains
            .get(&partner)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(move |c| self.relationship(partner, *c))
    }

    /// Every relationship, by customer then partner.
    pub fn all(&self) -> impl Iterator<Item = &CustomerAdded> {
        self.relationships.values().flat_map(|m| m.values())
    }

    /// How many relationships there are.
    pub fn len(&self) -> usize {
        self.relationships.values().map(BTreeMap::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.relationships.is_empty()
    }

    /// How many distinct customer tenants there are.
    pub fn customers(&self) -> usize {
        self.relationships.len()
    }

    /// The customer tenant `named` names, as `actor` may name it: a tenant id as given; a
    /// domain within the acting partner's own list (domains are a partner's names, so one
    /// partner's cannot reveal another's); for the customer's own users and the platform, the
    /// one tenant some partner calls that (`None` if none, or if partners disagree).
    pub fn resolve(&self, actor: &Actor, named: &CustomerRef) -> Option<TenantId> {
        let domain = match named {
            CustomerRef::Tenant(t) => return Some(*t),
            CustomerRef::Domain(d) => d.to_ascii_lowercase(),
        };
        if actor.kind == ActorKind::Partner {
            return self.domains.get(&actor.tenant)?.get(&domain).copied();
        }
        let mut found = self.domains.values().filter_map(|m| m.get(&domain));
        let first = *found.next()?;
        found.all(|t| *t == first).then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use csp_events::money::Currency;
    use csp_events::Role;
    use uuid::Uuid;

    fn t(n: u128) -> TenantId {
        TenantId(Uuid::from_u128(n))
    }

    fn added(customer: TenantId, partner: TenantId, domain: &str) -> CustomerAdded {
        CustomerAdded {
            customer,
            partner,
            domain: domain.into(),
            company_name: "Fabrikam".into(),
            country: "DE".parse().unwrap(),
            currency: Currency::EUR,
        }
    }

    fn actor(kind: ActorKind, tenant: TenantId) -> Actor {
        Actor {
            kind,
            tenant,
            user: "u".into(),
            roles: vec![Role::AdminAgent],
        }
    }

    // rule O2: a customer tenant served by two partners, each with its own name for it.
    #[test]
    fn rule_o2_one_customer_two_partners_each_with_its_own_domain() {
        let (p1, p2, c) = (t(1), t(2), t(9));
        let mut d = Directory::default();
        d.add(&added(c, p1, "fabrikam.example"));
        d.add(&added(c, p2, "fabrikam-eu.example"));
        assert_eq!(d.len(), 2);
        assert_eq!(d.customers(), 1);
        assert_eq!(d.partners_of(c).count(), 2);
        assert_eq!(
            d.by_domain(p1, "FABRIKAM.example").map(|a| a.partner),
            Some(p1)
        );
        // A partner's domains are its own: p2 cannot find the customer by p1's name for it.
        assert!(d.by_domain(p2, "fabrikam.example").is_none());
        let named = CustomerRef::Domain("fabrikam.example".into());
        assert_eq!(d.resolve(&actor(ActorKind::Partner, p1), &named), Some(c));
        assert_eq!(d.resolve(&actor(ActorKind::Partner, p2), &named), None);
        // The customer's own user and the platform find it by either name.
        assert_eq!(d.resolve(&actor(ActorKind::Customer, c), &named), Some(c));
        assert_eq!(
            d.resolve(&actor(ActorKind::Platform, t(0)), &named),
            Some(c)
        );
    }

    #[test]
    fn a_domain_two_partners_use_for_different_tenants_names_neither_for_the_platform() {
        let mut d = Directory::default();
        d.add(&added(t(8), t(1), "shared.example"));
        d.add(&added(t(9), t(2), "shared.example"));
        let named = CustomerRef::Domain("shared.example".into());
        assert_eq!(d.resolve(&actor(ActorKind::Platform, t(0)), &named), None);
        assert_eq!(
            d.resolve(&actor(ActorKind::Partner, t(2)), &named),
            Some(t(9))
        );
    }
}
