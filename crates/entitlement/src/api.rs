//! The JSON edge: each command, query and recorded read of the contract
//! (`csp_events::entitlement`) answered from [`State`] by the pure domain, in the runtime's
//! handler shapes. Who may ask is checked first, the tenancy module's way (K5): KMS requests are
//! refused before anything is looked up (K4); an actor who may not know the customer or the
//! entitlement exists gets `not_found`, recorded; the right customer with the wrong role
//! `forbidden`, recorded.
//!
//! The shell parts live beside their pure halves: a recorded read's `reveal` (open a sealed
//! key, sign a link) runs only after the read's event is durable.

use csp_events::api::CustomerRef;
use csp_events::entitlement::{
    self as contract, DeviceView, DevicesAccepted, KeyPools, KeysAndDownloads, Link, LinkUse,
    MigrationPlan, OptionsView, PoolView, SealedKey, Selection, ShownKey, SoftwareItem,
    SoftwarePage,
};
use csp_events::kernel::{Context, Decided, Emit, Handled, Rejection};
use csp_events::{
    ActorKind, EntitlementId, ErrorCode, Event, ImportId, ItemRef, TenantId, Timestamp,
};

use crate::config::Config;
use crate::domain::access::{check, forbidden, Scope, KEY_VIEWERS, POOL_READERS, PURCHASE_READERS};
use crate::domain::entitlement::Ent;
use crate::domain::keys;
use crate::domain::migration::{self, Device};
use crate::keyring::KeyringError;
use crate::links::{self, LinkClaims};
use crate::state::State;

fn emits(events: Vec<Event>) -> Vec<Emit> {
    events.into_iter().map(|e| Emit::routed(e, None)).collect()
}

/// The customer `named`, as `rule` lets the actor see it.
fn scope(
    state: &State,
    ctx: &Context,
    named: &CustomerRef,
    rule: &crate::domain::access::Rule,
    action: &str,
) -> Result<Scope, Rejection> {
    let target = state.customers.named(&ctx.actor, named);
    check(&ctx.actor, &target, rule, action)
}

/// The entitlement `id` of the customer `named`, if the actor may see its keys (K5):
/// another partner's sale or another customer's item is `not_found`, as a missing one is.
fn visible<'s>(
    state: &'s State,
    ctx: &Context,
    named: &CustomerRef,
    id: EntitlementId,
    action: &str,
) -> Result<&'s Ent, Rejection> {
    // A refusal names the entitlement refused, so the activity log lists it (RULES.md A4).
    let scope = scope(state, ctx, named, &KEY_VIEWERS, action).map_err(|mut r| {
        if let Some(refused) = r.refused.as_mut() {
            refused
                .item
                .get_or_insert_with(|| ItemRef::new("entitlement", id));
        }
        r
    })?;
    let missing = || {
        Rejection::new(
            ErrorCode::NotFound,
            format!("customer {named} has no entitlement {id}; get_software lists its items"),
        )
        .with("entitlement", id.to_string())
    };
    scope.find(
        state.entitlements.get(&id),
        |e| (e.granted.customer, e.granted.partner),
        ItemRef::new("entitlement", id),
        missing,
    )
}

fn selection(version: &str, language: &Option<String>, file_type: &Option<String>) -> Selection {
    Selection {
        version: version.to_string(),
        language: language.clone(),
        file_type: file_type.clone(),
    }
}

/// `generate_keys` (K2, K4): the first time for a version assigns its MAK from the pool;
/// later, the same key, recording nothing.
pub fn generate_keys(
    state: &State,
    config: &Config,
    c: &contract::GenerateKeys,
    ctx: &Context,
) -> Handled<KeysAndDownloads> {
    keys::refuse_kms(c.key_type)?;
    let ent = visible(
        state,
        ctx,
        &c.customer,
        c.entitlement,
        "generate keys and downloads",
    )?;
    let sel = selection(&c.version, &c.language, &c.file_type);
    let generated = keys::generate(ent, &state.pools, &sel, config.low_water)?;
    let g = &ent.granted;
    Ok(Decided {
        events: emits(generated.events),
        reply: KeysAndDownloads {
            entitlement: g.entitlement,
            product: g.product.clone(),
            product_name: g.product_name.clone(),
            options: OptionsView::from(&g.downloads),
            selection: sel,
            key_available: true,
            instructions: g.instructions.clone(),
        },
    })
}

/// What `get_key` reveals once `key_shown` is durable.
pub struct KeyHandle {
    entitlement: EntitlementId,
    product: csp_events::market::ProductId,
    version: String,
    sealed: SealedKey,
}

/// `get_key`, decided (K3, K5, K7): `key_shown` to record, and the sealed key.
pub fn get_key(
    state: &State,
    _config: &Config,
    q: &contract::GetKey,
    ctx: &Context,
) -> Handled<KeyHandle> {
    keys::refuse_kms(q.key_type)?;
    let ent = visible(state, ctx, &q.customer, q.entitlement, "see product keys")?;
    let (sealed, events) = keys::show_key(ent, &state.pools, &q.version)?;
    Ok(Decided {
        events: emits(events),
        reply: KeyHandle {
            entitlement: q.entitlement,
            product: ent.granted.product.clone(),
            version: q.version.clone(),
            sealed,
        },
    })
}

/// `get_key`, revealed: the key opened from the keyring, only now that its view is recorded.
/// A data key destroyed meanwhile (a revocation that won the race) shows nothing.
pub fn reveal_key(config: &Config, h: KeyHandle) -> Result<ShownKey, Rejection> {
    let key = config.keyring.unseal(&h.sealed).map_err(|e| match e {
        KeyringError::Shredded(_) => Rejection::new(
            ErrorCode::EntitlementRevoked,
            "this key was revoked: it is never shown again",
        ),
        other => Rejection::new(
            ErrorCode::Internal,
            format!("the key cannot be opened: {other}"),
        ),
    })?;
    Ok(ShownKey {
        entitlement: h.entitlement,
        product: h.product,
        version: h.version,
        key: key.expose().to_string(),
    })
}

fn link(
    state: &State,
    config: &Config,
    ctx: &Context,
    customer: &CustomerRef,
    entitlement: EntitlementId,
    sel: Selection,
    used_for: LinkUse,
) -> Handled<LinkClaims> {
    let ent = visible(state, ctx, customer, entitlement, "get download links")?;
    let expires_at = Timestamp::from_micros(
        ctx.now
            .as_micros()
            .saturating_add(config.link_ttl_secs.saturating_mul(1_000_000)),
    );
    let events = keys::issue_link(ent, &sel, used_for, expires_at)?;
    Ok(Decided {
        events: emits(events),
        reply: LinkClaims {
            entitlement,
            selection: sel,
            expires_at,
        },
    })
}

/// `get_download_link`, decided (K3, K7).
pub fn get_download_link(
    state: &State,
    config: &Config,
    q: &contract::GetDownloadLink,
    ctx: &Context,
) -> Handled<LinkClaims> {
    let sel = selection(&q.version, &q.language, &q.file_type);
    link(
        state,
        config,
        ctx,
        &q.customer,
        q.entitlement,
        sel,
        LinkUse::Download,
    )
}

/// `copy_link`, decided (K3, K7).
pub fn copy_link(
    state: &State,
    config: &Config,
    q: &contract::CopyLink,
    ctx: &Context,
) -> Handled<LinkClaims> {
    let sel = selection(&q.version, &q.language, &q.file_type);
    link(
        state,
        config,
        ctx,
        &q.customer,
        q.entitlement,
        sel,
        LinkUse::Copy,
    )
}

/// A link, revealed: signed now that its issue is recorded.
pub fn reveal_link(config: &Config, claims: LinkClaims) -> Result<Link, Rejection> {
    let token = links::sign(&config.keyring, &claims).map_err(|e| {
        Rejection::new(
            ErrorCode::Internal,
            format!("the link cannot be signed: {e}"),
        )
    })?;
    let base = config.link_base.get().ok_or_else(|| {
        Rejection::new(
            ErrorCode::Unavailable,
            "the download server is not serving yet; ask again",
        )
    })?;
    Ok(Link {
        entitlement: claims.entitlement,
        url: format!("{}/dl/{token}", base.trim_end_matches('/')),
        expires_at: claims.expires_at,
    })
}

/// `get_software`: every item of the customer the actor may see (a partner what it sold, the
/// customer everything), revoked and expired ones included, oldest first.
pub fn get_software(
    state: &State,
    _config: &Config,
    q: &contract::GetSoftware,
    ctx: &Context,
) -> Result<SoftwarePage, Rejection> {
    let scope = scope(
        state,
        ctx,
        &q.customer,
        &PURCHASE_READERS,
        "see the Software page",
    )?;
    let customer = scope.customer();
    let items: Vec<SoftwareItem> = state
        .by_customer
        .get(&customer)
        .into_iter()
        .flatten()
        .filter_map(|id| state.entitlements.get(id))
        .filter(|e| scope.sees(e.granted.partner))
        .map(software_item)
        .collect();
    let (items, next) = csp_tenancy::page(
        items.iter().collect(),
        |i| i.entitlement.to_string(),
        q.after.as_deref(),
        q.limit,
    )?;
    Ok(SoftwarePage {
        customer,
        items,
        next,
    })
}

fn software_item(e: &Ent) -> SoftwareItem {
    let g = &e.granted;
    SoftwareItem {
        entitlement: g.entitlement,
        item: g.item,
        order: g.order,
        partner: g.partner,
        product: g.product.clone(),
        sku: g.sku.clone(),
        product_name: g.product_name.clone(),
        quantity: g.quantity,
        status: e.status(),
        license_only: g.license_only,
        options: OptionsView::from(&g.downloads),
        instructions: g.instructions.clone(),
        key_available: e.key_available(),
        granted_at: g.granted_at,
        ended_at: e.ended.map(|(_, at)| at),
    }
}

/// `get_key_pools`: the platform's importer and operator only.
pub fn get_key_pools(
    state: &State,
    _config: &Config,
    _q: &contract::GetKeyPools,
    ctx: &Context,
) -> Result<KeyPools, Rejection> {
    let a = &ctx.actor;
    if a.kind != ActorKind::Platform || !POOL_READERS.iter().any(|r| a.has(*r)) {
        return Err(forbidden(
            "only the platform's importer or operator may see the key pools",
            None,
            None,
        ));
    }
    Ok(KeyPools {
        pools: state
            .pools
            .pools
            .iter()
            .map(|(pool, p)| PoolView {
                pool: pool.clone(),
                remaining: u32::try_from(p.available.len()).unwrap_or(u32::MAX),
                imported: p.imported,
            })
            .collect(),
    })
}

fn device_view(name: &str, d: &Device, now: Timestamp) -> DeviceView {
    DeviceView {
        device: name.to_string(),
        last_kms_activation: d.last_kms_activation,
        deadline: d.deadline(),
        state: d.state(now),
        mak_deployed_at: d.mak_deployed_at,
    }
}

/// `get_migration_plan` (K9): each device's deadline and state at the time asked.
pub fn get_migration_plan(
    state: &State,
    _config: &Config,
    q: &contract::GetMigrationPlan,
    ctx: &Context,
) -> Result<MigrationPlan, Rejection> {
    let scope = scope(
        state,
        ctx,
        &q.customer,
        &KEY_VIEWERS,
        "see the migration plan",
    )?;
    let customer = scope.customer();
    let devices = state
        .plans
        .get(&customer)
        .map(|p| {
            p.devices
                .iter()
                .map(|(name, d)| device_view(name, d, ctx.now))
                .collect()
        })
        .unwrap_or_default();
    Ok(MigrationPlan {
        customer,
        as_of: ctx.now,
        devices,
    })
}

/// `import_devices` (K9): the CSV parsed whole; a bad line refuses the file, naming it.
pub fn import_devices(
    state: &State,
    _config: &Config,
    c: &contract::ImportDevices,
    ctx: &Context,
) -> Handled<DevicesAccepted> {
    let scope = scope(
        state,
        ctx,
        &c.customer,
        &KEY_VIEWERS,
        "plan a VL to CSP migration",
    )?;
    let devices = crate::files::devices(&c.csv)?;
    let count = u32::try_from(devices.len()).unwrap_or(u32::MAX);
    let import = ImportId(ctx.new_id("device-import", 0));
    let events = migration::import(scope.customer(), import, devices, ctx.now)?;
    Ok(Decided {
        events: emits(events),
        reply: DevicesAccepted {
            import,
            devices: count,
        },
    })
}

/// `record_mak_deployment` (K9).
pub fn record_mak_deployment(
    state: &State,
    _config: &Config,
    c: &contract::RecordMakDeployment,
    ctx: &Context,
) -> Handled<DeviceView> {
    let scope = scope(
        state,
        ctx,
        &c.customer,
        &KEY_VIEWERS,
        "record a MAK deployment",
    )?;
    let customer: TenantId = scope.customer();
    let empty = migration::Plan::default();
    let plan = state.plans.get(&customer).unwrap_or(&empty);
    let events = migration::deploy(plan, customer, &c.device, ctx.now)?;
    let mut after = plan.clone();
    for e in &events {
        after.evolve(e);
    }
    let view = after
        .devices
        .get(&c.device)
        .map(|d| device_view(&c.device, d, ctx.now))
        .ok_or_else(|| Rejection::new(ErrorCode::Internal, "the device vanished from its plan"))?;
    Ok(Decided {
        events: emits(events),
        reply: view,
    })
}

/// `get_import_key`: where `csp keys import` seals key files to (the platform's importer).
pub fn get_import_key(
    _state: &State,
    config: &Config,
    _q: &contract::GetImportKey,
    ctx: &Context,
) -> Result<contract::ImportKey, Rejection> {
    crate::domain::access::platform(
        &ctx.actor,
        csp_events::Role::Importer,
        "import product keys",
        None,
    )?;
    let key = config
        .keyring
        .import_public_key()
        .map_err(|e| Rejection::new(ErrorCode::Internal, format!("the keyring failed: {e}")))?;
    use base64::Engine as _;
    Ok(contract::ImportKey {
        public_key: base64::engine::general_purpose::STANDARD.encode(key),
        algorithm: "crypto_box sealed box (X25519, XSalsa20-Poly1305)".into(),
    })
}
