//! `csp log`: print a service's event log, decoded, as text or JSON lines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use csp_eventlog::{EventLog, LogOptions, Record};
use csp_events::{codec, Envelope};

/// Arguments of `csp log`.
#[derive(clap::Args)]
pub struct LogArgs {
    /// The log's directory (a service's `--data` directory holds it).
    dir: Option<PathBuf>,
    /// Start at this sequence number.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Only this stream, in version order (e.g. `subscription/<id>`).
    #[arg(long)]
    stream: Option<String>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Check the log's integrity (gap-free, every index entry matched) after printing.
    #[arg(long)]
    verify: bool,
    /// Write a small sample log first (into DIR, or a new temporary directory), then print it.
    #[arg(long)]
    sample: bool,
}

/// Runs `csp log`.
pub fn run(args: LogArgs) -> anyhow::Result<()> {
    let dir = match (&args.dir, args.sample) {
        (Some(d), _) => d.clone(),
        (None, true) => crate::fresh_dir("csp-sample-log")?,
        (None, false) => bail!("give the log's directory, or --sample to make one"),
    };
    if !args.sample && !dir.exists() {
        bail!("no log at {}", dir.display());
    }
    let log = EventLog::open(&dir, LogOptions::default())
        .with_context(|| format!("cannot open the log at {}", dir.display()))?;
    if args.sample {
        let n = crate::sample::write(&log)?;
        eprintln!("wrote a sample log of {n} events to {}", dir.display());
    }
    let records = match &args.stream {
        Some(s) => log.read_stream(s),
        None => log.read_from(args.from),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0u64;
    for record in records {
        let record = record.context("reading the log")?;
        if record.seq < args.from {
            continue;
        }
        print_record(&mut out, &record, args.json)?;
        count += 1;
    }
    out.flush()?;
    drop(out);
    if !args.json {
        eprintln!(
            "{count} events; log epoch {}, last seq {}, last outbox seq {}",
            log.epoch(),
            log.last_seq(),
            log.last_outbox_seq()
        );
    }
    if args.verify {
        let report = log.verify().context("verifying the log")?;
        if !report.is_clean() {
            bail!("the log is damaged: {report:?}");
        }
        eprintln!("verified: {report:?}");
    }
    Ok(())
}

fn print_record(out: &mut impl Write, record: &Record, json: bool) -> anyhow::Result<()> {
    match codec::decode(record.bytes()) {
        Ok(env) if json => {
            let line = serde_json::json!({
                "seq": record.seq,
                "outbox_seq": record.outbox_seq,
                "envelope": env,
            });
            writeln!(out, "{line}")?;
        }
        Ok(env) => writeln!(out, "{}", text(record, &env))?,
        Err(e) if json => {
            let line = serde_json::json!({
                "seq": record.seq,
                "event_id": record.event_id,
                "stream": record.stream(),
                "undecodable": e.to_string(),
            });
            writeln!(out, "{line}")?;
        }
        Err(e) => writeln!(
            out,
            "#{:<6} {}@{} {} UNDECODABLE: {e}",
            record.seq,
            record.stream(),
            record.version,
            record.event_id
        )?,
    }
    Ok(())
}

fn text(record: &Record, env: &Envelope) -> String {
    let outbox = record
        .outbox_seq
        .map_or_else(String::new, |o| format!(" out#{o}"));
    format!(
        "#{:<6}{outbox} {} {}@{} effective {} by {} ({:?})\n        {:?}",
        record.seq,
        env.payload.name(),
        env.stream,
        env.stream_version,
        env.effective_at,
        env.actor.user,
        env.actor.roles,
        env.payload
    )
}

/// Runs `csp restored`: a new epoch for a log restored from a backup.
pub fn restored(dir: &std::path::Path) -> anyhow::Result<()> {
    if !dir.exists() {
        bail!("no log at {}", dir.display());
    }
    let before = EventLog::open(dir, LogOptions::default())
        .with_context(|| format!("cannot open the log at {}", dir.display()))?
        .epoch();
    let log = EventLog::open_restored(dir, LogOptions::default())
        .with_context(|| format!("cannot open the log at {}", dir.display()))?;
    println!(
        "{}: epoch {} -> {} (last seq {}, last outbox seq {})",
        dir.display(),
        before,
        log.epoch(),
        log.last_seq(),
        log.last_outbox_seq()
    );
    Ok(())
}
