//! `csp bench ordering`: `place_order` over NATS request/reply from concurrent clients, each
//! answered only after its events and request record are durable, beside two figures from the
//! same run that bound it:
//!
//! - **ceiling**: the event log alone — the same number of tasks each appending, durably, what
//!   one order appends (its two events, of the sizes the service wrote, and a request record);
//! - **request/reply floor**: the same clients sending a query (`get_customers`) through the
//!   same path (NATS, token verification, strict decoding, the handler) but appending nothing.
//!
//! With the log's own counters (appends per group, sled transaction and flush time) they say
//! where an order's time goes.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use bytes::Bytes;
use csp_auth::DevIssuer;
use csp_bus::runtime::AUTHORIZATION;
use csp_eventlog::{Batch, EventLog, LogOptions, LogStats, NewEvent, NewRequest};
use csp_events::{ActorKind, Role, TenantId};
use csp_ordering::service::OrderingService;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::bench::{header, rate};
use crate::serve::{Node, NodeArgs};

/// Arguments of `csp bench ordering`.
#[derive(clap::Args)]
pub struct Args {
    /// Orders to place (and appends for the ceiling, queries for the floor).
    #[arg(long, default_value_t = 20_000)]
    orders: u64,
    /// Concurrent clients, each sending one request at a time.
    #[arg(long, default_value_t = 64)]
    clients: u64,
    /// NATS connections the clients share.
    #[arg(long, default_value_t = 8)]
    connections: u64,
    /// Place the orders only (no ceiling, no floor): for a profiler, so every sample is the
    /// service's.
    #[arg(long)]
    orders_only: bool,
    /// Skip the sync to stable storage (`fdatasync`) after each flush of every log (the
    /// service's and the ceiling's alike): acknowledged appends then survive a killed process
    /// but not a power cut. Only to show what the sync costs; never how a service runs.
    #[arg(long)]
    unsafe_no_fsync: bool,
    /// A running nats-server to use (default: start one on a free port with a temporary
    /// JetStream directory).
    #[arg(long)]
    nats: Option<String>,
}

/// What the clients measured.
pub(crate) struct Load {
    pub(crate) done: u64,
    pub(crate) elapsed: Duration,
    /// Every request's latency, sorted.
    pub(crate) latencies: Vec<Duration>,
}

impl Load {
    /// Waits for every task's latencies; the elapsed time runs from `start` to the last one.
    pub(crate) async fn collect(
        start: Instant,
        tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Duration>>>>,
    ) -> anyhow::Result<Load> {
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.context("a load task panicked")??);
        }
        let elapsed = start.elapsed();
        latencies.sort_unstable();
        Ok(Load {
            done: latencies.len() as u64,
            elapsed,
            latencies,
        })
    }

    pub(crate) fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    /// Its row of a bench's table: the figure, the count, the rate, p50 and p99 in ms, the
    /// ratio to `ceiling` (requests per second; `-` without one) and the target.
    pub(crate) fn row(&self, figure: &str, ceiling: Option<f64>, target: &str) -> String {
        let r = rate(self.done, self.elapsed);
        let ratio = ceiling
            .filter(|c| *c > 0.0)
            .map_or_else(|| "-".to_string(), |c| format!("{:.2}", r / c));
        format!(
            "| {figure} | {} | {r:.0} | {:.2} | {:.2} | {ratio} | {target} |",
            self.done,
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
        )
    }
}

/// The `p` quantile (0 to 1) of sorted latencies; zero for none.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<()> {
    ensure!(
        args.clients > 0 && args.connections > 0,
        "--clients and --connections must be > 0"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let (_server, url) = crate::bench::nats(args.nats.as_deref())?;
    let dir = crate::fresh_dir("csp-bench-ordering")?;
    let result = rt.block_on(measure(&args, &url, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    let (orders, queries, ceiling, stats, sizes) = result?;
    report(&args, &orders, &queries, &ceiling, &stats, sizes);
    Ok(())
}

type Measured = (Load, Load, Load, LogStats, (usize, usize));

async fn measure(args: &Args, url: &str, dir: &Path) -> anyhow::Result<Measured> {
    let node_args = NodeArgs {
        durability: crate::bench::durability(args.unsafe_no_fsync),
        ..NodeArgs::new(dir.to_path_buf())
    };
    let bus = csp_bus::Bus::connect(url)
        .await
        .context("connecting the service")?;
    let node = Node::new(bus, &node_args)?;
    let service = node
        .start::<OrderingService>(
            &dir.join("ordering").join("log"),
            crate::serve::catalog(None)?,
        )
        .await?;
    let dev = DevIssuer::load_or_create(dir.join("dev-issuer.key"))?;
    let mut connections = Vec::new();
    for _ in 0..args.connections {
        connections.push(
            async_nats::connect(url)
                .await
                .context("connecting a client")?,
        );
    }

    // One partner and one customer per client.
    let now = csp_bus::clock::wall_seconds();
    let mut clients = Vec::new();
    for c in 0..args.clients {
        let partner = TenantId(Uuid::now_v7());
        let customer = TenantId(Uuid::now_v7());
        let token = dev.mint_for(
            ActorKind::Partner,
            partner,
            "bench",
            &[Role::AdminAgent],
            3600,
            now,
        );
        let conn = connections[(c % args.connections) as usize].clone();
        let body = json!({
            "request_id": format!("add-{c}"), "tenant_id": customer,
            "domain": format!("bench-{c}-{}.example", customer.0.simple()),
            "company_name": "Bench", "country": "US", "currency": "USD",
        });
        let r = request(
            &conn,
            "csp.cmd.ordering.add_customer",
            &token,
            body.to_string(),
        )
        .await?;
        ensure!(r["ok"] == true, "add_customer: {r}");
        clients.push((conn, token, customer));
    }
    let clients = Arc::new(clients);

    // Warm up (connections, caches, the writer's first groups), then the measured orders.
    eprintln!("  placing orders ...");
    drive(&clients, args.clients.min(args.orders), "warm", order_body).await?;
    let stats_before = service.log().stats();
    let orders = drive(&clients, args.orders, "po", order_body).await?;
    let stats = service.log().stats().since(&stats_before);
    let sizes = event_sizes(service.log())?;

    if args.orders_only {
        service.shutdown().await;
        let none = || Load {
            done: 0,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
        };
        return Ok((orders, none(), none(), stats, sizes));
    }
    eprintln!("  querying ...");
    let queries = drive(&clients, args.orders, "q", |_, _| "{}".to_string()).await?;
    service.shutdown().await;

    eprintln!("  appending to a bare log ...");
    let ceiling = bare_log(&dir.join("ceiling"), args, sizes).await?;
    Ok((orders, queries, ceiling, stats, sizes))
}

fn order_body(customer: TenantId, id: &str) -> String {
    json!({
        "request_id": id, "customer": customer,
        "lines": [{ "product": "sql-server-2022-standard", "sku": "2-core-p1y", "quantity": 2,
                    "term": "P1Y", "billing_plan": "annual" }],
    })
    .to_string()
}

pub(crate) async fn request(
    conn: &async_nats::Client,
    subject: &str,
    token: &str,
    body: String,
) -> anyhow::Result<Value> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(AUTHORIZATION, format!("Bearer {token}").as_str());
    let r = async_nats::Request::new()
        .payload(Bytes::from(body))
        .headers(headers)
        .timeout(Some(Duration::from_secs(30)));
    let reply = conn
        .send_request(subject.to_string(), r)
        .await
        .with_context(|| format!("request on {subject}"))?;
    serde_json::from_slice(&reply.payload).context("reply is not JSON")
}

/// `total` requests from every client at once (one in flight per client); `body(customer, id)`
/// makes each body. Commands go to `place_order`, `{}` bodies to `get_customers`.
async fn drive(
    clients: &Arc<Vec<(async_nats::Client, String, TenantId)>>,
    total: u64,
    tag: &'static str,
    body: fn(TenantId, &str) -> String,
) -> anyhow::Result<Load> {
    let n = clients.len() as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n {
        let clients = Arc::clone(clients);
        let count = total / n + u64::from(c < total % n);
        tasks.push(tokio::spawn(async move {
            let (conn, token, customer) = &clients[c as usize];
            let subject = if tag == "q" {
                "csp.qry.ordering.get_customers"
            } else {
                "csp.cmd.ordering.place_order"
            };
            let mut latencies = Vec::with_capacity(count as usize);
            for i in 0..count {
                let id = format!("{tag}-{c}-{i}");
                let sent = Instant::now();
                let r = request(conn, subject, token, body(*customer, &id)).await?;
                latencies.push(sent.elapsed());
                ensure!(r["ok"] == true, "{subject}: {r}");
            }
            anyhow::Ok(latencies)
        }));
    }
    Load::collect(start, tasks).await
}

/// The mean size of the events an order wrote, and of its reply (the request record).
fn event_sizes(log: &EventLog) -> anyhow::Result<(usize, usize)> {
    let (mut bytes, mut n) = (0usize, 0usize);
    for record in log.read_from(1).take(2_000) {
        let record = record?;
        bytes += record.bytes().len();
        n += 1;
    }
    ensure!(n > 0, "the service wrote nothing");
    // A place_order reply is about 300 bytes of JSON.
    Ok((bytes / n, 300))
}

/// The ceiling: `clients` tasks appending, each append what one order appends.
async fn bare_log(
    dir: &Path,
    args: &Args,
    (event_bytes, reply_bytes): (usize, usize),
) -> anyhow::Result<Load> {
    let opts = LogOptions {
        durability: crate::bench::durability(args.unsafe_no_fsync),
        ..LogOptions::default()
    };
    let log = EventLog::open(dir, opts).context("opening the ceiling's log")?;
    let n = args.clients;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n {
        let log = log.clone();
        let count = args.orders / n + u64::from(c < args.orders % n);
        tasks.push(tokio::spawn(async move {
            let tenant = Uuid::now_v7();
            let mut latencies = Vec::with_capacity(count as usize);
            for i in 0..count {
                let order = Uuid::now_v7();
                let event = |stream: String| NewEvent {
                    event_id: Uuid::now_v7(),
                    stream,
                    version: 1,
                    publish: true,
                    bytes: vec![0x5a; event_bytes],
                };
                let sent = Instant::now();
                log.append(Batch {
                    events: vec![
                        event(format!("order/{order}")),
                        event(format!("subscription/{order}")),
                    ],
                    request: Some(NewRequest {
                        tenant,
                        request_id: format!("c-{c}-{i}"),
                        body_hash: [7; 32],
                        reply: vec![b'r'; reply_bytes],
                    }),
                })
                .await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    Load::collect(start, tasks).await
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(
    args: &Args,
    orders: &Load,
    queries: &Load,
    ceiling: &Load,
    st: &LogStats,
    sizes: (usize, usize),
) {
    let c = rate(ceiling.done, ceiling.elapsed);
    header(&format!(
        "csp bench ordering --orders {} --clients {} --connections {}{}",
        args.orders,
        args.clients,
        args.connections,
        crate::bench::durability_flag(args.unsafe_no_fsync)
    ));
    println!();
    println!(
        "| figure | requests | per second | p50 ms | p99 ms | ratio to the ceiling | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    let c = (ceiling.done > 0).then_some(c);
    let figure = format!(
        "place_order over NATS, durable before the reply, {} clients",
        args.clients
    );
    let target = ">= 3,000/s, p99 <= 50 ms (goal 10,000/s, p99 <= 20 ms)";
    println!("{}", orders.row(&figure, c, target));
    if c.is_none() {
        return report_log(st, orders);
    }
    let figure = format!(
        "ceiling: the event log alone, {} tasks, one order's append each (2 events of {} B + request record)",
        args.clients, sizes.0
    );
    println!("{}", ceiling.row(&figure, c, ""));
    let figure = "floor: get_customers over the same path, nothing appended";
    println!("{}", queries.row(figure, c, ""));
    report_log(st, orders);
}

fn report_log(st: &LogStats, orders: &Load) {
    println!();
    let groups = st.groups.max(1) as f64;
    let secs = orders.elapsed.as_secs_f64();
    println!(
        "the service's log during the orders: {} appends in {} groups ({:.1} per group), {} flushes; \
         writer per group: decide {:.0} us, sled transaction {:.0} us; flusher per flush: sled's flush {:.0} us, \
         sync to stable storage {:.0} us; busy share of the wall time: writer {:.0} %, flusher {:.0} %",
        st.appends,
        st.groups,
        st.appends as f64 / groups,
        st.flushes,
        st.decide_micros as f64 / groups,
        st.apply_micros as f64 / groups,
        st.flush_micros as f64 / st.flushes.max(1) as f64,
        st.sync_micros as f64 / st.syncs.max(1) as f64,
        (st.decide_micros + st.apply_micros) as f64 / 1e4 / secs,
        (st.flush_micros + st.sync_micros) as f64 / 1e4 / secs,
    );
}
