//! Who may call which ordering endpoint for which customer (RULES.md "Actors and roles", O1,
//! O7, O8, O10–O12): every command and query × 16 actors × 3 customers, each cell checked
//! against the literal table below — written from RULES.md, not from the code — over the
//! runtime on the in-process bus, with real tokens from issuers bound to tenants. Every refusal
//! must be recorded as exactly one `access_refused`. The table is printed into
//! `RELIABILITY.md` by this run, once every cell holds.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use csp_auth::Verifier;
use csp_bus::runtime::{self, Running, RuntimeConfig};
use csp_bus::{Bus, Clock};
use csp_catalog::Catalog;
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{Role, TenantId, Timestamp};
use csp_ordering::service::OrderingService;
use csp_testkit::identity::Issuers;
use csp_testkit::matrix::{Cell, Matrix, Observed, C1, C2, C3, P1, P2};
use csp_testkit::TempDir;
use serde_json::{json, Value};
use uuid::Uuid;

/// The expected outcome of every cell, from RULES.md: O1 (buyers: a partner `admin_agent` or
/// `global_admin`), O7/O8/O10 (an `admin_agent` changes and cancels), O12 (`support` decides
/// refunds), O6 (the `importer` backfills), "Actors and roles" (a partner acts only for
/// customers it serves and on what it sold, a customer sees only its own tenant, what the actor
/// may not know exists is `not_found`). Reading a customer's purchases and review and window
/// questions follow the choices in `csp_ordering::docs`.
const TABLE: &str = "
endpoint              customer P1.admin_agent P1.sales_agent P1.helpdesk_agent P1.global_admin P1.billing_admin P2.admin_agent P2.sales_agent P2.helpdesk_agent P2.global_admin P2.billing_admin C1.global_admin C1.global_admin@P2-issuer C2.global_admin importer support operator
add_customer          C1       E  F  F  E  F    ok F  F  ok F    F  U  F    F  F  F
add_customer          C2       ok F  F  ok F    E  F  F  E  F    F  U  F    F  F  F
add_customer          C3       E  F  F  E  F    E  F  F  E  F    F  U  F    F  F  F
place_order           C1       ok F  F  ok F    N  N  N  N  N    F  U  N    F  F  F
place_order           C2       N  N  N  N  N    ok F  F  ok F    N  U  F    F  F  F
place_order           C3       ok F  F  ok F    ok F  F  ok F    N  U  N    F  F  F
import_orders         C1       F  F  F  F  F    F  F  F  F  F    F  U  F    ok F  F
import_orders         C2       F  F  F  F  F    F  F  F  F  F    F  U  F    ok F  F
import_orders         C3       F  F  F  F  F    F  F  F  F  F    F  U  F    ok F  F
set_auto_renew        C1       ok F  F  F  F    N  N  N  N  N    F  U  N    F  F  F
set_auto_renew        C2       N  N  N  N  N    ok F  F  F  F    N  U  F    F  F  F
set_auto_renew        C3       N  F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
cancel_subscription   C1       ok F  F  F  F    N  N  N  N  N    F  U  N    F  F  F
cancel_subscription   C2       N  N  N  N  N    ok F  F  F  F    N  U  F    F  F  F
cancel_subscription   C3       N  F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
cancel_perpetual      C1       ok F  F  F  F    N  N  N  N  N    F  U  N    F  F  F
cancel_perpetual      C2       N  N  N  N  N    ok F  F  F  F    N  U  F    F  F  F
cancel_perpetual      C3       N  F  F  F  F    ok F  F  F  F    N  U  N    F  F  F
file_refund_request   C1       ok F  F  ok F    N  N  N  N  N    F  U  N    F  F  F
file_refund_request   C2       N  N  N  N  N    ok F  F  ok F    N  U  F    F  F  F
file_refund_request   C3       N  F  F  N  F    ok F  F  ok F    N  U  N    F  F  F
decide_refund_request C1       F  F  F  F  F    F  F  F  F  F    F  U  F    F  ok F
decide_refund_request C2       F  F  F  F  F    F  F  F  F  F    F  U  F    F  ok F
decide_refund_request C3       F  F  F  F  F    F  F  F  F  F    F  U  F    F  ok F
review_order          C1       ok ok F  ok F    N  N  N  N  N    F  U  N    F  F  F
review_order          C2       N  N  N  N  N    ok ok F  ok F    N  U  F    F  F  F
review_order          C3       ok ok F  ok F    ok ok F  ok F    N  U  N    F  F  F
cancellation_info     C1       ok F  F  ok F    N  N  N  N  N    F  U  N    F  F  F
cancellation_info     C2       N  N  N  N  N    ok F  F  ok F    N  U  F    F  F  F
cancellation_info     C3       N  F  F  N  F    ok F  F  ok F    N  U  N    F  F  F
get_customers         any      ok ok ok ok ok   ok ok ok ok ok   ok U  ok   ok ok F
get_orders            C1       ok ok ok ok ok   N  N  N  N  N    ok U  N    ok ok F
get_orders            C2       N  N  N  N  N    ok ok ok ok ok   N  U  ok   ok ok F
get_orders            C3       ok ok ok ok ok   ok ok ok ok ok   N  U  N    ok ok F
get_order             C1       ok ok ok ok ok   N  N  N  N  N    ok U  N    ok ok F
get_order             C2       N  N  N  N  N    ok ok ok ok ok   N  U  ok   ok ok F
get_order             C3       N  N  N  N  N    ok ok ok ok ok   N  U  N    ok ok F
get_subscriptions     C1       ok ok ok ok ok   N  N  N  N  N    ok U  N    ok ok F
get_subscriptions     C2       N  N  N  N  N    ok ok ok ok ok   N  U  ok   ok ok F
get_subscriptions     C3       ok ok ok ok ok   ok ok ok ok ok   N  U  N    ok ok F
get_subscription      C1       ok ok ok ok ok   N  N  N  N  N    ok U  N    ok ok F
get_subscription      C2       N  N  N  N  N    ok ok ok ok ok   N  U  ok   ok ok F
get_subscription      C3       N  N  N  N  N    ok ok ok ok ok   N  U  N    ok ok F
get_purchases         C1       ok ok ok ok ok   N  N  N  N  N    ok U  N    ok ok F
get_purchases         C2       N  N  N  N  N    ok ok ok ok ok   N  U  ok   ok ok F
get_purchases         C3       ok ok ok ok ok   ok ok ok ok ok   N  U  N    ok ok F
";

/// What the columns and actors mean, printed above the table.
const NOTES: &str = "
### Ordering

Checked by `crates/ordering/tests/access_matrix.rs` over the runtime (in-process bus), with
tokens from issuers bound to tenants: each partner's own identity provider, each customer's
own, and the platform's. Customers: **C1** is served by partner P1 only, **C2** by P2 only,
**C3** by both P1 and P2; the item a command or query names (subscription, order, perpetual
purchase, refund request) was sold by the customer's partner — for C3, by **P2**, so P1 knows
the customer but not the item. For `add_customer` the column is a fresh tenant served as that
customer is (so `E` marks a partner adding a tenant it already serves). `C1.global_admin@P2-issuer`
is a customer token minted by partner P2's identity provider: refused whoever it claims to be.

`ok` allowed · `E` allowed, already done (`already_exists`) · `F` `forbidden` · `N` `not_found`,
exactly as for a customer or item that does not exist · `U` `unauthenticated`. Every `F` and
`N` cell recorded exactly one `access_refused` event; no other cell recorded one.
";

/// The world every cell runs in: the service, its log, and the ids setup created.
struct World {
    running: Running<OrderingService>,
    bus: Bus,
    tokens: Vec<String>,
    admin_of: HashMap<TenantId, String>,
    /// Per column: (customer, selling partner, order with a subscription, that subscription
    /// for auto-renew and windows, one to cancel, a perpetual order, a refund request).
    items: HashMap<&'static str, Items>,
    /// add_customer's fresh tenants, per (column, actor).
    fresh: HashMap<(String, usize), TenantId>,
    purchased: Timestamp,
}

struct Items {
    customer: TenantId,
    seller: TenantId,
    order: String,
    subscription: String,
    to_cancel: String,
    perpetual: String,
    refund: String,
}

fn line(product: &str, sku: &str, term: &str, plan: &str) -> Value {
    json!({"product": product, "sku": sku, "quantity": 1, "term": term, "billing_plan": plan})
}

fn ws() -> Value {
    line(
        "windows-server-2022-datacenter",
        "16-core-p1y",
        "P1Y",
        "annual",
    )
}

fn sql_perpetual() -> Value {
    line(
        "sql-server-2022-standard-perpetual",
        "2-core",
        "perpetual",
        "one_time",
    )
}

fn money() -> Value {
    json!({"amount_minor": 100, "currency": "USD"})
}

impl World {
    async fn call(&self, subject: &str, token: &str, body: &Value) -> Value {
        csp_bus::harness::ask(&self.bus, subject, token, body).await
    }

    /// A setup command, checked `ok`; its `result`.
    async fn setup(&self, command: &str, as_partner: TenantId, body: Value) -> Value {
        let token = &self.admin_of[&as_partner];
        let r = self
            .call(&format!("csp.cmd.ordering.{command}"), token, &body)
            .await;
        assert_eq!(r["ok"], true, "setup {command}: {r}");
        r["result"].clone()
    }

    async fn add(&self, partner: TenantId, customer: TenantId, domain: &str) {
        self.setup(
            "add_customer",
            partner,
            json!({"request_id": format!("add-{domain}-{partner}"), "tenant_id": customer,
                   "domain": domain, "company_name": format!("{domain} Ltd"),
                   "country": "US", "currency": "USD"}),
        )
        .await;
    }

    /// Sells one subscription order, one more subscription (to cancel), one perpetual order and
    /// files one refund request, all as `seller`, for `customer`.
    async fn sell(&self, seller: TenantId, customer: TenantId) -> Items {
        let tag = format!("{customer}-{seller}");
        let placed = self
            .setup(
                "place_order",
                seller,
                json!({"request_id": format!("o1-{tag}"), "customer": customer,
                       "lines": [ws(), ws()]}),
            )
            .await;
        let order = placed["order_id"].as_str().unwrap().to_string();
        let subs: Vec<String> = placed["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["subscription_id"].as_str().unwrap().to_string())
            .collect();
        let perpetual = self
            .setup(
                "place_order",
                seller,
                json!({"request_id": format!("o2-{tag}"), "customer": customer,
                       "lines": [sql_perpetual()]}),
            )
            .await["order_id"]
            .as_str()
            .unwrap()
            .to_string();
        let refund = self
            .setup(
                "file_refund_request",
                seller,
                refund_body(&format!("r-{tag}"), customer, &order),
            )
            .await["refund_request_id"]
            .as_str()
            .unwrap()
            .to_string();
        Items {
            customer,
            seller,
            order,
            subscription: subs[0].clone(),
            to_cancel: subs[1].clone(),
            perpetual,
            refund,
        }
    }

    /// The subject and body of `cell`.
    fn request(&self, cell: &Cell<'_>) -> (String, Value) {
        let rid = format!("{}-{}-{}", cell.endpoint, cell.column, cell.actor);
        let kind = if cell.endpoint.starts_with("get_")
            || cell.endpoint == "review_order"
            || cell.endpoint == "cancellation_info"
        {
            "qry"
        } else {
            "cmd"
        };
        let subject = format!("csp.{kind}.ordering.{}", cell.endpoint);
        if cell.endpoint == "get_customers" {
            return (subject, json!({}));
        }
        let it = &self.items[cell.column];
        let c = it.customer;
        let body = match cell.endpoint {
            "add_customer" => {
                let t = self.fresh[&(cell.column.to_string(), cell.actor)];
                json!({"request_id": rid, "tenant_id": t, "domain": format!("{t}.example"),
                       "company_name": "Fresh Ltd", "country": "US", "currency": "USD"})
            }
            "place_order" => json!({"request_id": rid, "customer": c, "lines": [ws()]}),
            "import_orders" => json!({"request_id": rid, "orders": [
                {"customer": c, "partner": it.seller, "purchased_at": self.purchased, "lines": [ws()]}
            ]}),
            "set_auto_renew" => json!({"request_id": rid, "customer": c,
                "subscription_id": it.subscription, "auto_renew": false}),
            "cancel_subscription" => json!({"request_id": rid, "customer": c,
                "subscription_id": it.to_cancel}),
            "cancel_perpetual" => json!({"request_id": rid, "customer": c,
                "order_ids": [it.perpetual]}),
            "file_refund_request" => refund_body(&rid, c, &it.order),
            "decide_refund_request" => json!({"request_id": rid,
                "refund_request_id": it.refund, "decision": "approve", "amount": money()}),
            "review_order" => json!({"customer": c, "lines": [ws()]}),
            "cancellation_info" => json!({"customer": c, "subscription_id": it.subscription}),
            "get_orders" | "get_subscriptions" | "get_purchases" => json!({"customer": c}),
            "get_order" => json!({"customer": c, "order_id": it.order}),
            "get_subscription" => json!({"customer": c, "subscription_id": it.subscription}),
            other => panic!("the table names an endpoint the test cannot call: {other}"),
        };
        (subject, body)
    }

    /// Runs one cell: its reply's code and the refusals it recorded.
    async fn run(&self, cell: Cell<'_>) -> Observed {
        let (subject, body) = self.request(&cell);
        let token = &self.tokens[cell.actor];
        let (code, refusals) =
            csp_bus::harness::observe(&self.bus, self.running.log(), &subject, token, &body).await;
        Observed { code, refusals }
    }
}

fn refund_body(rid: &str, customer: TenantId, order: &str) -> Value {
    json!({"request_id": rid, "customer": customer, "order_id": order,
           "reason": "bought the wrong edition", "amount_requested": money(),
           "contact": {"name": "Pat Doe", "email": "pat@example.com", "phone": "+1 555 0100"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_every_actor_as_the_rules_say_and_records_every_refusal() {
    csp_testkit::within(Duration::from_secs(300), async {
        let matrix = Matrix::parse("ordering", TABLE);
        assert_eq!(matrix.endpoints().len(), 16, "every command and query");
        assert_eq!(matrix.actors().len(), 16);

        let dir = TempDir::new("csp-access-matrix").unwrap();
        let issuers = Issuers::new()
            .partner(P1)
            .partner(P2)
            .customer(C1)
            .customer(C2);
        let verifier = Arc::new(Verifier::new(issuers.auth_config()).unwrap());
        let bus = Bus::local();
        let log = EventLog::open(dir.path().join("ordering"), LogOptions::default()).unwrap();
        let catalog = Arc::new(Catalog::load(csp_catalog::sample_dir()).unwrap());
        let config = RuntimeConfig::new(bus.clone(), log, Clock::System, verifier);
        let running = runtime::start::<OrderingService>(config, catalog)
            .await
            .unwrap();
        let admin_of = [P1, P2]
            .into_iter()
            .map(|p| (p, issuers.partner_user(p, Role::AdminAgent)))
            .collect();
        let now = csp_bus::clock::system_now();
        let mut world = World {
            running,
            bus,
            tokens: issuers.matrix_actors(P1, P2, C1, C2),
            admin_of,
            items: HashMap::new(),
            fresh: HashMap::new(),
            purchased: Timestamp::from_micros(now.as_micros() - 3 * 86_400_000_000),
        };

        world.add(P1, C1, "c1.example").await;
        world.add(P2, C2, "c2.example").await;
        world.add(P1, C3, "c3.example").await;
        world.add(P2, C3, "c3.example").await;
        let sold = [
            ("C1", world.sell(P1, C1).await),
            ("C2", world.sell(P2, C2).await),
            ("C3", world.sell(P2, C3).await),
        ];
        world.items.extend(sold);
        // add_customer's fresh tenants, served as the column's customer is.
        let servers: [(&str, &[TenantId]); 3] = [("C1", &[P1]), ("C2", &[P2]), ("C3", &[P1, P2])];
        let mut n = 0u128;
        for (column, partners) in servers {
            for actor in 0..matrix.actors().len() {
                n += 1;
                let t = TenantId(Uuid::from_u128(
                    0x0190_d7a1_0000_7000_8000_0000_0f00_0000 + n,
                ));
                for p in partners {
                    world.add(*p, t, &format!("{t}.example")).await;
                }
                world.fresh.insert((column.to_string(), actor), t);
            }
        }

        matrix.check(|cell| world.run(cell)).await;

        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../RELIABILITY.md");
        matrix.write_into(&doc, NOTES).unwrap();
        world.running.shutdown().await;
    })
    .await
}
