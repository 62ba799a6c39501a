//! Tampering with a copy of the audit service's sled database, through sled itself, and
//! `csp audit verify` naming what changed (RULES.md A1): one byte of one leaf, a leaf
//! removed, two leaves swapped, a leaf changed with every stored hash rewritten to match, and
//! the whole log rewritten consistently after a checkpoint was taken (caught by the checkpoint
//! kept outside). The log is the one `csp demo` leaves: four services' real events.

use std::path::{Path, PathBuf};
use std::process::Command;

use csp_audit::checkpoint::{note, TreeHead};
use csp_audit::merkle::{leaf_hash, Tree};
use csp_eventlog::value::{encode_event, PageBuilder};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, Event};
use csp_testkit::e2e::csp_binary;
use serde_json::Value;

/// One stored event, as the log holds it.
#[derive(Clone)]
struct Rec {
    id: [u8; 16],
    stream: String,
    version: u64,
    outbox: Option<u64>,
    bytes: Vec<u8>,
}

fn csp(args: &[&str]) -> std::process::Output {
    Command::new(csp_binary())
        .args(args)
        .output()
        .expect("run csp")
}

fn read(dir: &Path) -> Vec<Rec> {
    let log = EventLog::open(dir, LogOptions::default()).unwrap();
    let recs = log
        .read_from(1)
        .map(|r| {
            let r = r.unwrap();
            Rec {
                id: *r.event_id.as_bytes(),
                stream: r.stream().to_string(),
                version: r.version,
                outbox: r.outbox_seq,
                bytes: r.bytes().to_vec(),
            }
        })
        .collect();
    drop(log);
    recs
}

/// Replaces the log's events, through sled, with `recs` numbered from 1 (a careful forger
/// leaves no gap).
fn write(dir: &Path, recs: &[Rec]) {
    let db = sled::open(dir).unwrap();
    let events = db.open_tree("events").unwrap();
    events.clear().unwrap();
    let mut pages = PageBuilder::default();
    for (i, r) in recs.iter().enumerate() {
        let mut value = Vec::new();
        encode_event(&mut value, &r.id, &r.stream, r.version, r.outbox, &r.bytes);
        pages.push(i as u64 + 1, &value);
    }
    pages.close();
    for (seq, page) in pages.finish() {
        events.insert(seq.to_be_bytes(), page).unwrap();
    }
    db.flush().unwrap();
}

struct Installation {
    _root: csp_testkit::TempDir,
    data: PathBuf,
    public_key: String,
}

fn demo() -> Installation {
    let root = csp_testkit::TempDir::new("csp-audit-tamper").unwrap();
    let data = root.path().join("data");
    let out = csp(&["demo", "--data", data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = csp(&["audit", "public-key", "--data", data.to_str().unwrap()]);
    assert!(key.status.success());
    Installation {
        _root: root,
        data,
        public_key: String::from_utf8(key.stdout).unwrap().trim().to_string(),
    }
}

impl Installation {
    /// A copy of the installation's data to tamper with.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.data.with_file_name(name);
        csp_testkit::copy_dir(&self.data, &to);
        to
    }

    /// `csp audit verify --json` on `data` (its producers' logs beside), the key pinned.
    fn verify(&self, data: &Path, extra: &[&str]) -> (bool, Value) {
        let mut args = vec![
            "audit",
            "verify",
            "--json",
            "--data",
            data.to_str().unwrap(),
            "--public-key",
            &self.public_key,
        ];
        args.extend_from_slice(extra);
        let out = csp(&args);
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), report)
    }
}

fn audit_log(data: &Path) -> PathBuf {
    data.join("audit").join("log")
}

/// The index of an upstream copy from ordering well inside the first checkpoint.
fn an_ordering_leaf(recs: &[Rec]) -> usize {
    recs.iter()
        .enumerate()
        .position(|(i, r)| i >= 4 && r.stream == "inbox/ordering")
        .unwrap()
}

fn is_checkpoint(r: &Rec) -> bool {
    matches!(
        codec::decode(&r.bytes).map(|e| e.payload),
        Ok(Event::CheckpointSigned(_))
    )
}

#[test]
fn rule_a1_verify_names_each_tampered_leaf_and_a_kept_checkpoint_catches_a_whole_rewrite() {
    let inst = demo();
    let (ok, clean) = inst.verify(&inst.data, &[]);
    assert!(ok, "{clean}");
    let leaves = clean["leaves"].as_u64().unwrap();
    assert!(leaves > 40, "{clean}");
    let original = read(&audit_log(&inst.data));
    let i = an_ordering_leaf(&original);

    // One byte of one leaf.
    let data = inst.copy("changed");
    let mut recs = original.clone();
    let last = recs[i].bytes.len() - 1;
    recs[i].bytes[last] ^= 0x01;
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");

    // One leaf removed (the rest renumbered, leaving no gap).
    let data = inst.copy("removed");
    let mut recs = original.clone();
    recs.remove(i);
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");

    // Two leaves swapped.
    let data = inst.copy("swapped");
    let mut recs = original.clone();
    recs.swap(i, i + 3);
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");

    // A leaf changed and every stored hash rewritten to match: the leaf hash and root in each
    // checkpoint that covers it. Only the signature cannot be redone. The producer's own log
    // names the leaf; the signed root says the range was rewritten.
    let data = inst.copy("rehashed");
    let mut recs = original.clone();
    let last = recs[i].bytes.len() - 1;
    recs[i].bytes[last] ^= 0x01;
    let mut tree = Tree::new();
    for r in recs.iter_mut() {
        if let Ok(mut env) = codec::decode(&r.bytes) {
            if let Event::CheckpointSigned(c) = &mut env.payload {
                let first = c.size - c.leaf_hashes.len() as u64;
                for (k, h) in c.leaf_hashes.iter_mut().enumerate() {
                    *h = tree.leaf(first + k as u64).unwrap();
                }
                c.root = tree.root_at(c.size).unwrap();
                r.bytes = codec::encode(&env);
            }
        }
        tree.push(&r.bytes);
    }
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");
    let findings = report["findings"].to_string();
    assert!(
        findings.contains("not signed by the pinned key"),
        "{findings}"
    );
    // Without the producers' logs beside it, the broken signature still fails it.
    let (ok, report) = inst.verify(
        Path::new("/nonexistent"),
        &["--log", audit_log(&data).to_str().unwrap()],
    );
    assert!(!ok, "{report}");

    // The whole log rewritten consistently after a checkpoint was taken: a leaf changed and
    // every checkpoint dropped (none can be re-signed). Alone it looks whole; the checkpoint
    // an auditor kept does not extend to it.
    let kept_head = original
        .iter()
        .rev()
        .find_map(|r| match codec::decode(&r.bytes).ok()?.payload {
            Event::CheckpointSigned(c) => Some(c),
            _ => None,
        })
        .unwrap();
    let kept = note(
        &TreeHead {
            origin: kept_head.origin.clone(),
            size: kept_head.size,
            root: kept_head.root,
            time: kept_head.time.to_string(),
        },
        &kept_head.origin,
        &kept_head.signature,
    );
    let kept_file = inst.data.with_file_name("kept-checkpoint.txt");
    std::fs::write(&kept_file, &kept).unwrap();
    let kept_arg = ["--checkpoint", kept_file.to_str().unwrap()];
    let (ok, report) = inst.verify(&inst.data, &kept_arg);
    assert!(ok, "{report}");
    assert_eq!(report["consistent_with_checkpoint"], true);

    let data = inst.copy("rewritten");
    let mut recs: Vec<Rec> = original
        .iter()
        .filter(|r| !is_checkpoint(r))
        .cloned()
        .collect();
    let last = recs[i].bytes.len() - 1;
    recs[i].bytes[last] ^= 0x01;
    write(&audit_log(&data), &recs);
    let log = audit_log(&data);
    let alone = ["--log", log.to_str().unwrap()];
    let (ok, report) = inst.verify(Path::new("/nonexistent"), &alone);
    assert!(
        ok,
        "nothing in the rewritten log itself betrays it: {report}"
    );
    let mut with_kept = alone.to_vec();
    with_kept.extend_from_slice(&kept_arg);
    let (ok, report) = inst.verify(Path::new("/nonexistent"), &with_kept);
    assert!(!ok);
    assert_eq!(report["consistent_with_checkpoint"], false, "{report}");

    // The leaf hashes agree with RFC 6962's, recomputed here from the stored bytes.
    let mut tree = Tree::new();
    for r in &original {
        tree.push(&r.bytes);
    }
    assert_eq!(tree.leaf(0), Some(leaf_hash(&original[0].bytes)));
    assert_eq!(
        clean["root"].as_str().unwrap(),
        base64_of(&tree.root()),
        "csp's root is the one recomputed independently"
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

mod four_services {
    //! The four services as separate `csp serve` processes over a real nats-server: the
    //! activity log of key views, downloads, link copies and a refused view (A2–A4), its
    //! readers (A3), and every event of every producer in the audit log exactly once after
    //! audit is killed and restarted mid-story (A1), checked against each producer's own log.

    use std::process::Command;
    use std::time::{Duration, Instant};

    use csp_events::{Role, TenantId};
    use csp_testkit::e2e::{code, ok, request as send, status, Csp};
    use csp_testkit::identity::Issuers;
    use csp_testkit::{NatsServer, TempDir};
    use serde_json::{json, Value};
    use uuid::Uuid;

    const P1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00da_0001));
    const C1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00dc_0001));
    const START: &str = "2026-12-01T09:00:00Z";

    fn hours(h: i64) -> String {
        let t: csp_events::Timestamp = START.parse().unwrap();
        csp_events::Timestamp::from_micros(t.as_micros() + h * 3_600_000_000).to_string()
    }

    /// `csp audit verify --json` of the stopped services under `root` (one directory each), the
    /// checkpoint key pinned: whether it holds, and the report.
    fn verify_offline(root: &std::path::Path) -> (bool, Value) {
        let csp = env!("CARGO_BIN_EXE_csp");
        let audit = root.join("audit");
        let key = Command::new(csp)
            .args(["audit", "public-key", "--data", audit.to_str().unwrap()])
            .output()
            .unwrap();
        let key = String::from_utf8(key.stdout).unwrap();
        let out = Command::new(csp)
            .args([
                "audit",
                "verify",
                "--json",
                "--data",
                root.to_str().unwrap(),
            ])
            .args([
                "--log",
                audit.join("log").to_str().unwrap(),
                "--public-key",
                key.trim(),
            ])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), report)
    }

    /// Waits until audit holds everything ordering, entitlement and billing published.
    async fn caught_up(client: &async_nats::Client, operator: &str) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let held = status(client, "audit", operator, false).await;
            let mut published = 0;
            let mut behind = false;
            for p in ["ordering", "entitlement", "billing"] {
                let s = status(client, p, operator, false).await;
                let last = s["last_outbox_seq"].as_u64().unwrap();
                published += last;
                let epoch = s["epoch"].as_str().unwrap();
                behind |= held["upstream_positions"][p][epoch].as_u64().unwrap_or(0) < last;
            }
            if !behind {
                return published;
            }
            assert!(Instant::now() < deadline, "audit never caught up: {held}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_activity_log_lists_exactly_what_was_done_and_audit_holds_every_event_once() {
        let _serial = csp_testkit::e2e::serial().await;
        csp_testkit::within(Duration::from_secs(300), async {
            let nats = NatsServer::start().unwrap();
            nats.wait_for_jetstream().await.unwrap();
            let url = nats.url();
            let root = TempDir::new("csp-e2e-audit").unwrap();
            let issuers = Issuers::new().partner(P1).customer(C1);
            let mut flags = issuers.serve_flags(root.path());
            flags.extend(["--manual-clock", START].map(String::from));
            let common: Vec<&str> = flags.iter().map(String::as_str).collect();
            let dir = |s: &str| root.path().join(s);
            let mut ordering = Csp::serve(&url, "ordering", &dir("ordering"), &common).await;
            let mut links = common.clone();
            links.extend(["--download-addr", "127.0.0.1:0"]);
            let mut entitlement = Csp::serve(&url, "entitlement", &dir("entitlement"), &links).await;
            let mut billing = Csp::serve(&url, "billing", &dir("billing"), &common).await;
            let mut audit = Csp::serve(&url, "audit", &dir("audit"), &common).await;
            let client = async_nats::connect(url.as_str()).await.unwrap();
            let admin = issuers.partner_user(P1, Role::AdminAgent);
            let customer = issuers.customer_admin(C1);
            let operator = issuers.platform_user(Role::Operator);

            ok(&client, "csp.cmd.ordering.add_customer", &admin, json!({"request_id": "c1",
                "tenant_id": C1, "domain": "c1.example", "company_name": "C1 Ltd",
                "country": "US", "currency": "USD"})).await;
            let placed = ok(&client, "csp.cmd.ordering.place_order", &admin, json!({"request_id": "o1",
                "customer": C1, "lines": [
                    {"product": "sql-server-2022-standard", "sku": "2-core-p1y", "quantity": 1, "term": "P1Y", "billing_plan": "annual"}
                ]})).await;
            let sub = placed["lines"][0]["subscription_id"].as_str().unwrap().to_string();
            let deadline = Instant::now() + Duration::from_secs(30);
            while status(&client, "entitlement", &operator, false).await["state"]["entitlements"] != 1 {
                assert!(Instant::now() < deadline, "entitlement never granted");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let keys = root.path().join("keys.csv");
            let csp = env!("CARGO_BIN_EXE_csp");
            let out = Command::new(csp)
                .args(["keys", "generate", "--out", keys.to_str().unwrap()])
                .args(["--pool", "sql-server-2022-standard/2-core-p1y/SQL Server 2022=2"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let importer = issuers.platform_user(Role::Importer);
            let out = Command::new(csp)
                .args(["keys", "import", "--file", keys.to_str().unwrap(), "--nats", &url, "--token", &importer])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let sel = json!({"customer": C1, "entitlement": sub, "version": "SQL Server 2022",
                "language": "English", "file_type": "ISO (x64)"});
            let mut generate = sel.clone();
            generate["request_id"] = json!("g1");
            ok(&client, "csp.cmd.entitlement.generate_keys", &admin, generate).await;
            let get_key = json!({"customer": C1, "entitlement": sub, "version": "SQL Server 2022"});

            // One action an hour on entitlement's clock: a view, a download, a link copy, a
            // refused view; then a view at exactly the end of the range asked for.
            let sales = issuers.partner_user(P1, Role::SalesAgent);
            let advance = || async {
                ok(&client, "csp.admin.entitlement.clock", &operator, json!({"advance_seconds": 3600})).await;
            };
            ok(&client, "csp.qry.entitlement.get_key", &admin, get_key.clone()).await;
            advance().await;
            ok(&client, "csp.qry.entitlement.get_download_link", &admin, sel.clone()).await;
            advance().await;
            // Audit is killed mid-story: what it had not acknowledged is redelivered.
            audit.kill();
            ok(&client, "csp.qry.entitlement.copy_link", &customer, sel.clone()).await;
            advance().await;
            let r = send(&client, "csp.qry.entitlement.get_key", &sales, &get_key).await;
            assert_eq!(code(&r), "forbidden", "{r}");
            advance().await;
            ok(&client, "csp.qry.entitlement.get_key", &customer, get_key.clone()).await;
            audit.start_again(&url, "audit").await;
            let published = caught_up(&client, &operator).await;

            // A2–A4, as the partner's account admin reads it: exactly those four, in order.
            let reader = issuers.partner_user(P1, Role::AccountAdmin);
            let range = json!({"from": hours(0), "to": hours(4)});
            let page = ok(&client, "csp.qry.audit.get_activity", &reader, range.clone()).await;
            let got: Vec<(String, String, bool, String)> = page["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["at"].as_str().unwrap().to_string(),
                        r["action"].as_str().unwrap().to_string(),
                        r["refused"].as_bool().unwrap(),
                        r["by"]["roles"][0].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let want = |h: i64, a: &str, refused: bool, role: &str| (hours(h), a.to_string(), refused, role.to_string());
            assert_eq!(
                got,
                vec![
                    want(0, "view_key", false, "admin_agent"),
                    want(1, "download", false, "admin_agent"),
                    want(2, "copy_link", false, "global_admin"),
                    want(3, "view_key", true, "sales_agent"),
                ],
                "the view at exactly `to` is not listed"
            );
            // A4: the refused attempt names the item refused, and its product.
            let refused = &page["records"][3];
            assert_eq!(refused["item"], format!("entitlement {sub}"), "{refused}");
            assert_eq!(refused["product"], "sql-server-2022-standard", "{refused}");
            for role in [Role::SalesAgent, Role::HelpdeskAgent] {
                let r = send(&client, "csp.qry.audit.get_activity", &issuers.partner_user(P1, role), &range).await;
                assert_eq!(code(&r), "forbidden", "{role:?}: {r}");
            }
            // The same, as CSV, with the CLI.
            let out = Command::new(csp)
                .args(["audit", "activity", "--partner", &P1.to_string(), "--from", &hours(0), "--to", &hours(5), "--csv"])
                .args(["--nats", &url, "--token", &reader])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let csv = String::from_utf8(out.stdout).unwrap();
            assert_eq!(csv.lines().count(), 6, "a header and five records: {csv}");

            // A checkpoint covering everything, a proof of the refused view against it.
            let cp = ok(&client, "csp.cmd.audit.sign_checkpoint", &operator, json!({"request_id": "final"})).await;
            assert!(cp["size"].as_u64().unwrap() > published, "{cp}");
            let refused_event = page["records"][3]["event"].clone();
            let proof = ok(&client, "csp.qry.audit.prove_inclusion", &reader, json!({"event": refused_event})).await;
            assert_eq!(proof["producer"], "entitlement");
            let live = status(&client, "audit", &operator, true).await;
            // Discoverable like every service.
            let info = client.request("$SRV.INFO.audit", bytes::Bytes::new()).await.unwrap();
            let info: Value = serde_json::from_slice(&info.payload).unwrap();
            assert_eq!(info["name"], "audit", "{info}");

            for s in [&mut audit, &mut billing, &mut entitlement, &mut ordering] {
                s.terminate();
            }
            // Live = replay.
            let out = Command::new(csp)
                .args(["replay", "audit", "--json", "--data", dir("audit").to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(replayed["state"]["digest"], live["state"]["digest"], "live = replay");
            // A1, offline, against each producer's own log: every published event once, in
            // outbox order, byte for byte.
            let (ok, report) = verify_offline(root.path());
            assert!(ok, "{report}");
            assert_eq!(report["first_bad_index"], Value::Null);
            assert!(report["leaves"].as_u64().unwrap() > published);
        })
        .await
    }

    /// A1 after an operator's restore (deploy/README.md): ordering restored from a backup taken
    /// before its last events, `csp restored`, then more events under its new epoch (reusing
    /// outbox seqs). The audit log keeps what ordering published before the restore, and `csp
    /// audit verify` checks each copy as it went out — under the epoch that published it —
    /// noting, not failing on, the events the restored log no longer holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rule_a1_the_audit_log_verifies_after_a_producer_is_restored_from_a_backup() {
        let _serial = csp_testkit::e2e::serial().await;
        csp_testkit::within(Duration::from_secs(300), async {
            let nats = NatsServer::start().unwrap();
            nats.wait_for_jetstream().await.unwrap();
            let url = nats.url();
            let root = TempDir::new("csp-e2e-audit-restore").unwrap();
            let issuers = Issuers::new().partner(P1);
            let common = issuers.serve_flags(root.path());
            let common: Vec<&str> = common.iter().map(String::as_str).collect();
            let dir = |s: &str| root.path().join(s);
            let mut ordering = Csp::serve(&url, "ordering", &dir("ordering"), &common).await;
            let mut audit = Csp::serve(&url, "audit", &dir("audit"), &common).await;
            let client = async_nats::connect(url.as_str()).await.unwrap();
            let admin = issuers.partner_user(P1, Role::AdminAgent);
            let operator = issuers.platform_user(Role::Operator);
            let add = |n: u128| {
                json!({"request_id": format!("c{n}"),
                    "tenant_id": TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00dd_0000 + n)),
                    "domain": format!("c{n}.example"), "company_name": "C Ltd", "country": "US",
                    "currency": "USD"})
            };
            // Audit holds what ordering published, under the epoch it has now.
            let held = |client: &async_nats::Client| {
                let client = client.clone();
                let operator = operator.clone();
                async move {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        let o = status(&client, "ordering", &operator, false).await;
                        let a = status(&client, "audit", &operator, false).await;
                        let epoch = o["epoch"].as_str().unwrap();
                        let last = o["last_outbox_seq"].as_u64().unwrap();
                        if a["upstream_positions"]["ordering"][epoch].as_u64().unwrap_or(0) >= last {
                            return;
                        }
                        assert!(Instant::now() < deadline, "audit never caught up: {a}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };

            ok(&client, "csp.cmd.ordering.add_customer", &admin, add(1)).await;
            held(&client).await;
            // The backup: ordering stopped, its directory copied.
            ordering.terminate();
            let backup = root.path().join("ordering-backup");
            csp_testkit::copy_dir(&dir("ordering"), &backup);
            ordering.start_again(&url, "ordering").await;
            for n in 2..=3 {
                ok(&client, "csp.cmd.ordering.add_customer", &admin, add(n)).await;
            }
            held(&client).await;
            // Lost: ordering's data replaced by the backup, marked restored, started again.
            ordering.terminate();
            std::fs::remove_dir_all(dir("ordering")).unwrap();
            csp_testkit::copy_dir(&backup, &dir("ordering"));
            let csp = env!("CARGO_BIN_EXE_csp");
            let out = Command::new(csp)
                .args(["restored", dir("ordering").join("log").to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            ordering.start_again(&url, "ordering").await;
            for n in 4..=5 {
                ok(&client, "csp.cmd.ordering.add_customer", &admin, add(n)).await;
            }
            held(&client).await;
            audit.terminate();
            ordering.terminate();

            let (ok, report) = verify_offline(root.path());
            assert!(ok, "{report}");
            let findings = report["findings"].to_string();
            assert!(findings.contains("restored from a backup"), "{report}");
        })
        .await
    }
}
