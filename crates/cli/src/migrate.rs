//! `csp migrate`: a customer's VL→CSP migration (K9) as the partner's agent runs it — import
//! the device list (each device's last KMS activation), read the plan (each device's deadline,
//! 180 days after that activation, and its state at the moment asked: `ok`, `due_soon` with 30
//! days or less, `overdue`, `completed`), record a MAK deployed on a device. Over NATS, as
//! someone who may see the customer's keys (the partner's `admin_agent` by default).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use csp_events::entitlement::{
    DeviceState, DeviceView, GetMigrationPlan, ImportDevices, MigrationPlan, RecordMakDeployment,
};
use csp_events::{ActorKind, CustomerRef, RequestId, Role, TenantId};

use crate::send::{error_line, Client, Reach};

/// `csp migrate …`.
#[derive(clap::Subcommand)]
pub enum MigrateCommand {
    /// Import a customer's device list: CSV with the header `device,last_kms_activation`
    /// (RFC 3339, UTC). A bad line refuses the whole file, naming it.
    Import(ImportArgs),
    /// The customer's migration plan: every device, its deadline and its state now.
    Plan(PlanArgs),
    /// Record that a MAK was deployed on a device, which completes its migration.
    Deployed(DeployedArgs),
}

/// Who asks, about which customer.
#[derive(clap::Args)]
pub struct Whose {
    /// The selling partner (the token is minted for its `admin_agent` unless `--token`).
    #[arg(long)]
    partner: TenantId,
    /// The customer: tenant id or domain name.
    #[arg(long)]
    customer: String,
    #[command(flatten)]
    reach: Reach,
    /// How long to wait for the reply, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// Arguments of `csp migrate import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    whose: Whose,
    /// The device list.
    #[arg(long)]
    file: PathBuf,
    /// The idempotency key. Default: derived from the file's content, so importing the same
    /// file twice records it once.
    #[arg(long)]
    request_id: Option<String>,
}

/// Arguments of `csp migrate plan`.
#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    whose: Whose,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `csp migrate deployed`.
#[derive(clap::Args)]
pub struct DeployedArgs {
    #[command(flatten)]
    whose: Whose,
    /// The device, as its list named it.
    #[arg(long)]
    device: String,
}

impl Whose {
    fn customer(&self) -> anyhow::Result<CustomerRef> {
        serde_json::from_value(serde_json::Value::String(self.customer.clone()))
            .with_context(|| format!("--customer {:?}", self.customer))
    }

    /// Sends `body` to entitlement's `name` endpoint (`kind`: cmd or qry); its `result`.
    fn ask<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        name: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<T> {
        let token = self
            .reach
            .bearer(ActorKind::Partner, self.partner, &[Role::AdminAgent])?;
        let subject = match kind {
            "cmd" => csp_events::subject::command(csp_events::entitlement::SERVICE, name),
            _ => csp_events::subject::query(csp_events::entitlement::SERVICE, name),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        rt.block_on(async {
            let bus = self.reach.connect().await?;
            let client = Client::new(bus, Duration::from_secs(self.timeout));
            let reply = client.request(&subject, &token, &body).await?;
            if let Some(line) = error_line(&reply) {
                anyhow::bail!("{name}: {line}");
            }
            serde_json::from_value(reply["result"].clone())
                .with_context(|| format!("the reply to {name} is not what entitlement answers"))
        })
    }
}

/// Runs `csp migrate …`.
pub fn run(which: MigrateCommand) -> anyhow::Result<()> {
    match which {
        MigrateCommand::Import(args) => {
            let csv = std::fs::read_to_string(&args.file)
                .with_context(|| format!("reading {}", args.file.display()))?;
            let request_id = match args.request_id {
                Some(id) => id,
                None => format!(
                    "devices-{}",
                    content_id(&format!("{}\n{csv}", args.whose.customer))
                ),
            };
            let body = ImportDevices {
                request_id: RequestId::new(request_id).map_err(anyhow::Error::msg)?,
                customer: args.whose.customer()?,
                csv,
            };
            let accepted: csp_events::entitlement::DevicesAccepted =
                args.whose
                    .ask("cmd", "import_devices", serde_json::to_value(body)?)?;
            println!(
                "{} devices imported (import {})",
                accepted.devices, accepted.import
            );
        }
        MigrateCommand::Plan(args) => {
            let body = GetMigrationPlan {
                customer: args.whose.customer()?,
            };
            let plan: MigrationPlan =
                args.whose
                    .ask("qry", "get_migration_plan", serde_json::to_value(body)?)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", plan_table(&plan));
            }
        }
        MigrateCommand::Deployed(args) => {
            let body = RecordMakDeployment {
                request_id: RequestId::new(format!(
                    "mak-{}",
                    content_id(&format!("{}\n{}", args.whose.customer, args.device))
                ))
                .map_err(anyhow::Error::msg)?,
                customer: args.whose.customer()?,
                device: args.device.clone(),
            };
            let device: DeviceView =
                args.whose
                    .ask("cmd", "record_mak_deployment", serde_json::to_value(body)?)?;
            println!("{}: {}", device.device, state_name(device.state));
        }
    }
    Ok(())
}

/// A short stable id of `text`, so that the same file or device sent twice is one request.
fn content_id(text: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes())
        .simple()
        .to_string()
}

fn state_name(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Ok => "ok",
        DeviceState::DueSoon => "due_soon",
        DeviceState::Overdue => "overdue",
        DeviceState::Completed => "completed",
    }
}

/// The plan as a table: device, last KMS activation, deadline, days left, state.
fn plan_table(plan: &MigrationPlan) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "migration plan of customer {} as of {}",
        plan.customer, plan.as_of
    );
    let _ = writeln!(
        out,
        "{:<24} {:<22} {:<22} {:>9}  state",
        "device", "last KMS activation", "deadline", "days left"
    );
    for d in &plan.devices {
        let left = (d.deadline.as_micros() - plan.as_of.as_micros()).div_euclid(86_400_000_000);
        let left = match d.state {
            DeviceState::Completed => "-".to_string(),
            _ => left.to_string(),
        };
        let _ = writeln!(
            out,
            "{:<24} {:<22} {:<22} {:>9}  {}{}",
            d.device,
            d.last_kms_activation.to_string(),
            d.deadline.to_string(),
            left,
            state_name(d.state),
            d.mak_deployed_at
                .map(|t| format!(" (MAK deployed {t})"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out, "{} devices", plan.devices.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use csp_events::Timestamp;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// K9 as the operator reads it: deadlines, days left and states in columns.
    #[test]
    fn rule_k9_the_plan_table_shows_deadline_days_left_and_state() {
        let plan = MigrationPlan {
            customer: TenantId(uuid::Uuid::nil()),
            as_of: at("2026-06-01T00:00:00Z"),
            devices: vec![
                DeviceView {
                    device: "srv-01".into(),
                    last_kms_activation: at("2026-01-01T00:00:00Z"),
                    deadline: at("2026-06-30T00:00:00Z"),
                    state: DeviceState::DueSoon,
                    mak_deployed_at: None,
                },
                DeviceView {
                    device: "srv-02".into(),
                    last_kms_activation: at("2025-10-01T00:00:00Z"),
                    deadline: at("2026-03-30T00:00:00Z"),
                    state: DeviceState::Completed,
                    mak_deployed_at: Some(at("2026-03-01T00:00:00Z")),
                },
            ],
        };
        let table = plan_table(&plan);
        let srv01 = table.lines().find(|l| l.starts_with("srv-01")).unwrap();
        assert!(srv01.contains("29  due_soon"), "{table}");
        let srv02 = table.lines().find(|l| l.starts_with("srv-02")).unwrap();
        assert!(srv02.contains("-  completed (MAK deployed"), "{table}");
        assert!(table.ends_with("2 devices\n"));
        assert_eq!(content_id("a"), content_id("a"));
        assert_ne!(content_id("a"), content_id("b"));
    }
}
