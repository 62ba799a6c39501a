//! Everything audit knows, one fold of its log: every recorded event — a copy of another
//! service's, as published, or audit's own — is the next leaf of the Merkle tree (RULES.md A1),
//! in log order; the checkpoints signed so far; and the activity log (A2, A4) read from
//! entitlement's events as they fold.

use std::collections::{BTreeMap, HashMap};

use csp_events::audit::{Activity, ActivityRecord, CheckpointSigned};
use csp_events::{EntitlementId, Envelope, Event, EventId, TenantId};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::merkle::{Hash, Tree};

/// Audit's own name, as the producer of its own leaves.
pub const OWN: &str = csp_events::audit::SERVICE;

/// The entitlement service, whose recorded reads and refusals make the activity log.
const ENTITLEMENT: &str = csp_events::entitlement::SERVICE;

/// Audit's state.
#[derive(Debug, Default)]
pub struct State {
    /// Every leaf's hash, and every complete subtree's above them.
    pub tree: Tree,
    /// Every leaf's bytes and what it is.
    pub leaves: Leaves,
    /// Which leaf each event is.
    pub by_event: HashMap<EventId, u64>,
    /// The checkpoints recorded, in order.
    pub checkpoints: Vec<Head>,
    /// The activity log, per partner, in log order (A2; refusals too, A4). Nothing ages out (A5).
    pub activity: BTreeMap<TenantId, Vec<ActivityRecord>>,
    /// What each entitlement is: whose, which product (to attribute a refused attempt, which
    /// names only the entitlement).
    pub entitlements: HashMap<EntitlementId, Granted>,
}

/// A recorded checkpoint and where it is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// The leaf the checkpoint event itself is.
    pub index: u64,
    /// What was signed, and the leaf hashes it covered first.
    pub signed: CheckpointSigned,
}

/// The facts of an entitlement the activity log names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The selling partner.
    pub partner: TenantId,
    /// The product.
    pub product: String,
    /// Its display name.
    pub product_name: String,
}

/// The leaves' bytes in one buffer (an event is a few hundred bytes: one allocation each would
/// cost more than the bytes) and, per leaf, who recorded it and whom it concerns.
#[derive(Debug, Default)]
pub struct Leaves {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    meta: Vec<Meta>,
    producers: Vec<String>,
}

/// What a leaf is, besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    producer: u16,
    outbox_seq: Option<u64>,
    partner: Option<TenantId>,
    customer: Option<TenantId>,
}

/// One leaf, as a query reads it.
#[derive(Debug, Clone, Copy)]
pub struct Leaf<'a> {
    /// Its exact bytes.
    pub bytes: &'a [u8],
    /// The service that recorded it (`audit` for audit's own).
    pub producer: &'a str,
    /// Its position in the producer's outbox, for a published event.
    pub outbox_seq: Option<u64>,
    /// The partner it concerns, if any.
    pub partner: Option<TenantId>,
    /// The customer it concerns, if any.
    pub customer: Option<TenantId>,
}

impl Leaves {
    fn push(&mut self, bytes: &[u8], producer: &str, env: &Envelope) {
        let producer = match self.producers.iter().position(|p| p == producer) {
            Some(i) => i,
            None => {
                self.producers.push(producer.to_string());
                self.producers.len() - 1
            }
        };
        self.bytes.extend_from_slice(bytes);
        self.ends.push(self.bytes.len());
        self.meta.push(Meta {
            producer: u16::try_from(producer).unwrap_or(u16::MAX),
            outbox_seq: env.outbox.map(|p| p.seq),
            partner: env.partner,
            customer: env.customer,
        });
    }

    /// How many.
    pub fn len(&self) -> u64 {
        self.ends.len() as u64
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Leaf `index`.
    pub fn get(&self, index: u64) -> Option<Leaf<'_>> {
        let i = usize::try_from(index).ok()?;
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let meta = self.meta.get(i)?;
        Some(Leaf {
            bytes: self.bytes.get(start..end)?,
            producer: self
                .producers
                .get(usize::from(meta.producer))
                .map_or("?", String::as_str),
            outbox_seq: meta.outbox_seq,
            partner: meta.partner,
            customer: meta.customer,
        })
    }

    /// Every leaf, in order.
    pub fn iter(&self) -> impl Iterator<Item = Leaf<'_>> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl State {
    /// Folds one recorded event, given its bytes as stored and who recorded it.
    pub fn apply(&mut self, env: &Envelope, bytes: &[u8], producer: &str) {
        let index = self.tree.push(bytes);
        self.leaves.push(bytes, producer, env);
        self.by_event.insert(env.event_id, index);
        match &env.payload {
            Event::CheckpointSigned(c) if producer == OWN => self.checkpoints.push(Head {
                index,
                signed: c.clone(),
            }),
            Event::EntitlementGranted(g) if producer == ENTITLEMENT => {
                self.entitlements.insert(
                    g.entitlement,
                    Granted {
                        partner: g.partner,
                        product: g.product.to_string(),
                        product_name: g.product_name.clone(),
                    },
                );
            }
            Event::KeyShown(k) if producer == ENTITLEMENT => self.record(
                k.partner,
                ActivityRecord {
                    at: env.effective_at,
                    customer: Some(k.customer),
                    action: Activity::ViewKey,
                    refused: false,
                    by: env.actor.clone(),
                    product: Some(k.product.to_string()),
                    product_name: Some(k.product_name.clone()),
                    item: None,
                    event: env.event_id,
                },
            ),
            Event::DownloadLinkIssued(d) if producer == ENTITLEMENT => self.record(
                d.partner,
                ActivityRecord {
                    at: env.effective_at,
                    customer: Some(d.customer),
                    action: match d.used_for {
                        csp_events::entitlement::LinkUse::Download => Activity::Download,
                        csp_events::entitlement::LinkUse::Copy => Activity::CopyLink,
                    },
                    refused: false,
                    by: env.actor.clone(),
                    product: Some(d.product.to_string()),
                    product_name: Some(d.product_name.clone()),
                    item: None,
                    event: env.event_id,
                },
            ),
            Event::AccessRefused(r) if producer == ENTITLEMENT => {
                let Some(action) = activity_of(&r.action) else {
                    return;
                };
                let granted = r
                    .item
                    .as_ref()
                    .filter(|i| i.kind == "entitlement")
                    .and_then(|i| i.id.parse::<uuid::Uuid>().ok())
                    .and_then(|id| self.entitlements.get(&EntitlementId(id)))
                    .cloned();
                // The selling partner's log when the item is known; else the partner whose user
                // was refused.
                let Some(partner) = granted.as_ref().map(|g| g.partner).or(env.partner) else {
                    return;
                };
                self.record(
                    partner,
                    ActivityRecord {
                        at: env.effective_at,
                        customer: r.customer.or(env.customer),
                        action,
                        refused: true,
                        by: env.actor.clone(),
                        product: granted.as_ref().map(|g| g.product.clone()),
                        product_name: granted.map(|g| g.product_name),
                        item: r.item.as_ref().map(ToString::to_string),
                        event: env.event_id,
                    },
                );
            }
            _ => {}
        }
    }

    fn record(&mut self, partner: TenantId, record: ActivityRecord) {
        self.activity.entry(partner).or_default().push(record);
    }

    /// The latest checkpoint.
    pub fn latest(&self) -> Option<&Head> {
        self.checkpoints.last()
    }

    /// The checkpoint of tree size `size`.
    pub fn checkpoint(&self, size: u64) -> Option<&Head> {
        let i = self
            .checkpoints
            .binary_search_by_key(&size, |h| h.signed.size)
            .ok()?;
        self.checkpoints.get(i)
    }

    /// How many leaves no checkpoint covers yet, not counting checkpoints themselves (a
    /// checkpoint is a leaf too, but signing one only because another was signed would never
    /// stop).
    pub fn uncovered(&self) -> u64 {
        let covered = self.latest().map_or(0, |h| h.signed.size);
        let heads_after = self
            .checkpoints
            .iter()
            .rev()
            .take_while(|h| h.index >= covered)
            .count() as u64;
        self.tree
            .len()
            .saturating_sub(covered)
            .saturating_sub(heads_after)
    }
}

/// The activity an entitlement endpoint is, if it is one the activity log lists.
fn activity_of(action: &str) -> Option<Activity> {
    match action {
        "get_key" => Some(Activity::ViewKey),
        "get_download_link" => Some(Activity::Download),
        "copy_link" => Some(Activity::CopyLink),
        _ => None,
    }
}

/// What the state digest covers: the tree by its size and root (which commit to every leaf),
/// the checkpoints and the activity log. The per-event index and the entitlements are derived
/// from the leaves, so the root covers them.
impl Serialize for State {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let root: Hash = self.tree.root();
        let mut st = s.serialize_struct("State", 4)?;
        st.serialize_field("size", &self.tree.len())?;
        st.serialize_field("root", &root)?;
        st.serialize_field("checkpoints", &self.checkpoints)?;
        st.serialize_field("activity", &self.activity)?;
        st.end()
    }
}
