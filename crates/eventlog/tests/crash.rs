//! Crash safety: a child process appends as fast as it can and reports every acknowledged
//! append on stdout; the parent SIGKILLs it at a random moment, reopens the log and checks that
//! the log is intact and holds everything that was acknowledged. Repeated 20 times.
//!
//! The child is this same test binary, re-executed with the ignored `crash_child` test selected
//! and the log directory in `CSP_EVENTLOG_CRASH_CHILD_DIR` (without that variable the child test
//! does nothing, so running ignored tests by hand is harmless).

mod common;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use common::{event, request, single, TempDir, XorShift};
use csp_eventlog::{AppendOutcome, Batch, EventLog, LogOptions, OpenError};
use uuid::Uuid;

const CHILD_DIR: &str = "CSP_EVENTLOG_CRASH_CHILD_DIR";
const ROUNDS: usize = 20;
const TENANT: Uuid = Uuid::from_u128(0xC5B0);
const BATCH_STREAMS: usize = 4;
const SINGLE_TASKS: usize = 64;

#[test]
fn acknowledged_appends_survive_sigkill_at_random_moments() {
    let mut rng = XorShift::from_env_or_time();
    println!(
        "crash test seed: {} (set CSP_TEST_SEED to replay)",
        rng.seed()
    );
    let dir = TempDir::new("crash");
    let mut acked_events: HashMap<u64, Uuid> = HashMap::new();
    let mut acked_requests: Vec<(String, Vec<u64>)> = Vec::new();
    let started = Instant::now();

    for round in 0..ROUNDS {
        // A fresh log every 5 rounds keeps verification fast on 2 cores; each log is still
        // killed, reopened and checked 5 times, its acknowledgements accumulating.
        let dir = &dir.path().join(format!("log-{}", round / 5));
        if round % 5 == 0 {
            acked_events.clear();
            acked_requests.clear();
        }
        let mut child = Command::new(std::env::current_exe().expect("current exe"))
            .args([
                "crash_child",
                "--exact",
                "--nocapture",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    // A line cut by the kill has no newline: it was never fully reported.
                    Ok(n) if n > 0 && line.ends_with('\n') => {
                        if lines_tx.send(line.trim_end().to_owned()).is_err() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        });

        // Wait until the child has the log open, then check the lock holds it.
        let open_deadline = Instant::now() + Duration::from_secs(20);
        let mut lines = Vec::new();
        loop {
            let line = lines_rx
                .recv_timeout(open_deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|e| panic!("round {round}: child did not open the log: {e}"));
            let opened = line == "OPEN";
            lines.push(line);
            if opened {
                break;
            }
        }
        let no_wait = LogOptions {
            lock_wait: std::time::Duration::ZERO,
            ..LogOptions::default()
        };
        match EventLog::open(dir, no_wait) {
            Err(OpenError::Locked { .. }) => {}
            Err(other) => panic!("round {round}: open of the child's log: {other}"),
            Ok(_) => panic!("round {round}: opened a log another process holds"),
        }

        let delay = rng.range(50, 400);
        std::thread::sleep(Duration::from_millis(delay));
        let pid = i32::try_from(child.id()).expect("pid fits");
        // SAFETY: plain syscall on the pid of a child we spawned and have not reaped.
        let killed = unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(killed, 0, "kill failed");
        let status = child.wait().expect("wait child");
        assert!(
            !status.success() && status.code().is_none(),
            "round {round}: child exited on its own ({status}) instead of being killed"
        );
        reader.join().expect("reader joins");
        lines.extend(lines_rx.try_iter());

        let mut acks_this_round = 0;
        for line in &lines {
            acks_this_round += record_ack(line, &mut acked_events, &mut acked_requests);
        }

        let log = EventLog::open(dir, LogOptions::default())
            .unwrap_or_else(|e| panic!("round {round}: reopen after SIGKILL: {e}"));
        let report = log.verify().expect("verify runs");
        assert!(
            report.is_clean(),
            "round {round} (seed printed above): {} problems, first: {:?}",
            report.problems.len(),
            &report.problems[..report.problems.len().min(5)]
        );
        let stored: HashMap<u64, Uuid> = log
            .read_from(1)
            .map(|r| r.map(|r| (r.seq, r.event_id)).expect("decodes"))
            .collect();
        for (seq, id) in &acked_events {
            assert_eq!(
                stored.get(seq),
                Some(id),
                "round {round}: acknowledged event {id} at seq {seq} is missing or moved"
            );
        }
        for (request_id, seqs) in &acked_requests {
            let record = log
                .request(TENANT, request_id)
                .expect("reads")
                .unwrap_or_else(|| {
                    panic!("round {round}: acknowledged request {request_id} is missing")
                });
            assert_eq!(&record.seqs, seqs, "round {round}: request {request_id}");
        }
        println!(
            "round {round}: killed after {delay} ms, {acks_this_round} acks, log at seq {}, {} acked so far, {:?} elapsed",
            log.last_seq(),
            acked_events.len(),
            started.elapsed()
        );
        assert!(log.last_seq() >= acked_events.keys().copied().max().unwrap_or(0));
    }
}

/// Parses one child line; returns the number of events it acknowledges.
fn record_ack(
    line: &str,
    events: &mut HashMap<u64, Uuid>,
    requests: &mut Vec<(String, Vec<u64>)>,
) -> usize {
    let mut parts = line.split(' ');
    let kind = parts.next();
    let parse_positions = |list: &str, events: &mut HashMap<u64, Uuid>| -> Vec<u64> {
        list.split(',')
            .map(|pos| {
                let (seq, id) = pos.split_once(':').expect("seq:id");
                let seq: u64 = seq.parse().expect("seq");
                let id: Uuid = id.parse().expect("uuid");
                if let Some(previous) = events.insert(seq, id) {
                    assert_eq!(previous, id, "two events acknowledged at seq {seq}");
                }
                seq
            })
            .collect()
    };
    match kind {
        Some("ACK-BATCH") => {
            let request_id = parts.next().expect("request id").to_owned();
            let seqs = parse_positions(parts.next().expect("positions"), events);
            let n = seqs.len();
            requests.push((request_id, seqs));
            n
        }
        Some("ACK-SINGLE") => parse_positions(parts.next().expect("position"), events).len(),
        _ => 0, // libtest's own output
    }
}

#[test]
#[ignore = "the child half of the crash test; it runs only when the parent starts it"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let log = EventLog::open(&dir, LogOptions::default()).expect("child opens the log");
    // libtest has printed "test crash_child ... " without a newline: end that line first.
    say("");
    say("OPEN");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut tasks = Vec::new();
        // One task appends big batches with a request record, over several streams.
        let batch_log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = XorShift::from_env_or_time();
            let mut versions: Vec<u64> = (0..BATCH_STREAMS)
                .map(|s| {
                    batch_log
                        .stream_version(&format!("batch-{s}"))
                        .expect("version")
                })
                .collect();
            loop {
                let n = rng.range(1, 1000) as usize;
                let mut events = Vec::with_capacity(n);
                for i in 0..n {
                    let s = i % BATCH_STREAMS;
                    let version = versions[s] + 1 + (i / BATCH_STREAMS) as u64;
                    events.push(event(
                        Uuid::new_v4(),
                        &format!("batch-{s}"),
                        version,
                        i % 3 == 0,
                        vec![1; 200],
                    ));
                }
                let request_id = format!("req-{}", Uuid::new_v4().simple());
                let batch = Batch {
                    events,
                    request: Some(request(TENANT, &request_id, 1)),
                };
                match batch_log.append(batch).await {
                    Ok(AppendOutcome::Appended { positions }) => {
                        for (s, version) in versions.iter_mut().enumerate() {
                            *version +=
                                (n / BATCH_STREAMS + usize::from(s < n % BATCH_STREAMS)) as u64;
                        }
                        let list: Vec<String> = positions
                            .iter()
                            .map(|p| format!("{}:{}", p.seq, p.event_id))
                            .collect();
                        say(&format!("ACK-BATCH {request_id} {}", list.join(",")));
                    }
                    other => fail(&format!("batch append: {other:?}")),
                }
            }
        }));
        // 64 tasks append single events to their own streams.
        for t in 0..SINGLE_TASKS {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let stream = format!("single-{t}");
                let mut version = log.stream_version(&stream).expect("version");
                loop {
                    version += 1;
                    let id = Uuid::new_v4();
                    match log.append(single(id, &stream, version)).await {
                        Ok(AppendOutcome::Appended { positions }) => {
                            say(&format!("ACK-SINGLE {}:{id}", positions[0].seq));
                        }
                        other => fail(&format!("single append: {other:?}")),
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}

/// One line on stdout, flushed before returning: the parent counts it as acknowledged.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// An unexpected error in the child: exit, so the parent sees a child that was not killed.
fn fail(what: &str) -> ! {
    eprintln!("crash child: {what}");
    std::process::exit(2);
}
