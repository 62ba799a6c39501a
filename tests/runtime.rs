//! The service runtime over a real nats-server, driven by a client whose JSON is written by
//! hand: discovery, a command, every way a token can be wrong, `forbidden` recorded once,
//! concurrent retries, idempotency conflicts, hostile bodies, the scheduler across restarts,
//! and SIGTERM under load. The service is `counter`, the runtime's test service.

use std::collections::HashSet;
use std::time::Duration;

use csp_auth::DevIssuer;
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, ActorKind, Event, Role, TenantId, Timestamp};
use csp_testkit::e2e::*;
use csp_testkit::{NatsServer, TempDir};
use serde_json::{json, Value};
use uuid::Uuid;

const OTHER_PARTNER: &str = "0190d7a1-0000-7000-8000-00000000aa02";

fn tenant(s: &str) -> TenantId {
    s.parse().unwrap()
}

fn log_events(dir: &std::path::Path) -> Vec<csp_events::Envelope> {
    let log = EventLog::open(dir, LogOptions::default()).expect("open the stopped service's log");
    assert!(log.verify().unwrap().is_clean(), "log integrity");
    log.read_from(1)
        .map(|r| codec::decode(r.unwrap().bytes()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_over_nats_with_hand_written_json() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let data = TempDir::new("csp-e2e-runtime").unwrap();
        let issuer = dev_issuer(data.path());
        let mut csp = Csp::serve(
            &nats.url(),
            "counter",
            data.path(),
            &[
                "--manual-clock",
                "2026-01-01T00:00:00Z",
                "--max-body",
                "65536",
            ],
        )
        .await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let admin = admin_token(&issuer);
        let agent = partner_token(&issuer, tenant(PARTNER), Role::AdminAgent);

        // Discovery.
        let ping: Value = serde_json::from_slice(
            &client
                .request("$SRV.PING.counter", "".into())
                .await
                .unwrap()
                .payload,
        )
        .unwrap();
        assert_eq!(ping["name"], "counter");
        assert_eq!(ping["type"], "io.nats.micro.v1.ping_response");
        let info: Value = serde_json::from_slice(
            &client
                .request("$SRV.INFO.counter", "".into())
                .await
                .unwrap()
                .payload,
        )
        .unwrap();
        let subjects: Vec<&str> = info["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["subject"].as_str().unwrap())
            .collect();
        assert!(subjects.contains(&"csp.cmd.counter.increment"), "{info}");
        assert!(subjects.contains(&"csp.qry.counter.get_counter"), "{info}");

        // The JetStream streams were created at start-up.
        let names: Value = serde_json::from_slice(
            &client
                .request("$JS.API.STREAM.NAMES", "".into())
                .await
                .unwrap()
                .payload,
        )
        .unwrap();
        for stream in ["CSP_EVENTS", "CSP_INBOUND", "CSP_DLQ"] {
            assert!(
                names["streams"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n == stream),
                "{stream}: {names}"
            );
        }

        // A command succeeds.
        let open = format!(
            r#"{{"request_id":"open-1","customer":"{CUSTOMER}","limit":100,"expires_in_hours":48}}"#
        );
        let r = send(
            &client,
            "csp.cmd.counter.open_counter",
            Some(&agent),
            open.as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "ok", "{r}");
        let inc = |id: &str, by: u64| {
            format!(r#"{{"request_id":"{id}","customer":"{CUSTOMER}","by":{by}}}"#)
        };
        let r = send(
            &client,
            "csp.cmd.counter.increment",
            Some(&agent),
            inc("inc-1", 2).as_bytes(),
        )
        .await;
        assert_eq!(
            r,
            json!({"ok": true, "result": {"customer": CUSTOMER, "total": 2}})
        );
        let start = last_seq(&client, "counter", &admin).await;
        assert_eq!(start, 2);

        // Tokens: missing, expired, tampered, unknown issuer — unauthenticated, nothing appended.
        let expired = issuer.mint_for(
            ActorKind::Partner,
            tenant(PARTNER),
            "a",
            &[Role::AdminAgent],
            -3600,
            now_secs(),
        );
        let mut tampered = agent.clone();
        {
            // Flip one character of the payload: the signature no longer matches.
            let dot = tampered.find('.').unwrap();
            let b = unsafe { tampered.as_bytes_mut() };
            b[dot + 5] = if b[dot + 5] == b'A' { b'B' } else { b'A' };
        }
        let stranger = DevIssuer::generate().unwrap();
        let foreign = partner_token(&stranger, tenant(PARTNER), Role::AdminAgent);
        for (what, token) in [
            ("missing", None),
            ("expired", Some(expired.as_str())),
            ("tampered", Some(tampered.as_str())),
            ("unknown issuer", Some(foreign.as_str())),
            ("garbage", Some("not-a-jwt")),
        ] {
            let r = send(
                &client,
                "csp.cmd.counter.increment",
                token,
                inc(&format!("tok-{what}"), 1).as_bytes(),
            )
            .await;
            assert_eq!(code(&r), "unauthenticated", "{what}: {r}");
        }
        assert_eq!(
            last_seq(&client, "counter", &admin).await,
            start,
            "nothing appended"
        );

        // A partner that does not serve the customer: forbidden, recorded as one AccessRefused.
        let other = partner_token(&issuer, tenant(OTHER_PARTNER), Role::AdminAgent);
        let r = send(
            &client,
            "csp.cmd.counter.increment",
            Some(&other),
            inc("intruder-1", 1).as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "forbidden", "{r}");
        assert!(
            r["error"]["details"].get("customer").is_none(),
            "the refused actor learns no tenant"
        );
        // Its retry returns the same answer and records nothing more.
        let again = send(
            &client,
            "csp.cmd.counter.increment",
            Some(&other),
            inc("intruder-1", 1).as_bytes(),
        )
        .await;
        assert_eq!(again, r);
        assert_eq!(last_seq(&client, "counter", &admin).await, start + 1);

        // Five concurrent requests with one request_id: one effect, five identical answers.
        let body = inc("five-1", 3);
        let mut handles = Vec::new();
        for _ in 0..5 {
            let (client, agent, body) = (client.clone(), agent.clone(), body.clone());
            handles.push(tokio::spawn(async move {
                send(
                    &client,
                    "csp.cmd.counter.increment",
                    Some(&agent),
                    body.as_bytes(),
                )
                .await
            }));
        }
        let mut answers = Vec::new();
        for h in handles {
            answers.push(h.await.unwrap());
        }
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        assert_eq!(answers[0]["result"]["total"], 5);
        assert_eq!(
            last_seq(&client, "counter", &admin).await,
            start + 2,
            "one effect"
        );

        // The same request_id with another body.
        let r = send(
            &client,
            "csp.cmd.counter.increment",
            Some(&agent),
            inc("five-1", 4).as_bytes(),
        )
        .await;
        assert_eq!(code(&r), "idempotency_conflict", "{r}");

        // Hostile bodies: each a clear error, nothing appended, the service still answers.
        let deep = format!(
            r#"{{"request_id":"deep","customer":"{CUSTOMER}","by":{}1{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let big = format!(
            r#"{{"request_id":"big","customer":"{CUSTOMER}","by":1,"pad":"{}"}}"#,
            "x".repeat(70_000)
        );
        let cases: Vec<(&str, Vec<u8>, &str, Option<&str>)> = vec![
            (
                "invalid json",
                b"{\"request_id\":".to_vec(),
                "invalid_request",
                None,
            ),
            (
                "unknown field",
                format!(r#"{{"request_id":"u1","customer":"{CUSTOMER}","by":1,"bonus":true}}"#)
                    .into_bytes(),
                "invalid_request",
                Some("bonus"),
            ),
            (
                "wrong type",
                format!(r#"{{"request_id":"w1","customer":"{CUSTOMER}","by":"three"}}"#)
                    .into_bytes(),
                "invalid_request",
                Some("by"),
            ),
            (
                "negative",
                format!(r#"{{"request_id":"n1","customer":"{CUSTOMER}","by":-1}}"#).into_bytes(),
                "invalid_request",
                Some("by"),
            ),
            (
                "missing field",
                br#"{"request_id":"m1","by":1}"#.to_vec(),
                "invalid_request",
                None,
            ),
            (
                "over the limit",
                big.into_bytes(),
                "payload_too_large",
                None,
            ),
            (
                "10,000-deep nesting",
                deep.into_bytes(),
                "invalid_request",
                Some("by"),
            ),
            ("empty", Vec::new(), "invalid_request", None),
        ];
        for (what, body, expected, path) in cases {
            let r = send(&client, "csp.cmd.counter.increment", Some(&agent), &body).await;
            assert_eq!(code(&r), expected, "{what}: {r}");
            assert!(
                !r["error"]["message"].as_str().unwrap_or("").is_empty(),
                "{what}: a message"
            );
            if let Some(p) = path {
                assert_eq!(r["error"]["details"]["path"], p, "{what}: {r}");
            }
            let ping = client.request("$SRV.PING.counter", "".into()).await;
            assert!(ping.is_ok(), "{what}: the service still answers");
        }
        assert_eq!(
            last_seq(&client, "counter", &admin).await,
            start + 2,
            "nothing appended"
        );

        // After a stop, the log holds exactly: opened, +2, AccessRefused, +3.
        let status = csp.terminate();
        assert!(status.success(), "exit {status}");
        let events = log_events(&csp.log_dir());
        let kinds: Vec<&str> = events.iter().map(|e| e.payload.name()).collect();
        assert_eq!(
            kinds,
            [
                "counter_opened",
                "counter_incremented",
                "access_refused",
                "counter_incremented"
            ]
        );
        let Event::AccessRefused(refused) = &events[2].payload else {
            unreachable!()
        };
        assert_eq!(refused.action, "increment");
        assert_eq!(refused.customer, Some(tenant(CUSTOMER)));
        assert_eq!(events[2].actor.tenant, tenant(OTHER_PARTNER));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transition_due_while_stopped_is_recorded_once_with_its_true_time() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let data = TempDir::new("csp-e2e-scheduler").unwrap();
        let issuer = dev_issuer(data.path());
        let mut csp = Csp::serve(
            &nats.url(),
            "counter",
            data.path(),
            &["--manual-clock", "2026-01-01T00:00:00Z"],
        )
        .await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let agent = partner_token(&issuer, tenant(PARTNER), Role::AdminAgent);
        open_counter(&client, "counter", &agent, 10, 2).await;
        assert!(csp.terminate().success());

        // Down across the expiry (02:00); back at 05:00, then restarted three more times.
        for hour in ["05", "06", "07", "08"] {
            csp.restart(
                &nats.url(),
                "counter",
                Some(&format!("2026-01-01T{hour}:00:00Z")),
            )
            .await;
            // Progress, not sleep: the query shows the expiry once the scheduler recorded it.
            let q = format!(r#"{{"customer":"{CUSTOMER}"}}"#);
            let r = send(
                &client,
                "csp.qry.counter.get_counter",
                Some(&agent),
                q.as_bytes(),
            )
            .await;
            assert_eq!(r["result"]["expired"], true, "{r}");
            let admin = admin_token(&issuer);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while last_seq(&client, "counter", &admin).await < 2 {
                assert!(std::time::Instant::now() < deadline, "expiry not recorded");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(csp.terminate().success());
        }
        let events = log_events(&csp.log_dir());
        let expiries: Vec<_> = events
            .iter()
            .filter(|e| matches!(e.payload, Event::CounterExpired(_)))
            .collect();
        assert_eq!(expiries.len(), 1, "recorded once");
        assert_eq!(
            expiries[0].effective_at,
            Timestamp::ymd_hms(2026, 1, 1, 2, 0, 0).unwrap(),
            "its true time"
        );
        assert_eq!(
            expiries[0].recorded_at,
            Timestamp::ymd_hms(2026, 1, 1, 5, 0, 0).unwrap(),
            "recorded on restart"
        );
        assert_eq!(events.len(), 2);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_keeps_every_answered_request_and_exits_0() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let data = TempDir::new("csp-e2e-sigterm").unwrap();
        let issuer = dev_issuer(data.path());
        let mut csp = Csp::serve(&nats.url(), "counter", data.path(), &[]).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let agent = partner_token(&issuer, tenant(PARTNER), Role::AdminAgent);
        open_counter(&client, "counter", &agent, 1000000, 48).await;

        // 16 clients increment as fast as they can; SIGTERM once 300 answers are in.
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for c in 0..16 {
            let (client, agent, answered) = (client.clone(), agent.clone(), answered.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = Vec::new();
                for i in 0.. {
                    let id = format!("load-{c}-{i}");
                    let body = format!(r#"{{"request_id":"{id}","customer":"{CUSTOMER}","by":1}}"#);
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Authorization", format!("Bearer {agent}").as_str());
                    let req = async_nats::Request::new()
                        .payload(body.into())
                        .headers(headers)
                        .timeout(Some(Duration::from_secs(2)));
                    match client.send_request("csp.cmd.counter.increment", req).await {
                        Ok(m) => {
                            let v: Value = serde_json::from_slice(&m.payload).unwrap();
                            if v["ok"] == true {
                                ok.push(id);
                                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                        Err(_) => break, // no responders or timeout: the service is gone
                    }
                }
                ok
            }));
        }
        while answered.load(std::sync::atomic::Ordering::Relaxed) < 300 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status = csp.terminate();
        let mut ok_ids = HashSet::new();
        for t in tasks {
            ok_ids.extend(t.await.unwrap());
        }
        assert!(status.success(), "exit code {status}");
        assert!(ok_ids.len() >= 300);

        // Every request answered ok is in the log after the stop.
        let log = EventLog::open(csp.log_dir(), LogOptions::default()).unwrap();
        let increments = log
            .read_from(1)
            .filter_map(
                |r| match codec::decode(r.unwrap().bytes()).unwrap().payload {
                    Event::CounterIncremented(i) => Some(i.total),
                    _ => None,
                },
            )
            .count();
        let mut missing = 0;
        for id in &ok_ids {
            if log
                .request(Uuid::parse_str(PARTNER).unwrap(), id)
                .unwrap()
                .is_none()
            {
                missing += 1;
            }
        }
        assert_eq!(missing, 0, "answered ok but not in the log");
        assert!(
            increments >= ok_ids.len(),
            "{increments} increments for {} ok answers",
            ok_ids.len()
        );
        eprintln!(
            "SIGTERM under load: {} answered ok, {increments} increments in the log, exit {status}",
            ok_ids.len()
        );
    })
    .await
}

/// The scheduler of a service on the system clock waits for its interval or an append; it once
/// waited on a clock watch whose sender was gone, which answers at once, and spun on a core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_service_on_the_system_clock_does_not_spin() {
    csp_testkit::within(std::time::Duration::from_secs(120), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let data = TempDir::new("csp-e2e-idle").unwrap();
        let issuer = dev_issuer(data.path());
        let mut csp = Csp::serve(&nats.url(), "counter", data.path(), &[]).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let admin = admin_token(&issuer);
        let looks = |r: Value| {
            r["scheduler_looks"]
                .as_u64()
                .unwrap_or_else(|| panic!("status: {r}"))
        };
        let before = looks(status(&client, "counter", &admin, false).await);
        // Idle for a second: a waiting scheduler looks a few times (its interval, the status
        // request); a spinning one would look hundreds of thousands of times.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = looks(status(&client, "counter", &admin, false).await);
        assert!(
            after - before < 50,
            "the scheduler looked {} times in an idle second",
            after - before
        );
        assert!(csp.terminate().success());
    })
    .await
}

/// A service whose applier cannot fold an event of its own log halts, and `csp serve` exits
/// non-zero, so a supervisor (systemd's `Restart=on-failure`, an operator's alert on a failed
/// unit) sees it, rather than a process that answers `unavailable` forever. The damage is the
/// `fold_own_event` fault point: a running service's log has no other writer to damage it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_cannot_fold_its_own_log_exits_non_zero() {
    csp_testkit::within(std::time::Duration::from_secs(120), async {
        let _serial = serial().await;
        let nats = NatsServer::start().expect("nats-server");
        let data = TempDir::new("csp-e2e-halt").unwrap();
        let issuer = dev_issuer(data.path());
        let mut csp = Csp::serve(&nats.url(), "counter", data.path(), &[]).await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let agent = partner_token(&issuer, tenant(PARTNER), Role::AdminAgent);
        open_counter(&client, "counter", &agent, 1000, 48).await;
        assert!(csp.terminate().success());

        csp.env
            .push(("CSP_FAIL_AT".to_string(), "fold_own_event".to_string()));
        csp.start_again(&nats.url(), "counter").await;
        // Its next event cannot be folded: the increment is recorded, then the service halts.
        let body = format!(r#"{{"request_id":"halt","customer":"{CUSTOMER}","by":1}}"#);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Authorization", format!("Bearer {agent}").as_str());
        let request = async_nats::Request::new()
            .payload(body.into())
            .headers(headers)
            .timeout(Some(Duration::from_secs(5)));
        // Answered or not (the process may be gone first): what matters is how it ends.
        let _ = client
            .send_request("csp.cmd.counter.increment", request)
            .await;
        let status = csp
            .wait_exit(Duration::from_secs(30))
            .await
            .expect("csp serve exits once its service halted");
        assert_eq!(status.code(), Some(1), "{status}");
    })
    .await
}
