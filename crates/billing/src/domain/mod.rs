//! Billing's domain: pure functions, no I/O, no clock.
//!
//! - [`schedule`]: a term's charges by billing plan (rule B1);
//! - [`refund`]: the prorated refund of a cancelled term (rule B4) and the invoice month of an
//!   instant (rule B2).

pub mod refund;
pub mod schedule;
