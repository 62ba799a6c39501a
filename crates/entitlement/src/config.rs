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
}

/// A day: the default link lifetime.
pub const DEFAULT_LINK_TTL_SECS: i64 = 24 * 3600;
/// The default low-water mark of a pool.
pub const DEFAULT_LOW_WATER: u32 = 10;
