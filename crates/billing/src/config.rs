//! What billing is started with: how long after a month's end it waits, beyond what its
//! producers' heartbeats already promise, before it closes the month.

use std::time::Duration;

/// Billing's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The grace after a month ends (and every producer is known to have recorded up to that
    /// end) before its invoices are issued: it covers a command decided just before the end and
    /// recorded just after, and clocks a little apart.
    pub grace: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            grace: Duration::from_secs(300),
        }
    }
}

impl Config {
    /// The grace in microseconds, as the deciders count time.
    pub fn grace_micros(&self) -> i64 {
        i64::try_from(self.grace.as_micros()).unwrap_or(i64::MAX)
    }
}
