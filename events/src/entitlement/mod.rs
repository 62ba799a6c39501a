//! The entitlement service's part of the contract: its events (stored with postcard, published
//! on `csp.evt.entitlement.…`), its JSON commands (`csp.cmd.entitlement.…`), queries and
//! recorded reads (`csp.qry.entitlement.…`) and their replies, one file each.
//!
//! Product keys are valuable intellectual property: no event, here or anywhere, carries one in
//! plaintext. A key is sealed ([`SealedKey`]) under its own data key the moment it enters csp;
//! events name keys and data keys by id only.

use serde::{Deserialize, Serialize};

use crate::id::{DataKeyId, EntitlementId, KeyId};
use crate::market::{ProductId, SkuId};

pub mod commands;
pub mod events;
pub mod queries;
pub mod replies;

pub use commands::*;
pub use events::*;
pub use queries::*;
pub use replies::*;

/// The service name: the second token of every entitlement subject.
pub const SERVICE: &str = "entitlement";

/// What "Generate keys and downloads" offers for a SKU (RULES.md K2): each list is one
/// selector; an empty list is a selector the product hides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DownloadOptions {
    /// Versions (the "Version" selector); every product with keys or downloads has one.
    pub versions: Vec<String>,
    /// Languages; empty when the product offers no choice.
    pub languages: Vec<String>,
    /// File types and OS; empty when the product offers no choice.
    pub file_types: Vec<String>,
}

impl DownloadOptions {
    /// Nothing to download or key: a license-only product (K1).
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty() && self.languages.is_empty() && self.file_types.is_empty()
    }
}

/// What a user selected: a version, and a language and a file type where the product offers
/// them (`None` where the selector is hidden).
///
/// It is inside events, so it is postcard too: never skip a field when serialising. Postcard is not
/// self-describing, and a skipped `None` made the next field's bytes read as the option's tag —
/// an ESU's `keys_generated` (version only) could not be read back from the log. JSON shows a
/// hidden selector as `null` and accepts it omitted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Selection {
    /// The version.
    pub version: String,
    /// The language, if the product offers a choice.
    #[serde(default)]
    pub language: Option<String>,
    /// The file type and OS, if the product offers a choice.
    #[serde(default)]
    pub file_type: Option<String>,
}

/// A pool of MAKs: one per product, SKU and version (a key activates one version).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PoolRef {
    /// Catalog product.
    pub product: ProductId,
    /// Catalog SKU.
    pub sku: SkuId,
    /// The version its keys activate.
    pub version: String,
}

impl std::fmt::Display for PoolRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} ({})", self.product, self.sku, self.version)
    }
}

/// A product key as csp stores it: AEAD ciphertext under its own data key, never re-sealed
/// under another. Opening it takes the keyring, which only the entitlement service holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    /// The key's id.
    pub key: KeyId,
    /// The data key it is sealed under.
    pub data_key: DataKeyId,
    /// HMAC-SHA256 of the normalised key under the keyring's fingerprint secret: lets an
    /// import refuse a key csp already holds without opening any (and, being keyed, tells
    /// nothing to whoever has only the log).
    pub fingerprint: [u8; 32],
    /// The AEAD nonce (XChaCha20-Poly1305: 24 bytes).
    pub nonce: [u8; 24],
    /// The ciphertext with its tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedKey {
    /// Ids only: ciphertext in a log line helps nobody and invites offline guessing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedKey")
            .field("key", &self.key)
            .field("data_key", &self.data_key)
            .finish_non_exhaustive()
    }
}

/// An entitlement's status on the Software page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntitlementStatus {
    /// Keys and downloads available.
    Active,
    /// Its purchase was cancelled (K8): listed, no key, links dead.
    Revoked,
    /// Its subscription expired: listed, no key, links dead.
    Expired,
}

/// Stream names of the entitlement service's aggregates.
pub mod stream {
    use super::*;

    /// An entitlement.
    pub fn entitlement(e: EntitlementId) -> String {
        format!("entitlement/{e}")
    }
    /// A key pool.
    pub fn pool(p: &PoolRef) -> String {
        format!("pool/{}/{}/{}", p.product, p.sku, p.version)
    }
    /// A customer's VL→CSP migration plan.
    pub fn migration(customer: crate::id::TenantId) -> String {
        format!("migration/{customer}")
    }
}
