//! A consumer's `fetch` over a real nats-server is cancel-safe: the inbox runs it in a
//! `select!` beside the producer's heartbeats, so a call can be dropped after it has taken
//! messages from the stream and while it lingers for more. Those messages must come from the
//! next call, not be lost until JetStream redelivers them (which the inbox would meanwhile
//! have fetched from the producer's log: a half-second stall and a duplicate, as `csp bench
//! consistency` once showed).

use std::time::Duration;

use std::future::Future as _;

use bytes::Bytes;
use csp_bus::{Bus, Headers};
use csp_testkit::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_dropped_mid_batch_loses_nothing() {
    let server = NatsServer::start().expect("nats-server");
    server.wait_for_jetstream().await.expect("jetstream");
    csp_testkit::within(Duration::from_secs(60), async {
        let bus = Bus::connect(&server.url()).await.expect("connect");
        bus.ensure_streams().await.expect("streams");
        let publish = |n: u32| {
            let bus = bus.clone();
            async move {
                let subject = format!("csp.evt.test.e{n}._._");
                bus.js_publish(
                    &subject,
                    &format!("m{n}"),
                    Headers::new(),
                    Bytes::from(format!("{n}")),
                )
                .await
                .expect("publish")
                .wait()
                .await
                .expect("stored");
            }
        };
        let mut consumer = bus
            .durable_consumer(
                "CSP_EVENTS",
                "fetch-test",
                "csp.evt.test.>",
                Duration::from_secs(30),
            )
            .await
            .expect("consumer");
        for n in 1..=3 {
            publish(n).await;
        }
        let first = consumer
            .fetch(10, Duration::from_secs(5))
            .await
            .expect("fetch");
        assert_eq!(first.len(), 3);
        for m in &first {
            m.ack().await.expect("ack");
        }

        for n in 4..=6 {
            publish(n).await;
        }
        // Delivered to this client's subscription, not yet taken.
        tokio::time::sleep(Duration::from_millis(300)).await;
        {
            let mut call = Box::pin(consumer.fetch(10, Duration::from_secs(5)));
            // One poll takes the three and lingers for more; then the caller moves on.
            let lingering = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(call.as_mut().poll(cx).is_pending())
            })
            .await;
            assert!(lingering, "it should linger");
        }
        let next = tokio::time::timeout(
            Duration::from_secs(2),
            consumer.fetch(10, Duration::from_secs(1)),
        )
        .await
        .expect("at once")
        .expect("fetch");
        let got: Vec<String> = next
            .iter()
            .map(|m| String::from_utf8_lossy(&m.msg.payload).into_owned())
            .collect();
        assert_eq!(
            got,
            ["4", "5", "6"],
            "what the dropped call took comes from the next"
        );
    })
    .await
}
