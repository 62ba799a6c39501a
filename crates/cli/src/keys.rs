//! `csp keys`: the product-key verbs of a platform importer and an operator.
//!
//! - `import`: seals a key file to the running entitlement service's import key and sends it in
//!   chunks — plaintext keys never travel on the bus. A bad line anywhere refuses the whole
//!   file, naming the line; nothing is half-imported.
//! - `generate`: writes a file of fresh random MAKs (mode 0600) for the demo and tests.
//! - `rotate-master`: rotates a stopped entitlement service's master key, offline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use csp_events::entitlement::PoolRef;
use csp_events::market::{ProductId, SkuId};
use csp_events::{subject, ActorKind, ImportId, Role, TenantId};
use serde_json::{json, Value};

use crate::send::{error_line, Client};

/// `csp keys` verbs.
#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Import a key file (CSV: `product,sku,version,type,key`, MAK only) into the pools of a
    /// running entitlement service, sealed to its import key.
    Import(ImportArgs),
    /// Write a key file of fresh random MAKs (mode 0600): for demos and tests, never
    /// production.
    Generate(GenerateArgs),
    /// Rotate a stopped entitlement service's master key: every live entry re-wrapped under a
    /// new key, durable before the old key file is replaced.
    RotateMaster(RotateArgs),
}

/// Arguments of `csp keys import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The key file.
    #[arg(long)]
    file: PathBuf,
    #[command(flatten)]
    reach: crate::send::Reach,
}

/// Arguments of `csp keys generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// A pool and how many keys: `product/sku/version=count` (repeatable), e.g.
    /// `sql-server-2022-standard/2-core-p1y/SQL Server 2022=20`.
    #[arg(long = "pool", required = true)]
    pools: Vec<String>,
    /// Where to write the file (created with mode 0600; refused if it exists).
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `csp keys rotate-master`.
#[derive(clap::Args)]
pub struct RotateArgs {
    /// The data directory: of `csp serve entitlement` (keyring in `<data>/keyring`) or of
    /// `csp up` (`<data>/entitlement/keyring`). The service must be stopped.
    #[arg(long, env = "CSP_DATA", default_value = "./csp-data")]
    data: PathBuf,
    /// The master key file. Default: `<data>.secrets/master.key`.
    #[arg(long, env = "CSP_MASTER_KEY_FILE")]
    master_key: Option<PathBuf>,
}

/// Runs `csp keys`.
pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Import(a) => import(a),
        KeysCommand::Generate(a) => generate(a),
        KeysCommand::RotateMaster(a) => rotate(a),
    }
}

fn parse_pool(spec: &str) -> anyhow::Result<(PoolRef, usize)> {
    let (pool, count) = spec
        .rsplit_once('=')
        .with_context(|| format!("{spec:?}: expected product/sku/version=count"))?;
    let mut parts = pool.splitn(3, '/');
    let (Some(product), Some(sku), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("{spec:?}: expected product/sku/version=count");
    };
    let count: usize = count
        .parse()
        .with_context(|| format!("{spec:?}: the count is not a number"))?;
    Ok((
        PoolRef {
            product: ProductId::new(product).map_err(anyhow::Error::msg)?,
            sku: SkuId::new(sku).map_err(anyhow::Error::msg)?,
            version: version.to_string(),
        },
        count,
    ))
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let pools: Vec<(PoolRef, usize)> = args
        .pools
        .iter()
        .map(|p| parse_pool(p))
        .collect::<anyhow::Result<_>>()?;
    let refs: Vec<(&PoolRef, usize)> = pools.iter().map(|(p, n)| (p, *n)).collect();
    let text = csp_entitlement::import::generate(&refs).context("no randomness from the OS")?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.out)
        .with_context(|| format!("creating {} (it must not exist)", args.out.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", args.out.display()))?;
    let n: usize = pools.iter().map(|(_, n)| n).sum();
    eprintln!("csp: {n} keys written to {}", args.out.display());
    Ok(())
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let file = zeroize::Zeroizing::new(
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?,
    );
    let token = args.reach.bearer(
        ActorKind::Platform,
        TenantId(uuid::Uuid::nil()),
        &[Role::Importer],
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let bus = args.reach.connect().await?;
        let client = Client::new(bus, Duration::from_secs(30));
        let label = args.file.display().to_string();
        let (import, chunks, r) = import_text(&client, &token, &file, &label).await?;
        for p in r["imported"].as_array().into_iter().flatten() {
            println!(
                "{} {} {}: {} imported, {} in the pool",
                p["pool"]["product"].as_str().unwrap_or("?"),
                p["pool"]["sku"].as_str().unwrap_or("?"),
                p["pool"]["version"].as_str().unwrap_or("?"),
                p["imported"],
                p["remaining"]
            );
        }
        eprintln!("csp: import {import} complete ({chunks} chunks)");
        Ok(())
    })
}

/// Imports the key file `text` (named `label` in errors) as the importer `token`: sealed to
/// the entitlement service's import key, sent in chunks. The import's id, how many chunks,
/// and the last chunk's `result` (what each pool holds now). `csp keys import` and the demo.
pub(crate) async fn import_text(
    client: &Client,
    token: &str,
    text: &str,
    label: &str,
) -> anyhow::Result<(ImportId, usize, Value)> {
    let service = csp_events::entitlement::SERVICE;
    let key = client
        .request(
            &subject::query(service, "get_import_key"),
            token,
            &json!({}),
        )
        .await?;
    if let Some(line) = error_line(&key) {
        anyhow::bail!("{line}");
    }
    let public: [u8; 32] = key["result"]["public_key"]
        .as_str()
        .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
        .and_then(|k| k.try_into().ok())
        .context("the service's import key is not 32 bytes of base64")?;
    let import = ImportId(uuid::Uuid::now_v7());
    let chunks = csp_entitlement::import::chunks(public, import, text, &format!("import-{import}"))
        .context("sealing the key file")?;
    let mut last = Value::Null;
    for chunk in &chunks {
        let body = serde_json::to_value(chunk).context("encoding a chunk")?;
        last = client
            .request(&subject::command(service, "import_keys"), token, &body)
            .await?;
        if let Some(line) = error_line(&last) {
            anyhow::bail!("{label}: {line}");
        }
    }
    Ok((import, chunks.len(), last["result"].clone()))
}

/// Where a data directory keeps entitlement's keyring: `csp serve`'s layout or `csp up`'s.
fn keyring_dir(data: &Path) -> anyhow::Result<PathBuf> {
    let candidates = [
        data.join("keyring"),
        data.join("entitlement").join("keyring"),
    ];
    candidates
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .with_context(|| {
            format!(
                "no entitlement keyring under {} (looked for {} and {})",
                data.display(),
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    use csp_entitlement::keyring::{Keyring, MasterSource};
    let dir = keyring_dir(&args.data)?;
    let master = args
        .master_key
        .clone()
        .unwrap_or_else(|| crate::serve::default_master_key(&args.data));
    let keyring = Keyring::open(&dir, MasterSource::File(master.clone())).with_context(|| {
        format!(
            "opening the keyring at {} (is the service stopped?)",
            dir.display()
        )
    })?;
    let r = keyring.rotate_master().context("rotating the master key")?;
    println!(
        "master key rotated: {} now wraps {} entries ({}); the old key is gone",
        r.master,
        r.rewrapped,
        master.display()
    );
    Ok(())
}
