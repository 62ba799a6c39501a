//! The bus contract: one suite, run against the in-process bus and against a real nats-server,
//! so `csp up`'s embedded default behaves like production.

use std::time::Duration;

use bytes::Bytes;
use csp_bus::local::LocalBus;
use csp_bus::{Bus, BusError, Headers, ServiceInfo};
use csp_testkit::NatsServer;

const LIMIT: usize = 64 * 1024;

fn info(name: &str) -> ServiceInfo {
    ServiceInfo {
        name: name.into(),
        version: "1.2.3".into(),
        description: "contract".into(),
    }
}

/// Serves `subjects` and answers each request with "<subject>|<x-echo header>|<payload>".
async fn echo(bus: &Bus, name: &str, subjects: &[&str]) -> tokio::task::JoinHandle<usize> {
    let subjects: Vec<String> = subjects.iter().map(|s| s.to_string()).collect();
    let mut served = bus.serve(&info(name), &subjects).await.expect("serve");
    tokio::spawn(async move {
        let mut n = 0;
        while let Some(req) = served.next().await {
            n += 1;
            let body = format!(
                "{}|{}|{}",
                req.msg.subject,
                req.msg.headers.get("x-echo").unwrap_or(""),
                String::from_utf8_lossy(&req.msg.payload)
            );
            if body.ends_with("|stop") {
                served.stop();
            }
            let _ = req.respond(Bytes::from(body)).await;
        }
        n
    })
}

async fn contract(bus: Bus, other: Bus) {
    let t = Duration::from_secs(5);

    // Request/reply, with headers, on an endpoint subject.
    let server = echo(&bus, "echo", &["c.cmd.echo.a", "c.cmd.echo.b"]).await;
    let r = bus
        .request(
            "c.cmd.echo.b",
            Headers::new().with("x-echo", "h1"),
            Bytes::from("hi"),
            t,
        )
        .await
        .expect("reply");
    assert_eq!(r.payload, Bytes::from("c.cmd.echo.b|h1|hi"));

    // Discovery: $SRV.PING and $SRV.INFO answer for a served service.
    let ping = bus
        .request("$SRV.PING.echo", Headers::new(), Bytes::new(), t)
        .await
        .expect("ping");
    let ping: serde_json::Value = serde_json::from_slice(&ping.payload).unwrap();
    assert_eq!(ping["name"], "echo");
    assert_eq!(ping["version"], "1.2.3");
    let info = bus
        .request("$SRV.INFO.echo", Headers::new(), Bytes::new(), t)
        .await
        .expect("info");
    let info: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    let subjects: Vec<&str> = info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    let mut subjects = subjects;
    subjects.sort_unstable(); // the NATS service API lists endpoints in no particular order
    assert_eq!(subjects, ["c.cmd.echo.a", "c.cmd.echo.b"]);
    let stats = bus
        .request("$SRV.STATS.echo", Headers::new(), Bytes::new(), t)
        .await
        .expect("stats");
    let stats: serde_json::Value = serde_json::from_slice(&stats.payload).unwrap();
    assert_eq!(stats["type"], "io.nats.micro.v1.stats_response");

    // Nobody serves it: no responders, at once.
    let started = std::time::Instant::now();
    let e = bus
        .request("c.cmd.nobody.x", Headers::new(), Bytes::new(), t)
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::NoResponders(_)), "{e:?}");
    assert!(started.elapsed() < t, "no responders is immediate");

    // Somebody serves it but never answers: timeout.
    let mut silent = bus.subscribe("c.cmd.silent.x").await.expect("sub");
    let e = bus
        .request(
            "c.cmd.silent.x",
            Headers::new(),
            Bytes::new(),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::Timeout(_)), "{e:?}");
    assert!(silent.next().await.is_some());

    // Publish/subscribe with wildcards; every plain subscriber gets a copy.
    let mut star = bus.subscribe("c.evt.*.made").await.expect("sub");
    let mut tail = other.subscribe("c.evt.>").await.expect("sub");
    other.flush().await.unwrap();
    bus.publish(
        "c.evt.orders.made",
        Headers::new().with("k", "v"),
        Bytes::from("e1"),
    )
    .await
    .unwrap();
    bus.publish("c.evt.orders.other.deep", Headers::new(), Bytes::from("e2"))
        .await
        .unwrap();
    bus.flush().await.unwrap();
    let m = star.next().await.unwrap();
    assert_eq!(
        (m.subject.as_str(), m.payload.as_ref(), m.headers.get("k")),
        ("c.evt.orders.made", &b"e1"[..], Some("v"))
    );
    assert_eq!(tail.next().await.unwrap().payload, Bytes::from("e1"));
    assert_eq!(tail.next().await.unwrap().payload, Bytes::from("e2"));

    // Two instances of one service share the load: each request answered exactly once.
    let second = echo(&other, "echo", &["c.cmd.echo.a", "c.cmd.echo.b"]).await;
    other.flush().await.unwrap();
    for i in 0..40 {
        let r = bus
            .request(
                "c.cmd.echo.a",
                Headers::new(),
                Bytes::from(format!("{i}")),
                t,
            )
            .await
            .unwrap();
        assert!(r.payload.ends_with(format!("|{i}").as_bytes()));
    }

    // Too large: refused by the bus, never delivered.
    let e = bus
        .request(
            "c.cmd.echo.a",
            Headers::new(),
            Bytes::from(vec![b'x'; LIMIT + 1]),
            t,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::TooLarge { .. }), "{e:?}");
    assert!(
        bus.max_payload() >= LIMIT / 2 && bus.max_payload() <= LIMIT,
        "{}",
        bus.max_payload()
    );

    // Invalid subjects.
    let e = bus
        .publish("c.has space", Headers::new(), Bytes::new())
        .await
        .unwrap_err();
    assert!(
        matches!(e, BusError::InvalidSubject(_) | BusError::Transport(_)),
        "{e:?}"
    );

    // A stopped service stops answering. Each "stop" lands on one instance of the queue group;
    // a request that reaches an instance already stopping is dropped unanswered (a timeout), so
    // keep asking until both have stopped, and count only the answered ones.
    let mut stops_answered = 0;
    for _ in 0..20 {
        if server.is_finished() && second.is_finished() {
            break;
        }
        let r = bus
            .request(
                "c.cmd.echo.a",
                Headers::new(),
                Bytes::from("stop"),
                Duration::from_millis(500),
            )
            .await;
        if r.is_ok() {
            stops_answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // let the unsubscribe reach the server
    }
    let handled = server.await.unwrap() + second.await.unwrap();
    assert_eq!(
        handled,
        1 + 40 + stops_answered,
        "every request handled once, by one instance"
    );
    let e = bus
        .request(
            "c.cmd.echo.a",
            Headers::new(),
            Bytes::new(),
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, BusError::NoResponders(_) | BusError::Timeout(_)),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_bus_keeps_the_contract() {
    let local = LocalBus::with_max_payload(LIMIT);
    let limit = Duration::from_secs(120);
    csp_testkit::within(
        limit,
        contract(Bus::Local(local.clone()), Bus::Local(local)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nats_bus_keeps_the_contract() {
    let server = NatsServer::builder()
        .max_payload(LIMIT as u32)
        .start()
        .expect("nats-server");
    let a = Bus::connect(&server.url()).await.expect("connect");
    let b = Bus::connect(&server.url()).await.expect("connect");
    csp_testkit::within(Duration::from_secs(120), contract(a, b)).await;
}
