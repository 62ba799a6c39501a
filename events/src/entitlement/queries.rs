//! Entitlement's queries and recorded reads: JSON on `csp.qry.entitlement.<name>`. Queries
//! record nothing; the recorded reads (`get_key`, `get_download_link`, `copy_link`) record who
//! saw what before they answer (RULES.md K7).

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::{query, CustomerRef};
use crate::id::EntitlementId;

/// The Software page: every purchased item of a customer, revoked and expired ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetSoftware {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many items (and at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(GetSoftware, "get_software", SoftwarePage);

/// Shows the entitlement's MAK of a version (K3), recorded first (K7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetKey {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The version whose key to show.
    pub version: String,
    /// `mak` (the default) or `kms` (refused, K4).
    #[serde(default)]
    pub key_type: KeyType,
}
query!(GetKey, "get_key", ShownKey);

/// A signed, expiring link to download the selected file (K3), recorded first (K7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetDownloadLink {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The version.
    pub version: String,
    /// The language, where the product offers a choice.
    #[serde(default)]
    pub language: Option<String>,
    /// The file type and OS, where the product offers a choice.
    #[serde(default)]
    pub file_type: Option<String>,
}
query!(GetDownloadLink, "get_download_link", Link);

/// "Copy link": the same link, to share (K3), recorded as copied (K7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyLink {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The version.
    pub version: String,
    /// The language, where the product offers a choice.
    #[serde(default)]
    pub language: Option<String>,
    /// The file type and OS, where the product offers a choice.
    #[serde(default)]
    pub file_type: Option<String>,
}
query!(CopyLink, "copy_link", Link);

/// What the key pools hold (platform `importer` and `operator`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetKeyPools {}
query!(GetKeyPools, "get_key_pools", KeyPools);

/// A customer's VL→CSP migration plan, computed at the time asked (K9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetMigrationPlan {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
}
query!(GetMigrationPlan, "get_migration_plan", MigrationPlan);

/// The public key key files are sealed to (platform `importer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetImportKey {}
query!(GetImportKey, "get_import_key", ImportKey);
