//! Signed checkpoints: the audit log's tree head — its size and root — and the time it was
//! taken, signed with Ed25519, written as a transparency-log checkpoint in the signed-note
//! text format used by Go's checksum database and Sigstore (C2SP `tlog-checkpoint` and
//! `signed-note`), so an auditor can check one with tools that know nothing of csp:
//!
//! ```text
//! csp-audit/<installation>
//! 1000000
//! <base64 of the 32-byte root>
//! time 2026-12-06T03:00:00Z
//!
//! — csp-audit/<installation> <base64 of key id (4 bytes) ‖ signature (64 bytes)>
//! ```
//!
//! The signature covers the body (every line up to and including the blank line's preceding
//! newline); the key id is the first four bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`,
//! so a verifier holding several keys knows which one signed. The public key is pinned by the
//! verifier, never taken from the checkpoint.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The checkpoint signing key. Its `Debug` shows only the public half; it zeroes on drop
/// (ed25519-dalek's `zeroize`); it has no serialisation.
pub struct CheckpointKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("name", &self.name)
            .field("public", &B64.encode(self.key.verifying_key().as_bytes()))
            .finish()
    }
}

/// What a checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    /// The log's name (the checkpoint's origin line): `csp-audit/<installation>`.
    pub origin: String,
    /// How many leaves.
    pub size: u64,
    /// Their root.
    pub root: Hash,
    /// When it was taken (RFC 3339, UTC).
    pub time: String,
}

/// Why a checkpoint is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not the text format.
    #[error("not a checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature by the pinned key.
    #[error("no signature by key {0} of {1}")]
    Unsigned(String, String),
    /// A signature by the pinned key that does not verify.
    #[error("the signature by key {0} does not verify")]
    BadSignature(String),
}

/// The key id of `name`'s `public` key: what names the signer on a signature line.
pub fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([0x01]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

impl CheckpointKey {
    /// The key `name` signs with, from its 32-byte seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> CheckpointKey {
        CheckpointKey {
            name: name.to_string(),
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The public key a verifier pins.
    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The signer's name (the log's origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `head` as a signed checkpoint.
    pub fn sign(&self, head: &TreeHead) -> String {
        note(head, &self.name, &self.signature(head))
    }

    /// The signature line's blob for `head` — key id (4 bytes) ‖ Ed25519 signature (64) — as
    /// the audit log records it, so the checkpoint's text can be rebuilt with [`note`].
    /// Ed25519 signatures are deterministic: signing the same head twice gives the same blob.
    pub fn signature(&self, head: &TreeHead) -> Vec<u8> {
        let signature = self.key.sign(body(head).as_bytes());
        let mut blob = key_id(&self.name, &self.public()).to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        blob
    }
}

/// The checkpoint text of `head` signed by `name` with the signature blob `blob`.
pub fn note(head: &TreeHead, name: &str, blob: &[u8]) -> String {
    format!("{}\n\u{2014} {name} {}\n", body(head), B64.encode(blob))
}

/// `at` to the whole second below it: a checkpoint's time, which its text writes as RFC 3339
/// (`2026-12-06T03:00:00Z`), so the text can be rebuilt exactly from what is recorded.
pub fn whole_second(at: csp_events::Timestamp) -> csp_events::Timestamp {
    let micros = at.as_micros();
    csp_events::Timestamp::from_micros(micros - micros.rem_euclid(1_000_000))
}

fn body(head: &TreeHead) -> String {
    format!(
        "{}\n{}\n{}\ntime {}\n",
        head.origin,
        head.size,
        B64.encode(head.root),
        head.time
    )
}

/// The tree head `text` states, if `name`'s pinned `public` key signed it.
pub fn verify(text: &str, name: &str, public: &VerifyingKey) -> Result<TreeHead, CheckpointError> {
    let (body, signatures) = text.split_once("\n\n").ok_or(CheckpointError::Malformed(
        "no blank line before the signatures",
    ))?;
    let body = format!("{body}\n");
    let mut lines = body.lines();
    let origin = lines
        .next()
        .ok_or(CheckpointError::Malformed("no origin"))?;
    let size = lines
        .next()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or(CheckpointError::Malformed("no tree size"))?;
    let root: Hash = lines
        .next()
        .and_then(|l| B64.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or(CheckpointError::Malformed("no 32-byte root hash"))?;
    let time = lines
        .next()
        .and_then(|l| l.strip_prefix("time "))
        .ok_or(CheckpointError::Malformed("no time line"))?
        .to_string();
    let id = key_id(name, public);
    let id_hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let mut by_key = signatures.lines().filter_map(|l| {
        let rest = l.strip_prefix("\u{2014} ")?;
        let (signer, blob) = rest.split_once(' ')?;
        let blob = B64.decode(blob).ok()?;
        (signer == name && blob.len() == 68 && blob[..4] == id).then_some(blob)
    });
    let blob = by_key
        .next()
        .ok_or_else(|| CheckpointError::Unsigned(id_hex.clone(), name.to_string()))?;
    let signature = ed25519_dalek::Signature::from_slice(&blob[4..])
        .map_err(|_| CheckpointError::BadSignature(id_hex.clone()))?;
    public
        .verify_strict(body.as_bytes(), &signature)
        .map_err(|_| CheckpointError::BadSignature(id_hex))?;
    Ok(TreeHead {
        origin: origin.to_string(),
        size,
        root,
        time,
    })
}
