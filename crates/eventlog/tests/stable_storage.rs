//! Durable means on stable storage: every acknowledged group was synced to disk (sled's data
//! file `fdatasync`ed, not only flushed with `sync_file_range`) before any append of it was
//! answered, and so were cursors, snapshots and the blobs sled writes for large values.

mod common;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{event, single, TempDir};
use csp_eventlog::{AppendOutcome, Batch, Durability, EventLog, FlushObserver, LogOptions, Synced};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Flushed(u64),
    Synced {
        up_to_seq: u64,
        data_file: Option<PathBuf>,
        new_blobs: usize,
    },
    Ack(u64),
}

/// Journals flushes and syncs; lingers after each flush, so an implementation that answered
/// between the flush and the sync would be caught answering.
#[derive(Default)]
struct Recorder {
    journal: Mutex<Vec<Entry>>,
}

impl Recorder {
    fn push(&self, entry: Entry) {
        self.journal.lock().expect("journal lock").push(entry);
    }

    fn journal(&self) -> Vec<Entry> {
        self.journal.lock().expect("journal lock").clone()
    }
}

impl FlushObserver for Recorder {
    fn before_flush(&self, _up_to_seq: u64) -> std::io::Result<()> {
        Ok(())
    }

    fn after_flush(&self, up_to_seq: u64) {
        self.push(Entry::Flushed(up_to_seq));
        std::thread::sleep(Duration::from_millis(2));
    }

    fn after_sync(&self, up_to_seq: u64, synced: &Synced) {
        self.push(Entry::Synced {
            up_to_seq,
            data_file: synced.data_file.clone(),
            new_blobs: synced.new_blobs,
        });
    }
}

fn open(dir: &TempDir, durability: Durability) -> (EventLog, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let opts = LogOptions {
        flush_observer: Some(recorder.clone()),
        durability,
        ..LogOptions::default()
    };
    (EventLog::open(dir.path(), opts).expect("opens"), recorder)
}

fn acked_seqs(outcome: &AppendOutcome) -> Vec<u64> {
    match outcome {
        AppendOutcome::Appended { positions } => positions.iter().map(|p| p.seq).collect(),
        other => panic!("expected an append, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_group_was_synced_to_stable_storage_before_its_answer() {
    let dir = TempDir::new("stable-groups");
    let (log, recorder) = open(&dir, Durability::default());
    let data_file = dir.path().join("db");
    let before = log.stats();

    let tasks: Vec<_> = (0..32)
        .map(|t| {
            let log = log.clone();
            let recorder = Arc::clone(&recorder);
            tokio::spawn(async move {
                for v in 1..=8 {
                    let outcome = log
                        .append(single(Uuid::new_v4(), &format!("task-{t}"), v))
                        .await
                        .expect("appends");
                    for seq in acked_seqs(&outcome) {
                        recorder.push(Entry::Ack(seq));
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task joins");
    }

    let journal = recorder.journal();
    let mut synced_up_to = 0;
    let mut flushed_up_to = 0;
    let mut acks = 0;
    for entry in &journal {
        match entry {
            Entry::Flushed(seq) => flushed_up_to = flushed_up_to.max(*seq),
            Entry::Synced {
                up_to_seq,
                data_file: synced,
                ..
            } => {
                assert_eq!(
                    synced.as_ref(),
                    Some(&data_file),
                    "each sync covers sled's data file"
                );
                assert!(
                    *up_to_seq <= flushed_up_to,
                    "a sync follows the flush it makes stable"
                );
                synced_up_to = synced_up_to.max(*up_to_seq);
            }
            Entry::Ack(seq) => {
                acks += 1;
                assert!(
                    *seq <= synced_up_to,
                    "seq {seq} was answered before a sync covered it (synced up to \
                     {synced_up_to}): {journal:?}"
                );
            }
        }
    }
    assert_eq!(acks, 256, "every append was answered");

    let stats = log.stats().since(&before);
    let syncs = journal
        .iter()
        .filter(|e| matches!(e, Entry::Synced { .. }))
        .count() as u64;
    assert_eq!(stats.syncs, stats.flushes, "one sync per flushed group");
    assert_eq!(syncs, stats.syncs, "the observer saw every sync");
    assert!(
        stats.syncs < 256,
        "group commit keeps it one sync per group, not per append: {stats:?}"
    );
}

#[test]
fn cursors_and_snapshots_are_synced_before_they_return() {
    let dir = TempDir::new("stable-meta");
    let (log, recorder) = open(&dir, Durability::default());
    let data_file = dir.path().join("db");
    let synced = |journal: &[Entry]| {
        journal
            .iter()
            .filter(|e| matches!(e, Entry::Synced { data_file: Some(f), .. } if *f == data_file))
            .count()
    };

    let at_open = synced(&recorder.journal());
    log.set_cursor("outbox", 7).expect("sets the cursor");
    let after_cursor = synced(&recorder.journal());
    assert_eq!(after_cursor, at_open + 1, "the cursor write was synced");

    log.save_snapshot("projection", 1, 0, b"state")
        .expect("writes the snapshot");
    assert_eq!(
        synced(&recorder.journal()),
        after_cursor + 1,
        "the snapshot write was synced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_sled_writes_for_large_values_are_synced_too() {
    let dir = TempDir::new("stable-blobs");
    let (log, recorder) = open(&dir, Durability::default());
    // sled stores a value over ~128 KiB (its segment size / 4) as a file of its own, which it
    // never syncs itself.
    let big = vec![7u8; 300 * 1024];
    let batch = Batch {
        events: vec![event(Uuid::new_v4(), "big", 1, false, big)],
        request: None,
    };
    log.append(batch).await.expect("appends a large event");

    let blobs = std::fs::read_dir(dir.path().join("blobs"))
        .expect("sled made a blob directory")
        .count();
    assert!(blobs > 0, "sled wrote the value as a blob file");
    let new_blobs: usize = recorder
        .journal()
        .iter()
        .map(|e| match e {
            Entry::Synced { new_blobs, .. } => *new_blobs,
            _ => 0,
        })
        .sum();
    assert!(
        new_blobs > 0,
        "the blob file was synced: {:?}",
        recorder.journal()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_no_fsync_says_it_synced_nothing() {
    let dir = TempDir::new("stable-unsafe");
    let (log, recorder) = open(&dir, Durability::UnsafeNoFsync);
    log.append(single(Uuid::new_v4(), "s", 1))
        .await
        .expect("appends");
    let journal = recorder.journal();
    assert!(journal.iter().any(|e| matches!(
        e,
        Entry::Synced {
            data_file: None,
            ..
        }
    )));
    assert!(!journal.iter().any(|e| matches!(
        e,
        Entry::Synced {
            data_file: Some(_),
            ..
        }
    )));
}
