//! RULES.md K1, K2, K4, K6, K8 and K9 on the pure domain: ordering's events in, entitlements,
//! selections, pool draws and migration plans out. Sealed keys are opaque here (the shell seals
//! them), so fake ciphertext stands in.

use std::sync::{Arc, OnceLock};

use csp_catalog::Catalog;
use csp_entitlement::domain::keys::{self, KeyType};
use csp_entitlement::domain::migration::{self, DeviceState};
use csp_entitlement::state::{react, Batch};
use csp_entitlement::State;
use csp_events::entitlement::{
    DeviceActivation, EndReason, EntitlementStatus, LinkUse, PoolRef, SealedKey, Selection,
};
use csp_events::fixtures::sample;
use csp_events::market::{ProductId, SkuId};
use csp_events::ordering::{SubscriptionCancelled, SubscriptionStarted};
use csp_events::{
    DataKeyId, EntitlementId, Envelope, ErrorCode, Event, EventKind, ImportId, KeyId,
    SubscriptionId, TenantId, Timestamp,
};
use uuid::Uuid;

fn catalog() -> Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(|| Arc::new(Catalog::load(csp_catalog::sample_dir()).unwrap()))
        .clone()
}

fn at(d: u32) -> Timestamp {
    Timestamp::ymd_hms(2026, 11, d, 9, 0, 0).unwrap()
}

fn env(event: impl Into<Event>) -> Envelope {
    let mut e = sample(EventKind::AccessRefused);
    e.payload = event.into();
    e
}

/// A subscription to `product`/`sku` started: ordering's event, as entitlement consumes it.
fn started(n: u128, product: &str, sku: &str, license_only: bool) -> SubscriptionStarted {
    let Event::SubscriptionStarted(mut s) = sample(EventKind::SubscriptionStarted).payload else {
        unreachable!()
    };
    s.subscription = SubscriptionId(Uuid::from_u128(n));
    s.product = ProductId::new(product).unwrap();
    s.sku = SkuId::new(sku).unwrap();
    s.license_only = license_only;
    s
}

/// Reacts to `upstream` and records the reactions, as the runtime does.
fn consume(state: &mut State, upstream: impl Into<Event>) -> Vec<Event> {
    let upstream = upstream.into();
    let emits = react(&Batch::new(state), &catalog(), &upstream);
    state.apply(&env(upstream));
    let events: Vec<Event> = emits.into_iter().map(|e| e.event).collect();
    for e in &events {
        state.apply(&env(e.clone()));
    }
    events
}

fn record(state: &mut State, events: &[Event]) {
    for e in events {
        state.apply(&env(e.clone()));
    }
}

fn sql(n: u128) -> SubscriptionStarted {
    started(n, "sql-server-2022-standard", "2-core-p1y", false)
}

fn ent(state: &State, n: u128) -> &csp_entitlement::domain::entitlement::Ent {
    &state.entitlements[&EntitlementId(Uuid::from_u128(n))]
}

fn selection(version: &str, language: Option<&str>, file: Option<&str>) -> Selection {
    Selection {
        version: version.into(),
        language: language.map(str::to_string),
        file_type: file.map(str::to_string),
    }
}

fn sql_selection() -> Selection {
    selection("SQL Server 2022", Some("English"), Some("ISO (x64)"))
}

fn sql_pool() -> PoolRef {
    PoolRef {
        product: ProductId::new("sql-server-2022-standard").unwrap(),
        sku: SkuId::new("2-core-p1y").unwrap(),
        version: "SQL Server 2022".into(),
    }
}

/// `n` opaque sealed keys, as the shell would seal them.
fn sealed(first: u128, n: u128) -> Vec<SealedKey> {
    (first..first + n)
        .map(|i| SealedKey {
            key: KeyId(Uuid::from_u128(0x1000 + i)),
            data_key: DataKeyId(Uuid::from_u128(0x2000 + i)),
            fingerprint: [i as u8; 32],
            nonce: [0; 24],
            ciphertext: vec![i as u8; 45],
        })
        .collect()
}

fn fill(state: &mut State, keys: Vec<SealedKey>, chunk: u32) {
    let lines: Vec<usize> = (2..2 + keys.len()).collect();
    let events = state
        .pools
        .fill(
            &sql_pool(),
            ImportId(Uuid::from_u128(7)),
            chunk,
            keys,
            &lines,
        )
        .unwrap();
    record(state, &events);
}

/// Proves rule K1.
#[test]
fn k1_every_purchased_item_gets_an_entitlement_and_license_only_products_have_no_keys_or_downloads()
{
    let mut state = State::default();
    consume(&mut state, sql(1));
    consume(
        &mut state,
        started(2, "rhel-software-plan", "1-4-vcpu-p1y", true),
    );
    let Event::PerpetualPurchased(mut p) = sample(EventKind::PerpetualPurchased).payload else {
        unreachable!()
    };
    p.product = ProductId::new("sql-server-2022-standard-perpetual").unwrap();
    p.sku = SkuId::new("2-core").unwrap();
    consume(&mut state, p.clone());

    assert_eq!(state.entitlements.len(), 3, "one per purchased item");
    let bought = ent(&state, 1);
    assert_eq!(bought.granted.downloads.versions, vec!["SQL Server 2022"]);
    assert_eq!(bought.status(), EntitlementStatus::Active);
    let perpetual = &state.entitlements[&EntitlementId(p.purchase.as_uuid())];
    assert!(
        !perpetual.granted.downloads.is_empty(),
        "perpetual software has downloads too"
    );

    let rhel = ent(&state, 2);
    assert!(rhel.granted.license_only);
    assert!(rhel.granted.downloads.is_empty(), "no downloads");
    let refused = keys::generate(rhel, &state.pools, &selection("any", None, None), 0)
        .expect_err("no keys for a license");
    assert_eq!(refused.code, ErrorCode::InvalidOption);
    let refused = keys::issue_link(
        rhel,
        &selection("any", None, None),
        LinkUse::Download,
        at(3),
    )
    .expect_err("no downloads for a license");
    assert_eq!(refused.code, ErrorCode::InvalidOption);

    // Consuming the same purchase again grants nothing new.
    let again = consume(&mut state, sql(1));
    assert_eq!(state.entitlements.len(), 3);
    assert_eq!(
        state.by_customer.values().map(Vec::len).sum::<usize>(),
        3,
        "{again:?}"
    );
}

/// Proves rule K2.
#[test]
fn k2_selections_come_from_the_products_options_hidden_kinds_take_none_others_are_invalid_option() {
    let mut state = State::default();
    consume(&mut state, sql(1));
    consume(
        &mut state,
        started(2, "esu-windows-server-2012", "16-core-p1y", false),
    );
    fill(&mut state, sealed(0, 5), 0);
    let bought = ent(&state, 1).clone();
    let ok = keys::generate(&bought, &state.pools, &sql_selection(), 0);
    assert!(ok.is_ok(), "{ok:?}");

    for (bad, option) in [
        (
            selection("SQL Server 2019", Some("English"), Some("ISO (x64)")),
            "version",
        ),
        (
            selection("SQL Server 2022", Some("Klingon"), Some("ISO (x64)")),
            "language",
        ),
        (
            selection("SQL Server 2022", None, Some("ISO (x64)")),
            "language",
        ),
        (
            selection("SQL Server 2022", Some("English"), Some("VHD")),
            "file_type",
        ),
        (
            selection("SQL Server 2022", Some("English"), None),
            "file_type",
        ),
    ] {
        let r = keys::generate(&bought, &state.pools, &bad, 0).expect_err("not offered");
        assert_eq!(r.code, ErrorCode::InvalidOption, "{bad:?}");
        assert_eq!(r.details["option"], option, "{bad:?}: {:?}", r.details);
        assert!(
            r.details["offered"].is_array(),
            "the answer lists the options that exist"
        );
    }

    // The ESU offers versions only: language and file type are hidden selectors, and giving
    // one is invalid_option.
    let esu = ent(&state, 2).clone();
    assert!(esu.granted.downloads.languages.is_empty());
    assert!(esu.granted.downloads.file_types.is_empty());
    let hidden = selection("Windows Server 2012", Some("English"), None);
    let r = keys::issue_link(&esu, &hidden, LinkUse::Download, at(3)).expect_err("hidden");
    assert_eq!(r.code, ErrorCode::InvalidOption);
    assert_eq!(r.details["option"], "language");
    let fine = selection("Windows Server 2012 R2", None, None);
    assert!(keys::issue_link(&esu, &fine, LinkUse::Copy, at(3)).is_ok());
}

/// Proves rule K4.
#[test]
fn k4_one_mak_per_entitlement_and_version_the_same_on_every_call_and_kms_is_never_allowed() {
    let mut state = State::default();
    consume(&mut state, sql(1));
    consume(&mut state, sql(2));
    fill(&mut state, sealed(0, 3), 0);

    let first = keys::generate(ent(&state, 1), &state.pools, &sql_selection(), 0).unwrap();
    assert_eq!(first.events.len(), 2, "keys_generated and key_assigned");
    record(&mut state, &first.events);
    assert_eq!(state.pools.remaining(&sql_pool()), 2);
    // Asking again — even with another language — never drains the pool.
    for language in ["English", "German", "French"] {
        let s = selection("SQL Server 2022", Some(language), Some("ISO (x64)"));
        let again = keys::generate(ent(&state, 1), &state.pools, &s, 0).unwrap();
        assert_eq!(again.key, first.key, "the same MAK");
        assert!(again.events.is_empty(), "nothing recorded");
    }
    assert_eq!(state.pools.remaining(&sql_pool()), 2);
    // Another entitlement gets another key.
    let other = keys::generate(ent(&state, 2), &state.pools, &sql_selection(), 0).unwrap();
    assert_ne!(other.key, first.key);

    // KMS: refused before anything is looked up, however often.
    for _ in 0..3 {
        let r = keys::refuse_kms(KeyType::Kms).expect_err("MAK only");
        assert_eq!(r.code, ErrorCode::KmsNotAllowed);
    }
    assert!(keys::refuse_kms(KeyType::Mak).is_ok());
}

/// Proves rule K4.
#[test]
fn k4_an_empty_pool_is_key_pool_empty_recording_nothing_and_the_low_water_mark_is_recorded_once() {
    let mut state = State::default();
    for n in 1..=4 {
        consume(&mut state, sql(n));
    }
    let empty = keys::generate(ent(&state, 1), &state.pools, &sql_selection(), 2).unwrap_err();
    assert_eq!(empty.code, ErrorCode::KeyPoolEmpty);

    fill(&mut state, sealed(0, 3), 0);
    let mut lows = 0;
    for n in 1..=3 {
        let g = keys::generate(ent(&state, n), &state.pools, &sql_selection(), 2).unwrap();
        lows += g
            .events
            .iter()
            .filter(|e| matches!(e, Event::KeyPoolLow(_)))
            .count();
        record(&mut state, &g.events);
    }
    assert_eq!(lows, 1, "below the mark once: recorded once");
    let r = keys::generate(ent(&state, 4), &state.pools, &sql_selection(), 2).unwrap_err();
    assert_eq!(r.code, ErrorCode::KeyPoolEmpty);
}

/// Proves rule K4.
#[test]
fn k4_a_key_csp_already_holds_is_refused_and_the_whole_chunk_with_it() {
    let mut state = State::default();
    fill(&mut state, sealed(0, 3), 0);
    let mut again = sealed(10, 3);
    again[1].fingerprint = sealed(1, 1)[0].fingerprint;
    let lines = [2, 3, 4];
    let r = state
        .pools
        .fill(&sql_pool(), ImportId(Uuid::from_u128(8)), 0, again, &lines)
        .unwrap_err();
    assert_eq!(r.code, ErrorCode::AlreadyExists);
    assert_eq!(r.details["line"], 3, "names the line");
    assert_eq!(state.pools.remaining(&sql_pool()), 3, "nothing imported");
    // A chunk already recorded records nothing again.
    let same = state
        .pools
        .fill(
            &sql_pool(),
            ImportId(Uuid::from_u128(7)),
            0,
            sealed(20, 1),
            &[2],
        )
        .unwrap();
    assert!(same.is_empty());
}

/// Proves rule K6.
#[test]
fn k6_products_with_installation_instructions_carry_them_with_their_keys_and_downloads() {
    let mut state = State::default();
    consume(
        &mut state,
        started(2, "esu-windows-server-2012", "16-core-p1y", false),
    );
    consume(&mut state, sql(1));
    let esu = ent(&state, 2);
    assert!(esu
        .granted
        .instructions
        .as_deref()
        .is_some_and(|l| l.starts_with("https://")));
    assert_eq!(ent(&state, 1).granted.instructions, None);
}

/// Proves rule K8.
#[test]
fn k8_a_cancellation_revokes_keys_and_links_and_the_item_stays_listed_and_an_expiry_ends_it_too() {
    let mut state = State::default();
    consume(&mut state, sql(1));
    consume(&mut state, sql(2));
    fill(&mut state, sealed(0, 3), 0);
    let g = keys::generate(ent(&state, 1), &state.pools, &sql_selection(), 0).unwrap();
    record(&mut state, &g.events);
    assert!(keys::show_key(ent(&state, 1), &state.pools, "SQL Server 2022").is_ok());

    let Event::SubscriptionCancelled(mut c) = sample(EventKind::SubscriptionCancelled).payload
    else {
        unreachable!()
    };
    c.subscription = SubscriptionId(Uuid::from_u128(1));
    let ended = consume(&mut state, c.clone());
    let Some(Event::EntitlementEnded(end)) = ended.first() else {
        panic!("{ended:?}")
    };
    assert_eq!(end.reason, EndReason::Cancelled);
    assert_eq!(end.keys, vec![g.key], "its keys, to shred");
    assert_eq!(end.data_keys.len(), 1);

    let e = ent(&state, 1);
    assert_eq!(e.status(), EntitlementStatus::Revoked, "still listed");
    assert!(!e.key_available(), "no key");
    assert_eq!(state.by_customer.values().map(Vec::len).sum::<usize>(), 2);
    let r = keys::show_key(e, &state.pools, "SQL Server 2022").unwrap_err();
    assert_eq!(r.code, ErrorCode::EntitlementRevoked);
    let r = keys::issue_link(e, &sql_selection(), LinkUse::Copy, at(4)).unwrap_err();
    assert_eq!(r.code, ErrorCode::EntitlementRevoked);
    let r = keys::generate(e, &state.pools, &sql_selection(), 0).unwrap_err();
    assert_eq!(r.code, ErrorCode::EntitlementRevoked);
    assert!(
        !state.pools.sealed.contains_key(&g.key),
        "the ciphertext is dropped"
    );
    assert_eq!(
        state.pools.remaining(&sql_pool()),
        2,
        "a revoked key never returns"
    );
    assert!(consume(&mut state, c).is_empty(), "revoked once");

    let Event::SubscriptionExpired(mut x) = sample(EventKind::SubscriptionExpired).payload else {
        unreachable!()
    };
    x.subscription = SubscriptionId(Uuid::from_u128(2));
    consume(&mut state, x);
    let e = ent(&state, 2);
    assert_eq!(e.status(), EntitlementStatus::Expired);
    let r = keys::issue_link(e, &sql_selection(), LinkUse::Download, at(5)).unwrap_err();
    assert_eq!(r.code, ErrorCode::EntitlementExpired);
}

/// Proves rule K8.
#[test]
fn k8_a_purchase_and_its_cancellation_in_one_batch_end_the_entitlement_just_granted() {
    let state = State::default();
    let start = sql(1);
    let cancel = SubscriptionCancelled {
        subscription: start.subscription,
        order: start.order,
        customer: start.customer,
        partner: start.partner,
        term_number: 1,
        term_start: start.term_start,
        term_end: start.term_end,
        term_price: start.term_price,
        billing_plan: start.billing_plan,
        cancelled_at: at(3),
    };
    let mut batch = Batch::new(&state);
    let mut names = Vec::new();
    for upstream in [Event::from(start), Event::from(cancel)] {
        for emit in react(&batch, &catalog(), &upstream) {
            names.push(emit.event.name());
            csp_bus::Scratch::fold_own(&mut batch, &emit);
        }
    }
    assert_eq!(names, vec!["entitlement_granted", "entitlement_ended"]);
}

/// Proves rule K8.
#[test]
fn k8_a_renewal_keeps_keys_and_links() {
    let mut state = State::default();
    consume(&mut state, sql(1));
    let Event::SubscriptionRenewed(mut r) = sample(EventKind::SubscriptionRenewed).payload else {
        unreachable!()
    };
    r.subscription = SubscriptionId(Uuid::from_u128(1));
    assert!(consume(&mut state, r).is_empty(), "nothing to record");
    assert_eq!(ent(&state, 1).status(), EntitlementStatus::Active);
}

/// Proves rule K9.
#[test]
fn k9_each_device_has_a_deadline_180_days_after_its_last_kms_activation_and_a_state_at_the_time_asked(
) {
    let customer = TenantId(Uuid::from_u128(0xc1));
    let day = |d: i64| Timestamp::from_micros(at(1).as_micros() + d * 86_400_000_000);
    let devices = vec![
        (
            2,
            DeviceActivation {
                device: "fresh".into(),
                last_kms_activation: day(0),
            },
        ),
        (
            3,
            DeviceActivation {
                device: "soon".into(),
                last_kms_activation: day(-150),
            },
        ),
        (
            4,
            DeviceActivation {
                device: "edge".into(),
                last_kms_activation: day(-180),
            },
        ),
        (
            5,
            DeviceActivation {
                device: "late".into(),
                last_kms_activation: day(-200),
            },
        ),
    ];
    let events =
        migration::import(customer, ImportId(Uuid::from_u128(1)), devices, day(0)).unwrap();
    let mut state = State::default();
    record(&mut state, &events);
    let plan = &state.plans[&customer];
    let now = day(0);
    let state_of = |d: &str| plan.devices[d].state(now);
    assert_eq!(plan.devices["fresh"].deadline(), day(180));
    assert_eq!(state_of("fresh"), DeviceState::Ok);
    assert_eq!(
        state_of("soon"),
        DeviceState::DueSoon,
        "30 days left is due soon"
    );
    assert_eq!(
        plan.devices["soon"].state(day(-1)),
        DeviceState::Ok,
        "31 days left"
    );
    assert_eq!(state_of("edge"), DeviceState::Overdue, "at the deadline");
    assert_eq!(state_of("late"), DeviceState::Overdue);

    // A MAK deployment completes a device; recording it again records nothing.
    let deployed = migration::deploy(plan, customer, "late", now).unwrap();
    record(&mut state, &deployed);
    let plan = &state.plans[&customer];
    assert_eq!(plan.devices["late"].state(now), DeviceState::Completed);
    assert!(migration::deploy(plan, customer, "late", now)
        .unwrap()
        .is_empty());
    let r = migration::deploy(plan, customer, "nowhere", now).unwrap_err();
    assert_eq!(r.code, ErrorCode::NotFound);
}

/// Proves rule K9.
#[test]
fn k9_a_device_list_with_a_bad_line_is_refused_whole_naming_the_line() {
    let customer = TenantId(Uuid::from_u128(0xc1));
    let d = |name: &str, t: Timestamp| DeviceActivation {
        device: name.into(),
        last_kms_activation: t,
    };
    let twice = vec![(2, d("a", at(1))), (3, d("b", at(1))), (4, d("a", at(2)))];
    let r = migration::import(customer, ImportId(Uuid::nil()), twice, at(5)).unwrap_err();
    assert_eq!(r.code, ErrorCode::InvalidRequest);
    assert_eq!(r.details["line"], 4);
    let future = vec![(2, d("a", at(9)))];
    let r = migration::import(customer, ImportId(Uuid::nil()), future, at(5)).unwrap_err();
    assert_eq!(r.details["line"], 2);
}
