//! Ordering and entitlement on the runtime, on one in-process bus, with tokens from issuers bound
//! to tenants: RULES.md K3, K5, K7 and K8 end to end through the service — a purchase becomes an
//! entitlement; keys imported sealed; a key shown to the selling partner's admin agent and the
//! customer's global admin (each view recorded before it is answered), refused to everyone else
//! (recorded); a cancellation revokes the key and destroys its data key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use csp_auth::{InternalIssuer, Verifier};
use csp_bus::runtime::{self, Running, RuntimeConfig};
use csp_bus::{Bus, Clock, Headers};
use csp_catalog::Catalog;
use csp_entitlement::config::{Config, DEFAULT_LINK_TTL_SECS};
use csp_entitlement::keyring::{Keyring, MasterSource};
use csp_entitlement::links::{self, LinkRefusal};
use csp_entitlement::service::EntitlementService;
use csp_eventlog::{EventLog, LogOptions};
use csp_events::entitlement::PoolRef;
use csp_events::market::{ProductId, SkuId};
use csp_events::{codec, DataKeyId, Event, ImportId, Role, TenantId, Timestamp};
use csp_ordering::service::OrderingService;
use csp_testkit::identity::Issuers;
use csp_testkit::TempDir;
use serde_json::{json, Value};
use uuid::Uuid;

const P1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0001));
const P2: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0002));
const C1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0001));
const C2: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0002));

struct World {
    dir: TempDir,
    catalog: Arc<Catalog>,
    bus: Bus,
    issuers: Issuers,
    keyring: Arc<Keyring>,
    ordering: Running<OrderingService>,
    entitlement: Running<EntitlementService>,
}

impl World {
    async fn start() -> World {
        let dir = TempDir::new("csp-entitlement-service").unwrap();
        let issuers = Issuers::new()
            .partner(P1)
            .partner(P2)
            .customer(C1)
            .customer(C2);
        let internal = Arc::new(InternalIssuer::generate().unwrap());
        let mut auth = issuers.auth_config();
        auth.issuers.push(internal.issuer_config());
        let verifier = Arc::new(Verifier::new(auth).unwrap());
        let bus = Bus::local();
        let catalog = Arc::new(Catalog::load(csp_catalog::sample_dir()).unwrap());
        let config = |name: &str| {
            let log = EventLog::open(dir.path().join(name), LogOptions::default()).unwrap();
            let mut c = RuntimeConfig::new(bus.clone(), log, Clock::System, Arc::clone(&verifier));
            c.internal = Some(Arc::clone(&internal));
            c.heartbeat_interval = Duration::from_millis(200);
            c
        };
        let ordering = runtime::start::<OrderingService>(config("ordering"), Arc::clone(&catalog))
            .await
            .unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        let keyring = Arc::new(
            Keyring::open(
                &dir.path().join("entitlement-keyring"),
                MasterSource::File(dir.path().join("secrets").join("master.key")),
            )
            .unwrap(),
        );
        let entitlement = runtime::start::<EntitlementService>(
            config("entitlement"),
            Config {
                catalog: Arc::clone(&catalog),
                keyring: Arc::clone(&keyring),
                low_water: 2,
                link_ttl_secs: DEFAULT_LINK_TTL_SECS,
                link_base: "http://127.0.0.1:8480".to_string().into(),
                downloads: dir.path().join("downloads"),
                staging: Default::default(),
                rotation: csp_entitlement::config::RotationPolicy::new(
                    1,
                    Duration::from_secs(3600),
                ),
            },
        )
        .await
        .unwrap();
        World {
            dir,
            catalog,
            bus,
            issuers,
            keyring,
            ordering,
            entitlement,
        }
    }

    async fn call(&self, subject: &str, token: &str, body: &Value) -> Value {
        let reply = self
            .bus
            .request(
                subject,
                Headers::new().with("Authorization", format!("Bearer {token}")),
                Bytes::from(body.to_string()),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|e| panic!("{subject}: {e}"));
        serde_json::from_slice(&reply.payload).unwrap()
    }

    async fn ok(&self, subject: &str, token: &str, body: Value) -> Value {
        let r = self.call(subject, token, &body).await;
        assert_eq!(r["ok"], true, "{subject}: {r}");
        r["result"].clone()
    }

    fn p1(&self, role: Role) -> String {
        self.issuers.partner_user(P1, role)
    }

    /// The entitlement service's events of `kind` so far.
    fn events(&self, kind: &str) -> Vec<Event> {
        self.entitlement
            .log()
            .read_from(1)
            .map(|r| codec::decode(r.unwrap().bytes()).unwrap().payload)
            .filter(|e| e.name() == kind)
            .collect()
    }

    async fn wait<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(t) = probe() {
                return t;
            }
            assert!(Instant::now() < deadline, "waited too long for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn code(r: &Value) -> &str {
    if r["ok"] == true {
        "ok"
    } else {
        r["error"]["code"].as_str().unwrap_or("?")
    }
}

fn line(product: &str, sku: &str, term: &str, plan: &str) -> Value {
    json!({"product": product, "sku": sku, "quantity": 1, "term": term, "billing_plan": plan})
}

fn sql_pool() -> PoolRef {
    PoolRef {
        product: ProductId::new("sql-server-2022-standard").unwrap(),
        sku: SkuId::new("2-core-p1y").unwrap(),
        version: "SQL Server 2022".into(),
    }
}

/// Proves rule K3, rule K5, rule K7 and rule K8 through the runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k3_k5_k7_k8_keys_shown_to_whom_they_may_be_each_view_recorded_and_revoked_on_cancel() {
    csp_testkit::within(Duration::from_secs(120), async {
        let w = World::start().await;
        let admin = w.p1(Role::AdminAgent);
        w.ok(
            "csp.cmd.ordering.add_customer",
            &admin,
            json!({"request_id": "c1", "tenant_id": C1, "domain": "c1.example",
                   "company_name": "C1 Ltd", "country": "US", "currency": "USD"}),
        )
        .await;
        let placed = w
            .ok(
                "csp.cmd.ordering.place_order",
                &admin,
                json!({"request_id": "o1", "customer": C1, "lines": [
                    line("sql-server-2022-standard", "2-core-p1y", "P1Y", "annual"),
                    line("rhel-software-plan", "1-4-vcpu-p1y", "P1Y", "annual"),
                ]}),
            )
            .await;
        let sql = placed["lines"][0]["subscription_id"].as_str().unwrap().to_string();
        let rhel = placed["lines"][1]["subscription_id"].as_str().unwrap().to_string();

        // K1 through the bus: the purchase became two entitlements.
        w.wait("the entitlements", || {
            w.entitlement
                .with_state(|a| (a.state.entitlements.len() == 2).then_some(()))
        })
        .await;
        let page = w
            .ok("csp.qry.entitlement.get_software", &admin, json!({"customer": C1}))
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");

        // Keys imported sealed: a KMS line refuses the whole file naming the line.
        let importer = w.issuers.platform_user(Role::Importer);
        let ik = w.ok("csp.qry.entitlement.get_import_key", &importer, json!({})).await;
        let public: [u8; 32] = base64_decode(ik["public_key"].as_str().unwrap());
        let good = csp_entitlement::import::generate(&[(&sql_pool(), 3)]).unwrap();
        let bad = format!(
            "{}sql-server-2022-standard,2-core-p1y,SQL Server 2022,KMS,BCDFG-HJKMP-QRTVW-XY234-67896\n",
            &*good
        );
        let chunks = csp_entitlement::import::chunks(public, ImportId(Uuid::now_v7()), &bad, "bad").unwrap();
        let r = w.call("csp.cmd.entitlement.import_keys", &importer, &serde_json::to_value(&chunks[0]).unwrap()).await;
        assert_eq!(code(&r), "kms_not_allowed", "{r}");
        assert_eq!(r["error"]["details"]["line"], 5, "{r}");
        assert!(!r.to_string().contains("BCDFG"), "the key is never echoed");
        assert_eq!(w.keyring.data_keys(), 0, "nothing half-imported");
        let chunks = csp_entitlement::import::chunks(public, ImportId(Uuid::now_v7()), &good, "good").unwrap();
        let r = w.ok("csp.cmd.entitlement.import_keys", &importer, serde_json::to_value(&chunks[0]).unwrap()).await;
        assert_eq!(r["complete"], true, "{r}");
        assert_eq!(w.keyring.data_keys(), 3);

        // K4: KMS is refused whoever asks, before anything is looked up.
        for token in [admin.clone(), w.p1(Role::SalesAgent), w.issuers.partner_user(P2, Role::AdminAgent)] {
            let r = w
                .call(
                    "csp.qry.entitlement.get_key",
                    &token,
                    &json!({"customer": C1, "entitlement": sql, "version": "SQL Server 2022", "key_type": "kms"}),
                )
                .await;
            assert_eq!(code(&r), "kms_not_allowed", "{r}");
        }

        // K2/K4: generate keys; K3: the key as Microsoft issues it.
        let generated = w
            .ok(
                "csp.cmd.entitlement.generate_keys",
                &admin,
                json!({"request_id": "g1", "customer": C1, "entitlement": sql, "version": "SQL Server 2022",
                       "language": "English", "file_type": "ISO (x64)"}),
            )
            .await;
        assert_eq!(generated["key_available"], true);
        assert!(generated["options"]["language"].is_array());
        let get_key = json!({"customer": C1, "entitlement": sql, "version": "SQL Server 2022"});
        let before = w.events("key_shown").len();
        let shown = w.ok("csp.qry.entitlement.get_key", &admin, get_key.clone()).await;
        let key = shown["key"].as_str().unwrap().to_string();
        let groups: Vec<&str> = key.split('-').collect();
        assert_eq!(groups.len(), 5, "{key}");
        assert!(groups.iter().all(|g| g.len() == 5), "{key}");
        assert_eq!(w.events("key_shown").len(), before + 1, "K7: recorded before the answer");

        // K5: the customer's own global admin sees the same key.
        let customer_admin = w.issuers.customer_admin(C1);
        let again = w.ok("csp.qry.entitlement.get_key", &customer_admin, get_key.clone()).await;
        assert_eq!(again["key"], key.as_str());
        // K5: anyone else is refused, and each refusal is recorded.
        let refused_before = w.events("access_refused").len();
        for (token, expected) in [
            (w.p1(Role::SalesAgent), "forbidden"),
            (w.p1(Role::GlobalAdmin), "forbidden"),
            (w.issuers.partner_user(P2, Role::AdminAgent), "not_found"),
            (w.issuers.customer_admin(C2), "not_found"),
            (w.issuers.platform_user(Role::Support), "forbidden"),
        ] {
            let r = w.call("csp.qry.entitlement.get_key", &token, &get_key).await;
            assert_eq!(code(&r), expected, "{r}");
            assert!(!r.to_string().contains(&key), "no key in a refusal");
        }
        assert_eq!(w.events("access_refused").len(), refused_before + 5);
        let shown_events = w.events("key_shown");
        assert_eq!(shown_events.len(), before + 2, "only the two views that were answered");
        for e in w.entitlement.log().read_from(1) {
            let bytes = e.unwrap().bytes().to_vec();
            assert!(!contains(&bytes, key.as_bytes()), "no plaintext key in the log");
        }

        // K3/K7: download and copy links, each recorded; K1: none for a license.
        let link_body = json!({"customer": C1, "entitlement": sql, "version": "SQL Server 2022",
                               "language": "English", "file_type": "ISO (x64)"});
        let link = w.ok("csp.qry.entitlement.get_download_link", &admin, link_body.clone()).await;
        let copied = w.ok("csp.qry.entitlement.copy_link", &customer_admin, link_body.clone()).await;
        assert_eq!(w.events("download_link_issued").len(), 2);
        let token = link["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        let now = csp_bus::clock::system_now();
        let claims = links::verify(&w.keyring, &token, now).unwrap().unwrap();
        assert_eq!(claims.entitlement.to_string(), sql);
        assert!(copied["url"].as_str().unwrap().contains("/dl/"));
        let mut tampered = token.clone();
        tampered.replace_range(0..1, if tampered.starts_with('e') { "f" } else { "e" });
        assert_eq!(links::verify(&w.keyring, &tampered, now).unwrap(), Err(LinkRefusal::BadSignature));
        let later = Timestamp::from_micros(claims.expires_at.as_micros());
        assert!(matches!(links::verify(&w.keyring, &token, later).unwrap(), Err(LinkRefusal::Expired(_))));
        let r = w
            .call(
                "csp.cmd.entitlement.generate_keys",
                &admin,
                &json!({"request_id": "g2", "customer": C1, "entitlement": rhel, "version": "any"}),
            )
            .await;
        assert_eq!(code(&r), "invalid_option", "{r}");

        // The link is a URL a person can open: the file streams; a tampered link is refused.
        csp_entitlement::download::write_samples(&w.dir.path().join("downloads"), &w.catalog)
            .unwrap();
        let (_stop, stop_rx) = tokio::sync::watch::channel(false);
        let (addr, _server) = csp_entitlement::download::serve(
            "127.0.0.1:0".parse().unwrap(),
            w.entitlement.reader(),
            stop_rx,
        )
        .await
        .unwrap();
        let seq_before = w.entitlement.log().last_seq();
        let (status, body) = http_get(addr, &format!("/dl/{token}")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("csp sample download: SQL Server 2022 Standard"), "{body}");
        let (status, body) = http_get(addr, &format!("/dl/{tampered}")).await;
        assert_eq!(status, 403);
        assert!(body.contains("bad_signature"), "{body}");
        assert_eq!(
            w.entitlement.log().last_seq(),
            seq_before,
            "opening links records nothing"
        );

        // K8: the cancellation revokes the key: its data key is destroyed once the revocation
        // is durable, it is never shown again, and the item stays listed, revoked, without key.
        let data_key = match w.events("keys_generated").first() {
            Some(Event::KeysGenerated(k)) => k.data_key,
            other => panic!("{other:?}"),
        };
        assert!(w.keyring.holds(data_key).unwrap());
        let master_before = w.keyring.master_id();
        w.ok(
            "csp.cmd.ordering.cancel_subscription",
            &admin,
            json!({"request_id": "x1", "customer": C1, "subscription_id": sql}),
        )
        .await;
        let ended: DataKeyId = w
            .wait("the revocation", || match w.events("entitlement_ended").first() {
                Some(Event::EntitlementEnded(e)) => e.data_keys.first().copied(),
                _ => None,
            })
            .await;
        assert_eq!(ended, data_key);
        w.wait("the data key destroyed", || (!w.keyring.holds(data_key).unwrap()).then_some(()))
            .await;
        // The revocation rotated the master key (this world rotates after every one): the
        // revoked key's ciphertext in the log opens under nothing; the live ones still open.
        w.wait("the rotation", || (w.keyring.master_id() != master_before).then_some(()))
            .await;
        let mut opened = 0;
        for e in w.events("key_pool_filled") {
            let Event::KeyPoolFilled(f) = e else { continue };
            for sealed in &f.keys {
                match w.keyring.unseal(sealed) {
                    Ok(_) => opened += 1,
                    Err(e) => assert_eq!(sealed.data_key, data_key, "{e}"),
                }
            }
        }
        assert_eq!(opened, 2, "the two keys still in the pool");
        for token in [admin.clone(), customer_admin.clone()] {
            let r = w.call("csp.qry.entitlement.get_key", &token, &get_key).await;
            assert_eq!(code(&r), "entitlement_revoked", "{r}");
        }
        let page = w
            .ok("csp.qry.entitlement.get_software", &customer_admin, json!({"customer": C1}))
            .await;
        let item = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["entitlement"] == sql.as_str())
            .unwrap()
            .clone();
        assert_eq!(item["status"], "revoked", "{item}");
        assert_eq!(item["key_available"], false);
        let (status, body) = http_get(addr, &format!("/dl/{token}")).await;
        assert_eq!(status, 410);
        assert!(body.contains("link_revoked"), "{body}");
        let pools = w.ok("csp.qry.entitlement.get_key_pools", &importer, json!({})).await;
        assert_eq!(pools["pools"][0]["remaining"], 2, "a revoked key never returns: {pools}");

        w.entitlement.shutdown().await;
        w.ordering.shutdown().await;
    })
    .await
}

/// A plain HTTP/1.1 GET, as any client sends it: the status and the body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn base64_decode(s: &str) -> [u8; 32] {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap()
        .try_into()
        .unwrap()
}
