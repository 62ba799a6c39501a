//! The trusted issuers: who may sign csp tokens, with which keys, and for whom.
//!
//! This module holds only the configuration as written by an operator and its checks; what each
//! [`IssuerKind`] may mint lives in `policy.rs`, the verification itself in `verifier.rs`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use csp_events::TenantId;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

/// What an issuer is. The kind, not the token, decides which claims the issuer's tokens may
/// carry: a partner's identity provider must never be able to mint a platform `support` token,
/// however well it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerKind {
    /// A CSP partner's identity provider: the users of that partner's own tenant, nobody
    /// else's (a partner's IdP minting a customer's token would let any partner impersonate
    /// any customer).
    Partner,
    /// A customer tenant's own identity provider: that customer's users (`global_admin`), so
    /// a customer's own admin sees every item of its tenant, whichever partner sold it.
    Customer,
    /// The platform's identity provider: `importer`, `support` and `operator` users.
    Platform,
    /// csp itself, minting `service` tokens so services can call each other's internal endpoints.
    Internal,
    /// The local development issuer of the embedded default, the demo and tests: may mint
    /// anything, so it must never appear in a production configuration.
    Development,
}

impl IssuerKind {
    /// The snake_case name used in configuration files and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            IssuerKind::Partner => "partner",
            IssuerKind::Customer => "customer",
            IssuerKind::Platform => "platform",
            IssuerKind::Internal => "internal",
            IssuerKind::Development => "development",
        }
    }
}

impl fmt::Display for IssuerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One trusted issuer, as written in the configuration file.
///
/// Keys are plain data (base64 strings) here so the file round-trips unchanged; they are decoded
/// and checked once, by [`crate::Verifier::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` claim of this issuer's tokens; it selects the keys a token is checked against.
    pub iss: String,
    /// What the issuer may mint.
    pub kind: IssuerKind,
    /// The tenant the issuer speaks for: required for partner and customer issuers (their
    /// tokens may claim only it), refused for every other kind (a tenant there would look like
    /// a restriction that nothing enforces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
    /// Standard base64 of raw 32-byte Ed25519 public keys. Several, so an issuer can rotate: add
    /// the new key, let old tokens expire, then remove the old key.
    pub public_keys: Vec<String>,
}

/// The whole authentication configuration: the issuers this deployment trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Every trusted issuer; a token from any other `iss` is refused.
    pub issuers: Vec<IssuerConfig>,
}

impl AuthConfig {
    /// Parses the JSON form. Unknown fields are refused so a misspelt `tenant` cannot silently
    /// turn into "no tenant".
    pub fn from_json(text: &str) -> Result<AuthConfig, ConfigError> {
        serde_json::from_str(text).map_err(ConfigError::Json)
    }

    /// Reads and parses a JSON configuration file.
    pub fn load(path: impl AsRef<Path>) -> Result<AuthConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        AuthConfig::from_json(&text)
    }
}

/// Why a configuration cannot be used. Refused at start-up, so a bad key or a partner issuer
/// without its tenant stops the service instead of failing every request later.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the auth config {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The text is not a valid configuration (bad JSON, unknown field, wrong type).
    #[error("the auth config does not decode: {0}")]
    Json(#[source] serde_json::Error),
    /// No issuer at all: every request would be refused.
    #[error("the auth config trusts no issuer: list at least one under `issuers`")]
    NoIssuers,
    /// An issuer with an empty `iss`.
    #[error("issuer #{index} has an empty `iss`")]
    EmptyIss {
        /// Position in `issuers`, from 0.
        index: usize,
    },
    /// The same `iss` twice: which entry's kind and tenant would apply would be ambiguous.
    #[error("issuer {iss:?} is listed twice: list each issuer once, with all its keys")]
    DuplicateIssuer {
        /// The repeated issuer.
        iss: String,
    },
    /// An issuer without keys could never be verified.
    #[error("issuer {iss:?} has no public key")]
    NoKeys {
        /// The issuer.
        iss: String,
    },
    /// A key that is not base64 of a valid, non-weak 32-byte Ed25519 public key.
    #[error("issuer {iss:?}: public key #{index} is not usable: {reason}")]
    BadKey {
        /// The issuer.
        iss: String,
        /// Position in `public_keys`, from 0.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A partner or customer issuer must name its tenant, the only tenant its tokens may
    /// claim.
    #[error("{kind} issuer {iss:?} needs `tenant`: the {kind}'s own tenant id")]
    TenantRequired {
        /// The issuer.
        iss: String,
        /// Its kind.
        kind: IssuerKind,
    },
    /// `jsonwebtoken` already had another crypto provider when the verifier was built: something
    /// in the process decoded or signed with it first, fixing a provider that may not verify
    /// Ed25519 at all (without crypto features, one that panics on every token).
    #[error("jsonwebtoken already has another crypto provider in this process: build the Verifier before anything else uses jsonwebtoken")]
    CryptoProvider,
    /// A tenant on a non-partner issuer.
    #[error("issuer {iss:?} is a {kind} issuer, which takes no `tenant`: only partner and customer issuers are bound to one")]
    UnexpectedTenant {
        /// The issuer.
        iss: String,
        /// Its kind.
        kind: IssuerKind,
    },
}

/// Decodes one configured key: standard base64 of the raw 32-byte public key, which must be a
/// valid curve point and not of small order (a weak key would let anyone forge signatures).
pub(crate) fn decode_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not standard base64: {e}"))?;
    let raw: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("{} bytes, expected 32", bytes.len()))?;
    let key =
        VerifyingKey::from_bytes(&raw).map_err(|_| "not an Ed25519 public key".to_string())?;
    if key.is_weak() {
        return Err("a weak (small-order) Ed25519 key".into());
    }
    Ok(key)
}

/// Standard base64 of a raw public key: the form `public_keys` holds.
pub(crate) fn encode_public_key(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_decodes_from_the_documented_json() {
        let config = AuthConfig::from_json(
            r#"{"issuers":[{"iss":"https://idp.contoso.example","kind":"partner",
                "tenant":"6f1c2a9e-3c1b-4b8e-9d7a-1e2f3a4b5c6d",
                "public_keys":["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="]}]}"#,
        )
        .expect("valid config");
        let issuer = &config.issuers[0];
        assert_eq!(issuer.kind, IssuerKind::Partner);
        assert!(issuer.tenant.is_some());
        assert!(decode_public_key(&issuer.public_keys[0]).is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r = AuthConfig::from_json(
            r#"{"issuers":[{"iss":"a","kind":"platform","public_keys":[],"tenat":null}]}"#,
        );
        assert!(matches!(r, Err(ConfigError::Json(_))));
    }

    #[test]
    fn keys_must_be_32_byte_valid_non_weak_points() {
        assert!(decode_public_key("not base64!").is_err());
        assert!(decode_public_key(&STANDARD.encode([7u8; 31])).is_err());
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let err = decode_public_key(&STANDARD.encode(identity)).expect_err("weak key");
        assert!(err.contains("weak"), "{err}");
    }
}
