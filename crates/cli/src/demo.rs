//! `csp demo`: csp's story, told by the system itself on a manual clock. Every step is a real
//! request over the bus (in-process by default, NATS with `--nats`), with a real token, and
//! every outcome is checked: a demo that narrates something the system did not do fails, so it
//! doubles as the smoke test a new user runs first.
//!
//! Later services extend the story (keys, invoices, the audit trail) where the comments say.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use csp_auth::DevIssuer;
use csp_bus::runtime::admin_subject;
use csp_bus::Bus;
use csp_events::billing::{InvoiceStatus, LineKind, Month};
use csp_events::{subject, ActorKind, Money, Role, TenantId, Timestamp};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::invoice::{Billing, Which};
use crate::send::{error_line, Client};
use crate::serve::{Node, NodeArgs, System};

const SERVICE: &str = csp_ordering::service::SERVICE;

/// Arguments of `csp demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Run against a system already up on this NATS server (started with `--manual-clock`, and
    /// `--data` pointing at its data directory for the development issuer's key). Without it,
    /// the demo starts its own system in this process on the in-process bus.
    #[arg(long, env = "CSP_NATS_URL")]
    nats: Option<String>,
    /// Data directory: the running system's (with `--nats`) or where the embedded system keeps
    /// its logs (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the embedded system's manual clock starts (RFC 3339).
    #[arg(long, default_value = "2026-03-02T09:00:00Z")]
    start: Timestamp,
}

/// The story's cast and its connection to the system.
struct Demo {
    client: Client,
    dev: DevIssuer,
    partner: TenantId,
    started: Timestamp,
    now: Timestamp,
}

fn tenant() -> TenantId {
    TenantId(Uuid::now_v7())
}

/// The last 8 hex digits of an id: UUID v7s made in the same millisecond share their first ones.
fn short(id: &Value) -> String {
    id.as_str()
        .and_then(|s| s.get(s.len().saturating_sub(8)..))
        .map(str::to_string)
        .unwrap_or_else(|| "?".into())
}

fn money(v: &Value) -> String {
    serde_json::from_value::<Money>(v.clone())
        .map(|m| m.to_string())
        .unwrap_or_else(|_| v.to_string())
}

impl Demo {
    fn token(&self, kind: ActorKind, tenant: TenantId, user: &str, role: Role) -> String {
        let now = csp_bus::clock::wall_seconds();
        self.dev.mint_for(kind, tenant, user, &[role], 3600, now)
    }

    /// The platform operator who moves the story's clock and reads the service's status.
    fn operator(&self) -> String {
        let platform = TenantId(uuid::Uuid::nil());
        self.token(ActorKind::Platform, platform, "ops@csp", Role::Operator)
    }

    /// The partner's billing administrator, who reads its invoices (B10).
    fn billing_admin(&self) -> String {
        self.token(
            ActorKind::Partner,
            self.partner,
            "bea@contoso-partners",
            Role::BillingAdmin,
        )
    }

    fn agent(&self) -> String {
        self.token(
            ActorKind::Partner,
            self.partner,
            "alex@contoso-partners",
            Role::AdminAgent,
        )
    }

    async fn call(
        &self,
        kind: &str,
        name: &str,
        token: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        self.call_on(SERVICE, kind, name, token, body).await
    }

    async fn call_on(
        &self,
        service: &str,
        kind: &str,
        name: &str,
        token: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let subject = match kind {
            "cmd" => subject::command(service, name),
            _ => subject::query(service, name),
        };
        self.client.request(&subject, token, &body).await
    }

    /// A request to entitlement the story expects to succeed: its `result`.
    async fn entitlement(
        &self,
        kind: &str,
        name: &str,
        token: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        self.ok_on(csp_events::entitlement::SERVICE, kind, name, token, body)
            .await
    }

    /// A request to ordering the story expects to succeed: its `result`.
    async fn ok(&self, kind: &str, name: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        self.ok_on(SERVICE, kind, name, token, body).await
    }

    /// A request to `service` the story expects to succeed: its `result`.
    async fn ok_on(
        &self,
        service: &str,
        kind: &str,
        name: &str,
        token: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let reply = self.call_on(service, kind, name, token, body).await?;
        if let Some(line) = error_line(&reply) {
            bail!("{name} was refused, which the story did not expect: {line}");
        }
        Ok(reply["result"].clone())
    }

    /// A request the story expects to be refused with `code`: the error.
    async fn refused(
        &self,
        name: &str,
        token: &str,
        body: Value,
        code: &str,
    ) -> anyhow::Result<Value> {
        let reply = self.call("cmd", name, token, body).await?;
        if reply["error"]["code"] != code {
            bail!("{name} should have been refused with {code}; the reply was {reply}");
        }
        Ok(reply["error"].clone())
    }

    /// Moves the system's clock to `days` (and `hours`) after the story's start.
    async fn day(&mut self, days: i64, hours: i64, title: &str) -> anyhow::Result<()> {
        let to = Timestamp::from_micros(
            self.started.as_micros() + (days * 24 + hours) * 3_600 * 1_000_000,
        );
        let reply = self
            .client
            .request(
                &admin_subject(SERVICE, "clock"),
                &self.operator(),
                &json!({ "set": to }),
            )
            .await?;
        if let Some(line) = error_line(&reply) {
            bail!("moving the clock: {line}");
        }
        self.now = to;
        println!(
            "\nDay {days:<3} {}  {title}",
            to.to_string().replace('T', " ")
        );
        Ok(())
    }

    async fn wait_for(
        &self,
        what: &str,
        query: &str,
        token: &str,
        body: Value,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let result = self.ok("qry", query, token, body.clone()).await?;
            if done(&result) {
                return Ok(result);
            }
            if std::time::Instant::now() > deadline {
                bail!("waited 10 s for {what}; last answer: {result}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn line(product: &str, sku: &str, quantity: u32, term: &str, plan: &str) -> Value {
    json!({ "product": product, "sku": sku, "quantity": quantity, "term": term, "billing_plan": plan })
}

async fn story(d: &mut Demo) -> anyhow::Result<()> {
    let agent = d.agent();
    let run = Uuid::now_v7().simple().to_string();
    let rid = |s: &str| format!("demo-{run}-{s}");
    let (fabrikam, wingtip) = (tenant(), tenant());
    let fabrikam_domain = format!("fabrikam-{}.example", &run[24..]);
    let wingtip_domain = format!("wingtip-{}.example.au", &run[24..]);

    d.day(0, 0, "a partner signs up two customers and buys for them")
        .await?;
    d.ok(
        "cmd",
        "add_customer",
        &agent,
        json!({
            "request_id": rid("add-fabrikam"), "tenant_id": fabrikam, "domain": fabrikam_domain,
            "company_name": "Fabrikam, Inc.", "country": "US", "currency": "USD",
        }),
    )
    .await?;
    println!("  + customer {fabrikam_domain} (United States, billed in USD)");
    d.ok(
        "cmd",
        "add_customer",
        &agent,
        json!({
            "request_id": rid("add-wingtip"), "tenant_id": wingtip, "domain": wingtip_domain,
            "company_name": "Wingtip Toys Pty Ltd", "country": "AU", "currency": "AUD",
        }),
    )
    .await?;
    println!("  + customer {wingtip_domain} (Australia, billed in AUD, prices include tax)");

    let review = d
        .ok(
            "qry",
            "review_order",
            &agent,
            json!({
                "customer": fabrikam_domain,
                "lines": [line("windows-server-2022-standard", "16-core-p1y", 2, "P1Y", "annual")],
            }),
        )
        .await?;
    println!(
        "  ? review: 2 x Windows Server 2022 Standard 16-core, 1 year: {} (nothing recorded)",
        money(&review["total"])
    );
    let fab_order = d
        .ok(
            "cmd",
            "place_order",
            &agent,
            json!({
                "request_id": rid("order-fabrikam"), "customer": fabrikam_domain,
                "lines": [
                    line("windows-server-2022-standard", "16-core-p1y", 2, "P1Y", "annual"),
                    line("sql-server-2022-standard", "2-core-p1y", 4, "P1Y", "annual"),
                ],
            }),
        )
        .await?;
    let windows_sub = fab_order["lines"][0]["subscription_id"].clone();
    let sql_sub = fab_order["lines"][1]["subscription_id"].clone();
    println!(
        "  + order {} for {fabrikam_domain}: Windows Server + SQL Server subscriptions, {}",
        short(&fab_order["order_id"]),
        money(&fab_order["total"])
    );
    let wing_order = d.ok("cmd", "place_order", &agent, json!({
        "request_id": rid("order-wingtip"), "customer": wingtip,
        "lines": [
            line("rhel-software-plan", "1-4-vcpu-p1y", 3, "P1Y", "annual"),
            line("sql-server-2022-standard-perpetual", "2-core", 2, "perpetual", "one_time"),
        ],
    })).await?;
    let rhel_sub = wing_order["lines"][0]["subscription_id"].clone();
    println!(
        "  + order {} for {wingtip_domain}: a Red Hat plan and perpetual SQL Server, {} (tax included)",
        short(&wing_order["order_id"]),
        money(&wing_order["total"])
    );
    let sales = d.token(
        ActorKind::Partner,
        d.partner,
        "sam@contoso-partners",
        Role::SalesAgent,
    );
    d.refused(
        "place_order",
        &sales,
        json!({
            "request_id": rid("sales-order"), "customer": fabrikam_domain,
            "lines": [line("sql-server-2022-enterprise", "2-core-p1y", 1, "P1Y", "annual")],
        }),
        "forbidden",
    )
    .await?;
    println!(
        "  x a sales agent tries to buy: forbidden (recorded as AccessRefused for the audit trail)"
    );

    keys(d, fabrikam, &sql_sub, &sales).await?;

    d.day(3, 0, "inside the 7-day window").await?;
    let cancelled = d
        .ok(
            "cmd",
            "cancel_subscription",
            &agent,
            json!({
                "request_id": rid("cancel-windows"), "customer": fabrikam_domain,
                "subscription_id": windows_sub,
            }),
        )
        .await?;
    println!(
        "  + Windows Server subscription {} cancelled at {}",
        short(&windows_sub),
        cancelled["cancelled_at"].as_str().unwrap_or("?")
    );

    d.day(8, 0, "the window has closed").await?;
    let info = d
        .ok(
            "qry",
            "cancellation_info",
            &agent,
            json!({
                "customer": fabrikam_domain, "subscription_id": sql_sub,
            }),
        )
        .await?;
    println!(
        "  ? SQL Server subscription {}: window ended {}",
        short(&sql_sub),
        info["windows"][0]["window_ends_at"].as_str().unwrap_or("?")
    );
    let e = d.refused("cancel_subscription", &agent, json!({
        "request_id": rid("cancel-sql"), "customer": fabrikam_domain, "subscription_id": sql_sub,
    }), "cancellation_window_closed").await?;
    println!(
        "  x cancelling it: cancellation_window_closed — {}",
        e["message"].as_str().unwrap_or("")
    );
    let e = d.refused("cancel_subscription", &agent, json!({
        "request_id": rid("cancel-rhel"), "customer": wingtip_domain, "subscription_id": rhel_sub,
    }), "not_cancellable").await?;
    println!(
        "  x cancelling the Red Hat plan: not_cancellable — {}",
        e["message"].as_str().unwrap_or("")
    );

    d.day(10, 0, "perpetual software has 30 days").await?;
    let r = d
        .ok(
            "cmd",
            "cancel_perpetual",
            &agent,
            json!({
                "request_id": rid("cancel-perpetual"), "customer": wingtip_domain,
                "order_ids": [wing_order["order_id"]],
            }),
        )
        .await?;
    println!(
        "  + perpetual SQL Server of order {} cancelled ({} purchase)",
        short(&wing_order["order_id"]),
        r["results"][0]["cancelled"].as_array().map_or(0, Vec::len)
    );
    // Entitlement (next) revokes its keys here; billing credits 100% (the invoice below).

    let importer = d.token(
        ActorKind::Platform,
        TenantId(Uuid::nil()),
        "importer@platform",
        Role::Importer,
    );
    let imported = d
        .ok(
            "cmd",
            "import_orders",
            &importer,
            json!({
                "request_id": rid("backfill-2021"),
                "orders": [{
                    "customer": fabrikam_domain, "purchased_at": "2021-10-13T15:30:00Z",
                    "lines": [line("sql-server-2022-standard", "2-core-p1y", 2, "P1Y", "annual")],
                }],
            }),
        )
        .await?;
    let old_order = imported["results"][0]["order"]["order_id"].clone();
    let orders = d
        .ok(
            "qry",
            "get_orders",
            &agent,
            json!({ "customer": fabrikam_domain }),
        )
        .await?;
    let subs = d
        .ok(
            "qry",
            "get_subscriptions",
            &agent,
            json!({ "customer": fabrikam_domain }),
        )
        .await?;
    let listed = subs["subscriptions"].as_array().map_or(0, Vec::len);
    let old = orders["orders"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["order_id"] == old_order));
    let expired = old.is_some_and(|o| o["lines"][0]["status"] == "expired");
    if old.is_none() || !expired || listed != 2 {
        bail!("the backfilled order should be in get_orders and expired ({old:?}), and not in get_subscriptions ({listed} listed)");
    }
    println!(
        "  + the platform importer backfills order {} bought 2021-10-13 (before the 2021-10-14 cut-over):",
        short(&old_order)
    );
    println!("    in Get Orders, not in Get Subscriptions ({listed} listed), never auto-renewed, expired at its term end");

    d.day(365, 1, "a year on: terms end").await?;
    let renewed = d
        .wait_for(
            "the SQL Server renewal",
            "get_subscription",
            &agent,
            json!({ "customer": fabrikam_domain, "subscription_id": sql_sub }),
            |s| s["term_number"] == 2,
        )
        .await?;
    println!(
        "  + SQL Server subscription {} renewed at its term end: term 2 until {}, window until {}",
        short(&sql_sub),
        renewed["term_end"].as_str().unwrap_or("?"),
        renewed["cancellable_until"].as_str().unwrap_or("?")
    );
    let rhel = d
        .ok(
            "qry",
            "get_subscription",
            &agent,
            json!({ "customer": wingtip_domain, "subscription_id": rhel_sub }),
        )
        .await?;
    println!(
        "  + the Red Hat plan renewed too (term {}): turn auto-renew off to let it end",
        rhel["term_number"]
    );

    // Billing closed every month the clock passed; the story's first month holds its whole
    // first act: charges, the refund inside the window, the perpetual credit.
    let month = Month::of(d.started);
    let billing = Billing::new(d.client.clone(), d.billing_admin());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let issued = loop {
        let listed = billing.list(d.partner).await?;
        let issued: Vec<_> = listed
            .into_iter()
            .filter(|s| s.invoice.month == month && s.status == InvoiceStatus::Issued)
            .collect();
        if issued.len() == 2 {
            break issued;
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "waited 20 s for {month}'s two invoices (USD and AUD); issued: {}",
                issued.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("  + {month} closed: billing issued the partner's invoices, one per currency");
    for s in issued {
        let which = Which {
            partner: d.partner,
            month,
            currency: Some(s.invoice.currency),
        };
        let (status, head, lines) = billing.invoice(which).await?;
        let of = |kind: LineKind| lines.iter().filter(|l| l.kind == kind).collect::<Vec<_>>();
        let (charges, refunds, credits) = (
            of(LineKind::Charge),
            of(LineKind::Refund),
            of(LineKind::Credit),
        );
        match head.currency.to_string().as_str() {
            // Windows and SQL Server charged; Windows refunded pro rata (4 started days of 365 used).
            "USD"
                if charges.len() == 2
                    && refunds.len() == 1
                    && credits.is_empty()
                    && refunds[0].amount.amount_minor.abs() < charges[0].amount.amount_minor => {}
            // The Red Hat plan and the perpetual SQL Server charged; the perpetual credited 100%.
            "AUD"
                if charges.len() == 2
                    && refunds.is_empty()
                    && credits.len() == 1
                    && charges
                        .iter()
                        .any(|c| c.amount.amount_minor == -credits[0].amount.amount_minor) => {}
            _ => bail!("{} does not hold what the story did: {head:?}", head.number),
        }
        println!();
        for row in crate::invoice::render(status, &head, &lines).lines() {
            println!("    {row}");
        }
    }
    audit(d).await
}

/// The keys act: the platform imports SQL Server keys (sealed, in chunks); the partner's agent
/// generates keys and a download for the SQL Server subscription; the customer's own global
/// admin views the key; a sales agent is refused (K5) — every view recorded first (K7).
async fn keys(d: &Demo, customer: TenantId, sql_sub: &Value, sales: &str) -> anyhow::Result<()> {
    let agent = d.agent();
    let admin = d.token(
        ActorKind::Customer,
        customer,
        "cam@fabrikam",
        Role::GlobalAdmin,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = d
            .entitlement(
                "qry",
                "get_software",
                &admin,
                json!({ "customer": customer }),
            )
            .await?;
        let granted = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["entitlement"] == *sql_sub);
        if granted {
            break;
        }
        if std::time::Instant::now() > deadline {
            bail!("waited 20 s for entitlement to grant the SQL Server subscription");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pool = csp_events::entitlement::PoolRef {
        product: csp_events::market::ProductId::new("sql-server-2022-standard")
            .map_err(anyhow::Error::msg)?,
        sku: csp_events::market::SkuId::new("2-core-p1y").map_err(anyhow::Error::msg)?,
        version: "SQL Server 2022".into(),
    };
    let file =
        csp_entitlement::import::generate(&[(&pool, 3)]).context("no randomness from the OS")?;
    let importer = d.token(
        ActorKind::Platform,
        TenantId(Uuid::nil()),
        "importer@csp",
        Role::Importer,
    );
    crate::keys::import_text(&d.client, &importer, &file, "the demo's key file").await?;
    println!("  + the platform imports 3 SQL Server 2022 keys, sealed to entitlement's import key");
    let selection = json!({ "customer": customer, "entitlement": sql_sub, "version": "SQL Server 2022",
        "language": "English", "file_type": "ISO (x64)" });
    let mut generate = selection.clone();
    generate["request_id"] = json!(format!("demo-keys-{}", short(sql_sub)));
    d.entitlement("cmd", "generate_keys", &agent, generate)
        .await?;
    let get_key =
        json!({ "customer": customer, "entitlement": sql_sub, "version": "SQL Server 2022" });
    let shown = d
        .entitlement("qry", "get_key", &admin, get_key.clone())
        .await?;
    let key = shown["key"].as_str().unwrap_or_default();
    if key.len() != 29 {
        bail!("the key shown is not five groups of five characters");
    }
    println!(
        "  + keys generated; the customer's global admin views the SQL Server key {}-*****-*****-*****-***** (recorded first)",
        &key[..5]
    );
    let refused = d
        .call_on(
            csp_events::entitlement::SERVICE,
            "qry",
            "get_key",
            sales,
            get_key,
        )
        .await?;
    if refused["error"]["code"] != "forbidden" || refused.to_string().contains(key) {
        bail!("a sales agent should be refused the key; the reply was {refused}");
    }
    println!("  x a sales agent asks for the key: forbidden (recorded)");
    let link = d
        .entitlement("qry", "get_download_link", &agent, selection)
        .await?;
    if !link["url"].as_str().unwrap_or_default().contains("/dl/") {
        bail!("no download link: {link}");
    }
    println!("  + the agent takes a signed download link for the ISO (recorded)");
    Ok(())
}

/// The audit act: once audit holds every event the other services published, a signed
/// checkpoint of it all.
async fn audit(d: &Demo) -> anyhow::Result<()> {
    let audit_service = csp_audit::service::SERVICE;
    let status = |service: &'static str| async move {
        let reply = d
            .client
            .request(&admin_subject(service, "status"), &d.operator(), &json!({}))
            .await?;
        if let Some(line) = error_line(&reply) {
            bail!("{service}'s status: {line}");
        }
        anyhow::Ok(reply["result"].clone())
    };
    let producers = [
        csp_ordering::service::SERVICE,
        csp_entitlement::service::SERVICE,
        csp_billing::service::SERVICE,
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let published = loop {
        let held = status(audit_service).await?;
        let mut behind = Vec::new();
        let mut published = 0;
        for p in producers {
            let s = status(p).await?;
            let last = s["last_outbox_seq"].as_u64().unwrap_or(0);
            published += last;
            let epoch = s["epoch"].as_str().unwrap_or_default();
            let at = held["upstream_positions"][p][epoch].as_u64().unwrap_or(0);
            if at < last {
                behind.push(format!("{p} {at}/{last}"));
            }
        }
        if behind.is_empty() {
            break published;
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "waited 20 s for audit to hold every published event; behind: {}",
                behind.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reply = d
        .client
        .request(
            &subject::command(audit_service, "sign_checkpoint"),
            &d.operator(),
            &json!({ "request_id": format!("demo-checkpoint-{}", d.now) }),
        )
        .await?;
    if let Some(line) = error_line(&reply) {
        bail!("sign_checkpoint: {line}");
    }
    let checkpoint = &reply["result"];
    let size = checkpoint["size"].as_u64().unwrap_or(0);
    if size < published {
        bail!("the checkpoint covers {size} leaves, fewer than the {published} events published");
    }
    println!(
        "\n  + audit holds all {published} events ordering, entitlement and billing published, each once, and its own; its signed checkpoint:"
    );
    for row in checkpoint["text"].as_str().unwrap_or_default().lines() {
        println!("    {row}");
    }
    // A2–A4: the partner's activity log, as its global admin reads it.
    let reader = d.token(
        ActorKind::Partner,
        d.partner,
        "gail@contoso-partners",
        Role::GlobalAdmin,
    );
    let to = Timestamp::from_micros(d.now.as_micros() + 3_600_000_000);
    let records = crate::audit::all_activity(&d.client, &reader, d.partner, d.started, to).await?;
    let summary: Vec<(String, bool)> = records
        .iter()
        .map(|r| {
            (
                serde_json::to_value(r.action)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                r.refused,
            )
        })
        .collect();
    let expected = [
        ("\"view_key\"", false),
        ("\"view_key\"", true),
        ("\"download\"", false),
    ];
    if summary
        .iter()
        .map(|(a, r)| (a.as_str(), *r))
        .collect::<Vec<_>>()
        != expected
    {
        bail!("the activity log does not hold the key view, the refused view and the download: {summary:?}");
    }
    println!("\n  + the partner's activity log (its global admin reads it; A2-A4):");
    for row in crate::audit::activity_table(&records).lines() {
        println!("    {row}");
    }
    Ok(())
}

/// Runs `csp demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let (data, temporary) = match (&args.data, &args.nats) {
            (Some(d), _) => (d.clone(), false),
            (None, None) => (crate::fresh_dir("csp-demo")?, true),
            (None, Some(_)) => bail!("--nats needs --data: the running system's data directory (its development issuer key)"),
        };
        let result = async {
            let (bus, system, where_) = match &args.nats {
                Some(url) => {
                    let bus = Bus::connect(url).await.with_context(|| format!("connecting to NATS at {url}"))?;
                    (bus, None, format!("the system on {url}"))
                }
                None => {
                    let mut node_args = NodeArgs {
                        manual_clock: Some(args.start),
                        cache_mib: 16,
                        ..NodeArgs::new(data.clone())
                    };
                    // Links on a free port: a demo never fights a running system for 8480.
                    node_args.entitlement.download_addr = ([127, 0, 0, 1], 0).into();
                    let node = Node::new(Bus::local(), &node_args)?;
                    let system = System::start(&node).await?;
                    (node.bus.clone(), Some(system), format!("an embedded system (in-process bus, data {})", data.display()))
                }
            };
            let dev = DevIssuer::load_or_create(data.join("dev-issuer.key")).context("the development issuer key")?;
            let client = Client::new(bus, Duration::from_secs(10));
            let mut demo = Demo { client, dev, partner: tenant(), started: args.start, now: args.start };
            let status = demo.client.request(&admin_subject(SERVICE, "status"), &demo.operator(), &json!({})).await?;
            if status["result"]["manual_clock"] != true {
                bail!("the system runs on the system clock; start it with --manual-clock to run the demo against it");
            }
            let now: Timestamp = serde_json::from_value(status["result"]["now"].clone()).context("the system's clock")?;
            demo.started = now;
            demo.now = now;
            println!("csp demo: ordering on {where_}, clock starting {now}");
            let told = story(&mut demo).await;
            let status = demo.client.request(&admin_subject(SERVICE, "status"), &demo.operator(), &json!({ "digest": true })).await?;
            if let Some(system) = system {
                system.shutdown().await;
            }
            told?;
            if args.nats.is_none() {
                // Stopped: the audit log read back from sled, the tree recomputed from its
                // leaves, against its checkpoints and every producer's own log.
                let audit = crate::serve::AuditArgs::default();
                let key = crate::serve::audit_key(&audit, &data)?;
                let report = crate::audit::verify_log(&data, None, &audit.audit_origin, key.public(), None)?;
                if !report.ok {
                    bail!("the audit log does not verify: {}", report.findings.join("; "));
                }
                println!(
                    "\nthe audit log verifies offline: {} leaves, root {}, {} signed checkpoints, every producer's events present once, in order",
                    report.leaves, report.root, report.checkpoints
                );
            }
            let s = &status["result"]["state"];
            println!(
                "\nordering now holds {} events: {} customers, {} orders; state digest {}",
                status["result"]["last_seq"], s["customers"], s["orders"],
                s["digest"].as_str().unwrap_or("?")
            );
            if temporary {
                println!("(give --data DIR to keep the logs; `csp replay ordering --data DIR` then recomputes that digest from them alone)");
            } else if args.nats.is_none() {
                println!("(`csp replay ordering --data {}` recomputes that digest from the log alone)", data.display());
            }
            Ok(())
        }
        .await;
        if temporary {
            let _ = std::fs::remove_dir_all(&data);
            if let Some(secrets) = crate::serve::default_master_key(&data).parent() {
                // The master key and the audit checkpoint key.
                let _ = std::fs::remove_dir_all(secrets);
            }
        }
        result
    })
}
