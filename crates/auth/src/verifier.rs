//! From an `Authorization` header to a verified [`Actor`]: the only way an actor enters csp.
//!
//! The order of checks is deliberate: nothing in the token is believed before the signature
//! verifies, except the header's `alg` (to refuse anything but EdDSA outright) and the payload's
//! `iss` (only to pick which keys to try). The time checks are ours, not `jsonwebtoken`'s, because
//! `jsonwebtoken` reads the system clock and csp passes the time in.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use csp_events::actor::TOKEN_AUDIENCE;
use csp_events::{Actor, TenantId, TokenClaims};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::{decode_public_key, AuthConfig, ConfigError, IssuerKind};
use crate::error::{clip, AuthError};
use crate::{policy, provider};

/// How far, in seconds, the issuer's clock and ours may disagree: a token is still accepted this
/// long after its `exp`, and already accepted this long before its `nbf`/`iat`. Thirty seconds
/// covers NTP-synchronised hosts without stretching short-lived tokens noticeably.
pub const CLOCK_LEEWAY_SECS: i64 = 30;

/// The longest token accepted, in bytes. A csp token is a few hundred bytes; the bound keeps a
/// hostile header from costing base64 and JSON work proportional to the message size.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The message for an `Authorization` header that is not `Bearer <token>`.
const NOT_BEARER: &str = "the Authorization header must be `Bearer <token>`";

/// A successfully verified credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Who acts: the claims' tenant, user and roles.
    pub actor: Actor,
    /// The verified claims, for the audit trail and for checks beyond the actor (`exp`).
    pub claims: TokenClaims,
    /// The kind of issuer that signed, so an endpoint can demand, say, an internal issuer.
    pub issuer_kind: IssuerKind,
}

/// One configured issuer, its keys decoded once.
#[derive(Debug)]
struct TrustedIssuer {
    kind: IssuerKind,
    tenant: Option<TenantId>,
    keys: Vec<DecodingKey>,
}

/// Verifies tokens against a fixed set of trusted issuers. Built once at start-up (so a bad key
/// fails the start, not every request) and shared: `verify` takes `&self` and touches no I/O.
pub struct Verifier {
    issuers: HashMap<String, TrustedIssuer>,
    validation: Validation,
    /// Tokens whose signature, issuer and policy already checked out, by the SHA-256 of their
    /// exact bytes (so no credential is kept). A client sends the same token with every request
    /// for its lifetime, and an Ed25519 verification is most of what a request costs (two
    /// thirds of the runtime's request path in `csp bench ordering`'s profile). Time checks
    /// (`aud`, `exp`, `nbf`, `sub`) still run on every use. Sound because the trusted issuers
    /// and their keys are fixed for the verifier's life: if they ever become reloadable, the
    /// cache must be emptied on reload.
    verified: Mutex<HashMap<[u8; 32], (TokenClaims, IssuerKind)>>,
}

impl std::fmt::Debug for Verifier {
    // By hand: the remembered tokens are credentials and must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

/// Distinct verified tokens remembered; beyond it the memory starts over (a burst of new tokens
/// costs one verification each, as without the cache).
const VERIFIED_CAPACITY: usize = 16 * 1024;

impl Verifier {
    /// Checks the configuration (keys decode to valid Ed25519 points, partner issuers name their
    /// tenant, no issuer twice) and prepares the keys.
    pub fn new(config: AuthConfig) -> Result<Verifier, ConfigError> {
        if config.issuers.is_empty() {
            return Err(ConfigError::NoIssuers);
        }
        provider::install()?;
        let mut issuers = HashMap::new();
        for (index, issuer) in config.issuers.into_iter().enumerate() {
            if issuer.iss.trim().is_empty() {
                return Err(ConfigError::EmptyIss { index });
            }
            match (issuer.kind, issuer.tenant) {
                (kind @ (IssuerKind::Partner | IssuerKind::Customer), None) => {
                    return Err(ConfigError::TenantRequired {
                        iss: issuer.iss,
                        kind,
                    })
                }
                (IssuerKind::Partner | IssuerKind::Customer, Some(_)) | (_, None) => {}
                (kind, Some(_)) => {
                    return Err(ConfigError::UnexpectedTenant {
                        iss: issuer.iss,
                        kind,
                    })
                }
            }
            if issuer.public_keys.is_empty() {
                return Err(ConfigError::NoKeys { iss: issuer.iss });
            }
            let mut keys = Vec::with_capacity(issuer.public_keys.len());
            for (index, text) in issuer.public_keys.iter().enumerate() {
                let key = decode_public_key(text).map_err(|reason| ConfigError::BadKey {
                    iss: issuer.iss.clone(),
                    index,
                    reason,
                })?;
                // The JWK `x` form: the raw 32-byte key, base64url. The family is fixed to Ed by
                // this constructor, so the key can never serve as an HMAC secret.
                let key = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(key.as_bytes()))
                    .map_err(|e| ConfigError::BadKey {
                        iss: issuer.iss.clone(),
                        index,
                        reason: e.to_string(),
                    })?;
                keys.push(key);
            }
            if issuers.contains_key(&issuer.iss) {
                return Err(ConfigError::DuplicateIssuer { iss: issuer.iss });
            }
            issuers.insert(
                issuer.iss,
                TrustedIssuer {
                    kind: issuer.kind,
                    tenant: issuer.tenant,
                    keys,
                },
            );
        }
        Ok(Verifier {
            issuers,
            validation: signature_only_validation(),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The configured issuers and their kinds, for the start-up log (and to warn when a
    /// development issuer is trusted outside development).
    pub fn issuers(&self) -> impl Iterator<Item = (&str, IssuerKind)> + '_ {
        self.issuers.iter().map(|(iss, i)| (iss.as_str(), i.kind))
    }

    /// Verifies a request's `Authorization` header (`Bearer <jwt>`, scheme case-insensitive),
    /// given every value the request carries under that name, whatever its case. More than one
    /// is refused, every time: which of two credentials would win must never depend on the
    /// order a map happens to iterate in (`Some(value)` or `None` for a single header).
    ///
    /// `now_unix_secs` is the wall clock, never the business clock: token validity is security
    /// time, agreed with the issuer's real clock, while the business clock may be a manual test
    /// clock set to next year (which would accept expired tokens) or to last year.
    pub fn verify<'a>(
        &self,
        authorization: impl IntoIterator<Item = &'a str>,
        now_unix_secs: i64,
    ) -> Result<Verified, AuthError> {
        let mut values = authorization.into_iter();
        let first = values.next();
        let more = values.count();
        if more > 0 {
            return Err(AuthError::SeveralCredentials { count: more + 1 });
        }
        let token = bearer_token(first)?;
        self.verify_token(token, now_unix_secs)
    }

    /// Verifies a bare JWT, for carriers other than the `Authorization` header. See
    /// [`Verifier::verify`] for `now_unix_secs`.
    pub fn verify_token(&self, token: &str, now_unix_secs: i64) -> Result<Verified, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed(format!("longer than {MAX_TOKEN_LEN} bytes")));
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let remembered = self.remembered(&key);
        if let Some((claims, issuer_kind)) = remembered {
            check_claims(&claims, now_unix_secs)?;
            return Ok(Verified {
                actor: claims.actor(),
                claims,
                issuer_kind,
            });
        }
        let verified = self.verify_afresh(token, now_unix_secs)?;
        self.remember(key, &verified, now_unix_secs);
        Ok(verified)
    }

    fn remembered(&self, key: &[u8; 32]) -> Option<(TokenClaims, IssuerKind)> {
        let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(key).cloned()
    }

    fn remember(&self, key: [u8; 32], verified: &Verified, now: i64) {
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= VERIFIED_CAPACITY {
            // Expired tokens go first; if every one is live, start over (each costs one
            // verification again, as without the cache).
            cache.retain(|_, (claims, _)| claims.exp.saturating_add(CLOCK_LEEWAY_SECS) > now);
            if cache.len() >= VERIFIED_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(key, (verified.claims.clone(), verified.issuer_kind));
    }

    fn verify_afresh(&self, token: &str, now_unix_secs: i64) -> Result<Verified, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("a JWT has three dot-separated parts"));
        };

        // Refuse every algorithm but EdDSA before anything else, by its name as written, so that
        // `none` and the HMAC family never reach a verifier.
        let header: UnverifiedHeader = decode_part(header)
            .ok_or_else(|| malformed("the header is not base64url JSON with a string `alg`"))?;
        if header.alg != "EdDSA" {
            return Err(AuthError::UnsupportedAlgorithm {
                alg: clip(&header.alg),
            });
        }
        if header.crit.is_some() {
            return Err(malformed(
                "critical header parameters (`crit`) are not supported",
            ));
        }
        jsonwebtoken::decode_header(token).map_err(|_| malformed("the header does not decode"))?;

        // The issuer, unverified, only to choose the keys.
        let unverified: UnverifiedPayload = decode_part(payload)
            .ok_or_else(|| malformed("the payload is not base64url JSON with a string `iss`"))?;
        let issuer = self
            .issuers
            .get(&unverified.iss)
            .ok_or_else(|| AuthError::UnknownIssuer {
                iss: clip(&unverified.iss),
            })?;

        let claims = self.verified_claims(token, issuer)?;
        // Same bytes, so the same `iss`; checked anyway so a parser difference can never let one
        // issuer's keys vouch for another's claims.
        if claims.iss != unverified.iss {
            return Err(malformed("the issuer is ambiguous"));
        }
        check_claims(&claims, now_unix_secs)?;
        policy::check(issuer.kind, issuer.tenant, &claims)
            .map_err(|reason| AuthError::NotAllowed { reason })?;
        Ok(Verified {
            actor: claims.actor(),
            claims,
            issuer_kind: issuer.kind,
        })
    }

    /// Tries each of the issuer's keys (several during a rotation) and decodes the claims once a
    /// signature verifies.
    fn verified_claims(
        &self,
        token: &str,
        issuer: &TrustedIssuer,
    ) -> Result<TokenClaims, AuthError> {
        for key in &issuer.keys {
            match jsonwebtoken::decode::<TokenClaims>(token, key, &self.validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => match e.kind() {
                    ErrorKind::InvalidSignature => continue,
                    // The signature verified; the claims are not csp's (unknown or missing field).
                    ErrorKind::Json(err) => {
                        return Err(malformed(format!(
                            "the claims do not decode: {}",
                            clip(&err.to_string())
                        )))
                    }
                    ErrorKind::InvalidAlgorithm => {
                        return Err(AuthError::UnsupportedAlgorithm {
                            alg: "EdDSA".into(),
                        })
                    }
                    _ => return Err(malformed("the token does not decode")),
                },
            }
        }
        Err(AuthError::BadSignature)
    }
}

/// `jsonwebtoken` checks the algorithm and the signature only; `aud`, `exp`, `nbf` and `iat` are
/// checked by [`check_claims`] against the time passed in, with csp's own errors.
fn signature_only_validation() -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.required_spec_claims = HashSet::new();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.leeway = 0;
    v
}

/// The checks on verified claims that do not depend on the issuer.
fn check_claims(claims: &TokenClaims, now: i64) -> Result<(), AuthError> {
    if claims.aud != TOKEN_AUDIENCE {
        return Err(AuthError::WrongAudience {
            aud: clip(&claims.aud),
        });
    }
    if claims.exp.saturating_add(CLOCK_LEEWAY_SECS) <= now {
        return Err(AuthError::Expired { exp: claims.exp });
    }
    let latest_start = now.saturating_add(CLOCK_LEEWAY_SECS);
    let not_before = claims.nbf.map_or(claims.iat, |nbf| nbf.max(claims.iat));
    if not_before > latest_start {
        return Err(AuthError::NotYetValid { not_before });
    }
    if claims.sub.trim().is_empty() {
        return Err(malformed("`sub` is empty: a token names its user"));
    }
    Ok(())
}

/// The token of a `Bearer <token>` header value.
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| malformed(NOT_BEARER))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed(NOT_BEARER));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(malformed("the token after `Bearer` is empty"));
    }
    Ok(token)
}

/// The header fields read before verification.
#[derive(Deserialize)]
struct UnverifiedHeader {
    alg: String,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// The payload field read before verification.
#[derive(Deserialize)]
struct UnverifiedPayload {
    iss: String,
}

/// Decodes one base64url (no padding) JSON part of a JWT, or `None`.
fn decode_part<T: DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn malformed(reason: impl Into<String>) -> AuthError {
    AuthError::Malformed {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_trimmed() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("  bearer   abc ")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("   ")), Err(AuthError::Missing));
        assert!(matches!(
            bearer_token(Some("Bearer")),
            Err(AuthError::Malformed { .. })
        ));
        assert!(matches!(
            bearer_token(Some("Basic dXNlcjpwYXNz")),
            Err(AuthError::Malformed { .. })
        ));
    }

    #[test]
    fn leeway_bounds_are_exact() {
        let mut c = TokenClaims {
            iss: "i".into(),
            sub: "u".into(),
            aud: "csp".into(),
            exp: 1000,
            iat: 900,
            nbf: None,
            tid: TenantId(uuid::Uuid::nil()),
            kind: csp_events::ActorKind::Customer,
            roles: vec![],
        };
        assert!(check_claims(&c, 1000 + CLOCK_LEEWAY_SECS - 1).is_ok());
        assert_eq!(
            check_claims(&c, 1000 + CLOCK_LEEWAY_SECS),
            Err(AuthError::Expired { exp: 1000 })
        );
        c.nbf = Some(950);
        assert!(check_claims(&c, 950 - CLOCK_LEEWAY_SECS).is_ok());
        assert_eq!(
            check_claims(&c, 950 - CLOCK_LEEWAY_SECS - 1),
            Err(AuthError::NotYetValid { not_before: 950 })
        );
        c.exp = i64::MAX;
        assert!(check_claims(&c, 990).is_ok());
        c.sub = " ".into();
        assert!(matches!(
            check_claims(&c, 990),
            Err(AuthError::Malformed { .. })
        ));
    }
}
