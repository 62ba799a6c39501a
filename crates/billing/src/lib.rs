//! # csp-billing: what a partner is charged, and when
//!
//! Billing turns ordering's purchases into exact, replayable monthly invoices (RULES.md B1–B10).
//! Built so far: the pure charge schedule ([`domain::schedule`], rule B1) — when each charge of
//! a term falls and how much it is, to the minor unit. The service (invoices, refunds, credits,
//! its endpoint table) follows in ordering's and entitlement's image.

#![warn(missing_docs)]

pub mod domain;
