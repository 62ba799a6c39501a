//! Project chores, run as `cargo xtask <chore>`.
//!
//! - `test`: the whole test suite, exactly what CI runs (`.ci/run`). It first makes sure a
//!   `nats-server` binary is there for the end-to-end suites: found on the PATH or in
//!   `/usr/sbin`, else installed from Debian's package when running as root, else it stops with
//!   a message saying how; likewise `python3` with `cryptography` for the audit's independent
//!   verifier. It never skips a suite silently.
//! - `fixtures`: rewrites `events/fixtures/*.bin` from the samples in `csp_events::fixtures`.
//!   Deliberate on purpose: a shape change shows up in review as changed golden files, next to
//!   the `events/CHANGELOG.md` line that explains it. Tests only ever read these files.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let chore = std::env::args().nth(1);
    let result = match chore.as_deref() {
        Some("fixtures") => fixtures(),
        Some("test") => test(),
        _ => Err("usage: cargo xtask test | cargo xtask fixtures".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fixtures() -> Result<(), String> {
    let paths = csp_events::fixtures::write_all().map_err(|e| format!("fixtures: {e}"))?;
    for p in paths {
        println!("wrote {}", p.display());
    }
    println!("now add a line to events/CHANGELOG.md if a shape changed");
    Ok(())
}

fn find_nats_server() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CSP_NATS_SERVER") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn ensure_nats_server() -> Result<PathBuf, String> {
    if let Some(p) = find_nats_server() {
        return Ok(p);
    }
    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err(
            "nats-server is not installed and cannot be installed from here. \
             Install it (Debian: `sudo apt-get install nats-server`) or set CSP_NATS_SERVER to \
             its path; the end-to-end suites need it and are never skipped."
                .into(),
        );
    }
    if !apt_install("nats-server") {
        return Err("installing nats-server with apt-get failed; install it by hand".into());
    }
    find_nats_server().ok_or_else(|| "nats-server installed but not found".into())
}

/// Installs Debian's `package` (after an `apt-get update` if the first try fails).
fn apt_install(package: &str) -> bool {
    eprintln!("xtask: {package} missing; installing Debian's package");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    install()
        || (Command::new("apt-get")
            .arg("update")
            .status()
            .is_ok_and(|s| s.success())
            && install())
}

/// Whether `python3` can import `cryptography`: what the audit's independent verifier
/// (`crates/audit/verify.py`) runs on in its test.
fn has_python_cryptography() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import cryptography.hazmat.primitives.asymmetric.ed25519",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Makes sure the audit verifier's test can run: python3 with `cryptography`, installed from
/// Debian's package when missing and running as root, else a message saying how.
fn ensure_python_cryptography() -> Result<(), String> {
    if has_python_cryptography() {
        return Ok(());
    }
    let installable = is_root() && Path::new("/usr/bin/apt-get").exists();
    if installable && apt_install("python3-cryptography") && has_python_cryptography() {
        return Ok(());
    }
    Err(
        "python3 with the cryptography package is needed by the audit verifier's test \
         (Debian: `sudo apt-get install python3-cryptography`); it is never skipped."
            .into(),
    )
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: {shown}");
    let status = cmd.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn test() -> Result<(), String> {
    let nats = ensure_nats_server()?;
    eprintln!("xtask: using {}", nats.display());
    ensure_python_cryptography()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(&cargo).args(["fmt", "--all", "--", "--check"]))?;
    run_within(
        Command::new(&cargo)
            .args(["test", "--workspace", "--locked", "--no-fail-fast"])
            .env("CSP_NATS_SERVER", &nats),
        SUITE_LIMIT,
    )
}

/// The whole suite's backstop: well under CI's 90 minutes, so a hang fails here with a message
/// (and the output so far) rather than in CI's timeout with nothing.
const SUITE_LIMIT: Duration = Duration::from_secs(50 * 60);

/// Like [`run`], but kills the command's whole process group (cargo, test binaries, the
/// servers they spawned) when it outlives `limit`.
fn run_within(cmd: &mut Command, limit: Duration) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let shown = format!("{cmd:?}");
    eprintln!("xtask: {shown} (limit {} min)", limit.as_secs() / 60);
    let mut child = cmd
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{shown}: {e}"))? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("{shown} failed ({status})"))
            };
        }
        if started.elapsed() > limit {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            return Err(format!(
                "{shown} did not finish within {} min: killed (look above for the test that was still running)",
                limit.as_secs() / 60
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
