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

/// Records written by schema 4 (the golden files before schema 5 appended two counter events),
/// kept as they were: a consumer or a replay at a later schema still reads every one of them.
#[test]
fn every_schema_4_record_still_decodes_to_its_sample() {
    let dir = fixtures::dir().join("schema4");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let kind = EventKind::from_name(&stem)
            .unwrap_or_else(|| panic!("{} names no event kind", path.display()));
        let decoded = codec::decode(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        assert_eq!(decoded.schema_version, 4, "{}", path.display());
        assert_eq!(
            decoded.payload,
            fixtures::sample(kind).payload,
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 19, "the 19 kinds schema 4 knew");
}
