//! The on-disk layout is what `layout`, `keys` and `value` say, so a raw-sled baseline or an
//! offline tool built on them writes and reads byte-identical data.

use super::*;
use crate::{keys, layout, value};

#[test]
fn an_append_writes_the_documented_keys_and_values_to_the_documented_trees() {
    let Given { log, dir } = given(vec![
        batch(vec![ev(1, "a", 1)]),
        with_request(vec![pub_ev(2, "b", 1)], req(7, "r1", 1, "ok")),
    ]);
    log.set_cursor("outbox", 1).expect("sets");
    log.save_snapshot("p", 3, 2, b"state").expect("saves");
    drop(log);

    let db = raw_open(dir.path());
    let mut names: Vec<Vec<u8>> = db.tree_names().iter().map(|n| n.to_vec()).collect();
    names.sort();
    let mut expected: Vec<Vec<u8>> = layout::TREES
        .iter()
        .map(|t| t.as_bytes().to_vec())
        .collect();
    expected.push(db.name().to_vec());
    expected.sort();
    assert_eq!(names, expected);

    let t = layout::Trees::open(&db).expect("opens the trees");
    let mut event = Vec::new();
    value::encode_event(
        &mut event,
        Uuid::from_u128(2).as_bytes(),
        "b",
        1,
        Some(1),
        &[1, 2],
    );
    let get = |tree: &sled::Tree, key: &[u8]| tree.get(key).expect("reads").map(|v| v.to_vec());
    assert_eq!(get(&t.events, &keys::event(2)), Some(event));
    let seq = Some(keys::seq_value(2).to_vec());
    assert_eq!(get(&t.event_ids, &keys::event_id(&Uuid::from_u128(2))), seq);
    assert_eq!(get(&t.streams, &keys::stream("b", 1)), seq);
    assert_eq!(get(&t.outbox, &keys::outbox(1)), seq);
    assert!(get(&t.requests, &keys::request(&Uuid::from_u128(7), "r1")).is_some());
    assert!(get(&t.snapshots, &keys::snapshot("p", 3)).is_some());
    assert_eq!(t.events.len(), 2);
    assert_eq!(t.outbox.len(), 1);
    let meta: Vec<Vec<u8>> = db
        .iter()
        .keys()
        .map(|k| k.expect("reads").to_vec())
        .collect();
    assert_eq!(
        meta,
        vec![
            keys::cursor("outbox"),
            keys::meta(keys::META_EPOCH),
            keys::meta(keys::META_LAYOUT)
        ]
    );
    assert_eq!(
        get(&db, &keys::meta(keys::META_LAYOUT)),
        Some(vec![value::LOG_VALUE_FORMAT, value::LAYOUT_VERSION])
    );
}

#[test]
fn a_raw_group_applied_with_trees_apply_reads_back_through_the_log() {
    let dir = TempDir::new("raw-group");
    drop(EventLog::open(dir.path(), LogOptions::default()).expect("creates the log"));
    {
        let db = raw_open(dir.path());
        let trees = layout::Trees::open(&db).expect("opens the trees");
        let mut group = layout::AppendBatches::default();
        let mut buf = Vec::new();
        for seq in 1..=3u64 {
            let id = Uuid::from_u128(u128::from(seq));
            buf.clear();
            value::encode_event(&mut buf, id.as_bytes(), "s", seq, Some(seq), &[1]);
            group.events.insert(&keys::event(seq)[..], buf.as_slice());
            group
                .event_ids
                .insert(&keys::event_id(&id)[..], &keys::seq_value(seq)[..]);
            group
                .streams
                .insert(keys::stream("s", seq), &keys::seq_value(seq)[..]);
            group
                .outbox
                .insert(&keys::outbox(seq)[..], &keys::seq_value(seq)[..]);
        }
        trees.apply(&group).expect("applies");
        db.flush().expect("flushes");
    }
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!((log.last_seq(), log.last_outbox_seq()), (3, 3));
    assert_eq!(log.stream_version("s").expect("reads"), 3);
    let report = log.verify().expect("verify runs");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(read_all(&log).len(), 3);
}
