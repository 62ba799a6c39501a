//! `csp`: the one binary of csp. Services are served with it, operators inspect logs and mint
//! development tokens with it, benchmarks run from it.
//!
//! `anyhow` lives here and only here: crates below return typed errors, and this edge turns them
//! into one-line reasons and a non-zero exit.

mod audit;
mod bench;
mod catalog_cmd;
mod demo;
mod deploy;
mod invoice;
mod keys;
mod log_cmd;
mod migrate;
mod registry;
mod replay;
mod sample;
mod send;
mod serve;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// csp: the Cloud Solution Provider backend.
#[derive(Parser)]
#[command(name = "csp", version, about, propagate_version = true)]
struct Cli {
    /// How log lines are written to stderr: `text` for people, `json` (one object per line:
    /// time, level, target, fields) for a log collector.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CSP_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// The two ways log lines are written.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process: the in-process bus and `./csp-data` by default,
    /// `--nats URL` to serve clients over NATS. Stops on SIGINT or SIGTERM.
    Up(serve::UpArgs),
    /// A narrated story on a manual clock: customers, orders, cancellations inside and after
    /// their windows, a backfill, a renewal. Embedded by default; `--nats URL` against a
    /// running system started with `--manual-clock`.
    Demo(demo::DemoArgs),
    /// Send one command or query to a running system and print the reply; exits non-zero on
    /// an error reply.
    Send(send::SendArgs),
    /// One partner's invoice for one month from a running system: the table, or the
    /// reconciliation CSV (`--csv`); the preview while the month is open.
    Invoice(invoice::InvoiceArgs),
    /// Rebuild a service's state from its log and print its summary and state digest.
    Replay(replay::ReplayArgs),
    /// Print an event log, decoded: the operator's first tool.
    ///
    /// The log must not be open in a running service (sled locks it); stop the service or use
    /// its query API.
    Log(log_cmd::LogArgs),
    /// Mark a log just restored from a backup: give it a new epoch, so consumers never take its
    /// reused sequence numbers for events they already hold. Run once, before starting the
    /// service on it.
    Restored {
        /// The restored log's directory (`<data>/log`).
        dir: std::path::PathBuf,
    },
    /// Run one service in this process, on NATS, until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Mint a token from the development (or internal) issuer.
    Token(token::TokenArgs),
    /// Product keys: import a key file (sealed, in chunks), generate one for a demo, rotate
    /// the master key of a stopped entitlement service.
    Keys {
        #[command(subcommand)]
        which: keys::KeysCommand,
    },
    /// The audit log: verify a stopped service's log, read a partner's activity log, keep a
    /// checkpoint, print the public key auditors pin.
    Audit {
        #[command(subcommand)]
        which: audit::AuditCommand,
    },
    /// The product catalog as the services load it: products, SKUs, terms, plans, prices,
    /// downloads, policies.
    Catalog {
        #[command(subcommand)]
        which: catalog_cmd::CatalogCommand,
    },
    /// A customer's VL→CSP migration (K9): import its device list, read the plan (each
    /// device's deadline and state now), record a MAK deployed on a device.
    Migrate {
        #[command(subcommand)]
        which: migrate::MigrateCommand,
    },
    /// Deployment steps an administrator runs once per installation (and after an upgrade
    /// that says so): the JetStream streams.
    Deploy {
        #[command(subcommand)]
        which: deploy::DeployCommand,
    },
    /// Run a benchmark and print figures beside a ceiling measured in the same run.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The sled event log: durable batch append, 64-task single appends, 1M-event replay.
    Eventlog(bench::eventlog::Args),
    /// Events between services over NATS: producer log to consumer log, vs raw JetStream.
    Bus(bench::bus::Args),
    /// The ordering service: place_order over NATS from concurrent clients, beside the bare
    /// event log (ceiling) and a query over the same path (floor).
    Ordering(bench::ordering::Args),
    /// The entitlement service: recorded key views (get_key) over NATS from concurrent
    /// clients, beside the bare event log (ceiling).
    Entitlement(bench::entitlement::Args),
    /// The billing service: ordering's events folded into invoices, beside the raw replay of
    /// the same log; a 100,000-line month rendered as the reconciliation CSV.
    Billing(bench::billing::Args),
    /// Rule C1: the four services as separate processes on NATS; the time from a cancel reply
    /// to the key refused, the refund on the invoice preview and the cancellation in the audit
    /// log, each polled every few milliseconds, over many cancellations.
    Consistency(bench::consistency::Args),
    /// The audit service: ordering's events appended to audit's tree, durable, beside raw
    /// JetStream (ceiling); inclusion proofs over a 1M-leaf tree.
    Audit(bench::audit::Args),
}

/// Runs the `csp` command line.
pub fn main() -> ExitCode {
    // A reader that stops early (`csp log | head`) ends the program quietly, as for any Unix
    // tool, instead of a panic on the next write: Rust ignores SIGPIPE by default.
    // SAFETY: called once, first, before any thread exists; restores the default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // Running services say what they do (start-up, replay, readiness); tools stay quiet unless
    // something is wrong. RUST_LOG overrides either.
    let default_level = match cli.command {
        Command::Up(_) | Command::Serve(_) => "info",
        // The demo trusts the development issuer on purpose: no warning about it; a real
        // problem fails the story anyway.
        Command::Demo(_) => "error",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let result = match cli.command {
        Command::Up(args) => serve::up(args),
        Command::Demo(args) => demo::run(args),
        Command::Send(args) => send::run(args),
        Command::Invoice(args) => invoice::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Log(args) => log_cmd::run(args),
        Command::Restored { dir } => log_cmd::restored(&dir),
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
        Command::Keys { which } => keys::run(which),
        Command::Audit { which } => audit::run(which),
        Command::Catalog { which } => catalog_cmd::run(which),
        Command::Deploy { which } => deploy::run(which),
        Command::Migrate { which } => migrate::run(which),
        Command::Bench {
            which: BenchCommand::Eventlog(args),
        } => bench::eventlog::run(args),
        Command::Bench {
            which: BenchCommand::Bus(args),
        } => bench::bus::run(args),
        Command::Bench {
            which: BenchCommand::Ordering(args),
        } => bench::ordering::run(args),
        Command::Bench {
            which: BenchCommand::Entitlement(args),
        } => bench::entitlement::run(args),
        Command::Bench {
            which: BenchCommand::Billing(args),
        } => bench::billing::run(args),
        Command::Bench {
            which: BenchCommand::Audit(args),
        } => bench::audit::run(args),
        Command::Bench {
            which: BenchCommand::Consistency(args),
        } => bench::consistency::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the reason and its causes, as an operator reads them.
            eprintln!("csp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A fresh directory under the system temp dir, for commands that make their own data.
pub(crate) fn fresh_dir(prefix: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
