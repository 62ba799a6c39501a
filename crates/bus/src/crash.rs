//! Crash points: places where the ordinary binary can be told to die, so tests can prove that
//! nothing is lost or duplicated whatever the moment of a crash.
//!
//! `CSP_CRASH_AT=<point>:<n>` makes the process kill itself with SIGKILL (no unwinding, no
//! flush, no core dump: what an OOM kill or `kill -9` does) the `n`-th time it reaches
//! `<point>`. Off unless the variable is set.
//!
//! Points: `producer_after_append` (events durable in the log, not yet published),
//! `consumer_after_consume` (messages fetched, nothing appended), `consumer_after_append`
//! (upstream event and reactions durable, not yet acknowledged), `consumer_mid_batch` (half of a
//! fetched batch handled); in the entitlement service's keyring, `rotation_after_next_written`
//! (a new master key durable beside the old, nothing re-wrapped) and `rotation_after_rewrap`
//! (everything re-wrapped under the new key, the old key file not yet replaced), and
//! `entitlement_after_revoke` (a revocation durable, its data keys not yet destroyed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The variable that arms a crash point.
pub const CRASH_AT: &str = "CSP_CRASH_AT";

struct Armed {
    point: String,
    at: u64,
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(CRASH_AT).ok()?;
            let (point, n) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
            Some(Armed {
                point: point.to_string(),
                at: n.parse().unwrap_or(1).max(1),
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Kills the process if `point` is armed and this is its `n`-th hit.
pub fn point(point: &str) {
    if let Some(a) = armed() {
        if a.point == point && a.hits.fetch_add(1, Ordering::SeqCst) + 1 == a.at {
            eprintln!("csp: crash point {point} reached: SIGKILL");
            // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            // SIGKILL cannot be caught; should it somehow return, do not go on.
            std::process::abort();
        }
    }
}

/// The variable that arms a fault point.
pub const FAIL_AT: &str = "CSP_FAIL_AT";

/// Fault points: places where the ordinary binary can be told to fail an operation (without
/// dying), so tests can prove what a failure leaves. `CSP_FAIL_AT=<point>` fails every pass
/// through `<point>`. Off unless the variable is set.
///
/// Points: `recorded_read_append` (a recorded read's events cannot be recorded: nothing may be
/// revealed); `fold_own_event` (the applier cannot fold the next event of the service's own
/// log, as if it were damaged: the service halts).
pub fn fails(point: &str) -> bool {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED.get_or_init(|| std::env::var(FAIL_AT).ok()).as_deref() == Some(point)
}
