//! The counter and its watcher, whole, in memory: a command, a query, a due transition and a
//! batch of reactions, through the services' own tables and the runtime's recording and
//! batch decision (`csp_bus::Harness`), with replay checked against the live state.

use csp_bus::runtime::digest;
use csp_bus::Harness;
use csp_counter::{CounterService, CounterWatcher};
use csp_events::{Actor, ActorKind, ErrorCode, Role, TenantId, Timestamp};
use serde_json::json;
use uuid::Uuid;

const CUSTOMER: &str = "0190d7a1-0000-7000-8000-00000000cc01";

fn agent() -> Actor {
    Actor {
        kind: ActorKind::Partner,
        tenant: TenantId(Uuid::from_u128(0xaa01)),
        user: "agent".into(),
        roles: vec![Role::AdminAgent],
    }
}

fn hours(t: Timestamp, h: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() + h * 3_600_000_000)
}

#[test]
fn a_service_runs_whole_in_memory_as_the_runtime_runs_it() {
    let t0 = Timestamp::ymd_hms(2027, 3, 10, 9, 0, 0).unwrap();
    let mut counter = Harness::<CounterService>::new(());
    let open = json!({"request_id": "o", "customer": CUSTOMER, "limit": 5, "expires_in_hours": 1});
    counter
        .command(agent(), t0, "open_counter", &open)
        .expect("opens");
    let inc = json!({"request_id": "i", "customer": CUSTOMER, "by": 2});
    let reply = counter
        .command(agent(), t0, "increment", &inc)
        .expect("increments");
    assert_eq!(reply["total"], 2);
    // Through the service's own table: strict decoding, and the decider's rules.
    let array = counter
        .command(agent(), t0, "increment", &json!(["i", CUSTOMER, 2]))
        .unwrap_err();
    assert_eq!(array.code, ErrorCode::InvalidRequest);
    let too_many = json!({"request_id": "j", "customer": CUSTOMER, "by": 9});
    assert!(counter
        .command(agent(), t0, "increment", &too_many)
        .is_err());
    let view = counter
        .query(agent(), t0, "get_counter", &json!({"customer": CUSTOMER}))
        .expect("reads");
    assert_eq!(view["total"], 2);

    // The scheduler, two hours on: the expiry at its own time.
    let expired = counter.tick(hours(t0, 2));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].payload.name(), "counter_expired");
    assert_eq!(expired[0].effective_at, hours(t0, 1));
    assert!(counter.tick(hours(t0, 3)).is_empty(), "recorded once");
    assert_eq!(digest(counter.state()), digest(&counter.replay()));

    // Its events, delivered to the watcher as one catch-up batch.
    let mut watcher = Harness::<CounterWatcher>::new(());
    let recorded = watcher.deliver("counter", &counter.events(), hours(t0, 3));
    let kinds: Vec<&str> = recorded.iter().map(|e| e.payload.name()).collect();
    assert_eq!(
        kinds,
        [
            "counter_opened",
            "counter_watched",
            "counter_incremented",
            "counter_observed",
            "counter_watch_ended",
            "counter_expired",
        ]
    );
    assert_eq!(recorded[4].effective_at, hours(t0, 1));
    assert_eq!(
        recorded[3].effective_at, t0,
        "a reaction at its upstream event's time"
    );
    // Delivered again (a redelivery): nothing new.
    assert!(watcher
        .deliver("counter", &counter.events(), hours(t0, 4))
        .is_empty());
    assert_eq!(digest(watcher.state()), digest(&watcher.replay()));
}
