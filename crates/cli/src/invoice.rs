//! `csp invoice --partner P --month M [--csv]`: one partner's invoice for one month from a
//! running system, as a billing clerk reads it (a table and its totals) or as their
//! reconciliation tool reads it (the 46-column CSV, every page joined). An issued invoice if
//! the month is closed; the preview, marked as such, while it is open.

use std::time::Duration;

use anyhow::Context as _;
use csp_events::api::QueryBody;
use csp_events::billing::{
    ExportReconciliation, GetInvoice, InvoiceHead, InvoiceLine, InvoiceList, InvoicePage,
    InvoiceStatus, LineKind, ListInvoices, Month, PreviewInvoice, ReconciliationPage,
};
use csp_events::money::Currency;
use csp_events::{ActorKind, Role, TenantId};
use serde_json::Value;

use crate::send::{Client, Reach};
use csp_billing::service::BillingService;
use csp_bus::Service;

/// Arguments of `csp invoice`.
#[derive(clap::Args)]
pub struct InvoiceArgs {
    /// The partner whose invoice it is.
    #[arg(long)]
    partner: TenantId,
    /// The month, `YYYY-MM`.
    #[arg(long)]
    month: Month,
    /// The currency, when the partner was invoiced in several that month.
    #[arg(long)]
    currency: Option<Currency>,
    /// Print the reconciliation file (CSV, 46 columns) instead of the table.
    #[arg(long)]
    csv: bool,
    /// Read the stopped billing service's log under `--data` instead of asking a running
    /// system: its state folded as `csp replay billing` folds it, the invoice computed by the
    /// very query code the service answers with. No token: whoever reads the disk reads it all.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    reach: Reach,
    /// How long to wait for each reply, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// Billing's queries, answered by a running system (as a token's actor) or, offline, by a
/// stopped service's folded log: `csp invoice` and the demo.
pub(crate) struct Billing {
    source: Source,
}

enum Source {
    Remote {
        client: Client,
        token: String,
    },
    Offline {
        state: Box<<BillingService as Service>::State>,
        config: Box<<BillingService as Service>::Config>,
        actor: csp_events::Actor,
    },
}

/// Which invoice.
#[derive(Clone, Copy)]
pub(crate) struct Which {
    pub partner: TenantId,
    pub month: Month,
    pub currency: Option<Currency>,
}

impl Billing {
    /// A client asking as `token`'s actor.
    pub(crate) fn new(client: Client, token: String) -> Billing {
        Billing {
            source: Source::Remote { client, token },
        }
    }

    /// The stopped billing service's log under `data`, folded, read as `partner`'s
    /// billing admin.
    pub(crate) fn offline(data: &std::path::Path, partner: TenantId) -> anyhow::Result<Billing> {
        let dir = crate::replay::find_log(data, csp_events::billing::SERVICE)?;
        let log = csp_eventlog::EventLog::open(&dir, csp_eventlog::LogOptions::default())
            .with_context(|| {
                format!(
                    "cannot open the log at {} (is billing still running?)",
                    dir.display()
                )
            })?;
        let applied = csp_bus::runtime::replay::<BillingService>(&log).context("replaying")?;
        Ok(Billing {
            source: Source::Offline {
                state: Box::new(applied.state),
                config: Box::new(crate::serve::BillingArgs::default().config()),
                actor: csp_events::Actor {
                    kind: ActorKind::Partner,
                    tenant: partner,
                    user: "csp-invoice-offline".into(),
                    roles: vec![Role::BillingAdmin],
                },
            },
        })
    }

    async fn ask<Q: QueryBody>(&self, q: &Q) -> anyhow::Result<Q::Reply> {
        match &self.source {
            Source::Remote { client, token } => {
                client.query(csp_events::billing::SERVICE, token, q).await
            }
            Source::Offline {
                state,
                config,
                actor,
            } => {
                let body = serde_json::to_vec(q)?;
                let now = csp_events::Timestamp::from_micros(chrono::Utc::now().timestamp_micros());
                let v = csp_bus::runtime::ask_offline::<BillingService>(
                    state,
                    config,
                    Q::NAME,
                    &body,
                    actor.clone(),
                    now,
                )
                .map_err(|e| anyhow::anyhow!("{}: {}", Q::NAME, e.message))?;
                serde_json::from_value(v)
                    .with_context(|| format!("the answer to {} is not billing's", Q::NAME))
            }
        }
    }
}

/// Runs `csp invoice`.
pub fn run(args: InvoiceArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let which = Which {
        partner: args.partner,
        month: args.month,
        currency: args.currency,
    };
    let text = rt.block_on(async {
        let billing = if args.offline {
            Billing::offline(&args.reach.data, args.partner)?
        } else {
            let token =
                args.reach
                    .bearer(ActorKind::Partner, args.partner, &[Role::BillingAdmin])?;
            let bus = args.reach.connect().await?;
            Billing::new(Client::new(bus, Duration::from_secs(args.timeout)), token)
        };
        match args.csv {
            true => billing.csv(which).await,
            false => billing.table(which).await,
        }
    })?;
    print!("{text}");
    Ok(())
}

impl Billing {
    /// The reconciliation file, every page joined.
    pub(crate) async fn csv(&self, which: Which) -> anyhow::Result<String> {
        self.status_of(which).await?;
        let mut csv = String::new();
        let mut after = None;
        loop {
            let page: ReconciliationPage = self
                .ask(&ExportReconciliation {
                    partner: Some(which.partner),
                    month: which.month,
                    currency: which.currency,
                    after: after.take(),
                    limit: Some(1000),
                })
                .await?;
            csv.push_str(&page.csv);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(csv),
            }
        }
    }

    /// The invoice's head and every line: issued, or the preview while the month is open.
    pub(crate) async fn invoice(
        &self,
        which: Which,
    ) -> anyhow::Result<(InvoiceStatus, InvoiceHead, Vec<InvoiceLine>)> {
        let status = self.status_of(which).await?;
        let mut lines = Vec::new();
        let mut after = None;
        loop {
            let page: InvoicePage = match status {
                InvoiceStatus::Issued => {
                    self.ask(&GetInvoice {
                        partner: Some(which.partner),
                        month: which.month,
                        currency: which.currency,
                        after: after.take(),
                        limit: Some(1000),
                    })
                    .await?
                }
                InvoiceStatus::Preview => {
                    self.ask(&PreviewInvoice {
                        partner: Some(which.partner),
                        month: Some(which.month),
                        currency: which.currency,
                        after: after.take(),
                        limit: Some(1000),
                    })
                    .await?
                }
            };
            lines.extend(page.lines);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok((status, page.invoice, lines)),
            }
        }
    }

    /// The invoice as a table.
    pub(crate) async fn table(&self, which: Which) -> anyhow::Result<String> {
        let (status, head, lines) = self.invoice(which).await?;
        Ok(render(status, &head, &lines))
    }

    /// The partner's invoices, oldest first.
    pub(crate) async fn list(
        &self,
        partner: TenantId,
    ) -> anyhow::Result<Vec<csp_events::billing::InvoiceSummary>> {
        let mut after = None;
        let mut all = Vec::new();
        loop {
            let list: InvoiceList = self
                .ask(&ListInvoices {
                    partner: Some(partner),
                    after: after.take(),
                    limit: Some(1000),
                })
                .await?;
            all.extend(list.invoices);
            match list.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Whether the month's invoice is issued or still a preview, from the partner's list.
    async fn status_of(&self, which: Which) -> anyhow::Result<InvoiceStatus> {
        let found: Vec<_> = self
            .list(which.partner)
            .await?
            .into_iter()
            .filter(|s| {
                s.invoice.month == which.month
                    && which.currency.is_none_or(|c| s.invoice.currency == c)
            })
            .collect();
        match found.as_slice() {
            [] => anyhow::bail!(
                "partner {} has no invoice for {}{}",
                which.partner,
                which.month,
                which
                    .currency
                    .map(|c| format!(" in {c}"))
                    .unwrap_or_default()
            ),
            [one] => Ok(one.status),
            several => anyhow::bail!(
                "partner {} was invoiced in several currencies in {} ({}): give --currency",
                which.partner,
                which.month,
                several
                    .iter()
                    .map(|s| s.invoice.currency.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The table a clerk reads: one row per line, then the totals and the hash that pins them.
pub(crate) fn render(status: InvoiceStatus, head: &InvoiceHead, lines: &[InvoiceLine]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let status = match status {
        InvoiceStatus::Issued => "issued",
        InvoiceStatus::Preview => "PREVIEW: the month is open, this can still change",
    };
    let _ = writeln!(
        out,
        "Invoice {}  partner {}  {}  {}  ({status})",
        head.number, head.partner, head.month, head.currency
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<6}  {:<24}  {:<32}  {:>5}  {:<11}  {:<23}  {:>16}",
        "#", "kind", "customer", "product", "qty", "type", "period", "amount"
    );
    for l in lines {
        let kind = match l.kind {
            LineKind::Charge => "charge",
            LineKind::Refund => "refund",
            LineKind::Credit => "credit",
        };
        let kind_of = l
            .charge_type
            .map(|t| {
                let v = serde_json::to_value(t).unwrap_or(Value::Null);
                v.as_str().unwrap_or_default().to_string()
            })
            .unwrap_or_default();
        let period = match (l.period_start, l.period_end) {
            (Some(a), Some(b)) => format!("{} → {}", day(a), day(b)),
            _ => day(l.effective_at),
        };
        let product = l.product_name.clone().unwrap_or_default();
        let late = if l.belongs_to != head.month {
            format!("  (belongs to {})", l.belongs_to)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<6}  {:<24}  {:<32}  {:>5}  {:<11}  {:<23}  {:>16}{late}",
            l.number,
            kind,
            clip(&l.customer_domain, 24),
            clip(&product, 32),
            l.quantity.map(|q| q.to_string()).unwrap_or_default(),
            kind_of,
            period,
            l.amount.to_string(),
        );
    }
    let _ = writeln!(out, "{:>20}  {}", "charges", head.charges);
    let _ = writeln!(out, "{:>20}  {}", "refunds", neg(head.refunds));
    let _ = writeln!(out, "{:>20}  {}", "credits", neg(head.credits));
    let _ = writeln!(out, "{:>20}  {}", "total", head.total);
    let _ = writeln!(
        out,
        "{:>20}  {} lines, sha256 {}",
        "lines", head.lines, head.lines_hash
    );
    out
}

/// Refunds and credits are summed as positive amounts in the head; the table shows what they
/// take off.
fn neg(m: csp_events::money::Money) -> csp_events::money::Money {
    csp_events::money::Money::new(-m.amount_minor, m.currency)
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

fn day(t: csp_events::Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d").to_string()
}
