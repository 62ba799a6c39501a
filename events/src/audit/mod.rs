//! The audit service's part of the contract: its one event (a signed checkpoint, stored with
//! postcard; audit keeps every other service's events as they were published), its JSON
//! commands and queries (`csp.cmd.audit.…`, `csp.qry.audit.…`) and their replies.
//!
//! Hashes travel as base64 (standard alphabet), as Certificate Transparency's API and the
//! checkpoint text carry them, so a proof reads the same in a reply and in a checkpoint.

pub mod commands;
pub mod events;
pub mod queries;
pub mod replies;

pub use commands::*;
pub use events::*;
pub use queries::*;
pub use replies::*;

/// The service name: the second token of every audit subject.
pub const SERVICE: &str = "audit";

/// Where each checkpoint is published as it is signed (its signed-note text), for partners and
/// auditors who keep checkpoints outside csp.
pub const CHECKPOINT_SUBJECT: &str = "csp.audit.checkpoint";
