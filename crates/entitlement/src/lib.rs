//! # csp-entitlement: what a customer may download and activate
//!
//! The entitlement service turns ordering's purchases into entitlements (RULES.md K1), hands out
//! MAKs from pools (K2–K4) and download links (K3) to whoever may see them (K5, the tenancy
//! module's rule), records every key shown and link issued (K7), revokes keys when a purchase is
//! cancelled or expires (K8), and plans VL→CSP migrations (K9). It is ordering's image:
//!
//! - [`domain`]: pure functions — entitlements, keys, pools, migration plans, who may see;
//! - [`state`]: [`State`], the one fold (own events and ordering's copies) and the reactions
//!   to ordering's events;
//! - [`secret`]: [`secret::ProductKey`], the only type a plaintext key lives in;
//! - [`keyring`]: envelope encryption — a data key per product key, wrapped by a master key
//!   kept outside the data directory, destroyed on revocation, rotated after.
//!
//! Product keys never appear in plaintext in an event: they travel sealed under their own
//! data keys, which only the service's keyring can open.

#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod domain;
pub mod download;
pub mod files;
pub mod import;
pub mod keyring;
pub mod links;
pub mod secret;
pub mod service;
pub mod state;

pub use state::State;
