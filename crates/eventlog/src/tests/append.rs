//! Appends: seqs, versions, dedupe, outbox, invalid batches.

use super::*;
use crate::InvalidBatch;

#[test]
fn append_gives_gap_free_seqs_from_1_and_stores_the_bytes() {
    let g = given(vec![batch(vec![ev(1, "a", 1)])]);
    let outcome = g.when(batch(vec![ev(2, "a", 2), ev(3, "b", 1)]));
    assert_eq!(positions(outcome), vec![(2, 2, false), (3, 3, false)]);
    assert_eq!(g.log.last_seq(), 3);
    let records: Vec<Record> = g.log.read_from(1).map(|r| r.expect("decodes")).collect();
    assert_eq!(records[2].bytes(), &[1, 3]);
    assert_eq!(records[2].stream(), "b");
    g.assert_verified();
}

#[test]
fn a_wrong_version_is_a_conflict_and_writes_nothing() {
    let g = given(vec![batch(vec![ev(1, "a", 1), ev(2, "a", 2)])]);
    let outcome = g.when(batch(vec![ev(3, "a", 2)]));
    match outcome {
        Err(AppendError::Conflict {
            stream,
            expected,
            actual,
        }) => assert_eq!((stream.as_str(), expected, actual), ("a", 1, 2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(g.log.last_seq(), 2);
    assert_eq!(g.all().len(), 2);
}

#[test]
fn a_new_stream_starts_at_version_1() {
    let g = given(vec![]);
    assert!(matches!(
        g.when(batch(vec![ev(1, "a", 2)])),
        Err(AppendError::Conflict { actual: 0, .. })
    ));
    assert_eq!(
        positions(g.when(batch(vec![ev(1, "a", 1)]))),
        vec![(1, 1, false)]
    );
}

#[test]
fn a_conflict_in_one_stream_refuses_the_whole_batch() {
    let g = given(vec![batch(vec![ev(1, "b", 1)])]);
    let outcome = g.when(batch(vec![ev(2, "a", 1), ev(3, "b", 1)]));
    assert!(matches!(outcome, Err(AppendError::Conflict { .. })));
    assert_eq!(g.log.stream_version("a").expect("reads"), 0);
    assert_eq!(g.log.last_seq(), 1);
    g.assert_verified();
}

#[test]
fn a_repeated_event_id_returns_the_original_seq_and_writes_nothing() {
    let g = given(vec![batch(vec![ev(1, "a", 1), ev(2, "a", 2)])]);
    let before = g.log.stats();
    let outcome = g.when(batch(vec![ev(1, "a", 1)]));
    assert_eq!(positions(outcome), vec![(1, 1, true)]);
    assert_eq!(g.log.last_seq(), 2);
    assert_eq!(g.log.stats().events_written, before.events_written);
    assert_eq!(g.all().len(), 2);
}

#[test]
fn a_duplicate_is_not_version_checked() {
    // Id 1 is already at version 1 of "a"; repeating it with any version is still a duplicate.
    let g = given(vec![batch(vec![ev(1, "a", 1)])]);
    assert_eq!(
        positions(g.when(batch(vec![ev(1, "zzz", 9)]))),
        vec![(1, 1, true)]
    );
}

#[test]
fn a_mixed_batch_writes_only_the_new_events() {
    let g = given(vec![batch(vec![ev(1, "a", 1)])]);
    let outcome = g.when(batch(vec![ev(1, "a", 1), ev(2, "a", 2)]));
    assert_eq!(positions(outcome), vec![(1, 1, true), (2, 2, false)]);
    assert_eq!(g.all().len(), 2);
    g.assert_verified();
}

#[test]
fn a_duplicate_reports_its_original_outbox_seq() {
    let g = given(vec![batch(vec![ev(1, "a", 1), pub_ev(2, "a", 2)])]);
    match g.when(batch(vec![pub_ev(2, "a", 2)])) {
        Ok(AppendOutcome::Appended { positions }) => {
            assert_eq!(positions[0].seq, 2);
            assert_eq!(positions[0].outbox_seq, Some(1));
            assert!(positions[0].duplicate);
        }
        other => panic!("expected Appended, got {other:?}"),
    }
}

#[test]
fn published_events_get_contiguous_outbox_seqs() {
    let g = given(vec![batch(vec![pub_ev(1, "a", 1), ev(2, "a", 2)])]);
    g.when(batch(vec![pub_ev(3, "b", 1), pub_ev(4, "b", 2)]))
        .expect("appends");
    let outbox: Vec<Option<u64>> = g.all().into_iter().map(|e| e.4).collect();
    assert_eq!(outbox, vec![Some(1), None, Some(2), Some(3)]);
    assert_eq!(g.log.last_outbox_seq(), 3);
    g.assert_verified();
}

#[test]
fn an_invalid_batch_is_refused_and_counted() {
    let g = given(vec![]);
    let outcome = g.when(batch(vec![ev(1, "a", 1), ev(1, "a", 2)]));
    assert!(matches!(
        outcome,
        Err(AppendError::Invalid(InvalidBatch::DuplicateEventId { .. }))
    ));
    assert_eq!(g.log.stats().refused, 1);
    assert_eq!(g.log.last_seq(), 0);
}

#[test]
fn sequences_continue_after_reopen() {
    let (log, _dir) = reopened(given(vec![batch(vec![ev(1, "a", 1), pub_ev(2, "a", 2)])]));
    assert_eq!((log.last_seq(), log.last_outbox_seq()), (2, 1));
    assert_eq!(
        outbox_positions(log.append_blocking(batch(vec![pub_ev(3, "a", 3)]))),
        [(3, Some(2))]
    );
    // The dedupe index survives the reopen too.
    assert_eq!(
        positions(log.append_blocking(batch(vec![ev(1, "a", 1)]))),
        vec![(1, 1, true)]
    );
}

#[test]
fn outbox_seqs_continue_after_reopen_behind_many_unpublished_pages() {
    // Each batch is a page of its own: 40 pages of kept events after the published ones, more
    // than open reads before it falls back to the indexes.
    let mut batches = vec![batch(vec![pub_ev(1, "a", 1), pub_ev(2, "a", 2)])];
    batches.extend((3..43).map(|id| batch(vec![ev(id, "kept", id as u64 - 2)])));
    let (log, _dir) = reopened(given(batches));
    assert_eq!((log.last_seq(), log.last_outbox_seq()), (42, 2));
    assert_eq!(
        outbox_positions(log.append_blocking(batch(vec![pub_ev(43, "a", 3)]))),
        [(43, Some(3))]
    );

    // A log that never published anything starts its outbox at 1.
    let batches = (1..41)
        .map(|id| batch(vec![ev(id, "kept", id as u64)]))
        .collect();
    let (log, _dir) = reopened(given(batches));
    assert_eq!((log.last_seq(), log.last_outbox_seq()), (40, 0));
    assert_eq!(
        outbox_positions(log.append_blocking(batch(vec![pub_ev(41, "a", 1)]))),
        [(41, Some(1))]
    );
}

#[test]
fn the_first_append_after_reopen_dedupes_against_every_stored_id() {
    // The indexes are built lazily, before the writer's first group: that very first group
    // must already see the ids written before the close, also ones read by a replay first.
    let g = given(vec![
        batch(vec![ev(1, "a", 1), pub_ev(2, "a", 2)]),
        batch(vec![ev(3, "b", 1)]),
    ]);
    let Given { log, dir } = g;
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!(
        read_all(&log).len(),
        3,
        "a replay right after open reads everything"
    );
    assert_eq!(
        positions(log.append_blocking(batch(vec![ev(3, "b", 1), ev(4, "b", 2), ev(2, "a", 2)]))),
        vec![(3, 3, true), (4, 4, false), (2, 2, true)]
    );
    assert_eq!(log.last_seq(), 4);
}
