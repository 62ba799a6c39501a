//! The writer thread: group commit.
//!
//! One std thread owns everything an append decides against: the next seq, the next outbox seq
//! and the in-memory indexes ([`crate::index`]; readers share them, only this thread changes
//! them). Appenders send their batch and a oneshot reply
//! channel; the writer takes the first request and whatever else is queued (up to
//! `max_group_appends`), decides each request in order against the stored state *plus* what
//! the earlier requests of the same group will write (`decide.rs`), and applies the accepted
//! ones' writes as one sled transaction (one `sled::Batch` per tree, see
//! [`crate::layout::Trees::apply`]). The flusher thread (`flusher.rs`) then flushes sled
//! and, only when that flush has returned, advances the durable watch and answers the group.
//! So N concurrent appends cost one flush, and nothing is acknowledged before the flush
//! covering it has returned.
//!
//! Why two threads: on the reference box a flush is mostly waiting (for sled's I/O thread and
//! the disk) while applying a group is CPU work, so the writer decides and applies group N+1
//! while group N is being flushed. At most one group is in flight: the writer learns the outcome
//! of N's flush before it starts N+1's, or answers a group that wrote nothing.
//!
//! If an apply or a flush fails, every group not yet durable (the one in flight and the one
//! applied on top of it, whose decisions may depend on it) is undone — every key a group writes
//! is new, so undoing is removing them — the counters and indexes are rebuilt from sled, and
//! every request of those groups gets the storage error. A refused request never affects the others of its
//! group.
//!
//! sled is synchronous, which is why these are threads and not tasks: a flush blocks for
//! milliseconds and must not stall a tokio worker.

mod decide;
mod flusher;

use std::{
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc as std_mpsc, Arc,
    },
    thread::JoinHandle,
};

use tokio::sync::{
    mpsc::{self, error::TryRecvError},
    oneshot, watch,
};
use tracing::{debug, error, warn};

use self::{
    decide::{Decision, GroupState},
    flusher::{answer, Decided, FlushResult, Flusher, Prepared},
};
use crate::{
    batch::{AppendOutcome, Batch, RequestRecord},
    error::{AppendError, ReadError, StorageError},
    index::{Index, SharedIndex},
    keys,
    layout::{AppendBatches, Trees, REQUESTS},
    options::FlushObserver,
    page::Page,
    stable::StableStorage,
    stats::Counters,
    value,
};

/// A group stops taking requests once it holds this many events, which bounds a group's memory
/// (its batches and sled's transaction overlay) and the latency its flush adds to the small appends that share it.
const MAX_GROUP_EVENTS: usize = 16_384;

/// An append on its way to the writer.
pub(crate) struct AppendRequest {
    pub(crate) batch: Batch,
    pub(crate) reply: oneshot::Sender<Result<AppendOutcome, AppendError>>,
}

/// The last seq and outbox seq covered by a successful flush. Readers never look past it, so
/// they never see an event that could still be undone by a failed group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Durable {
    pub(crate) seq: u64,
    pub(crate) outbox_seq: u64,
}

/// What the writer needs at start; built by `EventLog::open`.
pub(crate) struct WriterSetup {
    pub(crate) trees: Trees,
    pub(crate) index: Arc<SharedIndex>,
    pub(crate) rx: mpsc::Receiver<AppendRequest>,
    pub(crate) durable: watch::Sender<Durable>,
    pub(crate) observer: Option<Arc<dyn FlushObserver>>,
    pub(crate) stable: Arc<StableStorage>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_group: usize,
    /// The highest seq that may be in sled; see `Writer::applied`.
    pub(crate) applied: Arc<AtomicU64>,
    /// The last seq and outbox seq in sled at open.
    pub(crate) last: Durable,
}

/// The writer's state: what sled holds (after the last applied group).
pub(crate) struct Writer {
    trees: Trees,
    /// The indexes, which this thread alone changes.
    index: Arc<SharedIndex>,
    rx: mpsc::Receiver<AppendRequest>,
    durable: Arc<watch::Sender<Durable>>,
    counters: Arc<Counters>,
    max_group: usize,
    /// Groups to flush, to the flusher thread, and its reports.
    flush_jobs: Option<std_mpsc::Sender<Prepared>>,
    flush_results: std_mpsc::Receiver<FlushResult>,
    flusher: Option<JoinHandle<()>>,
    /// The highest seq that may be in sled: set before a group is applied, reset after groups
    /// are undone. `verify` on a live log treats entries up to it as in flight.
    applied: Arc<AtomicU64>,
    last_seq: u64,
    last_outbox: u64,
    /// True when sled holds undo removals that no successful flush has covered yet: the next
    /// group must be flushed even if it writes nothing, before anything is answered.
    unflushed: bool,
    value_buf: Vec<u8>,
}

impl Writer {
    /// Starts the flusher and the writer threads; the returned handle joins both.
    pub(crate) fn spawn(setup: WriterSetup) -> io::Result<JoinHandle<()>> {
        let (jobs_tx, jobs_rx) = std_mpsc::channel();
        let (results_tx, results_rx) = std_mpsc::channel();
        let durable = Arc::new(setup.durable);
        let flusher = Flusher {
            db: setup.trees.db.clone(),
            stable: setup.stable,
            observer: setup.observer,
            counters: Arc::clone(&setup.counters),
            durable: Arc::clone(&durable),
        };
        let flusher = std::thread::Builder::new()
            .name("csp-eventlog-flusher".into())
            .spawn(move || flusher.run(jobs_rx, results_tx))?;
        let writer = Self {
            trees: setup.trees,
            index: setup.index,
            rx: setup.rx,
            durable,
            counters: setup.counters,
            max_group: setup.max_group.max(1),
            flush_jobs: Some(jobs_tx),
            flush_results: results_rx,
            flusher: Some(flusher),
            applied: setup.applied,
            last_seq: setup.last.seq,
            last_outbox: setup.last.outbox_seq,
            unflushed: false,
            value_buf: Vec::new(),
        };
        // If this spawn fails, `writer` is dropped, which closes the jobs channel and lets the
        // flusher thread end.
        std::thread::Builder::new()
            .name("csp-eventlog-writer".into())
            .spawn(move || writer.run())
    }

    /// Runs until every `EventLog` handle is gone (the channel closes) and the last group is
    /// answered, or until the writer can no longer trust its view of sled.
    fn run(mut self) {
        if let Err(e) = self.serve() {
            error!(error = %e, "event log writer stopped: cannot re-read its state");
        }
        drop(self.flush_jobs.take());
        if let Some(flusher) = self.flusher.take() {
            if flusher.join().is_err() {
                error!("event log flusher thread panicked");
            }
        }
        debug!("event log writer stopped");
    }

    /// The group commit loop. An `Err` is fatal to the writer.
    fn serve(&mut self) -> Result<(), StorageError> {
        let mut group = Vec::with_capacity(self.max_group);
        let mut in_flight = false;
        loop {
            group.clear();
            if in_flight {
                // A flush is running: take what is queued without waiting, so the next group
                // is applied during the flush; with nothing queued, wait for the flush.
                let closed = self.try_recv_many(&mut group);
                if group.is_empty() {
                    in_flight = false;
                    self.land(None)?;
                    if closed {
                        return Ok(());
                    }
                    continue;
                }
            } else {
                match self.rx.blocking_recv() {
                    Some(request) => group.push(request),
                    None => return Ok(()),
                }
                // If the channel closed meanwhile, the next turn notices.
                self.try_recv_many(&mut group);
            }

            let (prepared, applied) = self.prepare(&mut group);
            let prepared = if in_flight {
                in_flight = false;
                match self.land(Some(prepared))? {
                    Some(prepared) => prepared,
                    None => continue, // failed together with the group in flight
                }
            } else {
                prepared
            };
            if let Err(e) = applied {
                self.fail(vec![prepared], e)?;
            } else if prepared.needs_flush {
                in_flight = self.start_flush(prepared)?;
            } else {
                answer(prepared, &self.durable, &self.counters);
            }
        }
    }

    /// Adds queued requests to the group without waiting, up to the group limits; true if the
    /// channel is closed.
    fn try_recv_many(&mut self, group: &mut Vec<AppendRequest>) -> bool {
        let mut events: usize = group.iter().map(|r| r.batch.events.len()).sum();
        while group.len() < self.max_group && events < MAX_GROUP_EVENTS {
            match self.rx.try_recv() {
                Ok(request) => {
                    events += request.batch.events.len();
                    group.push(request);
                }
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
        false
    }

    /// Waits for the flusher's report on the group in flight (which it answered if the flush
    /// succeeded). If the flush failed, that group and `next` (applied on top of it) are both
    /// undone and failed, and `None` is returned; otherwise `next` is handed back.
    fn land(&mut self, next: Option<Prepared>) -> Result<Option<Prepared>, StorageError> {
        match self.flush_results.recv() {
            Ok(Ok(())) => {
                self.unflushed = false;
                Ok(next)
            }
            Ok(Err((e, flight))) => {
                let mut failed = vec![flight];
                failed.extend(next);
                self.fail(failed, e)?;
                Ok(None)
            }
            Err(_) => {
                // The flusher is gone (it panicked): the group in flight was dropped with it
                // (its appenders see the log as closed) and nothing can be made durable.
                error!("the event log flusher thread stopped");
                if let Some(next) = next {
                    self.fail(vec![next], flusher_gone())?;
                }
                Err(flusher_gone())
            }
        }
    }

    /// Hands a group to the flusher; true if it is now in flight.
    fn start_flush(&mut self, prepared: Prepared) -> Result<bool, StorageError> {
        let Some(jobs) = &self.flush_jobs else {
            self.fail(vec![prepared], flusher_gone())?;
            return Ok(false);
        };
        match jobs.send(prepared) {
            Ok(()) => Ok(true),
            Err(std_mpsc::SendError(prepared)) => {
                self.fail(vec![prepared], flusher_gone())?;
                Err(flusher_gone())
            }
        }
    }

    /// Decides every request of the group and applies the group's writes (one transaction). The
    /// apply's result
    /// is returned beside the group, which must be failed if it is an error.
    fn prepare(&mut self, group: &mut Vec<AppendRequest>) -> (Prepared, Result<(), StorageError>) {
        Counters::add(&self.counters.groups, 1);
        Counters::add(&self.counters.appends, group.len() as u64);
        let decide_start = std::time::Instant::now();
        let mut state = GroupState::default();
        let mut decided = Vec::with_capacity(group.len());
        // Readers wait while a group is decided (they need the index only to find where to
        // start reading, and a group is decided in microseconds to a few milliseconds).
        let shared = Arc::clone(&self.index);
        let mut index = match shared.write() {
            Ok(index) => index,
            Err(e) => {
                // The indexes are built on first use; if the events cannot even be read, no
                // append can be decided: the group fails, writes nothing, and the next group
                // tries again.
                let e = read_to_storage(e);
                warn!(error = %e, "building the event log's indexes failed; failing the group");
                let decided = group
                    .drain(..)
                    .map(|request| Decided {
                        reply: request.reply,
                        answer: Err(AppendError::Storage(e.clone())),
                        written: None,
                    })
                    .collect();
                let prepared = Prepared {
                    decided,
                    durable: Durable {
                        seq: self.last_seq,
                        outbox_seq: self.last_outbox,
                    },
                    new_events: 0,
                    duplicates: 0,
                    needs_flush: self.unflushed,
                };
                return (prepared, Ok(()));
            }
        };
        for request in group.drain(..) {
            let AppendRequest { batch, reply } = request;
            let (answer, written) = match self.decide(&batch, &mut index, &mut state) {
                Ok(Decision::Write(outcome)) => (Ok(outcome), Some(batch)),
                Ok(Decision::NoWrite(outcome)) => (Ok(outcome), None),
                Err(e) => {
                    if !matches!(e, AppendError::Storage(_)) {
                        Counters::add(&self.counters.refused, 1);
                    }
                    (Err(e), None)
                }
            };
            decided.push(Decided {
                reply,
                answer,
                written,
            });
        }
        drop(index);
        for (first, page) in state.pages.finish() {
            state.batch.events.insert(&keys::event(first), page);
        }
        Counters::add_elapsed(&self.counters.decide_micros, decide_start);
        let mut applied = Ok(());
        if state.writes {
            self.applied.store(self.last_seq, Ordering::Release);
            let apply_start = std::time::Instant::now();
            applied = self
                .trees
                .apply(&state.batch)
                .map_err(|e| StorageError::sled("apply group", e));
            Counters::add_elapsed(&self.counters.apply_micros, apply_start);
        }
        let prepared = Prepared {
            decided,
            durable: Durable {
                seq: self.last_seq,
                outbox_seq: self.last_outbox,
            },
            new_events: state.new_events,
            duplicates: state.duplicates,
            needs_flush: state.writes || self.unflushed,
        };
        (prepared, applied)
    }

    /// Undoes groups whose apply or flush failed, restores the counters from sled and answers
    /// every request of those groups with the failure. An `Err` (sled cannot even be re-read)
    /// is fatal to the writer.
    fn fail(&mut self, groups: Vec<Prepared>, cause: StorageError) -> Result<(), StorageError> {
        warn!(error = %cause, groups = groups.len(), "group commit failed; undoing");
        Counters::add(&self.counters.failed_groups, groups.len() as u64);
        let mut undo = AppendBatches::default();
        let mut any = false;
        for d in groups.iter().flat_map(|g| &g.decided) {
            let (Some(batch), Ok(AppendOutcome::Appended { positions })) = (&d.written, &d.answer)
            else {
                continue;
            };
            any = true;
            for position in positions.iter().filter(|p| !p.duplicate) {
                undo.events.remove(&keys::event(position.seq));
            }
            if let Some(request) = &batch.request {
                undo.requests
                    .remove(keys::request(&request.tenant, &request.request_id));
            }
        }
        if any {
            // Every key a group writes is new, so removing them restores the state before it.
            // One transaction, like the groups themselves. If even this fails, the groups stay
            // in sled as a whole (each still atomic): their
            // appenders were told they failed, which allows "it may be there after all".
            self.unflushed = true;
            if let Err(e) = self.trees.apply(&undo) {
                error!(error = %e, "undoing failed groups failed; they stay in the log, unacknowledged");
            }
        }
        let reload = self.reload();
        for d in groups.into_iter().flat_map(|g| g.decided) {
            let _ = d.reply.send(Err(AppendError::Storage(cause.clone())));
        }
        reload
    }

    /// Rebuilds the indexes and counters from sled: the truth after an undo, whether or not the
    /// undo itself succeeded. A full scan, but only after a storage failure.
    fn reload(&mut self) -> Result<(), StorageError> {
        let index = Index::build(&self.trees.events).map_err(read_to_storage)?;
        self.last_seq = last_seq(&self.trees.events).map_err(read_to_storage)?;
        self.last_outbox = index.last_outbox;
        self.index.replace(index);
        self.applied.store(self.last_seq, Ordering::Release);
        Ok(())
    }
}

fn flusher_gone() -> StorageError {
    StorageError::from_io("flush", io::Error::other("the flusher thread stopped"))
}

/// Reads and decodes a request record from the requests tree.
pub(crate) fn load_request(
    requests: &sled::Tree,
    key: &[u8],
) -> Result<Option<RequestRecord>, ReadError> {
    let Some(bytes) = requests.get(key).map_err(ReadError::sled)? else {
        return Ok(None);
    };
    let stored: value::StoredRequest =
        value::decode(&bytes).map_err(|reason| ReadError::corrupt(REQUESTS, key, reason))?;
    Ok(Some(RequestRecord {
        body_hash: stored.body_hash,
        reply: stored.reply,
        seqs: stored.seqs,
    }))
}

/// The seq of the last event in the events tree (the last event of its last page), 0 if empty.
pub(crate) fn last_seq(events: &sled::Tree) -> Result<u64, ReadError> {
    match events.last().map_err(ReadError::sled)? {
        None => Ok(0),
        // A damaged last page still names its first seq; `verify` reports the damage.
        Some((key, value)) => match Page::open(&key, value) {
            Ok(page) => Ok(page.last()),
            Err(e) => keys::u64_from(&key).ok_or(e),
        },
    }
}

/// The outbox seq of the last published event, if the newest `pages` pages tell: `Some(0)` when
/// they are the whole log and hold no published event, `None` when older pages would have to
/// be read. Usually the last event was published; a service that keeps some event kinds in its
/// log (`Service::publishes`) may have none published lately, or ever.
pub(crate) fn recent_outbox_seq(
    events: &sled::Tree,
    pages: usize,
) -> Result<Option<u64>, ReadError> {
    let mut newest = events.iter().rev();
    for entry in newest.by_ref().take(pages) {
        let (key, value) = entry.map_err(ReadError::sled)?;
        // Damaged pages are skipped here; `verify` names them.
        let Ok(page) = Page::open(&key, value) else {
            continue;
        };
        for i in (0..page.len()).rev() {
            let seq = page.first + i as u64;
            let header = page
                .event_value(i)
                .and_then(|v| value::decode_event(seq, v).ok());
            if let Some(outbox) = header.and_then(|(h, _)| h.outbox_seq) {
                return Ok(Some(outbox));
            }
        }
    }
    Ok(match newest.next() {
        None => Some(0),
        Some(_) => None,
    })
}

/// A damaged record met while deciding an append: the append fails with a storage error
/// (the writer cannot decide safely), naming the damage.
fn read_to_append(e: ReadError) -> AppendError {
    AppendError::Storage(read_to_storage(e))
}

fn read_to_storage(e: ReadError) -> StorageError {
    match e {
        ReadError::Storage(s) => s,
        corrupt @ ReadError::Corrupt { .. } => StorageError::from_io(
            "read",
            io::Error::new(io::ErrorKind::InvalidData, corrupt.to_string()),
        ),
    }
}
