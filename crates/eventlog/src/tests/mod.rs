//! Unit tests of the log, given / when / then, one file per concern. Helpers live here so
//! every rule test reads in a few lines.

mod append;
mod group_commit;
mod layout;
mod meta;
mod reads;
mod requests;
mod snapshots;
mod tail;
mod verify;

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Condvar, Mutex,
    },
    time::{Duration, Instant},
};

use uuid::Uuid;

use crate::{
    AppendError, AppendOutcome, Batch, EventLog, EventPosition, FlushObserver, LogOptions,
    NewEvent, NewRequest, Record,
};

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "csp-eventlog-unit-{name}-{}-{n}-{nanos}",
            std::process::id()
        ));
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh log with `batches` already appended; `when` appends one more.
pub(crate) struct Given {
    pub(crate) log: EventLog,
    pub(crate) dir: TempDir,
}

pub(crate) fn given(batches: Vec<Batch>) -> Given {
    given_with(LogOptions::default(), batches)
}

pub(crate) fn given_with(opts: LogOptions, batches: Vec<Batch>) -> Given {
    let dir = TempDir::new("given");
    let log = EventLog::open(dir.path(), opts).expect("open a fresh log");
    for batch in batches {
        log.append_blocking(batch).expect("given batch appends");
    }
    Given { log, dir }
}

impl Given {
    pub(crate) fn when(&self, batch: Batch) -> Result<AppendOutcome, AppendError> {
        self.log.append_blocking(batch)
    }

    /// Every event, in seq order, as (seq, id, stream, version, outbox seq).
    pub(crate) fn all(&self) -> Vec<(u64, u128, String, u64, Option<u64>)> {
        read_all(&self.log)
    }

    pub(crate) fn assert_verified(&self) {
        let report = self.log.verify().expect("verify runs");
        assert!(
            report.is_clean(),
            "verify found problems: {:?}",
            report.problems
        );
    }
}

pub(crate) fn read_all(log: &EventLog) -> Vec<(u64, u128, String, u64, Option<u64>)> {
    log.read_from(1)
        .map(|r| summary(&r.expect("record decodes")))
        .collect()
}

pub(crate) fn summary(r: &Record) -> (u64, u128, String, u64, Option<u64>) {
    (
        r.seq,
        r.event_id.as_u128(),
        r.stream().to_owned(),
        r.version,
        r.outbox_seq,
    )
}

/// An unpublished event whose bytes are a format byte and its id's low byte.
pub(crate) fn ev(id: u128, stream: &str, version: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(id),
        stream: stream.to_owned(),
        version,
        publish: false,
        bytes: vec![1, id as u8],
    }
}

/// A published event.
pub(crate) fn pub_ev(id: u128, stream: &str, version: u64) -> NewEvent {
    NewEvent {
        publish: true,
        ..ev(id, stream, version)
    }
}

pub(crate) fn batch(events: Vec<NewEvent>) -> Batch {
    Batch {
        events,
        request: None,
    }
}

pub(crate) fn with_request(events: Vec<NewEvent>, request: NewRequest) -> Batch {
    Batch {
        events,
        request: Some(request),
    }
}

/// A request record whose body hash is `[body; 32]` and whose reply is `reply`.
pub(crate) fn req(tenant: u128, id: &str, body: u8, reply: &str) -> NewRequest {
    NewRequest {
        tenant: Uuid::from_u128(tenant),
        request_id: id.to_owned(),
        body_hash: [body; 32],
        reply: reply.as_bytes().to_vec(),
    }
}

/// The positions of an `Appended` outcome as (seq, id, duplicate); panics on anything else.
pub(crate) fn positions(outcome: Result<AppendOutcome, AppendError>) -> Vec<(u64, u128, bool)> {
    match outcome {
        Ok(AppendOutcome::Appended { positions }) => positions
            .iter()
            .map(|p: &EventPosition| (p.seq, p.event_id.as_u128(), p.duplicate))
            .collect(),
        other => panic!("expected Appended, got {other:?}"),
    }
}

/// (seq, outbox seq) of each event an append placed; panics unless it appended.
pub(crate) fn outbox_positions(
    outcome: Result<AppendOutcome, AppendError>,
) -> Vec<(u64, Option<u64>)> {
    match outcome {
        Ok(AppendOutcome::Appended { positions }) => {
            positions.iter().map(|p| (p.seq, p.outbox_seq)).collect()
        }
        other => panic!("expected Appended, got {other:?}"),
    }
}

/// The log of `g`, closed and opened again.
pub(crate) fn reopened(g: Given) -> (EventLog, TempDir) {
    let Given { log, dir } = g;
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
    (log, dir)
}

/// A flush observer that holds the writer in `before_flush` until opened, so a test can queue
/// several requests and have them land in one group, deterministically.
#[derive(Default)]
pub(crate) struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    entered: AtomicUsize,
}

impl Gate {
    pub(crate) fn open(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        *open = true;
        self.opened.notify_all();
    }

    pub(crate) fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }
}

impl FlushObserver for Gate {
    fn before_flush(&self, _up_to_seq: u64) -> std::io::Result<()> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }

    fn after_flush(&self, _up_to_seq: u64) {}
}

/// Polls `cond` for up to 10 s.
pub(crate) fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Opens a closed log's directory with raw sled, retrying for up to 2 s while sled's IO
/// threads still hold the lock of a log just closed (see `LogOptions::lock_wait`).
pub(crate) fn raw_open(path: &Path) -> sled::Db {
    let start = Instant::now();
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(_) if start.elapsed() < Duration::from_secs(2) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("raw open of {}: {e}", path.display()),
        }
    }
}
