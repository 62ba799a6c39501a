//! Snapshots: restore-then-replay equals full replay; keyed by code version.

use super::*;
use crate::WriteError;

/// A toy projection: how many events and the sum of their amounts. An event's bytes are a
/// format byte and an i64 amount (little-endian).
#[derive(Debug, Default, PartialEq, Eq)]
struct CountSum {
    count: u64,
    sum: i64,
}

impl CountSum {
    fn evolve(&mut self, record: &Record) {
        let amount = record
            .bytes()
            .get(1..9)
            .and_then(|b| b.try_into().ok())
            .map_or(0, i64::from_le_bytes);
        self.count += 1;
        self.sum += amount;
    }

    fn encode(&self) -> Vec<u8> {
        [self.count.to_le_bytes(), self.sum.to_le_bytes()].concat()
    }

    fn decode(bytes: &[u8]) -> Self {
        let count = bytes
            .get(0..8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes);
        let sum = bytes
            .get(8..16)
            .and_then(|b| b.try_into().ok())
            .map_or(0, i64::from_le_bytes);
        Self { count, sum }
    }

    fn replay(log: &EventLog, from_seq: u64, mut state: Self) -> Self {
        for record in log.read_from(from_seq) {
            state.evolve(&record.expect("decodes"));
        }
        state
    }
}

fn amount_event(id: u128, version: u64, amount: i64) -> NewEvent {
    let mut bytes = vec![1];
    bytes.extend_from_slice(&amount.to_le_bytes());
    NewEvent {
        bytes,
        ..ev(id, "ledger", version)
    }
}

#[test]
fn restoring_a_snapshot_then_replaying_the_rest_equals_a_full_replay() {
    let g = given(
        (1..=10)
            .map(|i| batch(vec![amount_event(i, i as u64, i as i64 * 7 - 20)]))
            .collect(),
    );
    let at_six = CountSum::replay(&g.log, 1, CountSum::default());
    g.log
        .save_snapshot("count-sum", 1, 10, &at_six.encode())
        .expect("saves");
    for i in 11..=15 {
        g.when(batch(vec![amount_event(i, i as u64, -(i as i64))]))
            .expect("appends");
    }

    let snapshot = g
        .log
        .load_snapshot("count-sum", 1)
        .expect("reads")
        .expect("exists");
    assert_eq!(snapshot.at_seq, 10);
    let restored = CountSum::replay(
        &g.log,
        snapshot.at_seq + 1,
        CountSum::decode(&snapshot.bytes),
    );
    let full = CountSum::replay(&g.log, 1, CountSum::default());
    assert_eq!(restored, full);
    assert_eq!(full.count, 15);
}

#[test]
fn another_code_version_finds_no_snapshot() {
    let g = given(vec![batch(vec![amount_event(1, 1, 5)])]);
    g.log
        .save_snapshot("count-sum", 1, 1, b"state")
        .expect("saves");
    assert_eq!(g.log.load_snapshot("count-sum", 2).expect("reads"), None);
    assert_eq!(g.log.load_snapshot("other", 1).expect("reads"), None);
}

#[test]
fn a_snapshot_survives_reopen_and_cannot_be_past_the_end() {
    let Given { log, dir } = given(vec![batch(vec![amount_event(1, 1, 5)])]);
    assert!(matches!(
        log.save_snapshot("count-sum", 1, 2, b"x"),
        Err(WriteError::Invalid(_))
    ));
    log.save_snapshot("count-sum", 1, 1, b"state")
        .expect("saves");
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    let snapshot = log
        .load_snapshot("count-sum", 1)
        .expect("reads")
        .expect("exists");
    assert_eq!((snapshot.at_seq, snapshot.bytes), (1, b"state".to_vec()));
    let report = log.verify().expect("verify runs");
    assert_eq!(report.snapshots, 1);
    assert!(report.is_clean(), "{:?}", report.problems);
}
