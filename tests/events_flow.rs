//! Events between services over a real nats-server: the counter publishes through its outbox,
//! the counter observer consumes and reacts. Exactly-once effect while the consumer and the
//! producer are killed (SIGKILL and every crash point), and `events_from` refusing outsiders.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, Event, EventId, Role, TenantId};
use csp_testkit::e2e::*;
use csp_testkit::{NatsServer, TempDir};
use serde_json::Value;

/// Sends one increment, retrying (same `request_id`, so at most one effect) until it is
/// answered `ok`: through crashes and restarts the caller only ever sees success.
async fn increment_until_ok(client: &async_nats::Client, agent: &str, id: &str) {
    let body = format!(r#"{{"request_id":"{id}","customer":"{CUSTOMER}","by":1}}"#);
    loop {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Authorization", format!("Bearer {agent}").as_str());
        let req = async_nats::Request::new()
            .payload(body.clone().into())
            .headers(headers)
            .timeout(Some(Duration::from_secs(5)));
        if let Ok(m) = client.send_request("csp.cmd.counter.increment", req).await {
            if serde_json::from_slice::<Value>(&m.payload).unwrap()["ok"] == true {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_effect_through_consumer_and_producer_crashes() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let Keys {
            root,
            keys,
            admin,
            agent,
        } = Keys::new("csp-e2e-flow");
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();

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
        open_counter(&client, "counter", &agent, 1000000, 480).await;

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
                    increment_until_ok(&client, &agent, &id).await;
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
            let s = status(&client, "counter-observer", &admin, false).await;
            if s["last_seq"].as_u64().unwrap_or(0) >= (2 * N + 1) as u64 {
                break;
            }
            assert!(Instant::now() < deadline, "consumer stuck at {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let cs = status(&client, "counter-observer", &admin, false).await;
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
                    assert_eq!(
                        env.event_id,
                        EventId::reaction("counter-observer", o.upstream, 0),
                        "derived id"
                    );
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
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_refuses_a_partner_token() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
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
            csp_auth::InternalIssuer::load_or_create(data.path().join("internal-issuer.key"))
                .unwrap();
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
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_and_forget_commands_have_one_outcome_event_each() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let data = TempDir::new("csp-e2e-inbound").unwrap();
        let issuer = dev_issuer(data.path());
        let mut csp = Csp::serve(&nats.url(), "counter", data.path(), &[]).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let admin = admin_token(&issuer);
        let agent = partner_token(
            &issuer,
            TenantId(PARTNER.parse().unwrap()),
            Role::AdminAgent,
        );
        open_counter(&client, "counter", &agent, 10, 48).await;

        let js = async_nats::jetstream::new(client.clone());
        let publish = |body: String, correlation: &'static str| {
            let js = js.clone();
            let agent = agent.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Authorization", format!("Bearer {agent}").as_str());
                headers.insert("Csp-Correlation-Id", correlation);
                js.publish_with_headers("csp.in.counter.increment", headers, body.into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
        };
        const ACCEPTED: &str = "0190d7a1-0000-7000-8000-0000000c0001";
        const REFUSED: &str = "0190d7a1-0000-7000-8000-0000000c0002";
        let ok = format!(r#"{{"request_id":"ff-1","customer":"{CUSTOMER}","by":4}}"#);
        let over = format!(r#"{{"request_id":"ff-2","customer":"{CUSTOMER}","by":100}}"#);
        // Each published twice.
        publish(ok.clone(), ACCEPTED).await;
        publish(ok, ACCEPTED).await;
        publish(over.clone(), REFUSED).await;
        publish(over, REFUSED).await;

        // Progress: the outcome events appear (opened + 1 increment + 1 rejection = 3).
        let deadline = Instant::now() + Duration::from_secs(20);
        while last_seq(&client, "counter", &admin).await < 3 {
            assert!(Instant::now() < deadline, "outcomes not recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Let the second copies be consumed too, then stop and read the log.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(csp.terminate().success());
        let log = EventLog::open(csp.log_dir(), LogOptions::default()).unwrap();
        let events: Vec<_> = log
            .read_from(1)
            .map(|r| codec::decode(r.unwrap().bytes()).unwrap())
            .collect();
        let kinds: Vec<&str> = events.iter().map(|e| e.payload.name()).collect();
        assert_eq!(
            kinds,
            ["counter_opened", "counter_incremented", "command_rejected"],
            "one outcome each"
        );
        assert_eq!(events[1].correlation_id.to_string(), ACCEPTED);
        assert_eq!(events[2].correlation_id.to_string(), REFUSED);
        let Event::CommandRejected(r) = &events[2].payload else {
            unreachable!()
        };
        assert_eq!(
            (r.command.as_str(), r.code.as_str(), r.request_id.as_deref()),
            ("increment", "invalid_state", Some("ff-2"))
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_messages_are_recovered_and_garbage_is_quarantined() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let Keys {
            root,
            keys,
            admin,
            agent,
        } = Keys::new("csp-e2e-recover");
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut producer =
            Csp::serve(&nats.url(), "counter", &root.path().join("counter"), &keys).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        open_counter(&client, "counter", &agent, 1000, 48).await;
        for i in 0..20 {
            let body = format!(r#"{{"request_id":"i{i}","customer":"{CUSTOMER}","by":1}}"#);
            assert_eq!(
                code(
                    &send(
                        &client,
                        "csp.cmd.counter.increment",
                        Some(&agent),
                        body.as_bytes()
                    )
                    .await
                ),
                "ok"
            );
        }
        // All 21 published (stream sequences 1..=21 = outbox sequences 1..=21).
        let deadline = Instant::now() + Duration::from_secs(20);
        while status(&client, "counter", &admin, false).await["outbox_published"].as_u64()
            != Some(21)
        {
            assert!(Instant::now() < deadline, "outbox not published");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Lose three of them before any consumer read them: one in the middle, two at the tail.
        for seq in [10, 20, 21] {
            let r = client
                .request(
                    "$JS.API.STREAM.MSG.DELETE.CSP_EVENTS".to_string(),
                    format!(r#"{{"seq":{seq}}}"#).into(),
                )
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&r.payload).unwrap();
            assert_eq!(v["success"], true, "{v}");
        }
        // And bytes that are no event at all.
        let js = async_nats::jetstream::new(client.clone());
        js.publish(
            "csp.evt.counter.counter_incremented._._",
            vec![0xff, 0x01, 0x02].into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();

        let mut consumer = Csp::serve(
            &nats.url(),
            "counter-observer",
            &root.path().join("observer"),
            &keys,
        )
        .await;
        // 21 upstream + 20 reactions + 1 quarantine.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = status(&client, "counter-observer", &admin, false).await;
            if s["last_seq"].as_u64().unwrap_or(0) >= 42 {
                eprintln!("recovered: {}", s["inbox"]);
                break;
            }
            assert!(Instant::now() < deadline, "consumer incomplete: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(consumer.terminate().success());
        assert!(producer.terminate().success());
        let log = EventLog::open(consumer.log_dir(), LogOptions::default()).unwrap();
        let events: Vec<_> = log
            .read_from(1)
            .map(|r| codec::decode(r.unwrap().bytes()).unwrap())
            .collect();
        let upstream: Vec<u64> = events
            .iter()
            .filter_map(|e| match e.payload {
                Event::CounterOpened(_) | Event::CounterIncremented(_) => e.outbox.map(|o| o.seq),
                _ => None,
            })
            .collect();
        assert_eq!(
            upstream,
            (1..=21).collect::<Vec<u64>>(),
            "complete, in outbox order"
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e.payload, Event::CounterObserved(_)))
                .count(),
            20
        );
        let quarantined: Vec<_> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Event::Quarantined(q) => Some(q.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(quarantined.len(), 1);
        assert_eq!(quarantined[0].raw, vec![0xff, 0x01, 0x02]);
        assert_eq!(quarantined[0].producer, "counter");
        assert!(!quarantined[0].reason.is_empty());
        // The DLQ holds a copy with its reason.
        let dlq = client
            .request(
                "$JS.API.STREAM.MSG.GET.CSP_DLQ",
                r#"{"last_by_subj":"csp.dlq.counter-observer"}"#.into(),
            )
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&dlq.payload).unwrap();
        assert!(
            v["message"]["hdrs"].as_str().is_some(),
            "DLQ copy with headers: {v}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kind_holds_its_producer_while_another_keeps_flowing() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let Keys {
            root,
            keys,
            admin,
            agent,
        } = Keys::new("csp-e2e-hold");
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut a = Csp::serve(&nats.url(), "counter", &root.path().join("a"), &keys).await;
        let mut b = Csp::serve(&nats.url(), "counter-b", &root.path().join("b"), &keys).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        for svc in ["counter", "counter-b"] {
            open_counter(&client, svc, &agent, 1000, 48).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while status(&client, "counter", &admin, false).await["outbox_published"].as_u64()
            != Some(1)
        {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A record from a newer build of `counter` (schema 99), of a kind this build does not
        // know, at its outbox sequence 2. (A known kind from a newer build is simply read.)
        let mut env = csp_events::fixtures::sample(csp_events::EventKind::CounterIncremented);
        env.outbox = Some(csp_events::OutboxPosition {
            seq: 2,
            epoch: uuid::Uuid::nil(),
        });
        let bytes = codec::encode(&env);
        let (mut header, _) = codec::decode_header(&bytes).unwrap();
        header.schema_version = 99;
        let mut newer = vec![codec::FORMAT_V1];
        newer = postcard::to_extend(&header, newer).unwrap();
        let unknown_kind = u32::try_from(csp_events::EventKind::ALL.len()).unwrap();
        newer = postcard::to_extend(&unknown_kind, newer).unwrap();
        newer.extend_from_slice(&[1, 2, 3]);
        let js = async_nats::jetstream::new(client.clone());
        js.publish("csp.evt.counter.counter_reset._._", newer.into())
            .await
            .unwrap()
            .await
            .unwrap();

        let mut observer = Csp::serve(
            &nats.url(),
            "counter-observer",
            &root.path().join("observer"),
            &keys,
        )
        .await;
        for i in 0..5 {
            for svc in ["counter", "counter-b"] {
                let body = format!(r#"{{"request_id":"i{i}","customer":"{CUSTOMER}","by":1}}"#);
                assert_eq!(
                    code(
                        &send(
                            &client,
                            &format!("csp.cmd.{svc}.increment"),
                            Some(&agent),
                            body.as_bytes()
                        )
                        .await
                    ),
                    "ok"
                );
            }
        }
        // Progress: counter-b's six events and their five reactions arrive; the hold is reported.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = status(&client, "counter-observer", &admin, false).await;
            let held = s["inbox"]["held_newer_schema"].as_u64().unwrap_or(0);
            if held >= 1 && s["last_seq"].as_u64().unwrap_or(0) >= 12 {
                eprintln!("held: {}", s["inbox"]);
                break;
            }
            assert!(Instant::now() < deadline, "no progress: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The held producer's five increments are all published to JetStream; give delivery and two
        // heartbeats time to (wrongly) bring them in: proving an absence needs a bounded wait.
        while status(&client, "counter", &admin, false).await["outbox_published"].as_u64()
            != Some(6)
        {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(observer.terminate().success());
        assert!(a.terminate().success());
        assert!(b.terminate().success());
        let log = EventLog::open(observer.log_dir(), LogOptions::default()).unwrap();
        let mut per_inbox: HashMap<String, usize> = HashMap::new();
        for r in log.read_from(1) {
            let r = r.unwrap();
            *per_inbox.entry(r.stream().to_string()).or_default() += 1;
        }
        assert_eq!(
            per_inbox.get("inbox/counter-b"),
            Some(&6),
            "the second producer flowed: {per_inbox:?}"
        );
        assert_eq!(
            per_inbox.get("inbox/counter"),
            Some(&1),
            "the held producer stopped at the unknown kind: {per_inbox:?}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_across_a_nats_server_kill_and_restart() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let Keys {
            root,
            keys,
            admin,
            agent,
        } = Keys::new("csp-e2e-nats-restart");
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
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
        open_counter(&client, "counter", &agent, 1000000, 480).await;
        const N: usize = 2_000;
        let mut sent = 0;
        let mut restarted = false;
        while sent < N {
            if !restarted && sent >= N / 3 {
                nats.kill().unwrap();
                nats.restart().unwrap();
                nats.wait_for_jetstream().await.unwrap();
                restarted = true;
            }
            let mut tasks = Vec::new();
            for k in 0..32.min(N - sent) {
                let (client, agent) = (client.clone(), agent.clone());
                let id = format!("inc-{}", sent + k);
                tasks.push(tokio::spawn(async move {
                    increment_until_ok(&client, &agent, &id).await;
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            sent += 32.min(N - sent);
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s = send(
                &client,
                "csp.admin.counter-observer.status",
                Some(&admin),
                b"{}",
            )
            .await;
            if s["result"]["last_seq"].as_u64().unwrap_or(0) >= (2 * N + 1) as u64 {
                eprintln!("after the nats-server restart: {}", s["result"]["inbox"]);
                break;
            }
            assert!(Instant::now() < deadline, "consumer stuck: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(producer.terminate().success());
        assert!(consumer.terminate().success());
        let log = EventLog::open(consumer.log_dir(), LogOptions::default()).unwrap();
        let mut upstream = HashSet::new();
        let mut reactions: HashMap<EventId, usize> = HashMap::new();
        for r in log.read_from(1) {
            let env = codec::decode(r.unwrap().bytes()).unwrap();
            match &env.payload {
                Event::CounterObserved(o) => *reactions.entry(o.upstream).or_default() += 1,
                _ => assert!(upstream.insert(env.event_id), "upstream twice"),
            }
        }
        assert_eq!(upstream.len(), N + 1);
        assert_eq!(reactions.len(), N);
        assert!(reactions.values().all(|n| *n == 1));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_restored_from_an_older_backup_is_a_new_epoch() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let Keys {
            root,
            keys,
            admin,
            agent,
        } = Keys::new("csp-e2e-restore");
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let counter_dir = root.path().join("counter");
        let mut producer = Csp::serve(&nats.url(), "counter", &counter_dir, &keys).await;
        let mut consumer = Csp::serve(
            &nats.url(),
            "counter-observer",
            &root.path().join("observer"),
            &keys,
        )
        .await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        open_counter(&client, "counter", &agent, 1000, 480).await;
        let increments = |from: usize, to: usize| {
            let (client, agent) = (client.clone(), agent.clone());
            async move {
                for i in from..to {
                    let body = format!(r#"{{"request_id":"i{i}","customer":"{CUSTOMER}","by":1}}"#);
                    assert_eq!(
                        code(
                            &send(
                                &client,
                                "csp.cmd.counter.increment",
                                Some(&agent),
                                body.as_bytes()
                            )
                            .await
                        ),
                        "ok"
                    );
                }
            }
        };
        let wait_observer = |want: u64| {
            let (client, admin) = (client.clone(), admin.clone());
            async move {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let s = status(&client, "counter-observer", &admin, false).await;
                    if s["last_seq"].as_u64().unwrap_or(0) >= want {
                        return s;
                    }
                    assert!(Instant::now() < deadline, "observer stuck: {s}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        increments(0, 10).await;
        wait_observer(21).await;
        // Back up the producer (stopped), then let it go on without the backup knowing.
        assert!(producer.terminate().success());
        let backup = root.path().join("backup");
        csp_testkit::copy_dir(&counter_dir, &backup);
        producer.start_again(&nats.url(), "counter").await;
        increments(10, 20).await;
        wait_observer(41).await;
        // Disaster: restore the older backup, mark it restored (new epoch), serve it again.
        assert!(producer.terminate().success());
        std::fs::remove_dir_all(&counter_dir).unwrap();
        csp_testkit::copy_dir(&backup, &counter_dir);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_csp"))
            .arg("restored")
            .arg(counter_dir.join("log"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        producer.start_again(&nats.url(), "counter").await;
        // The restored producer's sequence numbers 12.. are reused, by new events.
        increments(100, 105).await;
        let s = wait_observer(51).await;
        eprintln!("after the restore: {}", s["inbox"]);
        assert!(consumer.terminate().success());
        assert!(producer.terminate().success());
        let log = EventLog::open(consumer.log_dir(), LogOptions::default()).unwrap();
        let mut upstream = HashSet::new();
        let mut observed = 0;
        for r in log.read_from(1) {
            let env = codec::decode(r.unwrap().bytes()).unwrap();
            match env.payload {
                Event::CounterObserved(_) => observed += 1,
                _ => assert!(upstream.insert(env.event_id), "an upstream event twice"),
            }
        }
        assert_eq!(
            upstream.len(),
            1 + 10 + 10 + 5,
            "the new epoch's events delivered, none taken for duplicates"
        );
        assert_eq!(observed, 25);
    })
    .await
}

/// Over a real nats-server: a consumer of two producers attributes each upstream event — `apply`
/// knows which producer a copy came from (the observer's status counts them) and so does
/// `react` (its reactions' streams name the producer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_of_two_producers_attributes_each_event_over_nats() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let Keys {
            root,
            keys,
            admin,
            agent,
        } = Keys::new("csp-e2e-two");
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut a = Csp::serve(&nats.url(), "counter", &root.path().join("a"), &keys).await;
        let mut b = Csp::serve(&nats.url(), "counter-b", &root.path().join("b"), &keys).await;
        let mut observer = Csp::serve(
            &nats.url(),
            "counter-observer",
            &root.path().join("observer"),
            &keys,
        )
        .await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        for svc in ["counter", "counter-b"] {
            open_counter(&client, svc, &agent, 1000, 48).await;
        }
        for (svc, n) in [("counter", 3), ("counter-b", 2)] {
            for i in 0..n {
                let body = format!(r#"{{"request_id":"i{i}","customer":"{CUSTOMER}","by":1}}"#);
                let reply = send(
                    &client,
                    &format!("csp.cmd.{svc}.increment"),
                    Some(&agent),
                    body.as_bytes(),
                )
                .await;
                assert_eq!(code(&reply), "ok", "{reply}");
            }
        }
        // 4 + 3 upstream copies, each counted under its producer.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = status(&client, "counter-observer", &admin, false).await;
            let upstream = &s["state"]["upstream"];
            if upstream["counter"] == 4 && upstream["counter-b"] == 3 {
                break;
            }
            assert!(Instant::now() < deadline, "not attributed yet: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(observer.terminate().success());
        assert!(a.terminate().success());
        assert!(b.terminate().success());
        let log = EventLog::open(observer.log_dir(), LogOptions::default()).unwrap();
        let mut reactions: HashMap<String, usize> = HashMap::new();
        for r in log.read_from(1) {
            let env = codec::decode(r.unwrap().bytes()).unwrap();
            if let Event::CounterObserved(_) = env.payload {
                let producer = env.stream.split('/').nth(1).unwrap_or("").to_string();
                *reactions.entry(producer).or_default() += 1;
            }
        }
        assert_eq!(reactions.get("counter"), Some(&3), "{reactions:?}");
        assert_eq!(reactions.get("counter-b"), Some(&2), "{reactions:?}");
    })
    .await
}
