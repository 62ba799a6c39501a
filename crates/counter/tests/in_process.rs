//! The in-process bus gives the embedded default the same guarantee as NATS: a consumer
//! restarted inside one process resumes from its own position and ends complete, recovering
//! through heartbeats and `events_from` whatever was published while it was down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use csp_auth::{AuthConfig, DevIssuer, InternalIssuer, Verifier};
use csp_bus::runtime::{self, RuntimeConfig};
use csp_bus::{Bus, Clock, Headers};
use csp_counter::{CounterObserver, CounterService};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{ActorKind, Role, TenantId};
use csp_testkit::TempDir;

const CUSTOMER: &str = "0190d7a1-0000-7000-8000-00000000cc01";

fn now() -> i64 {
    csp_bus::clock::wall_seconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_restarted_in_process_resumes_and_ends_complete() {
    csp_testkit::within(std::time::Duration::from_secs(300), async {
        let dir = TempDir::new("csp-in-process").unwrap();
        let dev = DevIssuer::generate().unwrap();
        let internal = Arc::new(InternalIssuer::generate().unwrap());
        let verifier = Arc::new(
            Verifier::new(AuthConfig {
                issuers: vec![dev.issuer_config(), internal.issuer_config()],
            })
            .unwrap(),
        );
        let bus = Bus::local();
        let config = |name: &str| {
            let log = EventLog::open(dir.path().join(name), LogOptions::default()).unwrap();
            let mut c = RuntimeConfig::new(bus.clone(), log, Clock::System, Arc::clone(&verifier));
            c.internal = Some(Arc::clone(&internal));
            c.heartbeat_interval = Duration::from_millis(200);
            c
        };
        let counter = runtime::start::<CounterService>(config("counter"), ())
            .await
            .unwrap();
        let mut observer = runtime::start::<CounterObserver>(config("observer"), ())
            .await
            .unwrap();

        let partner = TenantId(uuid::Uuid::from_u128(0xaa01));
        let token = dev.mint_for(
            ActorKind::Partner,
            partner,
            "agent",
            &[Role::AdminAgent],
            600,
            now(),
        );
        let send = |subject: &'static str, body: String| {
            let (bus, token) = (bus.clone(), token.clone());
            async move {
                let r = bus
                    .request(
                        subject,
                        Headers::new().with("Authorization", format!("Bearer {token}")),
                        Bytes::from(body),
                        Duration::from_secs(5),
                    )
                    .await
                    .unwrap();
                let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                assert_eq!(v["ok"], true, "{v}");
            }
        };
        send(
            "csp.cmd.counter.open_counter",
            format!(
                r#"{{"request_id":"o","customer":"{CUSTOMER}","limit":1000,"expires_in_hours":48}}"#
            ),
        )
        .await;
        for i in 0..20 {
            send(
                "csp.cmd.counter.increment",
                format!(r#"{{"request_id":"a{i}","customer":"{CUSTOMER}","by":1}}"#),
            )
            .await;
        }
        // Stop the consumer; the producer goes on publishing to nobody.
        let deadline = Instant::now() + Duration::from_secs(20);
        while observer.applied_seq() < 41 {
            assert!(
                Instant::now() < deadline,
                "first catch-up: {}",
                observer.applied_seq()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        observer.shutdown().await;
        for i in 0..30 {
            send(
                "csp.cmd.counter.increment",
                format!(r#"{{"request_id":"b{i}","customer":"{CUSTOMER}","by":1}}"#),
            )
            .await;
        }
        // Restarted on its own log: it resumes and recovers the 30 it missed.
        observer = runtime::start::<CounterObserver>(config("observer"), ())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while observer.applied_seq() < 101 {
            assert!(
                Instant::now() < deadline,
                "after restart: {}",
                observer.applied_seq()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let observed = observer.with_state(|a| a.state.observed.values().sum::<u64>());
        assert_eq!(observed, 50, "one reaction per increment");
        observer.shutdown().await;
        counter.shutdown().await;
    })
    .await
}
