//! `csp deploy streams`: the administrator's step that creates csp's JetStream streams with
//! their replicas and retention limits. Services only check that the streams exist (and create
//! a single-replica one on a development server): in a deployment their NATS users may not
//! create, update, purge or delete a stream (deploy/nats/users.conf).

use anyhow::Context as _;
use csp_bus::nats::{redacted, StreamChange};
use csp_bus::Bus;

/// `csp deploy …`.
#[derive(clap::Subcommand)]
pub enum DeployCommand {
    /// Create csp's streams (CSP_EVENTS, CSP_INBOUND, CSP_DLQ), or update them to this build's
    /// subjects, limits and replicas. Run as a NATS user that may manage streams (`admin`).
    Streams(StreamsArgs),
}

/// Arguments of `csp deploy streams`.
#[derive(clap::Args)]
pub struct StreamsArgs {
    /// The NATS server or cluster, with the administrator's user:
    /// `nats://admin:PASSWORD@127.0.0.1:4222,nats://127.0.0.1:4223`.
    #[arg(long, env = "CSP_NATS_URL")]
    nats: String,
    /// How many nodes keep each stream: 3 on the deploy/ cluster, 1 on a single node.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    replicas: u8,
}

/// Runs `csp deploy …`.
pub fn run(which: DeployCommand) -> anyhow::Result<()> {
    let DeployCommand::Streams(args) = which;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let where_ = redacted(&args.nats);
        let bus = Bus::connect(&args.nats)
            .await
            .with_context(|| format!("connecting to NATS at {where_}"))?;
        let Bus::Nats(nats) = &bus else {
            anyhow::bail!("not a NATS connection");
        };
        let changes = nats
            .deploy_streams(usize::from(args.replicas))
            .await
            .context("deploying the streams (is this user allowed to manage streams?)")?;
        for (stream, change) in changes {
            let what = match change {
                StreamChange::Created => "created",
                StreamChange::Updated => "updated",
                StreamChange::Unchanged => "unchanged",
            };
            println!("{stream}: {what} ({} replicas)", args.replicas);
        }
        Ok(())
    })
}
