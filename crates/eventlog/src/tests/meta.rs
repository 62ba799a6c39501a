//! The epoch, durable cursors and the directory lock.

use super::*;
use crate::OpenError;

#[test]
fn the_epoch_is_stable_across_reopen_and_differs_between_logs() {
    let Given { log, dir } = given(vec![batch(vec![ev(1, "a", 1)])]);
    let epoch = log.epoch();
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!(log.epoch(), epoch);
    assert_eq!(log.epoch().get_version_num(), 4);
    let other = given(vec![]);
    assert_ne!(other.log.epoch(), epoch);
}

#[test]
fn a_restored_log_gets_a_new_epoch_and_keeps_its_events() {
    let Given { log, dir } = given(vec![batch(vec![ev(1, "a", 1)])]);
    let epoch = log.epoch();
    drop(log);
    let restored = EventLog::open_restored(dir.path(), LogOptions::default()).expect("opens");
    assert_ne!(restored.epoch(), epoch);
    assert_eq!(restored.last_seq(), 1);
    let new_epoch = restored.epoch();
    drop(restored);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!(log.epoch(), new_epoch, "the new epoch is durable");
}

/// What a record was published as survives a restore: the old epoch up to the restored log's
/// last published event, the new one from the next, so a reader comparing the log with what
/// consumers received before the restore (the audit verifier) renders each as it went out.
#[test]
fn a_restored_log_remembers_which_epoch_published_each_outbox_seq() {
    let Given { log, dir } = given(vec![batch(vec![pub_ev(1, "a", 1), pub_ev(2, "a", 2)])]);
    let first = log.epoch();
    assert_eq!(log.epochs(), &[(first, 1)]);
    drop(log);
    let restored = EventLog::open_restored(dir.path(), LogOptions::default()).expect("opens");
    let second = restored.epoch();
    assert_eq!(restored.epochs(), &[(first, 1), (second, 3)]);
    drop(restored);
    let g = Given {
        log: EventLog::open(dir.path(), LogOptions::default()).expect("reopens"),
        dir,
    };
    g.when(batch(vec![pub_ev(3, "a", 3)])).expect("appends");
    assert_eq!(g.log.last_outbox_seq(), 3);
    assert_eq!(g.log.epochs(), &[(first, 1), (second, 3)], "durable");
    assert_eq!(g.log.epoch_of(2), first);
    assert_eq!(g.log.epoch_of(3), second);
    drop(g.log);
    let again = EventLog::open_restored(g.dir.path(), LogOptions::default()).expect("opens");
    assert_eq!(again.epochs().len(), 3);
    assert_eq!(again.epochs()[2].1, 4);
    assert_eq!(again.epoch_of(3), second);
    let report = again.verify().expect("verify runs");
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[test]
fn cursors_are_durable_across_reopen() {
    let Given { log, dir } = given(vec![]);
    assert_eq!(log.cursor("outbox").expect("reads"), None);
    log.set_cursor("outbox", 41).expect("sets");
    log.set_cursor("outbox", 42).expect("sets");
    log.set_cursor("other", 7).expect("sets");
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    assert_eq!(log.cursor("outbox").expect("reads"), Some(42));
    assert_eq!(log.cursor("other").expect("reads"), Some(7));
    let report = log.verify().expect("verify runs");
    assert_eq!(report.cursors, 2);
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[test]
fn opening_a_log_that_is_already_open_fails_with_locked() {
    let g = given(vec![]);
    match EventLog::open(g.dir.path(), LogOptions::default()) {
        Err(e @ OpenError::Locked { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("another process"),
                "unhelpful message: {message}"
            );
        }
        Err(other) => panic!("expected Locked, got {other:?}"),
        Ok(_) => panic!("a second open of a locked log succeeded"),
    }
    // Once the first handle is gone, the log opens again.
    let Given { log, dir } = g;
    drop(log);
    EventLog::open(dir.path(), LogOptions::default()).expect("reopens after close");
}

#[test]
fn a_sled_database_that_is_not_an_event_log_is_refused() {
    let dir = TempDir::new("foreign");
    {
        let db = sled::open(dir.path()).expect("opens raw sled");
        db.insert(b"hello", b"world").expect("inserts");
        db.flush().expect("flushes");
    }
    assert!(matches!(
        EventLog::open(dir.path(), LogOptions::default()),
        Err(OpenError::NotAnEventLog { .. })
    ));
}

#[test]
fn a_foreign_database_with_only_a_named_tree_is_refused() {
    let dir = TempDir::new("foreign-tree");
    {
        let db = sled::open(dir.path()).expect("opens raw sled");
        let tree = db.open_tree("mine").expect("opens a tree");
        tree.insert(b"hello", b"world").expect("inserts");
        db.flush().expect("flushes");
    }
    assert!(matches!(
        EventLog::open(dir.path(), LogOptions::default()),
        Err(OpenError::NotAnEventLog { .. })
    ));
}

#[test]
fn a_single_tree_layout_1_log_is_refused_untouched() {
    let dir = TempDir::new("layout-1");
    {
        // What layout 1 wrote: everything in the default tree, one prefix byte per family.
        let db = sled::open(dir.path()).expect("opens raw sled");
        let mut epoch = vec![crate::value::LOG_VALUE_FORMAT];
        epoch.extend_from_slice(Uuid::from_u128(5).as_bytes());
        db.insert(b"mepoch", epoch).expect("inserts");
        db.insert(b"mlayout", &[crate::value::LOG_VALUE_FORMAT, 1])
            .expect("inserts");
        db.insert(b"e\0\0\0\0\0\0\0\x01", &[1u8, 0])
            .expect("inserts");
        db.flush().expect("flushes");
    }
    match EventLog::open(dir.path(), LogOptions::default()) {
        Err(e @ OpenError::UnsupportedLayout { .. }) => {
            assert!(
                matches!(
                    e,
                    OpenError::UnsupportedLayout {
                        found: 1,
                        supported: 3,
                        ..
                    }
                ),
                "{e:?}"
            );
            let message = e.to_string();
            assert!(
                message.contains("layout version 1") && message.contains("only layout version 3"),
                "unhelpful message: {message}"
            );
        }
        Err(other) => panic!("expected UnsupportedLayout, got {other:?}"),
        Ok(_) => panic!("a layout 1 log was opened"),
    }
    let db = raw_open(dir.path());
    assert_eq!(db.tree_names().len(), 1, "the refused log got new trees");
}
