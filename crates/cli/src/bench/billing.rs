//! `csp bench billing`: billing folding ordering's events into invoices, beside the ordering
//! log's raw replay in the same run; and the reconciliation file of a 100,000-line month.
//!
//! 1. Setup (not timed): ordering's own deciders (the in-memory harness) take a year and more
//!    of one partner's business — customers in the US and Australia, orders of monthly, annual
//!    and triennial subscriptions and perpetual software, cancellations inside their windows,
//!    renewals at term ends — until its log holds `--events` events, written to a sled log.
//! 2. Ceiling: read and decode that whole log (what any replay of it costs at least).
//! 3. Measured: read and decode it again, and deliver it to billing's deciders in inbox
//!    batches, each copy recorded after what fell due before it and before its reactions, the
//!    scheduler run after each batch (charges, month closes): every event billing would
//!    record, encoded and folded into its state. Only billing's own sled append is left out
//!    (that cost is `csp bench eventlog`'s). Ceiling, measured, ceiling again: the ratio is to
//!    the mean ceiling.
//! 4. The largest month's first `--csv-lines` lines rendered as the 46-column CSV.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use csp_billing::service::BillingService;
use csp_bus::harness::Harness;
use csp_eventlog::{Batch, Durability, EventLog, LogOptions, NewEvent};
use csp_events::{codec, Actor, ActorKind, Envelope, Role, TenantId, Timestamp};
use csp_ordering::service::OrderingService;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{header, rate};

/// Arguments of `csp bench billing`.
#[derive(clap::Args)]
pub struct Args {
    /// Ordering events to fold (the setup runs ordering until its log holds this many).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per inbox batch delivered to billing.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Lines of the month rendered as CSV.
    #[arg(long, default_value_t = 100_000)]
    csv_lines: usize,
    /// Directory for the log (default: a new temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Runs `csp bench billing`.
pub fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.batch > 0, "--batch must be at least 1");
    header(&format!(
        "csp bench billing --events {} --batch {} --csv-lines {}",
        args.events, args.batch, args.csv_lines
    ));
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (crate::fresh_dir("csp-bench-billing")?, true),
    };
    let result = bench(&args, &dir);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn bench(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let (events, span) = setup(args.events, &dir.join("ordering"))?;
    println!(
        "setup:   {events} ordering events ({span}) written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let log = EventLog::open(dir.join("ordering"), LogOptions::default())
        .context("opening the ordering log")?;

    // The live path: every ordering event decided, recorded and folded by billing.
    let (live, billing) = fold(&log, args.batch)?;
    let live_rate = rate(events, live);
    let state = billing.state();
    println!("\nbilling deciding on ordering's log as its inbox delivers it (live path, no sled)");
    println!(
        "  {:>12.0} ordering events/s  ({:.2} s): {} events recorded, {} items, {} invoices ({} issued), closed through {}",
        live_rate,
        live.as_secs_f64(),
        billing.len(),
        state.items.len(),
        state.invoices.len(),
        state.invoices.values().filter(|i| i.issued).count(),
        state.closed.map_or_else(|| "-".into(), |m| m.to_string()),
    );

    // Replay: billing's own log (the inbox copies and what billing decided) folded into
    // invoices, beside reading and decoding the same log.
    let recorded = billing.records();
    write_log(&dir.join("billing"), recorded)?;
    let billing_log = EventLog::open(dir.join("billing"), LogOptions::default())
        .context("opening the billing log")?;
    let n = recorded.len() as u64;
    let first = raw_replay(&billing_log)?;
    let (replayed, digest) = replay(&billing_log)?;
    let second = raw_replay(&billing_log)?;
    let ceiling = (rate(n, first) + rate(n, second)) / 2.0;
    let folded = rate(n, replayed);
    ensure!(
        digest == csp_bus::runtime::digest(state),
        "the replayed state differs from the live one"
    );
    println!("\nreplay of billing's log ({n} events), read and decoded (ceiling)");
    println!(
        "  {:>12.0} events/s  ({:.2} s, then {:.2} s)",
        ceiling,
        first.as_secs_f64(),
        second.as_secs_f64()
    );
    println!("replay of billing's log folded into invoices (measured; digest = live)");
    println!(
        "  {:>12.0} events/s  ({:.2} s)   ratio {:.2} of the ceiling (target >= 0.5)",
        folded,
        replayed.as_secs_f64(),
        folded / ceiling
    );

    let largest = state
        .invoices
        .values()
        .max_by_key(|i| i.lines.len())
        .context("billing issued no invoice")?;
    if largest.lines.len() < args.csv_lines {
        bail!(
            "the largest month ({} {}) has {} lines, fewer than --csv-lines {}: give more --events",
            largest.month,
            largest.currency,
            largest.lines.len(),
            args.csv_lines
        );
    }
    let t = Instant::now();
    let lines = state.render(largest, largest.lines.range(0..args.csv_lines), 1);
    let csv = csp_billing::reconciliation::render(state, largest, &lines, true)
        .context("rendering the CSV")?;
    let took = t.elapsed();
    println!(
        "\nreconciliation file: {} lines of {} {}",
        lines.len(),
        largest.number,
        largest.currency
    );
    println!(
        "  {:>12.0} ms  ({:.1} MiB of CSV, {:.0} lines/s)",
        took.as_secs_f64() * 1000.0,
        csv.len() as f64 / (1024.0 * 1024.0),
        rate(lines.len() as u64, took)
    );
    Ok(())
}

/// A deterministic stream of choices (xorshift64*): the same business every run.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn line(product: &str, sku: &str, quantity: u64, term: &str, plan: &str) -> Value {
    json!({"product": product, "sku": sku, "quantity": quantity, "term": term, "billing_plan": plan})
}

/// Runs ordering until its log holds `target` events; writes them to a sled log at `path`.
/// Returns how many, and the span of time they cover.
fn setup(target: u64, path: &Path) -> anyhow::Result<(u64, String)> {
    let catalog = crate::serve::catalog(None)?;
    let mut ordering = Harness::<OrderingService>::new(catalog);
    let partner = TenantId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_00be_0001));
    let agent = Actor {
        kind: ActorKind::Partner,
        tenant: partner,
        user: "bench@partner".into(),
        roles: vec![Role::AdminAgent],
    };
    let start = Timestamp::ymd_hms(2026, 1, 1, 9, 0, 0).context("start")?;
    let day = 86_400_000_000i64;
    let at = |d: i64, s: i64| Timestamp::from_micros(start.as_micros() + d * day + s * 1_000_000);
    let cmd = |h: &mut Harness<OrderingService>, now, name: &str, body: Value| {
        h.command(agent.clone(), now, name, &body)
            .map_err(|e| anyhow::anyhow!("setup {name} refused: {e}"))
    };
    let customers: Vec<(TenantId, bool)> = (0..2_000u128)
        .map(|i| {
            let id = TenantId(Uuid::from_u128(
                0x0190_0000_0000_7000_8000_00cc_0000_0000 + i,
            ));
            (id, i % 5 == 0)
        })
        .collect();
    for (i, (c, au)) in customers.iter().enumerate() {
        let (country, currency) = if *au { ("AU", "AUD") } else { ("US", "USD") };
        cmd(
            &mut ordering,
            at(0, 0),
            "add_customer",
            json!({"request_id": format!("c{i}"),
            "tenant_id": c, "domain": format!("c{i}.example"), "company_name": format!("Customer {i}"),
            "country": country, "currency": currency}),
        )?;
    }
    let per_day = (target / 1_500).max(1);
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let mut cancels: Vec<(TenantId, &'static str, Value)> = Vec::new();
    let mut d = 0i64;
    let mut n = 0u64;
    while (ordering.len() as u64) < target {
        // Yesterday's regrets, inside their windows.
        for (i, (customer, kind, id)) in std::mem::take(&mut cancels).into_iter().enumerate() {
            let now = at(d, i as i64 % 3_600);
            match kind {
                "subscription" => cmd(
                    &mut ordering,
                    now,
                    "cancel_subscription",
                    json!({"request_id": format!("x{d}-{i}"),
                    "customer": customer, "subscription_id": id}),
                )?,
                _ => cmd(
                    &mut ordering,
                    now,
                    "cancel_perpetual",
                    json!({"request_id": format!("x{d}-{i}"),
                    "customer": customer, "order_ids": [id]}),
                )?,
            };
        }
        for k in 0..per_day {
            let (customer, _) = customers[dice.roll(customers.len() as u64) as usize];
            let mut lines = Vec::new();
            for _ in 0..=dice.roll(3) {
                let q = 1 + dice.roll(10);
                lines.push(match dice.roll(6) {
                    0 | 1 => line(
                        "windows-server-2022-rds-user-cal",
                        "user-cal-p1y",
                        q,
                        "P1Y",
                        "monthly",
                    ),
                    2 => line(
                        "windows-server-2022-standard",
                        "16-core-p1y",
                        q,
                        "P1Y",
                        "annual",
                    ),
                    3 => line(
                        "windows-server-2022-rds-user-cal",
                        "user-cal-p3y",
                        q,
                        "P3Y",
                        if dice.roll(2) == 0 {
                            "annual"
                        } else {
                            "triennial"
                        },
                    ),
                    4 => line(
                        "windows-server-2022-rds-user-cal",
                        "user-cal-p3y",
                        q,
                        "P3Y",
                        "monthly",
                    ),
                    _ => line(
                        "sql-server-2022-standard-perpetual",
                        "2-core",
                        q,
                        "perpetual",
                        "one_time",
                    ),
                });
            }
            n += 1;
            let placed = cmd(
                &mut ordering,
                at(d, 3_600 + k as i64 * 20),
                "place_order",
                json!({"request_id": format!("o{n}"), "customer": customer, "lines": lines}),
            )?;
            // One order in twenty changes its mind the next day.
            if dice.roll(20) == 0 {
                let first = &placed["lines"][0];
                if first["subscription_id"].is_string() {
                    cancels.push((customer, "subscription", first["subscription_id"].clone()));
                } else {
                    cancels.push((customer, "perpetual", placed["order_id"].clone()));
                }
            }
        }
        ordering.tick(at(d + 1, 0));
        d += 1;
    }
    write_log(path, ordering.records())?;
    let events = ordering.events();
    let span = format!(
        "{} to {}",
        events
            .first()
            .map_or_else(String::new, |e| e.recorded_at.to_string()),
        events
            .last()
            .map_or_else(String::new, |e| e.recorded_at.to_string())
    );
    Ok((events.len() as u64, span))
}

/// Writes `records` (each its stream and its encoded envelope) to a new sled log at `path`.
fn write_log(path: &Path, records: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let log = EventLog::open(
        path,
        LogOptions {
            durability: Durability::UnsafeNoFsync,
            ..LogOptions::default()
        },
    )
    .context("creating the log")?;
    // Each stream's version as the log counts it: an upstream copy keeps its producer's
    // version inside its bytes, while the inbox stream it is appended to has its own.
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for chunk in records.chunks(1_000) {
        let mut events = Vec::with_capacity(chunk.len());
        for (stream, bytes) in chunk {
            let env = codec::decode(bytes).context("decoding a recorded event")?;
            let version = versions.entry(stream).or_insert(0);
            *version += 1;
            events.push(NewEvent {
                event_id: env.event_id.as_uuid(),
                stream: stream.clone(),
                version: *version,
                publish: false,
                bytes: bytes.clone(),
            });
        }
        log.append_blocking(Batch {
            events,
            request: None,
        })
        .context("writing the log")?;
    }
    Ok(())
}

/// Reads and decodes the whole log.
fn raw_replay(log: &EventLog) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let mut n = 0u64;
    for record in log.read_from(1) {
        let env = codec::decode(record?.bytes()).context("decoding")?;
        n += u64::from(env.stream_version > 0);
    }
    ensure!(n == log.last_seq(), "read {n} of {} events", log.last_seq());
    Ok(t.elapsed())
}

/// Reads, decodes and folds the whole log into a fresh state, as `csp replay billing` does;
/// returns the time and the state's digest.
fn replay(log: &EventLog) -> anyhow::Result<(Duration, String)> {
    let t = Instant::now();
    let mut state = csp_billing::state::State::default();
    for record in log.read_from(1) {
        state.apply(&codec::decode(record?.bytes()).context("decoding")?);
    }
    let took = t.elapsed();
    Ok((took, csp_bus::runtime::digest(&state)))
}

/// Reads, decodes and delivers the whole log to billing in inbox batches, the scheduler run
/// after each.
fn fold(log: &EventLog, size: usize) -> anyhow::Result<(Duration, Harness<BillingService>)> {
    let mut billing = Harness::<BillingService>::new(csp_billing::config::Config::default());
    let t = Instant::now();
    let mut batch: Vec<Envelope> = Vec::with_capacity(size);
    let deliver = |billing: &mut Harness<BillingService>, batch: &mut Vec<Envelope>| {
        let Some(now) = batch.last().map(|e| e.recorded_at) else {
            return;
        };
        billing.deliver(csp_events::ordering::SERVICE, batch, now);
        while !billing.tick(now).is_empty() {}
        batch.clear();
    };
    for record in log.read_from(1) {
        batch.push(codec::decode(record?.bytes()).context("decoding")?);
        if batch.len() == size {
            deliver(&mut billing, &mut batch);
        }
    }
    deliver(&mut billing, &mut batch);
    Ok((t.elapsed(), billing))
}
