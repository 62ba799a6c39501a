//! Keys and downloads for one entitlement (K2–K7), judged purely: which selection is valid,
//! which MAK an entitlement gets for a version, what each view records. Who may ask is the
//! tenancy module's (K5), checked before anything here; opening a sealed key and signing a link
//! are the shell's, after what this returns is durable.

pub use csp_events::entitlement::KeyType;
use csp_events::entitlement::{
    DownloadLinkIssued, KeyShown, KeysGenerated, LinkUse, PoolRef, SealedKey, Selection,
};
use csp_events::kernel::Rejection;
use csp_events::{ErrorCode, Event, Timestamp};

use super::entitlement::{check_selection, Ent};
use super::pool::Pools;

/// K4: a request for a KMS key is `kms_not_allowed`, whoever asks and however often — checked
/// before anything is looked up, so it tells nobody anything.
pub fn refuse_kms(key_type: KeyType) -> Result<(), Rejection> {
    match key_type {
        KeyType::Mak => Ok(()),
        KeyType::Kms => Err(Rejection::new(
            ErrorCode::KmsNotAllowed,
            "CSP purchases are activated with a multiple activation key (MAK); KMS keys are not available, even on request",
        )),
    }
}

/// What `generate_keys` decided: the key of the selected version (newly assigned or the one
/// it already had), and the events to record (none when it already had one: asking again never
/// drains a pool).
#[derive(Debug, Clone)]
pub struct Generated {
    /// The MAK of the version, sealed.
    pub key: csp_events::KeyId,
    /// The events to record.
    pub events: Vec<Event>,
}

/// `generate_keys` (K2, K4): a complete, offered selection; the first time a version is asked
/// for, the oldest MAK of its pool goes to the entitlement (`key_pool_empty` if none is left,
/// recording nothing); later the same key, recording nothing.
pub fn generate(
    ent: &Ent,
    pools: &Pools,
    selection: &Selection,
    low_water: u32,
) -> Result<Generated, Rejection> {
    ent.active()?;
    let g = &ent.granted;
    check_selection(&g.product_name, &g.downloads, selection, true)?;
    if let Some((key, _)) = ent.keys.get(&selection.version) {
        return Ok(Generated {
            key: *key,
            events: Vec::new(),
        });
    }
    let pool = PoolRef {
        product: g.product.clone(),
        sku: g.sku.clone(),
        version: selection.version.clone(),
    };
    let (sealed, mut assigned) = pools.take(&pool, g.entitlement, low_water)?;
    let mut events = vec![KeysGenerated {
        entitlement: g.entitlement,
        customer: g.customer,
        partner: g.partner,
        selection: selection.clone(),
        key: sealed.key,
        data_key: sealed.data_key,
        pool,
    }
    .into()];
    events.append(&mut assigned);
    Ok(Generated {
        key: sealed.key,
        events,
    })
}

/// `get_key` (K3, K7): the sealed MAK of `version` for the shell to open once `key_shown` is
/// durable. A version with no key yet is `invalid_state` (generate keys first).
pub fn show_key(
    ent: &Ent,
    pools: &Pools,
    version: &str,
) -> Result<(SealedKey, Vec<Event>), Rejection> {
    ent.active()?;
    let g = &ent.granted;
    let selection = Selection {
        version: version.to_string(),
        language: None,
        file_type: None,
    };
    check_selection(&g.product_name, &g.downloads, &selection, false)?;
    let Some((key, _)) = ent.keys.get(version) else {
        return Err(Rejection::new(
            ErrorCode::InvalidState,
            format!(
                "no key of {version} was generated for {} yet: call generate_keys first",
                g.product_name
            ),
        )
        .with("version", version));
    };
    let sealed = pools.sealed.get(key).cloned().ok_or_else(|| {
        // An active entitlement's key is always held; if not, the log is damaged.
        Rejection::new(
            ErrorCode::Internal,
            "the key assigned to this entitlement is not held; run csp replay entitlement to check the log",
        )
    })?;
    let event = KeyShown {
        entitlement: g.entitlement,
        customer: g.customer,
        partner: g.partner,
        product: g.product.clone(),
        product_name: g.product_name.clone(),
        version: version.to_string(),
        key: *key,
    };
    Ok((sealed, vec![event.into()]))
}

/// `get_download_link` and `copy_link` (K3, K7): a complete, offered selection of an active
/// entitlement; the event records the link's use and expiry, never the link.
pub fn issue_link(
    ent: &Ent,
    selection: &Selection,
    used_for: LinkUse,
    expires_at: Timestamp,
) -> Result<Vec<Event>, Rejection> {
    ent.active()?;
    let g = &ent.granted;
    check_selection(&g.product_name, &g.downloads, selection, true)?;
    Ok(vec![DownloadLinkIssued {
        entitlement: g.entitlement,
        customer: g.customer,
        partner: g.partner,
        product: g.product.clone(),
        product_name: g.product_name.clone(),
        selection: selection.clone(),
        used_for,
        expires_at,
    }
    .into()])
}
