//! The cryptography `jsonwebtoken` runs for csp: Ed25519 verification and nothing else.
//!
//! `jsonwebtoken` needs a crypto provider, and its built-in ones come with every algorithm it
//! knows: the `rust_crypto` feature links `rsa` (which has an unfixed timing side channel,
//! RUSTSEC-2023-0071), `p256`, `p384` and `hmac` into every csp binary, although the verifier
//! refuses any `alg` but EdDSA before a key is touched. This provider verifies with
//! `ed25519-dalek`, which csp already uses for its own keys, so the crate is built without any
//! of its crypto features. csp mints its own tokens with `ed25519-dalek` too (`issuer.rs`), so
//! the provider signs nothing.
//!
//! The provider is process-wide: `jsonwebtoken` keeps one, fixed by the first call that needs
//! it. [`install`] runs before any token is decoded ([`crate::Verifier::new`]).

use ed25519_dalek::{Signature, VerifyingKey};
use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::config::ConfigError;

/// A `static`, not a `const`: [`install`] recognises it by address.
static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: ed25519_verifier,
    // csp reads no JWK; these answer errors instead of the panics of
    // `JwkUtils::new_unimplemented`, should a future caller reach them.
    jwk_utils: JwkUtils {
        extract_rsa_public_key_components: no_rsa_key,
        extract_ec_public_key_coordinates: no_ec_key,
        compute_digest,
    },
};

/// Makes the Ed25519-only provider `jsonwebtoken`'s for this process. Idempotent. Fails if
/// anything decoded or signed with `jsonwebtoken` first: that fixed the crate's own choice,
/// which without crypto features is a provider that panics on every token, so the service
/// must not start.
pub(crate) fn install() -> std::result::Result<(), ConfigError> {
    match CryptoProvider::install_default(&EDDSA_ONLY) {
        Ok(()) => Ok(()),
        Err(installed) if std::ptr::eq(installed, &EDDSA_ONLY) => Ok(()),
        Err(_) => Err(ConfigError::CryptoProvider),
    }
}

fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Err(new_error(ErrorKind::InvalidAlgorithm))
}

fn ed25519_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    let DecodingKeyKind::SecretOrDer(raw) = key.kind() else {
        return Err(new_error(ErrorKind::InvalidEddsaKey));
    };
    let raw: &[u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
    let key = VerifyingKey::from_bytes(raw).map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
    Ok(Box::new(Ed25519(key)))
}

struct Ed25519(VerifyingKey);

impl signature::Verifier<Vec<u8>> for Ed25519 {
    fn verify(&self, message: &[u8], sig: &Vec<u8>) -> signature::Result<()> {
        // `verify`, as `jsonwebtoken`'s own EdDSA verifier does; weak keys are refused when
        // the configuration is read (`config::decode_public_key`).
        ed25519_dalek::Verifier::verify(&self.0, message, &Signature::from_slice(sig)?)
    }
}

impl JwtVerifier for Ed25519 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn no_rsa_key(_: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    Err(new_error(ErrorKind::InvalidRsaKey(
        "csp accepts Ed25519 keys only".into(),
    )))
}

fn no_ec_key(_: &[u8], _: Algorithm) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    Err(new_error(ErrorKind::InvalidEcdsaKey))
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Vec<u8> {
    match hash {
        ThumbprintHash::SHA256 => Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => Sha512::digest(data).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    fn decoding_key(key: &SigningKey) -> DecodingKey {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()))
            .expect("an Ed25519 key")
    }

    #[test]
    fn verifies_ed25519_and_nothing_else() {
        install().expect("installs, and again");
        install().expect("idempotent");
        let key = SigningKey::from_bytes(&[7; 32]);
        let signature = key.sign(b"header.payload").to_bytes().to_vec();
        let verifier =
            ed25519_verifier(&Algorithm::EdDSA, &decoding_key(&key)).expect("an EdDSA verifier");
        assert!(verifier.verify(b"header.payload", &signature).is_ok());
        assert!(verifier.verify(b"header.payloaD", &signature).is_err());
        assert!(verifier
            .verify(b"header.payload", &signature[1..].to_vec())
            .is_err());
        // Another algorithm, or an HMAC secret in place of a public key, gets no verifier.
        for (alg, key) in [
            (Algorithm::HS256, DecodingKey::from_secret(b"secret")),
            (Algorithm::EdDSA, DecodingKey::from_secret(b"secret")),
            (Algorithm::RS256, decoding_key(&key)),
        ] {
            assert!(ed25519_verifier(&alg, &key).is_err(), "{alg:?}");
        }
        assert!(no_signer(&Algorithm::EdDSA, &EncodingKey::from_secret(b"s")).is_err());
    }

    /// The point of this provider: the lock file shows what `jsonwebtoken` is built with.
    #[test]
    fn jsonwebtoken_is_built_without_crypto_of_its_own() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("the workspace's Cargo.lock");
        let entry = lock
            .split("[[package]]")
            .find(|p| p.contains("\nname = \"jsonwebtoken\"\n"))
            .expect("jsonwebtoken is locked");
        for unwanted in ["rsa", "p256", "p384", "hmac", "aws-lc-rs", "ed25519-dalek"] {
            assert!(
                !entry.contains(&format!("\"{unwanted}\"")),
                "jsonwebtoken depends on {unwanted}:{entry}"
            );
        }
    }
}
