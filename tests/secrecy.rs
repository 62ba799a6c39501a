//! Product keys stay secret (issue "Entitlement and keys", DESIGN.md "Security"): with the
//! entitlement service logging at `trace`, keys are imported, generated and shown; then every
//! message on the bus (but the `get_key` replies), every byte under the data directories (logs,
//! keyring, downloads), the master key's directory, the NATS server's store and the service's
//! own log output are searched for each key — as shown, without dashes, in lower case, in hex
//! and in base64 at every alignment. None is found. After a revocation and the rotation it
//! triggers, the revoked key's ciphertext opens under nothing and the old master key is gone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use csp_entitlement::keyring::{Keyring, MasterSource};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, Event, Role};
use csp_testkit::e2e::{code, Csp, Keys, CUSTOMER};
use csp_testkit::{NatsServer, TempDir};
use futures_util::StreamExt as _;
use serde_json::{json, Value};

const START: &str = "2026-12-01T09:00:00Z";

/// Every form a key could leak in.
fn forms(key: &str) -> Vec<Vec<u8>> {
    let bare: String = key.chars().filter(|c| *c != '-').collect();
    let mut out = Vec::new();
    for text in [key.to_string(), bare.clone()] {
        out.push(text.clone().into_bytes());
        out.push(text.to_lowercase().into_bytes());
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        out.push(hex.clone().into_bytes());
        out.push(hex.to_uppercase().into_bytes());
        for engine in [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            // Within a longer base64 text the key may start at any of three alignments: keep
            // only the characters that depend on the key's bytes alone.
            for pad in 0..3usize {
                let mut bytes = vec![0u8; pad];
                bytes.extend_from_slice(text.as_bytes());
                let enc = engine.encode(&bytes);
                let enc = enc.trim_end_matches('=');
                let from = if pad == 0 { 0 } else { 4 };
                let to = enc.len().saturating_sub(4);
                out.push(enc.as_bytes()[from..to].to_vec());
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

async fn ok(client: &async_nats::Client, subject: &str, token: &str, body: Value) -> Value {
    let raw =
        csp_testkit::e2e::send_raw(client, subject, Some(token), body.to_string().as_bytes()).await;
    let r: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(code(&r), "ok", "{subject}: {r}");
    r["result"].clone()
}

/// `get_key` with a reply subject the capture can tell apart: the one reply allowed a key.
async fn get_key(client: &async_nats::Client, token: &str, body: &Value, n: usize) -> String {
    let inbox = format!("getkey.replies.{n}");
    let mut sub = client.subscribe(inbox.clone()).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Authorization", format!("Bearer {token}").as_str());
    client
        .publish_with_reply_and_headers(
            "csp.qry.entitlement.get_key",
            inbox,
            headers,
            Bytes::from(body.to_string()),
        )
        .await
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();
    let r: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(code(&r), "ok", "{r}");
    r["result"]["key"].as_str().unwrap().to_string()
}

fn spawn_entitlement(nats: &str, data: &Path, flags: &[&str], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_csp"))
        .args(["serve", "entitlement", "--nats", nats, "--data"])
        .arg(data)
        .args(flags)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_is_found_anywhere_but_in_get_key_replies() {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(300), async {
        let nats = NatsServer::start().unwrap();
        nats.wait_for_jetstream().await.unwrap();
        let root = TempDir::new("csp-e2e-secrecy").unwrap();
        let keys = Keys::new("csp-e2e-secrecy-keys");
        let mut flags: Vec<&str> = keys.keys.iter().map(String::as_str).collect();
        flags.extend(["--manual-clock", START]);
        // Everything on the bus, from before the services start.
        let spy = async_nats::connect(nats.url()).await.unwrap();
        let mut all = spy.subscribe(">").await.unwrap();
        let captured = tokio::spawn(async move {
            let mut msgs = Vec::new();
            while let Some(m) = all.next().await {
                if m.subject.as_str() == "secrecy.done" {
                    break;
                }
                msgs.push(m);
            }
            msgs
        });
        let ordering_dir = root.path().join("ordering");
        let entitlement_dir = root.path().join("entitlement");
        let _ordering = Csp::serve(&nats.url(), "ordering", &ordering_dir, &flags).await;
        let mut with = flags.clone();
        with.extend(["--download-addr", "127.0.0.1:0", "--rotate-every", "1"]);
        let trace = root.path().join("entitlement-trace.log");
        let mut entitlement = spawn_entitlement(&nats.url(), &entitlement_dir, &with, &trace);
        let client = async_nats::connect(nats.url()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.request("$SRV.PING.entitlement", Bytes::new()).await.is_err() {
            assert!(Instant::now() < deadline, "entitlement never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let agent = keys.agent.clone();
        ok(&client, "csp.cmd.ordering.add_customer", &agent, json!({"request_id": "c1",
            "tenant_id": CUSTOMER, "domain": "c1.example", "company_name": "C1 Ltd",
            "country": "US", "currency": "USD"})).await;
        let line = json!({"product": "sql-server-2022-standard", "sku": "2-core-p1y", "quantity": 1, "term": "P1Y", "billing_plan": "annual"});
        let placed = ok(&client, "csp.cmd.ordering.place_order", &agent,
            json!({"request_id": "o1", "customer": CUSTOMER, "lines": [line.clone(), line]})).await;
        let subs: Vec<String> = (0..2)
            .map(|i| placed["lines"][i]["subscription_id"].as_str().unwrap().to_string())
            .collect();

        // Keys in through the CLI (sealed on the bus), as an importer.
        let file = root.path().join("keys.csv");
        let csp = env!("CARGO_BIN_EXE_csp");
        assert!(Command::new(csp)
            .args(["keys", "generate", "--out", file.to_str().unwrap()])
            .args(["--pool", "sql-server-2022-standard/2-core-p1y/SQL Server 2022=3"])
            .status()
            .unwrap()
            .success());
        let imported: Vec<String> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.rsplit(',').next().unwrap().to_string())
            .collect();
        let dev = csp_auth::DevIssuer::load_or_create(keys.root.path().join("dev.key")).unwrap();
        let importer = dev.mint_for(
            csp_events::ActorKind::Platform,
            csp_events::TenantId(uuid::Uuid::nil()),
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
        std::fs::remove_file(&file).unwrap();

        // Generated and shown, twice each.
        let mut shown = Vec::new();
        for (i, sub) in subs.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let raw = csp_testkit::e2e::send_raw(&client, "csp.cmd.entitlement.generate_keys", Some(&agent),
                    json!({"request_id": format!("g{i}"), "customer": CUSTOMER, "entitlement": sub,
                           "version": "SQL Server 2022", "language": "English", "file_type": "ISO (x64)"}).to_string().as_bytes()).await;
                let r: Value = serde_json::from_slice(&raw).unwrap();
                if code(&r) == "ok" {
                    break;
                }
                assert!(Instant::now() < deadline, "{r}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let body = json!({"customer": CUSTOMER, "entitlement": sub, "version": "SQL Server 2022"});
            for n in 0..2 {
                shown.push(get_key(&client, &agent, &body, i * 2 + n).await);
            }
        }
        assert_eq!(shown[0], shown[1]);
        assert_ne!(shown[0], shown[2]);
        for k in &shown {
            assert!(imported.contains(k), "a shown key is one imported");
        }

        // A revocation, and the rotation it triggers (--rotate-every 1).
        let secrets = root.path().join("entitlement.secrets");
        let old_master = std::fs::read(secrets.join("master.key")).unwrap();
        ok(&client, "csp.cmd.ordering.cancel_subscription", &agent,
           json!({"request_id": "x1", "customer": CUSTOMER, "subscription_id": subs[0]})).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::read(secrets.join("master.key")).unwrap() == old_master {
            assert!(Instant::now() < deadline, "the revocation never rotated the master key");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        spy.publish("secrecy.done", Bytes::new()).await.unwrap();
        spy.flush().await.unwrap();
        let messages = captured.await.unwrap();
        unsafe {
            libc::kill(entitlement.id() as i32, libc::SIGTERM);
        }
        entitlement.wait().unwrap();

        // The search.
        let mut places: Vec<(String, Vec<u8>)> = Vec::new();
        let mut key_replies = 0;
        for m in &messages {
            if m.subject.as_str().starts_with("getkey.replies.") {
                key_replies += 1;
                continue;
            }
            let mut bytes = m.payload.to_vec();
            if let Some(h) = &m.headers {
                bytes.extend(format!("{h:?}").into_bytes());
            }
            places.push((format!("bus message on {}", m.subject), bytes));
        }
        assert_eq!(key_replies, 4, "the get_key replies were captured and set aside");
        assert!(messages.len() > 20, "the capture saw the traffic: {}", messages.len());
        let mut paths = Vec::new();
        for dir in [root.path(), nats.store_dir()] {
            files(dir, &mut paths);
        }
        for p in paths {
            places.push((p.display().to_string(), std::fs::read(&p).unwrap_or_default()));
        }
        let trace_text = std::fs::read_to_string(&trace).unwrap();
        assert!(trace_text.contains("TRACE") || trace_text.contains("DEBUG"), "the service logged at trace");
        let mut searched = 0;
        for key in imported.iter() {
            for form in forms(key) {
                for (place, bytes) in &places {
                    searched += 1;
                    assert!(!find(bytes, &form), "key {key} found as {:?} in {place}", String::from_utf8_lossy(&form));
                }
            }
        }
        assert!(searched > 1000, "{searched}");

        // After the revocation and the rotation: the revoked key's ciphertext opens under
        // nothing, the live ones still open, and the old master key is gone.
        let ring = Keyring::open(&entitlement_dir.join("keyring"), MasterSource::File(secrets.join("master.key"))).unwrap();
        let log = EventLog::open(entitlement_dir.join("log"), LogOptions::default()).unwrap();
        let mut revoked = Vec::new();
        let mut sealed = Vec::new();
        for r in log.read_from(1) {
            match codec::decode(r.unwrap().bytes()).unwrap().payload {
                Event::EntitlementEnded(e) => revoked.extend(e.data_keys),
                Event::KeyPoolFilled(f) => sealed.extend(f.keys),
                _ => {}
            }
        }
        assert_eq!(revoked.len(), 1);
        for s in &sealed {
            let opened = ring.unseal(s);
            assert_eq!(opened.is_err(), revoked.contains(&s.data_key), "{:?}", s.key);
        }
        let left: Vec<Vec<u8>> = std::fs::read_dir(&secrets).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
        assert_eq!(left.len(), 1, "one master key file");
        assert_ne!(left[0], old_master, "the old master key is gone");
    })
    .await
}
