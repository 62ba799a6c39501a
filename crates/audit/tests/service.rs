//! Audit on the runtime (in-process bus): what a producer publishes becomes a leaf byte for
//! byte — a kind this build does not know included, kept unread rather than held back — and a
//! restart replays the same tree.

use std::time::{Duration, Instant};

use csp_audit::checkpoint::CheckpointKey;
use csp_audit::config::Config;
use csp_audit::merkle::leaf_hash;
use csp_audit::service::AuditService;
use csp_bus::harness::Local;
use csp_bus::runtime;
use csp_bus::Headers;
use csp_events::envelope::OutboxPosition;
use csp_events::fixtures::sample;
use csp_events::{codec, EventKind, Timestamp};
use csp_testkit::identity::Issuers;
use csp_testkit::TempDir;
use uuid::Uuid;

/// `bytes` with its payload's kind (the variant index, postcard's first varint) replaced by
/// one no build has yet: what a newer producer's new kind looks like to this build.
fn as_unknown_kind(bytes: &[u8]) -> Vec<u8> {
    let (_, payload) = codec::decode_header(bytes).unwrap();
    let head = bytes.len() - payload.len();
    let (_, rest) = postcard::take_from_bytes::<u32>(payload).unwrap();
    let mut out = bytes[..head].to_vec();
    out.extend(postcard::to_allocvec(&200u32).unwrap());
    out.extend_from_slice(rest);
    out
}

fn published(kind: EventKind, seq: u64, epoch: Uuid) -> Vec<u8> {
    let mut e = sample(kind);
    e.event_id = csp_events::EventId(Uuid::now_v7());
    e.outbox = Some(OutboxPosition { seq, epoch });
    codec::encode(&e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_a1_a_kind_this_build_does_not_know_is_a_leaf_as_published_and_survives_replay() {
    csp_testkit::within(Duration::from_secs(60), async {
        let dir = TempDir::new("csp-audit-opaque").unwrap();
        let local = Local::new(
            dir.path(),
            Issuers::new().auth_config(),
            Timestamp::ymd_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        );
        let config = || {
            Config::new(
                CheckpointKey::from_seed("csp-audit/t", &[3; 32]),
                Duration::from_secs(3600),
            )
        };
        let audit = runtime::start::<AuditService>(local.config("audit"), config())
            .await
            .unwrap();
        let epoch = Uuid::now_v7();
        let known = published(EventKind::OrderPlaced, 1, epoch);
        let unknown = as_unknown_kind(&published(EventKind::OrderPlaced, 2, epoch));
        assert!(
            codec::decode(&unknown).unwrap_err().is_newer(),
            "a newer kind"
        );
        let after = published(EventKind::SubscriptionStarted, 3, epoch);
        // The in-process bus delivers only to a consumer already subscribed (a real producer's
        // log fills what a consumer missed): publish in order until all three are kept; a
        // record delivered twice is kept once (its outbox position).
        let wanted = [leaf_hash(&known), leaf_hash(&unknown), leaf_hash(&after)];
        let copies = |h: &[u8; 32]| {
            audit.with_state(|a| {
                (0..a.state.tree.len())
                    .filter(|i| a.state.tree.leaf(*i).as_ref() == Some(h))
                    .count()
            })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while wanted.iter().any(|h| copies(h) == 0) {
            for bytes in [&known, &unknown, &after] {
                local
                    .bus
                    .publish(
                        "csp.evt.ordering.order_placed.x.y",
                        Headers::new(),
                        bytes::Bytes::from(bytes.clone()),
                    )
                    .await
                    .unwrap();
            }
            assert!(Instant::now() < deadline, "audit did not keep all three");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for h in &wanted {
            assert_eq!(copies(h), 1, "each kept once");
        }
        let (hashes, root) = audit.with_state(|a| {
            let s = &a.state;
            let hashes: Vec<_> = (0..s.tree.len()).filter_map(|i| s.tree.leaf(i)).collect();
            (hashes, s.tree.root())
        });
        for bytes in [&known, &unknown, &after] {
            assert!(
                hashes.contains(&leaf_hash(bytes)),
                "each kept byte for byte, in order"
            );
        }
        audit.shutdown().await;
        // Replayed from the log at the next start, the unknown record included.
        let again = runtime::start::<AuditService>(local.config("audit"), config())
            .await
            .unwrap();
        assert_eq!(again.with_state(|a| a.state.tree.root()), root);
        again.shutdown().await;
    })
    .await
}
