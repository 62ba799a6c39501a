//! `csp bench consistency` (rule C1): how long a cancellation takes to show everywhere. The
//! four services run as four `csp serve` processes on NATS, as deployed. For each of N
//! cancellations — each of a fresh partner's subscription whose key was generated and shown,
//! whose charge is on the invoice preview — the time from the cancel reply to (a) `get_key`
//! answering `entitlement_revoked`, (b) the refund on the partner's invoice preview, (c) the
//! cancellation in the audit log (audit's durable position in ordering's events at or past the
//! cancellation), each polled every `--poll-ms` (≤ 5 ms) by its own client. Beside them, the
//! floor measured in the same run: one `get_key` round trip.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use csp_auth::DevIssuer;
use csp_events::{ActorKind, Role, TenantId};
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::bench::entitlement::{generate_sql_key, import_sql_keys};
use crate::bench::header;
use crate::bench::ordering::{ms, percentile, request};

/// Arguments of `csp bench consistency`.
#[derive(clap::Args)]
pub struct Args {
    /// Cancellations to measure.
    #[arg(long, default_value_t = 1000)]
    cancellations: u64,
    /// How often each observer asks, in milliseconds (1 to 5).
    #[arg(long, default_value_t = 2)]
    poll_ms: u64,
    /// A running nats-server to use (default: one of its own on a free port).
    #[arg(long)]
    nats: Option<String>,
}

const SERVICES: [&str; 4] = ["ordering", "entitlement", "billing", "audit"];
const PRODUCT: &str = crate::bench::entitlement::POOL.0;
const SKU: &str = crate::bench::entitlement::POOL.1;
const VERSION: &str = crate::bench::entitlement::POOL.2;

/// The four `csp serve` processes, stopped (SIGTERM) when dropped.
struct Services(Vec<Child>);

impl Drop for Services {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) on our own child, not yet reaped.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

/// Runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<()> {
    ensure!(
        (1..=5).contains(&args.poll_ms),
        "--poll-ms must be 1 to 5 (C1 polls every 5 ms or faster)"
    );
    ensure!(args.cancellations > 0, "--cancellations must be > 0");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let (_server, url) = crate::bench::nats(args.nats.as_deref())?;
    let dir = crate::fresh_dir("csp-bench-consistency")?;
    let result = rt.block_on(measure(&args, &url, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir_all(parent.join(secrets_name(&dir)));
    }
    let m = result?;
    header(&format!(
        "csp bench consistency --cancellations {} --poll-ms {}",
        args.cancellations, args.poll_ms
    ));
    println!();
    println!(
        "| from the cancel reply to | cancellations | p50 ms | p99 ms | max ms | over 100 ms | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    let row = |what: &str, d: &mut Vec<Duration>, target: &str| {
        d.sort_unstable();
        println!(
            "| {what} | {} | {:.1} | {:.1} | {:.1} | {} | {target} |",
            d.len(),
            ms(percentile(d, 0.5)),
            ms(percentile(d, 0.99)),
            ms(d.last().copied().unwrap_or_default()),
            d.iter()
                .filter(|t| **t > Duration::from_millis(100))
                .count(),
        );
    };
    let Measured {
        mut key,
        mut refund,
        mut audit,
        mut floor,
        mut published,
        inboxes,
    } = m;
    row(
        "(a) the key refused (`get_key`: `entitlement_revoked`)",
        &mut key,
        "p99 <= 100 ms",
    );
    row(
        "(b) the refund on the partner's invoice preview",
        &mut refund,
        "p99 <= 1 s",
    );
    row(
        "(c) the cancellation in the audit log",
        &mut audit,
        "p99 <= 1 s",
    );
    row(
        "ordering's publication of the cancellation (seen on its subject)",
        &mut published,
        "",
    );
    row("floor: one `get_key` round trip", &mut floor, "");
    println!();
    for (service, inbox) in inboxes {
        println!(
            "{service}'s inbox: {} events ingested, {} recovered from the producer's log, {} duplicates",
            inbox["ingested"], inbox["recovered"], inbox["duplicates"]
        );
    }
    Ok(())
}

fn secrets_name(dir: &Path) -> String {
    format!(
        "{}.secrets",
        dir.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    )
}

struct Measured {
    key: Vec<Duration>,
    refund: Vec<Duration>,
    audit: Vec<Duration>,
    floor: Vec<Duration>,
    /// From the cancel reply to ordering publishing the cancellation.
    published: Vec<Duration>,
    /// Per consumer, its inbox counters at the end (how many events came by JetStream, how
    /// many were fetched from the producer's log after JetStream stayed silent).
    inboxes: Vec<(&'static str, Value)>,
}

/// Starts the four services as processes of this very binary, each with its own data
/// directory, sharing the development and internal issuers, and waits until each answers.
async fn start_services(url: &str, dir: &Path) -> anyhow::Result<Services> {
    let exe = std::env::current_exe().context("this binary's path")?;
    let secrets = dir
        .parent()
        .map(|p| p.join(secrets_name(dir)))
        .context("the data directory's parent")?;
    std::fs::create_dir_all(&secrets)?;
    let mut children = Services(Vec::new());
    for service in SERVICES {
        let log = std::fs::File::create(dir.join(format!("{service}.stderr")))?;
        let mut command = Command::new(&exe);
        command
            .args(["serve", service, "--nats", url])
            .arg("--data")
            .arg(dir.join(service))
            .arg("--dev-key")
            .arg(dir.join("dev-issuer.key"))
            .arg("--internal-key")
            .arg(secrets.join("internal.key"))
            .arg("--audit-key")
            .arg(secrets.join("audit.key"))
            .arg("--master-key")
            .arg(secrets.join("master.key"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if service == "entitlement" {
            command.args(["--download-addr", "127.0.0.1:0"]);
        }
        children.0.push(
            command
                .spawn()
                .with_context(|| format!("starting {service}"))?,
        );
    }
    let client = async_nats::connect(url).await.context("connecting")?;
    for service in SERVICES {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ping = tokio::time::timeout(
                Duration::from_millis(500),
                client.request(format!("$SRV.PING.{service}"), bytes::Bytes::new()),
            )
            .await;
            if let Ok(Ok(_)) = ping {
                break;
            }
            if let Some(child) = children.0.iter_mut().find_map(|c| match c.try_wait() {
                Ok(Some(status)) => Some(status),
                _ => None,
            }) {
                bail!(
                    "a service exited while starting ({child}); see {}",
                    dir.display()
                );
            }
            ensure!(
                Instant::now() < deadline,
                "{service} did not answer in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(children)
}

/// One partner's subscription, ready to be cancelled.
struct Ready {
    agent: String,
    reader: String,
    customer: TenantId,
    subscription: String,
    key_body: String,
}

async fn measure(args: &Args, url: &str, dir: &Path) -> anyhow::Result<Measured> {
    let services = start_services(url, dir).await?;
    let dev = DevIssuer::load_or_create(dir.join("dev-issuer.key"))?;
    let conn = async_nats::connect(url).await.context("connecting")?;
    // Each observer on its own connection, as three separate readers would be.
    let observers = [
        async_nats::connect(url).await?,
        async_nats::connect(url).await?,
        async_nats::connect(url).await?,
        async_nats::connect(url).await?,
    ];
    // Ordering's publication itself, seen as it goes to JetStream (a JetStream publish is a
    // plain publish on the subject too): where a slow cancellation's time went.
    let mut published_events = observers[3]
        .subscribe("csp.evt.ordering.subscription_cancelled.>")
        .await
        .context("subscribing to ordering's cancellations")?;
    observers[3].flush().await.context("subscribing")?;
    let now = csp_bus::clock::wall_seconds();
    let platform = |role: Role| {
        dev.mint_for(
            ActorKind::Platform,
            TenantId(Uuid::nil()),
            "bench",
            &[role],
            24 * 3600,
            now,
        )
    };
    let operator = platform(Role::Operator);
    import_sql_keys(&conn, &platform(Role::Importer), args.cancellations).await?;
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let preview = json!({ "month": month, "currency": "USD" }).to_string();

    let mut m = Measured {
        key: Vec::new(),
        refund: Vec::new(),
        audit: Vec::new(),
        floor: Vec::new(),
        published: Vec::new(),
        inboxes: Vec::new(),
    };
    eprintln!("  {} cancellations ...", args.cancellations);
    let poll = Duration::from_millis(args.poll_ms);
    for i in 0..args.cancellations {
        let ready = prepare(&conn, &dev, now, i, &preview).await?;
        let cancel = json!({"request_id": "cancel", "customer": ready.customer,
            "subscription_id": ready.subscription})
        .to_string();
        let r = request(
            &conn,
            "csp.cmd.ordering.cancel_subscription",
            &ready.agent,
            cancel,
        )
        .await?;
        let cancelled = Instant::now();
        ensure!(r["ok"] == true, "cancel_subscription: {r}");
        let key = async {
            let mut trips = Vec::new();
            loop {
                let sent = Instant::now();
                let r = request(
                    &observers[0],
                    "csp.qry.entitlement.get_key",
                    &ready.agent,
                    ready.key_body.clone(),
                )
                .await?;
                trips.push(sent.elapsed());
                match r["error"]["code"].as_str() {
                    Some("entitlement_revoked") => break,
                    Some(other) => bail!("get_key after the cancellation: {other}: {r}"),
                    None => {}
                }
                tokio::time::sleep(poll).await;
            }
            anyhow::Ok((cancelled.elapsed(), trips))
        };
        let refund = async {
            loop {
                let r = request(
                    &observers[1],
                    "csp.qry.billing.preview_invoice",
                    &ready.reader,
                    preview.clone(),
                )
                .await?;
                if kinds(&r).iter().any(|k| k == "refund") {
                    break;
                }
                tokio::time::sleep(poll).await;
            }
            anyhow::Ok(cancelled.elapsed())
        };
        let audited = async {
            // The cancellation is ordering's latest event: nothing else writes to ordering.
            let s = request(
                &observers[2],
                "csp.admin.ordering.status",
                &operator,
                "{}".into(),
            )
            .await?;
            let (epoch, seq) = (
                s["result"]["epoch"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                s["result"]["last_outbox_seq"].as_u64().unwrap_or(u64::MAX),
            );
            loop {
                let s = request(
                    &observers[2],
                    "csp.admin.audit.status",
                    &operator,
                    "{}".into(),
                )
                .await?;
                if s["result"]["upstream_positions"]["ordering"][&epoch].as_u64() >= Some(seq) {
                    break;
                }
                tokio::time::sleep(poll).await;
            }
            anyhow::Ok(cancelled.elapsed())
        };
        let customer_token = ready.customer.to_string();
        let published = async {
            loop {
                let msg = tokio::time::timeout(Duration::from_secs(30), published_events.next())
                    .await
                    .context("ordering never published the cancellation")?
                    .context("the subscription ended")?;
                if msg.subject.ends_with(customer_token.as_str()) {
                    return anyhow::Ok(cancelled.elapsed());
                }
            }
        };
        let (key, refund, audited, published) = tokio::try_join!(key, refund, audited, published)?;
        m.published.push(published);
        m.key.push(key.0);
        m.floor.extend(key.1);
        m.refund.push(refund);
        m.audit.push(audited);
        if (i + 1) % 100 == 0 {
            eprintln!("  {} done", i + 1);
        }
    }
    for service in ["entitlement", "billing", "audit"] {
        let s = request(
            &conn,
            &format!("csp.admin.{service}.status"),
            &operator,
            "{}".into(),
        )
        .await?;
        m.inboxes.push((service, s["result"]["inbox"].clone()));
    }
    drop(services);
    Ok(m)
}

/// The kinds of an invoice page's lines.
fn kinds(reply: &Value) -> Vec<String> {
    reply["result"]["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["kind"].as_str().map(str::to_string))
        .collect()
}

/// A fresh partner and customer, a SQL Server subscription, its key generated and shown, its
/// charge on the preview: everything the cancellation will undo, already everywhere.
async fn prepare(
    conn: &async_nats::Client,
    dev: &DevIssuer,
    now: i64,
    i: u64,
    preview: &str,
) -> anyhow::Result<Ready> {
    let partner = TenantId(Uuid::now_v7());
    let customer = TenantId(Uuid::now_v7());
    let mint = |role: Role| {
        dev.mint_for(
            ActorKind::Partner,
            partner,
            "bench",
            &[role],
            24 * 3600,
            now,
        )
    };
    let (agent, reader) = (mint(Role::AdminAgent), mint(Role::BillingAdmin));
    let add = json!({"request_id": "add", "tenant_id": customer, "domain": format!("c{i}.example"),
        "company_name": "Bench", "country": "US", "currency": "USD"});
    let r = request(
        conn,
        "csp.cmd.ordering.add_customer",
        &agent,
        add.to_string(),
    )
    .await?;
    ensure!(r["ok"] == true, "add_customer: {r}");
    let order = json!({"request_id": "o", "customer": customer, "lines": [{"product": PRODUCT,
        "sku": SKU, "quantity": 1, "term": "P1Y", "billing_plan": "annual"}]});
    let r = request(
        conn,
        "csp.cmd.ordering.place_order",
        &agent,
        order.to_string(),
    )
    .await?;
    ensure!(r["ok"] == true, "place_order: {r}");
    let subscription = r["result"]["lines"][0]["subscription_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    generate_sql_key(conn, &agent, customer, &subscription).await?;
    let key_body =
        json!({"customer": customer, "entitlement": subscription, "version": VERSION}).to_string();
    let r = request(
        conn,
        "csp.qry.entitlement.get_key",
        &agent,
        key_body.clone(),
    )
    .await?;
    ensure!(r["ok"] == true, "get_key before the cancellation: {r}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = request(
            conn,
            "csp.qry.billing.preview_invoice",
            &reader,
            preview.to_string(),
        )
        .await?;
        if kinds(&r).iter().any(|k| k == "charge") {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the charge never reached the preview: {r}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Ready {
        agent,
        reader,
        customer,
        subscription,
        key_body,
    })
}
