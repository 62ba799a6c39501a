//! The ordering service over a real nats-server, as an outside client uses it: `csp serve
//! ordering` on a manual clock, JSON written by hand, tokens from the development issuer.
//!
//! - the rules end to end: orders, subscriptions, cancellation windows to the second, RedHat
//!   plans, backfilled orders that expire, perpetual windows, markets, roles, idempotency;
//! - hostile input: every malformed body a clear error, nothing recorded, the service alive;
//! - events: a plain JetStream subscriber and `events_from` see the same contiguous outbox;
//! - fire-and-forget: `csp.in.ordering.place_order`, its outcome events carrying the correlation.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, ActorKind, Envelope, Event, Role, TenantId, Timestamp};
use csp_testkit::e2e::*;
use csp_testkit::{NatsServer, TempDir};
use futures_util::StreamExt as _;
use serde_json::{json, Value};

/// A customer in Haiti, where Azure Reservations are not sold.
const HAITI: &str = "0190d7a1-0000-7000-8000-00000000cc02";
/// A partner that does not serve [`CUSTOMER`].
const OTHER_PARTNER: &str = "0190d7a1-0000-7000-8000-00000000aa02";
/// A third customer, for the concurrent retries.
const FABRIKAM: &str = "0190d7a1-0000-7000-8000-00000000cc03";
/// The platform tenant the importer and support users belong to.
const PLATFORM: &str = "0190d7a1-0000-7000-8000-0000000000f1";

fn tenant(s: &str) -> TenantId {
    s.parse().unwrap()
}

/// One running `csp serve ordering` with its own nats-server, and a client.
struct Ordering {
    csp: Csp,
    client: async_nats::Client,
    issuer: csp_auth::DevIssuer,
    admin: String,
    /// A partner `admin_agent` of [`PARTNER`].
    agent: String,
    data: TempDir,
    // Declared last: dropped after the service it serves.
    nats: NatsServer,
}

impl Ordering {
    async fn start(prefix: &str, manual_clock: &str, nats: NatsServer) -> Ordering {
        let data = TempDir::new(prefix).unwrap();
        let issuer = dev_issuer(data.path());
        let csp = Csp::serve(
            &nats.url(),
            "ordering",
            data.path(),
            &["--manual-clock", manual_clock],
        )
        .await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        Ordering {
            admin: admin_token(&issuer),
            agent: partner_token(&issuer, tenant(PARTNER), Role::AdminAgent),
            issuer,
            csp,
            client,
            data,
            nats,
        }
    }

    fn token(&self, kind: ActorKind, tenant_id: &str, role: Role) -> String {
        self.issuer.mint_for(
            kind,
            tenant(tenant_id),
            "someone@example.com",
            &[role],
            3600,
            now_secs(),
        )
    }

    /// The reply's raw bytes.
    async fn raw(&self, subject: &str, token: Option<&str>, body: &[u8]) -> Bytes {
        csp_testkit::e2e::send_raw(&self.client, subject, token, body).await
    }

    async fn cmd(&self, name: &str, token: &str, body: Value) -> Value {
        let subject = format!("csp.cmd.ordering.{name}");
        send(
            &self.client,
            &subject,
            Some(token),
            body.to_string().as_bytes(),
        )
        .await
    }

    async fn qry(&self, name: &str, token: &str, body: Value) -> Value {
        let subject = format!("csp.qry.ordering.{name}");
        let r = send(
            &self.client,
            &subject,
            Some(token),
            body.to_string().as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "ok", "{name}: {r}");
        r["result"].clone()
    }

    async fn status(&self) -> Value {
        status(&self.client, "ordering", &self.admin, true).await
    }

    async fn last_seq(&self) -> u64 {
        last_seq(&self.client, "ordering", &self.admin).await
    }

    async fn clock(&self, body: Value) -> String {
        let r = send(
            &self.client,
            "csp.admin.ordering.clock",
            Some(&self.admin),
            body.to_string().as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "ok", "clock {body}: {r}");
        r["result"]["now"].as_str().unwrap().to_string()
    }

    async fn add_customer(&self, id: &str, domain: &str, country: &str, currency: &str) {
        let r = self
            .cmd(
                "add_customer",
                &self.agent,
                json!({
                    "request_id": format!("add-{domain}"),
                    "tenant_id": id,
                    "domain": domain,
                    "company_name": format!("{domain} Ltd"),
                    "country": country,
                    "currency": currency,
                }),
            )
            .await;
        assert_eq!(code(&r), "ok", "{r}");
    }

    async fn pings(&self) -> bool {
        matches!(
            tokio::time::timeout(
                Duration::from_secs(5),
                self.client.request("$SRV.PING.ordering", Bytes::new()),
            )
            .await,
            Ok(Ok(_))
        )
    }
}

fn line(product: &str, sku: &str, quantity: i64, term: &str, plan: &str) -> Value {
    json!({"product": product, "sku": sku, "quantity": quantity, "term": term, "billing_plan": plan})
}

fn ws_p1y() -> Value {
    line(
        "windows-server-2022-datacenter",
        "16-core-p1y",
        2,
        "P1Y",
        "annual",
    )
}

fn sql_p1y() -> Value {
    line("sql-server-2022-standard", "2-core-p1y", 4, "P1Y", "annual")
}

fn rhel_p1y() -> Value {
    line("rhel-software-plan", "1-4-vcpu-p1y", 1, "P1Y", "annual")
}

fn sql_perpetual() -> Value {
    line(
        "sql-server-2022-standard-perpetual",
        "2-core",
        1,
        "perpetual",
        "one_time",
    )
}

fn place(request_id: &str, customer: &str, lines: Vec<Value>) -> Value {
    json!({"request_id": request_id, "customer": customer, "lines": lines})
}

fn ids_of(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

/// A hostile request: what it is, the command, the body, the token, the code and `details.path`
/// expected.
type Case<'a> = (
    &'a str,
    &'a str,
    Vec<u8>,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
);

/// Polls `check` every 20 ms until it returns `Some`, failing after `limit`.
async fn until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = check().await {
            return t;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn log_events(dir: &std::path::Path) -> Vec<Envelope> {
    let log = EventLog::open(dir, LogOptions::default()).expect("open the stopped service's log");
    assert!(log.verify().unwrap().is_clean(), "log integrity");
    log.read_from(1)
        .map(|r| codec::decode(r.unwrap().bytes()).unwrap())
        .collect()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The ordering rules through the service's JSON API, on a manual clock:
/// - rule O2 and rule M3: an order reviewed (priced, plans listed, nothing recorded), then placed;
///   rule O3: each line a subscription or a perpetual purchase keeping the order id;
/// - rule O8: a cancel at 167:59:59 after the term start accepted, another subscription of the
///   same start refused at exactly 168:00:00 with the window's end (`details.window_ends_at`),
///   and accepted inside the window of its renewed term; rule O11: the window asked before;
/// - rule O9: a RedHat plan never cancellable (`not_cancellable`);
/// - rule O4, rule O5, rule O6, rule O7: orders backfilled by the platform's importer (a partner
///   may not) as bought on 2021-10-13 (before the cut-over), 2021-10-14T00:00:00Z (exactly the
///   cut-over) and 2021-01-10 (its term already over): all in Get Orders; only the cut-over one
///   in Get Subscriptions; the pre-cut-over ones never auto-renew (switching it on is refused)
///   and expire at their term end — recorded by the scheduler when the clock gets there, or at
///   once for the term already over — while the cut-over one renews;
/// - rule O10: perpetual purchases cancelled at 719:59:59 and refused at exactly 720:00:00, the
///   cancelled one still listed;
/// - rule M1: an Azure Reservation for a customer in Haiti refused (`market_unavailable`),
///   software sold there;
/// - rule O1: a `sales_agent` may not buy (`forbidden`, recorded as one `AccessRefused`); another
///   partner, another customer and a helpdesk agent are refused and recorded too;
/// - idempotency: one `request_id` sent five times at once is one order with five byte-identical
///   answers; five cancels with five `request_id`s racing are one cancel;
/// - the live state's digest equals a replay's after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_rules_over_nats_with_a_manual_clock() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = serial().await;
        // After the cut-over (2021-10-14), before the backfilled order's term end (2022-10-13),
        // so the scheduler, not the import, records its expiry.
        const T0: &str = "2022-03-01T09:00:00Z";
        let mut o = Ordering::start("csp-e2e-ordering", T0, NatsServer::start().unwrap()).await;
        o.add_customer(CUSTOMER, "contoso.onmicrosoft.com", "US", "USD")
            .await;
        o.add_customer(HAITI, "haiti-traders.example.com", "HT", "USD")
            .await;
        o.add_customer(FABRIKAM, "fabrikam.onmicrosoft.com", "US", "USD")
            .await;
        let sales = o.token(ActorKind::Partner, PARTNER, Role::SalesAgent);

        // Rule O2: a sales agent reviews the order first: priced, plans listed, nothing recorded.
        let before = o.last_seq().await;
        let review = o
            .qry(
                "review_order",
                &sales,
                json!({"customer": "contoso.onmicrosoft.com", "lines": [ws_p1y(), sql_p1y(), rhel_p1y()]}),
            )
            .await;
        assert_eq!(review["can_place"], false, "a sales agent may not buy: {review}");
        assert_eq!(review["lines"][0]["available_plans"], json!(["annual"]), "rule M3");
        assert_eq!(review["total"]["currency"], "USD");
        assert!(review["total"]["amount_minor"].as_i64().unwrap() > 0, "{review}");
        assert_eq!(o.last_seq().await, before, "a review records nothing");

        // An order of three subscriptions, all starting now (rule O3).
        let r = o
            .cmd(
                "place_order",
                &o.agent,
                place(
                    "po-subs",
                    "contoso.onmicrosoft.com",
                    vec![ws_p1y(), sql_p1y(), rhel_p1y()],
                ),
            )
            .await;
        assert_eq!(code(&r), "ok", "{r}");
        let order = r["result"]["order_id"].as_str().unwrap().to_string();
        assert_eq!(r["result"]["purchased_at"], T0);
        assert_eq!(r["result"]["total"], review["total"], "priced as reviewed");
        let subs = ids_of(&r["result"]["lines"], "subscription_id");
        let (ws, sql, rhel) = (subs[0].as_str(), subs[1].as_str(), subs[2].as_str());

        let listed = o
            .qry("get_subscriptions", &o.agent, json!({"customer": CUSTOMER}))
            .await;
        let listed = listed["subscriptions"].as_array().unwrap().clone();
        assert_eq!(listed.len(), 3, "{listed:?}");
        for s in &listed {
            assert_eq!(s["order_id"], order.as_str(), "rule O3: keeps its order id");
            assert_eq!(s["status"], "active");
            assert_eq!(s["term_start"], T0);
            assert_eq!(s["term_end"], "2023-03-01T09:00:00Z");
            assert_eq!(s["auto_renew"], true, "rule O6: after the cut-over");
        }
        let window = |id: &str| {
            listed
                .iter()
                .find(|s| s["subscription_id"] == id)
                .unwrap()["cancellable_until"]
                .clone()
        };
        // Rule O8: every subscription shows when its window ends; RedHat has none (O9).
        assert_eq!(window(ws), "2022-03-08T09:00:00Z");
        assert_eq!(window(sql), "2022-03-08T09:00:00Z");
        assert_eq!(window(rhel), Value::Null);

        // Two perpetual purchases, each its own order, bought now (rule O3).
        let mut perpetual_orders = Vec::new();
        for id in ["po-perp-1", "po-perp-2"] {
            let r = o
                .cmd(
                    "place_order",
                    &o.agent,
                    place(id, CUSTOMER, vec![sql_perpetual()]),
                )
                .await;
            assert_eq!(code(&r), "ok", "{r}");
            assert!(r["result"]["lines"][0]["purchase_id"].is_string(), "{r}");
            perpetual_orders.push(r["result"]["order_id"].as_str().unwrap().to_string());
        }

        // Rule O9: a RedHat plan is never cancellable, even inside any window.
        let r = o
            .cmd(
                "cancel_subscription",
                &o.agent,
                json!({"request_id": "cancel-rhel", "customer": CUSTOMER, "subscription_id": rhel}),
            )
            .await;
        assert_eq!(code(&r), "not_cancellable", "{r}");

        // Rule M1: no Azure Reservation for a customer in Haiti; nothing recorded.
        let before = o.last_seq().await;
        let r = o
            .cmd(
                "place_order",
                &o.agent,
                place(
                    "po-haiti",
                    HAITI,
                    vec![line(
                        "azure-reserved-vm-instances",
                        "d4s-v5-eastus",
                        1,
                        "P1Y",
                        "monthly",
                    )],
                ),
            )
            .await;
        assert_eq!(code(&r), "market_unavailable", "{r}");
        assert_eq!(r["error"]["details"]["path"], "lines[0].product", "{r}");
        assert_eq!(r["error"]["details"]["country"], "HT", "{r}");
        // ...while software is sold there (the list restricts reservations only).
        let r = o
            .cmd(
                "place_order",
                &o.agent,
                place("po-haiti-sw", HAITI, vec![ws_p1y()]),
            )
            .await;
        assert_eq!(code(&r), "ok", "{r}");
        assert_eq!(o.last_seq().await, before + 2, "order and subscription only");

        // Rule O1: a sales agent may not buy; the refusal is recorded once, nothing else.
        let before = o.last_seq().await;
        let r = o
            .cmd(
                "place_order",
                &sales,
                place("po-sales", CUSTOMER, vec![ws_p1y()]),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "{r}");
        assert_eq!(o.last_seq().await, before + 1, "one AccessRefused");
        // Another partner may not cancel our customer's subscription, and may not even learn
        // the customer exists: `not_found`, as for a customer nobody serves (recorded).
        let stranger = o.token(ActorKind::Partner, OTHER_PARTNER, Role::AdminAgent);
        let r = o
            .cmd(
                "cancel_subscription",
                &stranger,
                json!({"request_id": "steal", "customer": CUSTOMER, "subscription_id": ws}),
            )
            .await;
        assert_eq!(code(&r), "not_found", "{r}");
        // A customer's own user reads its orders, not another customer's.
        let own = o.token(ActorKind::Customer, CUSTOMER, Role::GlobalAdmin);
        let mine = o
            .qry("get_orders", &own, json!({"customer": CUSTOMER}))
            .await;
        assert_eq!(mine["orders"].as_array().unwrap().len(), 3);
        let r = send(
            &o.client,
            "csp.qry.ordering.get_orders",
            Some(&own),
            json!({"customer": FABRIKAM}).to_string().as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "not_found", "{r}");
        assert_eq!(o.last_seq().await, before + 3, "three refusals recorded");

        // One request_id sent five times at once: one order, five byte-identical answers.
        let before = o.last_seq().await;
        let body = place("po-fab-once", FABRIKAM, vec![ws_p1y()]).to_string();
        let started = Instant::now();
        let answers = futures_util::future::join_all((0..5).map(|_| {
            o.raw(
                "csp.cmd.ordering.place_order",
                Some(&o.agent),
                body.as_bytes(),
            )
        }))
        .await;
        let elapsed = started.elapsed();
        let first: Value = serde_json::from_slice(&answers[0]).unwrap();
        assert_eq!(code(&first), "ok", "{first}");
        for a in &answers {
            assert_eq!(a, &answers[0], "byte-identical answers");
        }
        let orders = o
            .qry("get_orders", &o.agent, json!({"customer": FABRIKAM}))
            .await;
        assert_eq!(
            ids_of(&orders["orders"], "order_id"),
            [first["result"]["order_id"].as_str().unwrap()],
            "exactly one order"
        );
        assert_eq!(o.last_seq().await, before + 2, "one effect");
        eprintln!("five concurrent copies of one request answered in {elapsed:?}");

        // Rule O6: only the platform's importer backfills; a partner is refused (and recorded).
        let backfill = json!({
            "request_id": "backfill-2021",
            "orders": [
                {"customer": CUSTOMER, "purchased_at": "2021-10-13T15:30:00Z", "lines": [sql_p1y()]},
                {"customer": CUSTOMER, "purchased_at": "2021-10-14T00:00:00Z", "lines": [sql_p1y()]},
                {"customer": CUSTOMER, "purchased_at": "2021-01-10T12:00:00Z", "lines": [sql_p1y()]},
            ],
        });
        let before = o.last_seq().await;
        let r = o.cmd("import_orders", &o.agent, backfill.clone()).await;
        assert_eq!(code(&r), "forbidden", "{r}");
        // Whatever the batch holds: the role is checked first, and the refusal recorded.
        let r = o
            .cmd(
                "import_orders",
                &o.agent,
                json!({"request_id": "backfill-none", "orders": []}),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "{r}");
        assert_eq!(o.last_seq().await, before + 2, "two AccessRefused");
        let importer = o.token(ActorKind::Platform, PLATFORM, Role::Importer);
        let r = o.cmd("import_orders", &importer, backfill).await;
        assert_eq!(code(&r), "ok", "{r}");
        let imported: Vec<(String, String)> = (0..3)
            .map(|i| {
                let item = &r["result"]["results"][i];
                assert_eq!(item["ok"], true, "{r}");
                (
                    item["order"]["order_id"].as_str().unwrap().to_string(),
                    item["order"]["lines"][0]["subscription_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        let (old_order, old_sub) = (&imported[0].0, imported[0].1.as_str());
        let (cutover_order, cutover_sub) = (&imported[1].0, imported[1].1.as_str());
        let (ended_order, ended_sub) = (&imported[2].0, imported[2].1.as_str());

        // Rule O5: Get Orders returns them all, whatever their date, oldest first.
        let orders = o
            .qry("get_orders", &o.agent, json!({"customer": CUSTOMER}))
            .await;
        let orders = orders["orders"].as_array().unwrap().clone();
        assert_eq!(orders.len(), 6, "three bought now, three backfilled");
        let dated: Vec<(&str, &str, bool)> = orders[..3]
            .iter()
            .map(|o| {
                (
                    o["order_id"].as_str().unwrap(),
                    o["purchased_at"].as_str().unwrap(),
                    o["backfilled"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            dated,
            [
                (ended_order.as_str(), "2021-01-10T12:00:00Z", true),
                (old_order.as_str(), "2021-10-13T15:30:00Z", true),
                (cutover_order.as_str(), "2021-10-14T00:00:00Z", true),
            ]
        );
        // Rule O4: Get Subscriptions returns the one bought at the cut-over, not the earlier
        // ones; Get Subscription does not find those; Get Purchases (the Software page) lists all.
        let listed = o
            .qry("get_subscriptions", &o.agent, json!({"customer": CUSTOMER}))
            .await;
        let listed_ids = ids_of(&listed["subscriptions"], "subscription_id");
        // Oldest first; the lines of one order share a start (their order among themselves is
        // the ids').
        assert_eq!(listed_ids[0], cutover_sub, "{listed}");
        let mut rest = listed_ids[1..].to_vec();
        rest.sort();
        let mut want = vec![ws, sql, rhel];
        want.sort();
        assert_eq!(rest, want, "{listed}");
        assert_eq!(
            listed["subscriptions"][0]["auto_renew"], true,
            "rule O6: on or after the cut-over it auto-renews"
        );
        for id in [old_sub, ended_sub] {
            let r = send(
                &o.client,
                "csp.qry.ordering.get_subscription",
                Some(&o.agent),
                json!({"customer": CUSTOMER, "subscription_id": id})
                    .to_string()
                    .as_bytes(),
            )
            .await;
            assert_eq!(code(&r), "not_found", "{r}");
        }
        let purchase = |purchases: &Value, id: &str| {
            purchases["purchases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["item"]["subscription"] == id || p["item"]["perpetual"] == id)
                .cloned()
                .unwrap_or_else(|| panic!("{id} not in {purchases}"))
        };
        let purchases = o
            .qry("get_purchases", &o.agent, json!({"customer": CUSTOMER}))
            .await;
        let status_of = |purchases: &Value, id: &str| {
            let p = purchase(purchases, id);
            (
                p["before_cutover"].as_bool().unwrap(),
                p["status"].as_str().unwrap().to_string(),
            )
        };
        assert_eq!(status_of(&purchases, old_sub), (true, "active".into()));
        assert_eq!(status_of(&purchases, cutover_sub), (false, "active".into()));
        // Rules O6, O7: a term already over when backfilled ended without renewal, at once.
        assert_eq!(status_of(&purchases, ended_sub), (true, "expired".into()));
        // Rule O6: a pre-cut-over subscription cannot be made to auto-renew.
        let r = o
            .cmd(
                "set_auto_renew",
                &o.agent,
                json!({"request_id": "ar-old", "customer": CUSTOMER, "subscription_id": old_sub, "auto_renew": true}),
            )
            .await;
        assert_eq!(code(&r), "autorenew_unavailable", "{r}");
        assert_eq!(r["error"]["details"]["term_end"], "2022-10-13T15:30:00Z");

        // Rule O11 is for the partner's buyers: a helpdesk agent is refused (and recorded),
        // whatever it asks.
        let helpdesk = o.token(ActorKind::Partner, PARTNER, Role::HelpdeskAgent);
        let before = o.last_seq().await;
        let r = send(
            &o.client,
            "csp.qry.ordering.cancellation_info",
            Some(&helpdesk),
            json!({"customer": CUSTOMER, "subscription_id": ws, "order_id": order})
                .to_string()
                .as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "forbidden", "{r}");
        assert_eq!(o.last_seq().await, before + 1, "one AccessRefused");

        // Rule O8 to the second: at 167:59:59 the window is open (O11 says one second is left)
        // and a cancel is accepted...
        let now = o
            .clock(json!({"advance_seconds": 167 * 3600 + 59 * 60 + 59}))
            .await;
        assert_eq!(now, "2022-03-08T08:59:59Z");
        let info = o
            .qry(
                "cancellation_info",
                &o.agent,
                json!({"customer": CUSTOMER, "subscription_id": ws}),
            )
            .await;
        let w = &info["windows"][0];
        assert_eq!(
            (&w["window_ends_at"], &w["passed"], &w["seconds_remaining"]),
            (&json!("2022-03-08T09:00:00Z"), &json!(false), &json!(1)),
            "rule O11: {info}"
        );
        let r = o
            .cmd(
                "cancel_subscription",
                &o.agent,
                json!({"request_id": "cancel-ws", "customer": CUSTOMER, "subscription_id": ws}),
            )
            .await;
        assert_eq!(code(&r), "ok", "{r}");
        assert_eq!(r["result"]["status"], "cancelled");
        assert_eq!(r["result"]["cancelled_at"], "2022-03-08T08:59:59Z");
        // ...and at exactly 168:00:00 another subscription of the same start is refused, giving
        // the end of the window; nothing is recorded.
        assert_eq!(
            o.clock(json!({"advance_seconds": 1})).await,
            "2022-03-08T09:00:00Z"
        );
        let before = o.last_seq().await;
        let r = o
            .cmd(
                "cancel_subscription",
                &o.agent,
                json!({"request_id": "cancel-sql", "customer": CUSTOMER, "subscription_id": sql}),
            )
            .await;
        assert_eq!(code(&r), "cancellation_window_closed", "{r}");
        assert_eq!(
            r["error"]["details"]["window_ends_at"],
            "2022-03-08T09:00:00Z"
        );
        assert_eq!(o.last_seq().await, before);
        let sub = o
            .qry(
                "get_subscription",
                &o.agent,
                json!({"customer": CUSTOMER, "subscription_id": ws}),
            )
            .await;
        assert_eq!(sub["status"], "cancelled");

        // Rule O10: a perpetual purchase is cancelled at 719:59:59 after it was bought...
        let now = o
            .clock(json!({"advance_seconds": 719 * 3600 + 59 * 60 + 59 - 168 * 3600}))
            .await;
        assert_eq!(now, "2022-03-31T08:59:59Z");
        let info = o
            .qry(
                "cancellation_info",
                &o.agent,
                json!({"customer": CUSTOMER, "order_id": perpetual_orders[0]}),
            )
            .await;
        assert_eq!(info["windows"][0]["seconds_remaining"], 1, "rule O11: {info}");
        let r = o
            .cmd(
                "cancel_perpetual",
                &o.agent,
                json!({"request_id": "cancel-p1", "customer": CUSTOMER, "order_ids": [perpetual_orders[0]]}),
            )
            .await;
        assert_eq!(code(&r), "ok", "{r}");
        assert_eq!(r["result"]["results"][0]["ok"], true, "{r}");
        // ...and another refused at exactly 720:00:00.
        o.clock(json!({"advance_seconds": 1})).await;
        let r = o
            .cmd(
                "cancel_perpetual",
                &o.agent,
                json!({"request_id": "cancel-p2", "customer": CUSTOMER, "order_ids": [perpetual_orders[1]]}),
            )
            .await;
        assert_eq!(code(&r), "cancellation_window_closed", "{r}");
        assert_eq!(
            r["error"]["details"]["window_ends_at"],
            "2022-03-31T09:00:00Z"
        );
        // The cancelled purchase stays listed (rule O10).
        let purchases = o
            .qry("get_purchases", &o.agent, json!({"customer": CUSTOMER}))
            .await;
        let cancelled = purchases["purchases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["order_id"] == perpetual_orders[0].as_str())
            .cloned()
            .unwrap();
        assert_eq!(cancelled["status"], "cancelled");

        // Rules O6, O7: at 2022-10-14T00:00:00Z the scheduler has recorded the pre-cut-over
        // subscription's expiry (its term ended 2022-10-13T15:30) and the cut-over one's renewal.
        o.clock(json!({"set": "2022-10-14T00:00:00Z"})).await;
        let started = Instant::now();
        until("the backfilled order expired", Duration::from_secs(20), || async {
            let orders = o
                .qry("get_orders", &o.agent, json!({"customer": CUSTOMER}))
                .await;
            (orders["orders"][1]["lines"][0]["status"] == "expired").then_some(())
        })
        .await;
        let seen = started.elapsed();
        let purchases = o
            .qry("get_purchases", &o.agent, json!({"customer": CUSTOMER}))
            .await;
        assert_eq!(status_of(&purchases, old_sub), (true, "expired".into()));
        assert_eq!(status_of(&purchases, sql).1, "active", "not due yet");
        let renewed = until("the cut-over one renewed", Duration::from_secs(20), || async {
            let s = o
                .qry(
                    "get_subscription",
                    &o.agent,
                    json!({"customer": CUSTOMER, "subscription_id": cutover_sub}),
                )
                .await;
            (s["term_number"] == 2).then_some(s)
        })
        .await;
        assert_eq!(
            (&renewed["status"], &renewed["term_start"], &renewed["term_end"]),
            (
                &json!("active"),
                &json!("2022-10-14T00:00:00Z"),
                &json!("2023-10-14T00:00:00Z")
            )
        );
        eprintln!("expiry visible in get_orders {seen:?} after the clock moved");

        // Rule O8, any term: the SQL subscription refused at 168:00:00 of its first term is
        // cancelled at 167:59:59 of its second (the renewal at 2023-03-01T09:00 comes first).
        // Five cancels with five request_ids race: exactly one wins, the others find it
        // cancelled.
        o.clock(json!({"set": "2023-03-08T08:59:59Z"})).await;
        let answers = futures_util::future::join_all((0..5).map(|i| {
            o.cmd(
                "cancel_subscription",
                &o.agent,
                json!({"request_id": format!("cancel-sql-2-{i}"), "customer": CUSTOMER, "subscription_id": sql}),
            )
        }))
        .await;
        let mut codes: Vec<String> = answers.iter().map(code).collect();
        codes.sort();
        assert_eq!(
            codes,
            ["invalid_state", "invalid_state", "invalid_state", "invalid_state", "ok"],
            "{answers:?}"
        );
        let r = answers.iter().find(|a| code(a) == "ok").unwrap();
        assert_eq!(r["result"]["term_number"], 2, "{r}");
        let sub = o
            .qry(
                "get_subscription",
                &o.agent,
                json!({"customer": CUSTOMER, "subscription_id": sql}),
            )
            .await;
        assert_eq!(
            (&sub["status"], &sub["term_start"], &sub["cancellable_until"]),
            (
                &json!("cancelled"),
                &json!("2023-03-01T09:00:00Z"),
                &json!("2023-03-08T09:00:00Z")
            ),
            "{sub}"
        );
        // The other term ends of 2023-03-01 are renewals the scheduler records (rule O7).
        until("the 2023 renewals", Duration::from_secs(20), || async {
            let mut terms = Vec::new();
            for c in [CUSTOMER, HAITI, FABRIKAM] {
                let listed = o
                    .qry("get_subscriptions", &o.agent, json!({"customer": c}))
                    .await;
                for s in listed["subscriptions"].as_array().unwrap() {
                    if s["status"] == "active" {
                        terms.push(s["term_number"].as_u64().unwrap());
                    }
                }
            }
            (terms == [2, 2, 2, 2]).then_some(())
        })
        .await;
        let state = o.status().await["state"].clone();
        assert_eq!(
            state["subscriptions"],
            json!({"active": 4, "cancelled": 2, "expired": 2})
        );
        eprintln!("status: {state}");
        assert_eq!(state["customers"], 3);
        assert_eq!(state["orders"], 8);
        assert_eq!(
            state["perpetual_purchases"],
            json!({"active": 1, "cancelled": 1, "expired": 0})
        );

        // The log: each expiry at its term end, recorded when the clock got there (or at the
        // import, for the term already over); renewals only after the cut-over.
        assert!(o.csp.terminate().success());
        let events = log_events(&o.csp.log_dir());
        let mut expiries: Vec<(String, Timestamp, Timestamp)> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Event::SubscriptionExpired(x) => {
                    Some((x.subscription.to_string(), e.effective_at, e.recorded_at))
                }
                _ => None,
            })
            .collect();
        expiries.sort();
        let mut want = vec![
            (
                old_sub.to_string(),
                ts("2022-10-13T15:30:00Z"),
                ts("2022-10-14T00:00:00Z"),
            ),
            (ended_sub.to_string(), ts("2022-01-10T12:00:00Z"), ts(T0)),
        ];
        want.sort();
        assert_eq!(expiries, want);
        let renewals: Vec<(String, Timestamp)> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Event::SubscriptionRenewed(r) => Some((r.subscription.to_string(), e.effective_at)),
                _ => None,
            })
            .collect();
        assert_eq!(renewals.len(), 5, "{renewals:?}");
        assert!(renewals.contains(&(cutover_sub.to_string(), ts("2022-10-14T00:00:00Z"))));
        assert!(renewals.contains(&(sql.to_string(), ts("2023-03-01T09:00:00Z"))));
        assert!(!renewals.iter().any(|(s, _)| s == old_sub || s == ended_sub || s == ws));
        let cancels: Vec<(String, u32)> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Event::SubscriptionCancelled(c) => Some((c.subscription.to_string(), c.term_number)),
                _ => None,
            })
            .collect();
        assert_eq!(
            cancels,
            [(ws.to_string(), 1), (sql.to_string(), 2)],
            "one cancel each, whatever the race"
        );
        let backfilled: Vec<Timestamp> = events
            .iter()
            .filter(|e| matches!(&e.payload, Event::OrderPlaced(p) if p.backfilled))
            .map(|e| e.effective_at)
            .collect();
        assert_eq!(
            backfilled,
            [
                ts("2021-10-13T15:30:00Z"),
                ts("2021-10-14T00:00:00Z"),
                ts("2021-01-10T12:00:00Z")
            ],
            "a backfill is effective when it was bought"
        );
        let refused = events
            .iter()
            .filter(|e| matches!(e.payload, Event::AccessRefused(_)))
            .count();
        assert_eq!(
            refused, 6,
            "sales agent, other partner, other customer, two partner imports, helpdesk agent"
        );
        eprintln!("{} events in the log", events.len());

        // Replay equals live: restarted, the service folds its log to the same digest.
        let url = o.nats.url();
        o.csp
            .restart(&url, "ordering", Some("2023-03-08T08:59:59Z"))
            .await;
        assert_eq!(o.status().await["state"], state, "replay equals live");
    })
    .await
}

/// Rule O2 at the wire (rule O2): a body that does not decode is `invalid_request` naming the
/// JSON path; one that decodes but breaks an order rule is `invalid_order` naming the field; also
/// `unknown_product`, `billing_plan_unavailable` (rule M3), `payload_too_large`,
/// `unauthenticated`. None records anything and the service keeps answering; only a
/// `forbidden` is recorded, as one `AccessRefused`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_refused_clearly_and_records_nothing() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = serial().await;
        // The server takes bodies well over the service's 256 KiB, so the service answers them.
        let nats = NatsServer::builder()
            .max_payload(4 * 1024 * 1024)
            .start()
            .unwrap();
        let o = Ordering::start("csp-e2e-ordering-hostile", "2026-03-02T09:00:00Z", nats).await;
        o.add_customer(CUSTOMER, "contoso.onmicrosoft.com", "US", "USD")
            .await;
        let start = o.last_seq().await;
        assert_eq!(start, 1);

        let good = |lines: Value| {
            json!({"request_id": "po-1", "customer": CUSTOMER, "lines": lines}).to_string()
        };
        let with_line = |l: Value| good(json!([l]));
        let mut deep_line = ws_p1y();
        deep_line["quantity"] = json!("@");
        let deep = with_line(deep_line).replace(
            "\"@\"",
            &format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)),
        );
        let big = format!(
            r#"{{"request_id":"po-big","customer":"{CUSTOMER}","lines":[],"pad":"{}"}}"#,
            "x".repeat(300 * 1024)
        );
        // Exactly at the limit the body is read (and refused for its unknown field); one byte
        // over, it is not read at all.
        let at_limit = |size: usize| {
            let head =
                format!(r#"{{"request_id":"po-edge","customer":"{CUSTOMER}","lines":[],"pad":""#);
            let pad = "x".repeat(size - head.len() - 2);
            let body = format!("{head}{pad}\"}}");
            assert_eq!(body.len(), size);
            body
        };
        let deep_body = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let duplicate_key = format!(
            r#"{{"request_id":"po-d","request_id":"po-e","customer":"{CUSTOMER}","lines":[{}]}}"#,
            ws_p1y()
        );
        let too_many_lines = good(Value::Array(vec![ws_p1y(); 101]));
        let mut unknown_in_line = ws_p1y();
        unknown_in_line["colour"] = json!("blue");
        let mut wrong_type = ws_p1y();
        wrong_type["quantity"] = json!("two");
        let mut missing = ws_p1y();
        missing.as_object_mut().unwrap().remove("sku");
        let mut bad_plan = ws_p1y();
        bad_plan["billing_plan"] = json!("weekly");
        let mut p3y_monthly = ws_p1y();
        p3y_monthly["sku"] = json!("16-core-p3y");
        p3y_monthly["term"] = json!("P3Y");
        p3y_monthly["billing_plan"] = json!("monthly");

        let agent = o.agent.clone();
        // (what, subject's last token, body, token, code, details.path)
        let cases: Vec<Case> = vec![
            (
                "invalid json",
                "place_order",
                b"{\"request_id\":".to_vec(),
                Some(&agent),
                "invalid_request",
                None,
            ),
            (
                "not utf-8",
                "place_order",
                vec![0xff, 0xfe, 0x00],
                Some(&agent),
                "invalid_request",
                None,
            ),
            (
                "empty body",
                "place_order",
                Vec::new(),
                Some(&agent),
                "invalid_request",
                None,
            ),
            (
                "a JSON array",
                "place_order",
                b"[]".to_vec(),
                Some(&agent),
                "invalid_request",
                None,
            ),
            (
                "unknown field",
                "place_order",
                format!(
                    r#"{{"request_id":"u1","customer":"{CUSTOMER}","lines":[],"discount":10}}"#
                )
                .into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("discount"),
            ),
            (
                "unknown field in a line",
                "place_order",
                with_line(unknown_in_line).into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines[0].colour"),
            ),
            (
                "wrong type",
                "place_order",
                with_line(wrong_type).into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines[0].quantity"),
            ),
            (
                "lines not a list",
                "place_order",
                good(json!("many")).into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines"),
            ),
            (
                "missing field",
                "place_order",
                with_line(missing).into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines[0].sku"),
            ),
            (
                "missing customer",
                "place_order",
                br#"{"request_id":"m1","lines":[]}"#.to_vec(),
                Some(&agent),
                "invalid_request",
                Some("customer"),
            ),
            (
                "customer neither a GUID nor a domain",
                "place_order",
                json!({"request_id": "c1", "customer": "not a customer", "lines": []})
                    .to_string()
                    .into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("customer"),
            ),
            (
                "request_id with a space",
                "place_order",
                json!({"request_id": "po 1", "customer": CUSTOMER, "lines": [ws_p1y()]})
                    .to_string()
                    .into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("request_id"),
            ),
            (
                "unknown billing plan",
                "place_order",
                with_line(bad_plan).into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines[0].billing_plan"),
            ),
            (
                "quantity -1",
                "place_order",
                with_line(line(
                    "windows-server-2022-datacenter",
                    "16-core-p1y",
                    -1,
                    "P1Y",
                    "annual",
                ))
                .into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines[0].quantity"),
            ),
            (
                "quantity 0",
                "place_order",
                with_line(line(
                    "windows-server-2022-datacenter",
                    "16-core-p1y",
                    0,
                    "P1Y",
                    "annual",
                ))
                .into_bytes(),
                Some(&agent),
                "invalid_order",
                Some("lines[0].quantity"),
            ),
            (
                "no lines",
                "place_order",
                good(json!([])).into_bytes(),
                Some(&agent),
                "invalid_order",
                Some("lines"),
            ),
            (
                "unknown product",
                "place_order",
                with_line(line(
                    "windows-server-1995",
                    "16-core-p1y",
                    1,
                    "P1Y",
                    "annual",
                ))
                .into_bytes(),
                Some(&agent),
                "unknown_product",
                Some("lines[0].product"),
            ),
            (
                "unknown sku",
                "place_order",
                with_line(line(
                    "windows-server-2022-datacenter",
                    "1-core",
                    1,
                    "P1Y",
                    "annual",
                ))
                .into_bytes(),
                Some(&agent),
                "unknown_product",
                Some("lines[0].sku"),
            ),
            (
                "a plan the SKU does not offer",
                "place_order",
                with_line(p3y_monthly).into_bytes(),
                Some(&agent),
                "billing_plan_unavailable",
                Some("lines[0].billing_plan"),
            ),
            (
                "unknown customer",
                "place_order",
                place("nc-1", "nobody.onmicrosoft.com", vec![ws_p1y()])
                    .to_string()
                    .into_bytes(),
                Some(&agent),
                "not_found",
                None,
            ),
            (
                "exactly the size limit",
                "place_order",
                at_limit(256 * 1024).into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("pad"),
            ),
            (
                "one byte over the limit",
                "place_order",
                at_limit(256 * 1024 + 1).into_bytes(),
                Some(&agent),
                "payload_too_large",
                None,
            ),
            (
                "10,000-deep nesting as the body",
                "place_order",
                deep_body.into_bytes(),
                Some(&agent),
                "invalid_request",
                None,
            ),
            (
                "null",
                "place_order",
                b"null".to_vec(),
                Some(&agent),
                "invalid_request",
                None,
            ),
            // (details.path is "." here, not the duplicated field: serde names no field.)
            (
                "a duplicate key",
                "place_order",
                duplicate_key.into_bytes(),
                Some(&agent),
                "invalid_request",
                None,
            ),
            (
                "101 lines",
                "place_order",
                too_many_lines.into_bytes(),
                Some(&agent),
                "invalid_order",
                Some("lines"),
            ),
            (
                "quantity over u32",
                "place_order",
                with_line(line(
                    "windows-server-2022-datacenter",
                    "16-core-p1y",
                    1 << 32,
                    "P1Y",
                    "annual",
                ))
                .into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines[0].quantity"),
            ),
            (
                "a term the SKU is not sold for",
                "place_order",
                with_line(line(
                    "windows-server-2022-datacenter",
                    "16-core-p1y",
                    1,
                    "P3Y",
                    "annual",
                ))
                .into_bytes(),
                Some(&agent),
                "invalid_order",
                Some("lines[0].term"),
            ),
            (
                "over the size limit",
                "place_order",
                big.into_bytes(),
                Some(&agent),
                "payload_too_large",
                None,
            ),
            (
                "10,000-deep nesting in a field",
                "place_order",
                deep.into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("lines[0].quantity"),
            ),
            (
                "no token",
                "place_order",
                good(json!([ws_p1y()])).into_bytes(),
                None,
                "unauthenticated",
                None,
            ),
            (
                "a token that is not a JWT",
                "place_order",
                good(json!([ws_p1y()])).into_bytes(),
                Some("garbage"),
                "unauthenticated",
                None,
            ),
            (
                "cancel with a subscription id that is not a GUID",
                "cancel_subscription",
                json!({"request_id": "cs-1", "customer": CUSTOMER, "subscription_id": "sub-1"})
                    .to_string()
                    .into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("subscription_id"),
            ),
            (
                "a refund request without its contact",
                "file_refund_request",
                json!({
                    "request_id": "rf-1", "customer": CUSTOMER,
                    "order_id": "0190d7a1-4c2b-7e55-9a3f-5b7f2c1e0d01",
                    "reason": "wrong edition",
                    "amount_requested": {"amount_minor": 100, "currency": "USD"},
                })
                .to_string()
                .into_bytes(),
                Some(&agent),
                "invalid_request",
                Some("contact"),
            ),
        ];
        let n = cases.len();
        for (what, command, body, token, expected, path) in cases {
            let r = send(
                &o.client,
                &format!("csp.cmd.ordering.{command}"),
                token,
                &body,
            )
            .await;
            assert_eq!(code(&r), expected, "{what}: {r}");
            assert!(
                !r["error"]["message"].as_str().unwrap_or("").is_empty(),
                "{what}: a message for people"
            );
            if let Some(p) = path {
                assert_eq!(r["error"]["details"]["path"], p, "{what}: {r}");
            }
            if expected == "payload_too_large" {
                assert_eq!(r["error"]["details"]["limit"], 256 * 1024, "{what}: {r}");
            }
            if expected == "billing_plan_unavailable" {
                assert_eq!(
                    r["error"]["details"]["available_plans"],
                    json!(["annual", "triennial"]),
                    "rule M3: {r}"
                );
            }
            assert!(o.pings().await, "{what}: the service still answers PING");
        }
        // Queries too.
        for (what, query, body, path) in [
            (
                "unknown field",
                "get_orders",
                json!({"customer": CUSTOMER, "since": "2020"}),
                "since",
            ),
            ("missing field", "get_orders", json!({}), "customer"),
            (
                "wrong type",
                "get_subscriptions",
                json!({"customer": 7}),
                "customer",
            ),
        ] {
            let r = send(
                &o.client,
                &format!("csp.qry.ordering.{query}"),
                Some(&o.agent),
                body.to_string().as_bytes(),
            )
            .await;
            assert_eq!(code(&r), "invalid_request", "{what}: {r}");
            assert_eq!(r["error"]["details"]["path"], path, "{what}: {r}");
        }
        assert_eq!(o.last_seq().await, start, "nothing appended");
        let state = o.status().await["state"].clone();
        assert_eq!(
            (state["orders"].as_u64(), state["events_folded"].as_u64()),
            (Some(0), Some(1))
        );

        // A forbidden is recorded: one AccessRefused each, for a sales agent and for a service.
        let sales = o.token(ActorKind::Partner, PARTNER, Role::SalesAgent);
        for token in [&sales, &o.admin] {
            let r = o
                .cmd(
                    "place_order",
                    token,
                    place("po-s", CUSTOMER, vec![ws_p1y()]),
                )
                .await;
            assert_eq!(code(&r), "forbidden", "{r}");
        }
        assert_eq!(o.last_seq().await, start + 2);
        // And the service still takes a good order.
        let r = o
            .cmd(
                "place_order",
                &o.agent,
                place("po-good", CUSTOMER, vec![ws_p1y()]),
            )
            .await;
        assert_eq!(code(&r), "ok", "{r}");
        assert_eq!(o.last_seq().await, start + 4);
        assert!(o.pings().await);
        eprintln!("{n} hostile commands and 3 hostile queries refused, nothing recorded");
    })
    .await
}

/// Rule O3 and rule O7 as consumers see them: the order, its subscriptions and purchase, a
/// cancellation, and a term that ends without renewal (recorded by the scheduler) reach a plain
/// JetStream subscriber on `csp.evt.ordering.>` with the outbox sequence contiguous from 1, and
/// `events_from` answers the very same events in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_jetstream_subscriber_and_events_from_see_the_same_events() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = serial().await;
        let o = Ordering::start(
            "csp-e2e-ordering-events",
            "2026-03-02T09:00:00Z",
            NatsServer::start().unwrap(),
        )
        .await;
        o.add_customer(CUSTOMER, "contoso.onmicrosoft.com", "US", "USD")
            .await;
        let r = o
            .cmd(
                "place_order",
                &o.agent,
                place("po-1", CUSTOMER, vec![ws_p1y(), sql_p1y(), sql_perpetual()]),
            )
            .await;
        assert_eq!(code(&r), "ok", "{r}");
        let order = r["result"]["order_id"].as_str().unwrap().to_string();
        let (ws, sql) = (
            r["result"]["lines"][0]["subscription_id"].as_str().unwrap(),
            r["result"]["lines"][1]["subscription_id"].as_str().unwrap(),
        );
        let sales = o.token(ActorKind::Partner, PARTNER, Role::SalesAgent);
        let r = o
            .cmd("place_order", &sales, place("po-s", CUSTOMER, vec![ws_p1y()]))
            .await;
        assert_eq!(code(&r), "forbidden");
        for (name, body) in [
            ("cancel_subscription", json!({"request_id": "c1", "customer": CUSTOMER, "subscription_id": ws})),
            ("set_auto_renew", json!({"request_id": "a1", "customer": CUSTOMER, "subscription_id": sql, "auto_renew": false})),
            ("cancel_perpetual", json!({"request_id": "p1", "customer": CUSTOMER, "order_ids": [order]})),
        ] {
            let r = o.cmd(name, &o.agent, body).await;
            assert_eq!(code(&r), "ok", "{name}: {r}");
        }
        // A year on, the SQL subscription ends without renewal (rule O7).
        o.clock(json!({"set": "2027-03-02T09:00:00Z"})).await;
        let expected = [
            "customer_added",
            "order_placed",
            "subscription_started",
            "subscription_started",
            "perpetual_purchased",
            "access_refused",
            "subscription_cancelled",
            "auto_renew_changed",
            "perpetual_cancelled",
            "subscription_expired",
        ];
        let n = expected.len() as u64;
        let started = Instant::now();
        let status = until("all published", Duration::from_secs(20), || async {
            let s = o.status().await;
            (s["last_outbox_seq"] == n && s["outbox_published"] == n).then_some(s)
        })
        .await;
        eprintln!("{n} events published {:?} after the clock moved", started.elapsed());
        let epoch = status["epoch"].as_str().unwrap().to_string();

        // A plain JetStream consumer of the test's own.
        let js = async_nats::jetstream::new(o.client.clone());
        let stream = js.get_stream("CSP_EVENTS").await.unwrap();
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some("ordering-api-test".into()),
                filter_subject: "csp.evt.ordering.>".into(),
                deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
                ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut seen: Vec<(String, Option<String>, Vec<u8>)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while (seen.len() as u64) < n {
            assert!(Instant::now() < deadline, "only {} events delivered", seen.len());
            let mut batch = consumer
                .fetch()
                .max_messages(100)
                .expires(Duration::from_millis(500))
                .messages()
                .await
                .unwrap();
            while let Some(m) = batch.next().await {
                let m = m.unwrap();
                let msg_id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str().to_string());
                seen.push((m.subject.to_string(), msg_id, m.payload.to_vec()));
                m.ack().await.unwrap();
            }
        }
        assert_eq!(seen.len() as u64, n, "no more than the log's events");
        let mut ids = Vec::new();
        for (i, (subject, msg_id, bytes)) in seen.iter().enumerate() {
            let env = codec::decode(bytes).unwrap();
            let pos = env.outbox.expect("a published copy carries its outbox position");
            assert_eq!(pos.seq, i as u64 + 1, "contiguous outbox sequence");
            assert_eq!(pos.epoch.to_string(), epoch);
            assert_eq!(env.payload.name(), expected[i]);
            assert_eq!(msg_id.as_deref(), Some(env.event_id.to_string().as_str()));
            let partner = env.partner.map_or("_".to_string(), |p| p.to_string());
            let customer = env.customer.map_or("_".to_string(), |c| c.to_string());
            assert_eq!(
                subject,
                &format!("csp.evt.ordering.{}.{partner}.{customer}", expected[i])
            );
            if expected[i] != "access_refused" {
                assert_eq!((partner.as_str(), customer.as_str()), (PARTNER, CUSTOMER));
            }
            // Rule O3: each line's item keeps its order id.
            match &env.payload {
                Event::SubscriptionStarted(s) => assert_eq!(s.order.to_string(), order),
                Event::PerpetualPurchased(p) => assert_eq!(p.order.to_string(), order),
                Event::SubscriptionExpired(x) => {
                    assert_eq!(x.subscription.to_string(), sql);
                    assert_eq!(env.effective_at, ts("2027-03-02T09:00:00Z"));
                }
                _ => {}
            }
            ids.push(env.event_id);
        }

        // events_from, with a service token of the internal issuer: the same events, same bytes.
        let internal =
            csp_auth::InternalIssuer::load_or_create(o.data.path().join("internal-issuer.key"))
                .unwrap();
        let service = internal.mint_service("billing", 60, now_secs());
        let page = |from: u64, limit: u32| {
            let body = json!({"epoch": epoch, "from_outbox_seq": from, "limit": limit});
            let (client, service) = (o.client.clone(), service.clone());
            async move {
                let r = send(
                    &client,
                    "csp.qry.ordering.events_from",
                    Some(&service),
                    body.to_string().as_bytes(),
                )
                .await;
                assert_eq!(code(&r), "ok", "{r}");
                r["result"].clone()
            }
        };
        let all = page(1, 1000).await;
        assert_eq!(all["last_outbox_seq"], n);
        assert_eq!(all["epoch"], epoch.as_str());
        let records: Vec<Vec<u8>> = all["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                base64::engine::general_purpose::STANDARD
                    .decode(e.as_str().unwrap())
                    .unwrap()
            })
            .collect();
        assert_eq!(records.len() as u64, n);
        let from_log: Vec<_> = records
            .iter()
            .map(|r| codec::decode(r).unwrap().event_id)
            .collect();
        assert_eq!(from_log, ids, "same events, same order");
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r, &seen[i].2, "event {} byte for byte", i + 1);
        }
        // A page from the middle.
        let middle = page(4, 3).await;
        let middle: Vec<_> = middle["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(e.as_str().unwrap())
                    .unwrap();
                codec::decode(&bytes).unwrap().event_id
            })
            .collect();
        assert_eq!(middle, ids[3..6]);
        // A partner token is refused (and that refusal is itself recorded).
        let r = send(
            &o.client,
            "csp.qry.ordering.events_from",
            Some(&o.agent),
            json!({"epoch": epoch, "from_outbox_seq": 1, "limit": 10}).to_string().as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "forbidden", "{r}");
        assert_eq!(o.last_seq().await, n + 1);
        eprintln!("{n} events: JetStream and events_from agree byte for byte");
    })
    .await
}

/// Rule O1 and rule O2, fire-and-forget: a `place_order` published on `csp.in.ordering.place_order`
/// becomes the order (published twice, one order), its events carrying the message's
/// correlation id; one naming an unknown product becomes one `command_rejected` with the code;
/// one from a `sales_agent` is refused, recorded as `access_refused` and `command_rejected`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_and_forget_orders_and_their_outcome_events() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = serial().await;
        let mut o = Ordering::start(
            "csp-e2e-ordering-inbound",
            "2026-03-02T09:00:00Z",
            NatsServer::start().unwrap(),
        )
        .await;
        o.add_customer(CUSTOMER, "contoso.onmicrosoft.com", "US", "USD")
            .await;
        let js = async_nats::jetstream::new(o.client.clone());
        let publish = |body: Value, token: String, correlation: &'static str| {
            let js = js.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Authorization", format!("Bearer {token}").as_str());
                headers.insert("Csp-Correlation-Id", correlation);
                js.publish_with_headers(
                    "csp.in.ordering.place_order",
                    headers,
                    body.to_string().into(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            }
        };
        const ACCEPTED: &str = "0190d7a1-0000-7000-8000-0000000c0001";
        const UNKNOWN: &str = "0190d7a1-0000-7000-8000-0000000c0002";
        const FORBIDDEN: &str = "0190d7a1-0000-7000-8000-0000000c0003";
        let ok = place("ff-1", "contoso.onmicrosoft.com", vec![ws_p1y()]);
        let unknown = place(
            "ff-2",
            CUSTOMER,
            vec![line(
                "windows-server-1995",
                "16-core-p1y",
                1,
                "P1Y",
                "annual",
            )],
        );
        let sales = o.token(ActorKind::Partner, PARTNER, Role::SalesAgent);
        let started = Instant::now();
        publish(ok.clone(), o.agent.clone(), ACCEPTED).await;
        publish(ok, o.agent.clone(), ACCEPTED).await;
        publish(unknown.clone(), o.agent.clone(), UNKNOWN).await;
        publish(unknown, o.agent.clone(), UNKNOWN).await;
        publish(place("ff-3", CUSTOMER, vec![ws_p1y()]), sales, FORBIDDEN).await;
        // No valid token: nothing of a stranger's enters the log; a copy goes to the DLQ.
        publish(
            place("ff-4", CUSTOMER, vec![ws_p1y()]),
            "not-a-token".into(),
            UNKNOWN,
        )
        .await;

        // Progress: the order appears.
        let order = until("the order", Duration::from_secs(20), || async {
            let r = o
                .qry("get_orders", &o.agent, json!({"customer": CUSTOMER}))
                .await;
            let orders = r["orders"].as_array().unwrap().clone();
            (!orders.is_empty()).then_some(orders)
        })
        .await;
        eprintln!(
            "fire-and-forget order visible after {:?}",
            started.elapsed()
        );
        // Progress: the service's inbound consumer has acknowledged all six messages.
        let inbound = js.get_stream("CSP_INBOUND").await.unwrap();
        until("all six consumed", Duration::from_secs(20), || async {
            let info = inbound.consumer_info("ordering-inbound").await.ok()?;
            (info.delivered.stream_sequence >= 6
                && info.ack_floor.stream_sequence >= 6
                && info.num_pending == 0
                && info.num_ack_pending == 0)
                .then_some(())
        })
        .await;
        let orders = o
            .qry("get_orders", &o.agent, json!({"customer": CUSTOMER}))
            .await;
        assert_eq!(
            orders["orders"].as_array().unwrap().len(),
            1,
            "published twice, one order"
        );
        let order_id = order[0]["order_id"].as_str().unwrap().to_string();
        let dlq = js.get_stream("CSP_DLQ").await.unwrap();
        let copy = until("the DLQ copy", Duration::from_secs(20), || async {
            dlq.get_last_raw_message_by_subject("csp.dlq.ordering")
                .await
                .ok()
        })
        .await;
        let reason = copy
            .headers
            .get("Csp-Quarantine-Reason")
            .map(|v| v.to_string())
            .unwrap_or_default();
        assert!(reason.starts_with("unauthenticated"), "{reason}");

        assert!(o.csp.terminate().success());
        let events = log_events(&o.csp.log_dir());
        let kinds: Vec<&str> = events.iter().map(|e| e.payload.name()).collect();
        assert_eq!(
            kinds,
            [
                "customer_added",
                "order_placed",
                "subscription_started",
                "command_rejected",
                "access_refused",
                "command_rejected"
            ],
            "one outcome per command"
        );
        for e in &events[1..3] {
            assert_eq!(e.correlation_id.to_string(), ACCEPTED);
        }
        let Event::OrderPlaced(placed) = &events[1].payload else {
            unreachable!()
        };
        assert_eq!(placed.order.to_string(), order_id);
        let rejected = |e: &Envelope| match &e.payload {
            Event::CommandRejected(r) => (
                r.command.clone(),
                r.code.clone(),
                r.request_id.clone(),
                e.correlation_id.to_string(),
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            rejected(&events[3]),
            (
                "place_order".into(),
                "unknown_product".into(),
                Some("ff-2".into()),
                UNKNOWN.into()
            )
        );
        assert_eq!(events[4].correlation_id.to_string(), FORBIDDEN);
        assert_eq!(
            rejected(&events[5]),
            (
                "place_order".into(),
                "forbidden".into(),
                Some("ff-3".into()),
                FORBIDDEN.into()
            )
        );
    })
    .await
}
