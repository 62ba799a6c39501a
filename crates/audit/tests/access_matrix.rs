//! Who may read audit's proofs and activity log, verify it and sign checkpoints (RULES.md A3):
//! every audit endpoint × 19 actors — the 16 of every service's table and P1's three other
//! activity-log readers — checked against the literal table below over ordering and audit on
//! the runtime (in-process bus, a manual clock), with tokens from issuers bound to tenants.
//! Every refusal is recorded as exactly one `access_refused`, itself a leaf of the tree (A4).
//! The table is printed into `RELIABILITY.md` beside the other services' by this run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use csp_audit::checkpoint::CheckpointKey;
use csp_audit::config::Config;
use csp_audit::service::AuditService;
use csp_bus::harness::Local;
use csp_bus::runtime::{self, Running};
use csp_bus::Bus;
use csp_catalog::Catalog;
use csp_events::{Role, Timestamp};
use csp_ordering::service::OrderingService;
use csp_testkit::identity::Issuers;
use csp_testkit::matrix::{Cell, Matrix, Observed, C1, C2, C3, P1, P2};
use csp_testkit::TempDir;
use serde_json::{json, Value};

/// A3: a partner's activity log is read by its `global_admin`, `account_admin`,
/// `referral_admin` and `marketing_content_admin`; its other users are `forbidden`; anyone
/// outside the partner is told `not_found`. Checkpoints and proofs (sizes and hashes, no event
/// unless the reader may see it) are for anyone signed in; verifying and signing on request
/// are the platform operator's.
const TABLE: &str = "
endpoint           customer P1.admin_agent P1.sales_agent P1.helpdesk_agent P1.global_admin P1.billing_admin P2.admin_agent P2.sales_agent P2.helpdesk_agent P2.global_admin P2.billing_admin C1.global_admin C1.global_admin@P2-issuer C2.global_admin importer support operator P1.account_admin P1.referral_admin P1.marketing_content_admin
get_activity       P1       F  F  F  ok F    N  N  N  N  N    N  U  N    N  N  N    ok ok ok
get_activity       P2       N  N  N  N  N    F  F  F  ok F    N  U  N    N  N  N    N  N  N
get_checkpoint     -        ok ok ok ok ok   ok ok ok ok ok   ok U  ok   ok ok ok   ok ok ok
prove_inclusion    -        ok ok ok ok ok   ok ok ok ok ok   ok U  ok   ok ok ok   ok ok ok
prove_consistency  -        ok ok ok ok ok   ok ok ok ok ok   ok U  ok   ok ok ok   ok ok ok
verify             -        F  F  F  F  F    F  F  F  F  F    F  U  F    F  F  ok   F  F  F
sign_checkpoint    -        F  F  F  F  F    F  F  F  F  F    F  U  F    F  F  ok   F  F  F
";

const NOTES: &str = "
### Audit

Checked by `crates/audit/tests/access_matrix.rs` over ordering and audit on the runtime
(in-process bus, a manual clock), with the same issuers and actors as the other services', and
P1's three other activity-log readers (A3) as extra columns. For `get_activity` the column is
the partner whose log is asked for (`partner` in the request); the other endpoints concern the
whole tree (`-`). `prove_inclusion` proves an ordering event to anyone signed in, but returns
the event's bytes only to those who may read it (the platform's operator and support, the
event's partner's or customer's `global_admin`): `crates/audit/tests/rules.rs` checks that.
Every refusal is itself a leaf of the audit log (A4).
";

struct World {
    bus: Bus,
    audit: Running<AuditService>,
    ordering: Running<OrderingService>,
    tokens: Vec<String>,
    event: String,
    n: std::sync::atomic::AtomicU64,
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
        let query = |name: &str| format!("csp.qry.audit.{name}");
        let range =
            |p| json!({"partner": p, "from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"});
        match (cell.endpoint, cell.column) {
            ("get_activity", "P1") => (query("get_activity"), range(P1)),
            ("get_activity", "P2") => (query("get_activity"), range(P2)),
            ("get_checkpoint", "-") => (query("get_checkpoint"), json!({})),
            ("prove_inclusion", "-") => (query("prove_inclusion"), json!({"event": self.event})),
            ("prove_consistency", "-") => (query("prove_consistency"), json!({"old_size": 1})),
            ("verify", "-") => (query("verify"), json!({})),
            ("sign_checkpoint", "-") => {
                let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (
                    "csp.cmd.audit.sign_checkpoint".to_string(),
                    json!({"request_id": format!("matrix-{n}")}),
                )
            }
            (other, column) => {
                panic!("the table names a cell the test cannot ask: {other} {column}")
            }
        }
    }

    async fn run(&self, cell: Cell<'_>) -> Observed {
        let (subject, body) = self.request(&cell);
        let token = &self.tokens[cell.actor];
        let (code, refusals) =
            csp_bus::harness::observe(&self.bus, self.audit.log(), &subject, token, &body).await;
        Observed { code, refusals }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_every_actor_as_the_rules_say_and_records_every_refusal() {
    csp_testkit::within(Duration::from_secs(300), async {
        let matrix = Matrix::parse("audit", TABLE);
        assert_eq!(matrix.endpoints().len(), 6, "every endpoint");
        let dir = TempDir::new("csp-audit-matrix").unwrap();
        let issuers = Issuers::new()
            .partner(P1)
            .partner(P2)
            .customer(C1)
            .customer(C2);
        let local = Local::new(
            dir.path(),
            issuers.auth_config(),
            Timestamp::ymd_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        );
        let config = |name: &str| local.config(name);
        let catalog = Arc::new(Catalog::load(csp_catalog::sample_dir()).unwrap());
        let ordering = runtime::start::<OrderingService>(config("ordering"), catalog)
            .await
            .unwrap();
        let key = CheckpointKey::from_seed("csp-audit/matrix", &[5; 32]);
        let audit = runtime::start::<AuditService>(
            config("audit"),
            Config::new(key, Duration::from_secs(3600)),
        )
        .await
        .unwrap();
        let mut tokens = issuers.matrix_actors(P1, P2, C1, C2);
        for r in [
            Role::AccountAdmin,
            Role::ReferralAdmin,
            Role::MarketingContentAdmin,
        ] {
            tokens.push(issuers.partner_user(P1, r));
        }
        let mut w = World {
            bus: local.bus.clone(),
            audit,
            ordering,
            tokens,
            event: String::new(),
            n: Default::default(),
        };

        // Ordering's events, for the tree to hold and prove.
        let admin = |p| issuers.partner_user(p, Role::AdminAgent);
        for (p, c, d) in [
            (P1, C1, "c1"),
            (P2, C2, "c2"),
            (P1, C3, "c3"),
            (P2, C3, "c3"),
        ] {
            w.ok(
                "csp.cmd.ordering.add_customer",
                &admin(p),
                json!({"request_id": format!("add-{d}-{p}"),
                "tenant_id": c, "domain": format!("{d}.example"), "company_name": "Ltd",
                "country": "US", "currency": "USD"}),
            )
            .await;
        }
        let first = w.ordering.log().read_from(1).next().unwrap().unwrap();
        w.event = first.event_id.to_string();
        let operator = issuers.platform_user(Role::Operator);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = w
                .call("csp.admin.audit.status", &operator, &json!({}))
                .await;
            if s["result"]["inbox"]["ingested"] == 4 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "audit never held ordering's four events: {s}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        w.ok(
            "csp.cmd.audit.sign_checkpoint",
            &operator,
            json!({"request_id": "setup"}),
        )
        .await;

        matrix.check(|cell| w.run(cell)).await;

        // Every refusal is a leaf, and the tree still verifies.
        let report = w.ok("csp.qry.audit.verify", &operator, json!({})).await;
        assert_eq!(report["ok"], true, "{report}");

        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../RELIABILITY.md");
        matrix.write_into(&doc, NOTES).unwrap();
        w.audit.shutdown().await;
        w.ordering.shutdown().await;
    })
    .await
}
