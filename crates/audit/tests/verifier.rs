//! Signed checkpoints and proofs, checked the way an auditor checks them: by `verify.py`, a
//! verifier that shares no code with csp (Python's hashlib and the `cryptography` package),
//! with the public key given separately. A proof against a forged checkpoint fails, as does a
//! checkpoint edited after signing, one signed by another key, a proof for another record,
//! and a consistency proof between logs that do not extend each other.
//!
//! Needs `python3` with `cryptography` (Debian: python3-cryptography); without them the test
//! fails and says so — it never skips.

use std::path::PathBuf;
use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csp_audit::checkpoint::{verify, CheckpointError, CheckpointKey, TreeHead};
use csp_audit::merkle::{Hash, Tree};
use serde_json::json;

const NAME: &str = "csp-audit/test";

fn tree(n: u64) -> Tree {
    let mut t = Tree::new();
    for i in 0..n {
        t.push(format!("record-{i}").as_bytes());
    }
    t
}

fn head(t: &Tree, size: u64) -> TreeHead {
    TreeHead {
        origin: NAME.into(),
        size,
        root: t.root_at(size).unwrap(),
        time: "2026-12-06T03:00:00Z".into(),
    }
}

fn b64s(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// Runs verify.py on `proof` with `key` pinned; its exit status and what it said.
fn python(kind: &str, key: &CheckpointKey, proof: serde_json::Value) -> (bool, String) {
    let file = std::env::temp_dir().join(format!(
        "csp-audit-proof-{}-{}.json",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::write(&file, proof.to_string()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("verify.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([kind, "--name", NAME, "--public-key"])
        .arg(B64.encode(key.public().as_bytes()))
        .arg(&file)
        .output()
        .expect("python3 is needed to run the independent verifier (Debian: python3, python3-cryptography)");
    let _ = std::fs::remove_file(&file);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("ModuleNotFoundError"),
        "the verifier needs Python's cryptography package (Debian: python3-cryptography): {said}"
    );
    (out.status.success(), said)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn a_checkpoint_verifies_under_its_pinned_key_only() {
    let t = tree(10);
    let key = CheckpointKey::from_seed(NAME, &[7; 32]);
    let text = key.sign(&head(&t, 10));
    assert_eq!(verify(&text, NAME, &key.public()), Ok(head(&t, 10)));
    let other = CheckpointKey::from_seed(NAME, &[8; 32]);
    assert!(matches!(
        verify(&text, NAME, &other.public()),
        Err(CheckpointError::Unsigned(..))
    ));
    let edited = text.replacen("\n10\n", "\n11\n", 1);
    assert!(matches!(
        verify(&edited, NAME, &key.public()),
        Err(CheckpointError::BadSignature(_))
    ));
    // The key's Debug shows its public half, never the seed.
    let shown = format!("{key:?}");
    assert!(shown.contains(&B64.encode(key.public().as_bytes())));
    assert!(!shown.contains(&B64.encode([7u8; 32])));
}

#[test]
fn the_independent_verifier_accepts_true_inclusion_proofs_and_refuses_forged_ones() {
    let t = tree(1000);
    let key = CheckpointKey::from_seed(NAME, &[7; 32]);
    let checkpoint = key.sign(&head(&t, 1000));
    let index = 537u64;
    let path = t.inclusion_proof(index, 1000).unwrap();
    let proof = |checkpoint: &str, index: u64, leaf: &str, path: &[Hash]| json!({"checkpoint": checkpoint, "index": index, "leaf": B64.encode(leaf), "path": b64s(path)});
    let (ok, said) = python(
        "inclusion",
        &key,
        proof(&checkpoint, index, "record-537", &path),
    );
    assert!(ok, "{said}");

    // Another record at that index; the record at another index.
    let (ok, said) = python(
        "inclusion",
        &key,
        proof(&checkpoint, index, "record-538", &path),
    );
    assert!(!ok && said.contains("refused"), "{said}");
    let (ok, _) = python(
        "inclusion",
        &key,
        proof(&checkpoint, 538, "record-537", &path),
    );
    assert!(!ok);
    // A forged checkpoint: a tree with the record changed, signed by a key that is not the
    // pinned one; and the true checkpoint with its root edited after signing.
    let mut forged_tree = Tree::new();
    for i in 0..1000u64 {
        let r = if i == 537 {
            "forged".to_string()
        } else {
            format!("record-{i}")
        };
        forged_tree.push(r.as_bytes());
    }
    let attacker = CheckpointKey::from_seed(NAME, &[9; 32]);
    let forged = attacker.sign(&head(&forged_tree, 1000));
    let forged_path = forged_tree.inclusion_proof(index, 1000).unwrap();
    let (ok, said) = python(
        "inclusion",
        &key,
        proof(&forged, index, "forged", &forged_path),
    );
    assert!(
        !ok && said.contains("not signed by the pinned key"),
        "{said}"
    );
    let root_line = B64.encode(t.root());
    let edited = checkpoint.replacen(&root_line, &B64.encode(forged_tree.root()), 1);
    let (ok, said) = python(
        "inclusion",
        &key,
        proof(&edited, index, "forged", &forged_path),
    );
    assert!(!ok && said.contains("does not verify"), "{said}");
}

#[test]
fn the_independent_verifier_checks_that_the_log_only_grew() {
    let t = tree(1000);
    let key = CheckpointKey::from_seed(NAME, &[7; 32]);
    let old = key.sign(&head(&t, 600));
    let new = key.sign(&head(&t, 1000));
    let proof = t.consistency_proof(600, 1000).unwrap();
    let (ok, said) = python(
        "consistency",
        &key,
        json!({"old": old, "new": new, "proof": b64s(&proof)}),
    );
    assert!(ok, "{said}");

    // A log rewritten after the old checkpoint, even consistently and signed by the real key:
    // it does not extend what the auditor kept.
    let mut rewritten = Tree::new();
    for i in 0..1000u64 {
        let r = if i == 10 {
            "rewritten".to_string()
        } else {
            format!("record-{i}")
        };
        rewritten.push(r.as_bytes());
    }
    let new_rewritten = key.sign(&head(&rewritten, 1000));
    let proof = rewritten.consistency_proof(600, 1000).unwrap();
    let (ok, said) = python(
        "consistency",
        &key,
        json!({"old": old, "new": new_rewritten, "proof": b64s(&proof)}),
    );
    assert!(!ok && said.contains("does not extend"), "{said}");
}
