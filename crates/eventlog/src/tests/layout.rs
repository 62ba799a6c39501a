//! The on-disk layout is what `layout`, `keys` and `value` say, so a raw-sled baseline or an
//! offline tool built on them writes and reads byte-identical data; and a log of the previous
//! layout (2) is upgraded in place.

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
    assert!(get(&t.requests, &keys::request(&Uuid::from_u128(7), "r1")).is_some());
    assert!(get(&t.snapshots, &keys::snapshot("p", 3)).is_some());
    assert_eq!(t.events.len(), 2, "one key per event, no index keys");
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

/// Writes three events of stream "s" (each published) through raw sled into a closed log.
fn raw_events(db: &sled::Db) {
    let trees = layout::Trees::open(db).expect("opens the trees");
    let mut group = layout::AppendBatches::default();
    let mut buf = Vec::new();
    for seq in 1..=3u64 {
        let id = Uuid::from_u128(u128::from(seq));
        buf.clear();
        value::encode_event(&mut buf, id.as_bytes(), "s", seq, Some(seq), &[1]);
        group.events.insert(&keys::event(seq)[..], buf.as_slice());
    }
    trees.apply(&group).expect("applies");
    db.flush().expect("flushes");
}

#[test]
fn a_raw_group_applied_with_trees_apply_reads_back_through_the_log_and_its_indexes() {
    let dir = TempDir::new("raw-group");
    drop(EventLog::open(dir.path(), LogOptions::default()).expect("creates the log"));
    raw_events(&raw_open(dir.path()));
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!((log.last_seq(), log.last_outbox_seq()), (3, 3));
    assert_eq!(log.stream_version("s").expect("reads"), 3);
    assert_eq!(log.read_stream("s").count(), 3);
    assert_eq!(log.read_outbox_from(2).count(), 2);
    let report = log.verify().expect("verify runs");
    assert!(report.is_clean(), "{:?}", report.problems);
    // The rebuilt dedupe index knows the raw events' ids.
    let again = log
        .append_blocking(batch(vec![ev(2, "s", 4)]))
        .expect("appends");
    assert_eq!(positions(Ok(again)), vec![(2, 2, true)]);
}

#[test]
fn a_layout_2_log_is_upgraded_in_place_and_keeps_everything() {
    let dir = TempDir::new("layout-2");
    drop(EventLog::open(dir.path(), LogOptions::default()).expect("creates the log"));
    let epoch = {
        let db = raw_open(dir.path());
        raw_events(&db);
        // What layout 2 also wrote: its three index trees, and layout 2 in the metadata.
        for tree in layout::RETIRED_TREES {
            db.open_tree(tree)
                .expect("opens")
                .insert(b"k", b"v")
                .expect("inserts");
        }
        db.insert(
            keys::meta(keys::META_LAYOUT),
            &[value::LOG_VALUE_FORMAT, value::UPGRADABLE_LAYOUT],
        )
        .expect("inserts");
        db.flush().expect("flushes");
        db.get(keys::meta(keys::META_EPOCH))
            .expect("reads")
            .expect("has an epoch")
    };
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("opens and upgrades");
    assert_eq!(log.epoch().as_bytes()[..], epoch[1..], "the epoch is kept");
    assert_eq!((log.last_seq(), log.last_outbox_seq()), (3, 3));
    assert_eq!(log.read_outbox_from(1).count(), 3);
    let report = log.verify().expect("verify runs");
    assert!(report.is_clean(), "{:?}", report.problems);
    drop(log);
    let db = raw_open(dir.path());
    assert_eq!(
        db.get(keys::meta(keys::META_LAYOUT))
            .expect("reads")
            .map(|v| v.to_vec()),
        Some(vec![value::LOG_VALUE_FORMAT, value::LAYOUT_VERSION])
    );
    assert_eq!(
        db.tree_names().len(),
        1 + layout::TREES.len(),
        "index trees dropped"
    );
}

#[test]
fn a_group_of_events_is_stored_in_pages_and_read_from_anywhere_in_them() {
    let events: Vec<NewEvent> = (1..=200u64)
        .map(|i| {
            let mut e = if i % 2 == 0 {
                pub_ev(u128::from(i), "s", i)
            } else {
                ev(u128::from(i), "s", i)
            };
            e.bytes = vec![1; 200];
            e
        })
        .collect();
    let Given { log, dir } = given(vec![batch(events)]);
    let all = read_all(&log);
    assert_eq!(all.len(), 200);
    assert_eq!(
        log.read_from(150)
            .next()
            .expect("one")
            .expect("decodes")
            .seq,
        150
    );
    assert_eq!(
        log.read_outbox_from(40)
            .next()
            .expect("one")
            .expect("decodes")
            .seq,
        80
    );
    assert_eq!(log.read_stream("s").count(), 200);
    assert_eq!(log.stream_version("s").expect("reads"), 200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut tail = log.tail(77);
    let seqs: Vec<u64> = rt.block_on(async {
        let mut seqs = Vec::new();
        for _ in 0..3 {
            seqs.push(tail.next().await.expect("one").expect("decodes").seq);
        }
        seqs
    });
    assert_eq!(seqs, vec![77, 78, 79]);
    drop(tail);
    // Duplicates inside a page are found and answered with their position.
    let again = log
        .append_blocking(batch(vec![pub_ev(100, "s", 201)]))
        .expect("appends");
    assert_eq!(positions(Ok(again)), vec![(100, 100, true)]);
    drop(log);
    let db = raw_open(dir.path());
    let t = layout::Trees::open(&db).expect("opens the trees");
    let pages = t.events.len();
    assert!(
        (5..=40).contains(&pages),
        "200 events of ~250 bytes in {pages} pages"
    );
    for entry in t.events.iter() {
        let (_, value) = entry.expect("reads");
        assert!(value.len() <= value::PAGE_MAX_BYTES);
    }
}

#[test]
fn a_reopened_log_finds_its_last_outbox_seq_behind_unpublished_events() {
    let Given { log, dir } = given(vec![
        batch(vec![pub_ev(1, "a", 1), pub_ev(2, "a", 2)]),
        batch(vec![ev(3, "a", 3)]),
        batch(vec![ev(4, "b", 1), ev(5, "b", 2)]),
    ]);
    assert_eq!(log.last_outbox_seq(), 2);
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!((log.last_seq(), log.last_outbox_seq()), (5, 2));
    let next = log
        .append_blocking(batch(vec![pub_ev(6, "b", 3)]))
        .expect("appends");
    assert_eq!(positions(Ok(next)), vec![(6, 6, false)]);
    assert_eq!(log.last_outbox_seq(), 3);
    assert_eq!(
        log.read_outbox_from(3)
            .next()
            .expect("one")
            .expect("decodes")
            .seq,
        6
    );
}
