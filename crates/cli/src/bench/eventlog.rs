//! `csp bench eventlog`: the sled event log against plain sled loops, in one run.
//!
//! Figures, all with the same ~200-byte events (a real encoded envelope):
//! 1. durable batch append, batches of 1,000, vs a plain sled loop writing the same pages
//!    under the same keys with one flush per batch;
//! 2. durable single-event appends from 64 concurrent tasks, vs a one-insert-one-flush loop;
//! 3. replay: read, decode and fold the whole log (default 1M events), vs a plain sled scan with
//!    postcard decoding of the same records; and the peak RSS during the replay.
//!
//! Measured and ceiling phases alternate in rounds, so a noisy neighbour slows both.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use csp_eventlog::layout::{AppendBatches, Trees};
use csp_eventlog::{
    keys, stable::StableStorage, value, Batch, Durability, EventLog, LogOptions, NewEvent,
};
use csp_events::actor::{Actor, ActorKind, Role};
use csp_events::event::{AccessRefused, EventKind};
use csp_events::{codec, CorrelationId, Envelope, Event, EventId, TenantId, Timestamp};
use uuid::Uuid;

use super::{header, mib, peak_rss, rate, reset_peak_rss};

/// Arguments of `csp bench eventlog`.
#[derive(clap::Args)]
pub struct Args {
    /// Events written by the batch phase and replayed (the same number go to the ceiling db).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per batch in the batch phase.
    #[arg(long, default_value_t = 1_000)]
    batch: u64,
    /// Single-event appends per task in the concurrent phase (64 tasks).
    #[arg(long, default_value_t = 200)]
    per_task: u64,
    /// Events in the one-insert-one-flush ceiling loop.
    #[arg(long, default_value_t = 2_000)]
    single_flush_events: u64,
    /// Distinct streams the events are spread over.
    #[arg(long, default_value_t = 10_000)]
    streams: u64,
    /// Directory for the databases (default: a new temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the databases afterwards.
    #[arg(long)]
    keep: bool,
    /// Skip the sync to stable storage (`fdatasync`) after each flush, in the log and in the
    /// raw-sled ceilings alike: acknowledged appends then survive a killed process but not a
    /// power cut. Only to show what the sync costs; never how a service runs.
    #[arg(long)]
    unsafe_no_fsync: bool,
    /// Internal: replay one database in this (fresh) process and print the figures.
    #[arg(long, hide = true)]
    replay_child: Option<String>,
}

const TASKS: u64 = 64;
const ROUNDS: u64 = 10;

/// Builds event number `i` of the benchmark: a real envelope, ~200 bytes encoded.
struct Events {
    streams: Vec<String>,
    actor: Actor,
    tenant: TenantId,
    base: Uuid,
}

impl Events {
    fn new(streams: u64) -> Events {
        let tenant = TenantId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0a01));
        Events {
            streams: (0..streams.max(1))
                .map(|i| {
                    format!(
                        "subscription/{}",
                        Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0001_0000 + u128::from(i))
                    )
                })
                .collect(),
            actor: Actor {
                kind: ActorKind::Partner,
                tenant,
                user: "bench@partner.example".into(),
                roles: vec![Role::AdminAgent],
            },
            tenant,
            base: Uuid::now_v7(),
        }
    }

    fn stream_of(&self, i: u64) -> (&str, u64) {
        let n = self.streams.len() as u64;
        (&self.streams[(i % n) as usize], i / n + 1)
    }

    fn id(&self, salt: u64, i: u64) -> Uuid {
        Uuid::from_u128(self.base.as_u128() ^ (u128::from(salt) << 64) ^ u128::from(i))
    }

    fn event(&self, salt: u64, i: u64, buf: &mut Vec<u8>) -> NewEvent {
        let (stream, version) = self.stream_of(i);
        let env = Envelope {
            event_id: EventId(self.id(salt, i)),
            stream: stream.to_string(),
            stream_version: version,
            recorded_at: Timestamp::from_micros(1_790_000_000_000_000 + i as i64),
            effective_at: Timestamp::from_micros(1_790_000_000_000_000 + i as i64),
            causation_id: None,
            correlation_id: CorrelationId(self.base),
            actor: self.actor.clone(),
            partner: Some(self.tenant),
            customer: Some(self.tenant),
            schema_version: codec::SCHEMA_VERSION,
            payload: Event::AccessRefused(AccessRefused {
                service: "ordering".into(),
                action: "place_order".into(),
                customer: Some(self.tenant),
                reason: "bench".into(),
                item: None,
            }),
            outbox: None,
        };
        buf.clear();
        codec::encode_into(&env, buf);
        NewEvent {
            event_id: env.event_id.as_uuid(),
            stream: env.stream,
            version,
            publish: true,
            bytes: buf.clone(),
        }
    }
}

impl Args {
    fn durability(&self) -> Durability {
        if self.unsafe_no_fsync {
            Durability::UnsafeNoFsync
        } else {
            Durability::Synced
        }
    }

    fn log_options(&self) -> LogOptions {
        LogOptions {
            durability: self.durability(),
            ..LogOptions::default()
        }
    }
}

/// A raw sled database for a ceiling, with the same stable-storage sync the log pays per flush.
struct Raw {
    trees: Trees,
    stable: StableStorage,
}

impl Raw {
    fn open(path: &Path, durability: Durability) -> anyhow::Result<Raw> {
        let trees = Trees::open(&sled_config(path).open().context("opening a ceiling db")?)?;
        let stable = StableStorage::open(path, durability, None)?;
        Ok(Raw { trees, stable })
    }

    /// What the log does after applying a group: sled's flush, then the sync.
    fn flush(&self) -> anyhow::Result<()> {
        self.trees.db.flush()?;
        self.stable.sync(0)?;
        Ok(())
    }
}

fn sled_config(path: &Path) -> sled::Config {
    // The same cache and flushing the log itself uses, so the ceiling is a fair one.
    sled::Config::new()
        .path(path)
        .cache_capacity(LogOptions::default().cache_capacity_bytes)
        .flush_every_ms(None)
}

/// The ceiling loop: the same pages (the events' values packed as the log packs them) under the
/// same keys in the same tree, applied with the same transaction and one flush (and sync) per
/// batch —
/// everything the log does to make a batch atomic and durable, and nothing else (no checks, no
/// indexes, no writer thread).
fn raw_batch(
    raw: &Raw,
    events: &[NewEvent],
    first_seq: u64,
    buf: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let mut pages = value::PageBuilder::default();
    for (k, e) in events.iter().enumerate() {
        let seq = first_seq + k as u64;
        buf.clear();
        value::encode_event(
            buf,
            e.event_id.as_bytes(),
            &e.stream,
            e.version,
            Some(seq),
            &e.bytes,
        );
        pages.push(seq, buf);
    }
    let mut b = AppendBatches::default();
    for (first, page) in pages.finish() {
        b.events.insert(&keys::event(first)[..], page);
    }
    raw.trees.apply(&b)?;
    raw.flush()
}

struct Figures {
    batch_log: (u64, Duration),
    batch_raw: (u64, Duration),
    concurrent_log: (u64, Duration),
    concurrent_flushes: u64,
    /// The 64-task log's counters over the measured rounds (where a group's time goes).
    concurrent_stats: csp_eventlog::LogStats,
    single_flush: (u64, Duration),
    replay_log: (u64, Duration),
    replay_raw: (u64, Duration),
    replay_peak_rss: Option<u64>,
}

/// Runs the benchmark and prints the table.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let (Some(which), Some(dir)) = (&args.replay_child, &args.dir) {
        return run_replay_child(which, dir);
    }
    ensure!(
        args.batch > 0 && args.events >= args.batch,
        "--events must be at least --batch"
    );
    let (root, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (crate::fresh_dir("csp-bench-eventlog")?, true),
    };
    std::fs::create_dir_all(&root)?;
    let result = measure(&args, &root);
    if temporary && !args.keep {
        let _ = std::fs::remove_dir_all(&root);
    }
    let f = result?;
    report(&args, &f);
    Ok(())
}

fn measure(args: &Args, root: &Path) -> anyhow::Result<Figures> {
    let events = Events::new(args.streams);
    let sample_len = events.event(0, 0, &mut Vec::new()).bytes.len();
    eprintln!(
        "csp bench eventlog: {} events of {} bytes in batches of {}, over {} streams, in {}",
        args.events,
        sample_len,
        args.batch,
        args.streams,
        root.display()
    );
    let log_dir = root.join("log");
    let raw_dir = root.join("raw");
    let log = EventLog::open(&log_dir, args.log_options()).context("opening the bench log")?;
    let raw = Raw::open(&raw_dir, args.durability())?;

    // 1. Batch append vs the same-keys raw loop, alternating in rounds.
    let batches = args.events / args.batch;
    let per_round = batches.div_ceil(ROUNDS);
    let (mut t_log, mut t_raw) = (Duration::ZERO, Duration::ZERO);
    let mut buf = Vec::with_capacity(512);
    let mut raw_buf = Vec::with_capacity(512);
    let mut done = 0u64;
    while done < batches {
        let upto = (done + per_round).min(batches);
        for b in done..upto {
            let evs: Vec<NewEvent> = (b * args.batch..(b + 1) * args.batch)
                .map(|i| events.event(0, i, &mut buf))
                .collect();
            let start = Instant::now();
            log.append_blocking(Batch {
                events: evs,
                request: None,
            })
            .context("bench batch append")?;
            t_log += start.elapsed();
        }
        for b in done..upto {
            let evs: Vec<NewEvent> = (b * args.batch..(b + 1) * args.batch)
                .map(|i| events.event(0, i, &mut buf))
                .collect();
            let start = Instant::now();
            raw_batch(&raw, &evs, b * args.batch + 1, &mut raw_buf)?;
            t_raw += start.elapsed();
        }
        done = upto;
        eprint!("\r  batch append: {done}/{batches} batches");
    }
    eprintln!();
    let written = batches * args.batch;

    // 2. 64 tasks of single-event appends vs one insert + one flush per event.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let conc_dir = root.join("concurrent");
    let conc = EventLog::open(&conc_dir, args.log_options()).context("opening the 64-task log")?;
    let single_dir = root.join("single-flush");
    let single = Raw::open(&single_dir, args.durability())?;
    let (mut t_conc, mut t_single) = (Duration::ZERO, Duration::ZERO);
    let (mut n_conc, mut n_single) = (0u64, 0u64);
    let stats_before = conc.stats();
    let events = Arc::new(events);
    for round in 0..2u64 {
        let start = Instant::now();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for t in 0..TASKS {
                let log = conc.clone();
                let events = Arc::clone(&events);
                let per_task = args.per_task;
                tasks.push(tokio::spawn(async move {
                    let mut buf = Vec::with_capacity(512);
                    for k in 0..per_task {
                        // Each task owns its streams: task t writes stream (t + 64·j), so the
                        // versions it computes are its own to take.
                        let i = round * TASKS * per_task + k * TASKS + t;
                        let ev = events.event(1, i, &mut buf);
                        let ev = NewEvent {
                            stream: format!("task-{t}"),
                            version: round * per_task + k + 1,
                            ..ev
                        };
                        log.append(Batch {
                            events: vec![ev],
                            request: None,
                        })
                        .await?;
                    }
                    Ok::<_, csp_eventlog::AppendError>(())
                }));
            }
            for t in tasks {
                t.await.context("task panicked")??;
            }
            anyhow::Ok(())
        })?;
        t_conc += start.elapsed();
        n_conc += TASKS * args.per_task;

        let start = Instant::now();
        for k in 0..args.single_flush_events / 2 {
            let i = round * args.single_flush_events + k;
            let ev = events.event(2, i, &mut buf);
            raw_buf.clear();
            value::encode_event(
                &mut raw_buf,
                ev.event_id.as_bytes(),
                &ev.stream,
                ev.version,
                Some(i + 1),
                &ev.bytes,
            );
            single
                .trees
                .events
                .insert(&keys::event(i + 1)[..], raw_buf.as_slice())?;
            single.flush()?;
        }
        t_single += start.elapsed();
        n_single += args.single_flush_events / 2;
    }
    let stats_after = conc.stats();
    let concurrent_stats = stats_after.since(&stats_before);
    let concurrent_flushes = concurrent_stats.flushes;
    drop(conc);
    drop(single);

    // 3. Replay vs raw scan + decode, alternating, each in a fresh process so that its peak RSS
    // is the replay's own and not what the writing phases left in this process's heap.
    drop(log);
    drop(raw);
    let (mut t_replay, mut t_scan) = (Duration::ZERO, Duration::ZERO);
    let mut replay_peak = None;
    // One untimed replay of each first: the first child after the writing phases otherwise
    // pays alone for whatever the writes left behind (page-cache state, sled's first recovery
    // after the writer's close), which is not the replay's cost. Both sides get the same
    // warm-up, and the timed rounds still alternate.
    replay_child("log", &log_dir)?;
    replay_child("raw", &raw_dir)?;
    for _round in 0..2 {
        let r = replay_child("log", &log_dir)?;
        ensure!(
            r.events == written,
            "replay folded {} of {written} events",
            r.events
        );
        t_replay += r.elapsed;
        replay_peak = replay_peak.max(r.peak_rss);
        let r = replay_child("raw", &raw_dir)?;
        ensure!(
            r.events == written,
            "raw scan decoded {} of {written} events",
            r.events
        );
        t_scan += r.elapsed;
    }

    Ok(Figures {
        batch_log: (written, t_log),
        batch_raw: (written, t_raw),
        concurrent_log: (n_conc, t_conc),
        concurrent_flushes,
        concurrent_stats,
        single_flush: (n_single, t_single),
        replay_log: (2 * written, t_replay),
        replay_raw: (2 * written, t_scan),
        replay_peak_rss: replay_peak,
    })
}

/// The projection the replay folds into: per event kind, a count; per stream, the last version.
#[derive(Default)]
struct Fold {
    by_kind: HashMap<EventKind, u64>,
    last_version: HashMap<String, u64>,
    latest: Timestamp,
}

impl Fold {
    fn apply(&mut self, env: &Envelope) {
        *self.by_kind.entry(env.payload.kind()).or_default() += 1;
        match self.last_version.get_mut(env.stream.as_str()) {
            Some(v) => *v = env.stream_version,
            None => {
                self.last_version
                    .insert(env.stream.clone(), env.stream_version);
            }
        }
        self.latest = self.latest.max(env.effective_at);
    }
}

fn replay(log: &EventLog) -> anyhow::Result<u64> {
    let mut fold = Fold::default();
    for record in log.read_from(1) {
        let record = record?;
        let env = codec::decode(record.bytes()).context("decoding a bench event")?;
        fold.apply(&env);
    }
    Ok(fold.by_kind.values().sum())
}

/// The ceiling: scan the events tree of a plain sled db, split each page by hand and
/// postcard-decode each record (the log's value header, then the envelope header and payload)
/// with no layer in between.
fn raw_scan(trees: &Trees) -> anyhow::Result<u64> {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct LogHeader<'a> {
        event_id: [u8; 16],
        stream: &'a str,
        version: u64,
        outbox_seq: Option<u64>,
    }
    let mut fold = Fold::default();
    let mut decode = |v: &[u8]| -> anyhow::Result<()> {
        let (_, rest) = postcard::take_from_bytes::<LogHeader>(&v[1..])?;
        let (h, payload) = postcard::take_from_bytes::<codec::Header>(&rest[1..])?;
        let payload: Event = postcard::from_bytes(payload)?;
        fold.apply(&h.into_envelope(payload));
        Ok(())
    };
    for kv in trees.events.iter() {
        let (_, v) = kv?;
        if v.first() != Some(&value::PAGE_FORMAT) {
            decode(&v)?;
            continue;
        }
        let mut at = 1;
        while at + 4 <= v.len() {
            let len = u32::from_le_bytes(v[at..at + 4].try_into()?) as usize;
            decode(&v[at + 4..at + 4 + len])?;
            at += 4 + len;
        }
    }
    Ok(fold.by_kind.values().sum())
}

fn report(args: &Args, f: &Figures) {
    let batch_log = rate(f.batch_log.0, f.batch_log.1);
    let batch_raw = rate(f.batch_raw.0, f.batch_raw.1);
    let conc = rate(f.concurrent_log.0, f.concurrent_log.1);
    let single = rate(f.single_flush.0, f.single_flush.1);
    let replay = rate(f.replay_log.0, f.replay_log.1);
    let scan = rate(f.replay_raw.0, f.replay_raw.1);
    header(&format!(
        "csp bench eventlog --events {} --batch {} --per-task {} --streams {}{}",
        args.events,
        args.batch,
        args.per_task,
        args.streams,
        if args.unsafe_no_fsync {
            " --unsafe-no-fsync"
        } else {
            ""
        }
    ));
    let sync = match args.durability() {
        Durability::Synced => "flush + fdatasync",
        Durability::UnsafeNoFsync => "flush only (UNSAFE: no fdatasync)",
    };
    println!("durability: {sync} per group, in the log and in the ceilings alike");
    println!();
    println!("| figure | events | csp-eventlog (ev/s) | ceiling (ev/s) | ratio | target |");
    println!("|---|---:|---:|---:|---:|---|");
    println!(
        "| durable append, batches of {} | {} | {:.0} | {:.0} (same pages, raw sled, {sync} per batch) | {:.2} | >= 0.90 |",
        args.batch, f.batch_log.0, batch_log, batch_raw, batch_log / batch_raw
    );
    println!(
        "| durable single appends, 64 tasks | {} | {:.0} | {:.0} (one insert, {sync}) | {:.1}x | >= 5x |",
        f.concurrent_log.0, conc, single, conc / single
    );
    println!(
        "| replay: read, decode, fold | {} | {:.0} | {:.0} (raw sled scan + postcard) | {:.2} | >= 0.90 |",
        f.replay_log.0, replay, scan, replay / scan
    );
    println!();
    println!(
        "64-task appends: {} flushes for {} appends ({:.1} appends per flush)",
        f.concurrent_flushes,
        f.concurrent_log.0,
        f.concurrent_log.0 as f64 / f.concurrent_flushes.max(1) as f64
    );
    let st = &f.concurrent_stats;
    let groups = st.groups.max(1) as f64;
    println!(
        "64-task groups: {} groups, {:.1} appends per group; writer per group: decide {:.0} us, \
         apply (sled transaction, pages of events) {:.0} us; flusher per flush: sled's flush {:.0} us, \
         sync to stable storage {:.0} us; busy share of the wall time: writer {:.0} %, flusher {:.0} %",
        st.groups,
        st.appends as f64 / groups,
        st.decide_micros as f64 / groups,
        st.apply_micros as f64 / groups,
        st.flush_micros as f64 / st.flushes.max(1) as f64,
        st.sync_micros as f64 / st.syncs.max(1) as f64,
        (st.decide_micros + st.apply_micros) as f64 / 1e4 / f.concurrent_log.1.as_secs_f64(),
        (st.flush_micros + st.sync_micros) as f64 / 1e4 / f.concurrent_log.1.as_secs_f64(),
    );
    match f.replay_peak_rss {
        Some(peak) => println!(
            "peak RSS of a process replaying {} events: {:.1} MiB ({:.0} MB; target <= 150 MB)",
            f.replay_log.0 / 2,
            mib(peak),
            peak as f64 / 1e6
        ),
        None => println!("peak RSS during replay: not measurable here (no /proc/self/status)"),
    }
}

/// What a replay child measured.
struct ChildResult {
    events: u64,
    elapsed: Duration,
    peak_rss: Option<u64>,
}

/// Runs `csp bench eventlog --replay-child <which> --dir <dir>` and reads its one-line result.
fn replay_child(which: &str, dir: &Path) -> anyhow::Result<ChildResult> {
    // /proc/self/exe, not the path: the checkout is shared, and a rebuild that replaces
    // target/release/csp during a run would otherwise leave no binary to start the child from
    // (the kernel keeps the running image reachable here even when its file was replaced).
    let proc_exe = Path::new("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().context("locating the csp binary")?
    };
    let out = std::process::Command::new(exe)
        .args(["bench", "eventlog", "--replay-child", which, "--dir"])
        .arg(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the replay child")?;
    ensure!(
        out.status.success(),
        "replay child {which} failed: {}",
        out.status
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("replay child output")?;
    Ok(ChildResult {
        events: v["events"].as_u64().unwrap_or(0),
        elapsed: Duration::from_secs_f64(v["secs"].as_f64().unwrap_or(0.0)),
        peak_rss: v["peak_rss"].as_u64(),
    })
}

/// The child side: replays `dir` (the log, or the raw ceiling db) and prints one JSON line.
fn run_replay_child(which: &str, dir: &Path) -> anyhow::Result<()> {
    reset_peak_rss();
    let start = Instant::now();
    let events = match which {
        "log" => replay(&EventLog::open(dir, LogOptions::default())?)?,
        "raw" => raw_scan(&Trees::open(&sled_config(dir).open()?)?)?,
        other => anyhow::bail!("unknown replay child {other:?}"),
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "events": events, "secs": secs, "peak_rss": peak_rss() })
    );
    Ok(())
}
