//! Stable storage: what sled's flush leaves undone.
//!
//! sled 0.34's `flush()` writes its buffers with `sync_file_range(WAIT_BEFORE | WRITE |
//! WAIT_AFTER)` on Linux. That survives a killed process (the data is in the page cache) but
//! flushes neither the disk's volatile write cache nor the file's metadata, so it "does not
//! provide any data integrity" against an OS crash or a power cut (its man page). sled also
//! writes large values as blob files without syncing them, and renames its snapshot files
//! without syncing their directory.
//!
//! So after every flush the log acknowledges, [`StableStorage::sync`] makes it stable: one
//! `fdatasync` of sled's data file (on a handle opened once), an `fsync` of every blob file
//! sled created since the last sync (and of the blob directory), and an `fsync` of the log's
//! directory (blob and snapshot names). Group commit keeps this one sync per group, not per
//! append. The same runs after every snapshot and cursor write.
//!
//! It is public so a benchmark's raw-sled ceiling pays exactly the same sync as the log.

use std::{
    collections::HashSet,
    ffi::OsString,
    fs::File,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use crate::options::FlushObserver;

/// What an acknowledged append survives. The default, [`Durability::Synced`], is the only one
/// a service runs with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledged only once on stable storage: survives a killed process, an OS crash and a
    /// power cut (given a disk that honours flushes).
    #[default]
    Synced,
    /// sled's flush only (`sync_file_range`): survives a killed process, **not** an OS crash or
    /// a power cut. For benchmarks that show what the sync costs, and nothing else; named
    /// `--unsafe-no-fsync` wherever a command offers it.
    UnsafeNoFsync,
}

/// What one sync did, for the [`FlushObserver`] and the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    /// sled's data file, `fdatasync`ed (`None` under [`Durability::UnsafeNoFsync`]).
    pub data_file: Option<PathBuf>,
    /// Blob files sled created since the previous sync, each `fsync`ed.
    pub new_blobs: usize,
}

/// Handles on a sled directory's files, opened once, and the blobs already synced.
pub struct StableStorage {
    durability: Durability,
    data_path: PathBuf,
    data: File,
    dir: File,
    blobs_path: PathBuf,
    /// Blob files already synced (sled names them by log position and never rewrites one).
    synced_blobs: Mutex<HashSet<OsString>>,
    observer: Option<Arc<dyn FlushObserver>>,
}

impl std::fmt::Debug for StableStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StableStorage")
            .field("durability", &self.durability)
            .field("data_path", &self.data_path)
            .finish_non_exhaustive()
    }
}

impl StableStorage {
    /// Opens the handles of the sled database in `dir` (already opened by sled, so its data
    /// file exists) and syncs the directory and everything in it once, so a log just created
    /// is on stable storage with its first acknowledgement.
    pub fn open(
        dir: &Path,
        durability: Durability,
        observer: Option<Arc<dyn FlushObserver>>,
    ) -> io::Result<StableStorage> {
        let data_path = dir.join("db");
        let data = File::options().read(true).write(true).open(&data_path)?;
        let dir_handle = File::open(dir)?;
        let stable = StableStorage {
            durability,
            data_path,
            data,
            dir: dir_handle,
            blobs_path: dir.join("blobs"),
            synced_blobs: Mutex::new(HashSet::new()),
            observer,
        };
        if durability == Durability::Synced {
            // Once: the files sled created (its config, its data file) and their names.
            if let Ok(conf) = File::open(dir.join("conf")) {
                conf.sync_all()?;
            }
            stable.data.sync_all()?;
            stable.sync_blobs(true)?;
            stable.dir.sync_all()?;
        }
        Ok(stable)
    }

    /// What this storage promises.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Makes everything sled has flushed stable. `up_to_seq` (the last seq the flush covered)
    /// is only passed on to the observer. Call it after `sled::Db::flush` returned and before
    /// acknowledging anything that flush covered.
    pub fn sync(&self, up_to_seq: u64) -> io::Result<Synced> {
        let synced = match self.durability {
            Durability::UnsafeNoFsync => Synced {
                data_file: None,
                new_blobs: 0,
            },
            Durability::Synced => {
                self.data.sync_data()?;
                let new_blobs = self.sync_blobs(false)?;
                // Blob names, and the snapshot files sled renames into place.
                self.dir.sync_all()?;
                Synced {
                    data_file: Some(self.data_path.clone()),
                    new_blobs,
                }
            }
        };
        if let Some(observer) = &self.observer {
            observer.after_sync(up_to_seq, &synced);
        }
        Ok(synced)
    }

    /// Syncs each blob file not synced before, then the blob directory if any was new (or
    /// `always`). Returns how many were new.
    fn sync_blobs(&self, always: bool) -> io::Result<usize> {
        let entries = match std::fs::read_dir(&self.blobs_path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut present = HashSet::with_capacity(synced.len());
        let mut new = 0;
        for entry in entries {
            let name = entry?.file_name();
            if !synced.contains(&name) {
                match File::open(self.blobs_path.join(&name)) {
                    Ok(f) => f.sync_all()?,
                    // sled removed it (garbage collection) since the listing: nothing to keep.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                new += 1;
            }
            present.insert(name);
        }
        // Forget the blobs sled removed, so the set stays the size of the directory.
        *synced = present;
        drop(synced);
        if new > 0 || always {
            File::open(&self.blobs_path)?.sync_all()?;
        }
        Ok(new)
    }
}
