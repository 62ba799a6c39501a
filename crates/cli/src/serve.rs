//! `csp serve <service>`: one service, one process, on NATS.
//!
//! The data directory holds the service's log (`<data>/log`) and, unless an issuer file is
//! given, the development issuer's key; the internal issuer's key (service-to-service tokens)
//! is shared by every service of an installation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use csp_auth::{AuthConfig, DevIssuer, InternalIssuer, Verifier};
use csp_bus::runtime::{self, RuntimeConfig};
use csp_bus::{Bus, Clock, Service};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::Timestamp;
use tracing::{info, warn};

/// Arguments of `csp serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The service to run: `counter` (the runtime's test service; `counter-b` is a second
    /// instance) or `counter-observer` (its test consumer, of both).
    service: String,
    /// NATS server URL.
    #[arg(long, env = "CSP_NATS_URL")]
    nats: String,
    /// Data directory (the service's log lives in `<data>/log`).
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    data: PathBuf,
    /// Trusted token issuers (JSON, see `csp-auth`). Without it, the development issuer
    /// (`--dev-key`) is trusted: fine locally, never in production.
    #[arg(long, env = "CSP_ISSUERS")]
    issuers: Option<PathBuf>,
    /// The development issuer's key file (created if missing). Default: `<data>/dev-issuer.key`.
    #[arg(long, env = "CSP_DEV_KEY")]
    dev_key: Option<PathBuf>,
    /// The internal issuer's key file, shared by all services of an installation (created if
    /// missing). Default: `<data>/internal-issuer.key`.
    #[arg(long, env = "CSP_INTERNAL_KEY")]
    internal_key: Option<PathBuf>,
    /// Run on a manual clock starting at this RFC 3339 time, moved only through
    /// `csp.admin.<service>.clock`. For tests and demos; off by default.
    #[arg(long)]
    manual_clock: Option<Timestamp>,
    /// Largest request body accepted, in bytes (must stay below the server's max_payload).
    #[arg(long, default_value_t = 256 * 1024)]
    max_body: usize,
    /// sled cache size in MiB.
    #[arg(long, default_value_t = 64)]
    cache_mib: u64,
}

/// The issuers a process trusts: the file's, or the development issuer; always the internal one.
pub fn verifier(
    data: &Path,
    issuers: Option<&Path>,
    dev_key: Option<&Path>,
    internal_key: Option<&Path>,
) -> anyhow::Result<(Verifier, InternalIssuer)> {
    let internal_path =
        internal_key.map_or_else(|| data.join("internal-issuer.key"), Path::to_path_buf);
    let internal = InternalIssuer::load_or_create(&internal_path)
        .with_context(|| format!("internal issuer key {}", internal_path.display()))?;
    let mut config = match issuers {
        Some(path) => {
            AuthConfig::load(path).with_context(|| format!("issuers file {}", path.display()))?
        }
        None => {
            let dev_path = dev_key.map_or_else(|| data.join("dev-issuer.key"), Path::to_path_buf);
            let dev = DevIssuer::load_or_create(&dev_path)
                .with_context(|| format!("development issuer key {}", dev_path.display()))?;
            warn!(key = %dev_path.display(), "trusting the development issuer: not for production (give --issuers)");
            AuthConfig {
                issuers: vec![dev.issuer_config()],
            }
        }
    };
    config.issuers.push(internal.issuer_config());
    let verifier = Verifier::new(config).context("issuer configuration")?;
    Ok((verifier, internal))
}

/// Runs `csp serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        match args.service.as_str() {
            csp_events::counter::SERVICE => serve::<csp_counter::CounterService>(&args).await,
            "counter-b" => {
                serve::<csp_counter::CounterService<csp_counter::service::Second>>(&args).await
            }
            csp_counter::observer::SERVICE => serve::<csp_counter::CounterObserver>(&args).await,
            other => anyhow::bail!(
                "unknown service {other:?}; this build serves: counter, counter-b, counter-observer"
            ),
        }
    })
}

async fn serve<S: Service<Config = ()>>(args: &ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let (verifier, internal) = verifier(
        &args.data,
        args.issuers.as_deref(),
        args.dev_key.as_deref(),
        args.internal_key.as_deref(),
    )?;
    let log_dir = args.data.join("log");
    let log = EventLog::open(
        &log_dir,
        LogOptions {
            cache_capacity_bytes: args.cache_mib * 1024 * 1024,
            ..LogOptions::default()
        },
    )
    .with_context(|| format!("opening the log at {}", log_dir.display()))?;
    let bus = Bus::connect(&args.nats)
        .await
        .with_context(|| format!("connecting to NATS at {}", args.nats))?;
    anyhow::ensure!(
        args.max_body < bus.max_payload(),
        "--max-body {} must be below the server's max_payload {}",
        args.max_body,
        bus.max_payload()
    );
    let clock = args.manual_clock.map_or(Clock::System, Clock::manual);
    let mut config = RuntimeConfig::new(bus, log, clock, Arc::new(verifier));
    config.max_body_bytes = args.max_body;
    config.internal = Some(Arc::new(internal));
    let running = runtime::start::<S>(config, ())
        .await
        .with_context(|| format!("starting {}", S::NAME))?;
    info!(service = S::NAME, data = %args.data.display(), "ready");
    eprintln!(
        "csp: {} serving on {} (data {})",
        S::NAME,
        args.nats,
        args.data.display()
    );
    wait_for_signal().await?;
    running.shutdown().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
pub async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM"),
        _ = int.recv() => info!("SIGINT"),
    }
    Ok(())
}
