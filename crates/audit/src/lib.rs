//! The audit service (issue "Audit"; RULES.md A1–A5): every event of every service, kept as
//! its producer published it, exactly once, as a leaf of an RFC 6962 (Certificate
//! Transparency) Merkle tree log; signed checkpoints; inclusion and consistency proofs;
//! verification that names where a log breaks; the activity log of key views, downloads and
//! link copies.
//!
//! - [`merkle`]: the tree — hashing, tree heads at any size, proofs and their verification —
//!   pure, checked against RFC 6962's published test vectors.
//! - [`checkpoint`]: tree heads signed with Ed25519 in the transparency-log checkpoint text
//!   format, verified against a pinned public key; `verify.py` checks them without csp's code.
//! - [`state`]: the one fold: leaves in log order, checkpoints, the activity log.
//! - [`heads`]: signing (periodic due transitions, and on request).
//! - [`verify`]: the tree recomputed from the leaves, held against what was recorded.
//! - [`api`]: the command and queries; [`service`]: the endpoint table on the runtime.
//!
//! Why a tree and not a hash chain: a chain catches tampering only for someone who re-reads
//! everything; a tree also proves one record without the rest, and proves that today's log
//! extends yesterday's.

pub mod api;
pub mod checkpoint;
pub mod config;
pub mod heads;
pub mod merkle;
pub mod service;
pub mod state;
pub mod verify;
