//! Pools of MAKs, one per product, SKU and version (K4): filled by a platform `importer`, drawn
//! from once per entitlement and version, never refilled with a key that was taken (a revoked
//! key never returns). Keys are held sealed; this module never sees one in plaintext.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use csp_events::entitlement::{KeyAssigned, KeyPoolFilled, KeyPoolLow, PoolRef, SealedKey};
use csp_events::kernel::Rejection;
use csp_events::{EntitlementId, ErrorCode, Event, ImportId, KeyId};

/// One pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pool {
    /// Keys not yet taken, oldest import first.
    pub available: VecDeque<KeyId>,
    /// Keys ever imported into it.
    pub imported: u32,
    /// Whether the low-water event was recorded since the pool last rose above the mark.
    pub low_recorded: bool,
}

/// Every pool and every key csp holds sealed (until its entitlement ends and its data key is
/// shredded: then the ciphertext is dropped from the state too).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pools {
    /// The pools.
    pub pools: BTreeMap<PoolRef, Pool>,
    /// The sealed keys, by id.
    #[serde(skip)]
    pub sealed: BTreeMap<KeyId, SealedKey>,
    /// Fingerprints of every key ever imported: an import of a key csp already held, even one
    /// since revoked, is refused (a revoked key never returns).
    #[serde(skip)]
    pub fingerprints: BTreeSet<[u8; 32]>,
    /// Imports recorded, so a retried chunk is not imported twice.
    pub imports: BTreeSet<(ImportId, u32)>,
}

impl Pools {
    /// Folds one pool event; others are ignored.
    pub fn evolve(&mut self, event: &Event) {
        match event {
            Event::KeyPoolFilled(f) => {
                self.imports.insert((f.import, f.chunk));
                let pool = self.pools.entry(f.pool.clone()).or_default();
                // A pool filled again may warn again when it runs low.
                pool.low_recorded = false;
                for k in &f.keys {
                    pool.available.push_back(k.key);
                    pool.imported += 1;
                    self.fingerprints.insert(k.fingerprint);
                    self.sealed.insert(k.key, k.clone());
                }
            }
            Event::KeyAssigned(a) => {
                if let Some(pool) = self.pools.get_mut(&a.pool) {
                    pool.available.retain(|k| *k != a.key);
                }
            }
            Event::KeyPoolLow(l) => {
                if let Some(pool) = self.pools.get_mut(&l.pool) {
                    pool.low_recorded = true;
                }
            }
            Event::EntitlementEnded(e) => {
                for k in &e.keys {
                    self.sealed.remove(k);
                }
            }
            _ => {}
        }
    }

    /// Keys left in `pool`.
    pub fn remaining(&self, pool: &PoolRef) -> u32 {
        self.pools
            .get(pool)
            .map_or(0, |p| u32::try_from(p.available.len()).unwrap_or(u32::MAX))
    }

    /// Takes the oldest key of `pool` for `entitlement`: the `key_assigned` to record (on the
    /// pool's stream, so a concurrent draw conflicts), and `key_pool_low` if this draw takes
    /// the pool below `low_water` for the first time since it was last filled. An empty pool
    /// is `key_pool_empty`, and nothing is recorded.
    pub fn take(
        &self,
        pool: &PoolRef,
        entitlement: EntitlementId,
        low_water: u32,
    ) -> Result<(SealedKey, Vec<Event>), Rejection> {
        let empty = || {
            Rejection::new(
                ErrorCode::KeyPoolEmpty,
                format!(
                    "no key of {pool} is left to assign; a platform importer must import more (csp keys import)"
                ),
            )
            .with("pool", serde_json::to_value(pool).unwrap_or_default())
        };
        let p = self.pools.get(pool).ok_or_else(empty)?;
        let key = p.available.front().ok_or_else(empty)?;
        let sealed = self.sealed.get(key).ok_or_else(empty)?.clone();
        let remaining = u32::try_from(p.available.len() - 1).unwrap_or(u32::MAX);
        let mut events = vec![KeyAssigned {
            pool: pool.clone(),
            key: *key,
            entitlement,
            remaining,
        }
        .into()];
        if remaining < low_water && !p.low_recorded {
            events.push(
                KeyPoolLow {
                    pool: pool.clone(),
                    remaining,
                    low_water,
                }
                .into(),
            );
        }
        Ok((sealed, events))
    }

    /// Judges a chunk of sealed keys for `pool`: a key csp already holds (in this chunk or any
    /// earlier import, revoked ones included) refuses the whole chunk; a chunk already
    /// recorded records nothing again.
    pub fn fill(
        &self,
        pool: &PoolRef,
        import: ImportId,
        chunk: u32,
        keys: Vec<SealedKey>,
        first_line: &[usize],
    ) -> Result<Vec<Event>, Rejection> {
        if self.imports.contains(&(import, chunk)) {
            return Ok(Vec::new());
        }
        let mut seen = BTreeSet::new();
        for (i, k) in keys.iter().enumerate() {
            if self.fingerprints.contains(&k.fingerprint) || !seen.insert(k.fingerprint) {
                let line = first_line.get(i).copied().unwrap_or(i + 1);
                return Err(Rejection::new(
                    ErrorCode::AlreadyExists,
                    format!(
                        "line {line}: this key is already held by csp (imported before, or listed twice); nothing was imported"
                    ),
                )
                .with("line", line));
            }
        }
        Ok(vec![KeyPoolFilled {
            pool: pool.clone(),
            import,
            chunk,
            keys,
        }
        .into()])
    }
}
