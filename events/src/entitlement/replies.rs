//! The `result` of each entitlement command's and query's reply.

use serde::{Deserialize, Serialize};

use super::*;
use crate::id::{EntitlementId, ImportId, OrderId, TenantId};
use crate::market::{ProductId, SkuId};
use crate::ordering::LineItem;
use crate::time::Timestamp;

/// The selectors a product offers (K2): a kind the product hides is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionsView {
    /// Versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Vec<String>>,
    /// Languages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Vec<String>>,
    /// File types and OS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<Vec<String>>,
}

impl From<&DownloadOptions> for OptionsView {
    fn from(d: &DownloadOptions) -> OptionsView {
        let shown = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        OptionsView {
            version: shown(&d.versions),
            language: shown(&d.languages),
            file_type: shown(&d.file_types),
        }
    }
}

/// The answer to `generate_keys`: what the product offers, what was selected, and that its key
/// can now be shown (`get_key`) and its file downloaded (`get_download_link`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysAndDownloads {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The product.
    pub product: ProductId,
    /// Its display name.
    pub product_name: String,
    /// The selectors it offers.
    pub options: OptionsView,
    /// What was selected.
    pub selection: Selection,
    /// Whether a key is ready for `get_key`.
    pub key_available: bool,
    /// The installation instructions link, for products that have one (K6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

/// One item of the Software page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareItem {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The subscription or perpetual purchase.
    pub item: LineItem,
    /// The order that bought it.
    pub order: OrderId,
    /// The selling partner.
    pub partner: TenantId,
    /// The product.
    pub product: ProductId,
    /// The SKU.
    pub sku: SkuId,
    /// Its display name.
    pub product_name: String,
    /// Units.
    pub quantity: u32,
    /// `active`, `revoked` or `expired`.
    pub status: EntitlementStatus,
    /// Sold as a license only: no keys, no downloads.
    pub license_only: bool,
    /// The selectors it offers (none for a license).
    pub options: OptionsView,
    /// The installation instructions link (K6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Whether a key can be shown now.
    pub key_available: bool,
    /// When it was bought.
    pub granted_at: Timestamp,
    /// When it was revoked or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// A page of the Software page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwarePage {
    /// The customer.
    pub customer: TenantId,
    /// The items, oldest first.
    pub items: Vec<SoftwareItem>,
    /// The cursor of the next page; `null` on the last.
    pub next: Option<String>,
}

/// A product key, shown (K3): the only reply that ever carries one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownKey {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The product.
    pub product: ProductId,
    /// The version.
    pub version: String,
    /// The MAK: five groups of five characters.
    pub key: String,
}

/// A signed download link (K3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// `GET` it to download the file; it works until `expires_at` and while the entitlement
    /// is active.
    pub url: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// One key pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolView {
    /// Product, SKU, version.
    pub pool: PoolRef,
    /// Keys left to assign.
    pub remaining: u32,
    /// Keys ever imported.
    pub imported: u32,
}

/// The key pools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPools {
    /// Every pool, by product, SKU and version.
    pub pools: Vec<PoolView>,
}

/// Where a device stands in its migration (K9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// More than 30 days left.
    Ok,
    /// 30 days or less left.
    DueSoon,
    /// Past the deadline: limited or blocked until reactivated.
    Overdue,
    /// A MAK was deployed: nothing left to do.
    Completed,
}

/// One device of a migration plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    /// The device.
    pub device: String,
    /// Its last KMS activation.
    pub last_kms_activation: Timestamp,
    /// Last activation + 180 days.
    pub deadline: Timestamp,
    /// Its state at `as_of`.
    pub state: DeviceState,
    /// When a MAK was deployed on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mak_deployed_at: Option<Timestamp>,
}

/// A customer's migration plan at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationPlan {
    /// The customer.
    pub customer: TenantId,
    /// When the states were computed.
    pub as_of: Timestamp,
    /// Every device, by name.
    pub devices: Vec<DeviceView>,
}

/// The answer to `import_devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesAccepted {
    /// The import.
    pub import: ImportId,
    /// Devices in the file.
    pub devices: u32,
}

/// The answer to one `import_keys` chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysImported {
    /// The import.
    pub import: ImportId,
    /// Chunks received so far.
    pub received: u32,
    /// Chunks in all.
    pub chunks: u32,
    /// Whether the import is complete and recorded.
    pub complete: bool,
    /// Keys recorded per pool (when complete).
    pub imported: Vec<PoolView>,
}

/// Where to seal key files to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportKey {
    /// The X25519 public key, standard base64.
    pub public_key: String,
    /// How to seal: `crypto_box sealed box (X25519, XSalsa20-Poly1305)`.
    pub algorithm: String,
}
