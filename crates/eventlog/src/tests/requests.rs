//! Request records: idempotent retries per tenant.

use super::*;
use crate::RequestRecord;

#[test]
fn a_retry_with_the_same_body_gets_the_first_reply_and_writes_nothing() {
    let g = given(vec![with_request(
        vec![ev(1, "a", 1)],
        req(7, "r1", 1, "first"),
    )]);
    let before = g.log.stats().events_written;
    // The retry's events carry new ids (as if decided again): still nothing is written.
    let outcome = g.when(with_request(vec![ev(2, "a", 2)], req(7, "r1", 1, "second")));
    match outcome {
        Ok(AppendOutcome::AlreadyRecorded(record)) => assert_eq!(
            record,
            RequestRecord {
                body_hash: [1; 32],
                reply: b"first".to_vec(),
                seqs: vec![1],
            }
        ),
        other => panic!("expected AlreadyRecorded, got {other:?}"),
    }
    assert_eq!(g.log.last_seq(), 1);
    assert_eq!(g.log.stats().events_written, before);
}

#[test]
fn the_same_request_id_with_another_body_is_an_idempotency_conflict() {
    let g = given(vec![with_request(
        vec![ev(1, "a", 1)],
        req(7, "r1", 1, "first"),
    )]);
    let outcome = g.when(with_request(vec![ev(2, "a", 2)], req(7, "r1", 2, "other")));
    match outcome {
        Err(AppendError::IdempotencyConflict { tenant, request_id }) => {
            assert_eq!((tenant.as_u128(), request_id.as_str()), (7, "r1"));
        }
        other => panic!("expected an idempotency conflict, got {other:?}"),
    }
    assert_eq!(g.log.last_seq(), 1);
}

#[test]
fn request_ids_are_per_tenant() {
    let g = given(vec![with_request(
        vec![ev(1, "a", 1)],
        req(7, "r1", 1, "first"),
    )]);
    let outcome = g.when(with_request(
        vec![ev(2, "b", 1)],
        req(8, "r1", 2, "tenant 8"),
    ));
    assert_eq!(positions(outcome), vec![(2, 2, false)]);
    let record = g
        .log
        .request(Uuid::from_u128(8), "r1")
        .expect("reads")
        .expect("tenant 8 has its own record");
    assert_eq!(
        (record.reply.as_slice(), record.seqs),
        (&b"tenant 8"[..], vec![2])
    );
    let first = g.log.request(Uuid::from_u128(7), "r1").expect("reads");
    assert_eq!(first.map(|r| r.reply), Some(b"first".to_vec()));
}

#[test]
fn a_request_whose_events_are_all_duplicates_is_still_recorded() {
    let g = given(vec![batch(vec![ev(1, "a", 1)])]);
    let outcome = g.when(with_request(vec![ev(1, "a", 1)], req(7, "r2", 3, "dup")));
    assert_eq!(positions(outcome), vec![(1, 1, true)]);
    let record = g.log.request(Uuid::from_u128(7), "r2").expect("reads");
    assert_eq!(record.map(|r| r.seqs), Some(vec![1]));
    g.assert_verified();
}

#[test]
fn a_request_without_events_is_recorded() {
    let g = given(vec![]);
    assert_eq!(
        positions(g.when(with_request(vec![], req(7, "r3", 3, "noop")))),
        vec![]
    );
    assert!(g
        .log
        .request(Uuid::from_u128(7), "r3")
        .expect("reads")
        .is_some());
}

#[test]
fn a_refused_batch_records_no_request() {
    let g = given(vec![batch(vec![ev(1, "a", 1)])]);
    let outcome = g.when(with_request(vec![ev(2, "a", 1)], req(7, "r4", 3, "x")));
    assert!(matches!(outcome, Err(AppendError::Conflict { .. })));
    assert_eq!(
        g.log.request(Uuid::from_u128(7), "r4").expect("reads"),
        None
    );
    // The same request id can then be used with a corrected batch.
    let retry = g.when(with_request(vec![ev(2, "a", 2)], req(7, "r4", 3, "x")));
    assert_eq!(positions(retry), vec![(2, 2, false)]);
}

#[test]
fn a_request_record_survives_reopen() {
    let Given { log, dir } = given(vec![with_request(
        vec![ev(1, "a", 1)],
        req(7, "r1", 1, "first"),
    )]);
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    let outcome = log.append_blocking(with_request(vec![ev(9, "a", 2)], req(7, "r1", 1, "again")));
    assert!(matches!(outcome, Ok(AppendOutcome::AlreadyRecorded(r)) if r.reply == b"first"));
}
