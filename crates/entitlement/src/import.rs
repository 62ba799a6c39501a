//! Key imports (K4 pools): a platform `importer` sends a key file cut into chunks, each sealed
//! to the service's import public key, so plaintext keys never travel on the bus.
//!
//! Each chunk is opened, parsed and checked whole, and its keys sealed under their own data
//! keys (durably) by the command's shell step, then staged in memory; only when the last chunk
//! has arrived are all the import's keys recorded, in one append. A bad line in any chunk
//! refuses the whole import — its staged keys' data keys are destroyed at once — so nothing is
//! ever half-imported. A restart loses what was staged (the importer sends the file again; the
//! data keys sealed for it are removed at start-up as orphans).
//!
//! The client half ([`chunks`], [`generate`]) is here too, so `csp keys import`, the demo and
//! the tests seal files exactly one way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use csp_events::entitlement::{self as contract, KeysImported, PoolRef, PoolView, SealedKey};
use csp_events::kernel::{Context, Decided, Emit, Handled, Rejection};
use csp_events::{ErrorCode, Event, ImportId, Role};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::domain::access::platform;
use crate::keyring::KeyringError;
use crate::secret::ProductKey;
use crate::state::State;

/// The most chunks one import may have.
pub const MAX_CHUNKS: u32 = 1000;
/// The most imports staged at once (a bound on memory; the oldest is dropped beyond it).
pub const MAX_STAGED: usize = 16;
/// Key lines per chunk [`chunks`] cuts (well under a request's size limit once sealed).
pub const LINES_PER_CHUNK: usize = 1000;

/// One chunk's keys, sealed, with their lines.
struct Chunk {
    keys: Vec<(usize, PoolRef, SealedKey)>,
}

/// An import waiting for its other chunks.
#[derive(Default)]
pub struct Staged {
    chunks: u32,
    received: BTreeMap<u32, Chunk>,
    fingerprints: BTreeSet<[u8; 32]>,
}

impl Staged {
    fn data_keys(&self) -> Vec<csp_events::DataKeyId> {
        self.received
            .values()
            .flat_map(|c| c.keys.iter().map(|(_, _, s)| s.data_key))
            .collect()
    }
}

/// Imports waiting for chunks, by id.
#[derive(Default)]
pub struct Staging(Mutex<BTreeMap<ImportId, Staged>>);

/// What the shell step made of a chunk.
pub enum Step {
    /// More chunks to come.
    Partial {
        /// Chunks received.
        received: u32,
        /// Chunks in all.
        chunks: u32,
    },
    /// The last one: every key of the import, sealed, by chunk.
    Complete {
        /// Chunks in all.
        chunks: u32,
        /// The keys, in file order, with their lines.
        keys: Vec<(usize, PoolRef, SealedKey)>,
    },
}

fn internal(e: KeyringError) -> Rejection {
    Rejection::new(ErrorCode::Internal, format!("the keyring failed: {e}"))
}

/// The shell step of `import_keys`: open, parse, check, seal, stage.
pub fn prepare(
    state: &State,
    config: &Config,
    c: &contract::ImportKeys,
    ctx: &Context,
) -> Result<Step, Rejection> {
    platform(&ctx.actor, Role::Importer, "import product keys", None)?;
    if c.chunks == 0 || c.chunks > MAX_CHUNKS || c.chunk >= c.chunks {
        return Err(Rejection::new(
            ErrorCode::InvalidRequest,
            format!(
                "chunk {} of {} is out of range (1 to {MAX_CHUNKS} chunks, numbered from 0)",
                c.chunk, c.chunks
            ),
        ));
    }
    let sealed = STANDARD.decode(c.sealed.trim()).map_err(|_| {
        Rejection::new(
            ErrorCode::InvalidRequest,
            "field `sealed`: not standard base64",
        )
        .with("path", "sealed")
    })?;
    let plain = config.keyring.open_import(&sealed).map_err(|_| {
        Rejection::new(
            ErrorCode::InvalidRequest,
            "field `sealed`: does not open with this service's import key (get_import_key gives it)",
        )
        .with("path", "sealed")
    })?;
    let refuse = |r: Rejection| {
        discard(config, c.import);
        r
    };
    let text = std::str::from_utf8(&plain).map_err(|_| {
        refuse(Rejection::new(
            ErrorCode::InvalidRequest,
            "the key file is not UTF-8; nothing was imported",
        ))
    })?;
    let first = usize::try_from(c.first_line).unwrap_or(2).max(2);
    let lines = crate::files::keys(text, first, &config.catalog).map_err(refuse)?;
    let mut fingerprints = Vec::with_capacity(lines.len());
    {
        let staging = lock(&config.staging);
        let staged = staging.get(&c.import);
        let mut seen = BTreeSet::new();
        for (line, _, key) in &lines {
            let fp = config.keyring.fingerprint(key).map_err(internal)?;
            let held = state.pools.fingerprints.contains(&fp)
                || staged.is_some_and(|s| s.fingerprints.contains(&fp));
            if held || !seen.insert(fp) {
                drop(staging);
                return Err(refuse(
                    Rejection::new(
                        ErrorCode::AlreadyExists,
                        format!("line {line}: this key is already held by csp (imported before, or listed twice); nothing was imported"),
                    )
                    .with("line", *line),
                ));
            }
            fingerprints.push(fp);
        }
    }
    let sealed = config
        .keyring
        .seal_all(lines.iter().map(|(_, _, k)| k))
        .map_err(internal)?;
    let chunk = Chunk {
        keys: lines
            .into_iter()
            .zip(sealed)
            .map(|((line, pool, _), s)| (line, pool, s))
            .collect(),
    };
    let mut staging = lock(&config.staging);
    if staging.len() >= MAX_STAGED && !staging.contains_key(&c.import) {
        if let Some(oldest) = staging.keys().next().copied() {
            if let Some(dropped) = staging.remove(&oldest) {
                let _ = config.keyring.destroy(&dropped.data_keys());
            }
        }
    }
    let staged = staging.entry(c.import).or_default();
    if staged.chunks != 0 && staged.chunks != c.chunks {
        let dropped = staging.remove(&c.import).unwrap_or_default();
        let _ = config.keyring.destroy(&dropped.data_keys());
        let _ = config.keyring.destroy(
            &chunk
                .keys
                .iter()
                .map(|(_, _, s)| s.data_key)
                .collect::<Vec<_>>(),
        );
        return Err(Rejection::new(
            ErrorCode::InvalidRequest,
            "the chunks of one import disagree on how many there are; nothing was imported",
        ));
    }
    staged.chunks = c.chunks;
    staged.fingerprints.extend(fingerprints);
    if let Some(old) = staged.received.insert(c.chunk, chunk) {
        // A chunk sent twice: the first copy's data keys are not needed.
        let _ = config.keyring.destroy(
            &old.keys
                .iter()
                .map(|(_, _, s)| s.data_key)
                .collect::<Vec<_>>(),
        );
    }
    let received = u32::try_from(staged.received.len()).unwrap_or(u32::MAX);
    if received < c.chunks {
        return Ok(Step::Partial {
            received,
            chunks: c.chunks,
        });
    }
    let done = staging.remove(&c.import).unwrap_or_default();
    Ok(Step::Complete {
        chunks: c.chunks,
        keys: done.received.into_values().flat_map(|c| c.keys).collect(),
    })
}

/// Drops a staged import and destroys the data keys sealed for it.
fn discard(config: &Config, import: ImportId) {
    let dropped = lock(&config.staging).remove(&import);
    if let Some(d) = dropped {
        let _ = config.keyring.destroy(&d.data_keys());
    }
}

fn lock(s: &Staging) -> std::sync::MutexGuard<'_, BTreeMap<ImportId, Staged>> {
    s.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// `import_keys`, decided: nothing until the last chunk; then every key, grouped by pool in
/// file order, as `key_pool_filled` events recorded together.
pub fn import_keys(
    state: &State,
    _config: &Config,
    c: &contract::ImportKeys,
    step: &Step,
    _ctx: &Context,
) -> Handled<KeysImported> {
    let (chunks, keys) = match step {
        Step::Partial { received, chunks } => {
            return Ok(Decided {
                events: Vec::new(),
                reply: KeysImported {
                    import: c.import,
                    received: *received,
                    chunks: *chunks,
                    complete: false,
                    imported: Vec::new(),
                },
            })
        }
        Step::Complete { chunks, keys } => (*chunks, keys),
    };
    let mut groups: Vec<(PoolRef, Vec<SealedKey>, Vec<usize>)> = Vec::new();
    for (line, pool, sealed) in keys {
        match groups.last_mut() {
            Some((p, ks, ls)) if p == pool && ks.len() < crate::import::LINES_PER_CHUNK => {
                ks.push(sealed.clone());
                ls.push(*line);
            }
            _ => groups.push((pool.clone(), vec![sealed.clone()], vec![*line])),
        }
    }
    let mut events: Vec<Event> = Vec::new();
    let mut added: BTreeMap<PoolRef, u32> = BTreeMap::new();
    for (n, (pool, ks, lines)) in groups.into_iter().enumerate() {
        *added.entry(pool.clone()).or_default() += u32::try_from(ks.len()).unwrap_or(u32::MAX);
        let chunk = u32::try_from(n).unwrap_or(u32::MAX);
        events.extend(state.pools.fill(&pool, c.import, chunk, ks, &lines)?);
    }
    Ok(Decided {
        events: events.into_iter().map(|e| Emit::routed(e, None)).collect(),
        reply: KeysImported {
            import: c.import,
            received: chunks,
            chunks,
            complete: true,
            imported: added
                .into_iter()
                .map(|(pool, n)| PoolView {
                    remaining: state.pools.remaining(&pool) + n,
                    imported: n,
                    pool,
                })
                .collect(),
        },
    })
}

/// Why a file cannot be cut into sealed chunks.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// Sealing failed (no randomness).
    #[error(transparent)]
    Seal(#[from] KeyringError),
    /// The request id prefix makes invalid request ids.
    #[error("{0}")]
    RequestId(String),
}

/// Cuts a key file into sealed chunks for `import` (the client half): each chunk holds the
/// header and at most [`LINES_PER_CHUNK`] key lines, sealed to `public_key`. The plaintext
/// never leaves this function but sealed.
pub fn chunks(
    public_key: [u8; 32],
    import: ImportId,
    file: &str,
    request_prefix: &str,
) -> Result<Vec<contract::ImportKeys>, ChunkError> {
    let mut lines = file.lines();
    let header = lines.next().unwrap_or_default();
    let body: Vec<&str> = lines.collect();
    let groups: Vec<&[&str]> = if body.is_empty() {
        vec![&[][..]]
    } else {
        body.chunks(LINES_PER_CHUNK).collect()
    };
    let count = u32::try_from(groups.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let mut text = Zeroizing::new(String::from(header));
        for l in group.iter() {
            text.push('\n');
            text.push_str(l);
        }
        text.push('\n');
        let sealed = crate::keyring::seal_for_import(public_key, text.as_bytes())?;
        let n = u32::try_from(i).unwrap_or(u32::MAX);
        out.push(contract::ImportKeys {
            request_id: csp_events::RequestId::new(format!("{request_prefix}-{n}"))
                .map_err(ChunkError::RequestId)?,
            import,
            chunk: n,
            chunks: count,
            first_line: u32::try_from(i * LINES_PER_CHUNK + 2).unwrap_or(u32::MAX),
            sealed: STANDARD.encode(sealed),
        });
    }
    Ok(out)
}

/// A key file of `n` fresh random MAKs for each (product, SKU, version): the generator that
/// fills pools for the demo and tests.
pub fn generate(pools: &[(&PoolRef, usize)]) -> Result<Zeroizing<String>, getrandom::Error> {
    let mut text = Zeroizing::new(String::from("product,sku,version,type,key\n"));
    for (pool, n) in pools {
        for _ in 0..*n {
            let key = ProductKey::generate()?;
            // Piece by piece: a formatted temporary would hold the key unzeroed.
            for part in [
                pool.product.as_str(),
                ",",
                pool.sku.as_str(),
                ",",
                &csv_field(&pool.version),
                ",MAK,",
                key.expose(),
                "\n",
            ] {
                text.push_str(part);
            }
        }
    }
    Ok(text)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
