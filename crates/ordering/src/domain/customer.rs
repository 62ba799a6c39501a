//! The customer list (rule O2): each partner keeps its customers — tenant id, domain name,
//! company name, country, currency — and a command names a customer by tenant id or by domain.
//!
//! A customer tenant may be served by several partners, as in CSP: each partner's relationship
//! is its own (its own domain name for the tenant, company name, country and currency), and
//! adding a tenant another partner serves is simply a new relationship — never
//! `already_exists`, which would tell one partner who another partner's customers are. A
//! domain names one customer within a partner's list.

use std::sync::Arc;

use csp_catalog::Catalog;
use csp_events::api::normalise_domain;
use csp_events::kernel::{Context, Decider, Rejection};
use csp_events::market::CountryCode;
use csp_events::money::Currency;
use csp_events::ordering::CustomerAdded;
use csp_events::{ErrorCode, Event, TenantId};
pub use csp_tenancy::Directory;

use super::access::{forbidden, invalid_request, BUYERS};

/// Add a customer to the acting partner's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCustomer {
    /// Its tenant id.
    pub tenant_id: TenantId,
    /// Its domain, as given (checked and lower-cased here).
    pub domain: String,
    /// Company name.
    pub company_name: String,
    /// Country: decides market restrictions (M1) and tax inclusion (M2).
    pub country: CountryCode,
    /// Billing currency: must be one the catalog prices in.
    pub currency: Currency,
    /// The catalog in force, for its currencies.
    pub catalog: Arc<Catalog>,
}

/// The customer-list decider.
pub struct Customers;

/// The longest company name accepted: Partner Center's field is bounded too.
pub const MAX_COMPANY_NAME: usize = 256;

impl Decider for Customers {
    type State = Directory;
    type Command = AddCustomer;
    type Event = Event;

    fn decide(s: &Directory, c: &AddCustomer, ctx: &Context) -> Result<Vec<Event>, Rejection> {
        if !BUYERS.allows(&ctx.actor) {
            return Err(forbidden(
                "only a partner admin_agent or global_admin may add a customer",
                Some(c.tenant_id).filter(|t| s.exists(*t)),
                None,
            ));
        }
        if c.tenant_id == ctx.actor.tenant {
            return Err(invalid_request(
                "tenant_id",
                "that is your own partner tenant; give the customer's tenant id",
            ));
        }
        let domain = normalise_domain(&c.domain).map_err(|e| invalid_request("domain", e))?;
        let company_name = c.company_name.trim();
        if company_name.is_empty() {
            return Err(invalid_request("company_name", "must not be empty"));
        }
        if company_name.chars().count() > MAX_COMPANY_NAME {
            return Err(invalid_request(
                "company_name",
                format!("must be at most {MAX_COMPANY_NAME} characters"),
            ));
        }
        if !c.catalog.currencies().contains(&c.currency) {
            let offered: Vec<&str> = c.catalog.currencies().iter().map(|c| c.code()).collect();
            return Err(invalid_request(
                "currency",
                format!(
                    "the catalog is not priced in {}; bill the customer in one of {}",
                    c.currency,
                    offered.join(", ")
                ),
            ));
        }
        if let Some(existing) = s.relationship(ctx.actor.tenant, c.tenant_id) {
            return Err(Rejection::new(
                ErrorCode::AlreadyExists,
                format!(
                    "customer {} is already in your list (as {})",
                    c.tenant_id, existing.domain
                ),
            )
            .with("path", "tenant_id"));
        }
        if s.by_domain(ctx.actor.tenant, &domain).is_some() {
            return Err(Rejection::new(
                ErrorCode::AlreadyExists,
                format!(
                    "domain {domain} already names another of your customers; check the domain"
                ),
            )
            .with("path", "domain"));
        }
        Ok(vec![CustomerAdded {
            customer: c.tenant_id,
            partner: ctx.actor.tenant,
            domain,
            company_name: company_name.to_string(),
            country: c.country,
            currency: c.currency,
        }
        .into()])
    }

    fn evolve(s: &mut Directory, e: &Event) {
        s.evolve(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::*;
    use csp_events::kernel::spec::Spec;
    use csp_events::Role;

    fn add(tenant: TenantId, domain: &str) -> AddCustomer {
        AddCustomer {
            tenant_id: tenant,
            domain: domain.into(),
            company_name: "Fabrikam Ltd".into(),
            country: cc("DE"),
            currency: Currency::EUR,
            catalog: catalog(),
        }
    }

    #[test]
    fn rule_o2_a_partner_adds_a_customer_to_its_list() {
        Spec::<Customers>::given([])
            .when(
                &add(FABRIKAM, "Fabrikam.OnMicrosoft.com"),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then(&[CustomerAdded {
                customer: FABRIKAM,
                partner: PARTNER,
                domain: "fabrikam.onmicrosoft.com".into(),
                company_name: "Fabrikam Ltd".into(),
                country: cc("DE"),
                currency: Currency::EUR,
            }
            .into()]);
    }

    #[test]
    fn rule_o2_tenant_ids_and_domains_name_one_customer_each() {
        let r = Spec::<Customers>::given([contoso_added()])
            .when(
                &add(CONTOSO, "other.onmicrosoft.com"),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::AlreadyExists);
        assert_eq!(r.details["path"], "tenant_id");
        let r = Spec::<Customers>::given([contoso_added()])
            .when(
                &add(FABRIKAM, "CONTOSO.onmicrosoft.com"),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::AlreadyExists);
        assert_eq!(r.details["path"], "domain");
        let mut d = Directory::default();
        Customers::evolve(&mut d, &contoso_added());
        let by_domain = d.by_domain(PARTNER, "contoso.onmicrosoft.com");
        assert!(by_domain.is_some());
        assert_eq!(by_domain, d.relationship(PARTNER, CONTOSO));
    }

    // rule O2: "a customer tenant may be served by several partners".
    #[test]
    fn rule_o2_another_partner_adds_the_same_tenant_as_its_own_customer() {
        let mut other = ctx_partner(Role::AdminAgent, now());
        other.actor.tenant = OTHER_PARTNER;
        // Its own domain for the tenant, even the one the first partner uses: domains are each
        // partner's own names, and nothing here tells it who else serves the tenant.
        for domain in ["contoso-eu.example", "contoso.onmicrosoft.com"] {
            let events = Spec::<Customers>::given([contoso_added()])
                .when(&add(CONTOSO, domain), &other)
                .result
                .expect("a new relationship");
            let Event::CustomerAdded(added) = &events.events[0] else {
                panic!("{events:?}")
            };
            assert_eq!((added.customer, added.partner), (CONTOSO, OTHER_PARTNER));
        }
    }

    #[test]
    fn a_customer_billed_in_a_currency_the_catalog_lacks_is_refused() {
        let mut c = add(FABRIKAM, "fabrikam.onmicrosoft.com");
        c.currency = "GBP".parse().unwrap();
        let r = Spec::<Customers>::given([])
            .when(&c, &ctx_partner(Role::AdminAgent, now()))
            .then_reject(ErrorCode::InvalidRequest);
        assert_eq!(r.details["path"], "currency");
    }

    #[test]
    fn a_sales_agent_cannot_add_a_customer() {
        let r = Spec::<Customers>::given([])
            .when(
                &add(FABRIKAM, "fabrikam.onmicrosoft.com"),
                &ctx_partner(Role::SalesAgent, now()),
            )
            .then_reject(ErrorCode::Forbidden);
        // Nobody serves FABRIKAM yet: the refusal names no customer.
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), None);
        let r = Spec::<Customers>::given([contoso_added()])
            .when(
                &add(CONTOSO, "contoso.onmicrosoft.com"),
                &ctx_partner(Role::SalesAgent, now()),
            )
            .then_reject(ErrorCode::Forbidden);
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
    }

    #[test]
    fn a_bad_domain_or_empty_name_is_named() {
        let r = Spec::<Customers>::given([])
            .when(
                &add(FABRIKAM, "not a domain"),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::InvalidRequest);
        assert_eq!(r.details["path"], "domain");
        let mut c = add(FABRIKAM, "fabrikam.onmicrosoft.com");
        c.company_name = "  ".into();
        let r = Spec::<Customers>::given([])
            .when(&c, &ctx_partner(Role::AdminAgent, now()))
            .then_reject(ErrorCode::InvalidRequest);
        assert_eq!(r.details["path"], "company_name");
    }
}
