//! Group commit: many appends, one flush; decisions within a group see earlier requests.

use std::{sync::Arc, time::Duration};

use super::*;

/// Sleeps in `before_flush`, so appends arriving meanwhile queue up and the next group takes
/// them all: the batching is deterministic, not timing luck.
struct SlowFlush;

impl FlushObserver for SlowFlush {
    fn before_flush(&self, _up_to_seq: u64) -> std::io::Result<()> {
        std::thread::sleep(Duration::from_millis(5));
        Ok(())
    }
    fn after_flush(&self, _up_to_seq: u64) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_appends_cost_far_fewer_than_64_flushes() {
    let opts = LogOptions {
        flush_observer: Some(Arc::new(SlowFlush)),
        ..LogOptions::default()
    };
    let g = given_with(opts, vec![]);
    let tasks: Vec<_> = (0..64u128)
        .map(|i| {
            let log = g.log.clone();
            tokio::spawn(async move {
                log.append(batch(vec![ev(i + 1, &format!("s{i}"), 1)]))
                    .await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        let outcome = task.await.expect("joins");
        seqs.extend(positions(outcome).into_iter().map(|p| p.0));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=64).collect::<Vec<u64>>());
    let stats = g.log.stats();
    assert_eq!(stats.appends, 64);
    assert_eq!(stats.events_written, 64);
    assert!(
        stats.flushes < 64,
        "64 appends took {} flushes",
        stats.flushes
    );
    assert!(stats.flushes <= 8, "group commit barely grouped: {stats:?}");
    g.assert_verified();
}

/// Holds the writer in the flush of a first append, queues `batches` behind it, then releases
/// it: the queued batches form one group. Returns their answers in order.
fn in_one_group(batches: Vec<Batch>) -> (Given, Vec<Result<AppendOutcome, AppendError>>) {
    let gate = Arc::new(Gate::default());
    let opts = LogOptions {
        flush_observer: Some(gate.clone()),
        ..LogOptions::default()
    };
    let g = given_with(opts, vec![]);
    let answers = std::thread::scope(|s| {
        let blocker = s.spawn(|| g.log.append_blocking(batch(vec![ev(1000, "blocker", 1)])));
        wait_until("the writer to hold the first group", || gate.entered() == 1);
        // The writer now takes what is queued (nothing yet) and waits for that flush; give it
        // a moment to get there, so the requests below queue behind the flush instead of one
        // of them slipping in as a group of its own (the assertion on `groups` would say so).
        std::thread::sleep(Duration::from_millis(20));
        let n = batches.len();
        let mut handles = Vec::new();
        for b in batches {
            let log = g.log.clone();
            // One at a time, so the queue order is the order given.
            let before = g.log.queued();
            handles.push(s.spawn(move || log.append_blocking(b)));
            wait_until("the request to be queued", || g.log.queued() == before + 1);
        }
        assert_eq!(g.log.queued(), n);
        gate.open();
        blocker.join().expect("joins").expect("blocker appends");
        handles
            .into_iter()
            .map(|h| h.join().expect("joins"))
            .collect()
    });
    assert_eq!(
        g.log.stats().groups,
        2,
        "the queued requests formed one group"
    );
    (g, answers)
}

#[test]
fn five_identical_requests_in_one_group_get_one_append_and_four_first_replies() {
    let same = || with_request(vec![ev(1, "a", 1)], req(7, "r1", 1, "first"));
    let mut batches: Vec<Batch> = (0..5).map(|_| same()).collect();
    batches.insert(
        2,
        with_request(vec![ev(2, "b", 1)], req(7, "r1", 2, "other body")),
    );
    let (g, answers) = in_one_group(batches);

    assert_eq!(positions(answers[0].clone()), vec![(2, 1, false)]);
    assert!(matches!(
        answers[2],
        Err(AppendError::IdempotencyConflict { .. })
    ));
    for i in [1, 3, 4, 5] {
        match &answers[i] {
            Ok(AppendOutcome::AlreadyRecorded(record)) => {
                assert_eq!(
                    (record.reply.as_slice(), record.seqs.as_slice()),
                    (&b"first"[..], &[2][..])
                );
            }
            other => panic!("request {i}: expected AlreadyRecorded, got {other:?}"),
        }
    }
    assert_eq!(g.log.last_seq(), 2);
    g.assert_verified();
}

#[test]
fn requests_in_one_group_are_decided_against_the_earlier_ones() {
    let (g, answers) = in_one_group(vec![
        batch(vec![ev(1, "a", 1)]),
        batch(vec![ev(2, "a", 2)]),     // continues the first: fine
        batch(vec![ev(3, "a", 2)]),     // the second already took version 2
        batch(vec![ev(1, "other", 1)]), // the first's event id: a duplicate
        batch(vec![ev(4, "a", 3), ev(5, "b", 1)]),
    ]);
    assert_eq!(positions(answers[0].clone()), vec![(2, 1, false)]);
    assert_eq!(positions(answers[1].clone()), vec![(3, 2, false)]);
    assert!(matches!(
        &answers[2],
        Err(AppendError::Conflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    assert_eq!(positions(answers[3].clone()), vec![(2, 1, true)]);
    assert_eq!(
        positions(answers[4].clone()),
        vec![(4, 4, false), (5, 5, false)]
    );
    assert_eq!(g.log.stream_version("a").expect("reads"), 3);
    g.assert_verified();
}

#[test]
fn the_log_stops_cleanly_when_the_last_handle_drops() {
    let g = given(vec![batch(vec![ev(1, "a", 1)])]);
    let clone = g.log.clone();
    let Given { log, dir } = g;
    drop(log);
    clone
        .append_blocking(batch(vec![ev(2, "a", 2)]))
        .expect("a clone keeps the log open");
    drop(clone);
    // The writer thread stopped and sled closed: the directory can be opened again at once.
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!(log.last_seq(), 2);
}
