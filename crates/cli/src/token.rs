//! `csp token`: mints a token from the development issuer (or, with `--internal`, a service
//! token from the internal issuer) for local use, the demo and tests.

use std::path::PathBuf;

use anyhow::Context as _;
use csp_auth::{DevIssuer, InternalIssuer};
use csp_events::{ActorKind, Role, TenantId};

/// Arguments of `csp token`.
#[derive(clap::Args)]
pub struct TokenArgs {
    /// partner, customer, platform or service.
    #[arg(long, default_value = "partner", value_parser = parse_kind)]
    kind: ActorKind,
    /// The actor's tenant id (optional for platform and service tokens).
    #[arg(long)]
    tenant: Option<TenantId>,
    /// The user (the token's `sub`).
    #[arg(long, default_value = "dev@localhost")]
    user: String,
    /// A role (repeatable): admin_agent, sales_agent, global_admin, importer, support,
    /// operator, ...
    #[arg(long = "role", value_parser = parse_role)]
    roles: Vec<Role>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: i64,
    /// The data directory whose issuer keys to use.
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    data: PathBuf,
    /// The development issuer's key file. Default: `<data>/dev-issuer.key`.
    #[arg(long, env = "CSP_DEV_KEY")]
    dev_key: Option<PathBuf>,
    /// Mint a service token from the internal issuer instead (`--internal-key`).
    #[arg(long)]
    internal: bool,
    /// The internal issuer's key file. Default: `<data>/internal-issuer.key`.
    #[arg(long, env = "CSP_INTERNAL_KEY")]
    internal_key: Option<PathBuf>,
}

pub(crate) fn parse_kind(s: &str) -> Result<ActorKind, String> {
    serde_json::from_value(serde_json::Value::from(s))
        .map_err(|_| format!("unknown kind {s:?}: partner, customer, platform or service"))
}

pub(crate) fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::from(s)).map_err(|_| format!("unknown role {s:?}"))
}

/// Runs `csp token`: prints the token on stdout.
pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let now = csp_bus::clock::wall_seconds();
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let token = if args.internal {
        let path = args
            .internal_key
            .unwrap_or_else(|| args.data.join("internal-issuer.key"));
        let issuer = InternalIssuer::load_or_create(&path)
            .with_context(|| format!("internal issuer key {}", path.display()))?;
        issuer.mint_service(&args.user, args.ttl, now)
    } else {
        let path = args
            .dev_key
            .unwrap_or_else(|| args.data.join("dev-issuer.key"));
        let issuer = DevIssuer::load_or_create(&path)
            .with_context(|| format!("development issuer key {}", path.display()))?;
        // The platform and csp's services have no tenant of their own: the nil id.
        let tenant = match (args.tenant, args.kind) {
            (Some(tenant), _) => tenant,
            (None, ActorKind::Platform | ActorKind::Service) => TenantId(uuid::Uuid::nil()),
            (None, _) => anyhow::bail!("--tenant is required: the actor's tenant id"),
        };
        issuer.mint_for(args.kind, tenant, &args.user, &args.roles, args.ttl, now)
    };
    println!("{token}");
    Ok(())
}
