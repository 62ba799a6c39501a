//! `csp bench ...`: benchmarks that print each figure beside a ceiling measured in the same run,
//! because these machines are noisy and only ratios travel.

pub mod audit;
pub mod billing;
pub mod bus;
pub mod consistency;
pub mod entitlement;
pub mod eventlog;
pub mod ordering;

use std::time::Duration;

/// The NATS server a benchmark runs against: `url` if given, else one of its own on a free port
/// with a temporary JetStream directory (kept alive by the returned handle).
pub(crate) fn nats(url: Option<&str>) -> anyhow::Result<(Option<csp_testkit::NatsServer>, String)> {
    use anyhow::Context as _;
    match url {
        Some(url) => Ok((None, url.to_string())),
        None => {
            let server = csp_testkit::NatsServer::start().context("starting nats-server")?;
            let url = server.url();
            Ok((Some(server), url))
        }
    }
}

/// The durability a benchmark runs with: stable storage, unless `--unsafe-no-fsync` asks to
/// show what the sync costs.
pub(crate) fn durability(unsafe_no_fsync: bool) -> csp_eventlog::Durability {
    if unsafe_no_fsync {
        csp_eventlog::Durability::UnsafeNoFsync
    } else {
        csp_eventlog::Durability::Synced
    }
}

/// The flag as it goes into a figure's command line.
pub(crate) fn durability_flag(unsafe_no_fsync: bool) -> &'static str {
    if unsafe_no_fsync {
        " --unsafe-no-fsync"
    } else {
        ""
    }
}

/// Events per second.
pub(crate) fn rate(n: u64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        n as f64 / d.as_secs_f64()
    }
}

/// The lines BENCHMARKS.md records with every figure: the machine, the date, the command.
pub(crate) fn header(command: &str) {
    println!("machine: {}", machine());
    println!(
        "date:    {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("command: {command}");
}

/// A line naming the machine: CPU model, cores, memory, kernel.
pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0.0, |kb| kb as f64 / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem_gib:.0} GiB, Linux {kernel}")
}

/// The process's peak resident set since start or since [`reset_peak_rss`], in bytes.
pub(crate) fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Resets the peak-RSS mark to the current RSS (Linux: writing 5 to `/proc/self/clear_refs`),
/// so a phase's peak can be read on its own. Returns whether it worked.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Mebibytes, for display.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}
