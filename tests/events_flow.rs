//! Events between services over a real nats-server: the counter publishes through its outbox,
//! the counter observer consumes and reacts. Exactly-once effect while the consumer and the
//! producer are killed (SIGKILL and every crash point), and `events_from` refusing outsiders.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::*;
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, Event, EventId, Role, TenantId};
use csp_testkit::{NatsServer, TempDir};
use serde_json::Value;

const PARTNER: &str = "0190d7a1-0000-7000-8000-00000000aa01";
const CUSTOMER: &str = "0190d7a1-0000-7000-8000-00000000cc01";

async fn status(client: &async_nats::Client, service: &str, admin: &str) -> Value {
    let r = send(
        client,
        &format!("csp.admin.{service}.status"),
        Some(admin),
        b"{}",
    )
    .await;
    r["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_effect_through_consumer_and_producer_crashes() {
    let _serial = serial().await;
    let nats = NatsServer::start().expect("nats-server");
    let root = TempDir::new("csp-e2e-flow").unwrap();
    let keys = [
        "--dev-key",
        &root.path().join("dev.key").display().to_string(),
        "--internal-key",
        &root.path().join("internal.key").display().to_string(),
    ]
    .map(str::to_string);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let issuer = csp_auth::DevIssuer::load_or_create(root.path().join("dev.key")).unwrap();
    let admin = admin_token(&issuer);
    let agent = partner_token(&issuer, PARTNER.parse().unwrap(), Role::AdminAgent);

    let mut producer =
        Csp::serve(&nats.url(), "counter", &root.path().join("counter"), &keys).await;
    let mut consumer = Csp::serve(
        &nats.url(),
        "counter-observer",
        &root.path().join("observer"),
        &keys,
    )
    .await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let open = format!(
        r#"{{"request_id":"o","customer":"{CUSTOMER}","limit":1000000,"expires_in_hours":480}}"#
    );
    assert_eq!(
        code(
            &send(
                &client,
                "csp.cmd.counter.open_counter",
                Some(&agent),
                open.as_bytes()
            )
            .await
        ),
        "ok"
    );

    const N: usize = 10_000;
    // Crash plan, at increments sent: the consumer at each crash point and by SIGKILL, the
    // producer between append and publish.
    let plan: Vec<(usize, &str, Option<&str>)> = vec![
        (1_000, "observer", Some("consumer_after_consume:2")),
        (2_500, "observer", Some("consumer_after_append:3")),
        (4_000, "observer", Some("consumer_mid_batch:2")),
        (5_500, "observer", None), // SIGKILL
        (7_000, "counter", Some("producer_after_append:20")),
        (8_500, "observer", None), // SIGKILL
    ];
    let mut sent = 0;
    let mut crashes = 0;
    let mut step = 0;
    while sent < N {
        if step < plan.len() && sent >= plan[step].0 {
            let (_, who, point) = plan[step];
            let target = if who == "counter" {
                &mut producer
            } else {
                &mut consumer
            };
            match point {
                Some(p) => {
                    target.env = vec![("CSP_CRASH_AT".into(), p.into())];
                    target.spawn_again();
                }
                None => target.kill(),
            }
            step += 1;
        }
        // Send a burst of increments, 32 at a time.
        let mut tasks = Vec::new();
        for k in 0..32.min(N - sent) {
            let (client, agent) = (client.clone(), agent.clone());
            let id = format!("inc-{}", sent + k);
            tasks.push(tokio::spawn(async move {
                let body = format!(r#"{{"request_id":"{id}","customer":"{CUSTOMER}","by":1}}"#);
                loop {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Authorization", format!("Bearer {agent}").as_str());
                    let req = async_nats::Request::new()
                        .payload(body.clone().into())
                        .headers(headers)
                        .timeout(Some(Duration::from_secs(5)));
                    if let Ok(m) = client.send_request("csp.cmd.counter.increment", req).await {
                        let v: Value = serde_json::from_slice(&m.payload).unwrap();
                        if v["ok"] == true {
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }));
        }
        // Restart whoever died (a crash point fired, or the SIGKILL above).
        for t in tasks {
            loop {
                if producer.exited() {
                    crashes += 1;
                    producer.env.clear();
                    producer.start_again(&nats.url(), "counter").await;
                }
                if t.is_finished() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            t.await.unwrap();
        }
        sent += 32.min(N - sent);
        if consumer.exited() {
            crashes += 1;
            consumer.env.clear();
            consumer.start_again(&nats.url(), "counter-observer").await;
        }
    }
    assert!(crashes >= 5, "crashes: {crashes}");

    // Wait for the consumer to hold all N+1 upstream events and N reactions.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if consumer.exited() {
            consumer.env.clear();
            consumer.start_again(&nats.url(), "counter-observer").await;
        }
        let s = status(&client, "counter-observer", &admin).await;
        if s["last_seq"].as_u64().unwrap_or(0) >= (2 * N + 1) as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "consumer stuck at {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cs = status(&client, "counter-observer", &admin).await;
    assert!(producer.terminate().success());
    assert!(consumer.terminate().success());

    let log = EventLog::open(consumer.log_dir(), LogOptions::default()).unwrap();
    assert!(log.verify().unwrap().is_clean());
    let mut upstream = HashSet::new();
    let mut reactions: HashMap<EventId, usize> = HashMap::new();
    let mut last_outbox = 0;
    let mut increments = 0;
    for r in log.read_from(1) {
        let r = r.unwrap();
        let env = codec::decode(r.bytes()).unwrap();
        match &env.payload {
            Event::CounterObserved(o) => {
                *reactions.entry(o.upstream).or_default() += 1;
                assert_eq!(env.event_id, EventId::reaction(o.upstream, 0), "derived id");
            }
            _ => {
                assert!(r.stream().starts_with("inbox/"), "{}", r.stream());
                assert!(
                    upstream.insert(env.event_id),
                    "upstream event twice: {}",
                    env.event_id
                );
                let seq = env.outbox.unwrap().seq;
                assert!(
                    seq > last_outbox,
                    "in outbox order: {seq} after {last_outbox}"
                );
                last_outbox = seq;
                if matches!(env.payload, Event::CounterIncremented(_)) {
                    increments += 1;
                }
            }
        }
    }
    assert_eq!(increments, N, "every upstream increment once");
    assert_eq!(upstream.len(), N + 1);
    assert_eq!(reactions.len(), N, "one set of reactions per increment");
    assert!(
        reactions.values().all(|n| *n == 1),
        "exactly one reaction each"
    );
    eprintln!(
        "exactly-once: {N} increments, {crashes} crashes, consumer counters {}",
        cs["inbox"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_refuses_a_partner_token() {
    let _serial = serial().await;
    let nats = NatsServer::start().expect("nats-server");
    let data = TempDir::new("csp-e2e-events-from").unwrap();
    let issuer = dev_issuer(data.path());
    let _csp = Csp::serve(&nats.url(), "counter", data.path(), &[]).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let agent = partner_token(
        &issuer,
        TenantId(PARTNER.parse().unwrap()),
        Role::AdminAgent,
    );
    let body =
        br#"{"epoch":"00000000-0000-0000-0000-000000000000","from_outbox_seq":1,"limit":10}"#;
    let r = send(&client, "csp.qry.counter.events_from", Some(&agent), body).await;
    assert_eq!(code(&r), "forbidden", "{r}");
    // A service token of the internal issuer is served.
    let internal =
        csp_auth::InternalIssuer::load_or_create(data.path().join("internal-issuer.key")).unwrap();
    let token = internal.mint_service("billing", 60, now_secs());
    let admin = admin_token(&issuer);
    let epoch = send(&client, "csp.admin.counter.status", Some(&admin), b"{}").await["result"]
        ["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let body = format!(r#"{{"epoch":"{epoch}","from_outbox_seq":1,"limit":10}}"#);
    let r = send(
        &client,
        "csp.qry.counter.events_from",
        Some(&token),
        body.as_bytes(),
    )
    .await;
    assert_eq!(code(&r), "ok", "{r}");
    // The refusal was recorded: one access_refused, published.
    assert_eq!(r["result"]["events"].as_array().unwrap().len(), 1);
}
