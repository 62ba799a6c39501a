//! A fresh directory per test, removed when the test is done.
//!
//! Ten lines of our own instead of the `tempfile` crate: the testkit needs only "unique, then
//! gone", and one dependency fewer keeps every end-to-end test build lighter.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many names to try before giving up; a clash needs another process with our pid.
const ATTEMPTS: u32 = 16;

/// A directory under [`std::env::temp_dir`] that is new (never reused from an earlier run or
/// another test) and removed with everything in it on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<temp>/<prefix>-<pid>-<nanos>-<n>`. Creation fails rather than reuses when the
    /// name exists, so two tests can never share a store by accident.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for _ in 0..ATTEMPTS {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("{prefix}-{}-{nanos}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free temporary directory name for {prefix:?}"),
        ))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    /// Best effort: a failure to clean up must not turn a passing test into a panic in drop.
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Copies the directory `from` into `to` (made if missing), files and subdirectories: a copy
/// of a stopped service's data for a test to restore or tamper with. Panics on an I/O error:
/// test setup.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the copy");
    for entry in fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dir_is_new_and_removed_on_drop() {
        let a = TempDir::new("csp-testkit-unit").expect("a");
        let b = TempDir::new("csp-testkit-unit").expect("b");
        assert_ne!(a.path(), b.path());
        fs::write(a.path().join("file"), b"x").expect("write");
        fs::create_dir(a.path().join("sub")).expect("mkdir");
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists());
        assert!(b.path().is_dir());
    }
}
