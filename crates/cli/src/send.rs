//! `csp send <service> <name> --json FILE|-`: one request to a running system, the reply on
//! stdout, a non-zero exit on an error reply. What an operator or a script uses instead of
//! writing a NATS client; the demo talks to the services the same way ([`Client`]).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use csp_auth::DevIssuer;
use csp_bus::runtime::{admin_subject, AUTHORIZATION};
use csp_bus::{Bus, Headers, Service};
use csp_events::api::QueryBody;
use csp_events::{subject, ActorKind, Role, TenantId};
use serde_json::Value;

use crate::registry::{self, Visit};
use crate::token::{parse_kind, parse_role};

/// Arguments of `csp send`.
#[derive(clap::Args)]
pub struct SendArgs {
    /// The service: `ordering`, `entitlement`, `billing` or `audit` (or a runtime test service:
    /// `counter`, `counter-b`).
    service: String,
    /// A command or query of that service (e.g. `place_order`, `get_orders`), or one of the
    /// runtime's own: `status`, `clock` (operators), `events_from` (services only).
    name: String,
    /// The request body: a JSON file, or `-` for standard input. Default: `{}`.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    reach: Reach,
    /// The actor's kind, for a minted token: partner, customer or platform.
    #[arg(long, default_value = "partner", value_parser = parse_kind)]
    kind: ActorKind,
    /// The actor's tenant id, for a minted token (required unless `--token`, or for `status`
    /// and `clock`).
    #[arg(long)]
    tenant: Option<TenantId>,
    /// A role (repeatable), for a minted token. Default: admin_agent.
    #[arg(long = "role", value_parser = parse_role)]
    roles: Vec<Role>,
    /// How long to wait for the reply, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// How a verb reaches a running system: where it is, and whose token it sends.
#[derive(clap::Args)]
pub struct Reach {
    /// NATS server URL of the running system.
    #[arg(long, env = "CSP_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// The bearer token to send. Without it, one is minted from the development issuer of
    /// `--data` for the actor the verb acts as (`send`: `--kind`, `--tenant`, `--role`;
    /// `invoice`: the partner's billing_admin; `keys import`: the platform's importer).
    #[arg(long, env = "CSP_TOKEN")]
    pub token: Option<String>,
    /// The data directory whose development issuer key mints the token.
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    pub data: PathBuf,
    /// The development issuer's key file. Default: `<data>/dev-issuer.key`.
    #[arg(long, env = "CSP_DEV_KEY")]
    pub dev_key: Option<PathBuf>,
}

impl Reach {
    /// The token to send: `--token`, or one minted for `kind`, `tenant` and `roles`.
    pub fn bearer(
        &self,
        kind: ActorKind,
        tenant: TenantId,
        roles: &[Role],
    ) -> anyhow::Result<String> {
        bearer(
            self.token.as_deref(),
            &self.data,
            self.dev_key.as_deref(),
            kind,
            tenant,
            roles,
        )
    }

    /// Connects to the running system's NATS server.
    pub async fn connect(&self) -> anyhow::Result<Bus> {
        Bus::connect(&self.nats).await.with_context(|| {
            format!(
                "connecting to NATS at {}",
                csp_bus::nats::redacted(&self.nats)
            )
        })
    }
}

/// The subject of `service`'s endpoint `name`: its command or query, or a runtime endpoint.
pub fn subject_of(service: &str, name: &str) -> anyhow::Result<String> {
    if matches!(name, "status" | "clock") {
        return Ok(admin_subject(service, name));
    }
    if name == <csp_events::feed::EventsFrom as QueryBody>::NAME {
        return Ok(subject::query(service, name));
    }
    struct Endpoint<'a>(&'a str);
    impl Visit for Endpoint<'_> {
        type Output = (Option<String>, Vec<&'static str>);
        fn visit<S: Service>(self, _: registry::Make<'_, S>) -> Self::Output {
            let table = S::endpoints();
            (table.subject(self.0).map(str::to_string), table.names())
        }
    }
    // The endpoint table needs no configuration.
    let (subject, names) =
        registry::no_setup(|setup| registry::visit(service, setup, Endpoint(name)))?;
    subject.with_context(|| {
        format!(
            "{service} has no endpoint {name:?}; it has: {}, status, clock, events_from",
            names.join(", ")
        )
    })
}

/// A request/reply client on a bus, with a bearer token: `csp send` and the demo.
#[derive(Clone)]
pub struct Client {
    bus: Bus,
    timeout: Duration,
    attempts: u32,
    resent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Client {
    /// A client on `bus` that sends each request once.
    pub fn new(bus: Bus, timeout: Duration) -> Client {
        Client {
            bus,
            timeout,
            attempts: 1,
            resent: Default::default(),
        }
    }

    /// Sends a request again, up to `attempts` times in all, when it gets no reply (timed out,
    /// or nobody answering): what a client does while a cluster node fails over and a request
    /// or its reply is lost. Commands are idempotent by request id; a recorded read (a key
    /// view, a link) sent again may be recorded twice, never not at all.
    pub fn retrying(mut self, attempts: u32) -> Client {
        self.attempts = attempts.max(1);
        self
    }

    /// How many requests were sent again.
    pub fn resent(&self) -> u64 {
        self.resent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends `body` to `subject` as `token`'s actor; the whole reply (`ok`, `result` or `error`).
    pub async fn request(&self, subject: &str, token: &str, body: &Value) -> anyhow::Result<Value> {
        self.raw(subject, token, Bytes::from(body.to_string()))
            .await
    }

    /// Like [`Client::request`], with the body as given (a file's bytes, untouched).
    pub async fn raw(&self, subject: &str, token: &str, body: Bytes) -> anyhow::Result<Value> {
        let mut attempt = 1;
        let reply = loop {
            let sent = self
                .bus
                .request(
                    subject,
                    Headers::new().with(AUTHORIZATION, format!("Bearer {token}")),
                    body.clone(),
                    self.timeout,
                )
                .await;
            match sent {
                Err(csp_bus::BusError::Timeout(_) | csp_bus::BusError::NoResponders(_))
                    if attempt < self.attempts =>
                {
                    attempt += 1;
                    self.resent
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => break other.with_context(|| format!("no reply on {subject}"))?,
            }
        };
        serde_json::from_slice(&reply.payload)
            .with_context(|| format!("the reply on {subject} is not JSON"))
    }

    /// Asks `service` the query `q` as `token`'s actor: its typed `result`, or the error reply
    /// as one line.
    pub async fn query<Q: csp_events::api::QueryBody>(
        &self,
        service: &str,
        token: &str,
        q: &Q,
    ) -> anyhow::Result<Q::Reply> {
        let subject = csp_events::subject::query(service, Q::NAME);
        let reply = self
            .request(&subject, token, &serde_json::to_value(q)?)
            .await?;
        if let Some(line) = error_line(&reply) {
            anyhow::bail!("{}: {line}", Q::NAME);
        }
        serde_json::from_value(reply["result"].clone())
            .with_context(|| format!("the reply to {} is not what {service} answers", Q::NAME))
    }
}

/// The one-line reason of an error reply, `None` for `ok`.
pub fn error_line(reply: &Value) -> Option<String> {
    if reply["ok"] == Value::Bool(true) {
        return None;
    }
    Some(format!(
        "{}: {}",
        reply["error"]["code"].as_str().unwrap_or("error"),
        reply["error"]["message"].as_str().unwrap_or("(no message)")
    ))
}

fn read_body(json: Option<&Path>) -> anyhow::Result<Bytes> {
    let bytes = match json {
        None => b"{}".to_vec(),
        Some(p) if p == Path::new("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading the body from standard input")?;
            buf
        }
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
    };
    Ok(Bytes::from(bytes))
}

fn token(args: &SendArgs) -> anyhow::Result<String> {
    let admin = matches!(args.name.as_str(), "status" | "clock");
    let tenant = match args.tenant {
        Some(t) => t,
        None if admin || args.reach.token.is_some() => TenantId(uuid::Uuid::nil()),
        None => anyhow::bail!("--tenant is required to mint a token (or give --token)"),
    };
    // The admin endpoints take a platform operator; everything else defaults to a partner's
    // admin agent.
    let (kind, roles) = match (args.roles.is_empty(), admin) {
        (true, true) => (ActorKind::Platform, vec![Role::Operator]),
        (true, false) => (args.kind, vec![Role::AdminAgent]),
        (false, _) => (args.kind, args.roles.clone()),
    };
    args.reach.bearer(kind, tenant, &roles)
}

/// The token a command-line verb sends: `token` as given, or one minted from the development
/// issuer in `data` (or `dev_key`) for the actor described.
pub fn bearer(
    token: Option<&str>,
    data: &Path,
    dev_key: Option<&Path>,
    kind: ActorKind,
    tenant: TenantId,
    roles: &[Role],
) -> anyhow::Result<String> {
    if let Some(t) = token {
        return Ok(t.trim().to_string());
    }
    let path = dev_key.map_or_else(|| data.join("dev-issuer.key"), Path::to_path_buf);
    anyhow::ensure!(
        path.exists(),
        "no --token and no development issuer key at {} (give --token, or --data of the running system)",
        path.display()
    );
    let issuer = DevIssuer::load_or_create(&path)
        .with_context(|| format!("development issuer key {}", path.display()))?;
    Ok(issuer.mint_for(
        kind,
        tenant,
        "csp-cli",
        roles,
        600,
        csp_bus::clock::wall_seconds(),
    ))
}

/// Runs `csp send`.
pub fn run(args: SendArgs) -> anyhow::Result<()> {
    let subject = subject_of(&args.service, &args.name)?;
    let body = read_body(args.json.as_deref())?;
    let token = token(&args)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let reply = rt.block_on(async {
        let bus = args.reach.connect().await?;
        Client::new(bus, Duration::from_secs(args.timeout))
            .raw(&subject, &token, body)
            .await
    })?;
    println!("{}", serde_json::to_string_pretty(&reply)?);
    match error_line(&reply) {
        None => Ok(()),
        Some(line) => anyhow::bail!("{line}"),
    }
}
