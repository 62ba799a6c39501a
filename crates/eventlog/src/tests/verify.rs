//! `verify` finds what is wrong: each test damages a closed log through raw sled (in the tree
//! the damage belongs to), reopens it and expects the damage reported (so a clean report
//! elsewhere means something).

use super::*;
use crate::{keys, layout::Trees, IndexKind, Problem};

/// A log of 4 events over two streams (two published), closed; `damage` then edits its trees
/// with raw sled, and the reopened log's problems are returned.
fn damaged(damage: impl FnOnce(&Trees)) -> Vec<Problem> {
    let Given { log, dir } = given(vec![
        with_request(
            vec![ev(1, "a", 1), pub_ev(2, "b", 1)],
            req(7, "r1", 1, "ok"),
        ),
        batch(vec![ev(3, "a", 2), pub_ev(4, "b", 2)]),
    ]);
    assert!(log.verify().expect("verify runs").is_clean());
    drop(log);
    {
        let db = raw_open(dir.path());
        damage(&Trees::open(&db).expect("opens the trees"));
        db.flush().expect("raw flush");
    }
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    log.verify().expect("verify runs").problems
}

#[test]
fn a_missing_dedupe_entry_is_reported() {
    let problems = damaged(|t| {
        t.event_ids
            .remove(keys::event_id(&Uuid::from_u128(3)))
            .expect("remove");
    });
    assert!(
        problems.contains(&Problem::MissingIndexEntry {
            seq: 3,
            index: IndexKind::Dedupe
        }),
        "{problems:?}"
    );
}

#[test]
fn a_missing_event_is_a_gap_and_its_index_entries_are_orphans() {
    let problems = damaged(|t| {
        t.events.remove(keys::event(2)).expect("remove");
    });
    assert!(
        problems.contains(&Problem::MissingEvents { from: 2, to: 2 }),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| matches!(
            p,
            Problem::OrphanIndexEntry {
                index: IndexKind::Outbox,
                points_to: 2,
                ..
            }
        )),
        "{problems:?}"
    );
}

#[test]
fn an_index_entry_past_the_end_is_an_orphan() {
    let problems = damaged(|t| {
        t.streams
            .insert(keys::stream("a", 3), &keys::seq_value(99))
            .expect("insert");
    });
    assert!(
        problems.iter().any(|p| matches!(
            p,
            Problem::OrphanIndexEntry {
                index: IndexKind::Stream,
                points_to: 99,
                ..
            }
        )),
        "{problems:?}"
    );
}

#[test]
fn a_request_naming_a_missing_event_is_reported() {
    let problems = damaged(|t| {
        // Drop the last event with all its entries (a consistent, shorter log), then add a
        // request record that names it.
        for (tree, key) in [
            (&t.events, keys::event(4).to_vec()),
            (&t.event_ids, keys::event_id(&Uuid::from_u128(4)).to_vec()),
            (&t.streams, keys::stream("b", 2)),
            (&t.outbox, keys::outbox(2).to_vec()),
        ] {
            tree.remove(key).expect("remove");
        }
        let record = crate::value::encode(&crate::value::StoredRequestRef {
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
        t.streams
            .insert(keys::stream("a", 5), &keys::seq_value(3))
            .expect("insert");
    });
    assert!(
        problems.contains(&Problem::StreamVersionGap {
            stream: "a".into(),
            expected: 3,
            found: 5
        }),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| matches!(
            p,
            Problem::OrphanIndexEntry {
                index: IndexKind::Stream,
                points_to: 3,
                ..
            }
        )),
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
fn an_outbox_entry_pointing_elsewhere_is_reported() {
    let problems = damaged(|t| {
        t.outbox
            .insert(keys::outbox(1), &keys::seq_value(4))
            .expect("insert");
    });
    assert!(
        problems.contains(&Problem::WrongIndexEntry {
            seq: 2,
            index: IndexKind::Outbox,
            points_to: 4
        }),
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
