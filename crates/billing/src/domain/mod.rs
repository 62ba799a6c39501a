//! Billing's domain: pure functions, no I/O, no clock.
//!
//! - [`schedule`]: a term's charges by billing plan (rule B1).

pub mod schedule;
