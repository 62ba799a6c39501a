//! `verify` finds what is wrong: each test damages a log — its trees through raw sled while it
//! is closed, or its in-memory indexes while it is open — and expects the damage reported (so
//! a clean report elsewhere means something).

use super::*;
use crate::{keys, layout::Trees, value, IndexKind, Problem};

/// A log of 4 events over two streams (two published), one page each, closed; `damage` then
/// edits its trees with raw sled, and the reopened log's problems are returned.
fn damaged(damage: impl FnOnce(&Trees)) -> Vec<Problem> {
    let Given { log, dir } = four_events();
    drop(log);
    {
        let db = raw_open(dir.path());
        damage(&Trees::open(&db).expect("opens the trees"));
        db.flush().expect("raw flush");
    }
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    log.verify().expect("verify runs").problems
}

fn four_events() -> Given {
    let given = given(vec![
        with_request(vec![ev(1, "a", 1)], req(7, "r1", 1, "ok")),
        batch(vec![pub_ev(2, "b", 1)]),
        batch(vec![ev(3, "a", 2)]),
        batch(vec![pub_ev(4, "b", 2)]),
    ]);
    given.assert_verified();
    given
}

/// The stored value of an event.
fn event_value(id: u128, stream: &str, version: u64, outbox: Option<u64>) -> Vec<u8> {
    let mut buf = Vec::new();
    value::encode_event(
        &mut buf,
        Uuid::from_u128(id).as_bytes(),
        stream,
        version,
        outbox,
        &[1],
    );
    buf
}

#[test]
fn a_missing_event_is_a_gap() {
    let problems = damaged(|t| {
        t.events.remove(keys::event(2)).expect("remove");
    });
    assert!(
        problems.contains(&Problem::MissingEvents { from: 2, to: 2 }),
        "{problems:?}"
    );
}

#[test]
fn a_repeated_event_id_is_reported() {
    let problems = damaged(|t| {
        t.events
            .insert(keys::event(3), event_value(1, "a", 2, None))
            .expect("insert");
    });
    assert_eq!(
        problems,
        vec![Problem::DuplicateEventId {
            seq: 3,
            first_seq: 1
        }]
    );
}

#[test]
fn a_request_naming_a_missing_event_is_reported() {
    let problems = damaged(|t| {
        // Drop the last event (a consistent, shorter log), then add a request record naming it.
        t.events.remove(keys::event(4)).expect("remove");
        let record = value::encode(&value::StoredRequestRef {
            body_hash: &[2; 32],
            reply: &b"x".to_vec(),
            seqs: &vec![3, 4],
        });
        t.requests
            .insert(keys::request(&Uuid::from_u128(7), "r2"), record)
            .expect("insert");
    });
    assert_eq!(
        problems,
        vec![Problem::RequestWithoutEvent {
            tenant: Uuid::from_u128(7),
            request_id: "r2".into(),
            seq: 4
        }]
    );
}

#[test]
fn a_stream_version_gap_is_reported() {
    let problems = damaged(|t| {
        t.events
            .insert(keys::event(3), event_value(3, "a", 5, None))
            .expect("insert");
    });
    assert!(
        problems.contains(&Problem::StreamVersionGap {
            stream: "a".into(),
            expected: 2,
            found: 5
        }),
        "{problems:?}"
    );
}

#[test]
fn an_outbox_seq_out_of_order_is_reported() {
    let problems = damaged(|t| {
        t.events
            .insert(keys::event(4), event_value(4, "b", 2, Some(7)))
            .expect("insert");
    });
    assert!(
        problems.contains(&Problem::OutboxOutOfOrder {
            seq: 4,
            expected: 2,
            found: 7
        }),
        "{problems:?}"
    );
}

#[test]
fn an_undecodable_event_is_reported() {
    let problems = damaged(|t| {
        t.events
            .insert(keys::event(3), &[9u8, 9, 9])
            .expect("insert");
    });
    assert!(
        problems.iter().any(|p| matches!(
            p,
            Problem::Malformed { tree: crate::layout::EVENTS, key, .. } if key == &keys::event(3)
        )),
        "{problems:?}"
    );
}

#[test]
fn a_foreign_key_in_the_default_tree_and_a_foreign_tree_are_reported() {
    let problems = damaged(|t| {
        t.db.insert(b"x", b"y").expect("insert");
        t.db.open_tree("extra")
            .expect("opens")
            .insert(b"k", b"v")
            .expect("insert");
    });
    assert!(
        problems.contains(&Problem::UnknownKey { key: b"x".to_vec() }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&Problem::UnknownTree {
            name: "extra".into()
        }),
        "{problems:?}"
    );
}

#[test]
fn live_indexes_that_disagree_with_the_events_are_reported() {
    let given = four_events();
    {
        let shared = given.log.index_for_test();
        let mut index = shared.write().expect("the indexes build");
        index.ids.remove(&Uuid::from_u128(3));
        index.ids.insert(Uuid::from_u128(99), 2);
        if let Some(seqs) = index.streams.get_mut("a") {
            seqs[1] = 4;
        }
        index.outbox.push(4);
    }
    let problems = given.log.verify().expect("verify runs").problems;
    for expected in [
        Problem::MissingIndexEntry {
            seq: 3,
            index: IndexKind::Dedupe,
        },
        Problem::OrphanIndexEntry {
            index: IndexKind::Dedupe,
            key: Uuid::from_u128(99).as_bytes().to_vec(),
            points_to: 2,
        },
        Problem::WrongIndexEntry {
            seq: 3,
            index: IndexKind::Stream,
            points_to: 4,
        },
        Problem::OrphanIndexEntry {
            index: IndexKind::Outbox,
            key: 3u64.to_be_bytes().to_vec(),
            points_to: 4,
        },
    ] {
        assert!(
            problems.contains(&expected),
            "{expected:?} not in {problems:?}"
        );
    }
}

#[test]
fn a_truncated_page_is_reported_and_its_events_are_missing() {
    let Given { log, dir } = given(vec![batch(vec![
        ev(1, "a", 1),
        ev(2, "a", 2),
        ev(3, "a", 3),
    ])]);
    drop(log);
    {
        let db = raw_open(dir.path());
        let t = Trees::open(&db).expect("opens the trees");
        let page = t
            .events
            .get(keys::event(1))
            .expect("reads")
            .expect("one page");
        t.events
            .insert(keys::event(1), &page[..page.len() - 1])
            .expect("insert");
        db.flush().expect("raw flush");
    }
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    let problems = log.verify().expect("verify runs").problems;
    assert!(
        problems.iter().any(|p| matches!(
            p,
            Problem::Malformed { tree: crate::layout::EVENTS, key, .. } if key == &keys::event(1)
        )),
        "{problems:?}"
    );
    // The damaged page still names its first seq, so the log knows event 1 is gone.
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::MissingEvents { from: 1, .. })),
        "{problems:?}"
    );
}
