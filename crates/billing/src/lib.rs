//! # csp-billing: what a partner is charged, and when
//!
//! Billing turns ordering's purchases into exact, replayable monthly invoices (RULES.md B1–B10):
//! - [`domain`]: the charge schedule (B1) and the prorated refund (B4), pure arithmetic;
//! - [`state`]: the fold — items and their terms, invoices and their lines, closed months;
//! - [`react`]: the reactions to ordering's events, the charges that fall due and the month
//!   close;
//! - [`api`]: the queries (invoices, previews, charges) and [`reconciliation`], the export;
//! - [`service`]: the service on the runtime.

#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod domain;
pub mod react;
pub mod reconciliation;
pub mod service;
pub mod state;
