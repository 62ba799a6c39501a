//! `csp bench bus`: events from a producer's log to a consumer's log over a real nats-server,
//! durable at both ends, beside a raw JetStream loop measured in the same run.
//!
//! - csp: the counter's log is filled with `--events` increments before it starts; then the
//!   counter (producer: outbox → `CSP_EVENTS`) and the counter observer (consumer: upstream
//!   event + one reaction, appended and flushed, then acked) run in this process; the figure is
//!   upstream events per second until the consumer has folded the last one. It runs twice: the
//!   observer keeping its reactions in its log (nobody consumes them: the figure with the
//!   target), then publishing them too, which shows what a second publish per event costs.
//! - ceiling: the same number of messages of the same size published pipelined (up to 1,000
//!   acknowledgements in flight) to a stream of its own while a durable pull consumer fetches
//!   batches of 1,000 and acks each message with a plain ack; no sled.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use csp_auth::{AuthConfig, DevIssuer, InternalIssuer, Verifier};
use csp_bus::runtime::{self, RuntimeConfig};
use csp_bus::{Bus, Clock};
use csp_counter::{CounterObserver, CounterService, Kept, Published, Reactions};
use csp_eventlog::{Batch, EventLog, LogOptions, NewEvent};
use csp_events::actor::{Actor, ActorKind, Role};
use csp_events::counter::{self, CounterIncremented, CounterOpened};
use csp_events::{codec, CorrelationId, Envelope, Event, EventId, TenantId, Timestamp};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::bench::{header, rate};

/// Arguments of `csp bench bus`.
#[derive(clap::Args)]
pub struct Args {
    /// Upstream events (fewer than ~100,000 run too briefly here for a stable figure).
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// A running nats-server to use (default: start one on a free port with a temporary
    /// JetStream directory).
    #[arg(long)]
    nats: Option<String>,
    /// Skip the sync to stable storage (`fdatasync`) after each flush of every log (the
    /// service's and the ceiling's alike): acknowledged appends then survive a killed process
    /// but not a power cut. Only to show what the sync costs; never how a service runs.
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
    let server_pid = server.as_ref().and_then(|s| s.pid());
    let dir = crate::fresh_dir("csp-bench-bus")?;
    let result = rt.block_on(async {
        let cpu = Cpu::read(server_pid);
        let ceiling = raw_loop(&url, args.events).await?;
        let cpu_raw = Cpu::read(server_pid).since(&cpu);
        let opts = LogOptions {
            durability: crate::bench::durability(args.unsafe_no_fsync),
            ..LogOptions::default()
        };
        let kept =
            csp_loop::<Kept>(&url, &dir.join("kept"), args.events, server_pid, &opts).await?;
        let published =
            csp_loop::<Published>(&url, &dir.join("published"), args.events, server_pid, &opts)
                .await?;
        anyhow::Ok((ceiling, cpu_raw, kept, published))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (ceiling, cpu_raw, kept, published) = result?;
    let r = rate(args.events, ceiling);
    header(&format!(
        "csp bench bus --events {}{}",
        args.events,
        crate::bench::durability_flag(args.unsafe_no_fsync)
    ));
    println!();
    println!("| figure | events | csp (ev/s) | ceiling (ev/s) | ratio | target |");
    println!("|---|---:|---:|---:|---:|---|");
    for (figure, (elapsed, _), target) in [
        (
            "producer log -> consumer log, durable at both ends",
            kept,
            ">= 0.50",
        ),
        (
            "the same, the consumer's reactions also published",
            published,
            "-",
        ),
    ] {
        let c = rate(args.events, elapsed);
        println!(
            "| {figure} | {} | {c:.0} | {r:.0} (raw JetStream: pipelined publish, fetch 1,000, ack each) | {:.2} | {target} |",
            args.events,
            c / r
        );
    }
    println!();
    let per = |ns: u64| ns as f64 / 1000.0 / args.events as f64;
    println!("CPU per upstream event (µs): | | nats-server | this process |");
    println!("|---|---:|---:|");
    for (name, cpu) in [
        ("ceiling", cpu_raw),
        ("csp", kept.1),
        ("csp, reactions published", published.1),
    ] {
        println!(
            "| {name} | {:.1} | {:.1} |",
            per(cpu.server_ns),
            per(cpu.process_ns)
        );
    }
    Ok(())
}

/// CPU time used so far by the nats-server (if this bench started it) and by this process,
/// from `/proc/<pid>/stat` (user + system time of every thread, also of threads that ended).
#[derive(Clone, Copy, Default)]
struct Cpu {
    server_ns: u64,
    process_ns: u64,
}

impl Cpu {
    fn read(server: Option<u32>) -> Cpu {
        Cpu {
            server_ns: server.map_or(0, |pid| cpu_ns(&pid.to_string())),
            process_ns: cpu_ns("self"),
        }
    }

    fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            server_ns: self.server_ns.saturating_sub(before.server_ns),
            process_ns: self.process_ns.saturating_sub(before.process_ns),
        }
    }
}

/// utime + stime of `/proc/<pid>/stat`, in ns (Linux counts them in 100 Hz ticks).
fn cpu_ns(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The fields after the command name (which may hold spaces) start after its ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the ')'.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks * 10_000_000
}

const PAYLOAD: usize = 200;

/// The ceiling: `n` messages of a bench event's size through raw JetStream (pipelined
/// publish, fetch 1,000, ack each); `csp bench audit` measures it too.
pub(crate) async fn raw_loop(url: &str, n: u64) -> anyhow::Result<Duration> {
    use async_nats::jetstream::{self, consumer::pull, stream};
    let client = async_nats::connect(url).await?;
    let js = jetstream::new(client);
    let name = format!("BENCH_RAW_{}", Uuid::new_v4().simple());
    let subject = format!("bench.raw.{}", Uuid::new_v4().simple());
    let stream = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 100_000,
            ..Default::default()
        })
        .await?;
    let start = Instant::now();
    let publisher = {
        let js = js.clone();
        let subject = subject.clone();
        tokio::spawn(async move {
            let payload = bytes::Bytes::from(vec![b'x'; PAYLOAD]);
            let mut pending = std::collections::VecDeque::new();
            for i in 0..n {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("m{i}").as_str());
                pending.push_back(
                    js.publish_with_headers(subject.clone(), headers, payload.clone())
                        .await?,
                );
                if pending.len() >= 1000 {
                    if let Some(a) = pending.pop_front() {
                        a.await?;
                    }
                }
            }
            while let Some(a) = pending.pop_front() {
                a.await?;
            }
            anyhow::Ok(())
        })
    };
    let mut got = 0;
    while got < n {
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(500))
            .messages()
            .await?;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow::anyhow!("fetch: {e}"))?;
            m.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
            got += 1;
        }
    }
    let elapsed = start.elapsed();
    publisher.await??;
    js.delete_stream(&name).await?;
    Ok(elapsed)
}

fn envelope(i: u64, customer: TenantId, partner: TenantId, payload: Event) -> Envelope {
    let now = Timestamp::from_micros(1_790_000_000_000_000 + i as i64);
    Envelope {
        event_id: EventId(Uuid::now_v7()),
        stream: counter::stream(customer),
        stream_version: i + 1,
        recorded_at: now,
        effective_at: now,
        causation_id: None,
        correlation_id: CorrelationId(Uuid::now_v7()),
        actor: Actor {
            kind: ActorKind::Partner,
            tenant: partner,
            user: "bench@partner.example".into(),
            roles: vec![Role::AdminAgent],
        },
        partner: Some(partner),
        customer: Some(customer),
        schema_version: codec::SCHEMA_VERSION,
        payload,
        outbox: None,
    }
}

/// Fills the producer's log: one opened counter and `n` increments, as the counter would have.
fn fill(log: &EventLog, n: u64) -> anyhow::Result<()> {
    let customer = TenantId(Uuid::from_u128(0xc0));
    let partner = TenantId(Uuid::from_u128(0xa0));
    let opened = CounterOpened {
        customer,
        partner,
        limit: u64::MAX,
        expires_at: Timestamp::from_micros(i64::MAX / 2),
    };
    let mut events = vec![envelope(0, customer, partner, opened.into())];
    for i in 1..=n {
        events.push(envelope(
            i,
            customer,
            partner,
            CounterIncremented {
                customer,
                by: 1,
                total: i,
            }
            .into(),
        ));
        if events.len() == 1000 || i == n {
            let batch = Batch {
                events: events
                    .drain(..)
                    .map(|e| NewEvent {
                        event_id: e.event_id.as_uuid(),
                        stream: e.stream.clone(),
                        version: e.stream_version,
                        publish: true,
                        bytes: codec::encode(&e),
                    })
                    .collect(),
                request: None,
            };
            log.append_blocking(batch)?;
        }
    }
    Ok(())
}

/// One csp run: upstream events per second from the producer's log to the consumer's, and the
/// CPU the run used (from the start of the services, not counting the filling of the log).
async fn csp_loop<R: Reactions>(
    url: &str,
    dir: &std::path::Path,
    n: u64,
    server_pid: Option<u32>,
    opts: &LogOptions,
) -> anyhow::Result<(Duration, Cpu)> {
    let dev = DevIssuer::generate()?;
    let internal = Arc::new(InternalIssuer::generate()?);
    let verifier = Arc::new(Verifier::new(AuthConfig {
        issuers: vec![dev.issuer_config(), internal.issuer_config()],
    })?);
    let producer_dir: PathBuf = dir.join("counter");
    let log = EventLog::open(&producer_dir, opts.clone())?;
    let filler = log.clone();
    tokio::task::spawn_blocking(move || fill(&filler, n)).await??;
    let bus = Bus::connect(url).await?;
    let config = |log: EventLog| {
        let mut c = RuntimeConfig::new(bus.clone(), log, Clock::System, Arc::clone(&verifier));
        c.internal = Some(Arc::clone(&internal));
        c
    };
    let consumer_log = EventLog::open(dir.join("observer"), opts.clone())?;
    // The consumer first, so the measurement starts when the producer starts publishing.
    let cpu = Cpu::read(server_pid);
    let observer = runtime::start::<CounterObserver<R>>(config(consumer_log), ()).await?;
    let start = Instant::now();
    let counter = runtime::start::<CounterService>(config(log), ()).await?;
    let target = 2 * n + 1;
    let deadline = Instant::now() + Duration::from_secs(600);
    while observer.applied_seq() < target {
        ensure!(
            Instant::now() < deadline,
            "consumer stuck at {}",
            observer.applied_seq()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let cpu = Cpu::read(server_pid).since(&cpu);
    counter.shutdown().await;
    observer.shutdown().await;
    // On the bench's own server the next run starts from an empty stream, as this one did. A
    // server given with `--nats` keeps its `CSP_EVENTS`: it may hold what others rely on.
    if server_pid.is_some() {
        let js = async_nats::jetstream::new(async_nats::connect(url).await?);
        js.delete_stream(csp_events::subject::EVENTS_STREAM).await?;
    }
    Ok((elapsed, cpu))
}
