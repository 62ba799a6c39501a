//! What the entitlement service is started with besides its log: the catalog it grants from,
//! the keyring that seals and opens keys, and the policy knobs. Never folded, never digested.

use std::sync::Arc;

use csp_catalog::Catalog;

use crate::keyring::Keyring;

/// The service's configuration.
pub struct Config {
    /// The catalog: download options and installation instructions per product (K1, K2, K6).
    pub catalog: Arc<Catalog>,
    /// Data keys, link and fingerprint secrets, wrapped by the master key.
    pub keyring: Arc<Keyring>,
    /// A pool below this many keys records `key_pool_low` (once, until it is filled again).
    pub low_water: u32,
    /// How long a download link works, in seconds (24 h by default).
    pub link_ttl_secs: i64,
    /// Where links point: the download server's base URL (`http://127.0.0.1:8480`), set once
    /// the server has bound its address.
    pub link_base: std::sync::OnceLock<String>,
    /// Where the files links download live (`<product>/<version>_<language>_<file type>.bin`).
    pub downloads: std::path::PathBuf,
    /// Key imports waiting for their other chunks (shell state, never folded).
    pub staging: crate::import::Staging,
    /// When the master key rotates after revocations.
    pub rotation: RotationPolicy,
}

/// A day: the default link lifetime.
pub const DEFAULT_LINK_TTL_SECS: i64 = 24 * 3600;
/// The default low-water mark of a pool.
pub const DEFAULT_LOW_WATER: u32 = 10;

/// When the master key rotates after revocations: a deleted data key can linger in sled's old
/// segment files, still wrapped by the current master key; rotating re-wraps the live entries
/// under a new key and destroys the old one, so a lingering copy opens with nothing. At most
/// every `revocations` revocations, and otherwise `after` a revocation (whichever comes first).
pub struct RotationPolicy {
    /// Rotate once this many revocations are pending.
    pub revocations: u32,
    /// Rotate this long after the first pending revocation.
    pub after: std::time::Duration,
    pending: std::sync::Mutex<Option<(u32, std::time::Instant)>>,
}

impl RotationPolicy {
    /// A policy rotating every `revocations` revocations or `after` the first pending one.
    pub fn new(revocations: u32, after: std::time::Duration) -> RotationPolicy {
        RotationPolicy {
            revocations: revocations.max(1),
            after,
            pending: std::sync::Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u32, std::time::Instant)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a revocation; true if the master key should rotate now.
    pub fn revoked(&self) -> bool {
        let mut p = self.lock();
        let (n, since) = p.get_or_insert((0, std::time::Instant::now()));
        *n += 1;
        *n >= self.revocations || since.elapsed() >= self.after
    }

    /// True if revocations are pending for longer than `after` (checked periodically).
    pub fn due(&self) -> bool {
        self.lock()
            .is_some_and(|(_, since)| since.elapsed() >= self.after)
    }

    /// Clears the pending revocations after a rotation.
    pub fn rotated(&self) {
        *self.lock() = None;
    }

    /// Revocations waiting for a rotation.
    pub fn pending(&self) -> u32 {
        self.lock().map_or(0, |(n, _)| n)
    }
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy::new(DEFAULT_ROTATE_EVERY, DEFAULT_ROTATE_AFTER)
    }
}

/// Rotate after this many revocations by default.
pub const DEFAULT_ROTATE_EVERY: u32 = 100;
/// Or this long after the first pending one.
pub const DEFAULT_ROTATE_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl Config {
    /// Rotates the master key if the policy says so (`force`: whatever it says); logs what
    /// it did. Called after a revocation's data keys are destroyed, and periodically.
    pub fn rotate_if_due(&self, force: bool) -> Result<bool, crate::keyring::KeyringError> {
        if !(force || self.rotation.due()) {
            return Ok(false);
        }
        let pending = self.rotation.pending();
        let r = self.keyring.rotate_master()?;
        self.rotation.rotated();
        tracing::info!(
            master = %r.master,
            rewrapped = r.rewrapped,
            revocations = pending,
            "master key rotated after revocations"
        );
        Ok(true)
    }
}
