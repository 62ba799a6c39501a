//! Entitlement's domain: pure functions and nothing else. No `async`, no I/O, no clock, no
//! randomness; sealed keys are opaque values here (the shell seals and opens them), so the
//! rules can be tested in microseconds and replay trusts them.
//!
//! - [`entitlement`]: one entitlement — granted and ended by ordering's events (K1, K8), its
//!   status, and which selections its product offers (K2);
//! - [`keys`]: generating keys (one MAK per version, K4), showing a key and issuing a link
//!   (K3, K7), KMS refused whoever asks (K4);
//! - [`pool`]: MAK pools per product, SKU and version — filled, drawn from, low-water;
//! - [`migration`]: VL→CSP migration plans (K9);
//! - [`access`]: who may see keys and links (K5), from the tenancy module every service shares.

pub mod access;
pub mod entitlement;
pub mod keys;
pub mod migration;
pub mod pool;
