//! `csp serve <service>` (one service, one process, on NATS) and `csp up` (every service in one
//! process, on the in-process bus by default): the two ways csp runs, sharing one set of flags
//! ([`NodeArgs`]) and one way to start a service ([`start`]).
//!
//! Data layout: `csp serve` keeps the service's log in `<data>/log`; `csp up` gives each service
//! `<data>/<service>/` and so its log in `<data>/<service>/log`. Issuer keys (the development
//! issuer's, unless an issuer file is given, and the internal issuer's, shared by every service
//! of an installation) live in the data directory given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use csp_auth::{AuthConfig, DevIssuer, InternalIssuer, Verifier};
use csp_bus::nats::redacted;
use csp_bus::runtime::{self, Running, RuntimeConfig};
use csp_bus::{Bus, Clock, Service};
use csp_eventlog::{Durability, EventLog, LogOptions};
use csp_events::Timestamp;
use tracing::{info, warn};

use crate::registry::{self, Make, Setup, Visit};

/// Flags every running csp process takes.
#[derive(clap::Args, Clone)]
pub struct NodeArgs {
    /// Data directory: logs and issuer keys.
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    pub data: PathBuf,
    /// The catalog directory (`policy.toml`, `products/*.toml`) ordering sells from. Default:
    /// the sample catalog compiled into this binary (`deploy/catalog`).
    #[arg(long, env = "CSP_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// Trusted token issuers (JSON, see `csp-auth`). Without it, the development issuer
    /// (`--dev-key`) is trusted: fine locally, never in production.
    #[arg(long, env = "CSP_ISSUERS")]
    pub issuers: Option<PathBuf>,
    /// The development issuer's key file (created if missing). Default: `<data>/dev-issuer.key`.
    #[arg(long, env = "CSP_DEV_KEY")]
    pub dev_key: Option<PathBuf>,
    /// The internal issuer's key file, shared by all services of an installation (created if
    /// missing). Default: `<data>/internal-issuer.key`.
    #[arg(long, env = "CSP_INTERNAL_KEY")]
    pub internal_key: Option<PathBuf>,
    /// Run on a manual clock starting at this RFC 3339 time, moved only through
    /// `csp.admin.<service>.clock`. For tests and demos; off by default.
    #[arg(long)]
    pub manual_clock: Option<Timestamp>,
    /// Largest request body accepted, in bytes (must stay below the server's max_payload).
    #[arg(long, env = "CSP_MAX_BODY", default_value_t = 256 * 1024)]
    pub max_body: usize,
    /// sled cache size per service, in MiB.
    #[arg(long, env = "CSP_CACHE_MIB", default_value_t = 64)]
    pub cache_mib: u64,
    /// What an acknowledged append survives: always stable storage for a service; benchmarks
    /// that show the sync's cost set `UnsafeNoFsync` (their `--unsafe-no-fsync`).
    #[arg(skip)]
    pub durability: Durability,
    #[command(flatten)]
    pub entitlement: EntitlementArgs,
    #[command(flatten)]
    pub billing: BillingArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
}

/// Audit's checkpoints.
#[derive(clap::Args, Clone, Debug)]
pub struct AuditArgs {
    /// The checkpoint signing key file (standard base64 of a 32-byte Ed25519 seed, mode 0600).
    /// It must live outside the data directory, so a copy of the data cannot sign; created
    /// if missing. Default: `<data>.secrets/audit-checkpoint.key`. `csp audit public-key`
    /// prints the public half auditors pin.
    #[arg(long, env = "CSP_AUDIT_KEY_FILE")]
    pub audit_key: Option<PathBuf>,
    /// The log's name, the first line of every checkpoint: `csp-audit/<installation>`.
    #[arg(long, env = "CSP_AUDIT_ORIGIN", default_value = "csp-audit/local")]
    pub audit_origin: String,
    /// Seconds at most between a new event and the checkpoint that covers it (a burst of
    /// 1,024 events is covered at once).
    #[arg(long, env = "CSP_CHECKPOINT_SECS", default_value_t = 10)]
    pub checkpoint_secs: u64,
}

impl Default for AuditArgs {
    fn default() -> Self {
        AuditArgs {
            audit_key: None,
            audit_origin: "csp-audit/local".into(),
            checkpoint_secs: 10,
        }
    }
}

/// The checkpoint key file of the installation whose data directory is `data`: beside it,
/// never in it.
pub fn default_audit_key(data: &Path) -> PathBuf {
    default_master_key(data).with_file_name("audit-checkpoint.key")
}

/// The checkpoint key `args` name (made if missing), refused inside the data directory `root`.
pub fn audit_key(
    args: &AuditArgs,
    root: &Path,
) -> anyhow::Result<csp_audit::checkpoint::CheckpointKey> {
    let path = args
        .audit_key
        .clone()
        .unwrap_or_else(|| default_audit_key(root));
    outside(&path, root, "the audit checkpoint key")?;
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    let seed = zeroize::Zeroizing::new(
        csp_auth::load_or_create_seed(&path)
            .with_context(|| format!("audit checkpoint key {}", path.display()))?,
    );
    Ok(csp_audit::checkpoint::CheckpointKey::from_seed(
        &args.audit_origin,
        &seed,
    ))
}

/// Audit's configuration: its key and how often it signs.
pub fn audit_config(setup: Setup<'_>) -> anyhow::Result<csp_audit::config::Config> {
    Ok(csp_audit::config::Config::new(
        audit_key(setup.audit, setup.root)?,
        std::time::Duration::from_secs(setup.audit.checkpoint_secs.max(1)),
    ))
}

/// Refuses a secret's file inside the data directory `root`.
fn outside(path: &Path, root: &Path, what: &str) -> anyhow::Result<()> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    anyhow::ensure!(
        !abs(path).starts_with(abs(root)),
        "{what} {} is inside the data directory {}: keep it outside, so a copy of the data holds no key",
        path.display(),
        root.display()
    );
    Ok(())
}

/// Billing's month close.
#[derive(clap::Args, Clone, Debug)]
pub struct BillingArgs {
    /// Seconds billing waits after a month ends, beyond what every producer's heartbeat already
    /// promises, before it issues that month's invoices: covers a command decided just before
    /// midnight and recorded just after, and clocks a little apart.
    #[arg(long, env = "CSP_BILLING_GRACE_SECS", default_value_t = 300)]
    pub billing_grace_secs: u64,
}

impl Default for BillingArgs {
    fn default() -> Self {
        BillingArgs {
            billing_grace_secs: 300,
        }
    }
}

impl BillingArgs {
    /// Billing's configuration from these flags.
    pub fn config(&self) -> csp_billing::config::Config {
        csp_billing::config::Config {
            grace: std::time::Duration::from_secs(self.billing_grace_secs),
        }
    }
}

/// Entitlement's keys, links and downloads.
#[derive(clap::Args, Clone, Debug)]
pub struct EntitlementArgs {
    /// The master key file wrapping entitlement's keyring. It must live outside the data
    /// directory, so a copy of the data holds no key; created (mode 0600) for a new keyring.
    /// Default: `<data>.secrets/master.key`.
    #[arg(long, env = "CSP_MASTER_KEY_FILE")]
    pub master_key: Option<PathBuf>,
    /// Read the master key from this environment variable instead (base64 of its 48 bytes;
    /// cannot be rotated in place).
    #[arg(long, env = "CSP_MASTER_KEY_ENV", conflicts_with = "master_key")]
    pub master_key_env: Option<String>,
    /// Where to serve download links (`GET /dl/<token>`); port 0 picks a free one.
    #[arg(long, env = "CSP_DOWNLOAD_ADDR", default_value = "127.0.0.1:8480")]
    pub download_addr: std::net::SocketAddr,
    /// The links' base URL as users reach the server. Default: `http://<download-addr>`.
    #[arg(long, env = "CSP_DOWNLOAD_URL")]
    pub download_url: Option<String>,
    /// The files links download (`<product>/<version>_<language>_<file type>.bin`). Default:
    /// `<data>/downloads`, filled with a small sample set when first created.
    #[arg(long, env = "CSP_DOWNLOADS")]
    pub downloads: Option<PathBuf>,
    /// How long a download link works, in hours.
    #[arg(long, env = "CSP_LINK_TTL_HOURS", default_value_t = 24)]
    pub link_ttl_hours: u32,
    /// A key pool below this many keys records `key_pool_low`.
    #[arg(long, env = "CSP_KEY_LOW_WATER", default_value_t = csp_entitlement::config::DEFAULT_LOW_WATER)]
    pub key_low_water: u32,
    /// Rotate the master key after this many revocations...
    #[arg(long, env = "CSP_ROTATE_EVERY", default_value_t = csp_entitlement::config::DEFAULT_ROTATE_EVERY)]
    pub rotate_every: u32,
    /// ...or this many minutes after the first revocation since the last rotation.
    #[arg(long, env = "CSP_ROTATE_AFTER_MINUTES", default_value_t = 15)]
    pub rotate_after_minutes: u32,
}

impl Default for EntitlementArgs {
    fn default() -> Self {
        EntitlementArgs {
            master_key: None,
            master_key_env: None,
            download_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8480)),
            download_url: None,
            downloads: None,
            link_ttl_hours: 24,
            key_low_water: csp_entitlement::config::DEFAULT_LOW_WATER,
            rotate_every: csp_entitlement::config::DEFAULT_ROTATE_EVERY,
            rotate_after_minutes: 15,
        }
    }
}

/// The master key file of the installation whose data directory is `data`: beside it, never in
/// it (`<data>.secrets/master.key`).
pub fn default_master_key(data: &Path) -> PathBuf {
    let mut dir = data.as_os_str().to_owned();
    dir.push(".secrets");
    PathBuf::from(dir).join("master.key")
}

/// The entitlement service's configuration: the catalog, its keyring (opened with the master
/// key, which is refused inside the data directory), links and downloads.
pub fn entitlement_config(setup: Setup<'_>) -> anyhow::Result<csp_entitlement::config::Config> {
    use csp_entitlement::keyring::{Keyring, MasterSource};
    let args = setup.entitlement;
    let source = match (&args.master_key, &args.master_key_env) {
        (_, Some(var)) => MasterSource::Env(var.clone()),
        (Some(path), None) => MasterSource::File(path.clone()),
        (None, None) => MasterSource::File(default_master_key(setup.root)),
    };
    if let MasterSource::File(path) = &source {
        outside(path, setup.root, "the master key")?;
        if let Some(parent) = path.parent() {
            create_private_dir(parent)?;
        }
    }
    let keyring_dir = setup.dir.join("keyring");
    let keyring = Keyring::open(&keyring_dir, source)
        .with_context(|| format!("opening the keyring at {}", keyring_dir.display()))?;
    let catalog = catalog(setup.catalog)?;
    let downloads = match &args.downloads {
        Some(dir) => dir.clone(),
        None => {
            // The embedded default serves a small sample file for every file the catalog
            // offers, so links work with nothing else installed.
            let dir = setup.root.join("downloads");
            if !dir.exists() {
                csp_entitlement::download::write_samples(&dir, &catalog)
                    .with_context(|| format!("writing sample downloads to {}", dir.display()))?;
            }
            dir
        }
    };
    Ok(csp_entitlement::config::Config {
        catalog,
        keyring: Arc::new(keyring),
        low_water: args.key_low_water,
        link_ttl_secs: i64::from(args.link_ttl_hours) * 3600,
        link_base: std::sync::OnceLock::new(),
        downloads,
        staging: Default::default(),
        rotation: csp_entitlement::config::RotationPolicy::new(
            args.rotate_every,
            std::time::Duration::from_secs(u64::from(args.rotate_after_minutes) * 60),
        ),
    })
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if !dir.as_os_str().is_empty() && !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

impl NodeArgs {
    /// The defaults `csp serve` and `csp up` take, with data in `data`: for the demo, the
    /// benchmarks and tests, which set only what they change.
    pub fn new(data: PathBuf) -> NodeArgs {
        NodeArgs {
            data,
            catalog: None,
            issuers: None,
            dev_key: None,
            internal_key: None,
            manual_clock: None,
            max_body: 256 * 1024,
            cache_mib: 64,
            durability: Durability::Synced,
            entitlement: EntitlementArgs::default(),
            billing: BillingArgs::default(),
            audit: AuditArgs::default(),
        }
    }
}

/// Arguments of `csp serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The service to run: `ordering`, `entitlement`, `billing` or `audit`; or, to test the runtime, `counter` (`counter-b` is a
    /// second instance) or `counter-observer` (its consumer, of both).
    service: String,
    /// NATS server URL.
    #[arg(long, env = "CSP_NATS_URL")]
    nats: String,
    #[command(flatten)]
    node: NodeArgs,
}

/// Arguments of `csp up`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// NATS server URL. Without it, the services talk over the in-process bus: nothing to
    /// install, nothing reachable from outside this process.
    #[arg(long, env = "CSP_NATS_URL")]
    nats: Option<String>,
    #[command(flatten)]
    node: NodeArgs,
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

/// The catalog a service sells from: the directory given, or the sample compiled in.
pub fn catalog(dir: Option<&Path>) -> anyhow::Result<Arc<csp_catalog::Catalog>> {
    let catalog = match dir {
        Some(dir) => csp_catalog::Catalog::load(dir)
            .with_context(|| format!("loading the catalog from {}", dir.display()))?,
        None => csp_catalog::embedded().context("the embedded sample catalog")?,
    };
    Ok(Arc::new(catalog))
}

/// What every service of one process shares: the bus, the clock and who is trusted.
#[derive(Clone)]
pub struct Node {
    /// The bus.
    pub bus: Bus,
    /// One clock for every service of the process (a manual clock moves them all).
    pub clock: Clock,
    verifier: Arc<Verifier>,
    internal: Arc<InternalIssuer>,
    args: NodeArgs,
}

impl Node {
    /// Prepares a node: data directory, issuers, clock; checks the body limit against the bus.
    pub fn new(bus: Bus, args: &NodeArgs) -> anyhow::Result<Node> {
        std::fs::create_dir_all(&args.data)
            .with_context(|| format!("creating {}", args.data.display()))?;
        let (verifier, internal) = verifier(
            &args.data,
            args.issuers.as_deref(),
            args.dev_key.as_deref(),
            args.internal_key.as_deref(),
        )?;
        anyhow::ensure!(
            args.max_body < bus.max_payload(),
            "--max-body {} must be below the bus's max_payload {}",
            args.max_body,
            bus.max_payload()
        );
        Ok(Node {
            bus,
            clock: args.manual_clock.map_or(Clock::System, Clock::manual),
            verifier: Arc::new(verifier),
            internal: Arc::new(internal),
            args: args.clone(),
        })
    }

    /// Starts `S` with its log in `log_dir`: replay, then serve.
    pub async fn start<S: Service>(
        &self,
        log_dir: &Path,
        init: S::Config,
    ) -> anyhow::Result<Running<S>> {
        let log = EventLog::open(
            log_dir,
            LogOptions {
                cache_capacity_bytes: self.args.cache_mib * 1024 * 1024,
                durability: self.args.durability,
                ..LogOptions::default()
            },
        )
        .with_context(|| format!("opening the log at {}", log_dir.display()))?;
        let mut config = RuntimeConfig::new(
            self.bus.clone(),
            log,
            self.clock.clone(),
            Arc::clone(&self.verifier),
        );
        config.max_body_bytes = self.args.max_body;
        config.internal = Some(Arc::clone(&self.internal));
        let running = runtime::start::<S>(config, init)
            .await
            .with_context(|| format!("starting {}", S::NAME))?;
        info!(service = S::NAME, log = %log_dir.display(), "ready");
        Ok(running)
    }

    /// Starts the service `name` in `dir` (its log in `dir/log`), with what goes beside it
    /// (entitlement's download server). Stop it with [`Stop::stop`].
    pub async fn start_named(&self, name: &str, dir: &Path) -> anyhow::Result<Box<dyn Stop>> {
        struct Start<'a> {
            node: &'a Node,
            dir: &'a Path,
        }
        impl<'a> Visit for Start<'a> {
            type Output = BoxFuture<'a, anyhow::Result<Box<dyn Stop>>>;
            fn visit<S: Service>(self, make: Make<'_, S>) -> Self::Output {
                let config = make.config();
                Box::pin(async move {
                    let running = self.node.start::<S>(&self.dir.join("log"), config?).await?;
                    attach(running, &self.node.args.entitlement).await
                })
            }
        }
        let setup = Setup {
            catalog: self.args.catalog.as_deref(),
            dir,
            root: &self.args.data,
            entitlement: &self.args.entitlement,
            billing: &self.args.billing,
            audit: &self.args.audit,
        };
        registry::visit(name, setup, Start { node: self, dir })?.await
    }
}

/// A service running in this process, whatever its type: what a [`System`] stops.
pub trait Stop: Send {
    /// The service's name.
    fn name(&self) -> &'static str;
    /// Stops it (see [`Running::shutdown`]).
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;
    /// Resolves, with the reason, if it halts (see [`Running::halted`]).
    fn halted(&self) -> BoxFuture<'static, String>;
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

impl<S: Service> Stop for Running<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin((*self).shutdown())
    }
    fn halted(&self) -> BoxFuture<'static, String> {
        Box::pin(Running::halted(self))
    }
}

/// Every service of the product (the registry's `in_system` ones), running in one process.
pub struct System {
    /// In start order; stopped in reverse.
    running: Vec<Box<dyn Stop>>,
}

impl System {
    /// Starts every service on `node`, each in `<data>/<service>/`.
    pub async fn start(node: &Node) -> anyhow::Result<System> {
        let names: Vec<&str> = registry::SERVICES
            .iter()
            .filter(|e| e.in_system)
            .map(|e| e.name)
            .collect();
        Self::start_services(node, &names).await
    }

    /// Starts the services `names`, in order. If one fails to start, those already started are
    /// shut down (their logs closed) before the error is returned: nothing is left running.
    pub async fn start_services(node: &Node, names: &[&str]) -> anyhow::Result<System> {
        let mut system = System {
            running: Vec::with_capacity(names.len()),
        };
        for name in names {
            match start_one(node, name).await {
                Ok(running) => system.running.push(running),
                Err(e) => {
                    system.shutdown().await;
                    return Err(e.context(format!("starting {name}")));
                }
            }
        }
        Ok(system)
    }

    /// Resolves, with the service and the reason, once any of them halts.
    pub fn halted(&self) -> impl std::future::Future<Output = (&'static str, String)> + 'static {
        let (tx, mut rx) = tokio::sync::mpsc::channel(self.running.len().max(1));
        for r in &self.running {
            let (name, halted, tx) = (r.name(), r.halted(), tx.clone());
            tokio::spawn(async move {
                let why = halted.await;
                let _ = tx.send((name, why)).await;
            });
        }
        async move {
            match rx.recv().await {
                Some(halted) => halted,
                None => std::future::pending().await,
            }
        }
    }

    /// The services running, in start order.
    pub fn names(&self) -> Vec<&'static str> {
        self.running.iter().map(|r| r.name()).collect()
    }

    /// Stops taking work, finishes what is in hand, flushes: the last started first.
    pub async fn shutdown(self) {
        for running in self.running.into_iter().rev() {
            running.stop().await;
        }
    }
}

/// Starts the service `name` on `node`, in `<data>/<name>/` (its log in `log/`).
async fn start_one(node: &Node, name: &str) -> anyhow::Result<Box<dyn Stop>> {
    let dir = node.args.data.join(name);
    node.start_named(name, &dir).await
}

/// A running service, with its download server if it is entitlement.
async fn attach<S: Service>(
    running: Running<S>,
    args: &EntitlementArgs,
) -> anyhow::Result<Box<dyn Stop>> {
    use csp_entitlement::service::EntitlementService;
    let any: Box<dyn std::any::Any + Send> = Box::new(running);
    match any.downcast::<Running<EntitlementService>>() {
        Ok(entitlement) => Ok(Box::new(Downloads::start(*entitlement, args).await?)),
        Err(other) => match other.downcast::<Running<S>>() {
            Ok(running) => Ok(running as Box<dyn Stop>),
            Err(_) => anyhow::bail!("{} could not be started", S::NAME),
        },
    }
}

/// The entitlement service and its download server, started and stopped together.
pub struct Downloads {
    running: Running<csp_entitlement::service::EntitlementService>,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Downloads {
    /// Serves `running`'s links on `args.download_addr`; links point at `args.download_url`
    /// or at the address bound.
    pub async fn start(
        running: Running<csp_entitlement::service::EntitlementService>,
        args: &EntitlementArgs,
    ) -> anyhow::Result<Downloads> {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (addr, server) =
            csp_entitlement::download::serve(args.download_addr, running.reader(), stop_rx)
                .await
                .with_context(|| format!("serving download links on {}", args.download_addr))?;
        let base = args
            .download_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        // Revocations pending longer than the policy allows rotate the master key even when no
        // further revocation comes.
        let reader = running.reader();
        let mut tick_stop = stop.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = reader.config().rotate_if_due(false) {
                            tracing::error!("rotating the master key: {e}");
                        }
                    }
                    _ = tick_stop.changed() => return,
                }
            }
        });
        let _ = running.reader().config().link_base.set(base.clone());
        eprintln!("csp: download links served at {base}/dl/<token>");
        Ok(Downloads {
            running,
            stop,
            server,
        })
    }
}

impl Stop for Downloads {
    fn name(&self) -> &'static str {
        csp_entitlement::service::SERVICE
    }
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stop.send(true);
            let _ = self.server.await;
            self.running.shutdown().await;
        })
    }
    fn halted(&self) -> BoxFuture<'static, String> {
        Box::pin(self.running.halted())
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// Runs `csp serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let bus = Bus::connect(&args.nats)
            .await
            .with_context(|| format!("connecting to NATS at {}", redacted(&args.nats)))?;
        if args.node.internal_key.is_none() {
            warn!(
                key = %args.node.data.join("internal-issuer.key").display(),
                "the internal issuer key is this process's own: services in other processes \
                 need the same file (--internal-key, CSP_INTERNAL_KEY) to fetch lost events \
                 from each other"
            );
        }
        let node = Node::new(bus, &args.node)?;
        let running = node.start_named(&args.service, &args.node.data).await?;
        eprintln!(
            "csp: {} serving on {} (data {})",
            running.name(),
            redacted(&args.nats),
            args.node.data.display()
        );
        let name = running.name();
        let halted = running.halted();
        tokio::select! {
            signal = wait_for_signal() => {
                running.stop().await;
                signal
            }
            why = halted => {
                running.stop().await;
                anyhow::bail!("{name} halted: {why}")
            }
        }
    })
}

/// Runs `csp up`.
pub fn up(args: UpArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let (bus, on) = match &args.nats {
            Some(url) => (
                Bus::connect(url)
                    .await
                    .with_context(|| format!("connecting to NATS at {}", redacted(url)))?,
                redacted(url),
            ),
            None => (Bus::local(), "the in-process bus".to_string()),
        };
        let node = Node::new(bus, &args.node)?;
        let system = System::start(&node).await?;
        eprintln!(
            "csp: up on {on} (data {}): {}; stop with Ctrl-C",
            args.node.data.display(),
            system.names().join(", ")
        );
        if args.nats.is_none() {
            eprintln!("csp: nothing outside this process can reach the in-process bus; give --nats URL to serve clients, or run `csp demo`");
        }
        let halted = system.halted();
        tokio::select! {
            signal = wait_for_signal() => {
                system.shutdown().await;
                eprintln!("csp: stopped");
                signal
            }
            (name, why) = halted => {
                system.shutdown().await;
                anyhow::bail!("{name} halted: {why}; every service was stopped")
            }
        }
    })
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A system whose second service cannot start stops the first before it reports the
    /// error: nothing is left running (the first one's log is free again).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_system_that_fails_half_way_leaves_nothing_running() {
        let dir = csp_testkit::TempDir::new("csp-system").unwrap();
        let args = NodeArgs {
            cache_mib: 16,
            ..NodeArgs::new(dir.path().to_path_buf())
        };
        let node = Node::new(Bus::local(), &args).unwrap();
        let failed = System::start_services(&node, &["ordering", "no-such-service"]).await;
        let error = format!("{:#}", failed.err().expect("the second service is unknown"));
        assert!(error.contains("no-such-service"), "{error}");
        let free = LogOptions {
            lock_wait: Duration::from_secs(2),
            ..LogOptions::default()
        };
        EventLog::open(dir.path().join("ordering").join("log"), free)
            .expect("ordering was shut down and its log closed");
    }
}
