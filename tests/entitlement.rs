//! Entitlement over a real nats-server, ordering and entitlement as separate `csp serve`
//! processes trusting issuers bound to tenants, keys imported with `csp keys import`, links
//! opened with curl:
//!
//! purchase → keys generated → shown to the selling partner's `admin_agent` and to the
//! customer's own `global_admin`, refused to a `sales_agent`, another partner and another
//! customer (each refusal recorded) → cancellation → the key is never shown again, its link
//! answers `link_revoked` to curl, the item is listed as revoked without a key. Tampered and
//! expired links answer `bad_signature` and `link_expired`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;

use csp_entitlement::keyring::{Keyring, MasterSource};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, DataKeyId, Event, Role, TenantId};
use csp_testkit::e2e::{code, ok, request as send, Csp};
use csp_testkit::identity::Issuers;
use csp_testkit::{NatsServer, TempDir};
use serde_json::{json, Value};
use uuid::Uuid;

const P1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0001));
const P2: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0002));
const C1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0001));
const C2: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0002));
const START: &str = "2026-12-01T09:00:00Z";

/// curl's view of a URL: the HTTP status and the body.
fn curl(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl (a real HTTP client) is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn events_of(log: &Path, kind: &str) -> usize {
    let log = EventLog::open(log, LogOptions::default()).unwrap();
    log.read_from(1)
        .map(|r| codec::decode(r.unwrap().bytes()).unwrap())
        .filter(|e| e.payload.name() == kind)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_shown_to_whom_they_may_be_and_revoked_everywhere_on_cancel() {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(300), async {
        let nats = NatsServer::start().unwrap();
        nats.wait_for_jetstream().await.unwrap();
        let root = TempDir::new("csp-e2e-entitlement").unwrap();
        let issuers = Issuers::new().partner(P1).partner(P2).customer(C1).customer(C2);
        let mut flags = issuers.serve_flags(root.path());
        flags.extend(["--manual-clock", START].map(String::from));
        let common: Vec<&str> = flags.iter().map(String::as_str).collect();
        let ordering_dir = root.path().join("ordering");
        let entitlement_dir = root.path().join("entitlement");
        let mut ordering = Csp::serve(&nats.url(), "ordering", &ordering_dir, &common).await;
        let mut extra = common.to_vec();
        extra.extend(["--download-addr", "127.0.0.1:0"]);
        let mut entitlement = Csp::serve(&nats.url(), "entitlement", &entitlement_dir, &extra).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let admin = issuers.partner_user(P1, Role::AdminAgent);
        let operator = issuers.platform_user(Role::Operator);

        ok(&client, "csp.cmd.ordering.add_customer", &admin, json!({"request_id": "c1",
            "tenant_id": C1, "domain": "c1.example", "company_name": "C1 Ltd",
            "country": "US", "currency": "USD"})).await;
        let placed = ok(&client, "csp.cmd.ordering.place_order", &admin, json!({"request_id": "o1",
            "customer": C1, "lines": [
                {"product": "sql-server-2022-standard", "sku": "2-core-p1y", "quantity": 1, "term": "P1Y", "billing_plan": "annual"},
                {"product": "sql-server-2022-standard-perpetual", "sku": "2-core", "quantity": 1, "term": "perpetual", "billing_plan": "one_time"}
            ]})).await;
        let sub = placed["lines"][0]["subscription_id"].as_str().unwrap().to_string();
        let perpetual = placed["lines"][1]["purchase_id"].as_str().unwrap().to_string();

        // Entitlement, another process, consumed the purchase.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = csp_testkit::e2e::status(&client, "entitlement", &operator, false).await;
            if s["state"]["entitlements"] == 2 {
                break;
            }
            assert!(Instant::now() < deadline, "entitlement never granted: {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // Keys in, sealed, with the real CLI.
        let keys = root.path().join("keys.csv");
        let importer = issuers.platform_user(Role::Importer);
        let csp = env!("CARGO_BIN_EXE_csp");
        let out = Command::new(csp)
            .args(["keys", "generate", "--out", keys.to_str().unwrap()])
            .args(["--pool", "sql-server-2022-standard/2-core-p1y/SQL Server 2022=3"])
            .args(["--pool", "sql-server-2022-standard-perpetual/2-core/SQL Server 2022=3"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = Command::new(csp)
            .args(["keys", "import", "--file", keys.to_str().unwrap(), "--nats", &nats.url(), "--token", &importer])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        let sel = json!({"customer": C1, "version": "SQL Server 2022", "language": "English", "file_type": "ISO (x64)"});
        let with = |entitlement: &str, extra: Value| {
            let mut b = sel.clone();
            b["entitlement"] = json!(entitlement);
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        ok(&client, "csp.cmd.entitlement.generate_keys", &admin, with(&sub, json!({"request_id": "g1"}))).await;
        ok(&client, "csp.cmd.entitlement.generate_keys", &admin, with(&perpetual, json!({"request_id": "g2"}))).await;
        let get_key = json!({"customer": C1, "entitlement": sub, "version": "SQL Server 2022"});
        let shown = ok(&client, "csp.qry.entitlement.get_key", &admin, get_key.clone()).await;
        let key = shown["key"].as_str().unwrap().to_string();
        assert_eq!(key.len(), 29, "{key}");
        let customer = issuers.customer_admin(C1);
        let again = ok(&client, "csp.qry.entitlement.get_key", &customer, get_key.clone()).await;
        assert_eq!(again["key"], key.as_str(), "the customer's own global admin sees it");
        for (who, token, expected) in [
            ("sales agent", issuers.partner_user(P1, Role::SalesAgent), "forbidden"),
            ("another partner", issuers.partner_user(P2, Role::AdminAgent), "not_found"),
            ("another customer", issuers.customer_admin(C2), "not_found"),
        ] {
            let r = send(&client, "csp.qry.entitlement.get_key", &token, &get_key).await;
            assert_eq!(code(&r), expected, "{who}: {r}");
            assert!(!r.to_string().contains(&key), "{who} saw the key");
        }

        // Links a person opens with curl.
        let link = ok(&client, "csp.qry.entitlement.get_download_link", &admin, with(&sub, json!({}))).await;
        let url = link["url"].as_str().unwrap().to_string();
        let (status, body) = curl(&url);
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("SQL Server 2022"), "{body}");
        let other = ok(&client, "csp.qry.entitlement.copy_link", &customer, with(&perpetual, json!({}))).await;
        let other_url = other["url"].as_str().unwrap().to_string();
        let (base, token) = url.rsplit_once('/').unwrap();
        let mut bad = token.to_string();
        let flipped = if bad.ends_with('A') { "B" } else { "A" };
        bad.replace_range(bad.len() - 1.., flipped);
        let (status, body) = curl(&format!("{base}/{bad}"));
        assert_eq!((status, body.contains("bad_signature")), (403, true), "{body}");

        // The cancellation: never shown again, link dead, item listed as revoked.
        ok(&client, "csp.cmd.ordering.cancel_subscription", &admin,
           json!({"request_id": "x1", "customer": C1, "subscription_id": sub})).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut views = 2;
        loop {
            let r = send(&client, "csp.qry.entitlement.get_key", &customer, &get_key).await;
            if code(&r) == "entitlement_revoked" {
                break;
            }
            assert_eq!(code(&r), "ok", "{r}");
            views += 1;
            assert!(Instant::now() < deadline, "the key was never revoked");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = send(&client, "csp.qry.entitlement.get_key", &admin, &get_key).await;
        assert_eq!(code(&r), "entitlement_revoked", "{r}");
        let (status, body) = curl(&url);
        assert_eq!((status, body.contains("link_revoked")), (410, true), "{body}");
        let page = ok(&client, "csp.qry.entitlement.get_software", &customer, json!({"customer": C1})).await;
        let item = page["items"].as_array().unwrap().iter().find(|i| i["entitlement"] == sub.as_str()).unwrap().clone();
        assert_eq!((item["status"].as_str(), item["key_available"].as_bool()), (Some("revoked"), Some(false)), "{item}");

        // Expiry, on the service's clock: 25 hours on, the other link is dead too.
        let (status, _) = curl(&other_url);
        assert_eq!(status, 200);
        let r = send(&client, "csp.admin.entitlement.clock", &operator, &json!({"advance_seconds": 25 * 3600})).await;
        assert_eq!(code(&r), "ok", "{r}");
        let (status, body) = curl(&other_url);
        assert_eq!((status, body.contains("link_expired")), (410, true), "{body}");

        // $SRV discovery, and the live state is a fold of the log: `csp replay` agrees.
        let info = client.request("$SRV.INFO.entitlement", Bytes::new()).await.unwrap();
        let info: Value = serde_json::from_slice(&info.payload).unwrap();
        assert_eq!(info["name"], "entitlement", "{info}");
        let live = csp_testkit::e2e::status(&client, "entitlement", &operator, true).await;
        entitlement.terminate();
        ordering.terminate();
        let out = Command::new(csp)
            .args(["replay", "entitlement", "--json", "--data", entitlement_dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(replayed["state"]["digest"], live["state"]["digest"], "live = replay");
        let log = entitlement_dir.join("log");
        assert_eq!(events_of(&log, "access_refused"), 3, "each refusal recorded once");
        assert_eq!(events_of(&log, "key_shown"), views, "each view answered, recorded");
        assert_eq!(events_of(&log, "download_link_issued"), 2);
    })
    .await
}

/// Every sealed key the entitlement log holds, and which of them a keyring opens.
fn opened_keys(log: &Path, keyring: &Keyring) -> (Vec<DataKeyId>, Vec<DataKeyId>) {
    let log = EventLog::open(log, LogOptions::default()).unwrap();
    let (mut open, mut shut) = (Vec::new(), Vec::new());
    for r in log.read_from(1) {
        if let Event::KeyPoolFilled(f) = codec::decode(r.unwrap().bytes()).unwrap().payload {
            for s in &f.keys {
                match keyring.unseal(s) {
                    Ok(_) => open.push(s.data_key),
                    Err(_) => shut.push(s.data_key),
                }
            }
        }
    }
    (open, shut)
}

fn generated_data_key(log: &Path) -> DataKeyId {
    let log = EventLog::open(log, LogOptions::default()).unwrap();
    log.read_from(1)
        .find_map(
            |r| match codec::decode(r.unwrap().bytes()).unwrap().payload {
                Event::KeysGenerated(k) => Some(k.data_key),
                _ => None,
            },
        )
        .expect("keys were generated")
}

/// A view that cannot be recorded shows no key (K7). SIGKILL between `entitlement_ended`
/// (durable) and the destruction of its data keys: the
/// restarted service destroys them before serving. SIGKILL in the middle of a master-key
/// rotation, at each of its steps: no live key lost, no old master key left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k7_an_unrecorded_view_shows_no_key_k8_crashes_mid_revocation_and_mid_rotation_lose_nothing(
) {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(300), async {
        let nats = NatsServer::start().unwrap();
        nats.wait_for_jetstream().await.unwrap();
        let root = TempDir::new("csp-e2e-entitlement-crash").unwrap();
        let keys = csp_testkit::e2e::Keys::new("csp-e2e-entitlement-crash-keys");
        let mut flags: Vec<&str> = keys.keys.iter().map(String::as_str).collect();
        flags.extend(["--manual-clock", START]);
        let ordering_dir = root.path().join("ordering");
        let entitlement_dir = root.path().join("entitlement");
        let _ordering = Csp::serve(&nats.url(), "ordering", &ordering_dir, &flags).await;
        let mut with_links = flags.clone();
        with_links.extend(["--download-addr", "127.0.0.1:0", "--rotate-every", "1000"]);
        let mut entitlement =
            Csp::serve(&nats.url(), "entitlement", &entitlement_dir, &with_links).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let agent = keys.agent.clone();
        let customer = csp_testkit::e2e::CUSTOMER;
        ok(&client, "csp.cmd.ordering.add_customer", &agent, json!({"request_id": "c1",
            "tenant_id": customer, "domain": "c1.example", "company_name": "C1 Ltd",
            "country": "US", "currency": "USD"})).await;
        let placed = ok(&client, "csp.cmd.ordering.place_order", &agent, json!({"request_id": "o1",
            "customer": customer, "lines": [
                {"product": "sql-server-2022-standard", "sku": "2-core-p1y", "quantity": 1, "term": "P1Y", "billing_plan": "annual"}
            ]})).await;
        let sub = placed["lines"][0]["subscription_id"].as_str().unwrap().to_string();
        let csp = env!("CARGO_BIN_EXE_csp");
        let file = root.path().join("keys.csv");
        let out = Command::new(csp)
            .args(["keys", "generate", "--out", file.to_str().unwrap()])
            .args(["--pool", "sql-server-2022-standard/2-core-p1y/SQL Server 2022=4"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let dev = csp_auth::DevIssuer::load_or_create(keys.root.path().join("dev.key")).unwrap();
        let importer = dev.mint_for(
            csp_events::ActorKind::Platform,
            TenantId(Uuid::nil()),
            "importer",
            &[Role::Importer],
            600,
            csp_testkit::e2e::now_secs(),
        );
        let out = Command::new(csp)
            .args(["keys", "import", "--file", file.to_str().unwrap(), "--nats", &nats.url(), "--token", &importer])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = send(&client, "csp.cmd.entitlement.generate_keys", &agent, &json!({
                "request_id": "g1", "customer": customer, "entitlement": sub,
                "version": "SQL Server 2022", "language": "English", "file_type": "ISO (x64)"})).await;
            if code(&r) == "ok" {
                break;
            }
            assert!(Instant::now() < deadline, "{r}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // K7: if a view cannot be recorded, no key is shown.
        let get_key = json!({"customer": customer, "entitlement": sub, "version": "SQL Server 2022"});
        let log = entitlement_dir.join("log");
        entitlement.env = vec![("CSP_FAIL_AT".into(), "recorded_read_append".into())];
        entitlement.start_again(&nats.url(), "entitlement").await;
        let refused = send(&client, "csp.qry.entitlement.get_key", &agent, &get_key).await;
        assert_eq!(code(&refused), "unavailable", "{refused}");
        assert!(refused.get("result").is_none(), "{refused}");
        entitlement.env.clear();
        entitlement.start_again(&nats.url(), "entitlement").await;
        entitlement.terminate();
        assert_eq!(events_of(&log, "key_shown"), 0, "nothing recorded, nothing shown");
        entitlement.start_again(&nats.url(), "entitlement").await;
        let shown = ok(&client, "csp.qry.entitlement.get_key", &agent, get_key.clone()).await;
        assert_eq!(shown["key"].as_str().map(str::len), Some(29));

        // Armed: the revocation's effect dies before it destroys anything.
        entitlement.env = vec![("CSP_CRASH_AT".into(), "entitlement_after_revoke".into())];
        entitlement.start_again(&nats.url(), "entitlement").await;
        ok(&client, "csp.cmd.ordering.cancel_subscription", &agent,
           json!({"request_id": "x1", "customer": customer, "subscription_id": sub})).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !entitlement.exited() {
            assert!(Instant::now() < deadline, "the crash point never fired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let dk = generated_data_key(&log);
        let master = MasterSource::File(default_master(&entitlement_dir));
        {
            let ring = Keyring::open(&entitlement_dir.join("keyring"), master.clone()).unwrap();
            assert!(ring.holds(dk).unwrap(), "killed after the revocation, before the shredding");
            assert_eq!(events_of(&log, "entitlement_ended"), 1, "the revocation is durable");
        }
        // Restarted: the effect is redone before anything is served.
        entitlement.env.clear();
        entitlement.start_again(&nats.url(), "entitlement").await;
        entitlement.terminate();
        let ring = Keyring::open(&entitlement_dir.join("keyring"), master.clone()).unwrap();
        assert!(!ring.holds(dk).unwrap(), "destroyed at the restart");
        let (open, shut) = opened_keys(&log, &ring);
        assert_eq!((open.len(), shut), (3, vec![dk]), "only the revoked key is lost");
        drop(ring);

        // A rotation killed at each of its steps, then finished or discarded at the next open.
        for point in ["rotation_after_next_written", "rotation_after_rewrap"] {
            let out = Command::new(csp)
                .args(["keys", "rotate-master", "--data", entitlement_dir.to_str().unwrap()])
                .env("CSP_CRASH_AT", point)
                .output()
                .unwrap();
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{point}: the crash point fired");
            let ring = Keyring::open(&entitlement_dir.join("keyring"), master.clone()).unwrap();
            let (open, _) = opened_keys(&log, &ring);
            assert_eq!(open.len(), 3, "{point}: no live key lost");
            let secrets = default_master(&entitlement_dir);
            let dir = secrets.parent().unwrap();
            let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(files, vec![std::ffi::OsString::from("master.key")], "{point}: one master key, no leftover");
        }
        let out = Command::new(csp)
            .args(["keys", "rotate-master", "--data", entitlement_dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let ring = Keyring::open(&entitlement_dir.join("keyring"), master).unwrap();
        assert_eq!(opened_keys(&log, &ring).0.len(), 3);
    })
    .await
}

fn default_master(data: &Path) -> std::path::PathBuf {
    let mut dir = data.as_os_str().to_owned();
    dir.push(".secrets");
    std::path::PathBuf::from(dir).join("master.key")
}
