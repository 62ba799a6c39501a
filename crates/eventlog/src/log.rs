//! [`EventLog`]: opening a log, appending through the writer, reading, and the log's metadata
//! (epoch, snapshots, cursors).

use std::{
    io,
    path::Path,
    sync::{atomic::AtomicU64, Arc},
    thread::JoinHandle,
};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info};
use uuid::Uuid;

use crate::{
    batch::{AppendOutcome, Batch, RequestRecord},
    error::{AppendError, OpenError, ReadError, StorageError, WriteError},
    index::SharedIndex,
    keys,
    layout::{Trees, META, RETIRED_TREES, SNAPSHOTS},
    options::LogOptions,
    page::PageScan,
    read::Records,
    record::Snapshot,
    stable::StableStorage,
    stats::{Counters, LogStats},
    tail::Tail,
    value,
    verify::{self, VerifyReport},
    writer::{self, AppendRequest, Durable, Writer, WriterSetup},
};

/// A handle to one service's event log. Cheap to clone; all clones share one sled database (its
/// trees, see [`crate::layout`]) and one writer thread. The service is the log's only writer:
/// sled locks the directory, so a second process (or a second `open` in this one) gets
/// [`OpenError::Locked`].
///
/// Invariants: seqs are 1, 2, 3, ... with no gap, also across crashes; an append is
/// acknowledged only after a flush covering it returned; readers (`read_*`, `tail`,
/// `stream_version`, `request`) see only events covered by a successful flush. When the last
/// handle drops, the writer finishes (and answers) the group in hand and stops; that drop
/// blocks until it has, typically a flush's time.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    trees: Trees,
    /// What makes a flush stable (shared with the flusher thread).
    stable: Arc<StableStorage>,
    /// The dedupe, stream and outbox indexes (the writer changes them; reads consult them).
    index: Arc<SharedIndex>,
    epoch: Uuid,
    /// Every epoch the log has had, oldest first, each with the first outbox seq published
    /// under it.
    epochs: Vec<(Uuid, u64)>,
    /// `Some` until drop; taking it closes the channel, which stops the writer.
    tx: Option<mpsc::Sender<AppendRequest>>,
    durable: watch::Receiver<Durable>,
    counters: Arc<Counters>,
    applied: Arc<AtomicU64>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                error!("event log writer thread panicked");
            }
        }
        if let Err(e) = self.trees.db.flush() {
            error!(error = %e, "flushing the event log on close failed");
        } else if let Err(e) = self.stable.sync(self.durable.borrow().seq) {
            error!(error = %e, "syncing the event log on close failed");
        }
    }
}

/// How many of the newest pages open reads to find the last outbox seq before it builds the
/// indexes instead.
const RECENT_PAGES: usize = 16;

impl EventLog {
    /// Opens (or creates) the log in the directory `path`.
    ///
    /// sled is configured with no periodic flush (`flush_every_ms(None)`): every append is
    /// flushed by the writer before it is acknowledged and every metadata write flushes
    /// itself, so a background flusher would only add fsyncs competing with group commits.
    /// Each of those flushes is followed by a sync to stable storage (see [`crate::stable`];
    /// `opts.durability`), so an acknowledgement survives a power cut, not only a kill.
    /// sled's `Mode::HighThroughput` was measured against the default on the reference box
    /// (1,000-event batches) and made no difference, so the default (less space) is kept.
    ///
    /// Open reads only the last pages (for the last seq and the last outbox seq). The dedupe,
    /// stream and outbox indexes (in memory, `index.rs`) are built by one scan of the events'
    /// headers on first use: the writer's first append, or the first stream or outbox read; a
    /// replay from a seq never needs them. Damaged events do not stop the scan (they are
    /// logged, and [`EventLog::verify`] names them), so an operator can always open a log to
    /// inspect it. A log of layout 2 is upgraded in place first (its
    /// index trees dropped). A new log gets a random epoch; an existing one keeps its own.
    pub fn open(path: impl AsRef<Path>, opts: LogOptions) -> Result<EventLog, OpenError> {
        Self::open_inner(path.as_ref(), opts, false)
    }

    /// Opens a log just restored from a backup, giving it a new epoch first (durably), so that
    /// consumers that saw the seqs of the lost original never mistake this log's reused seqs for
    /// the ones they already processed. The restore tool calls this once; later opens use
    /// [`EventLog::open`].
    pub fn open_restored(path: impl AsRef<Path>, opts: LogOptions) -> Result<EventLog, OpenError> {
        Self::open_inner(path.as_ref(), opts, true)
    }

    fn open_inner(path: &Path, opts: LogOptions, new_epoch: bool) -> Result<EventLog, OpenError> {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(opts.cache_capacity_bytes)
            .flush_every_ms(None);
        // sled releases its directory lock when its last internal reference drops, and its IO
        // thread pool may hold one for a moment after the last handle closed: a reopen right
        // after a close in the same process would see a lock that is about to go. So `Locked`
        // is retried for a bounded while (`LogOptions::lock_wait`) before it is reported.
        let deadline = std::time::Instant::now() + opts.lock_wait;
        let db = loop {
            match config.open().map_err(|e| classify_open_error(path, e)) {
                Err(OpenError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        // The metadata first: it refuses a directory that is not a log of this layout before
        // anything (such as the trees) is created in it.
        let epoch = init_meta(&db, path)?;
        let trees = Trees::open(&db).map_err(|e| StorageError::sled("open trees", e))?;
        let last_seq = writer::last_seq(&trees.events)?;
        let index = Arc::new(SharedIndex::new(trees.events.clone()));
        let last_outbox = match writer::recent_outbox_seq(&trees.events, RECENT_PAGES)? {
            Some(seq) => seq,
            // Nothing published lately: finding the last published event means reading the
            // headers further back, which is what building the indexes does (and the first
            // append needs them anyway), so they are built now rather than scanned for twice.
            None => index.read()?.last_outbox,
        };
        let mut epochs = read_epochs(&db, epoch)?;
        let epoch = if new_epoch {
            start_epoch(&db, &mut epochs, last_outbox + 1)?
        } else {
            epoch
        };
        // After the metadata (which may have been created, upgraded or given a new epoch):
        // its opening sync makes all of that stable before `open` returns.
        let stable = Arc::new(
            StableStorage::open(path, opts.durability, opts.flush_observer.clone())
                .map_err(|e| StorageError::from_io("sync the log directory", e))?,
        );

        let max_group = opts.max_group_appends.max(1);
        let (tx, rx) = mpsc::channel(max_group.saturating_mul(2));
        let durable = Durable {
            seq: last_seq,
            outbox_seq: last_outbox,
        };
        let (durable_tx, durable_rx) = watch::channel(durable);
        let counters = Arc::new(Counters::default());
        let applied = Arc::new(AtomicU64::new(last_seq));
        let setup = WriterSetup {
            trees: trees.clone(),
            index: Arc::clone(&index),
            rx,
            durable: durable_tx,
            observer: opts.flush_observer,
            stable: Arc::clone(&stable),
            counters: Arc::clone(&counters),
            max_group,
            applied: Arc::clone(&applied),
            last: durable,
        };
        let writer =
            Writer::spawn(setup).map_err(|e| StorageError::from_io("spawn writer thread", e))?;
        info!(path = %path.display(), %epoch, last_seq, "event log opened");
        Ok(EventLog {
            inner: Arc::new(Inner {
                trees,
                stable,
                index,
                epoch,
                epochs,
                tx: Some(tx),
                durable: durable_rx,
                counters,
                applied,
                writer: Some(writer),
            }),
        })
    }

    /// The log's epoch: made at creation, stable across reopens. A log restored from a backup
    /// gets a new one ([`EventLog::open_restored`]), so a consumer never mistakes its reused
    /// seqs for ones it already saw.
    pub fn epoch(&self) -> Uuid {
        self.inner.epoch
    }

    /// Every epoch the log has had, oldest first, each with the first outbox seq published
    /// under it: what a record was published as, for a reader comparing the log with what
    /// others received before a restore (the audit verifier). A log never restored has one.
    pub fn epochs(&self) -> &[(Uuid, u64)] {
        &self.inner.epochs
    }

    /// The epoch the event at outbox seq `seq` was published under.
    pub fn epoch_of(&self, seq: u64) -> Uuid {
        self.inner
            .epochs
            .iter()
            .rev()
            .find(|(_, from)| *from <= seq)
            .map_or(self.inner.epoch, |(epoch, _)| *epoch)
    }

    /// The last durable seq (0 for an empty log).
    pub fn last_seq(&self) -> u64 {
        self.durable().seq
    }

    /// The last durable outbox seq (0 if nothing was published).
    pub fn last_outbox_seq(&self) -> u64 {
        self.durable().outbox_seq
    }

    /// Appends a batch and waits until it is durable (or refused). See the crate docs for the
    /// order of checks. Dropping the future does not cancel an append already sent to the
    /// writer: it may still be written.
    pub async fn append(&self, batch: Batch) -> Result<AppendOutcome, AppendError> {
        self.check(&batch)?;
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .send(AppendRequest { batch, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// [`EventLog::append`] for synchronous code (tools, tests, property tests). Blocks the
    /// thread; it panics if called from inside an async runtime (tokio's rule for blocking
    /// channel operations), where `append` is the one to use.
    pub fn append_blocking(&self, batch: Batch) -> Result<AppendOutcome, AppendError> {
        self.check(&batch)?;
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .blocking_send(AppendRequest { batch, reply })
            .map_err(|_| AppendError::Closed)?;
        answer.blocking_recv().map_err(|_| AppendError::Closed)?
    }

    /// Every durable event with seq >= `from_seq`, in seq order: a range scan of the events
    /// tree's pages (no index lookups). Events appended after the call are not included; use
    /// [`EventLog::tail`].
    pub fn read_from(&self, from_seq: u64) -> Records {
        let last = self.last_seq();
        let from = from_seq.max(1);
        if from > last {
            return Records::empty();
        }
        Records::log(PageScan::new(&self.inner.trees.events, from, last))
    }

    /// The durable events of one stream, in version order: the stream's seqs from the index,
    /// each event fetched by seq.
    pub fn read_stream(&self, stream: &str) -> Records {
        match self.inner.index.read() {
            Ok(index) => Records::seqs(
                self.inner.trees.events.clone(),
                index.stream_seqs(stream, self.last_seq()),
            ),
            Err(e) => Records::failed(e),
        }
    }

    /// The durable published events with outbox seq >= `from_outbox_seq`, in outbox order;
    /// every record's `outbox_seq` is `Some`. The index gives the seq of the first one; from
    /// there it is a range scan of the events tree that skips unpublished events (outbox order
    /// is seq order).
    pub fn read_outbox_from(&self, from_outbox_seq: u64) -> Records {
        let durable = self.durable();
        let from = from_outbox_seq.max(1);
        if from > durable.outbox_seq {
            return Records::empty();
        }
        let start = match self.inner.index.read() {
            Ok(index) => index.outbox_event(from),
            Err(e) => return Records::failed(e),
        };
        let Some(start) = start else {
            return Records::empty();
        };
        Records::outbox(
            PageScan::new(&self.inner.trees.events, start, durable.seq),
            from,
            durable.outbox_seq,
        )
    }

    /// The stream's current durable version (0 if it has no events): what the next event of
    /// the stream must be decided against.
    pub fn stream_version(&self, stream: &str) -> Result<u64, ReadError> {
        Ok(self.inner.index.read()?.version_at(stream, self.last_seq()))
    }

    /// Waits for durable events from `from_seq` on, forever: yields what is already in the log,
    /// then each new append once it is durable. The tail holds the sled database open but not
    /// the writer: when every `EventLog` handle is gone it ends after the last durable event.
    pub fn tail(&self, from_seq: u64) -> Tail {
        Tail::new(
            self.inner.trees.events.clone(),
            self.inner.durable.clone(),
            from_seq,
        )
    }

    /// The request record of `request_id` for `tenant`, if a durable one exists.
    pub fn request(
        &self,
        tenant: Uuid,
        request_id: &str,
    ) -> Result<Option<RequestRecord>, ReadError> {
        let record = writer::load_request(
            &self.inner.trees.requests,
            &keys::request(&tenant, request_id),
        )?;
        let last = self.last_seq();
        // A record whose events are not durable yet belongs to a group still being flushed.
        Ok(record.filter(|r| r.seqs.iter().all(|&s| s <= last)))
    }

    /// Saves a projection's state after folding events `1..=at_seq`, durably, under `name` and
    /// the projection's `code_version`: a projection whose code changed gets a new version and
    /// so never restores a state its old code made. Older code versions are kept (they are
    /// small and let a rollback of the code restore fast).
    pub fn save_snapshot(
        &self,
        name: &str,
        code_version: u32,
        at_seq: u64,
        bytes: &[u8],
    ) -> Result<(), WriteError> {
        if name.is_empty() {
            return Err(WriteError::Invalid("a snapshot needs a name".into()));
        }
        let last = self.last_seq();
        if at_seq > last {
            return Err(WriteError::Invalid(format!(
                "a snapshot at seq {at_seq} is beyond the end of the log ({last})"
            )));
        }
        let stored = value::encode(&value::StoredSnapshotRef { at_seq, bytes });
        self.put_durably(
            &self.inner.trees.snapshots,
            keys::snapshot(name, code_version),
            stored,
        )
    }

    /// The snapshot saved under `name` by `code_version`, if any.
    pub fn load_snapshot(
        &self,
        name: &str,
        code_version: u32,
    ) -> Result<Option<Snapshot>, ReadError> {
        let key = keys::snapshot(name, code_version);
        let Some(bytes) = self
            .inner
            .trees
            .snapshots
            .get(&key)
            .map_err(ReadError::sled)?
        else {
            return Ok(None);
        };
        let stored: value::StoredSnapshot =
            value::decode(&bytes).map_err(|reason| ReadError::corrupt(SNAPSHOTS, &key, reason))?;
        Ok(Some(Snapshot {
            at_seq: stored.at_seq,
            bytes: stored.bytes,
        }))
    }

    /// Durably sets the named cursor (e.g. the outbox publish cursor), flushing before it
    /// returns so a restart resumes from it.
    pub fn set_cursor(&self, name: &str, value: u64) -> Result<(), WriteError> {
        if name.is_empty() {
            return Err(WriteError::Invalid("a cursor needs a name".into()));
        }
        self.put_durably(
            &self.inner.trees.db,
            keys::cursor(name),
            value::encode_u64(value).to_vec(),
        )
    }

    /// Sets the named cursor without waiting for stable storage: it becomes durable with the
    /// next group commit (sled's flush covers the whole database) or when the log closes. For
    /// a cursor that may lag after a crash — the outbox's publish cursor: what it forgets is
    /// published again, and duplicates are absorbed downstream — this keeps a flush and an
    /// `fdatasync` off the async task that advances it, which on a busy service would hold a
    /// runtime worker for a millisecond per advance.
    pub fn note_cursor(&self, name: &str, value: u64) -> Result<(), WriteError> {
        if name.is_empty() {
            return Err(WriteError::Invalid("a cursor needs a name".into()));
        }
        self.inner
            .trees
            .db
            .insert(keys::cursor(name), value::encode_u64(value).to_vec())
            .map_err(|e| StorageError::sled("write", e))?;
        Ok(())
    }

    /// The named cursor's value, `None` if it was never set.
    pub fn cursor(&self, name: &str) -> Result<Option<u64>, ReadError> {
        let key = keys::cursor(name);
        match self.inner.trees.db.get(&key).map_err(ReadError::sled)? {
            None => Ok(None),
            Some(v) => value::decode_u64(&v)
                .map(Some)
                .ok_or_else(|| ReadError::corrupt(META, &key, "cursor value is not a u64")),
        }
    }

    /// Checks the whole log's integrity (see [`VerifyReport`]). Safe on a live log: it
    /// considers only events covered by a successful flush.
    pub fn verify(&self) -> Result<VerifyReport, ReadError> {
        verify::verify(
            &self.inner.trees,
            &self.inner.index,
            self.durable(),
            &self.inner.applied,
        )
    }

    /// The writer's counters since open.
    pub fn stats(&self) -> LogStats {
        self.inner.counters.snapshot()
    }

    /// Requests sent to the writer and not yet taken into a group (for tests that need
    /// several requests to land in one group).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.inner
            .tx
            .as_ref()
            .map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    /// The live indexes, for tests that damage them.
    #[cfg(test)]
    pub(crate) fn index_for_test(&self) -> Arc<SharedIndex> {
        Arc::clone(&self.inner.index)
    }

    fn durable(&self) -> Durable {
        *self.inner.durable.borrow()
    }

    fn check(&self, batch: &Batch) -> Result<(), AppendError> {
        batch.validate().map_err(|e| {
            Counters::add(&self.inner.counters.appends, 1);
            Counters::add(&self.inner.counters.refused, 1);
            AppendError::Invalid(e)
        })
    }

    fn sender(&self) -> Result<&mpsc::Sender<AppendRequest>, AppendError> {
        self.inner.tx.as_ref().ok_or(AppendError::Closed)
    }

    /// Writes one snapshot or cursor, flushes and syncs it to stable storage before returning (a
    /// write outside the writer's group commit, on its own tree or the default tree).
    fn put_durably(
        &self,
        tree: &sled::Tree,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<(), WriteError> {
        tree.insert(key, value)
            .map_err(|e| StorageError::sled("write", e))?;
        self.inner
            .trees
            .db
            .flush()
            .map_err(|e| StorageError::sled("flush", e))?;
        self.inner
            .stable
            .sync(self.durable().seq)
            .map_err(|e| StorageError::from_io("sync to stable storage", e))?;
        Ok(())
    }
}

/// sled reports a held lock as an `Other` io error saying "could not acquire lock"; turn it
/// into the typed [`OpenError::Locked`].
///
/// A lock still held after `LogOptions::lock_wait` belongs to a live holder (another process,
/// or a handle still open in this one).
fn classify_open_error(path: &Path, e: sled::Error) -> OpenError {
    if let sled::Error::Io(io) = &e {
        if io.kind() == io::ErrorKind::WouldBlock
            || io.to_string().contains("could not acquire lock")
        {
            return OpenError::Locked {
                path: path.to_path_buf(),
            };
        }
    }
    OpenError::Storage(StorageError::sled("open", e))
}

/// Reads the epoch (checking the layout version), or creates both for a new log. Both live in
/// sled's default tree, where every layout version keeps them.
fn init_meta(db: &sled::Db, path: &Path) -> Result<Uuid, OpenError> {
    let epoch_key = keys::meta(keys::META_EPOCH);
    let layout_key = keys::meta(keys::META_LAYOUT);
    if let Some(stored) = db.get(&epoch_key).map_err(ReadError::sled)? {
        let epoch = match stored.as_ref() {
            [value::LOG_VALUE_FORMAT, id @ ..] => Uuid::from_slice(id).ok(),
            _ => None,
        }
        .ok_or_else(|| ReadError::corrupt(META, &epoch_key, "epoch is not a uuid"))?;
        let layout = db.get(&layout_key).map_err(ReadError::sled)?;
        match layout.as_deref() {
            Some([value::LOG_VALUE_FORMAT, value::UPGRADABLE_LAYOUT]) => {
                upgrade_from_layout_2(db, path)?;
                Ok(epoch)
            }
            Some([value::LOG_VALUE_FORMAT, value::LAYOUT_VERSION]) => Ok(epoch),
            Some([value::LOG_VALUE_FORMAT, found]) => Err(OpenError::UnsupportedLayout {
                path: path.to_path_buf(),
                found: *found,
                supported: value::LAYOUT_VERSION,
            }),
            _ => Err(
                ReadError::corrupt(META, &layout_key, "missing or malformed layout version").into(),
            ),
        }
    } else {
        // A new log: the directory must hold no data at all, in the default tree or any other.
        let default_tree = db.name();
        if !db.is_empty() || db.tree_names().iter().any(|name| *name != default_tree) {
            return Err(OpenError::NotAnEventLog {
                path: path.to_path_buf(),
            });
        }
        let epoch = Uuid::new_v4();
        let mut batch = sled::Batch::default();
        batch.insert(epoch_key, epoch_value(epoch));
        batch.insert(
            layout_key,
            &[value::LOG_VALUE_FORMAT, value::LAYOUT_VERSION],
        );
        db.apply_batch(batch)
            .map_err(|e| StorageError::sled("create log metadata", e))?;
        db.flush()
            .map_err(|e| StorageError::sled("flush log metadata", e))?;
        Ok(epoch)
    }
}

/// The epoch history; a log that never had a new epoch (or predates the history) has had only
/// `epoch`, from its first outbox seq.
fn read_epochs(db: &sled::Db, epoch: Uuid) -> Result<Vec<(Uuid, u64)>, OpenError> {
    let key = keys::meta(keys::META_EPOCHS);
    let Some(stored) = db.get(&key).map_err(ReadError::sled)? else {
        return Ok(vec![(epoch, 1)]);
    };
    let corrupt = || ReadError::corrupt(META, &key, "malformed epoch history");
    let [value::LOG_VALUE_FORMAT, entries @ ..] = stored.as_ref() else {
        return Err(corrupt().into());
    };
    if entries.is_empty() || entries.len() % 24 != 0 {
        return Err(corrupt().into());
    }
    let epochs: Vec<(Uuid, u64)> = entries
        .chunks_exact(24)
        .map(|e| {
            let (id, from) = e.split_at(16);
            let id = Uuid::from_slice(id).map_err(|_| corrupt())?;
            let from = u64::from_be_bytes(from.try_into().map_err(|_| corrupt())?);
            Ok((id, from))
        })
        .collect::<Result<_, ReadError>>()?;
    if epochs.last().map(|(e, _)| *e) != Some(epoch) {
        return Err(
            ReadError::corrupt(META, &key, "the epoch history does not end at the epoch").into(),
        );
    }
    Ok(epochs)
}

/// Gives the log a fresh epoch whose first outbox seq is `from`, recorded in the history in the
/// same atomic write, durably.
fn start_epoch(db: &sled::Db, epochs: &mut Vec<(Uuid, u64)>, from: u64) -> Result<Uuid, OpenError> {
    let epoch = Uuid::new_v4();
    epochs.push((epoch, from));
    let mut history = vec![value::LOG_VALUE_FORMAT];
    for (id, first) in epochs.iter() {
        history.extend_from_slice(id.as_bytes());
        history.extend_from_slice(&first.to_be_bytes());
    }
    let mut batch = sled::Batch::default();
    batch.insert(keys::meta(keys::META_EPOCH), epoch_value(epoch));
    batch.insert(keys::meta(keys::META_EPOCHS), history);
    db.apply_batch(batch)
        .map_err(|e| StorageError::sled("write new epoch", e))?;
    db.flush()
        .map_err(|e| StorageError::sled("flush new epoch", e))?;
    Ok(epoch)
}

/// Layout 2 -> 3: the request records, snapshots and metadata are the same, and layout 2's
/// one-key events are one-event pages of layout 3; layout 3 only stops keeping the dedupe,
/// stream and outbox indexes on disk. So the upgrade drops those trees, then records layout 3. A crash in between leaves layout 2 recorded, and the next open
/// simply drops what is left (dropping a missing tree is a no-op).
fn upgrade_from_layout_2(db: &sled::Db, path: &Path) -> Result<(), OpenError> {
    for tree in RETIRED_TREES {
        db.drop_tree(tree)
            .map_err(|e| StorageError::sled("drop a layout-2 index tree", e))?;
    }
    db.flush()
        .map_err(|e| StorageError::sled("flush the dropped index trees", e))?;
    db.insert(
        keys::meta(keys::META_LAYOUT),
        &[value::LOG_VALUE_FORMAT, value::LAYOUT_VERSION],
    )
    .map_err(|e| StorageError::sled("record layout 3", e))?;
    db.flush()
        .map_err(|e| StorageError::sled("flush layout 3", e))?;
    info!(path = %path.display(), "event log upgraded from layout 2 to layout 3 (indexes now in memory)");
    Ok(())
}

/// `[format][16 bytes]`: the stored epoch.
fn epoch_value(epoch: Uuid) -> Vec<u8> {
    let mut value = vec![value::LOG_VALUE_FORMAT];
    value.extend_from_slice(epoch.as_bytes());
    value
}
