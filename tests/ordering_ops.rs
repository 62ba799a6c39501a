//! Ordering under an operator's eye: a service SIGKILLed in the middle of a purchase load loses
//! no acknowledged order and, with clients retrying their `request_id`s, ends with exactly one
//! order per request; and the digest of the live state equals the one `csp replay` computes from
//! the log afterwards. Hand-written JSON over a real nats-server, the real `csp` binary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use csp_events::{Role, TenantId};
use csp_testkit::e2e::{
    admin_token, code, dev_issuer, partner_token, send, status, try_send, Csp, CUSTOMER, PARTNER,
};
use csp_testkit::{NatsServer, TempDir};
use serde_json::Value;

fn order_body(request_id: &str) -> String {
    format!(
        r#"{{"request_id":"{request_id}","customer":"{CUSTOMER}","lines":[{{"product":"sql-server-2022-standard","sku":"2-core-p1y","quantity":2,"term":"P1Y","billing_plan":"annual"}}]}}"#
    )
}

/// Must-show: `csp serve ordering` killed with SIGKILL mid-load and restarted; every request that
/// got no answer is retried with its `request_id`: every acknowledged order is there, and exactly
/// one order exists per `request_id` (idempotency through the log's request records, rule O2's
/// orders). Then the live digest (status endpoint) equals `csp replay ordering`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_acknowledged_order_and_retries_make_one_each() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = csp_testkit::e2e::serial().await;
        let server = NatsServer::start().expect("nats-server");
        let url = server.url();
        let data = TempDir::new("csp-e2e-ordering-kill").unwrap();
        let mut csp = Csp::serve(&url, "ordering", data.path(), &[]).await;
        let client = async_nats::connect(&url).await.unwrap();
        let issuer = dev_issuer(data.path());
        let partner = TenantId(PARTNER.parse().unwrap());
        let agent = partner_token(&issuer, partner, Role::AdminAgent);
        let admin = admin_token(&issuer);

        let r = send(
            &client,
            "csp.cmd.ordering.add_customer",
            Some(&agent),
            format!(r#"{{"request_id":"add","tenant_id":"{CUSTOMER}","domain":"kill.example","company_name":"Kill Test Ltd","country":"US","currency":"USD"}}"#).as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "ok", "{r}");

        // 8 clients, 60 orders each, all in flight while the service is killed.
        const CLIENTS: usize = 8;
        const PER_CLIENT: usize = 60;
        let acked = Arc::new(std::sync::Mutex::new(BTreeMap::<String, String>::new()));
        let unanswered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (client, agent) = (client.clone(), agent.clone());
            let (acked, unanswered) = (Arc::clone(&acked), Arc::clone(&unanswered));
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_CLIENT {
                    let id = format!("kill-{c}-{i}");
                    match try_send(&client, "csp.cmd.ordering.place_order", &agent, order_body(&id).as_bytes()).await {
                        Some(r) if r["ok"] == true => {
                            let order = r["result"]["order_id"].as_str().unwrap().to_string();
                            acked.lock().unwrap().insert(id, order);
                        }
                        Some(r) => panic!("{id} refused: {r}"),
                        None => unanswered.lock().unwrap().push(id),
                    }
                }
            }));
        }
        // Kill once a third of the load is acknowledged: requests are in flight.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < CLIENTS * PER_CLIENT / 3 {
            assert!(std::time::Instant::now() < deadline, "the load did not progress");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        csp.kill();
        let acked_at_kill = acked.lock().unwrap().len();
        for t in tasks {
            t.await.unwrap();
        }
        let unanswered: Vec<String> = unanswered.lock().unwrap().clone();
        let acked: BTreeMap<String, String> = acked.lock().unwrap().clone();
        assert_eq!(acked.len() + unanswered.len(), CLIENTS * PER_CLIENT);
        assert!(!unanswered.is_empty(), "the kill came after the load ended");
        eprintln!(
            "killed with {acked_at_kill} orders acknowledged; {} acknowledged in all, {} unanswered",
            acked.len(),
            unanswered.len()
        );

        csp.start_again(&url, "ordering").await;
        // Acknowledged orders survived: each retried request gets its first answer back.
        for (id, order) in acked.iter().take(20) {
            let r = send(&client, "csp.cmd.ordering.place_order", Some(&agent), order_body(id).as_bytes()).await;
            assert_eq!(r["result"]["order_id"].as_str(), Some(order.as_str()), "{id}: {r}");
        }
        // Every unanswered request retried with its request_id.
        let mut retried = BTreeMap::new();
        for id in &unanswered {
            let r = send(&client, "csp.cmd.ordering.place_order", Some(&agent), order_body(id).as_bytes()).await;
            assert_eq!(code(&r), "ok", "{id}: {r}");
            retried.insert(id.clone(), r["result"]["order_id"].as_str().unwrap().to_string());
        }

        let r = send(
            &client,
            "csp.qry.ordering.get_orders",
            Some(&agent),
            format!(r#"{{"customer":"{CUSTOMER}"}}"#).as_bytes(),
        )
        .await;
        let orders: BTreeSet<String> = r["result"]["orders"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|o| o["order_id"].as_str().unwrap().to_string())
            .collect();
        let expected: BTreeSet<String> = acked.values().chain(retried.values()).cloned().collect();
        assert_eq!(expected.len(), CLIENTS * PER_CLIENT, "one order per request_id");
        assert_eq!(orders, expected, "exactly the orders answered, one per request_id");

        // The live digest, from the running service's state...
        let live = status(&client, "ordering", &admin, true).await;
        assert_eq!(live["state"]["orders"], CLIENTS * PER_CLIENT);
        let live_digest = live["state"]["digest"].as_str().unwrap().to_string();
        assert_eq!(csp.terminate().code(), Some(0));
        // ...equals the one computed from the log alone.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_csp"))
            .args(["replay", "ordering", "--json", "--data"])
            .arg(data.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(replayed["state"]["digest"].as_str(), Some(live_digest.as_str()));
        assert_eq!(replayed["events"], live["last_seq"]);
        eprintln!("live digest = replay digest = {live_digest} over {} events", live["last_seq"]);
    })
    .await
}
