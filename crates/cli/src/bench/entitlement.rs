//! `csp bench entitlement`: recorded key views — `get_key` over NATS from concurrent clients,
//! each answered only after its `key_shown` is durable and the key opened from the keyring —
//! beside the ceiling measured in the same run: the event log alone, the same number of tasks
//! each appending, durably, one event of the size a view records. And a floor: the same clients
//! asking entitlement a query (`get_software`) over the same path, nothing recorded — what the
//! request path alone allows on the same cores.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use base64::Engine as _;
use csp_auth::DevIssuer;
use csp_eventlog::{Batch, EventLog, LogOptions, NewEvent};
use csp_events::entitlement::PoolRef;
use csp_events::market::{ProductId, SkuId};
use csp_events::{ActorKind, ImportId, Role, TenantId};
use serde_json::json;
use uuid::Uuid;

use crate::bench::ordering::{request, Load};
use crate::bench::{header, rate};
use crate::serve::{Node, NodeArgs};

/// Arguments of `csp bench entitlement`.
#[derive(clap::Args)]
pub struct Args {
    /// Key views to record (and appends for the ceiling).
    #[arg(long, default_value_t = 20_000)]
    views: u64,
    /// Concurrent clients, each sending one request at a time (each its own customer).
    #[arg(long, default_value_t = 64)]
    clients: u64,
    /// NATS connections the clients share (outside systems come on connections of their own;
    /// one connection for every client would measure that connection's writer task).
    #[arg(long, default_value_t = 8)]
    connections: u64,
    /// A running nats-server to use (default: one of its own on a free port).
    #[arg(long)]
    nats: Option<String>,
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
    let dir = crate::fresh_dir("csp-bench-entitlement")?;
    let result = rt.block_on(measure(&args, &url, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(secrets) = crate::serve::default_master_key(&dir).parent() {
        let _ = std::fs::remove_dir_all(secrets);
    }
    let (views, floor, ceiling, size) = result?;
    let c = rate(ceiling.done, ceiling.elapsed);
    header(&format!(
        "csp bench entitlement --views {} --clients {} --connections {}",
        args.views, args.clients, args.connections
    ));
    println!();
    println!(
        "| figure | requests | per second | p50 ms | p99 ms | ratio to the ceiling | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    let figure = format!(
        "get_key over NATS, key_shown durable before the key is opened and answered, {} clients",
        args.clients
    );
    println!("{}", views.row(&figure, Some(c), ">= 0.3 of the ceiling"));
    let figure = format!(
        "ceiling: the event log alone, {} tasks, one event of {size} B each",
        args.clients
    );
    println!("{}", ceiling.row(&figure, Some(c), ""));
    let figure = "floor: get_software over the same path, nothing recorded";
    println!("{}", floor.row(figure, Some(c), ""));
    Ok(())
}

async fn measure(args: &Args, url: &str, dir: &Path) -> anyhow::Result<(Load, Load, Load, usize)> {
    let mut node_args = NodeArgs::new(dir.to_path_buf());
    node_args.entitlement.download_addr = ([127, 0, 0, 1], 0).into();
    let bus = csp_bus::Bus::connect(url)
        .await
        .context("connecting the services")?;
    let node = Node::new(bus, &node_args)?;
    let ordering = node
        .start_named(csp_ordering::service::SERVICE, &dir.join("ordering"))
        .await?;
    let entitlement = node
        .start_named(csp_entitlement::service::SERVICE, &dir.join("entitlement"))
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
    let conn = connections[0].clone();
    let now = csp_bus::clock::wall_seconds();
    let importer = dev.mint_for(
        ActorKind::Platform,
        TenantId(Uuid::nil()),
        "bench",
        &[Role::Importer],
        3600,
        now,
    );
    import_sql_keys(&conn, &importer, args.clients).await?;

    // One partner, customer and SQL Server subscription per client, its key generated.
    eprintln!("  setting up {} customers ...", args.clients);
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
        let add = json!({"request_id": "add", "tenant_id": customer, "domain": format!("b{c}.example"),
            "company_name": "Bench", "country": "US", "currency": "USD"});
        let r = request(
            &conn,
            "csp.cmd.ordering.add_customer",
            &token,
            add.to_string(),
        )
        .await?;
        ensure!(r["ok"] == true, "add_customer: {r}");
        let order = json!({"request_id": "o", "customer": customer, "lines": [{"product": "sql-server-2022-standard",
            "sku": "2-core-p1y", "quantity": 1, "term": "P1Y", "billing_plan": "annual"}]});
        let r = request(
            &conn,
            "csp.cmd.ordering.place_order",
            &token,
            order.to_string(),
        )
        .await?;
        ensure!(r["ok"] == true, "place_order: {r}");
        let sub = r["result"]["lines"][0]["subscription_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        generate_sql_key(&conn, &token, customer, &sub).await?;
        let body = json!({"customer": customer, "entitlement": sub, "version": "SQL Server 2022"})
            .to_string();
        let software = json!({"customer": customer}).to_string();
        let own = connections[(c % args.connections) as usize].clone();
        clients.push(Client {
            conn: own,
            token,
            view: body,
            software,
        });
    }
    let clients = Arc::new(clients);
    eprintln!("  viewing keys ...");
    // Warm up (connections, caches), then the measured views.
    drive(&clients, VIEW, args.clients.min(args.views)).await?;
    let views = drive(&clients, VIEW, args.views).await?;
    eprintln!("  asking for the Software page (the floor) ...");
    let floor = drive(&clients, SOFTWARE, args.views).await?;
    entitlement.stop().await;
    ordering.stop().await;
    let size = {
        let log = EventLog::open(dir.join("entitlement").join("log"), LogOptions::default())?;
        let last = log.last_seq();
        let r = log
            .read_from(last)
            .next()
            .context("the service recorded nothing")??;
        r.bytes().len()
    };
    eprintln!("  appending to a bare log ...");
    let ceiling = bare_log(&dir.join("ceiling"), args, size).await?;
    Ok((views, floor, ceiling, size))
}

/// The SQL Server pool every key bench draws from.
pub(crate) const POOL: (&str, &str, &str) =
    ("sql-server-2022-standard", "2-core-p1y", "SQL Server 2022");

/// Fills the SQL Server pool with `n` generated keys, sealed to entitlement's import key and
/// sent in chunks, as `csp keys import` sends a file.
pub(crate) async fn import_sql_keys(
    conn: &async_nats::Client,
    importer: &str,
    n: u64,
) -> anyhow::Result<()> {
    let pool = PoolRef {
        product: ProductId::new(POOL.0).map_err(anyhow::Error::msg)?,
        sku: SkuId::new(POOL.1).map_err(anyhow::Error::msg)?,
        version: POOL.2.into(),
    };
    let key = request(
        conn,
        "csp.qry.entitlement.get_import_key",
        importer,
        "{}".into(),
    )
    .await?;
    let public: [u8; 32] = key["result"]["public_key"]
        .as_str()
        .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
        .and_then(|k| k.try_into().ok())
        .context("the import key")?;
    let count = usize::try_from(n).context("too many keys")?;
    let file = csp_entitlement::import::generate(&[(&pool, count)]).context("no randomness")?;
    for chunk in csp_entitlement::import::chunks(public, ImportId(Uuid::now_v7()), &file, "bench")?
    {
        let r = request(
            conn,
            "csp.cmd.entitlement.import_keys",
            importer,
            serde_json::to_string(&chunk)?,
        )
        .await?;
        ensure!(r["ok"] == true, "import_keys: {r}");
    }
    Ok(())
}

/// Generates the key of `subscription`'s entitlement, waiting (30 s at most) for entitlement
/// to have consumed the order.
pub(crate) async fn generate_sql_key(
    conn: &async_nats::Client,
    token: &str,
    customer: TenantId,
    subscription: &str,
) -> anyhow::Result<()> {
    let generate = json!({"request_id": "g", "customer": customer, "entitlement": subscription,
        "version": POOL.2, "language": "English", "file_type": "ISO (x64)"})
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = request(
            conn,
            "csp.cmd.entitlement.generate_keys",
            token,
            generate.clone(),
        )
        .await?;
        if r["ok"] == true {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "generate_keys: {r}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One bench client: its connection (shared with others), its token, and its two requests.
struct Client {
    conn: async_nats::Client,
    token: String,
    /// `get_key`'s body: a recorded view.
    view: String,
    /// `get_software`'s body: a query, nothing recorded.
    software: String,
}

/// The recorded view the bench measures.
const VIEW: &str = "csp.qry.entitlement.get_key";
/// The floor's query.
const SOFTWARE: &str = "csp.qry.entitlement.get_software";

async fn drive(
    clients: &Arc<Vec<Client>>,
    subject: &'static str,
    total: u64,
) -> anyhow::Result<Load> {
    let n = clients.len() as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n {
        let clients = Arc::clone(clients);
        let count = total / n + u64::from(c < total % n);
        tasks.push(tokio::spawn(async move {
            let client = &clients[c as usize];
            let body = if subject == VIEW {
                &client.view
            } else {
                &client.software
            };
            let mut latencies = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let sent = Instant::now();
                let r = request(&client.conn, subject, &client.token, body.clone()).await?;
                latencies.push(sent.elapsed());
                ensure!(r["ok"] == true, "{subject}: {r}");
            }
            anyhow::Ok(latencies)
        }));
    }
    Load::collect(start, tasks).await
}

async fn bare_log(dir: &Path, args: &Args, size: usize) -> anyhow::Result<Load> {
    let log = EventLog::open(dir, LogOptions::default()).context("opening the ceiling's log")?;
    let n = args.clients;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n {
        let log = log.clone();
        let count = args.views / n + u64::from(c < args.views % n);
        tasks.push(tokio::spawn(async move {
            let stream = format!("entitlement/{}", Uuid::now_v7());
            let mut latencies = Vec::with_capacity(count as usize);
            for i in 0..count {
                let sent = Instant::now();
                log.append(Batch {
                    events: vec![NewEvent {
                        event_id: Uuid::now_v7(),
                        stream: stream.clone(),
                        version: i + 1,
                        publish: true,
                        bytes: vec![0x5a; size],
                    }],
                    request: None,
                })
                .await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    Load::collect(start, tasks).await
}
