//! The counter's domain: pure, no I/O, no clock, no randomness.

pub mod counter;
pub mod watch;
