//! Verification (RULES.md A1): the tree recomputed from the leaves themselves — never from a
//! stored hash — and held against what was recorded about it: each checkpoint's signature
//! (by a key the verifier pins), its root, and the leaf hashes it stored; a checkpoint kept
//! outside csp; and, offline, each producer's own log. It names the first leaf where the log
//! breaks: a changed byte, a removed leaf, two leaves swapped; a leaf changed with its stored
//! hash rewritten to match is caught by the signed root (and named exactly by its producer's
//! log); a log rewritten whole is caught by a checkpoint kept outside.
//!
//! Used by the `verify` query (over the leaves the service holds) and by `csp audit verify`
//! (over a stopped service's sled database, read record by record).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csp_events::audit::{CheckpointSigned, VerifyReport};
use csp_events::{codec, Event};
use ed25519_dalek::VerifyingKey;

use crate::checkpoint::{self, note, TreeHead};
use crate::merkle::Tree;

/// One thing found wrong, at a leaf when it can be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The first leaf it concerns, if one can be named.
    pub index: Option<u64>,
    /// What is wrong.
    pub what: String,
}

/// A verification in progress: feed it every leaf in log order, then [`Verification::finish`].
pub struct Verification {
    origin: String,
    pinned: VerifyingKey,
    tree: Tree,
    heads: Vec<(u64, CheckpointSigned)>,
    findings: Vec<Finding>,
    /// What is worth saying but breaks nothing (events a producer's restore lost).
    notes: Vec<String>,
    /// Per producer, the outbox positions (epoch, seq) of its leaves, in leaf order, and their
    /// leaf indexes.
    published: BTreeMap<String, Vec<(uuid::Uuid, u64, u64)>>,
}

impl Verification {
    /// A verification of the log named `origin`, whose checkpoints `pinned` must have signed.
    pub fn new(origin: &str, pinned: VerifyingKey) -> Verification {
        Verification {
            origin: origin.to_string(),
            pinned,
            tree: Tree::new(),
            heads: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
            published: BTreeMap::new(),
        }
    }

    /// How many leaves so far.
    pub fn len(&self) -> u64 {
        self.tree.len()
    }

    /// Whether no leaf came yet.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The next leaf: its bytes as stored, and who recorded it (`audit` for audit's own).
    pub fn leaf(&mut self, bytes: &[u8], producer: &str) {
        let index = self.tree.push(bytes);
        if producer == crate::state::OWN {
            match codec::decode(bytes) {
                Ok(env) => {
                    if let Event::CheckpointSigned(c) = env.payload {
                        self.heads.push((index, c));
                    }
                }
                Err(_) => self.found(Some(index), "audit's own event does not decode".into()),
            }
        } else if let Some(pos) = codec::decode_header(bytes).ok().and_then(|(h, _)| h.outbox) {
            // Only the header: a kind this build does not know is checked all the same.
            self.published
                .entry(producer.to_string())
                .or_default()
                .push((pos.epoch, pos.seq, index));
        }
    }

    /// Leaves missing from the log: positions `from..to` hold nothing (a removed record).
    /// They are counted as leaves that hash as nothing, so the positions after them keep
    /// their indexes.
    pub fn missing(&mut self, from: u64, to: u64) {
        self.found(
            Some(from),
            format!("leaves {from}..{to} are missing from the log (removed records)"),
        );
        for _ in from..to {
            self.tree.push_hash([0; 32]);
        }
    }

    /// A record that could not be read at all, at leaf `index`.
    pub fn unreadable(&mut self, index: u64, why: &str) {
        self.found(Some(index), format!("leaf {index} cannot be read: {why}"));
        self.tree.push_hash([0; 32]);
    }

    fn found(&mut self, index: Option<u64>, what: String) {
        self.findings.push(Finding { index, what });
    }

    /// Checks `producer`'s own published events, as its log stores them in outbox order (`seq`,
    /// the stored bytes), against the audit log's copies: each present once, in order, the
    /// same bytes as the producer published them. `epochs` is the producer log's epoch history
    /// (each epoch with the first outbox seq it assigned). A copy says which epoch published it:
    /// an epoch the producer had, not yet ended at that seq (a restored log republishes, under
    /// its new epoch, what it recorded but had not published before its backup). A copy of an
    /// ended epoch at or past the seq the next one started from is an event published before a
    /// restore that the restored log no longer holds: kept by audit, as it should be, and
    /// noted, not a fault.
    pub fn producer<'a>(
        &mut self,
        producer: &str,
        epochs: &[(uuid::Uuid, u64)],
        stored: impl IntoIterator<Item = (u64, Vec<u8>)>,
        leaves: impl Fn(u64) -> Option<&'a [u8]>,
    ) {
        // `None`: an epoch the producer never had; `Some(None)`: its current one.
        let ended_at = |epoch: uuid::Uuid| {
            let k = epochs.iter().position(|(e, _)| *e == epoch)?;
            Some(epochs.get(k + 1).map(|(_, from)| *from))
        };
        let all = self.published.remove(producer).unwrap_or_default();
        let (lost, kept): (Vec<_>, Vec<_>) = all.into_iter().partition(
            |(epoch, seq, _)| matches!(ended_at(*epoch), Some(Some(end)) if *seq >= end),
        );
        if let (Some(first), Some(last)) = (lost.first(), lost.last()) {
            self.notes.push(format!(
                "note: leaves {}..={} hold {} of {producer}'s events published before it was restored from a backup, which its restored log no longer holds",
                first.2,
                last.2,
                lost.len()
            ));
        }
        let mut copies = kept.into_iter();
        for (seq, bytes) in stored {
            match copies.next() {
                Some((epoch, copy_seq, index)) if copy_seq == seq => {
                    let published = ended_at(epoch)
                        .and_then(|_| {
                            codec::with_outbox(&bytes, csp_events::OutboxPosition { seq, epoch })
                                .ok()
                        })
                        .map(|(published, ..)| published);
                    if published.is_none() || leaves(index) != published.as_deref() {
                        self.found(
                            Some(index),
                            format!(
                                "leaf {index} is not what {producer} published at outbox {seq}"
                            ),
                        );
                    }
                }
                Some((_, copy_seq, index)) => {
                    self.found(
                        Some(index),
                        format!(
                            "leaf {index} is {producer}'s outbox {copy_seq}, where its outbox {seq} was due (missing, duplicated or out of order)"
                        ),
                    );
                    return;
                }
                // Published, not yet copied: audit may simply not have caught up.
                None => return,
            }
        }
        if let Some((_, seq, index)) = copies.next() {
            self.found(
                Some(index),
                format!(
                    "leaf {index} claims {producer}'s outbox {seq}, which its log does not hold"
                ),
            );
        }
    }

    /// The report, checking every recorded checkpoint and, if given, one kept outside csp.
    pub fn finish(mut self, kept: Option<&str>) -> (VerifyReport, Tree) {
        let mut from = 0u64;
        let heads = std::mem::take(&mut self.heads);
        for (at, c) in &heads {
            self.head(*at, c, from);
            from = c.size;
        }
        let uncovered = self.tree.len().saturating_sub(from);
        let consistent = kept.map(|text| self.kept(text));
        self.findings.sort_by_key(|f| f.index.unwrap_or(u64::MAX));
        let first_bad_index = self.findings.iter().find_map(|f| f.index);
        let ok = self.findings.is_empty() && consistent != Some(false);
        let mut findings: Vec<String> = self.findings.into_iter().map(|f| f.what).collect();
        findings.append(&mut self.notes);
        if uncovered > 0 {
            findings.push(format!(
                "note: the last {uncovered} leaves are not yet covered by a checkpoint"
            ));
        }
        let report = VerifyReport {
            ok,
            leaves: self.tree.len(),
            root: B64.encode(self.tree.root()),
            checkpoints: heads.len() as u64,
            first_bad_index,
            findings,
            consistent_with_checkpoint: consistent,
        };
        (report, self.tree)
    }

    /// One recorded checkpoint (leaf `at`), covering first the leaves from `from`.
    fn head(&mut self, at: u64, c: &CheckpointSigned, from: u64) {
        let size = c.size;
        let head = TreeHead {
            origin: c.origin.clone(),
            size,
            root: c.root,
            time: c.time.to_string(),
        };
        let text = note(&head, &c.origin, &c.signature);
        // What a checkpoint says about a range names no leaf: only its stored leaf hashes do.
        if c.origin != self.origin || checkpoint::verify(&text, &self.origin, &self.pinned).is_err()
        {
            self.found(
                None,
                format!(
                    "the checkpoint at leaf {at} (size {size}) is not signed by the pinned key: its root or its leaves {from}..{size} were rewritten, or another key signed it"
                ),
            );
        }
        let first = size.saturating_sub(c.leaf_hashes.len() as u64);
        if first != from {
            self.found(
                Some(from.min(first)),
                format!(
                    "the checkpoint at leaf {at} covers leaves {first}..{size}, where {from}..{size} was due (a checkpoint removed, or leaves moved)"
                ),
            );
        }
        for (k, stored) in c.leaf_hashes.iter().enumerate() {
            let index = first + k as u64;
            if self.tree.leaf(index).as_ref() != Some(stored) {
                self.found(
                    Some(index),
                    format!(
                        "leaf {index} does not hash as it did when the checkpoint at leaf {at} signed it (changed, removed or moved)"
                    ),
                );
                return;
            }
        }
        if self.tree.root_at(size) != Some(c.root) {
            self.found(
                None,
                format!(
                    "the root of the first {size} leaves is not the one signed at leaf {at}: a leaf in {first}..{size} changed and its stored hash was rewritten"
                ),
            );
        }
    }

    /// Whether the log extends `text`, a checkpoint kept outside csp.
    fn kept(&mut self, text: &str) -> bool {
        match checkpoint::verify(text, &self.origin, &self.pinned) {
            Err(e) => {
                self.found(None, format!("the kept checkpoint does not verify: {e}"));
                false
            }
            Ok(head) => match self.tree.root_at(head.size) {
                Some(root) if root == head.root => true,
                Some(_) => {
                    self.found(
                        None,
                        format!(
                            "the log is not consistent with the kept checkpoint of size {}: its first {} leaves were rewritten",
                            head.size, head.size
                        ),
                    );
                    false
                }
                None => {
                    self.found(
                        Some(self.tree.len()),
                        format!(
                            "the log holds {} leaves, fewer than the kept checkpoint's {}: leaves were removed",
                            self.tree.len(),
                            head.size
                        ),
                    );
                    false
                }
            },
        }
    }
}
