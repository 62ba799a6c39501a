//! The live tail.

use std::time::Duration;

use super::*;

/// `given` appends with `append_blocking`, which must run outside the runtime.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a runtime")
}

#[test]
fn tail_yields_existing_events_then_waits_for_new_appends() {
    let g = given(vec![batch(vec![ev(1, "a", 1), ev(2, "a", 2)])]);
    runtime().block_on(async {
        let mut tail = g.log.tail(2);
        let first = tail.next().await.expect("open").expect("decodes");
        assert_eq!(first.seq, 2);

        // Nothing more yet: next() waits.
        let waited = tokio::time::timeout(Duration::from_millis(50), tail.next()).await;
        assert!(waited.is_err(), "tail yielded before anything was appended");

        let log = g.log.clone();
        let appender = tokio::spawn(async move { log.append(batch(vec![ev(3, "a", 3)])).await });
        let next = tokio::time::timeout(Duration::from_secs(10), tail.next())
            .await
            .expect("the tail wakes up")
            .expect("open")
            .expect("decodes");
        assert_eq!((next.seq, next.event_id.as_u128()), (3, 3));
        appender.await.expect("joins").expect("appends");
    });
}

#[test]
fn tail_from_0_starts_at_the_first_event_and_ends_when_the_log_closes() {
    let Given { log, dir: _dir } = given(vec![batch(vec![ev(1, "a", 1)])]);
    let mut tail = log.tail(0);
    drop(log);
    runtime().block_on(async {
        let first = tail
            .next()
            .await
            .expect("still yields what is durable")
            .expect("decodes");
        assert_eq!(first.seq, 1);
        assert!(tail.next().await.is_none(), "a closed log's tail ends");
    });
}

#[test]
fn ready_takes_what_is_durable_without_waiting() {
    let g = given(vec![
        batch(vec![ev(1, "a", 1), ev(2, "a", 2)]),
        batch(vec![ev(3, "b", 1)]),
    ]);
    let mut tail = g.log.tail(1);
    let seqs: Vec<u64> = std::iter::from_fn(|| tail.ready())
        .map(|r| r.expect("decodes").seq)
        .collect();
    assert_eq!(
        seqs,
        [1, 2, 3],
        "every durable event, across groups, in order"
    );
    assert!(tail.ready().is_none(), "nothing past the durable end");

    g.log
        .append_blocking(batch(vec![ev(4, "a", 3)]))
        .expect("appends");
    let next = tail.ready().expect("durable now").expect("decodes");
    assert_eq!((next.seq, next.event_id.as_u128()), (4, 4));
}
