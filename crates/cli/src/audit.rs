//! `csp audit`: what operators and auditors do with the audit log.
//!
//! - `verify`: a stopped audit service's log, read record by record from sled, the tree
//!   recomputed from its leaves and held against its signed checkpoints (by a public key given
//!   separately), a checkpoint kept outside csp, and every producer's own log beside it.
//! - `activity`: a partner's activity log over NATS (A2–A5), as a table or as CSV.
//! - `checkpoint`: the latest signed checkpoint over NATS, to keep outside csp.
//! - `public-key`: the public half of the checkpoint key, for auditors to pin.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csp_audit::verify::Verification;
use csp_eventlog::{EventLog, LogOptions};
use csp_events::audit::{ActivityPage, ActivityRecord, GetActivity, GetCheckpoint, VerifyReport};
use csp_events::{ActorKind, Role, TenantId, Timestamp};

use crate::send::{Client, Reach};
use crate::serve::AuditArgs;

/// `csp audit …`.
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Verify a stopped audit service's log (exit 0 if it holds, 1 naming the first broken
    /// leaf otherwise); with `--checkpoint`, whether it is still consistent with a checkpoint
    /// kept outside csp.
    Verify(VerifyArgs),
    /// A partner's activity log: key views, downloads, link copies, refused attempts, in a
    /// range (from inclusive, to exclusive, UTC).
    Activity(ActivityArgs),
    /// The latest signed checkpoint of a running system (its text: keep it outside csp).
    Checkpoint(CheckpointArgs),
    /// The checkpoint key's public half (base64), for auditors to pin.
    PublicKey(PublicKeyArgs),
}

/// Arguments of `csp audit verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The installation's data directory: the audit log is `<data>/audit/log`, and each
    /// producer's log found at `<data>/<producer>/log` is checked against it.
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    data: PathBuf,
    /// The audit log directory, if not `<data>/audit/log`.
    #[arg(long)]
    log: Option<PathBuf>,
    /// The checkpoint public key (base64) the checkpoints must be signed with: pinned,
    /// never read from the log. Default: derived from the key file (`--audit-key`).
    #[arg(long)]
    public_key: Option<String>,
    /// A checkpoint kept outside csp (its text, in a file): is the log still consistent with it?
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    audit: AuditArgs,
}

/// Arguments of `csp audit activity`.
#[derive(clap::Args)]
pub struct ActivityArgs {
    /// The partner.
    #[arg(long)]
    partner: TenantId,
    /// From (RFC 3339, inclusive).
    #[arg(long)]
    from: Timestamp,
    /// To (RFC 3339, exclusive).
    #[arg(long)]
    to: Timestamp,
    /// Print CSV instead of a table.
    #[arg(long)]
    csv: bool,
    /// Read the stopped audit service's log under `--data` instead of asking a running system:
    /// the log folded as `csp replay audit` folds it, the records selected by the very query
    /// code the service answers with. No token: whoever reads the disk reads it all.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    reach: Reach,
    /// How long to wait for each reply, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// Arguments of `csp audit checkpoint`.
#[derive(clap::Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    reach: Reach,
    /// How long to wait for the reply, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// Arguments of `csp audit public-key`.
#[derive(clap::Args)]
pub struct PublicKeyArgs {
    /// The installation's data directory (the key lives beside it).
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    data: PathBuf,
    #[command(flatten)]
    audit: AuditArgs,
}

/// Runs `csp audit …`.
pub fn run(which: AuditCommand) -> anyhow::Result<()> {
    match which {
        AuditCommand::Verify(args) => {
            let report = verify(&args)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render_report(&report));
            }
            if !report.ok {
                let first =
                    report.findings.first().cloned().unwrap_or_else(|| {
                        "the log is not consistent with the kept checkpoint".into()
                    });
                anyhow::bail!("the audit log does not verify: {first}");
            }
            Ok(())
        }
        AuditCommand::Activity(args) => activity(args),
        AuditCommand::Checkpoint(args) => {
            let token = args.reach.bearer(
                ActorKind::Platform,
                TenantId(uuid::Uuid::nil()),
                &[Role::Operator],
            )?;
            let text = block_on(async {
                let client = Client::new(
                    args.reach.connect().await?,
                    Duration::from_secs(args.timeout),
                );
                let cp = client
                    .query(
                        csp_events::audit::SERVICE,
                        &token,
                        &GetCheckpoint::default(),
                    )
                    .await?;
                anyhow::Ok(cp.text)
            })?;
            print!("{text}");
            Ok(())
        }
        AuditCommand::PublicKey(args) => {
            let key = crate::serve::audit_key(&args.audit, &args.data)?;
            println!("{}", B64.encode(key.public().as_bytes()));
            Ok(())
        }
    }
}

fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(f)
}

/// The pinned public key: given, or the key file's.
fn pinned(args: &VerifyArgs) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    match &args.public_key {
        Some(b64) => {
            let bytes: [u8; 32] = B64
                .decode(b64.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .context("--public-key is not base64 of 32 bytes")?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .context("--public-key is not an Ed25519 public key")
        }
        None => {
            // Verifying never makes a key: a fresh one would only "find" every checkpoint
            // forged. Without --public-key, the key file must be the one the service signed with.
            let path = args
                .audit
                .audit_key
                .clone()
                .unwrap_or_else(|| crate::serve::default_audit_key(&args.data));
            anyhow::ensure!(
                path.is_file(),
                "no checkpoint key at {}: give --public-key (the key auditors pinned) or --audit-key",
                path.display()
            );
            Ok(crate::serve::audit_key(&args.audit, &args.data)?.public())
        }
    }
}

fn open(dir: &Path) -> anyhow::Result<EventLog> {
    EventLog::open(dir, LogOptions::default()).with_context(|| {
        format!(
            "opening the log at {} (it must not be open in a running service)",
            dir.display()
        )
    })
}

/// Verifies the audit log of `args`, offline.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<VerifyReport> {
    let kept = match &args.checkpoint {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the kept checkpoint {}", path.display()))?,
        ),
        None => None,
    };
    verify_log(
        &args.data,
        args.log.as_deref(),
        &args.audit.audit_origin,
        pinned(args)?,
        kept.as_deref(),
    )
}

/// Verifies the stopped audit log of the installation in `data` (or the one in `log`),
/// whose checkpoints `pinned` signed as `origin`, against each producer's log found in
/// `data` and, if given, a checkpoint kept outside csp.
pub fn verify_log(
    data: &Path,
    log: Option<&Path>,
    origin: &str,
    pinned: ed25519_dalek::VerifyingKey,
    kept: Option<&str>,
) -> anyhow::Result<VerifyReport> {
    let dir = log.map_or_else(
        || data.join(csp_audit::service::SERVICE).join("log"),
        Path::to_path_buf,
    );
    anyhow::ensure!(dir.exists(), "no audit log at {}", dir.display());
    let log = open(&dir)?;
    let mut v = Verification::new(origin, pinned);
    let mut leaves: Vec<Vec<u8>> = Vec::new();
    for record in log.read_from(1) {
        let expected = v.len() + 1;
        match record {
            Ok(r) => {
                if r.seq > expected {
                    v.missing(expected - 1, r.seq - 1);
                    leaves.resize(usize::try_from(r.seq - 1).unwrap_or(usize::MAX), Vec::new());
                }
                let producer = r
                    .stream()
                    .strip_prefix("inbox/")
                    .unwrap_or(csp_audit::state::OWN);
                v.leaf(r.bytes(), producer);
                leaves.push(r.bytes().to_vec());
            }
            Err(e) => {
                v.unreadable(expected - 1, &e.to_string());
                leaves.push(Vec::new());
            }
        }
    }
    drop(log);
    for producer in [
        csp_events::ordering::SERVICE,
        csp_events::entitlement::SERVICE,
        csp_events::billing::SERVICE,
    ] {
        let pdir = data.join(producer).join("log");
        if !pdir.exists() {
            continue;
        }
        let plog = open(&pdir)?;
        let stored: Vec<(u64, Vec<u8>)> = plog
            .read_outbox_from(1)
            .filter_map(Result::ok)
            .filter_map(|r| Some((r.outbox_seq?, r.bytes().to_vec())))
            .collect();
        v.producer(producer, plog.epochs(), stored, |i| {
            leaves.get(usize::try_from(i).ok()?).map(Vec::as_slice)
        });
    }
    Ok(v.finish(kept).0)
}

fn render_report(r: &VerifyReport) -> String {
    let mut out = format!(
        "{} leaves, root {}, {} signed checkpoints checked\n",
        r.leaves, r.root, r.checkpoints
    );
    if let Some(c) = r.consistent_with_checkpoint {
        out.push_str(&format!(
            "kept checkpoint: {}\n",
            if c { "consistent" } else { "NOT consistent" }
        ));
    }
    for f in &r.findings {
        out.push_str(&format!("- {f}\n"));
    }
    out.push_str(match (r.ok, r.first_bad_index) {
        (true, _) => "the audit log holds\n",
        (false, Some(_)) => "the audit log is broken\n",
        (false, None) => "the audit log is broken\n",
    });
    if let Some(i) = r.first_bad_index {
        out.push_str(&format!("first bad leaf: {i}\n"));
    }
    out
}

/// Runs `csp audit activity`.
fn activity(args: ActivityArgs) -> anyhow::Result<()> {
    let records = if args.offline {
        offline_activity(&args.reach.data, args.partner, args.from, args.to)?
    } else {
        let token = args
            .reach
            .bearer(ActorKind::Partner, args.partner, &[Role::GlobalAdmin])?;
        block_on(async {
            let client = Client::new(
                args.reach.connect().await?,
                Duration::from_secs(args.timeout),
            );
            all_activity(&client, &token, args.partner, args.from, args.to).await
        })?
    };
    if args.csv {
        print!("{}", activity_csv(&records)?);
    } else {
        print!("{}", activity_table(&records));
    }
    Ok(())
}

/// The first page of `partner`'s activity in the range, then each following one.
fn activity_query(
    partner: TenantId,
    from: Timestamp,
    to: Timestamp,
    after: Option<String>,
) -> GetActivity {
    GetActivity {
        partner: Some(partner),
        from,
        to,
        after,
        limit: Some(1000),
    }
}

/// Every record of `partner`'s activity log in the range, from a running system, every page
/// joined.
pub(crate) async fn all_activity(
    client: &Client,
    token: &str,
    partner: TenantId,
    from: Timestamp,
    to: Timestamp,
) -> anyhow::Result<Vec<ActivityRecord>> {
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let page: ActivityPage = client
            .query(
                csp_events::audit::SERVICE,
                token,
                &activity_query(partner, from, to, after.take()),
            )
            .await?;
        records.extend(page.records);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(records),
        }
    }
}

/// The same from the stopped audit service's log under `data`, as `partner`'s global admin.
fn offline_activity(
    data: &Path,
    partner: TenantId,
    from: Timestamp,
    to: Timestamp,
) -> anyhow::Result<Vec<ActivityRecord>> {
    use csp_audit::service::AuditService;
    let dir = crate::replay::find_log(data, csp_events::audit::SERVICE)?;
    let log = open(&dir)?;
    let applied = csp_bus::runtime::replay::<AuditService>(&log).context("replaying")?;
    // Reading the log signs nothing: a key of the moment stands in for the checkpoint key.
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let config = csp_audit::config::Config::new(
        csp_audit::checkpoint::CheckpointKey::from_seed("offline", &seed),
        Duration::from_secs(3600),
    );
    let actor = csp_events::Actor {
        kind: ActorKind::Partner,
        tenant: partner,
        user: "csp-audit-activity-offline".into(),
        roles: vec![Role::GlobalAdmin],
    };
    let now = Timestamp::from_micros(chrono::Utc::now().timestamp_micros());
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let body = serde_json::to_vec(&activity_query(partner, from, to, after.take()))?;
        let page = csp_bus::runtime::ask_offline::<AuditService>(
            &applied.state,
            &config,
            "get_activity",
            &body,
            actor.clone(),
            now,
        )
        .map_err(|e| anyhow::anyhow!("get_activity: {}", e.message))?;
        let page: ActivityPage =
            serde_json::from_value(page).context("the answer is not audit's")?;
        records.extend(page.records);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(records),
        }
    }
}

fn action(r: &ActivityRecord) -> &'static str {
    match r.action {
        csp_events::audit::Activity::ViewKey => "view key",
        csp_events::audit::Activity::Download => "download",
        csp_events::audit::Activity::CopyLink => "copy link",
    }
}

fn roles(r: &ActivityRecord) -> String {
    r.by.roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The activity log as a table.
pub(crate) fn activity_table(records: &[ActivityRecord]) -> String {
    let users: Vec<String> = records
        .iter()
        .map(|r| format!("{} ({})", r.by.user, roles(r)))
        .collect();
    let width = users.iter().map(String::len).max().unwrap_or(0).max(12);
    let mut out = format!(
        "{:<21} {:<36} {:<10} {:<8} {:<width$} {}\n",
        "when (UTC)", "customer", "action", "refused", "user (roles)", "product"
    );
    for (r, user) in records.iter().zip(users) {
        out.push_str(&format!(
            "{:<21} {:<36} {:<10} {:<8} {:<width$} {}\n",
            r.at.to_string(),
            r.customer.map_or("-".to_string(), |c| c.to_string()),
            action(r),
            if r.refused { "REFUSED" } else { "" },
            user,
            r.product_name
                .clone()
                .or_else(|| r.item.clone())
                .unwrap_or_else(|| "-".into()),
        ));
    }
    out.push_str(&format!("{} records\n", records.len()));
    out
}

/// The activity log as CSV; a cell a spreadsheet would run as a formula is neutralised.
pub(crate) fn activity_csv(records: &[ActivityRecord]) -> anyhow::Result<String> {
    let cell = |s: String| csp_billing::reconciliation::neutral(s);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "DateTime",
        "CustomerId",
        "Action",
        "Refused",
        "User",
        "UserTenant",
        "Roles",
        "ProductId",
        "ProductName",
        "Item",
        "EventId",
    ])?;
    for r in records {
        w.write_record([
            r.at.to_string(),
            r.customer.map(|c| c.to_string()).unwrap_or_default(),
            action(r).to_string(),
            r.refused.to_string(),
            cell(r.by.user.clone()),
            r.by.tenant.to_string(),
            roles(r),
            cell(r.product.clone().unwrap_or_default()),
            cell(r.product_name.clone().unwrap_or_default()),
            cell(r.item.clone().unwrap_or_default()),
            r.event.to_string(),
        ])?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use csp_events::audit::Activity;
    use csp_events::{Actor, EventId};

    /// RULES.md A2: the CSV export lists each record; a cell a spreadsheet would run as a
    /// formula (a user name chosen by whoever named the account) is neutralised.
    #[test]
    fn rule_a2_the_activity_csv_neutralises_formula_cells() {
        let record = ActivityRecord {
            at: "2026-12-01T09:00:00Z".parse().unwrap(),
            customer: None,
            action: Activity::CopyLink,
            refused: true,
            by: Actor {
                kind: ActorKind::Partner,
                tenant: TenantId(uuid::Uuid::nil()),
                user: "=HYPERLINK(\"http://x\")".into(),
                roles: vec![Role::SalesAgent],
            },
            product: Some("+sum(A1)".into()),
            product_name: None,
            item: Some("entitlement 1".into()),
            event: EventId(uuid::Uuid::nil()),
        };
        let csv = activity_csv(&[record]).unwrap();
        let mut rows = csv::Reader::from_reader(csv.as_bytes());
        let row = rows.records().next().unwrap().unwrap();
        assert_eq!(&row[2], "copy link");
        assert_eq!(&row[3], "true");
        assert!(!row[4].starts_with('='), "{csv}");
        assert!(!row[7].starts_with('+'), "{csv}");
        assert!(row[4].contains("HYPERLINK"), "the text is kept: {csv}");
    }
}
