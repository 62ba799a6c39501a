//! One entitlement: what a customer may download and activate for one purchased item (K1), the
//! MAK each version was given (K4), and whether it still works (K8). Granted and ended by
//! ordering's events; keys, downloads and links judged here, purely — the shell seals, opens
//! and signs.

use std::collections::BTreeMap;

use csp_events::entitlement::{
    DownloadOptions, EndReason, EntitlementEnded, EntitlementGranted, EntitlementStatus, Selection,
};
use csp_events::kernel::Rejection;
use csp_events::{DataKeyId, ErrorCode, Event, KeyId, Timestamp};

/// An entitlement as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ent {
    /// What was granted (item, customer, selling partner, product, options).
    pub granted: EntitlementGranted,
    /// The MAK of each version generated so far, with its data key.
    pub keys: BTreeMap<String, (KeyId, DataKeyId)>,
    /// How and when it ended, if it did.
    pub ended: Option<(EndReason, Timestamp)>,
}

impl Ent {
    /// Active, revoked or expired.
    pub fn status(&self) -> EntitlementStatus {
        match self.ended {
            None => EntitlementStatus::Active,
            Some((EndReason::Cancelled, _)) => EntitlementStatus::Revoked,
            Some((EndReason::Expired, _)) => EntitlementStatus::Expired,
        }
    }

    /// Refuses anything but an active entitlement: a revoked or expired one shows no key and
    /// issues no link (K8), whoever asks.
    pub fn active(&self) -> Result<(), Rejection> {
        match self.ended {
            None => Ok(()),
            Some((EndReason::Cancelled, at)) => Err(Rejection::new(
                ErrorCode::EntitlementRevoked,
                format!(
                    "{} was revoked at {at}: its purchase was cancelled, so its keys and links no longer work",
                    self.granted.product_name
                ),
            )
            .with("entitlement", self.granted.entitlement.to_string())),
            Some((EndReason::Expired, at)) => Err(Rejection::new(
                ErrorCode::EntitlementExpired,
                format!(
                    "{} expired at {at}: its keys and links no longer work",
                    self.granted.product_name
                ),
            )
            .with("entitlement", self.granted.entitlement.to_string())),
        }
    }

    /// Whether a key is available to show: active, not license-only, and generated for some
    /// version.
    pub fn key_available(&self) -> bool {
        self.ended.is_none() && !self.keys.is_empty()
    }
}

/// The entitlement's state: `None` until granted.
pub type EntState = Option<Ent>;

/// Folds one entitlement event. Events of other aggregates are ignored.
pub fn evolve(state: &mut EntState, event: &Event) {
    match event {
        Event::EntitlementGranted(g) if state.is_none() => {
            *state = Some(Ent {
                granted: g.clone(),
                keys: BTreeMap::new(),
                ended: None,
            });
        }
        Event::KeysGenerated(k) => {
            if let Some(e) = state {
                e.keys
                    .entry(k.selection.version.clone())
                    .or_insert((k.key, k.data_key));
            }
        }
        Event::EntitlementEnded(end) => {
            if let Some(e) = state {
                if e.ended.is_none() {
                    e.ended = Some((end.reason, end.ended_at));
                }
            }
        }
        _ => {}
    }
}

/// Ends an entitlement (K8: a cancellation revokes; an expiry ends it the same way): the keys
/// it holds and their data keys, to shred. Ending twice records nothing; ending what was never
/// granted records nothing either (an item bought before entitlement existed has no keys).
pub fn end(state: &EntState, reason: EndReason, at: Timestamp) -> Vec<Event> {
    let Some(e) = state else {
        return Vec::new();
    };
    if e.ended.is_some() {
        return Vec::new();
    }
    let g = &e.granted;
    vec![EntitlementEnded {
        entitlement: g.entitlement,
        customer: g.customer,
        partner: g.partner,
        reason,
        ended_at: at,
        keys: e.keys.values().map(|(k, _)| *k).collect(),
        data_keys: e.keys.values().map(|(_, d)| *d).collect(),
    }
    .into()]
}

/// Which selection is complete and offered for `options` (K2): the version always; a language
/// and a file type exactly where the product offers a choice (a hidden selector takes none).
/// `need_file` is false for keys, which depend on the version only: a language or file type
/// may then be left out, but one that is given must still be offered.
pub fn check_selection(
    product_name: &str,
    options: &DownloadOptions,
    selection: &Selection,
    need_file: bool,
) -> Result<(), Rejection> {
    if options.is_empty() {
        return Err(Rejection::new(
            ErrorCode::InvalidOption,
            format!("{product_name} is sold as a license only: it has no keys and no downloads"),
        ));
    }
    check_one(
        product_name,
        "version",
        &options.versions,
        Some(&selection.version),
        true,
    )?;
    check_one(
        product_name,
        "language",
        &options.languages,
        selection.language.as_ref(),
        need_file,
    )?;
    check_one(
        product_name,
        "file_type",
        &options.file_types,
        selection.file_type.as_ref(),
        need_file,
    )
}

fn check_one(
    product_name: &str,
    kind: &str,
    offered: &[String],
    chosen: Option<&String>,
    required: bool,
) -> Result<(), Rejection> {
    let refuse = |message: String| {
        Err(Rejection::new(ErrorCode::InvalidOption, message)
            .with("option", kind)
            .with("offered", offered.to_vec()))
    };
    match chosen {
        None if offered.is_empty() || !required => Ok(()),
        None => refuse(format!(
            "choose a {kind} for {product_name}: one of {}",
            offered.join(", ")
        )),
        Some(_) if offered.is_empty() => refuse(format!(
            "{product_name} offers no choice of {kind}: leave it out"
        )),
        Some(c) if !offered.contains(c) => refuse(format!(
            "{product_name} does not offer {kind} {c:?}: choose one of {}",
            offered.join(", ")
        )),
        Some(_) => Ok(()),
    }
}
