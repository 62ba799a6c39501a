//! Helpers shared by the integration tests.

#![allow(dead_code)] // each test file uses a different subset

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use csp_eventlog::{Batch, NewEvent, NewRequest};
use uuid::Uuid;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self(std::env::temp_dir().join(format!(
            "csp-eventlog-{name}-{}-{n}-{nanos}",
            std::process::id()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tiny xorshift64* generator: enough randomness for test schedules, seeded and printed so a
/// failing run can be replayed.
pub struct XorShift(u64);

impl XorShift {
    /// Seeded from `CSP_TEST_SEED` if set, else from the clock and the pid.
    pub fn from_env_or_time() -> Self {
        let seed = std::env::var("CSP_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                nanos ^ (u64::from(std::process::id()) << 32)
            });
        Self::new(seed)
    }

    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn seed(&self) -> u64 {
        self.0
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

pub fn event(id: Uuid, stream: &str, version: u64, publish: bool, bytes: Vec<u8>) -> NewEvent {
    NewEvent {
        event_id: id,
        stream: stream.to_owned(),
        version,
        publish,
        bytes,
    }
}

pub fn single(id: Uuid, stream: &str, version: u64) -> Batch {
    Batch {
        events: vec![event(id, stream, version, true, vec![1, 2, 3])],
        request: None,
    }
}

pub fn request(tenant: Uuid, request_id: &str, body: u8) -> NewRequest {
    NewRequest {
        tenant,
        request_id: request_id.to_owned(),
        body_hash: [body; 32],
        reply: request_id.as_bytes().to_vec(),
    }
}
