//! Who may call which entitlement endpoint for which customer (RULES.md K5, and the platform's
//! roles): every command, query and recorded read × 16 actors × 3 customers, checked against
//! the literal table below — written from RULES.md — over ordering and entitlement on the
//! runtime (in-process bus), with tokens from issuers bound to tenants. Every refusal is
//! recorded as exactly one `access_refused`. The table is printed into `RELIABILITY.md` beside
//! ordering's by this run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use csp_auth::{InternalIssuer, Verifier};
use csp_bus::runtime::{self, Running, RuntimeConfig};
use csp_bus::{Bus, Clock};
use csp_catalog::Catalog;
use csp_entitlement::config::{Config, RotationPolicy, DEFAULT_LINK_TTL_SECS};
use csp_entitlement::keyring::{Keyring, MasterSource};
use csp_entitlement::service::EntitlementService;
use csp_eventlog::{EventLog, LogOptions};
use csp_events::entitlement::PoolRef;
use csp_events::market::{ProductId, SkuId};
use csp_events::{ImportId, Role, TenantId};
use csp_ordering::service::OrderingService;
use csp_testkit::identity::Issuers;
use csp_testkit::matrix::{Cell, Matrix, Observed, C1, C2, C3, P1, P2};
use csp_testkit::TempDir;
use serde_json::{json, Value};
use uuid::Uuid;

/// K5: keys, links and the migration plan (which plans key deployments) are for the serving
/// partner's `admin_agent` and the customer's own `global_admin`; the Software page lists items
/// to whoever reads the customer's purchases (as ordering's lists); pools and imports are the
/// platform importer's (and the pools the operator's too). An actor who may not know the
/// customer or the item exists gets `not_found`.
const TABLE: &str = "
endpoint               customer P1.admin_agent P1.sales_agent P1.helpdesk_agent P1.global_admin P1.billing_admin P2.admin_agent P2.sales_agent P2.helpdesk_agent P2.global_admin P2.billing_admin C1.global_admin C1.global_admin@P2-issuer C2.global_admin importer support operator
generate_keys          C1       ok F  F  F  F    N  N  N  N  N    ok U  N    F  F  F
generate_keys          C2       N  N  N  N  N    ok F  F  F  F    N  U  ok   F  F  F
generate_keys          C3       N  F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
get_key                C1       ok F  F  F  F    N  N  N  N  N    ok U  N    F  F  F
get_key                C2       N  N  N  N  N    ok F  F  F  F    N  U  ok   F  F  F
get_key                C3       N  F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
get_download_link      C1       ok F  F  F  F    N  N  N  N  N    ok U  N    F  F  F
get_download_link      C2       N  N  N  N  N    ok F  F  F  F    N  U  ok   F  F  F
get_download_link      C3       N  F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
copy_link              C1       ok F  F  F  F    N  N  N  N  N    ok U  N    F  F  F
copy_link              C2       N  N  N  N  N    ok F  F  F  F    N  U  ok   F  F  F
copy_link              C3       N  F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
get_software           C1       ok ok ok ok ok   N  N  N  N  N    ok U  N    ok ok F
get_software           C2       N  N  N  N  N    ok ok ok ok ok   N  U  ok   ok ok F
get_software           C3       ok ok ok ok ok   ok ok ok ok ok   N  U  N    ok ok F
get_migration_plan     C1       ok F  F  F  F    N  N  N  N  N    ok U  N    F  F  F
get_migration_plan     C2       N  N  N  N  N    ok F  F  F  F    N  U  ok   F  F  F
get_migration_plan     C3       ok F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
import_devices         C1       ok F  F  F  F    N  N  N  N  N    ok U  N    F  F  F
import_devices         C2       N  N  N  N  N    ok F  F  F  F    N  U  ok   F  F  F
import_devices         C3       ok F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
record_mak_deployment  C1       ok F  F  F  F    N  N  N  N  N    ok U  N    F  F  F
record_mak_deployment  C2       N  N  N  N  N    ok F  F  F  F    N  U  ok   F  F  F
record_mak_deployment  C3       ok F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
get_key_pools          any      F  F  F  F  F    F  F  F  F  F    F  U  F    ok F  ok
get_import_key         any      F  F  F  F  F    F  F  F  F  F    F  U  F    ok F  F
import_keys            any      F  F  F  F  F    F  F  F  F  F    F  U  F    ok F  F
";

const NOTES: &str = "
### Entitlement

Checked by `crates/entitlement/tests/access_matrix.rs` over ordering and entitlement on the
runtime (in-process bus), with the same issuers and actors as ordering's. **C1** is served by P1
only, **C2** by P2 only, **C3** by both; the entitlement a key or link request names was sold by
the customer's partner — for C3 by **P2**, so P1's admin agent knows the customer but not the
item (`N`, recorded). The migration plan and device list belong to the customer, not to a sale:
either serving partner's admin agent may use them. Pools and imports are not any customer's
(`any`). KMS requests are `kms_not_allowed` for everyone before any of this (K4), so they are not
in the table.
";

struct World {
    bus: Bus,
    entitlement: Running<EntitlementService>,
    ordering: Running<OrderingService>,
    tokens: Vec<String>,
    /// Per column: the customer and the entitlement named.
    items: HashMap<&'static str, (TenantId, String)>,
    import_key: [u8; 32],
}

fn sql_pool() -> PoolRef {
    PoolRef {
        product: ProductId::new("sql-server-2022-standard").unwrap(),
        sku: SkuId::new("2-core-p1y").unwrap(),
        version: "SQL Server 2022".into(),
    }
}

impl World {
    async fn call(&self, subject: &str, token: &str, body: &Value) -> Value {
        csp_bus::harness::ask(&self.bus, subject, token, body).await
    }

    async fn ok(&self, subject: &str, token: &str, body: Value) -> Value {
        let r = self.call(subject, token, &body).await;
        assert_eq!(r["ok"], true, "setup {subject}: {r}");
        r["result"].clone()
    }

    fn request(&self, cell: &Cell<'_>) -> (String, Value) {
        let rid = format!("{}-{}-{}", cell.endpoint, cell.column, cell.actor);
        let kind = match cell.endpoint {
            "generate_keys" | "import_devices" | "record_mak_deployment" | "import_keys" => "cmd",
            _ => "qry",
        };
        let subject = format!("csp.{kind}.entitlement.{}", cell.endpoint);
        let file =
            json!({"version": "SQL Server 2022", "language": "English", "file_type": "ISO (x64)"});
        let body = match cell.endpoint {
            "get_key_pools" | "get_import_key" => json!({}),
            "import_keys" => {
                let keys = csp_entitlement::import::generate(&[(&sql_pool(), 1)]).unwrap();
                let chunks = csp_entitlement::import::chunks(
                    self.import_key,
                    ImportId(Uuid::now_v7()),
                    &keys,
                    &rid,
                )
                .unwrap();
                serde_json::to_value(&chunks[0]).unwrap()
            }
            _ => {
                let (c, e) = &self.items[cell.column];
                let mut b = match cell.endpoint {
                    "generate_keys" => json!({"request_id": rid, "entitlement": e}),
                    "get_key" => json!({"entitlement": e, "version": "SQL Server 2022"}),
                    "get_download_link" | "copy_link" => json!({"entitlement": e}),
                    "get_software" | "get_migration_plan" => json!({}),
                    "import_devices" => json!({"request_id": rid,
                        "csv": "device,last_kms_activation\ndev-1,2026-11-01T00:00:00Z\n"}),
                    "record_mak_deployment" => json!({"request_id": rid, "device": "dev-1"}),
                    other => panic!("the table names an endpoint the test cannot call: {other}"),
                };
                b["customer"] = json!(c);
                if matches!(
                    cell.endpoint,
                    "generate_keys" | "get_download_link" | "copy_link"
                ) {
                    for (k, v) in file.as_object().unwrap() {
                        b[k] = v.clone();
                    }
                }
                b
            }
        };
        (subject, body)
    }

    async fn run(&self, cell: Cell<'_>) -> Observed {
        let (subject, body) = self.request(&cell);
        let token = &self.tokens[cell.actor];
        let (code, refusals) =
            csp_bus::harness::observe(&self.bus, self.entitlement.log(), &subject, token, &body)
                .await;
        Observed { code, refusals }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_every_actor_as_the_rules_say_and_records_every_refusal() {
    csp_testkit::within(Duration::from_secs(300), async {
        let matrix = Matrix::parse("entitlement", TABLE);
        assert_eq!(matrix.endpoints().len(), 11, "every command, query and recorded read");
        let dir = TempDir::new("csp-entitlement-matrix").unwrap();
        let issuers = Issuers::new().partner(P1).partner(P2).customer(C1).customer(C2);
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
            c
        };
        let ordering = runtime::start::<OrderingService>(config("ordering"), Arc::clone(&catalog))
            .await
            .unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        let keyring = Keyring::open(
            &dir.path().join("keyring"),
            MasterSource::File(dir.path().join("secrets").join("master.key")),
        )
        .unwrap();
        let import_key = keyring.import_public_key().unwrap();
        let entitlement = runtime::start::<EntitlementService>(
            config("entitlement"),
            Config {
                catalog,
                keyring: Arc::new(keyring),
                low_water: 0,
                link_ttl_secs: DEFAULT_LINK_TTL_SECS,
                link_base: "http://127.0.0.1:8480".to_string().into(),
                downloads: dir.path().join("downloads"),
                staging: Default::default(),
                rotation: RotationPolicy::default(),
            },
        )
        .await
        .unwrap();
        let mut w = World {
            bus,
            entitlement,
            ordering,
            tokens: issuers.matrix_actors(P1, P2, C1, C2),
            items: HashMap::new(),
            import_key,
        };

        // The customers, their sales, keys for them, device lists.
        let admin = |p| issuers.partner_user(p, Role::AdminAgent);
        for (p, c, d) in [(P1, C1, "c1"), (P2, C2, "c2"), (P1, C3, "c3"), (P2, C3, "c3")] {
            w.ok("csp.cmd.ordering.add_customer", &admin(p), json!({"request_id": format!("add-{d}-{p}"),
                "tenant_id": c, "domain": format!("{d}.example"), "company_name": "Ltd",
                "country": "US", "currency": "USD"})).await;
        }
        let importer = issuers.platform_user(Role::Importer);
        let keys = csp_entitlement::import::generate(&[(&sql_pool(), 10)]).unwrap();
        let chunks = csp_entitlement::import::chunks(import_key, ImportId(Uuid::now_v7()), &keys, "setup").unwrap();
        w.ok("csp.cmd.entitlement.import_keys", &importer, serde_json::to_value(&chunks[0]).unwrap()).await;
        for (column, seller, c) in [("C1", P1, C1), ("C2", P2, C2), ("C3", P2, C3)] {
            let placed = w.ok("csp.cmd.ordering.place_order", &admin(seller), json!({"request_id": format!("o-{column}"),
                "customer": c, "lines": [{"product": "sql-server-2022-standard", "sku": "2-core-p1y",
                "quantity": 1, "term": "P1Y", "billing_plan": "annual"}]})).await;
            let e = placed["lines"][0]["subscription_id"].as_str().unwrap().to_string();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let r = w.call("csp.cmd.entitlement.generate_keys", &admin(seller), &json!({
                    "request_id": format!("g-{column}"), "customer": c, "entitlement": e,
                    "version": "SQL Server 2022", "language": "English", "file_type": "ISO (x64)"})).await;
                if r["ok"] == true {
                    break;
                }
                assert!(Instant::now() < deadline, "{r}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            w.ok("csp.cmd.entitlement.import_devices", &admin(seller), json!({"request_id": format!("d-{column}"),
                "customer": c, "csv": "device,last_kms_activation\ndev-1,2026-11-01T00:00:00Z\n"})).await;
            w.items.insert(column, (c, e));
        }

        matrix.check(|cell| w.run(cell)).await;

        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../RELIABILITY.md");
        matrix.write_into(&doc, NOTES).unwrap();
        w.entitlement.shutdown().await;
        w.ordering.shutdown().await;
    })
    .await
}
