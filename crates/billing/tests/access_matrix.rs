//! Who may read which invoice and charge (RULES.md B10): every billing query × 16 actors × the
//! partners' invoices and the customers' charges, checked against the literal table below —
//! written from RULES.md — over ordering and billing on the runtime (in-process bus, a manual
//! clock that closes a month), with tokens from issuers bound to tenants. Every refusal is
//! recorded as exactly one `access_refused`. The table is printed into `RELIABILITY.md` beside
//! ordering's and entitlement's by this run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use csp_billing::config::Config;
use csp_billing::service::BillingService;
use csp_bus::harness::Local;
use csp_bus::runtime::{self, Running};
use csp_bus::Bus;
use csp_catalog::Catalog;
use csp_events::{Role, TenantId, Timestamp};
use csp_ordering::service::OrderingService;
use csp_testkit::identity::Issuers;
use csp_testkit::matrix::{Cell, Matrix, Observed, C1, C2, C3, P1, P2};
use csp_testkit::TempDir;
use serde_json::{json, Value};

/// B10: a partner's invoices, previews, reconciliation file and charges are read by its
/// `global_admin` and `billing_admin`; its other users are `forbidden`; anyone outside the
/// partner — another partner, a customer, the platform's roles — is told `not_found`, exactly
/// as for an invoice that does not exist.
const TABLE: &str = "
endpoint               customer P1.admin_agent P1.sales_agent P1.helpdesk_agent P1.global_admin P1.billing_admin P2.admin_agent P2.sales_agent P2.helpdesk_agent P2.global_admin P2.billing_admin C1.global_admin C1.global_admin@P2-issuer C2.global_admin importer support operator
get_invoice            P1       F  F  F  ok ok   N  N  N  N  N    N  U  N    N  N  N
get_invoice            P2       N  N  N  N  N    F  F  F  ok ok   N  U  N    N  N  N
list_invoices          P1       F  F  F  ok ok   N  N  N  N  N    N  U  N    N  N  N
list_invoices          P2       N  N  N  N  N    F  F  F  ok ok   N  U  N    N  N  N
preview_invoice        P1       F  F  F  ok ok   N  N  N  N  N    N  U  N    N  N  N
preview_invoice        P2       N  N  N  N  N    F  F  F  ok ok   N  U  N    N  N  N
export_reconciliation  P1       F  F  F  ok ok   N  N  N  N  N    N  U  N    N  N  N
export_reconciliation  P2       N  N  N  N  N    F  F  F  ok ok   N  U  N    N  N  N
get_charges            C1       F  F  F  ok ok   N  N  N  N  N    N  U  N    N  N  N
get_charges            C2       N  N  N  N  N    F  F  F  ok ok   N  U  N    N  N  N
get_charges            C3       F  F  F  N  N    F  F  F  ok ok   N  U  N    N  N  N
";

const NOTES: &str = "
### Billing

Checked by `crates/billing/tests/access_matrix.rs` over ordering and billing on the runtime
(in-process bus, a manual clock that closes November so `get_invoice` has an issued invoice),
with the same issuers and actors as ordering's. For the invoice queries the column is the
partner whose invoice is asked for (`partner` in the request); for `get_charges` it is the
customer, and the subscription named was sold by the customer's partner — for **C3**, served by
both, by **P2**, so P1's billing readers know the customer but not the sale (`N`, recorded).
Billing has no commands: it reacts to ordering's events. Customers read their software, not
their partner's invoices: `N`.
";

struct World {
    bus: Bus,
    billing: Running<BillingService>,
    ordering: Running<OrderingService>,
    tokens: Vec<String>,
    /// Per customer column: the customer and the subscription named.
    items: HashMap<&'static str, (TenantId, String)>,
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
        let subject = format!("csp.qry.billing.{}", cell.endpoint);
        let partner = match cell.column {
            "P1" => Some(P1),
            "P2" => Some(P2),
            _ => None,
        };
        let body = match (cell.endpoint, partner) {
            ("get_invoice" | "export_reconciliation", Some(p)) => {
                json!({"partner": p, "month": "2026-11"})
            }
            ("preview_invoice", Some(p)) => json!({"partner": p, "month": "2026-12"}),
            ("list_invoices", Some(p)) => json!({"partner": p}),
            ("get_charges", None) => {
                let (c, s) = &self.items[cell.column];
                json!({"customer": c, "item": {"subscription": s}})
            }
            (other, _) => panic!(
                "the table names a cell the test cannot ask: {other} {}",
                cell.column
            ),
        };
        (subject, body)
    }

    async fn run(&self, cell: Cell<'_>) -> Observed {
        let (subject, body) = self.request(&cell);
        let token = &self.tokens[cell.actor];
        let (code, refusals) =
            csp_bus::harness::observe(&self.bus, self.billing.log(), &subject, token, &body).await;
        Observed { code, refusals }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answers_every_actor_as_the_rules_say_and_records_every_refusal() {
    csp_testkit::within(Duration::from_secs(300), async {
        let matrix = Matrix::parse("billing", TABLE);
        assert_eq!(matrix.endpoints().len(), 5, "every query");
        let dir = TempDir::new("csp-billing-matrix").unwrap();
        let issuers = Issuers::new().partner(P1).partner(P2).customer(C1).customer(C2);
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
        let billing = runtime::start::<BillingService>(
            config("billing"),
            Config { grace: Duration::from_secs(60) },
        )
        .await
        .unwrap();
        let mut w = World {
            bus: local.bus.clone(),
            billing,
            ordering,
            tokens: issuers.matrix_actors(P1, P2, C1, C2),
            items: HashMap::new(),
        };

        // The customers and their sales in November: C3's by P2.
        let admin = |p| issuers.partner_user(p, Role::AdminAgent);
        for (p, c, d) in [(P1, C1, "c1"), (P2, C2, "c2"), (P1, C3, "c3"), (P2, C3, "c3")] {
            w.ok("csp.cmd.ordering.add_customer", &admin(p), json!({"request_id": format!("add-{d}-{p}"),
                "tenant_id": c, "domain": format!("{d}.example"), "company_name": "Ltd",
                "country": "US", "currency": "USD"})).await;
        }
        for (column, seller, c) in [("C1", P1, C1), ("C2", P2, C2), ("C3", P2, C3)] {
            let placed = w.ok("csp.cmd.ordering.place_order", &admin(seller), json!({"request_id": format!("o-{column}"),
                "customer": c, "lines": [{"product": "windows-server-2022-rds-user-cal", "sku": "user-cal-p1y",
                "quantity": 1, "term": "P1Y", "billing_plan": "monthly"}]})).await;
            let s = placed["lines"][0]["subscription_id"].as_str().unwrap().to_string();
            w.items.insert(column, (c, s));
        }
        // December 1, 01:00: November closes, December's installments open its preview.
        local.clock.set(Timestamp::ymd_hms(2026, 12, 1, 1, 0, 0).unwrap()).unwrap();
        let operator = issuers.platform_user(Role::Operator);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = w.call("csp.admin.billing.status", &operator, &json!({})).await;
            if s["result"]["state"]["closed_through"] == "2026-11" {
                break;
            }
            assert!(Instant::now() < deadline, "November never closed: {s}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        local.clock.set(Timestamp::ymd_hms(2026, 12, 20, 9, 0, 0).unwrap()).unwrap();
        let reader = |p| issuers.partner_user(p, Role::BillingAdmin);
        let deadline = Instant::now() + Duration::from_secs(30);
        for p in [P1, P2] {
            loop {
                let r = w.call("csp.qry.billing.preview_invoice", &reader(p), &json!({"month": "2026-12"})).await;
                if r["ok"] == true {
                    break;
                }
                assert!(Instant::now() < deadline, "no December preview for {p}: {r}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        matrix.check(|cell| w.run(cell)).await;

        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../RELIABILITY.md");
        matrix.write_into(&doc, NOTES).unwrap();
        w.billing.shutdown().await;
        w.ordering.shutdown().await;
    })
    .await
}
