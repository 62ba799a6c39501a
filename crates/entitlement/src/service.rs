//! The entitlement service on the runtime: its endpoint table, its reactions to ordering's
//! events, and its effect — destroying a revoked key's data key once the revocation is durable
//! (crypto-shredding), redone at start-up for whatever a crash left undone.

use csp_bus::{Emit, Endpoints, Origin, Service, Upstream};
use csp_events::{Envelope, Event};
use serde_json::Value;

use crate::api;
use crate::config::Config;
use crate::state::{react, Batch, State};

/// The service name: `csp.cmd.entitlement.*`, `csp.qry.entitlement.*`, `csp.evt.entitlement.>`.
pub const SERVICE: &str = csp_events::entitlement::SERVICE;

/// The entitlement service, as the runtime runs it.
pub struct EntitlementService;

impl Service for EntitlementService {
    const NAME: &'static str = SERVICE;
    const DESCRIPTION: &'static str =
        "csp entitlement: software entitlements, product keys, download links, revocation, VL to CSP migration";

    type Config = Config;
    type State = State;
    type Scratch<'a> = Batch<'a>;

    fn scratch(state: &State) -> Batch<'_> {
        Batch::new(state)
    }

    fn apply(state: &mut State, event: &Envelope, _origin: Origin<'_>) {
        state.apply(event);
    }

    fn endpoints() -> Endpoints<Self> {
        Endpoints::new()
            .command(api::generate_keys)
            .command(api::import_devices)
            .command(api::record_mak_deployment)
            .prepared_command(crate::import::prepare, crate::import::import_keys)
            .recorded_read(api::get_key, api::reveal_key)
            .recorded_read(api::get_download_link, api::reveal_link)
            .recorded_read(api::copy_link, api::reveal_link)
            .query(api::get_software)
            .query(api::get_key_pools)
            .query(api::get_migration_plan)
            .query(api::get_import_key)
    }

    fn summary(state: &State) -> Value {
        state.summary()
    }

    fn consumes() -> &'static [&'static str] {
        &[csp_events::ordering::SERVICE]
    }

    fn react(batch: &Batch<'_>, config: &Config, upstream: &Upstream<'_>) -> Vec<Emit> {
        react(batch, &config.catalog, &upstream.event.payload)
    }

    /// K8: once an entitlement's end is durable and folded, its data keys are destroyed; the
    /// master key rotates when the policy says (see [`crate::config::RotationPolicy`]).
    fn effect(config: &Config, _state: &State, event: &Envelope) -> Result<(), String> {
        if let Event::EntitlementEnded(end) = &event.payload {
            csp_bus::crash::point("entitlement_after_revoke");
            let destroyed = config
                .keyring
                .destroy(&end.data_keys)
                .map_err(|e| e.to_string())?;
            if destroyed > 0 && config.rotation.revoked() {
                config.rotate_if_due(true).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Destroys every data key no live key needs: those of ended entitlements whose
    /// destruction a crash interrupted, and those sealed for an import never recorded.
    fn recover(config: &Config, state: &State) -> Result<(), String> {
        let live: std::collections::BTreeSet<_> =
            state.pools.sealed.values().map(|s| s.data_key).collect();
        let removed = config
            .keyring
            .remove_orphans(|dk| live.contains(&dk))
            .map_err(|e| e.to_string())?;
        if removed > 0 {
            tracing::info!(removed, "destroyed data keys no live key needs");
        }
        Ok(())
    }
}
