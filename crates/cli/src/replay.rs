//! `csp replay <service>`: rebuilds a service's state from its log alone — exactly as the
//! service does at start-up — and prints its summary and state digest. Equal to the digest the
//! running service showed (`csp send <service> status`) means live state is a fold of the log.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use csp_bus::runtime;
use csp_bus::Service;
use csp_eventlog::{EventLog, LogOptions};
use serde_json::Value;

use crate::registry::{self, Visit};

/// Arguments of `csp replay`.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The service whose log to replay: `ordering`, `entitlement`, `billing` or `audit`.
    service: String,
    /// The data directory: of `csp serve` (log in `<data>/log`) or of `csp up` (log in
    /// `<data>/<service>/log`). The service must be stopped: sled locks its log.
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    data: PathBuf,
    /// Print the summary as one JSON object instead of lines.
    #[arg(long)]
    json: bool,
    /// The state as of this moment (RFC 3339): the events recorded up to it.
    #[arg(long)]
    until: Option<csp_events::Timestamp>,
}

/// Where `service`'s log is under `data`, whichever of `serve`'s or `up`'s layout it has.
pub fn find_log(data: &Path, service: &str) -> anyhow::Result<PathBuf> {
    let candidates = [data.join("log"), data.join(service).join("log")];
    candidates
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .with_context(|| {
            format!(
                "no {service} log under {} (looked for {} and {})",
                data.display(),
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// The state a service's log folds to (configuration plays no part: it is never folded), as
/// its summary with the digest.
struct Summary<'a>(&'a EventLog, Option<csp_events::Timestamp>);

impl Visit for Summary<'_> {
    type Output = anyhow::Result<(u64, Value)>;
    fn visit<S: Service>(self, _: registry::Make<'_, S>) -> Self::Output {
        use std::io::IsTerminal as _;
        let total = self.0.last_seq();
        let tty = std::io::stderr().is_terminal();
        let applied = runtime::replay_until::<S>(self.0, self.1, |seq| {
            if tty {
                eprint!(
                    "\r  replaying: {seq} of {total} events ({}%)",
                    seq * 100 / total.max(1)
                );
            }
        })
        .context("replaying the log")?;
        if tty && total >= 100_000 {
            eprintln!();
        }
        Ok((applied.seq, runtime::summary::<S>(&applied.state, true)))
    }
}

/// Runs `csp replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let dir = find_log(&args.data, &args.service)?;
    let log = EventLog::open(&dir, LogOptions::default())
        .with_context(|| format!("cannot open the log at {}", dir.display()))?;
    let started = std::time::Instant::now();
    let (seq, summary) = registry::no_setup(|setup| {
        registry::visit(&args.service, setup, Summary(&log, args.until))
    })??;
    let elapsed = started.elapsed();
    if args.json {
        let out = serde_json::json!({
            "service": args.service,
            "log": dir,
            "events": seq,
            "until": args.until,
            "state": summary,
        });
        println!("{out}");
    } else {
        println!("{} replayed from {}", args.service, dir.display());
        match args.until {
            Some(t) => println!("  events up to {t}  {seq} (folded in {:.1?})", elapsed),
            None => println!("  events in the log  {seq} (folded in {:.1?})", elapsed),
        }
        if let Value::Object(fields) = &summary {
            for (k, v) in fields {
                let shown = match v {
                    Value::String(s) => s.clone(),
                    Value::Object(counts) => counts
                        .iter()
                        .map(|(k, n)| format!("{n} {k}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                println!("  {:<18} {shown}", k.replace('_', " "));
            }
        }
    }
    Ok(())
}
