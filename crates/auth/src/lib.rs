//! # csp-auth: verified actors from signed tokens
//!
//! Every csp command and query carries a JWT in the NATS `Authorization` header as
//! `Bearer <jwt>`. The runtime hands that header to [`Verifier::verify`] and gets a verified
//! [`csp_events::Actor`] back, or an [`AuthError`] (API code `unauthenticated`). The actor never
//! comes from a request body.
//!
//! - Tokens are signed with **EdDSA (Ed25519) only**. Every other `alg` is refused before any key
//!   is touched (`none`, and the HMAC family, where a public key would become a shared secret).
//! - Trusted issuers and their public keys are configuration ([`AuthConfig`]); each issuer has a
//!   [`IssuerKind`] that bounds what it may mint, whatever it signs:
//!   - `partner`: `partner` tokens for its own `tenant` only, with partner roles (`admin_agent`,
//!     `sales_agent`, `helpdesk_agent`, `global_admin`, `account_admin`, `referral_admin`,
//!     `marketing_content_admin`, `billing_admin`); never a customer's token (a customer's
//!     `global_admin` sees every item of its tenant, whichever partner sold it);
//!   - `customer`: a customer tenant's own identity provider: `customer` tokens for its own
//!     `tenant` only, with `global_admin`;
//!   - `platform`: `platform` tokens with `importer`, `support` and/or `operator`;
//!   - `internal`: `service` tokens with role `service` (see [`InternalIssuer`]);
//!   - `development`: anything; it exists for the embedded default, the demo and tests
//!     ([`DevIssuer`]) and must never be in a production configuration.
//! - One credential per request: two `Authorization` headers (whatever their case) are refused.
//! - Times are checked against the `now` the caller passes: the wall clock, not the business
//!   clock, with [`CLOCK_LEEWAY_SECS`] of tolerance for clock skew.
//! - Nothing here logs, and no error carries the token.
//!
//! ## Configuration file
//!
//! JSON (read with [`AuthConfig::load`]); unknown fields are refused. `public_keys` are standard
//! base64 of raw 32-byte Ed25519 public keys; list several to rotate keys. `tenant` is required
//! for partner and customer issuers and refused for the others.
//!
//! ```json
//! {
//!   "issuers": [
//!     {
//!       "iss": "https://idp.contoso.example",
//!       "kind": "partner",
//!       "tenant": "6f1c2a9e-3c1b-4b8e-9d7a-1e2f3a4b5c6d",
//!       "public_keys": [
//!         "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
//!         "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw="
//!       ]
//!     },
//!     {
//!       "iss": "https://ops.csp.example",
//!       "kind": "platform",
//!       "public_keys": ["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="]
//!     },
//!     {
//!       "iss": "csp-internal",
//!       "kind": "internal",
//!       "public_keys": ["PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw="]
//!     }
//!   ]
//! }
//! ```
//!
//! ## Example
//!
//! ```
//! use csp_auth::{AuthConfig, DevIssuer, Verifier};
//! use csp_events::{ActorKind, Role, TenantId};
//!
//! let dev = DevIssuer::from_seed([7; 32]);
//! let verifier = Verifier::new(AuthConfig { issuers: vec![dev.issuer_config()] })?;
//! let now = 1_700_000_000;
//! let tenant = TenantId(uuid::Uuid::from_u128(1));
//! let token = dev.mint_for(ActorKind::Partner, tenant, "alice", &[Role::AdminAgent], 300, now);
//! let verified = verifier
//!     .verify(Some(format!("Bearer {token}").as_str()), now)
//!     .map_err(|e| e.message())?;
//! assert_eq!(verified.actor.user, "alice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: `config` (the file format and its checks), `verifier` (the checks in order),
//! `policy` (what each issuer kind may mint), `issuer` (keys csp holds itself), `provider` (the
//! Ed25519-only cryptography `jsonwebtoken` runs), `error`.

#![warn(missing_docs)]

mod config;
mod error;
mod issuer;
mod policy;
mod provider;
mod verifier;

pub use config::{AuthConfig, ConfigError, IssuerConfig, IssuerKind};
pub use error::AuthError;
pub use issuer::{
    load_or_create_seed, read_seed, DevIssuer, InternalIssuer, DEV_ISSUER, INTERNAL_ISSUER,
};
pub use verifier::{Verified, Verifier, CLOCK_LEEWAY_SECS, MAX_TOKEN_LEN};
