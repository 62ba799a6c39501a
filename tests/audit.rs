//! Tampering with a copy of the audit service's sled database, through sled itself, and
//! `csp audit verify` naming what changed (RULES.md A1): one byte of one leaf, a leaf
//! removed, two leaves swapped, a leaf changed with every stored hash rewritten to match, and
//! the whole log rewritten consistently after a checkpoint was taken (caught by the checkpoint
//! kept outside). The log is the one `csp demo` leaves: four services' real events.

use std::path::{Path, PathBuf};
use std::process::Command;

use csp_audit::checkpoint::{note, TreeHead};
use csp_audit::merkle::{leaf_hash, Tree};
use csp_eventlog::value::{encode_event, PageBuilder};
use csp_eventlog::{EventLog, LogOptions};
use csp_events::{codec, Event};
use csp_testkit::e2e::csp_binary;
use serde_json::Value;

/// One stored event, as the log holds it.
#[derive(Clone)]
struct Rec {
    id: [u8; 16],
    stream: String,
    version: u64,
    outbox: Option<u64>,
    bytes: Vec<u8>,
}

fn csp(args: &[&str]) -> std::process::Output {
    Command::new(csp_binary())
        .args(args)
        .output()
        .expect("run csp")
}

fn read(dir: &Path) -> Vec<Rec> {
    let log = EventLog::open(dir, LogOptions::default()).unwrap();
    let recs = log
        .read_from(1)
        .map(|r| {
            let r = r.unwrap();
            Rec {
                id: *r.event_id.as_bytes(),
                stream: r.stream().to_string(),
                version: r.version,
                outbox: r.outbox_seq,
                bytes: r.bytes().to_vec(),
            }
        })
        .collect();
    drop(log);
    recs
}

/// Replaces the log's events, through sled, with `recs` numbered from 1 (a careful forger
/// leaves no gap).
fn write(dir: &Path, recs: &[Rec]) {
    let db = sled::open(dir).unwrap();
    let events = db.open_tree("events").unwrap();
    events.clear().unwrap();
    let mut pages = PageBuilder::default();
    for (i, r) in recs.iter().enumerate() {
        let mut value = Vec::new();
        encode_event(&mut value, &r.id, &r.stream, r.version, r.outbox, &r.bytes);
        pages.push(i as u64 + 1, &value);
    }
    pages.close();
    for (seq, page) in pages.finish() {
        events.insert(seq.to_be_bytes(), page).unwrap();
    }
    db.flush().unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

struct Installation {
    _root: tempfile_dir::Dir,
    data: PathBuf,
    public_key: String,
}

mod tempfile_dir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn demo() -> Installation {
    let root = std::env::temp_dir().join(format!("csp-audit-tamper-{}", uuid::Uuid::now_v7()));
    let data = root.join("data");
    let out = csp(&["demo", "--data", data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = csp(&["audit", "public-key", "--data", data.to_str().unwrap()]);
    assert!(key.status.success());
    Installation {
        _root: tempfile_dir::Dir(root),
        data,
        public_key: String::from_utf8(key.stdout).unwrap().trim().to_string(),
    }
}

impl Installation {
    /// A copy of the installation's data to tamper with.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.data.with_file_name(name);
        copy_dir(&self.data, &to);
        to
    }

    /// `csp audit verify --json` on `data` (its producers' logs beside), the key pinned.
    fn verify(&self, data: &Path, extra: &[&str]) -> (bool, Value) {
        let mut args = vec![
            "audit",
            "verify",
            "--json",
            "--data",
            data.to_str().unwrap(),
            "--public-key",
            &self.public_key,
        ];
        args.extend_from_slice(extra);
        let out = csp(&args);
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), report)
    }
}

fn audit_log(data: &Path) -> PathBuf {
    data.join("audit").join("log")
}

/// The index of an upstream copy from ordering well inside the first checkpoint.
fn an_ordering_leaf(recs: &[Rec]) -> usize {
    recs.iter()
        .enumerate()
        .position(|(i, r)| i >= 4 && r.stream == "inbox/ordering")
        .unwrap()
}

fn is_checkpoint(r: &Rec) -> bool {
    matches!(
        codec::decode(&r.bytes).map(|e| e.payload),
        Ok(Event::CheckpointSigned(_))
    )
}

#[test]
fn rule_a1_verify_names_each_tampered_leaf_and_a_kept_checkpoint_catches_a_whole_rewrite() {
    let inst = demo();
    let (ok, clean) = inst.verify(&inst.data, &[]);
    assert!(ok, "{clean}");
    let leaves = clean["leaves"].as_u64().unwrap();
    assert!(leaves > 40, "{clean}");
    let original = read(&audit_log(&inst.data));
    let i = an_ordering_leaf(&original);

    // One byte of one leaf.
    let data = inst.copy("changed");
    let mut recs = original.clone();
    let last = recs[i].bytes.len() - 1;
    recs[i].bytes[last] ^= 0x01;
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");

    // One leaf removed (the rest renumbered, leaving no gap).
    let data = inst.copy("removed");
    let mut recs = original.clone();
    recs.remove(i);
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");

    // Two leaves swapped.
    let data = inst.copy("swapped");
    let mut recs = original.clone();
    recs.swap(i, i + 3);
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");

    // A leaf changed and every stored hash rewritten to match: the leaf hash and root in each
    // checkpoint that covers it. Only the signature cannot be redone. The producer's own log
    // names the leaf; the signed root says the range was rewritten.
    let data = inst.copy("rehashed");
    let mut recs = original.clone();
    let last = recs[i].bytes.len() - 1;
    recs[i].bytes[last] ^= 0x01;
    let mut tree = Tree::new();
    for r in recs.iter_mut() {
        if let Ok(mut env) = codec::decode(&r.bytes) {
            if let Event::CheckpointSigned(c) = &mut env.payload {
                let first = c.size - c.leaf_hashes.len() as u64;
                for (k, h) in c.leaf_hashes.iter_mut().enumerate() {
                    *h = tree.leaf(first + k as u64).unwrap();
                }
                c.root = tree.root_at(c.size).unwrap();
                r.bytes = codec::encode(&env);
            }
        }
        tree.push(&r.bytes);
    }
    write(&audit_log(&data), &recs);
    let (ok, report) = inst.verify(&data, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_index"], i as u64, "{report}");
    let findings = report["findings"].to_string();
    assert!(
        findings.contains("not signed by the pinned key"),
        "{findings}"
    );
    // Without the producers' logs beside it, the broken signature still fails it.
    let (ok, report) = inst.verify(
        Path::new("/nonexistent"),
        &["--log", audit_log(&data).to_str().unwrap()],
    );
    assert!(!ok, "{report}");

    // The whole log rewritten consistently after a checkpoint was taken: a leaf changed and
    // every checkpoint dropped (none can be re-signed). Alone it looks whole; the checkpoint
    // an auditor kept does not extend to it.
    let kept_head = original
        .iter()
        .rev()
        .find_map(|r| match codec::decode(&r.bytes).ok()?.payload {
            Event::CheckpointSigned(c) => Some(c),
            _ => None,
        })
        .unwrap();
    let kept = note(
        &TreeHead {
            origin: kept_head.origin.clone(),
            size: kept_head.size,
            root: kept_head.root,
            time: kept_head.time.to_string(),
        },
        &kept_head.origin,
        &kept_head.signature,
    );
    let kept_file = inst.data.with_file_name("kept-checkpoint.txt");
    std::fs::write(&kept_file, &kept).unwrap();
    let kept_arg = ["--checkpoint", kept_file.to_str().unwrap()];
    let (ok, report) = inst.verify(&inst.data, &kept_arg);
    assert!(ok, "{report}");
    assert_eq!(report["consistent_with_checkpoint"], true);

    let data = inst.copy("rewritten");
    let mut recs: Vec<Rec> = original
        .iter()
        .filter(|r| !is_checkpoint(r))
        .cloned()
        .collect();
    let last = recs[i].bytes.len() - 1;
    recs[i].bytes[last] ^= 0x01;
    write(&audit_log(&data), &recs);
    let log = audit_log(&data);
    let alone = ["--log", log.to_str().unwrap()];
    let (ok, report) = inst.verify(Path::new("/nonexistent"), &alone);
    assert!(
        ok,
        "nothing in the rewritten log itself betrays it: {report}"
    );
    let mut with_kept = alone.to_vec();
    with_kept.extend_from_slice(&kept_arg);
    let (ok, report) = inst.verify(Path::new("/nonexistent"), &with_kept);
    assert!(!ok);
    assert_eq!(report["consistent_with_checkpoint"], false, "{report}");

    // The leaf hashes agree with RFC 6962's, recomputed here from the stored bytes.
    let mut tree = Tree::new();
    for r in &original {
        tree.push(&r.bytes);
    }
    assert_eq!(tree.leaf(0), Some(leaf_hash(&original[0].bytes)));
    assert_eq!(
        clean["root"].as_str().unwrap(),
        base64_of(&tree.root()),
        "csp's root is the one recomputed independently"
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
