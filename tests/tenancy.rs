//! Tenancy and identity over a real nats-server, as outside systems meet it: `csp serve
//! ordering` trusting issuers bound to tenants (`--issuers`, no development issuer), JSON
//! written by hand.
//!
//! - two partners serve one customer: each sees only what it sold, the customer's own global
//!   admin sees both, a customer token minted by a partner's issuer is refused;
//! - another partner's customer (or item) answers byte for byte as one that does not exist,
//!   apart from the ids the caller sent, and the attempt is still recorded;
//! - the admin endpoints take a platform operator only; two `Authorization` headers are
//!   refused every time.

use std::time::Duration;

use bytes::Bytes;
use csp_events::{ActorKind, Role, TenantId};
use csp_testkit::e2e::{code, Csp};
use csp_testkit::identity::Issuers;
use csp_testkit::{NatsServer, TempDir};
use serde_json::{json, Value};
use uuid::Uuid;

const P1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0001));
const P2: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0002));
/// Served by both partners.
const SHARED: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0001));
/// Served by P1 only.
const ONLY_P1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0002));
/// Served by nobody.
const NOBODY: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0009));

/// One `csp serve ordering` trusting [`Issuers`] only, on its own nats-server.
struct World {
    csp: Csp,
    client: async_nats::Client,
    issuers: Issuers,
    _data: TempDir,
    nats: NatsServer,
}

impl World {
    async fn start(prefix: &str) -> World {
        let nats = NatsServer::start().unwrap();
        nats.wait_for_jetstream().await.unwrap();
        let data = TempDir::new(prefix).unwrap();
        let issuers = Issuers::new()
            .partner(P1)
            .partner(P2)
            .customer(SHARED)
            .customer(ONLY_P1);
        let file = data.path().join("issuers.json");
        std::fs::write(&file, issuers.json()).unwrap();
        let csp = Csp::serve(
            &nats.url(),
            "ordering",
            &data.path().join("ordering"),
            &[
                "--issuers",
                file.to_str().unwrap(),
                "--manual-clock",
                "2026-12-01T09:00:00Z",
            ],
        )
        .await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        World {
            csp,
            client,
            issuers,
            _data: data,
            nats,
        }
    }

    fn admin(&self, p: TenantId) -> String {
        self.issuers.partner_user(p, Role::AdminAgent)
    }

    fn operator(&self) -> String {
        self.issuers.platform_user(Role::Operator)
    }

    /// The raw reply to `body` on `subject`, with these `Authorization` header values (name
    /// and value each as given).
    async fn raw(&self, subject: &str, auth: &[(&str, String)], body: &Value) -> Bytes {
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in auth {
            headers.append(*name, value.as_str());
        }
        let request = async_nats::Request::new()
            .payload(Bytes::from(body.to_string()))
            .headers(headers)
            .timeout(Some(Duration::from_secs(10)));
        self.client
            .send_request(subject.to_string(), request)
            .await
            .unwrap_or_else(|e| panic!("{subject}: {e}"))
            .payload
    }

    async fn send(&self, subject: &str, token: &str, body: &Value) -> Value {
        let auth = [("Authorization", format!("Bearer {token}"))];
        let raw = self.raw(subject, &auth, body).await;
        serde_json::from_slice(&raw).expect("a JSON reply")
    }

    async fn cmd(&self, name: &str, token: &str, body: Value) -> Value {
        let r = self
            .send(&format!("csp.cmd.ordering.{name}"), token, &body)
            .await;
        assert_eq!(code(&r), "ok", "{name}: {r}");
        r["result"].clone()
    }

    async fn qry(&self, name: &str, token: &str, body: Value) -> Value {
        let r = self
            .send(&format!("csp.qry.ordering.{name}"), token, &body)
            .await;
        assert_eq!(code(&r), "ok", "{name}: {r}");
        r["result"].clone()
    }

    async fn last_seq(&self) -> u64 {
        csp_testkit::e2e::last_seq(&self.client, "ordering", &self.operator()).await
    }

    async fn add(&self, partner: TenantId, customer: TenantId, domain: &str) {
        self.cmd(
            "add_customer",
            &self.admin(partner),
            json!({"request_id": format!("add-{domain}"), "tenant_id": customer,
                   "domain": domain, "company_name": format!("{domain} Ltd"),
                   "country": "US", "currency": "USD"}),
        )
        .await;
    }

    /// Places an order of `lines` for `customer` as `partner`'s admin: the reply.
    async fn buy(&self, partner: TenantId, customer: TenantId, rid: &str, lines: Value) -> Value {
        self.cmd(
            "place_order",
            &self.admin(partner),
            json!({"request_id": rid, "customer": customer, "lines": lines}),
        )
        .await
    }

    async fn stop(mut self) {
        self.csp.terminate();
        drop(self.nats);
    }
}

fn ws() -> Value {
    json!({"product": "windows-server-2022-datacenter", "sku": "16-core-p1y", "quantity": 1,
           "term": "P1Y", "billing_plan": "annual"})
}

fn sql_perpetual() -> Value {
    json!({"product": "sql-server-2022-standard-perpetual", "sku": "2-core", "quantity": 1,
           "term": "perpetual", "billing_plan": "one_time"})
}

/// The `key` of every element of `list`, as strings.
fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_partners_serve_one_customer_and_each_sees_only_what_it_sold() {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(180), async {
        let w = World::start("csp-tenancy-two").await;
        // Each partner knows the customer by its own domain (RULES.md O2).
        w.add(P1, SHARED, "fabrikam.example").await;
        w.add(P2, SHARED, "fabrikam-eu.example").await;
        let o1 = w.buy(P1, SHARED, "o1", json!([ws()])).await;
        let o2 = w
            .buy(P2, SHARED, "o2", json!([ws(), sql_perpetual()]))
            .await;
        let o1_id = o1["order_id"].as_str().unwrap().to_string();
        let o2_id = o2["order_id"].as_str().unwrap().to_string();
        let s1 = o1["lines"][0]["subscription_id"].as_str().unwrap();
        let s2 = o2["lines"][0]["subscription_id"].as_str().unwrap();

        // Each partner sees only what it sold, by the customer's tenant id or its own domain.
        for (partner, domain, order, sub) in [
            (P1, "fabrikam.example", &o1_id, s1),
            (P2, "fabrikam-eu.example", &o2_id, s2),
        ] {
            let token = w.admin(partner);
            for named in [json!(SHARED), json!(domain)] {
                let orders = w
                    .qry("get_orders", &token, json!({"customer": named}))
                    .await;
                assert_eq!(ids(&orders["orders"], "order_id"), vec![order.clone()]);
                assert_eq!(ids(&orders["orders"], "partner"), vec![partner.to_string()]);
                let subs = w
                    .qry("get_subscriptions", &token, json!({"customer": named}))
                    .await;
                assert_eq!(ids(&subs["subscriptions"], "subscription_id"), vec![sub]);
            }
            let purchases = w
                .qry("get_purchases", &token, json!({"customer": SHARED}))
                .await;
            let expected = if partner == P1 { 1 } else { 2 };
            assert_eq!(
                purchases["purchases"].as_array().unwrap().len(),
                expected,
                "{purchases}"
            );
            let customers = w.qry("get_customers", &token, json!({})).await;
            assert_eq!(ids(&customers["customers"], "domain"), vec![domain]);
        }
        // Neither reaches the other's sale, nor knows it exists.
        let p2_reads_p1 = w
            .send(
                "csp.qry.ordering.get_order",
                &w.admin(P2),
                &json!({"customer": SHARED, "order_id": o1_id}),
            )
            .await;
        assert_eq!(code(&p2_reads_p1), "not_found", "{p2_reads_p1}");
        let p1_cancels_p2 = w
            .send(
                "csp.cmd.ordering.cancel_subscription",
                &w.admin(P1),
                &json!({"request_id": "steal", "customer": SHARED, "subscription_id": s2}),
            )
            .await;
        assert_eq!(code(&p1_cancels_p2), "not_found", "{p1_cancels_p2}");

        // The customer's own global admin, from its own issuer, sees both partners' sales.
        let own = w.issuers.customer_admin(SHARED);
        let orders = w.qry("get_orders", &own, json!({"customer": SHARED})).await;
        assert_eq!(
            sorted(ids(&orders["orders"], "order_id")),
            sorted(vec![o1_id.clone(), o2_id.clone()])
        );
        let subs = w
            .qry("get_subscriptions", &own, json!({"customer": SHARED}))
            .await;
        assert_eq!(
            sorted(ids(&subs["subscriptions"], "subscription_id")),
            sorted(vec![s1.to_string(), s2.to_string()])
        );
        let customers = w.qry("get_customers", &own, json!({})).await;
        assert_eq!(
            sorted(ids(&customers["customers"], "domain")),
            vec!["fabrikam-eu.example", "fabrikam.example"]
        );

        // A customer token minted by partner P2's issuer is refused, whatever it claims.
        let forged = w.issuers.mint(
            &Issuers::partner_iss(P2),
            ActorKind::Customer,
            SHARED,
            "admin@fabrikam.example",
            &[Role::GlobalAdmin],
        );
        let before = w.last_seq().await;
        let r = w
            .send(
                "csp.qry.ordering.get_orders",
                &forged,
                &json!({"customer": SHARED}),
            )
            .await;
        assert_eq!(code(&r), "unauthenticated", "{r}");
        assert!(r.get("result").is_none(), "{r}");
        assert_eq!(
            w.last_seq().await,
            before,
            "an unverified token records nothing"
        );
        w.stop().await;
    })
    .await
}

/// Replaces every id the caller sent with a placeholder: what may differ between two replies.
fn without(reply: &Bytes, sent: &[&str]) -> String {
    let mut text = String::from_utf8(reply.to_vec()).expect("UTF-8");
    let mut sent = sent.to_vec();
    sent.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for id in sent {
        text = text.replace(id, "<sent>");
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_partners_customer_or_sale_answers_byte_for_byte_as_none() {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(180), async {
        let w = World::start("csp-tenancy-oracle").await;
        w.add(P1, ONLY_P1, "contoso.example").await;
        w.add(P1, SHARED, "fabrikam.example").await;
        w.add(P2, SHARED, "fabrikam-eu.example").await;
        let o = w.buy(P1, ONLY_P1, "o1", json!([ws()])).await;
        let order = o["order_id"].as_str().unwrap().to_string();
        let sub = o["lines"][0]["subscription_id"].as_str().unwrap().to_string();
        let shared = w.buy(P1, SHARED, "o2", json!([ws(), sql_perpetual()])).await;
        let shared_order = shared["order_id"].as_str().unwrap().to_string();
        let shared_sub = shared["lines"][0]["subscription_id"]
            .as_str()
            .unwrap()
            .to_string();
        let no_order = "0190d7a1-4c2b-7e55-9a3f-5b7f2c1e0d01";
        let no_sub = "0190d7a1-4c2b-7e55-9a3f-5b7f2c1e0d02";
        let p2 = w.admin(P2);

        // (endpoint, the body naming P1's, the body naming nothing, refusals recorded).
        type Case = (&'static str, Value, Value, u64);
        let customer =
            |name: &'static str, known: Value, none: Value, recorded: u64| -> Case { (name, known, none, recorded) };
        let mut cases: Vec<Case> = Vec::new();
        // Another partner's customer, by tenant id and by domain, for queries and commands. A
        // domain names a customer within the asking partner's own list, so P1's domain names
        // nothing for P2: not even an attempt on P1's customer, and nothing is recorded.
        for (known, unknown, by_id) in [
            (json!(ONLY_P1), json!(NOBODY), 1),
            (json!("contoso.example"), json!("nobody.example"), 0),
        ] {
            cases.push(customer(
                "qry.get_orders",
                json!({"customer": known}),
                json!({"customer": unknown}), by_id));
            cases.push(customer(
                "qry.get_order",
                json!({"customer": known, "order_id": order}),
                json!({"customer": unknown, "order_id": order}), by_id));
            cases.push(customer(
                "qry.review_order",
                json!({"customer": known, "lines": [ws()]}),
                json!({"customer": unknown, "lines": [ws()]}), by_id));
            cases.push(customer(
                "cmd.place_order",
                json!({"request_id": format!("same-{by_id}"), "customer": known, "lines": [ws()]}),
                json!({"request_id": format!("same2-{by_id}"), "customer": unknown, "lines": [ws()]}), by_id));
            cases.push(customer(
                "cmd.cancel_subscription",
                json!({"request_id": format!("c-{by_id}"), "customer": known, "subscription_id": sub}),
                json!({"request_id": format!("c2-{by_id}"), "customer": unknown, "subscription_id": sub}), by_id));
        }
        // Another partner's sale of a customer both serve, against no such item.
        cases.push(customer(
            "qry.get_order",
            json!({"customer": SHARED, "order_id": shared_order}),
            json!({"customer": SHARED, "order_id": no_order}), 1));
        cases.push(customer(
            "qry.get_subscription",
            json!({"customer": SHARED, "subscription_id": shared_sub}),
            json!({"customer": SHARED, "subscription_id": no_sub}), 1));
        cases.push(customer(
            "cmd.cancel_subscription",
            json!({"request_id": "s", "customer": SHARED, "subscription_id": shared_sub}),
            json!({"request_id": "s2", "customer": SHARED, "subscription_id": no_sub}), 1));
        cases.push(customer(
            "cmd.set_auto_renew",
            json!({"request_id": "a", "customer": SHARED, "subscription_id": shared_sub, "auto_renew": false}),
            json!({"request_id": "a2", "customer": SHARED, "subscription_id": no_sub, "auto_renew": false}), 1));
        cases.push(customer(
            "cmd.cancel_perpetual",
            json!({"request_id": "p", "customer": SHARED, "order_ids": [shared_order]}),
            json!({"request_id": "p2", "customer": SHARED, "order_ids": [no_order]}), 1));

        for (name, known, unknown, recorded) in cases {
            let (kind, endpoint) = name.split_once('.').unwrap();
            let subject = format!("csp.{kind}.ordering.{endpoint}");
            let auth = [("Authorization", format!("Bearer {p2}"))];
            let before = w.last_seq().await;
            let a = w.raw(&subject, &auth, &known).await;
            assert_eq!(
                w.last_seq().await - before,
                recorded,
                "{name}: the hidden one is still recorded"
            );
            let b = w.raw(&subject, &auth, &unknown).await;
            assert_eq!(
                w.last_seq().await - before,
                recorded,
                "{name}: no such thing records nothing"
            );
            let sent: Vec<String> = [&known, &unknown]
                .iter()
                .flat_map(|b| {
                    ["customer", "order_id", "subscription_id"]
                        .iter()
                        .filter_map(|k| b[*k].as_str().map(str::to_string))
                        .chain(b["order_ids"][0].as_str().map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .collect();
            let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
            let reply: Value = serde_json::from_slice(&a).unwrap();
            assert_eq!(code(&reply), "not_found", "{name}: {reply}");
            assert_eq!(
                without(&a, &sent),
                without(&b, &sent),
                "{name}: the replies differ beyond the ids sent"
            );
        }
        w.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_take_an_operator_and_two_credentials_are_refused_every_time() {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(180), async {
        let w = World::start("csp-tenancy-admin").await;
        w.add(P1, ONLY_P1, "contoso.example").await;
        let refused = [
            ("partner admin_agent", w.admin(P1)),
            (
                "partner global_admin",
                w.issuers.partner_user(P1, Role::GlobalAdmin),
            ),
            (
                "partner sales_agent",
                w.issuers.partner_user(P1, Role::SalesAgent),
            ),
            ("customer global_admin", w.issuers.customer_admin(ONLY_P1)),
            ("importer", w.issuers.platform_user(Role::Importer)),
            ("support", w.issuers.platform_user(Role::Support)),
        ];
        let calls = [
            ("status", json!({})),
            ("status", json!({"digest": true})),
            ("clock", json!({})),
            ("clock", json!({"advance_seconds": 60})),
        ];
        for (op, body) in calls {
            let subject = format!("csp.admin.ordering.{op}");
            for (who, token) in &refused {
                let r = w.send(&subject, token, &body).await;
                assert_eq!(code(&r), "forbidden", "{op} {body} as {who}: {r}");
                assert!(r.get("result").is_none(), "{r}");
            }
            let r = w.send(&subject, &w.operator(), &body).await;
            assert_eq!(code(&r), "ok", "{op} {body} as operator: {r}");
        }
        let status = csp_testkit::e2e::status(&w.client, "ordering", &w.operator(), false).await;
        assert_eq!(
            status["now"], "2026-12-01T09:01:00Z",
            "only the operator moved the clock"
        );

        // Two Authorization headers, one valid and one garbage, differing only in case: the
        // same 20 requests, 20 times `unauthenticated`, whichever comes first; two valid ones
        // too.
        let valid = format!("Bearer {}", w.admin(P1));
        let body = json!({"customer": ONLY_P1});
        let shapes = [
            vec![
                ("Authorization", valid.clone()),
                ("authorization", "Bearer x.y.z".into()),
            ],
            vec![
                ("authorization", "garbage".into()),
                ("Authorization", valid.clone()),
            ],
            vec![
                ("Authorization", valid.clone()),
                ("AUTHORIZATION", valid.clone()),
            ],
        ];
        for auth in &shapes {
            for i in 0..20 {
                let raw = w.raw("csp.qry.ordering.get_orders", auth, &body).await;
                let r: Value = serde_json::from_slice(&raw).unwrap();
                assert_eq!(
                    code(&r),
                    "unauthenticated",
                    "request {i} with {auth:?}: {r}"
                );
            }
        }
        // A stored reply answers only its own actor: a sales agent's `forbidden` is replayed to
        // that sales agent (recorded once), never to the admin agent of the same tenant who
        // reuses the request_id with the same body.
        let add = json!({"request_id": "r-shared", "tenant_id": NOBODY, "domain": "new.example",
                          "company_name": "New Ltd", "country": "US", "currency": "USD"});
        let sales = w.issuers.partner_user(P1, Role::SalesAgent);
        let subject = "csp.cmd.ordering.add_customer";
        let auth = |t: &str| [("Authorization", format!("Bearer {t}"))];
        let before = w.last_seq().await;
        let first = w.raw(subject, &auth(&sales), &add).await;
        assert_eq!(w.last_seq().await, before + 1, "the refusal is recorded");
        let again = w.raw(subject, &auth(&sales), &add).await;
        assert_eq!(first, again, "a retry replays the stored reply");
        assert_eq!(w.last_seq().await, before + 1, "and records it once");
        let other: Value =
            serde_json::from_slice(&w.raw(subject, &auth(&w.admin(P1)), &add).await).unwrap();
        assert_eq!(code(&other), "idempotency_conflict", "{other}");
        let mut retry = add.clone();
        retry["request_id"] = json!("r-own");
        let own = w.cmd("add_customer", &w.admin(P1), retry).await;
        assert_eq!(own["tenant_id"], json!(NOBODY), "{own}");

        // One header, the same token: answered.
        let r = w
            .raw("csp.qry.ordering.get_orders", &shapes[0][..1], &body)
            .await;
        let r: Value = serde_json::from_slice(&r).unwrap();
        assert_eq!(code(&r), "ok", "{r}");
        w.stop().await;
    })
    .await
}
