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

/// How long the story waits for what one service did to show in another.
const PATIENCE: Duration = Duration::from_secs(30);

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
        // Every service's clock: one shared clock when embedded (set again, it stays), four
        // when the services run as separate processes. Producers first, so that a consumer
        // never runs ahead of what it consumes.
        for service in [SERVICE, "entitlement", "billing", "audit"] {
            let reply = self
                .client
                .request(
                    &admin_subject(service, "clock"),
                    &self.operator(),
                    &json!({ "set": to }),
                )
                .await?;
            if let Some(line) = error_line(&reply) {
                bail!("moving {service}'s clock: {line}");
            }
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
        // Generous: over a cluster that is electing a new stream leader, events can take
        // seconds to flow; embedded, the wait ends in milliseconds.
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let result = self.ok("qry", query, token, body.clone()).await?;
            if done(&result) {
                return Ok(result);
            }
            if std::time::Instant::now() > deadline {
                bail!("waited {PATIENCE:?} for {what}; last answer: {result}");
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
                    line("esu-windows-server-2012", "16-core-p1y", 1, "P1Y", "annual"),
                ],
            }),
        )
        .await?;
    let windows_sub = fab_order["lines"][0]["subscription_id"].clone();
    let sql_sub = fab_order["lines"][1]["subscription_id"].clone();
    let esu_sub = fab_order["lines"][2]["subscription_id"].clone();
    println!(
        "  + order {} for {fabrikam_domain}: Windows Server, SQL Server and Extended Security Updates subscriptions, {}",
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

    let bought = Bought {
        customer: fabrikam,
        sql: &sql_sub,
        windows: &windows_sub,
        esu: &esu_sub,
    };
    let mut windows_link = keys(d, &bought, &sales).await?;

    d.day(3, 0, "inside the 7-day window").await?;
    copy_link(d, &mut windows_link).await?;
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
    revoked(d, &bought, &windows_link).await?;

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
    refund_request(d, &fabrikam_domain, &sql_sub, &rid("refund-sql")).await?;

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
    if old.is_none() || !expired || listed != 3 {
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
    let deadline = std::time::Instant::now() + PATIENCE;
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
                "waited {PATIENCE:?} for {month}'s two invoices (USD and AUD); issued: {}",
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
            // Windows, SQL Server and the ESU charged; Windows refunded pro rata (4 started days
            // of 365 used); the approved refund request credited.
            "USD"
                if charges.len() == 3
                    && refunds.len() == 1
                    && credits.len() == 1
                    && credits[0].amount.amount_minor == -REFUND_APPROVED_MINOR
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

/// What Fabrikam bought that has keys: the subscriptions the keys act works on.
struct Bought<'a> {
    customer: TenantId,
    sql: &'a Value,
    windows: &'a Value,
    esu: &'a Value,
}

/// A key and a link the story checks again once their subscription is cancelled.
struct Revocable {
    get_key: Value,
    selection: Value,
    url: String,
}

/// What the support engineer approves of the refund request: $750.00 (B7's credit).
const REFUND_APPROVED_MINOR: i64 = 75_000;

fn pool(
    product: &str,
    sku: &str,
    version: &str,
) -> anyhow::Result<csp_events::entitlement::PoolRef> {
    Ok(csp_events::entitlement::PoolRef {
        product: csp_events::market::ProductId::new(product).map_err(anyhow::Error::msg)?,
        sku: csp_events::market::SkuId::new(sku).map_err(anyhow::Error::msg)?,
        version: version.into(),
    })
}

/// The keys act: the platform imports keys (sealed, in chunks); the partner's agent generates
/// keys and downloads; the customer's own global admin views the SQL Server key; a sales agent
/// is refused (K5) — every view recorded first (K7); the ESU answers with its installation
/// instructions (K6). Returns the Windows Server key and link, checked again after its
/// cancellation.
async fn keys(d: &Demo, bought: &Bought<'_>, sales: &str) -> anyhow::Result<Revocable> {
    let agent = d.agent();
    let customer = bought.customer;
    let admin = customer_admin(d, customer);
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        // Until entitlement has ordering's events, it does not know the customer yet.
        let first = d
            .call_on(
                csp_events::entitlement::SERVICE,
                "qry",
                "get_software",
                &admin,
                json!({ "customer": customer }),
            )
            .await?;
        let items = if first["error"]["code"] == "not_found" {
            Vec::new()
        } else {
            software(d, &admin, customer).await?
        };
        let granted = |sub: &Value| items.iter().any(|i| i["entitlement"] == *sub);
        if granted(bought.sql) && granted(bought.windows) && granted(bought.esu) {
            break;
        }
        if std::time::Instant::now() > deadline {
            bail!("waited {PATIENCE:?} for entitlement to grant Fabrikam's three subscriptions");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sql = pool("sql-server-2022-standard", "2-core-p1y", "SQL Server 2022")?;
    let windows = pool(
        "windows-server-2022-standard",
        "16-core-p1y",
        "Windows Server 2022",
    )?;
    let esu = pool(
        "esu-windows-server-2012",
        "16-core-p1y",
        "Windows Server 2012 R2",
    )?;
    let file = csp_entitlement::import::generate(&[(&sql, 3), (&windows, 2), (&esu, 1)])
        .context("no randomness from the OS")?;
    let importer = d.token(
        ActorKind::Platform,
        TenantId(Uuid::nil()),
        "importer@csp",
        Role::Importer,
    );
    crate::keys::import_text(&d.client, &importer, &file, "the demo's key file").await?;
    println!(
        "  + the platform imports 3 SQL Server 2022, 2 Windows Server 2022 and 1 ESU keys, sealed to entitlement's import key"
    );
    let iso = |sub: &Value, version: &str| {
        json!({ "customer": customer, "entitlement": sub, "version": version,
            "language": "English", "file_type": "ISO (x64)" })
    };
    let generate = |mut selection: Value, sub: &Value| {
        selection["request_id"] = json!(format!("demo-keys-{}", short(sub)));
        selection
    };
    let sql_iso = iso(bought.sql, "SQL Server 2022");
    d.entitlement(
        "cmd",
        "generate_keys",
        &agent,
        generate(sql_iso.clone(), bought.sql),
    )
    .await?;
    let get_key =
        json!({ "customer": customer, "entitlement": bought.sql, "version": "SQL Server 2022" });
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
        .entitlement("qry", "get_download_link", &agent, sql_iso)
        .await?;
    if !link["url"].as_str().unwrap_or_default().contains("/dl/") {
        bail!("no download link: {link}");
    }
    println!("  + the agent takes a signed download link for the SQL Server ISO (recorded)");

    let windows_iso = iso(bought.windows, "Windows Server 2022");
    d.entitlement(
        "cmd",
        "generate_keys",
        &agent,
        generate(windows_iso.clone(), bought.windows),
    )
    .await?;
    println!("  + Windows Server keys generated");

    let esu_keys = json!({ "request_id": format!("demo-keys-{}", short(bought.esu)),
        "customer": customer, "entitlement": bought.esu, "version": "Windows Server 2012 R2" });
    let esu = d
        .entitlement("cmd", "generate_keys", &agent, esu_keys)
        .await?;
    let Some(instructions) = esu["instructions"].as_str() else {
        bail!("the ESU's keys came without their installation instructions: {esu}");
    };
    println!("  + ESU keys generated, with the installation instructions: {instructions}");
    Ok(Revocable {
        get_key: json!({ "customer": customer, "entitlement": bought.windows,
            "version": "Windows Server 2022" }),
        selection: windows_iso,
        url: String::new(),
    })
}

/// The agent copies the Windows Server ISO's link to share (K3, recorded as copied, K7), and
/// it downloads — until the cancellation that follows.
async fn copy_link(d: &Demo, windows: &mut Revocable) -> anyhow::Result<()> {
    let link = d
        .entitlement("qry", "copy_link", &d.agent(), windows.selection.clone())
        .await?;
    windows.url = link["url"].as_str().unwrap_or_default().to_string();
    let (status, _) = http_get(&windows.url).await?;
    if status != 200 {
        bail!("the Windows Server download link answered {status}, not 200");
    }
    println!("  + the agent copies the Windows Server ISO's link for the customer (recorded); it downloads (200)");
    Ok(())
}

/// The customer's own global admin, who may see its keys (K5).
fn customer_admin(d: &Demo, customer: TenantId) -> String {
    d.token(
        ActorKind::Customer,
        customer,
        "cam@fabrikam",
        Role::GlobalAdmin,
    )
}

/// The customer's Software page, every page of it.
async fn software(d: &Demo, token: &str, customer: TenantId) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = d
            .entitlement(
                "qry",
                "get_software",
                token,
                json!({ "customer": customer, "after": after }),
            )
            .await?;
        items.extend(page["items"].as_array().into_iter().flatten().cloned());
        if page["next"].is_null() {
            return Ok(items);
        }
        after = page["next"].clone();
    }
}

/// After the Windows subscription's cancellation (K8): once entitlement has revoked it, its key
/// is refused, its link is dead (410), and the Software page still lists it, without a key.
async fn revoked(d: &Demo, bought: &Bought<'_>, windows: &Revocable) -> anyhow::Result<()> {
    let admin = customer_admin(d, bought.customer);
    let deadline = std::time::Instant::now() + PATIENCE;
    let items = loop {
        let items = software(d, &admin, bought.customer).await?;
        let status = items
            .iter()
            .find(|i| i["entitlement"] == *bought.windows)
            .map(|i| i["status"].clone());
        if status.as_ref().is_some_and(|s| s == "revoked") {
            break items;
        }
        if std::time::Instant::now() > deadline {
            bail!("waited {PATIENCE:?} for entitlement to revoke the Windows Server subscription ({status:?})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reply = d
        .call_on(
            csp_events::entitlement::SERVICE,
            "qry",
            "get_key",
            &admin,
            windows.get_key.clone(),
        )
        .await?;
    if reply["error"]["code"] != "entitlement_revoked" {
        bail!("the cancelled subscription's key should be refused; the reply was {reply}");
    }
    println!("  x its key, asked for by the customer's global admin: entitlement_revoked");
    let (status, body) = http_get(&windows.url).await?;
    if status != 410 || !body.contains("link_revoked") {
        bail!("the cancelled subscription's download link answered {status}: {body}");
    }
    println!("  x its download link: 410 link_revoked");
    println!("  ? the Software page, as the customer's global admin sees it (K8: the revoked item stays listed):");
    for i in &items {
        let status = i["status"].as_str().unwrap_or("?");
        let key = if i["key_available"] == true {
            "key available"
        } else if i["license_only"] == true {
            "license only"
        } else {
            "no key"
        };
        println!(
            "    {:<52} x{:<3} {:<8} {key}",
            i["product_name"].as_str().unwrap_or("?"),
            i["quantity"],
            status
        );
    }
    let windows_item = items.iter().find(|i| i["entitlement"] == *bought.windows);
    if windows_item.is_none_or(|i| i["key_available"] != false) {
        bail!("the revoked Windows Server item should be listed without a key: {windows_item:?}");
    }
    Ok(())
}

/// O12 and B7: the partner files a refund request for the SQL Server subscription, past its
/// window; platform support approves part of it, which billing credits.
async fn refund_request(
    d: &Demo,
    customer: &str,
    sql_sub: &Value,
    request_id: &str,
) -> anyhow::Result<()> {
    let filed = d
        .ok(
            "cmd",
            "file_refund_request",
            &d.agent(),
            json!({
                "request_id": request_id, "customer": customer, "subscription_id": sql_sub,
                "reason": "Four 2-core packs bought where two were needed",
                "amount_requested": { "amount_minor": 100_000, "currency": "USD" },
                "contact": { "name": "Alex Kim", "email": "alex@contoso-partners.example",
                    "phone": "+1 425 555 0100" },
            }),
        )
        .await?;
    let id = filed["refund_request_id"].clone();
    println!(
        "  + the partner files refund request {} for the SQL Server subscription: 1,000.00 USD",
        short(&id)
    );
    let support = d.token(
        ActorKind::Platform,
        TenantId(Uuid::nil()),
        "sue@csp-support",
        Role::Support,
    );
    d.ok(
        "cmd",
        "decide_refund_request",
        &support,
        json!({
            "request_id": format!("{request_id}-decision"), "refund_request_id": id,
            "decision": "approve",
            "amount": { "amount_minor": REFUND_APPROVED_MINOR, "currency": "USD" },
            "reason": "two packs unused; one week of use",
        }),
    )
    .await?;
    println!(
        "  + platform support approves 750.00 USD of it: a credit on this month's invoice (B7)"
    );
    Ok(())
}

/// A plain GET of a download link, as a browser would open it: the status and the body.
async fn http_get(url: &str) -> anyhow::Result<(u16, String)> {
    use http_body_util::BodyExt as _;
    let uri: hyper::Uri = url.parse().with_context(|| format!("the link {url}"))?;
    let authority = uri
        .authority()
        .with_context(|| format!("the link {url} names no server"))?
        .clone();
    let tcp = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .with_context(|| format!("connecting to the download server {authority}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    let request = hyper::Request::get(uri.path())
        .header(hyper::header::HOST, authority.as_str())
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
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
    let deadline = std::time::Instant::now() + PATIENCE;
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
                "waited {PATIENCE:?} for audit to hold every published event; behind: {}",
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
    // A recorded read sent again after a lost reply (a NATS node failing over) is recorded
    // again: then, and only then, the same record twice in a row counts once.
    let mut summary = summary;
    if d.client.resent() > 0 {
        summary.dedup();
    }
    let expected = [
        ("\"view_key\"", false),
        ("\"view_key\"", true),
        ("\"download\"", false),
        ("\"copy_link\"", false),
    ];
    if summary
        .iter()
        .map(|(a, r)| (a.as_str(), *r))
        .collect::<Vec<_>>()
        != expected
    {
        bail!("the activity log does not hold the key view, the refused view, the download and the copied link: {summary:?}");
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
                    let bus = Bus::connect(url).await.with_context(|| format!("connecting to NATS at {}", csp_bus::nats::redacted(url)))?;
                    (bus, None, format!("the system on {}", csp_bus::nats::redacted(url)))
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
            // Against a running system, a request lost while a NATS node fails over is sent
            // again (commands are idempotent by request id).
            let client = Client::new(bus, Duration::from_secs(10))
                .retrying(if args.nats.is_some() { 3 } else { 1 });
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
