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
use csp_counter::service::Second;
use csp_counter::CounterWatcher;
use csp_counter::{CounterObserver, CounterService, Kept, Published, Reactions};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, ActorKind, Envelope, Event, Role, TenantId, Timestamp};
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
        self.start_on::<S>(log, Clock::System).await
    }

    /// Starts `S` on its own clock (each process of a real deployment has its own).
    async fn start_on<S: Service<Config = ()>>(&self, log: EventLog, clock: Clock) -> Running<S> {
        let mut c = RuntimeConfig::new(self.bus.clone(), log, clock, Arc::clone(&self.verifier));
        c.internal = Some(Arc::clone(&self.internal));
        c.heartbeat_interval = Duration::from_millis(200);
        runtime::start::<S>(c, ()).await.unwrap()
    }

    /// Sends a request as the partner agent; its reply.
    async fn ask(&self, subject: &str, body: String) -> serde_json::Value {
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
        serde_json::from_slice(&r.payload).unwrap()
    }

    async fn send(&self, subject: &str, body: String) {
        let v = self.ask(subject, body).await;
        assert_eq!(v["ok"], true, "{v}");
    }

    async fn open_counter(&self) {
        self.open_counter_of("counter").await;
    }

    async fn open_counter_of(&self, service: &str) {
        self.send(
            &format!("csp.cmd.{service}.open_counter"),
            format!(
                r#"{{"request_id":"o","customer":"{CUSTOMER}","limit":1000,"expires_in_hours":48}}"#
            ),
        )
        .await;
    }

    async fn increment(&self, request_id: &str) {
        self.increment_of("counter", request_id).await;
    }

    async fn increment_of(&self, service: &str, request_id: &str) {
        self.send(
            &format!("csp.cmd.{service}.increment"),
            format!(r#"{{"request_id":"{request_id}","customer":"{CUSTOMER}","by":1}}"#),
        )
        .await;
    }
}

/// Every event of `log`, decoded.
fn events(log: &EventLog) -> Vec<Envelope> {
    log.read_from(1)
        .map(|r| codec::decode(r.unwrap().bytes()).unwrap())
        .collect()
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
async fn a_service_that_cannot_fold_its_own_log_halts_and_records_nothing_more() {
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
        // The service says it halted, and why: what `csp serve` exits with.
        let why = counter.halted().await;
        assert!(
            why.contains("event 2 of its own log cannot be folded"),
            "{why}"
        );
        assert_eq!(
            counter.applied_seq(),
            1,
            "folded up to the damaged event only"
        );
        // From then on it records nothing and answers nothing from a state missing an event:
        // a command and a query are both `unavailable`, naming the halt.
        for (subject, body) in [
            (
                "csp.cmd.counter.increment",
                format!(r#"{{"request_id":"after","customer":"{CUSTOMER}","by":1}}"#),
            ),
            (
                "csp.qry.counter.get_counter",
                format!(r#"{{"customer":"{CUSTOMER}"}}"#),
            ),
        ] {
            let v = h.ask(subject, body).await;
            assert_eq!(v["error"]["code"], "unavailable", "{subject}: {v}");
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("the service halted"), "{message}");
        }
        assert_eq!(log.last_seq(), 2, "nothing appended after the halt");
        counter.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_down_for_40_days_records_its_reaction_at_the_upstream_events_time() {
    csp_testkit::within(Duration::from_secs(120), async {
        let h = Harness::new();
        let t0 = Timestamp::ymd_hms(2027, 3, 10, 9, 0, 0).unwrap();
        let producer_clock = Clock::manual(t0);
        let consumer_clock = Clock::manual(t0);
        let counter = h
            .start_on::<CounterService>(h.log("counter"), producer_clock.clone())
            .await;
        let observer_log = h.log("observer");
        let observer = h
            .start_on::<CounterObserver>(observer_log.clone(), consumer_clock.clone())
            .await;
        h.open_counter().await;
        wait_applied(&observer, 1, "the opening").await;
        observer.shutdown().await;

        // The producer records an increment at T while the consumer is down...
        let Clock::Manual(producer_time) = &producer_clock else {
            panic!("a manual clock")
        };
        let t = producer_time.advance_micros(3_600_000_000);
        h.increment("in-march").await;
        // ...which comes back 40 days later, on its own clock.
        let later = Timestamp::from_micros(t0.as_micros() + 40 * 86_400 * 1_000_000);
        let Clock::Manual(consumer_time) = &consumer_clock else {
            panic!("a manual clock")
        };
        consumer_time.set(later).unwrap();
        let observer = h
            .start_on::<CounterObserver>(observer_log.clone(), consumer_clock)
            .await;
        wait_applied(&observer, 3, "after 40 days").await;

        let reaction = events(&observer_log)
            .into_iter()
            .find(|e| matches!(e.payload, Event::CounterObserved(_)))
            .expect("the increment got its reaction");
        assert_eq!(
            reaction.effective_at, t,
            "a reaction takes effect when its upstream event did, not when it was ingested"
        );
        assert_eq!(reaction.recorded_at, later, "it was recorded 40 days later");
        observer.shutdown().await;
        counter.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_of_two_producers_attributes_each_upstream_event() {
    csp_testkit::within(Duration::from_secs(120), async {
        let h = Harness::new();
        let first = h.start::<CounterService>(h.log("counter")).await;
        let second = h.start::<CounterService<Second>>(h.log("counter-b")).await;
        let observer_log = h.log("observer");
        let observer = h.start::<CounterObserver>(observer_log.clone()).await;
        h.open_counter_of("counter").await;
        h.open_counter_of("counter-b").await;
        for i in 0..3 {
            h.increment_of("counter", &format!("a{i}")).await;
        }
        for i in 0..2 {
            h.increment_of("counter-b", &format!("b{i}")).await;
        }
        // 4 + 3 upstream copies and 3 + 2 reactions.
        wait_applied(&observer, 12, "both producers").await;

        let upstream = observer.with_state(|a| a.state.upstream.clone());
        assert_eq!(
            upstream.get("counter"),
            Some(&4),
            "apply knows each copy's producer"
        );
        assert_eq!(upstream.get("counter-b"), Some(&3));
        let reactions: Vec<String> = events(&observer_log)
            .into_iter()
            .filter(|e| matches!(e.payload, Event::CounterObserved(_)))
            .map(|e| e.stream)
            .collect();
        let of = |producer: &str| {
            reactions
                .iter()
                .filter(|s| s.starts_with(&format!("observed/{producer}/")))
                .count()
        };
        assert_eq!(
            of("counter"),
            3,
            "react knows each event's producer: {reactions:?}"
        );
        assert_eq!(of("counter-b"), 2, "{reactions:?}");
        observer.shutdown().await;
        second.shutdown().await;
        first.shutdown().await;
    })
    .await
}

/// A consumer catching up gets a counter's opening, its increments and its expiry in one batch
/// (one page recovered from the producer's log). Its reactions to the increments depend on the
/// reaction to the opening (the watch it started), and its own watch ends, by a due
/// transition, exactly when the counter expires: that transition must be recorded before the
/// expiry's copy, at its own business time, with every increment of the batch counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sees_its_earlier_reactions_and_records_what_falls_due_before_an_event_first() {
    csp_testkit::within(Duration::from_secs(120), async {
        let h = Harness::new();
        let t0 = Timestamp::ymd_hms(2027, 3, 10, 9, 0, 0).unwrap();
        let producer_clock = Clock::manual(t0);
        let counter_log = h.log("counter");
        let counter = h
            .start_on::<CounterService>(counter_log.clone(), producer_clock.clone())
            .await;
        h.send(
            "csp.cmd.counter.open_counter",
            format!(
                r#"{{"request_id":"o","customer":"{CUSTOMER}","limit":1000,"expires_in_hours":1}}"#
            ),
        )
        .await;
        for i in 0..3 {
            h.increment(&format!("w{i}")).await;
        }
        // Two hours on, the counter's own scheduler records its expiry, effective at t0 + 1h.
        let Clock::Manual(producer_time) = &producer_clock else {
            panic!("a manual clock")
        };
        producer_time.advance_micros(2 * 3_600_000_000);
        wait_applied(&counter, 5, "the counter's expiry").await;

        // The watcher starts now, on a clock that never reaches the expiry: only the batch can
        // end its watch.
        let watcher_log = h.log("watcher");
        let watcher = h
            .start_on::<CounterWatcher>(watcher_log.clone(), Clock::manual(t0))
            .await;
        // 5 upstream copies, the watch, 3 observations, the watch's end.
        wait_applied(&watcher, 10, "the watcher caught up").await;

        let log = events(&watcher_log);
        let kinds: Vec<&str> = log.iter().map(|e| e.payload.name()).collect();
        assert_eq!(
            kinds,
            [
                "counter_opened",
                "counter_watched",
                "counter_incremented",
                "counter_observed",
                "counter_incremented",
                "counter_observed",
                "counter_incremented",
                "counter_observed",
                "counter_watch_ended",
                "counter_expired",
            ],
            "the watch's end is recorded before the expiry's copy"
        );
        let end = &log[8];
        let expires_at = Timestamp::from_micros(t0.as_micros() + 3_600_000_000);
        assert_eq!(end.effective_at, expires_at, "at its own business time");
        let Event::CounterWatchEnded(ended) = &end.payload else {
            panic!("the watch's end")
        };
        assert_eq!(ended.observed, 3, "every increment of the batch counted");
        // Replay folds the log to the same watch the batch decided against.
        let replayed = runtime::replay::<CounterWatcher>(&watcher_log).unwrap();
        let customer: TenantId = CUSTOMER.parse().unwrap();
        let w = replayed.state.watches.get(customer).unwrap().clone();
        assert!(w.ended && w.observed == 3, "{w:?}");
        watcher.shutdown().await;
        counter.shutdown().await;
    })
    .await
}

/// A service dropped without `shutdown` (a start-up that failed half-way) leaves nothing behind:
/// no request loop still answering, and its log closed, so the next start can open it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_dropped_without_shutdown_stops_serving_and_frees_its_log() {
    csp_testkit::within(Duration::from_secs(60), async {
        let h = Harness::new();
        let path = h.dir.path().join("dropped");
        let counter = h
            .start::<CounterService>(EventLog::open(&path, LogOptions::default()).unwrap())
            .await;
        h.open_counter().await;
        drop(counter);
        EventLog::open(&path, LogOptions::default())
            .expect("every task holding the dropped service's log has ended");
        let answer = h
            .bus
            .request(
                "csp.cmd.counter.increment",
                Headers::new().with("Authorization", format!("Bearer {}", h.token)),
                Bytes::from(format!(
                    r#"{{"request_id":"late","customer":"{CUSTOMER}","by":1}}"#
                )),
                Duration::from_millis(500),
            )
            .await;
        assert!(
            answer.is_err(),
            "nobody serves a dropped service: {answer:?}"
        );
    })
    .await
}

/// Optimistic concurrency: a command is decided and versioned against one state. Many
/// increments racing for the last units of a limit: exactly `limit` are recorded, every other
/// one is refused `invalid_state`, and the log folds to the limit — never beyond it (a version
/// taken from a state newer than the decision let a sixth racer through about once in six
/// races; sixteen races catch that nineteen times in twenty).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commands_are_each_decided_on_the_state_they_are_recorded_against() {
    let h = Harness::new();
    let log = h.log("counter");
    let counter = h.start::<CounterService>(log.clone()).await;
    const RACES: u128 = 16;
    for race in 0..RACES {
        let customer = uuid::Uuid::from_u128(0xcc00 + race);
        h.send(
            "csp.cmd.counter.open_counter",
            format!(
                r#"{{"request_id":"o{race}","customer":"{customer}","limit":5,"expires_in_hours":48}}"#
            ),
        )
        .await;
        let mut racers = tokio::task::JoinSet::new();
        for i in 0..48 {
            let bus = h.bus.clone();
            let token = h.token.clone();
            racers.spawn(async move {
                let r = bus
                    .request(
                        "csp.cmd.counter.increment",
                        Headers::new().with("Authorization", format!("Bearer {token}")),
                        Bytes::from(format!(
                            r#"{{"request_id":"r{race}-{i}","customer":"{customer}","by":1}}"#
                        )),
                        Duration::from_secs(10),
                    )
                    .await
                    .unwrap();
                serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap()
            });
        }
        let answers = racers.join_all().await;
        let ok = answers.iter().filter(|a| a["ok"] == true).count();
        let refused = answers
            .iter()
            .filter(|a| a["error"]["code"] == "invalid_state")
            .count();
        assert_eq!((ok, refused), (5, 43), "race {race}");
    }
    let increments = events(&log)
        .iter()
        .filter(|e| matches!(e.payload, Event::CounterIncremented(_)))
        .count();
    assert_eq!(increments, 5 * RACES as usize);
    counter.shutdown().await;
}
