//! Download links (K3): a token naming the entitlement, the file and an expiry, signed with
//! HMAC-SHA256 under the keyring's link secret. Opening one checks the signature first
//! (constant time), then the expiry, then the entitlement's status at that moment, so a
//! revocation or an expiry holds on every request, not only the first.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use csp_events::entitlement::Selection;
use csp_events::{EntitlementId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::keyring::{Keyring, KeyringError};

/// What a link says: which file of which entitlement, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkClaims {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// The file.
    pub selection: Selection,
    /// When the link stops working.
    pub expires_at: Timestamp,
}

/// The longest token accepted: well above any real one, so a huge path is refused before any
/// decoding.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Signs `claims`: `base64url(json) "." base64url(hmac)`.
pub fn sign(keyring: &Keyring, claims: &LinkClaims) -> Result<String, KeyringError> {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mac = keyring.sign_link(payload.as_bytes())?;
    Ok(format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac)))
}

/// Why a link does not open, in the order checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not a token csp signed (or altered since).
    BadSignature,
    /// Past its expiry.
    Expired(Timestamp),
}

/// Checks a token's signature (constant time) and then its expiry at `now`; the caller then
/// checks the entitlement's status.
pub fn verify(
    keyring: &Keyring,
    token: &str,
    now: Timestamp,
) -> Result<Result<LinkClaims, LinkRefusal>, KeyringError> {
    if token.len() > MAX_TOKEN_LEN {
        return Ok(Err(LinkRefusal::BadSignature));
    }
    let Some((payload, mac)) = token.split_once('.') else {
        return Ok(Err(LinkRefusal::BadSignature));
    };
    let Ok(mac) = URL_SAFE_NO_PAD.decode(mac) else {
        return Ok(Err(LinkRefusal::BadSignature));
    };
    if !keyring.verify_link(payload.as_bytes(), &mac)? {
        return Ok(Err(LinkRefusal::BadSignature));
    }
    // Signed by us: it decodes, unless the format changed under it.
    let claims: Option<LinkClaims> = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|j| serde_json::from_slice(&j).ok());
    let Some(claims) = claims else {
        return Ok(Err(LinkRefusal::BadSignature));
    };
    if now >= claims.expires_at {
        return Ok(Err(LinkRefusal::Expired(claims.expires_at)));
    }
    Ok(Ok(claims))
}
