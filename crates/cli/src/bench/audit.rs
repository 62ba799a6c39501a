//! `csp bench audit`: the audit log's two figures.
//!
//! - **Appends**: ordering's log is filled with `--events` events before it starts; then audit
//!   (consumer: each event appended to its log, flushed and synced, folded into the tree, then
//!   acked; checkpoints signed as it goes) and ordering (producer: outbox → `CSP_EVENTS`) run in
//!   this process over a real nats-server. The figure is events per second until audit has
//!   folded the last one, beside the ceiling `csp bench bus` measures — raw JetStream,
//!   pipelined publish, fetch 1,000, ack each, same message count and size — in the same run.
//! - **Proofs**: a state of `--proof-leaves` leaves (real encoded events, folded as replay folds
//!   them) and one checkpoint over all of them; `prove_inclusion` answered by the service's own
//!   handler and written as JSON, for leaves spread over the tree.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use csp_audit::checkpoint::CheckpointKey;
use csp_audit::config::Config;
use csp_audit::service::AuditService;
use csp_audit::state::State;
use csp_auth::{AuthConfig, DevIssuer, InternalIssuer, Verifier};
use csp_bus::runtime::{self, RuntimeConfig};
use csp_bus::{Bus, Clock};
use csp_eventlog::{Batch, EventLog, LogOptions, NewEvent};
use csp_events::audit::ProveInclusion;
use csp_events::fixtures::sample;
use csp_events::kernel::Context;
use csp_events::{codec, Actor, ActorKind, Envelope, Event, EventId, EventKind, Role, TenantId};
use csp_ordering::service::OrderingService;
use uuid::Uuid;

use crate::bench::{header, rate};

/// Arguments of `csp bench audit`.
#[derive(clap::Args)]
pub struct Args {
    /// Events published by ordering and appended by audit.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Leaves of the tree inclusion proofs are asked of.
    #[arg(long, default_value_t = 1_000_000)]
    proof_leaves: u64,
    /// A running nats-server to use (default: start one on a free port with a temporary
    /// JetStream directory).
    #[arg(long)]
    nats: Option<String>,
    /// Skip the sync to stable storage after each flush (see `csp bench bus`).
    #[arg(long)]
    unsafe_no_fsync: bool,
}

/// Runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let (server, url) = crate::bench::nats(args.nats.as_deref())?;
    let own_server = server.is_some();
    let dir = crate::fresh_dir("csp-bench-audit")?;
    let opts = LogOptions {
        durability: crate::bench::durability(args.unsafe_no_fsync),
        ..LogOptions::default()
    };
    let result = rt.block_on(async {
        let ceiling = crate::bench::bus::raw_loop(&url, args.events).await?;
        let csp = appends(&url, &dir, args.events, &opts, own_server).await?;
        anyhow::Ok((ceiling, csp))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (ceiling, (csp, leaves, checkpoints)) = result?;
    let (build, proofs, asked) = proof_times(args.proof_leaves)?;

    header(&format!(
        "csp bench audit --events {} --proof-leaves {}{}",
        args.events,
        args.proof_leaves,
        crate::bench::durability_flag(args.unsafe_no_fsync)
    ));
    println!();
    let (c, r) = (rate(args.events, csp), rate(args.events, ceiling));
    println!("| figure | events | csp | ceiling | ratio | target |");
    println!("|---|---:|---:|---:|---:|---|");
    println!(
        "| ordering's events appended to audit's tree, durable ({leaves} leaves, {checkpoints} checkpoints) | {} | {c:.0} ev/s | {r:.0} ev/s (raw JetStream: pipelined publish, fetch 1,000, ack each) | {:.2} | >= 0.50 |",
        args.events,
        c / r
    );
    let per = proofs.as_secs_f64() * 1e6 / asked as f64;
    println!(
        "| prove_inclusion at {} leaves (handler + JSON), mean of {asked} | - | {per:.1} µs | - | - | <= 1,000 µs |",
        args.proof_leaves
    );
    println!();
    println!(
        "(the {}-leaf state was folded from encoded events in {:.2} s)",
        args.proof_leaves,
        build.as_secs_f64()
    );
    Ok(())
}

/// A distinct `customer_added` event, as ordering records it.
fn event(i: u64) -> Envelope {
    let mut e = sample(EventKind::CustomerAdded);
    e.event_id = EventId(Uuid::now_v7());
    e.stream = format!("customer/{i}");
    e.stream_version = 1;
    if let Event::CustomerAdded(c) = &mut e.payload {
        c.customer = TenantId(Uuid::from_u128(0xc000_0000 + u128::from(i)));
        c.domain = format!("customer-{i}.example");
    }
    e.customer = e.payload.customer();
    e.outbox = None;
    e
}

/// Fills ordering's log with `n` events to publish.
fn fill(log: &EventLog, n: u64) -> anyhow::Result<()> {
    let mut events = Vec::with_capacity(1000);
    for i in 0..n {
        let e = event(i);
        events.push(NewEvent {
            event_id: e.event_id.as_uuid(),
            stream: e.stream.clone(),
            version: 1,
            publish: true,
            bytes: codec::encode(&e),
        });
        if events.len() == 1000 || i + 1 == n {
            log.append_blocking(Batch {
                events: std::mem::take(&mut events),
                request: None,
            })?;
        }
    }
    Ok(())
}

/// Events per second from ordering's log into audit's tree; audit's leaves and checkpoints.
async fn appends(
    url: &str,
    dir: &std::path::Path,
    n: u64,
    opts: &LogOptions,
    own_server: bool,
) -> anyhow::Result<(Duration, u64, u64)> {
    let dev = DevIssuer::generate()?;
    let internal = Arc::new(InternalIssuer::generate()?);
    let verifier = Arc::new(Verifier::new(AuthConfig {
        issuers: vec![dev.issuer_config(), internal.issuer_config()],
    })?);
    let log = EventLog::open(dir.join("ordering"), opts.clone())?;
    let filler = log.clone();
    tokio::task::spawn_blocking(move || fill(&filler, n)).await??;
    let bus = Bus::connect(url).await?;
    let config = |log: EventLog| {
        let mut c = RuntimeConfig::new(bus.clone(), log, Clock::System, Arc::clone(&verifier));
        c.internal = Some(Arc::clone(&internal));
        c
    };
    let audit_log = EventLog::open(dir.join("audit"), opts.clone())?;
    let key = CheckpointKey::from_seed("csp-audit/bench", &[9; 32]);
    let audit =
        runtime::start::<AuditService>(config(audit_log), Config::new(key, Duration::from_secs(1)))
            .await?;
    let start = Instant::now();
    let catalog = crate::serve::catalog(None)?;
    let ordering = runtime::start::<OrderingService>(config(log), catalog).await?;
    let deadline = Instant::now() + Duration::from_secs(900);
    let elapsed = loop {
        let held = audit.with_state(|a| a.state.leaves.len() - a.state.checkpoints.len() as u64);
        if held >= n {
            break start.elapsed();
        }
        ensure!(Instant::now() < deadline, "audit stuck at {held} of {n}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let (leaves, checkpoints) =
        audit.with_state(|a| (a.state.tree.len(), a.state.checkpoints.len() as u64));
    ordering.shutdown().await;
    audit.shutdown().await;
    if own_server {
        let js = async_nats::jetstream::new(async_nats::connect(url).await?);
        js.delete_stream(csp_events::subject::EVENTS_STREAM).await?;
    }
    Ok((elapsed, leaves, checkpoints))
}

/// The time to fold `leaves` events into a state, and `prove_inclusion` answered over it.
fn proof_times(leaves: u64) -> anyhow::Result<(Duration, Duration, u64)> {
    let start = Instant::now();
    let mut state = State::default();
    let mut ids = Vec::with_capacity(1000);
    let every = (leaves / 1000).max(1);
    for i in 0..leaves {
        let e = event(i);
        let bytes = codec::encode(&e);
        state.apply(&e, &bytes, "ordering");
        if i % every == 0 {
            ids.push(e.event_id);
        }
    }
    let key = CheckpointKey::from_seed("csp-audit/bench", &[9; 32]);
    let config = Config::new(key, Duration::from_secs(1));
    let now = csp_events::Timestamp::from_micros(1_800_000_000_000_000);
    let signed = csp_audit::heads::sign(&state, &config, 0, state.tree.len(), now)
        .context("signing the bench tree")?;
    let mut env = sample(EventKind::CheckpointSigned);
    env.event_id = signed.id.unwrap_or(EventId(Uuid::now_v7()));
    env.payload = signed.event;
    let bytes = codec::encode(&env);
    state.apply(&env, &bytes, csp_audit::state::OWN);
    let build = start.elapsed();
    let ctx = Context {
        now,
        actor: Actor {
            kind: ActorKind::Platform,
            tenant: TenantId(Uuid::nil()),
            user: "bench".into(),
            roles: vec![Role::Operator],
        },
        seed: Uuid::nil(),
        entropy: [0; 32],
    };
    let start = Instant::now();
    for id in &ids {
        let q = ProveInclusion {
            event: *id,
            size: None,
        };
        let proof = csp_audit::api::prove_inclusion(&state, &config, &q, &ctx)
            .map_err(|r| anyhow::anyhow!("prove_inclusion: {}", r.message))?;
        let json = serde_json::to_vec(&proof)?;
        ensure!(!json.is_empty() && proof.bytes.is_some());
    }
    Ok((build, start.elapsed(), ids.len() as u64))
}
