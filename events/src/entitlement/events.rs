//! The entitlement service's events. None holds a product key in plaintext: a key travels
//! sealed ([`SealedKey`]) under its own data key, and every later event names the key and its
//! data key by id only.

use serde::{Deserialize, Serialize};

use super::{DownloadOptions, PoolRef, SealedKey, Selection};
use crate::id::{DataKeyId, EntitlementId, ImportId, KeyId, OrderId, TenantId};
use crate::market::{ProductId, SkuId};
use crate::ordering::LineItem;
use crate::time::Timestamp;

/// A purchased item became an entitlement (RULES.md K1): a reaction to ordering's
/// `subscription_started` or `perpetual_purchased`, with the download options its SKU offered
/// then (a later catalog change does not change what was bought).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementGranted {
    /// The entitlement (the item's own UUID).
    pub entitlement: EntitlementId,
    /// The subscription or perpetual purchase it was granted for.
    pub item: LineItem,
    /// The order that bought it.
    pub order: OrderId,
    /// The customer tenant.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// Catalog product.
    pub product: ProductId,
    /// Catalog SKU.
    pub sku: SkuId,
    /// The product's display name.
    pub product_name: String,
    /// Units bought.
    pub quantity: u32,
    /// Sold as a license only: no keys and no downloads (K1).
    pub license_only: bool,
    /// What "Generate keys and downloads" offers (K2); all empty for a license-only product.
    pub downloads: DownloadOptions,
    /// The installation instructions link, for products that have one (K6).
    pub instructions: Option<String>,
    /// When it was bought.
    pub granted_at: Timestamp,
}

/// Keys and downloads were generated for an entitlement and a selection (K2): the first time a
/// version is asked for, one MAK of that version's pool is assigned to the entitlement (K4),
/// and it stays the entitlement's key for that version — asking again records nothing new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysGenerated {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The customer tenant.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// What was selected.
    pub selection: Selection,
    /// The MAK assigned for this version (sealed in its pool's `key_pool_filled`, under
    /// `data_key`).
    pub key: KeyId,
    /// The data key the MAK is sealed under.
    pub data_key: DataKeyId,
    /// The pool it came from.
    pub pool: PoolRef,
}

/// A pool's key was taken for an entitlement (recorded with its `keys_generated`, on the pool's
/// own stream, so two entitlements drawing from one pool at once conflict instead of sharing a
/// key). A taken key never returns to its pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAssigned {
    /// The pool.
    pub pool: PoolRef,
    /// The key taken.
    pub key: KeyId,
    /// The entitlement it went to.
    pub entitlement: EntitlementId,
    /// Keys left in the pool.
    pub remaining: u32,
}

/// A product key was shown to a user (K7): who is the envelope's actor. Recorded, durably,
/// before the key leaves in the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyShown {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The customer tenant.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// The product.
    pub product: ProductId,
    /// Its display name.
    pub product_name: String,
    /// The version whose key was shown.
    pub version: String,
    /// The key shown (never the key itself).
    pub key: KeyId,
}

/// Whether a link was issued to download or copied to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkUse {
    /// "Download": the user downloads the bits.
    Download,
    /// "Copy link": the user shares the link (K3).
    Copy,
}

/// A signed download link was issued (K3, K7): who is the envelope's actor. The link itself is
/// a bearer credential and is not recorded; its expiry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadLinkIssued {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The customer tenant.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// The product.
    pub product: ProductId,
    /// Its display name.
    pub product_name: String,
    /// The file: version, language, file type and OS.
    pub selection: Selection,
    /// Download or copy.
    pub used_for: LinkUse,
    /// When the link stops working (wall clock).
    pub expires_at: Timestamp,
}

/// Why an entitlement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Its purchase was cancelled (K8).
    Cancelled,
    /// Its subscription expired at the end of its term.
    Expired,
}

/// An entitlement ended (K8; an expiry ends it the same way): its keys are never shown again,
/// its links stop working, and the data keys listed are destroyed once this is durable
/// (crypto-shredding, the service's effect). The item stays listed, marked revoked or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementEnded {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The customer tenant.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// Cancelled or expired.
    pub reason: EndReason,
    /// When (the upstream event's business time).
    pub ended_at: Timestamp,
    /// The keys it held, never to return to a pool.
    pub keys: Vec<KeyId>,
    /// Their data keys, to destroy.
    pub data_keys: Vec<DataKeyId>,
}

/// Product keys were added to a pool by a platform `importer` (or the generator), each sealed
/// under its own data key, which the keyring holds durably before this is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPoolFilled {
    /// The pool: product, SKU, version.
    pub pool: PoolRef,
    /// The import (one file, possibly in several events).
    pub import: ImportId,
    /// Which chunk of the import this is (from 0): a chunk is recorded once.
    pub chunk: u32,
    /// The keys, sealed.
    pub keys: Vec<SealedKey>,
}

/// A pool fell below its low-water mark: someone must import more keys before a customer
/// meets `key_pool_empty`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPoolLow {
    /// The pool.
    pub pool: PoolRef,
    /// Keys left.
    pub remaining: u32,
    /// The configured mark.
    pub low_water: u32,
}

/// One device of a customer's volume-licensing estate, as imported (K9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceActivation {
    /// The device's name, as the customer knows it.
    pub device: String,
    /// Its last KMS activation (UTC).
    pub last_kms_activation: Timestamp,
}

/// A customer's device list was imported for a VL→CSP migration plan (K9). A device already
/// listed takes the later activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesImported {
    /// The customer tenant.
    pub customer: TenantId,
    /// The import.
    pub import: ImportId,
    /// The devices.
    pub devices: Vec<DeviceActivation>,
}

/// A MAK was deployed on a device, which completes its migration (K9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakDeployed {
    /// The customer tenant.
    pub customer: TenantId,
    /// The device.
    pub device: String,
    /// When.
    pub deployed_at: Timestamp,
}
