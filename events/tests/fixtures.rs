//! The golden fixtures: every event kind's record as written by this schema, decoded forever.
//! Regenerate deliberately with `cargo xtask fixtures`; this test never writes them.

use csp_events::{codec, fixtures, EventKind};

#[test]
fn every_event_kind_has_a_golden_file_that_decodes_to_its_sample() {
    let mut missing = Vec::new();
    for kind in EventKind::ALL {
        let path = fixtures::path(*kind);
        let Ok(bytes) = std::fs::read(&path) else {
            missing.push(path.display().to_string());
            continue;
        };
        let decoded = codec::decode(&bytes)
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        assert_eq!(decoded, fixtures::sample(*kind), "{}", path.display());
        assert_eq!(
            codec::encode(&decoded),
            bytes,
            "{}: re-encoding changed the bytes: the shape changed; see CHANGELOG.md",
            path.display()
        );
    }
    assert!(
        missing.is_empty(),
        "no golden file for {missing:?}: run `cargo xtask fixtures` and commit the files"
    );
}

#[test]
fn no_golden_file_is_left_without_an_event_kind() {
    for entry in std::fs::read_dir(fixtures::dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                EventKind::from_name(&stem).is_some(),
                "{} names no event kind",
                path.display()
            );
        }
    }
}

#[test]
fn the_frozen_schema_1_record_is_upcast() {
    let bytes = std::fs::read(fixtures::schema1_path()).expect("the frozen schema-1 fixture");
    assert_eq!(
        bytes,
        fixtures::schema1_record(),
        "frozen history must not change"
    );
    let env = codec::decode(&bytes).unwrap();
    assert_eq!(env.schema_version, 1);
    let mut expected = fixtures::sample(EventKind::Quarantined);
    expected.schema_version = 1;
    assert_eq!(env, expected, "schema 1 upcasts to today's sample");
}

/// Every kind's record as first released, never rewritten (`cargo xtask fixtures` only adds
/// the file of a new kind, or of a kind's new shape): today's build still decodes each to the
/// same event, upcast where a later schema added a field. This is what makes "a released shape
/// never changes unnoticed" a checked rule rather than a hope, and what lets a consumer fold a
/// known kind whatever schema its writer knew.
#[test]
fn every_kind_as_first_released_still_decodes_to_its_sample() {
    for kind in EventKind::ALL {
        let path = fixtures::frozen_path(*kind);
        let bytes = std::fs::read(&path).unwrap_or_else(|_| {
            panic!(
                "no frozen record of {}: run `cargo xtask fixtures` and commit it",
                kind.name()
            )
        });
        let decoded = codec::decode(&bytes)
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        assert_eq!(
            decoded.payload,
            fixtures::as_released(*kind, decoded.schema_version),
            "{}: the shape changed since it was released, without an upcast",
            path.display()
        );
    }
}

/// Every new shape a schema gave a kind is frozen too, and decodes to today's sample.
#[test]
fn every_reshaped_kind_has_its_new_shape_frozen() {
    for (schema, kind) in fixtures::RESHAPED {
        let path = fixtures::reshaped_path(*schema, *kind);
        let bytes = std::fs::read(&path).unwrap_or_else(|_| {
            panic!(
                "no frozen schema-{schema} record of {}: run `cargo xtask fixtures` and commit it",
                kind.name()
            )
        });
        let decoded = codec::decode(&bytes)
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        assert_eq!(decoded.schema_version, *schema, "{}", path.display());
        assert_eq!(
            decoded.payload,
            fixtures::as_released(*kind, *schema),
            "{}",
            path.display()
        );
    }
}

/// A schema-5 record of every kind — what the logs and streams written before schema 6 hold —
/// reads as today's sample, the selling partner taken from the envelope.
#[test]
fn every_schema_5_record_is_upcast_with_its_selling_partner() {
    let mut checked = 0;
    for kind in EventKind::ALL {
        let Some(record) = fixtures::schema5_record(*kind) else {
            continue;
        };
        checked += 1;
        let decoded = codec::decode(&record).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        assert_eq!(decoded.schema_version, 5);
        assert_eq!(
            decoded.payload,
            fixtures::as_released(*kind, 5),
            "{}",
            kind.name()
        );
    }
    assert_eq!(checked, 21, "every kind schema 5 had");
    // Without a partner in the envelope a schema-5 purchase event cannot say who sold it: it
    // is malformed, never guessed.
    let mut env = fixtures::sample(EventKind::SubscriptionExpired);
    env.partner = None;
    let old = codec::v5::encode(
        &env,
        &codec::v5::Event::SubscriptionExpired(codec::v5::SubscriptionExpired {
            subscription: csp_events::SubscriptionId(uuid::Uuid::nil()),
            customer: env.customer.unwrap(),
            expired_at: env.effective_at,
        }),
    );
    assert!(matches!(
        codec::decode(&old),
        Err(codec::DecodeError::Malformed(_))
    ));
}
