//! # csp-tenancy: who may act for whom
//!
//! Product keys, invoices and activity logs are only as safe as the answer to "may this actor
//! see this customer's item?". Every service asks it here, one way, so entitlement, billing and
//! audit cannot drift from ordering:
//!
//! - [`Directory`]: the customers csp knows, folded from `customer_added` — one relationship
//!   per (customer tenant, partner), since a customer tenant may work with several partners
//!   (RULES.md O2), each with its own domain name, company, country and currency.
//! - [`Rule`] and [`check`]: who may do what for a customer (O1, K5, A3, B10 are rules here),
//!   answered **without an oracle**: what an actor may not know exists — another partner's
//!   customer or sale, another tenant's item — is `not_found`, byte for byte as for what does
//!   not exist, and still recorded as `AccessRefused`; the right tenant with the wrong role is
//!   `forbidden`. The resulting [`Scope`] says which items the actor sees: a partner only what
//!   it sold, a customer's own user all of its tenant's.
//! - [`page`]: lists in pages with cursors, the same for every list of every service.
//!
//! Pure: no I/O, no clock. A rejection built here carries what the runtime records
//! ([`csp_events::Refused`]) and never sends.

mod access;
mod directory;
mod page;

pub use access::{
    check, forbidden, hidden, platform, unknown_customer, Named, Rule, Scope, ACTIVITY_READERS,
    BUYERS, INVOICE_READERS, KEY_VIEWERS, PURCHASE_READERS, REVIEWERS, SUBSCRIPTION_ADMINS,
};
pub use directory::Directory;
pub use page::{page, page_numbered, PAGE_MAX};
