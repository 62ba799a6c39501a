//! The log's typed errors. Each operation has its own enum so a caller matches only on what can
//! happen to it: an append can conflict, a read cannot. Storage failures are wrapped in one
//! cloneable [`StorageError`] because a failed group commit reports the same failure to every
//! appender of the group.

use std::{io, path::PathBuf, sync::Arc};

use uuid::Uuid;

/// A failure of the storage underneath (sled, the file system, a flush observer). Cloneable so
/// one failed flush can be reported to every request of its group.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{context}: {source}")]
pub struct StorageError {
    context: &'static str,
    #[source]
    source: Arc<io::Error>,
}

impl StorageError {
    /// What the log was doing when storage failed ("flush", "apply batch", ...).
    pub fn context(&self) -> &'static str {
        self.context
    }

    /// The underlying I/O error, for its kind.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    pub(crate) fn sled(context: &'static str, e: sled::Error) -> Self {
        Self::from_io(context, e.into())
    }

    pub(crate) fn from_io(context: &'static str, e: io::Error) -> Self {
        Self {
            context,
            source: Arc::new(e),
        }
    }
}

/// Why [`crate::EventLog::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (or another handle in this process) has the log open. sled holds an
    /// exclusive file lock for as long as a log is open, so offline tools must stop the service
    /// first or go through its query API.
    #[error(
        "the event log at {path} is locked: another process (probably the running service) has it \
         open; stop that process or use the service's query API instead"
    )]
    Locked {
        /// The directory of the log.
        path: PathBuf,
    },
    /// The directory holds a sled database with data but no log epoch: not an event log.
    #[error("{path} holds a sled database that is not an event log (no epoch)")]
    NotAnEventLog {
        /// The directory of the log.
        path: PathBuf,
    },
    /// The log was written with a layout (trees and keys) this version does not read; refusing
    /// beats misreading. Layout 1 (every key family in one sled tree) has no migration: it
    /// predates any released data.
    #[error(
        "the event log at {path} uses layout version {found}, but this build reads only layout \
         version {supported}; open it with the build that wrote it, or start a new log"
    )]
    UnsupportedLayout {
        /// The directory of the log.
        path: PathBuf,
        /// The layout version found on disk.
        found: u8,
        /// The layout version this build reads.
        supported: u8,
    },
    /// The log's own metadata could not be read.
    #[error("the event log's metadata is damaged: {0}")]
    Corrupt(#[from] ReadError),
    /// sled or the file system failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a read failed. Corruption is reported with the key, never by panicking.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    /// A stored value or key could not be decoded, or an index points nowhere.
    #[error("corrupt record in tree {tree}, key {key:02x?}: {reason}")]
    Corrupt {
        /// The tree of the damaged record (a [`crate::layout`] name).
        tree: &'static str,
        /// The key of the damaged record.
        key: Vec<u8>,
        /// What is wrong with it.
        reason: String,
    },
    /// sled or the file system failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ReadError {
    pub(crate) fn corrupt(tree: &'static str, key: &[u8], reason: impl Into<String>) -> Self {
        Self::Corrupt {
            tree,
            key: key.to_vec(),
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt_event(seq: u64, reason: impl Into<String>) -> Self {
        Self::corrupt(crate::layout::EVENTS, &crate::keys::event(seq), reason)
    }

    pub(crate) fn sled(e: sled::Error) -> Self {
        Self::Storage(StorageError::sled("read", e))
    }
}

/// Why an append was refused or failed. The first three are answers about the batch (retrying
/// the same batch gives the same answer); `Storage` and `Closed` are about the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// Optimistic concurrency: the batch was decided against version `expected` of `stream`,
    /// but the stream is at `actual`. Re-read the stream, decide again, retry.
    #[error(
        "stream {stream} is at version {actual}, the batch expected {expected}: \
         re-read the stream and decide again"
    )]
    Conflict {
        /// The stream whose version moved.
        stream: String,
        /// The version the batch was decided against (its first new event's version - 1).
        expected: u64,
        /// The stream's current version.
        actual: u64,
    },
    /// The request id was already used by this tenant with a different body.
    #[error(
        "request {request_id} of tenant {tenant} was already recorded with a different body: \
         use a new request id for a different request"
    )]
    IdempotencyConflict {
        /// The tenant the request id belongs to.
        tenant: Uuid,
        /// The reused request id.
        request_id: String,
    },
    /// The batch is malformed; nothing was looked up or written.
    #[error("invalid batch: {0}")]
    Invalid(#[from] InvalidBatch),
    /// Storage failed while this batch's group was written or flushed: the batch is not
    /// acknowledged (it may or may not be in the log after a crash, but never partly).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The log's writer has stopped (it can no longer trust its view of the disk).
    #[error("the event log is closed")]
    Closed,
}

/// What is wrong with a malformed batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatch {
    /// No events and no request record: nothing to append.
    #[error("the batch has no events and no request record")]
    Empty,
    /// An event has an empty stream name.
    #[error("event {index} has an empty stream name")]
    EmptyStream {
        /// Position of the event in the batch.
        index: usize,
    },
    /// Stream versions start at 1.
    #[error("event {index} has version 0; stream versions start at 1")]
    ZeroVersion {
        /// Position of the event in the batch.
        index: usize,
    },
    /// Two events of one stream in the batch do not have consecutive versions.
    #[error("stream {stream}: version {found} follows {previous} in the batch; versions must be consecutive")]
    NonContiguousVersions {
        /// The stream.
        stream: String,
        /// The version of the stream's previous event in the batch.
        previous: u64,
        /// The version that should have been `previous + 1`.
        found: u64,
    },
    /// The same event id twice in one batch.
    #[error("event id {event_id} appears twice in the batch")]
    DuplicateEventId {
        /// The repeated id.
        event_id: Uuid,
    },
    /// A request record needs a non-empty request id.
    #[error("the request record has an empty request id")]
    EmptyRequestId,
}

/// Why a metadata write (snapshot, cursor) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The arguments are unusable (an empty name, a snapshot beyond the end of the log).
    #[error("invalid: {0}")]
    Invalid(String),
    /// sled or the file system failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
