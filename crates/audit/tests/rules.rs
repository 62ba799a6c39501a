//! Audit's rules, A1–A5, each proved by a test that names it, through the service's own table
//! on the runtime's in-memory harness: producers' events delivered as the inbox delivers them
//! (each copy stored as published), checkpoints as the scheduler records them, queries and
//! the command as a client sends them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csp_audit::checkpoint::{self, CheckpointKey};
use csp_audit::config::{Config, SEAL_EVERY};
use csp_audit::merkle::{leaf_hash, verify_consistency, verify_inclusion, Hash, Tree};
use csp_audit::service::AuditService;
use csp_audit::verify::Verification;
use csp_bus::harness::Harness;
use csp_events::envelope::OutboxPosition;
use csp_events::fixtures::sample;
use csp_events::{
    codec, Actor, ActorKind, EntitlementId, Envelope, Event, EventId, EventKind, ItemRef, Role,
    TenantId, Timestamp,
};
use serde_json::{json, Value};
use uuid::Uuid;

// The partner and customer the fixtures' samples name.
const PARTNER: TenantId = TenantId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0a01));
const OTHER_PARTNER: TenantId = TenantId(Uuid::from_u128(0xa2));
const CUSTOMER: TenantId = TenantId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0c01));
const ORIGIN: &str = "csp-audit/test";

fn at(y: i32, mo: u32, d: u32, h: u32) -> Timestamp {
    Timestamp::ymd_hms(y, mo, d, h, 0, 0).unwrap()
}

fn key() -> CheckpointKey {
    CheckpointKey::from_seed(ORIGIN, &[7; 32])
}

fn config() -> Config {
    Config::new(key(), std::time::Duration::from_secs(10))
}

fn actor(kind: ActorKind, tenant: TenantId, user: &str, role: Role) -> Actor {
    Actor {
        kind,
        tenant,
        user: user.into(),
        roles: vec![role],
    }
}

fn partner_user(role: Role) -> Actor {
    actor(ActorKind::Partner, PARTNER, role.as_str(), role)
}

fn operator() -> Actor {
    actor(
        ActorKind::Platform,
        TenantId(Uuid::nil()),
        "ops",
        Role::Operator,
    )
}

fn hash(s: &str) -> Hash {
    B64.decode(s).unwrap().try_into().unwrap()
}

/// Producers' events, numbered per producer as their outboxes number them.
struct Producers {
    audit: Harness<AuditService>,
    next: u128,
    outbox: std::collections::HashMap<&'static str, u64>,
    published: Vec<(&'static str, Envelope)>,
}

impl Producers {
    fn new() -> Producers {
        Producers {
            audit: Harness::new(config()),
            next: 0,
            outbox: Default::default(),
            published: Vec::new(),
        }
    }

    /// The next event `producer` publishes: `kind`'s sample, by `by`, at `when`.
    fn event(
        &mut self,
        producer: &'static str,
        kind: EventKind,
        by: Actor,
        when: Timestamp,
        edit: impl FnOnce(&mut Event),
    ) -> Envelope {
        self.next += 1;
        let seq = self.outbox.entry(producer).or_insert(0);
        *seq += 1;
        let mut e = sample(kind);
        e.event_id = EventId(Uuid::from_u128(0x5000 + self.next));
        e.effective_at = when;
        e.recorded_at = when;
        e.actor = by;
        e.outbox = Some(OutboxPosition {
            seq: *seq,
            epoch: Uuid::from_u128(producer.len() as u128),
        });
        edit(&mut e.payload);
        e.partner = e.payload.partner().or(e.partner);
        e.customer = e.payload.customer().or(e.customer);
        self.published.push((producer, e.clone()));
        e
    }

    fn deliver(&mut self, producer: &'static str, batch: &[Envelope], now: Timestamp) {
        self.audit.deliver(producer, batch, now);
    }

    fn query(&mut self, by: Actor, name: &str, body: Value) -> Result<Value, String> {
        self.audit
            .query(by, at(2027, 1, 1, 0), name, &body)
            .map_err(|e| e.code.as_str().to_string())
    }
}

fn entitlement_granted(p: &mut Producers, when: Timestamp, ent: u128) -> Envelope {
    p.event(
        "entitlement",
        EventKind::EntitlementGranted,
        Actor::system("entitlement"),
        when,
        |e| {
            if let Event::EntitlementGranted(g) = e {
                g.entitlement = EntitlementId(Uuid::from_u128(ent));
            }
        },
    )
}

fn key_shown(p: &mut Producers, by: Actor, when: Timestamp) -> Envelope {
    p.event("entitlement", EventKind::KeyShown, by, when, |_| {})
}

fn link(p: &mut Producers, by: Actor, when: Timestamp, copy: bool) -> Envelope {
    p.event(
        "entitlement",
        EventKind::DownloadLinkIssued,
        by,
        when,
        |e| {
            if let Event::DownloadLinkIssued(d) = e {
                d.used_for = if copy {
                    csp_events::entitlement::LinkUse::Copy
                } else {
                    csp_events::entitlement::LinkUse::Download
                };
            }
        },
    )
}

fn refused_view(p: &mut Producers, by: Actor, when: Timestamp, ent: u128) -> Envelope {
    p.event("entitlement", EventKind::AccessRefused, by, when, |e| {
        if let Event::AccessRefused(r) = e {
            r.service = "entitlement".into();
            r.action = "get_key".into();
            r.item = Some(ItemRef::new("entitlement", Uuid::from_u128(ent)));
            r.reason = "forbidden: only a partner admin_agent may see product keys".into();
        }
    })
}

/// Rule A1: every event of every producer is kept once, as published, in an RFC 6962 tree.
#[test]
fn rule_a1_every_event_of_every_producer_is_one_leaf_exactly_as_published() {
    let mut p = Producers::new();
    let t = at(2026, 12, 1, 9);
    let ordering: Vec<Envelope> = (0..3)
        .map(|_| {
            p.event(
                "ordering",
                EventKind::OrderPlaced,
                partner_user(Role::AdminAgent),
                t,
                |_| {},
            )
        })
        .collect();
    let ent = vec![
        entitlement_granted(&mut p, t, 0xe1),
        key_shown(&mut p, partner_user(Role::AdminAgent), t),
    ];
    let billing = vec![p.event(
        "billing",
        EventKind::ChargeBilled,
        Actor::system("billing"),
        t,
        |_| {},
    )];
    p.deliver("ordering", &ordering, t);
    p.deliver("entitlement", &ent, t);
    // A redelivery (a consumer restart before its ack) is the same events: kept once.
    p.deliver("ordering", &ordering, t);
    p.deliver("billing", &billing, t);
    p.deliver("entitlement", &ent[1..], t);

    let state = p.audit.state();
    assert_eq!(
        state.tree.len(),
        6,
        "six events, six leaves, however often delivered"
    );
    // Each leaf is the published bytes, in log order; the root is RFC 6962's over them.
    let mut expected = Tree::new();
    for (producer, e) in &p.published {
        let bytes = codec::encode(e);
        let index = state.by_event[&e.event_id];
        let leaf = state.leaves.get(index).unwrap();
        assert_eq!(leaf.bytes, bytes.as_slice());
        assert_eq!(leaf.producer, *producer);
        assert_eq!(leaf.outbox_seq, e.outbox.map(|o| o.seq));
        assert_eq!(state.tree.leaf(index), Some(leaf_hash(&bytes)));
    }
    for i in 0..6 {
        expected.push(state.leaves.get(i).unwrap().bytes);
    }
    assert_eq!(state.tree.root(), expected.root());

    // Audit's own events are leaves too: a checkpoint, and a refusal of one of its readers.
    let recorded = p.audit.tick(at(2026, 12, 1, 10));
    assert_eq!(recorded.len(), 1);
    let refused = p.query(
        partner_user(Role::SalesAgent),
        "get_activity",
        json!({"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}),
    );
    assert_eq!(refused.unwrap_err(), "forbidden");
    // (The harness records a query's refusal only through the runtime; its checkpoint is here.)
    assert_eq!(p.audit.state().tree.len(), 7);
    assert_eq!(p.audit.state().checkpoints[0].index, 6);
    assert_eq!(p.audit.state().checkpoints[0].signed.size, 6);

    // Live state equals the fold of the stored bytes alone.
    let replayed = p.audit.replay();
    assert_eq!(replayed.tree.root(), p.audit.state().tree.root());
    assert_eq!(
        serde_json::to_value(&replayed).unwrap(),
        serde_json::to_value(p.audit.state()).unwrap()
    );
}

/// Rule A1: signed checkpoints, inclusion and consistency proofs that check against them.
#[test]
fn rule_a1_checkpoints_are_signed_and_every_proof_checks_against_them() {
    let mut p = Producers::new();
    let t = at(2026, 12, 1, 9);
    let first: Vec<Envelope> = (0..5)
        .map(|_| {
            p.event(
                "ordering",
                EventKind::OrderPlaced,
                partner_user(Role::AdminAgent),
                t,
                |_| {},
            )
        })
        .collect();
    p.deliver("ordering", &first, t);
    // On request, by an operator; a partner may not.
    assert_eq!(
        p.audit
            .command(
                partner_user(Role::GlobalAdmin),
                t,
                "sign_checkpoint",
                &json!({"request_id": "c1"})
            )
            .unwrap_err()
            .code
            .as_str(),
        "forbidden"
    );
    let cp1 = p
        .audit
        .command(
            operator(),
            t,
            "sign_checkpoint",
            &json!({"request_id": "c1"}),
        )
        .unwrap();
    assert_eq!(cp1["size"], 5);
    let text1 = cp1["text"].as_str().unwrap().to_string();
    let head1 = checkpoint::verify(&text1, ORIGIN, &key().public()).unwrap();
    assert_eq!(head1.size, 5);
    // Asked again with nothing new: the same checkpoint, nothing recorded.
    let before = p.audit.len();
    let again = p
        .audit
        .command(
            operator(),
            t,
            "sign_checkpoint",
            &json!({"request_id": "c2"}),
        )
        .unwrap();
    assert_eq!(again, cp1);
    assert_eq!(p.audit.len(), before);

    let more: Vec<Envelope> = (0..7)
        .map(|_| {
            p.event(
                "billing",
                EventKind::ChargeBilled,
                Actor::system("billing"),
                t,
                |_| {},
            )
        })
        .collect();
    p.deliver("billing", &more, t);
    // The periodic checkpoint waits for the interval after the last one.
    assert!(p
        .audit
        .tick(Timestamp::from_micros(t.as_micros() + 5_000_000))
        .is_empty());
    assert_eq!(
        p.audit
            .tick(Timestamp::from_micros(t.as_micros() + 10_000_000))
            .len(),
        1
    );
    let cp2 = p.query(operator(), "get_checkpoint", json!({})).unwrap();
    assert_eq!(cp2["size"], 13, "5 + its own checkpoint + 7");
    let head2 = checkpoint::verify(cp2["text"].as_str().unwrap(), ORIGIN, &key().public()).unwrap();
    // Nothing new but checkpoints: no further checkpoint, ever.
    assert!(p.audit.tick(at(2027, 6, 1, 0)).is_empty());

    // Inclusion of every event, against both checkpoints where it is covered, for anyone.
    for (n, e) in first.iter().chain(&more).enumerate() {
        let proof = p
            .query(
                actor(ActorKind::Customer, CUSTOMER, "u", Role::HelpdeskAgent),
                "prove_inclusion",
                json!({"event": e.event_id}),
            )
            .unwrap();
        let index = proof["index"].as_u64().unwrap();
        let path: Vec<Hash> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        let leaf = hash(proof["leaf_hash"].as_str().unwrap());
        assert_eq!(leaf, leaf_hash(&codec::encode(e)));
        assert!(
            verify_inclusion(index, head2.size, &leaf, &path, &head2.root),
            "event {n}"
        );
        assert!(!verify_inclusion(
            index,
            head2.size,
            &leaf,
            &path,
            &head1.root
        ));
        if n < 5 {
            let old = p
                .query(
                    operator(),
                    "prove_inclusion",
                    json!({"event": e.event_id, "size": 5}),
                )
                .unwrap();
            let path: Vec<Hash> = old["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| hash(h.as_str().unwrap()))
                .collect();
            assert!(verify_inclusion(index, 5, &leaf, &path, &head1.root));
        } else {
            assert_eq!(
                p.query(
                    operator(),
                    "prove_inclusion",
                    json!({"event": e.event_id, "size": 5})
                )
                .unwrap_err(),
                "invalid_state"
            );
        }
    }
    // Consistency: today's tree extends the kept one; a forged old root does not check.
    let c = p
        .query(operator(), "prove_consistency", json!({"old_size": 5}))
        .unwrap();
    let path: Vec<Hash> = c["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    assert!(verify_consistency(5, 13, &head1.root, &head2.root, &path));
    assert!(!verify_consistency(5, 13, &[9; 32], &head2.root, &path));
    assert_eq!(
        p.query(operator(), "prove_consistency", json!({"old_size": 14}))
            .unwrap_err(),
        "invalid_request"
    );
    assert_eq!(
        p.query(
            operator(),
            "prove_inclusion",
            json!({"event": Uuid::from_u128(1)})
        )
        .unwrap_err(),
        "not_found"
    );
}

/// Rule A1 (with K5's readers): a proof shows an event's bytes only to those who may read it.
#[test]
fn rule_a1_an_events_bytes_go_only_to_those_who_may_read_it() {
    let mut p = Producers::new();
    let t = at(2026, 12, 1, 9);
    let e = key_shown(&mut p, partner_user(Role::AdminAgent), t);
    p.deliver("entitlement", std::slice::from_ref(&e), t);
    p.audit.tick(t);
    let ask = |p: &mut Producers, by: Actor| {
        p.query(by, "prove_inclusion", json!({"event": e.event_id}))
            .unwrap()["bytes"]
            .clone()
    };
    let bytes = B64.encode(codec::encode(&e));
    assert_eq!(ask(&mut p, operator()), json!(bytes));
    assert_eq!(ask(&mut p, partner_user(Role::GlobalAdmin)), json!(bytes));
    assert_eq!(
        ask(
            &mut p,
            actor(ActorKind::Customer, CUSTOMER, "ga", Role::GlobalAdmin)
        ),
        json!(bytes)
    );
    assert_eq!(ask(&mut p, partner_user(Role::SalesAgent)), Value::Null);
    assert_eq!(
        ask(
            &mut p,
            actor(ActorKind::Partner, OTHER_PARTNER, "ga", Role::GlobalAdmin)
        ),
        Value::Null
    );
    assert_eq!(
        ask(
            &mut p,
            actor(
                ActorKind::Customer,
                TenantId(Uuid::from_u128(0xc9)),
                "ga",
                Role::GlobalAdmin
            )
        ),
        Value::Null
    );
}

/// Rule A1: a burst is sealed in checkpoints of at most 1,024 leaves each.
#[test]
fn rule_a1_a_burst_is_covered_in_checkpoints_of_at_most_seal_every_leaves() {
    let mut p = Producers::new();
    let t = at(2026, 12, 1, 9);
    let n = SEAL_EVERY as usize * 2 + 10;
    let batch: Vec<Envelope> = (0..n)
        .map(|_| {
            p.event(
                "ordering",
                EventKind::OrderPlaced,
                Actor::system("ordering"),
                t,
                |_| {},
            )
        })
        .collect();
    p.deliver("ordering", &batch, t);
    p.audit.tick(t);
    let heads: Vec<u64> = p
        .audit
        .state()
        .checkpoints
        .iter()
        .map(|h| h.signed.size)
        .collect();
    assert_eq!(heads, vec![SEAL_EVERY, 2 * SEAL_EVERY, n as u64]);
    for h in &p.audit.state().checkpoints {
        assert!(h.signed.leaf_hashes.len() as u64 <= SEAL_EVERY);
    }
}

/// Rule A1: verification finds any change, removal or reordering, and names the leaf.
#[test]
fn rule_a1_verification_names_a_changed_removed_or_swapped_leaf() {
    let mut p = Producers::new();
    let t = at(2026, 12, 1, 9);
    let batch: Vec<Envelope> = (0..40)
        .map(|_| {
            p.event(
                "ordering",
                EventKind::OrderPlaced,
                Actor::system("ordering"),
                t,
                |_| {},
            )
        })
        .collect();
    p.deliver("ordering", &batch, t);
    p.audit.tick(t);
    let leaves: Vec<(String, Vec<u8>)> = p.audit.records().to_vec();
    let run = |leaves: &[(String, Vec<u8>)], kept: Option<&str>| {
        let mut v = Verification::new(ORIGIN, key().public());
        for (stream, bytes) in leaves {
            let producer = stream.strip_prefix("inbox/").unwrap_or("audit");
            v.leaf(bytes, producer);
        }
        v.finish(kept).0
    };
    let clean = run(&leaves, None);
    assert!(clean.ok, "{:?}", clean.findings);
    assert_eq!(clean.leaves, 41);
    assert_eq!(clean.checkpoints, 1);

    let mut changed = leaves.clone();
    let last = changed[17].1.len() - 1;
    changed[17].1[last] ^= 1;
    assert_eq!(run(&changed, None).first_bad_index, Some(17));

    let mut removed = leaves.clone();
    removed.remove(23);
    assert_eq!(run(&removed, None).first_bad_index, Some(23));

    let mut swapped = leaves.clone();
    swapped.swap(8, 30);
    assert_eq!(run(&swapped, None).first_bad_index, Some(8));

    // A kept checkpoint catches a log rewritten whole (here: one leaf fewer and no checkpoint).
    let kept = p.query(operator(), "get_checkpoint", json!({})).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    let rewritten: Vec<_> = leaves[1..40].to_vec();
    let report = run(&rewritten, Some(&kept));
    assert!(!report.ok);
    assert_eq!(report.consistent_with_checkpoint, Some(false));
    assert_eq!(
        run(&leaves, Some(&kept)).consistent_with_checkpoint,
        Some(true)
    );

    // The service's own verify, over the leaves it holds.
    let online = p
        .query(operator(), "verify", json!({"checkpoint": kept}))
        .unwrap();
    assert_eq!(online["ok"], true);
    assert_eq!(online["leaves"], 41);
    assert_eq!(
        p.query(partner_user(Role::GlobalAdmin), "verify", json!({}))
            .unwrap_err(),
        "forbidden"
    );
}

fn window(from: Timestamp, to: Timestamp) -> Value {
    json!({"from": from, "to": to})
}

/// Rule A2: the activity log lists key views, downloads and link copies in a range.
#[test]
fn rule_a2_the_activity_log_lists_key_views_downloads_and_link_copies_in_a_range() {
    let mut p = Producers::new();
    let agent = partner_user(Role::AdminAgent);
    let ga = actor(
        ActorKind::Customer,
        CUSTOMER,
        "customer-ga",
        Role::GlobalAdmin,
    );
    let batch = vec![
        entitlement_granted(&mut p, at(2026, 12, 1, 8), 0xe1),
        key_shown(&mut p, agent.clone(), at(2026, 12, 1, 9)),
        link(&mut p, agent.clone(), at(2026, 12, 1, 10), false),
        link(&mut p, ga.clone(), at(2026, 12, 1, 11), true),
        key_shown(&mut p, ga.clone(), at(2026, 12, 2, 0)),
    ];
    p.deliver("entitlement", &batch, at(2026, 12, 2, 1));
    let page = p
        .query(
            partner_user(Role::GlobalAdmin),
            "get_activity",
            window(at(2026, 12, 1, 9), at(2026, 12, 2, 0)),
        )
        .unwrap();
    let records = page["records"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["by"]["user"].as_str().unwrap(),
                r["at"].as_str().unwrap(),
            )
        })
        .collect();
    // From inclusive, to exclusive: the view at exactly `to` is not listed.
    assert_eq!(
        got,
        vec![
            ("view_key", "admin_agent", "2026-12-01T09:00:00Z"),
            ("download", "admin_agent", "2026-12-01T10:00:00Z"),
            ("copy_link", "customer-ga", "2026-12-01T11:00:00Z"),
        ]
    );
    for r in records {
        assert_eq!(r["customer"], json!(CUSTOMER));
        assert_eq!(r["product_name"], "Windows Server 2022 Datacenter");
        assert_eq!(r["refused"], false);
    }
    assert_eq!(page["next"], Value::Null);
    // Another partner's activity is not this partner's.
    let other = p
        .query(
            actor(ActorKind::Partner, OTHER_PARTNER, "ga", Role::GlobalAdmin),
            "get_activity",
            window(at(2026, 1, 1, 0), at(2027, 1, 1, 0)),
        )
        .unwrap();
    assert_eq!(other["records"], json!([]));
    assert_eq!(
        p.query(
            partner_user(Role::GlobalAdmin),
            "get_activity",
            window(at(2026, 12, 2, 0), at(2026, 12, 1, 0))
        )
        .unwrap_err(),
        "invalid_request"
    );
}

/// Rule A3: only the partner's four admin roles read the activity log.
#[test]
fn rule_a3_only_the_partners_global_account_referral_and_marketing_admins_read_the_activity_log() {
    let mut p = Producers::new();
    let batch = vec![key_shown(
        &mut p,
        partner_user(Role::AdminAgent),
        at(2026, 12, 1, 9),
    )];
    p.deliver("entitlement", &batch, at(2026, 12, 1, 9));
    let range = window(at(2026, 12, 1, 0), at(2026, 12, 2, 0));
    for role in [
        Role::GlobalAdmin,
        Role::AccountAdmin,
        Role::ReferralAdmin,
        Role::MarketingContentAdmin,
    ] {
        let page = p
            .query(partner_user(role), "get_activity", range.clone())
            .unwrap();
        assert_eq!(page["records"].as_array().unwrap().len(), 1, "{role:?}");
    }
    for role in [
        Role::SalesAgent,
        Role::HelpdeskAgent,
        Role::AdminAgent,
        Role::BillingAdmin,
    ] {
        assert_eq!(
            p.query(partner_user(role), "get_activity", range.clone())
                .unwrap_err(),
            "forbidden",
            "{role:?}"
        );
    }
    // Outside the partner: not_found, as for a log that does not exist.
    let ga = actor(ActorKind::Partner, OTHER_PARTNER, "ga", Role::GlobalAdmin);
    let mut asks_for_other = range.clone();
    asks_for_other["partner"] = json!(PARTNER);
    assert_eq!(
        p.query(ga, "get_activity", asks_for_other.clone())
            .unwrap_err(),
        "not_found"
    );
    assert_eq!(
        p.query(
            actor(ActorKind::Customer, CUSTOMER, "ga", Role::GlobalAdmin),
            "get_activity",
            asks_for_other
        )
        .unwrap_err(),
        "not_found"
    );
    assert_eq!(
        p.query(operator(), "get_activity", range).unwrap_err(),
        "not_found"
    );
}

/// Rule A4: refused attempts are in the audit log and the activity log.
#[test]
fn rule_a4_refused_attempts_are_in_the_audit_log_and_listed_as_refused() {
    let mut p = Producers::new();
    let sales = partner_user(Role::SalesAgent);
    let batch = vec![
        entitlement_granted(&mut p, at(2026, 12, 1, 8), 0xe7),
        refused_view(&mut p, sales, at(2026, 12, 1, 9), 0xe7),
    ];
    p.deliver("entitlement", &batch, at(2026, 12, 1, 9));
    // In the tree, like every event.
    assert!(p.audit.state().by_event.contains_key(&batch[1].event_id));
    let page = p
        .query(
            partner_user(Role::AccountAdmin),
            "get_activity",
            window(at(2026, 12, 1, 0), at(2026, 12, 2, 0)),
        )
        .unwrap();
    let r = &page["records"][0];
    assert_eq!(r["refused"], true);
    assert_eq!(r["action"], "view_key");
    assert_eq!(r["by"]["roles"], json!(["sales_agent"]));
    assert_eq!(r["item"], format!("entitlement {}", Uuid::from_u128(0xe7)));
    assert_eq!(
        r["product"],
        "extended-security-updates-windows-server-2012"
    );
    assert_eq!(r["event"], json!(batch[1].event_id));
}

/// Rule A5: nothing ages out.
#[test]
fn rule_a5_nothing_ages_out_every_record_ever_made_is_listed_in_pages() {
    let mut p = Producers::new();
    // 900 views of one subscription's key over three years: more than the 800 records and the
    // 90 days Partner Center keeps.
    let start = at(2024, 1, 1, 0);
    let views: Vec<Envelope> = (0..900)
        .map(|i| {
            key_shown(
                &mut p,
                partner_user(Role::AdminAgent),
                Timestamp::from_micros(start.as_micros() + i * 29 * 3_600_000_000),
            )
        })
        .collect();
    p.deliver("entitlement", &views, at(2027, 1, 1, 0));
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut body = window(start, at(2027, 1, 1, 0));
        body["limit"] = json!(250);
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let page = p
            .query(partner_user(Role::ReferralAdmin), "get_activity", body)
            .unwrap();
        seen.extend(
            page["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["event"].clone()),
        );
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    let expected: Vec<Value> = views.iter().map(|v| json!(v.event_id)).collect();
    assert_eq!(seen.len(), 900);
    assert!(seen == expected, "all 900, oldest first, none dropped");
    assert_eq!(p.audit.state().tree.len(), 900, "and every one a leaf");
}
