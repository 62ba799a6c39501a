//! Why a request is not authenticated. Every variant is the API code `unauthenticated`: the
//! variants exist for tests, metrics and the message, not for the client to branch on.
//!
//! No variant holds the token: an error may be logged or echoed to the client, and a bearer token
//! in a log line is a credential anyone reading the log can replay.

use csp_events::{ApiError, ErrorCode};

/// A refused credential. The `Display` text is the client-facing message: it says what is wrong
/// and what to do, and quotes only short, clipped claim values, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, or an empty one.
    #[error(
        "no credentials: send a signed token in the `Authorization` header as `Bearer <token>`"
    )]
    Missing,
    /// More than one `Authorization` header (names compare case-insensitively): one credential
    /// per request.
    #[error("{count} `Authorization` headers: send exactly one credential per request")]
    SeveralCredentials {
        /// How many there were.
        count: usize,
    },
    /// Not `Bearer <jwt>`, not three base64url JSON parts, or claims that do not decode.
    #[error("the token is malformed: {reason}")]
    Malformed {
        /// What is wrong, for the client.
        reason: String,
    },
    /// The header names another algorithm than EdDSA (including `none` and every HMAC one).
    #[error("tokens must be signed with EdDSA (Ed25519), not {alg:?}")]
    UnsupportedAlgorithm {
        /// The header's `alg`, clipped.
        alg: String,
    },
    /// The `iss` is not a configured issuer.
    #[error("the token's issuer {iss:?} is not trusted here")]
    UnknownIssuer {
        /// The claimed issuer, clipped.
        iss: String,
    },
    /// The signature does not verify with any key of the claimed issuer.
    #[error("the token's signature does not verify with any key of its issuer")]
    BadSignature,
    /// `exp` has passed (beyond the clock leeway).
    #[error("the token expired at {exp} (seconds since the epoch): get a new one")]
    Expired {
        /// The token's `exp`.
        exp: i64,
    },
    /// `nbf` or `iat` is in the future (beyond the clock leeway).
    #[error("the token is not valid before {not_before} (seconds since the epoch): check the issuer's clock")]
    NotYetValid {
        /// The later of `nbf` and `iat`.
        not_before: i64,
    },
    /// `aud` is not `"csp"`: the token was minted for another system.
    #[error("the token is for audience {aud:?}, not \"csp\"")]
    WrongAudience {
        /// The token's `aud`, clipped.
        aud: String,
    },
    /// A validly signed token claiming more than its issuer may grant.
    #[error("the issuer may not mint this token: {reason}")]
    NotAllowed {
        /// Which rule the token breaks.
        reason: String,
    },
}

impl AuthError {
    /// The message for the client (the same as `Display`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The API code: always `unauthenticated`, whatever the reason, so a client cannot probe which
    /// check a forged token fails by matching on codes (the message still helps honest clients).
    pub fn code(&self) -> ErrorCode {
        ErrorCode::Unauthenticated
    }

    /// The error as the runtime replies with it.
    pub fn to_api_error(&self) -> ApiError {
        ApiError::new(self.code(), self.message())
    }
}

/// Cuts an untrusted string (an `alg`, an `iss`) to a length fit for a message and a log line.
pub(crate) fn clip(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    if s.chars().count() <= MAX_CHARS {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX_CHARS).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_unauthenticated() {
        let all = [
            AuthError::Missing,
            AuthError::Malformed { reason: "x".into() },
            AuthError::UnsupportedAlgorithm { alg: "none".into() },
            AuthError::UnknownIssuer { iss: "x".into() },
            AuthError::BadSignature,
            AuthError::Expired { exp: 1 },
            AuthError::NotYetValid { not_before: 1 },
            AuthError::WrongAudience { aud: "x".into() },
            AuthError::NotAllowed { reason: "x".into() },
        ];
        for e in all {
            assert_eq!(e.code(), ErrorCode::Unauthenticated);
            let api = e.to_api_error();
            assert_eq!(api.code.as_str(), "unauthenticated");
            assert!(!api.message.is_empty());
        }
    }

    #[test]
    fn long_untrusted_values_are_clipped() {
        let long = "a".repeat(1000);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), 65);
        assert_eq!(clip("short"), "short");
    }
}
