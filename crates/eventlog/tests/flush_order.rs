//! The group-commit contract, observed from outside: an append is acknowledged only after a
//! flush covering it has returned, and a failed flush acknowledges nothing and leaves no trace.

mod common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use common::{single, TempDir};
use csp_eventlog::{AppendError, AppendOutcome, EventLog, FlushObserver, LogOptions};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    FlushStart(u64),
    FlushEnd(u64),
    FlushFailed(u64),
    Ack(u64),
}

/// Records flushes into the shared journal, sleeping inside each so that appends pile up, and
/// fails every flush while `failing` is set.
struct Recorder {
    journal: Arc<Mutex<Vec<Entry>>>,
    failing: AtomicBool,
}

impl Recorder {
    fn push(&self, entry: Entry) {
        self.journal.lock().expect("journal lock").push(entry);
    }
}

impl FlushObserver for Recorder {
    fn before_flush(&self, up_to_seq: u64) -> std::io::Result<()> {
        self.push(Entry::FlushStart(up_to_seq));
        std::thread::sleep(Duration::from_millis(5));
        if self.failing.load(Ordering::SeqCst) {
            self.push(Entry::FlushFailed(up_to_seq));
            return Err(std::io::Error::other("injected flush failure"));
        }
        Ok(())
    }

    fn after_flush(&self, up_to_seq: u64) {
        self.push(Entry::FlushEnd(up_to_seq));
    }
}

fn open_recorded(dir: &TempDir) -> (EventLog, Arc<Recorder>) {
    let recorder = Arc::new(Recorder {
        journal: Arc::new(Mutex::new(Vec::new())),
        failing: AtomicBool::new(false),
    });
    let opts = LogOptions {
        flush_observer: Some(recorder.clone()),
        ..LogOptions::default()
    };
    (EventLog::open(dir.path(), opts).expect("opens"), recorder)
}

/// `tasks` tasks each append `per_task` single events to their own stream, recording
/// `Ack(seq)` in the journal as each append returns. Returns every outcome.
async fn hammer(
    log: &EventLog,
    recorder: &Arc<Recorder>,
    tasks: usize,
    per_task: u64,
    first_version: u64,
) -> Vec<(Uuid, Result<AppendOutcome, AppendError>)> {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let log = log.clone();
            let recorder = Arc::clone(recorder);
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for v in 0..per_task {
                    let id = Uuid::new_v4();
                    let outcome = log
                        .append(single(id, &format!("task-{t}"), first_version + v))
                        .await;
                    if let Ok(AppendOutcome::Appended { positions }) = &outcome {
                        for p in positions {
                            recorder.push(Entry::Ack(p.seq));
                        }
                    }
                    let failed = outcome.is_err();
                    outcomes.push((id, outcome));
                    if failed {
                        break; // the stream's version did not move; stop this task
                    }
                }
                outcomes
            })
        })
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.expect("task joins"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ack_follows_the_end_of_a_flush_covering_it() {
    let dir = TempDir::new("flush-order");
    let (log, recorder) = open_recorded(&dir);

    let outcomes = hammer(&log, &recorder, 32, 8, 1).await;
    assert!(
        outcomes.iter().all(|(_, o)| o.is_ok()),
        "every append succeeds"
    );

    let journal = recorder.journal.lock().expect("journal lock").clone();
    let mut flushed_up_to = 0;
    let mut acks = 0;
    for (i, entry) in journal.iter().enumerate() {
        match *entry {
            Entry::FlushEnd(up_to) => flushed_up_to = flushed_up_to.max(up_to),
            Entry::Ack(seq) => {
                acks += 1;
                assert!(
                    seq <= flushed_up_to,
                    "Ack({seq}) at journal entry {i} before any FlushEnd covering it: {journal:?}"
                );
            }
            Entry::FlushStart(_) => {}
            Entry::FlushFailed(up_to) => panic!("no flush should fail here ({up_to})"),
        }
    }
    assert_eq!(acks, 32 * 8);
    let flushes = journal
        .iter()
        .filter(|e| matches!(e, Entry::FlushEnd(_)))
        .count();
    assert!(
        flushes < acks,
        "{flushes} flushes for {acks} acks: no grouping happened"
    );
    assert!(log.verify().expect("verify runs").is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_acknowledges_nothing_and_leaves_no_half_state() {
    let dir = TempDir::new("flush-fail");
    let (log, recorder) = open_recorded(&dir);
    let before = hammer(&log, &recorder, 4, 3, 1).await;
    assert!(before.iter().all(|(_, o)| o.is_ok()));
    let (last_seq, last_outbox) = (log.last_seq(), log.last_outbox_seq());
    assert_eq!(last_seq, 12);

    // Every flush fails now: every concurrent append must fail, none may be acknowledged.
    recorder.failing.store(true, Ordering::SeqCst);
    let failed = hammer(&log, &recorder, 8, 1, 4).await;
    recorder.failing.store(false, Ordering::SeqCst);
    for (id, outcome) in &failed {
        assert!(
            matches!(outcome, Err(AppendError::Storage(_))),
            "append of {id} during failing flushes: {outcome:?}"
        );
    }
    let journal = recorder.journal.lock().expect("journal lock").clone();
    assert!(journal.iter().any(|e| matches!(e, Entry::FlushFailed(_))));
    assert_eq!(
        journal
            .iter()
            .filter(|e| matches!(e, Entry::Ack(_)))
            .count(),
        12
    );

    // Nothing of the failed groups is visible, now or after a reopen; the log still works.
    assert_eq!(
        (log.last_seq(), log.last_outbox_seq()),
        (last_seq, last_outbox)
    );
    let report = log.verify().expect("verify runs");
    assert!(report.is_clean(), "{:?}", report.problems);
    let stats = log.stats();
    assert!(stats.failed_groups >= 1, "{stats:?}");

    let after = hammer(&log, &recorder, 4, 2, 4).await;
    assert!(
        after.iter().all(|(_, o)| o.is_ok()),
        "the log works again: {after:?}"
    );
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!(log.last_seq(), 12 + 8);
    let stored: Vec<Uuid> = log
        .read_from(1)
        .map(|r| r.expect("decodes").event_id)
        .collect();
    for (id, _) in &failed {
        assert!(!stored.contains(id), "failed append {id} is in the log");
    }
    let report = log.verify().expect("verify runs");
    assert!(report.is_clean(), "{:?}", report.problems);
}
