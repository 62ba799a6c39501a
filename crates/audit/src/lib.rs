//! The audit service, built up in steps (issue "Audit"). What exists so far:
//!
//! - [`merkle`]: the RFC 6962 (Certificate Transparency) Merkle tree the audit log keeps its
//!   leaves in — hashing, tree heads at any size, inclusion and consistency proofs, and their
//!   verification — pure, checked against RFC 6962's published test vectors.
//! - [`checkpoint`]: tree heads signed with Ed25519 as transparency-log checkpoints (the
//!   signed-note text format), and their verification against a pinned public key; and
//!   `verify.py`, a verifier that shares no code with csp (Python's `hashlib` and
//!   `cryptography`), for auditors.
//!
//! Why a tree and not a hash chain: a chain catches tampering only for someone who re-reads
//! everything; a tree also proves one record without the rest, and proves that today's log
//! extends yesterday's.

pub mod checkpoint;
pub mod merkle;
