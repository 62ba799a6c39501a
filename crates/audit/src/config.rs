//! What audit is started with: the checkpoint signing key (kept outside the data directory,
//! so a copy of the data cannot sign), and how often it signs.

use std::time::Duration;

use crate::checkpoint::CheckpointKey;

/// The most leaves one checkpoint covers first: its event stores their hashes (32 bytes each),
/// so a burst of 100,000 events makes ~100 checkpoints of 32 KiB, not one of 3 MiB.
pub const SEAL_EVERY: u64 = 1024;

/// Audit's configuration.
#[derive(Debug)]
pub struct Config {
    /// Signs the tree heads.
    pub key: CheckpointKey,
    /// A new leaf waits at most about this long (plus the scheduler's look) for a checkpoint
    /// to cover it; a burst of [`SEAL_EVERY`] leaves is covered at once.
    pub interval: Duration,
}

impl Config {
    /// A configuration signing with `key` every `interval`.
    pub fn new(key: CheckpointKey, interval: Duration) -> Config {
        Config { key, interval }
    }

    /// The interval in microseconds, as the deciders count time.
    pub fn interval_micros(&self) -> i64 {
        i64::try_from(self.interval.as_micros()).unwrap_or(i64::MAX)
    }
}
