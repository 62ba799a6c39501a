//! The flusher thread: flushes sled for the writer, makes the flush stable (`stable.rs`) and
//! answers the flushed group.
//!
//! Why answering happens here: waking an appender's task costs microseconds (a futex wake per
//! reply), and the writer thread is the bottleneck under load, so it hands the whole decided
//! group to the flusher and goes on deciding and applying the next one. The flusher makes the
//! group durable, advances the durable watch, answers every request, and tells the writer
//! (which must know before it starts the next flush). A group whose flush failed is handed back
//! unanswered, for the writer to undo.

use std::sync::{mpsc as std_mpsc, Arc};

use tokio::sync::{oneshot, watch};
use tracing::debug;

use super::Durable;
use crate::{
    batch::{AppendOutcome, Batch},
    error::{AppendError, StorageError},
    options::FlushObserver,
    stable::StableStorage,
    stats::Counters,
};

/// One request of a group, decided, waiting for the flush.
pub(super) struct Decided {
    pub(super) reply: oneshot::Sender<Result<AppendOutcome, AppendError>>,
    pub(super) answer: Result<AppendOutcome, AppendError>,
    /// The batch, kept if it wrote something, so a failed group can be undone.
    pub(super) written: Option<Batch>,
}

/// A decided (and, if it writes, applied) group, waiting to be answered.
pub(super) struct Prepared {
    pub(super) decided: Vec<Decided>,
    /// The durable end once this group's flush returns.
    pub(super) durable: Durable,
    pub(super) new_events: u64,
    pub(super) duplicates: u64,
    /// Whether it needs a flush before its answers (it wrote, or sled holds undo removals).
    pub(super) needs_flush: bool,
}

/// What the flusher reports for each group: done, or failed and handed back.
pub(super) type FlushResult = Result<(), (StorageError, Prepared)>;

/// Answers every request of a group whose writes are durable (or that wrote nothing), after
/// advancing the durable watch, so an appender that reads right after its ack (readers stop at
/// the durable seq) sees its own events.
pub(super) fn answer(prepared: Prepared, durable: &watch::Sender<Durable>, counters: &Counters) {
    Counters::add(&counters.events_written, prepared.new_events);
    Counters::add(&counters.duplicates, prepared.duplicates);
    durable.send_if_modified(|d| {
        let advanced = prepared.durable.seq > d.seq;
        if advanced {
            *d = prepared.durable;
        }
        advanced
    });
    debug!(
        requests = prepared.decided.len(),
        events = prepared.new_events,
        up_to_seq = prepared.durable.seq,
        "group committed"
    );
    for d in prepared.decided {
        // The appender may have gone away (its future dropped); its batch is durable anyway.
        let _ = d.reply.send(d.answer);
    }
}

/// Flushes sled around the flush observer, then makes the flush stable, one group at a time, in
/// the writer's order.
pub(super) struct Flusher {
    pub(super) db: sled::Db,
    pub(super) stable: Arc<StableStorage>,
    pub(super) observer: Option<Arc<dyn FlushObserver>>,
    pub(super) counters: Arc<Counters>,
    pub(super) durable: Arc<watch::Sender<Durable>>,
}

impl Flusher {
    pub(super) fn run(
        self,
        jobs: std_mpsc::Receiver<Prepared>,
        results: std_mpsc::Sender<FlushResult>,
    ) {
        for prepared in jobs {
            let result = match self.flush(prepared.durable.seq) {
                Ok(()) => {
                    answer(prepared, &self.durable, &self.counters);
                    Ok(())
                }
                Err(e) => Err((e, prepared)),
            };
            if results.send(result).is_err() {
                break;
            }
        }
    }

    fn flush(&self, up_to_seq: u64) -> Result<(), StorageError> {
        if let Some(observer) = &self.observer {
            observer
                .before_flush(up_to_seq)
                .map_err(|e| StorageError::from_io("flush observer", e))?;
        }
        Counters::add(&self.counters.flushes, 1);
        let start = std::time::Instant::now();
        let flushed = self.db.flush();
        Counters::add_elapsed(&self.counters.flush_micros, start);
        flushed.map_err(|e| StorageError::sled("flush", e))?;
        if let Some(observer) = &self.observer {
            observer.after_flush(up_to_seq);
        }
        // sled's flush survives a killed process only; an acknowledgement must also survive
        // an OS crash or a power cut.
        let start = std::time::Instant::now();
        let synced = self.stable.sync(up_to_seq);
        Counters::add(&self.counters.syncs, 1);
        Counters::add_elapsed(&self.counters.sync_micros, start);
        synced.map_err(|e| StorageError::from_io("sync to stable storage", e))?;
        Ok(())
    }
}
