//! The in-process bus gives the embedded default the same guarantee as NATS: a consumer
//! restarted inside one process resumes from its own position and ends complete, recovering
//! through heartbeats and `events_from` whatever was published while it was down. And what a
//! service publishes is its choice per event kind: the observer's reactions stay in its log
//! unless it says otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use csp_auth::{AuthConfig, DevIssuer, InternalIssuer, Verifier};
use csp_bus::runtime::{self, Running, RuntimeConfig};
use csp_bus::{Bus, Clock, Headers, Service};
use csp_counter::{CounterObserver, CounterService, Kept, Published, Reactions};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{ActorKind, Role, TenantId};
use csp_testkit::TempDir;

const CUSTOMER: &str = "0190d7a1-0000-7000-8000-00000000cc01";

/// Services on one in-process bus, each on its own log in one temporary directory, and a
/// partner agent's token to send them commands.
struct Harness {
    dir: TempDir,
    bus: Bus,
    verifier: Arc<Verifier>,
    internal: Arc<InternalIssuer>,
    token: String,
}

impl Harness {
    fn new() -> Harness {
        let dir = TempDir::new("csp-in-process").unwrap();
        let dev = DevIssuer::generate().unwrap();
        let internal = Arc::new(InternalIssuer::generate().unwrap());
        let verifier = Arc::new(
            Verifier::new(AuthConfig {
                issuers: vec![dev.issuer_config(), internal.issuer_config()],
            })
            .unwrap(),
        );
        let partner = TenantId(uuid::Uuid::from_u128(0xaa01));
        let token = dev.mint_for(
            ActorKind::Partner,
            partner,
            "agent",
            &[Role::AdminAgent],
            600,
            csp_bus::clock::wall_seconds(),
        );
        Harness {
            dir,
            bus: Bus::local(),
            verifier,
            internal,
            token,
        }
    }

    /// The log of service `name` (the same one on every call: sled allows one opener).
    fn log(&self, name: &str) -> EventLog {
        EventLog::open(self.dir.path().join(name), LogOptions::default()).unwrap()
    }

    async fn start<S: Service<Config = ()>>(&self, log: EventLog) -> Running<S> {
        let mut c = RuntimeConfig::new(
            self.bus.clone(),
            log,
            Clock::System,
            Arc::clone(&self.verifier),
        );
        c.internal = Some(Arc::clone(&self.internal));
        c.heartbeat_interval = Duration::from_millis(200);
        runtime::start::<S>(c, ()).await.unwrap()
    }

    async fn send(&self, subject: &str, body: String) {
        let r = self
            .bus
            .request(
                subject,
                Headers::new().with("Authorization", format!("Bearer {}", self.token)),
                Bytes::from(body),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(v["ok"], true, "{v}");
    }

    async fn open_counter(&self) {
        self.send(
            "csp.cmd.counter.open_counter",
            format!(
                r#"{{"request_id":"o","customer":"{CUSTOMER}","limit":1000,"expires_in_hours":48}}"#
            ),
        )
        .await;
    }

    async fn increment(&self, request_id: &str) {
        self.send(
            "csp.cmd.counter.increment",
            format!(r#"{{"request_id":"{request_id}","customer":"{CUSTOMER}","by":1}}"#),
        )
        .await;
    }
}

/// How many increments `observer` reacted to.
fn observed<R: Reactions>(observer: &Running<CounterObserver<R>>) -> u64 {
    observer.with_state(|a| a.state.observed.values().sum())
}

async fn wait_applied<S: Service>(service: &Running<S>, seq: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while service.applied_seq() < seq {
        assert!(
            Instant::now() < deadline,
            "{what}: {}",
            service.applied_seq()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_restarted_in_process_resumes_and_ends_complete() {
    csp_testkit::within(Duration::from_secs(300), async {
        let h = Harness::new();
        let counter = h.start::<CounterService>(h.log("counter")).await;
        let observer_log = h.log("observer");
        let mut observer = h.start::<CounterObserver>(observer_log.clone()).await;

        h.open_counter().await;
        for i in 0..20 {
            h.increment(&format!("a{i}")).await;
        }
        // Stop the consumer; the producer goes on publishing to nobody.
        wait_applied(&observer, 41, "first catch-up").await;
        observer.shutdown().await;
        for i in 0..30 {
            h.increment(&format!("b{i}")).await;
        }
        // Restarted on its own log: it resumes and recovers the 30 it missed.
        observer = h.start::<CounterObserver>(observer_log).await;
        wait_applied(&observer, 101, "after restart").await;
        assert_eq!(observed(&observer), 50, "one reaction per increment");
        observer.shutdown().await;
        counter.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_publishes_only_the_event_kinds_it_says_it_publishes() {
    csp_testkit::within(Duration::from_secs(120), async {
        let h = Harness::new();
        let counter_log = h.log("counter");
        let counter = h.start::<CounterService>(counter_log.clone()).await;
        let kept_log = h.log("kept");
        let kept = h.start::<CounterObserver<Kept>>(kept_log.clone()).await;
        h.open_counter().await;
        for i in 0..5 {
            h.increment(&format!("k{i}")).await;
        }
        // 6 upstream copies and 5 reactions, none of them published.
        wait_applied(&kept, 11, "kept").await;
        assert_eq!(observed(&kept), 5);
        assert_eq!(
            kept_log.last_outbox_seq(),
            0,
            "kept reactions take no outbox seq"
        );
        kept.shutdown().await;

        // The same consumer declaring its reactions published: each gets an outbox seq, in
        // order, and goes out (the counter's own events always did).
        let published_log = h.log("published");
        let published = h
            .start::<CounterObserver<Published>>(published_log.clone())
            .await;
        wait_applied(&published, 11, "published").await;
        assert_eq!(published_log.last_outbox_seq(), 5);
        assert_eq!(counter_log.last_outbox_seq(), 6);
        published.shutdown().await;
        counter.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_whose_applier_stopped_still_answers_instead_of_hanging() {
    csp_testkit::within(Duration::from_secs(60), async {
        let h = Harness::new();
        let log = h.log("counter");
        let counter = h.start::<CounterService>(log.clone()).await;
        h.open_counter().await;
        // Bytes no build of csp wrote: the applier stops at them rather than skip an event.
        let damaged = csp_eventlog::NewEvent {
            event_id: uuid::Uuid::from_u128(0xbad),
            stream: "damaged".into(),
            version: 1,
            publish: false,
            bytes: vec![0xff, 0xff],
        };
        log.append(csp_eventlog::Batch {
            events: vec![damaged],
            request: None,
        })
        .await
        .unwrap();
        // The increment is durable; its reply comes although the state cannot show it.
        h.increment("after-damage").await;
        assert_eq!(
            counter.applied_seq(),
            1,
            "folded up to the damaged event only"
        );
        counter.shutdown().await;
    })
    .await
}
