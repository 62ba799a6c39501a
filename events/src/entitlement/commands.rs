//! Entitlement's commands: JSON on `csp.cmd.entitlement.<name>`, each bound to its name and the
//! type of its reply's `result` ([`super::replies`]).

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::{command, CustomerRef, RequestId};
use crate::id::EntitlementId;

/// What kind of activation key is asked for; CSP issues MAKs only (RULES.md K4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// A multiple activation key: the only kind CSP issues.
    #[default]
    Mak,
    /// A key management service key: always `kms_not_allowed`.
    Kms,
}

/// "Generate keys and downloads" (K2): a version, and a language and a file type where the
/// product offers them. The first time for a version assigns the entitlement its MAK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateKeys {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The entitlement (the subscription's or perpetual purchase's id).
    pub entitlement: EntitlementId,
    /// The version.
    pub version: String,
    /// The language, where the product offers a choice.
    #[serde(default)]
    pub language: Option<String>,
    /// The file type and OS, where the product offers a choice.
    #[serde(default)]
    pub file_type: Option<String>,
    /// `mak` (the default) or `kms` (refused, K4).
    #[serde(default)]
    pub key_type: KeyType,
}
command!(GenerateKeys, "generate_keys", KeysAndDownloads);

/// Imports a customer's device list for a VL→CSP migration plan (K9): CSV with a header line
/// `device,last_kms_activation` (RFC 3339, UTC). A bad line refuses the whole file, naming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportDevices {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The CSV file's text.
    pub csv: String,
}
command!(ImportDevices, "import_devices", DevicesAccepted);

/// Records that a MAK was deployed on a device, which completes its migration (K9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMakDeployment {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The device, as its list named it.
    pub device: String,
}
command!(RecordMakDeployment, "record_mak_deployment", DeviceView);

/// One chunk of a product-key file, sealed to the service's import public key
/// (`get_import_key`; a `crypto_box` sealed box, base64): plaintext keys never travel on the
/// bus. A chunk is CSV with its own header line `product,sku,version,type,key`; the keys are
/// recorded only once every chunk of the import has arrived and passed, all together — a bad
/// line anywhere refuses the whole import, naming the line of the original file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportKeys {
    /// Idempotency key.
    pub request_id: RequestId,
    /// The import: the same for every chunk of one file.
    pub import: crate::id::ImportId,
    /// This chunk's number, from 0.
    pub chunk: u32,
    /// How many chunks the file was cut into.
    pub chunks: u32,
    /// The line of the original file this chunk's first key line was (the header is line 1).
    pub first_line: u32,
    /// The sealed chunk, base64.
    pub sealed: String,
}
command!(ImportKeys, "import_keys", KeysImported);
