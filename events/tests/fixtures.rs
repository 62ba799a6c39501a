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
/// the file of a new kind): today's build still decodes each to the same event. This is what
/// makes "a released shape never changes" a checked rule rather than a hope, and what lets a
/// consumer fold a known kind whatever schema its writer knew.
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
            fixtures::sample(*kind).payload,
            "{}: the shape changed since it was released; make it a new variant",
            path.display()
        );
    }
}
