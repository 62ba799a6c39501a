//! The Merkle tree against RFC 6962: the published test vectors of Certificate Transparency's
//! reference implementation (roots of the first 1..8 of eight reference leaves, audit paths,
//! consistency proofs), then properties over random trees against a deliberately naive
//! reference written here from the RFC's recursive definitions — every proof the tree makes
//! verifies, and no altered proof, index, size or root does.

use csp_audit::merkle::{
    empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion, Hash, Tree,
};
use proptest::prelude::*;

/// The eight reference leaves (hex).
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// The root of the tree of the first 1..=8 reference leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hash(s: &str) -> Hash {
    unhex(s).try_into().unwrap()
}

fn reference_tree() -> Tree {
    let mut t = Tree::new();
    for l in LEAVES {
        t.push(&unhex(l));
    }
    t
}

#[test]
fn the_empty_tree_and_every_reference_root() {
    assert_eq!(
        empty_root(),
        hash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    let mut t = Tree::new();
    assert_eq!(t.root(), empty_root());
    for (i, l) in LEAVES.iter().enumerate() {
        assert_eq!(t.push(&unhex(l)), i as u64);
        assert_eq!(t.root(), hash(ROOTS[i]), "root of {} leaves", i + 1);
    }
    // And every past size, from the full tree.
    for (i, r) in ROOTS.iter().enumerate() {
        assert_eq!(t.root_at(i as u64 + 1), Some(hash(r)));
    }
    assert_eq!(t.root_at(9), None);
}

#[test]
fn the_reference_audit_paths() {
    let t = reference_tree();
    // (leaf, counted from 1 as the vectors count; tree size; path)
    let vectors: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            3,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            2,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (leaf, size, path) in vectors {
        let want: Vec<Hash> = path.iter().map(|h| hash(h)).collect();
        let index = leaf - 1;
        assert_eq!(
            t.inclusion_proof(index, size),
            Some(want.clone()),
            "leaf {leaf} of {size}"
        );
        let leaf_h = leaf_hash(&unhex(LEAVES[index as usize]));
        let root = hash(ROOTS[size as usize - 1]);
        assert!(verify_inclusion(index, size, &leaf_h, &want, &root));
        // The published wrong cases: another index, another size, another leaf, another root.
        assert!(!verify_inclusion(index + 1, size, &leaf_h, &want, &root));
        assert!(!verify_inclusion(index, size * 2, &leaf_h, &want, &root));
        assert!(!verify_inclusion(
            index,
            size,
            &leaf_hash(b"WrongLeaf"),
            &want,
            &root
        ));
        assert!(!verify_inclusion(
            index,
            size,
            &leaf_h,
            &want,
            &empty_root()
        ));
    }
    assert_eq!(t.inclusion_proof(8, 8), None);
    assert_eq!(t.inclusion_proof(0, 9), None);
}

#[test]
fn the_reference_consistency_proofs() {
    let t = reference_tree();
    let vectors: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (old, new, proof) in vectors {
        let want: Vec<Hash> = proof.iter().map(|h| hash(h)).collect();
        assert_eq!(
            t.consistency_proof(old, new),
            Some(want.clone()),
            "{old} -> {new}"
        );
        let (r1, r2) = (hash(ROOTS[old as usize - 1]), hash(ROOTS[new as usize - 1]));
        assert!(verify_consistency(old, new, &r1, &r2, &want));
        if !want.is_empty() {
            assert!(
                !verify_consistency(old, new, &r2, &r1, &want),
                "roots swapped"
            );
            assert!(!verify_consistency(old, new, &r1, &r2, &[]), "no proof");
            assert!(
                !verify_consistency(old + 1, new, &r1, &r2, &want),
                "another size"
            );
        }
    }
    // Always consistent: from the empty tree, and a tree with itself.
    assert!(verify_consistency(
        0,
        8,
        &empty_root(),
        &hash(ROOTS[7]),
        &[]
    ));
    assert!(verify_consistency(
        3,
        3,
        &hash(ROOTS[2]),
        &hash(ROOTS[2]),
        &[]
    ));
    assert!(!verify_consistency(
        3,
        3,
        &hash(ROOTS[2]),
        &hash(ROOTS[3]),
        &[]
    ));
    assert!(!verify_consistency(
        4,
        3,
        &hash(ROOTS[3]),
        &hash(ROOTS[2]),
        &[]
    ));
    assert_eq!(t.consistency_proof(5, 4), None);
    assert_eq!(t.consistency_proof(4, 9), None);
}

/// RFC 6962 2.1's MTH, written as the RFC writes it, over the leaves' bytes.
fn mth(leaves: &[Vec<u8>]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaf_hash(&leaves[0]),
        n => {
            let k = (1..n)
                .map(|i| 1usize << i)
                .take_while(|p| *p < n)
                .last()
                .unwrap_or(1);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// One bit, byte or list element changed: a proof's neighbours that must all fail.
fn altered(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i][0] ^= 1;
        out.push(p);
        let mut p = proof.to_vec();
        p.remove(i);
        out.push(p);
    }
    let mut p = proof.to_vec();
    p.push(empty_root());
    out.push(p);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every root the tree reports, at every size, is the RFC's MTH of that prefix.
    #[test]
    fn every_root_is_the_rfcs(leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..70)) {
        let mut t = Tree::new();
        for l in &leaves {
            t.push(l);
        }
        for size in 0..=leaves.len() {
            prop_assert_eq!(t.root_at(size as u64), Some(mth(&leaves[..size])));
        }
    }

    /// Every inclusion proof verifies against the RFC's root, and any change to it, to the
    /// index, or to the size by a level does not.
    #[test]
    fn inclusion_proofs_verify_and_altered_ones_do_not(n in 1u64..200, pick in any::<u64>(), at in any::<u64>()) {
        let mut t = Tree::new();
        for i in 0..n {
            t.push(&i.to_be_bytes());
        }
        let size = 1 + at % n;
        let index = pick % size;
        let root = t.root_at(size).unwrap();
        let leaf = leaf_hash(&index.to_be_bytes());
        let proof = t.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(index, size, &leaf, &proof, &root));
        for p in altered(&proof) {
            prop_assert!(!verify_inclusion(index, size, &leaf, &p, &root));
        }
        if size > 1 {
            prop_assert!(!verify_inclusion((index + 1) % size, size, &leaf, &proof, &root));
        }
        // A size one level up (a path one hash short). Not any other size: a (size, root) pair
        // comes signed in a checkpoint, and a root computes the same for some nearby sizes.
        prop_assert!(!verify_inclusion(index, size * 2, &leaf, &proof, &root));
    }

    /// Every consistency proof verifies, and altered ones, swapped roots or another old size
    /// do not.
    #[test]
    fn consistency_proofs_verify_and_altered_ones_do_not(n in 2u64..200, a in any::<u64>(), b in any::<u64>()) {
        let mut t = Tree::new();
        for i in 0..n {
            t.push(&i.to_be_bytes());
        }
        let new = 2 + b % (n - 1);
        let old = 1 + a % (new - 1);
        let (r1, r2) = (t.root_at(old).unwrap(), t.root_at(new).unwrap());
        let proof = t.consistency_proof(old, new).unwrap();
        prop_assert!(verify_consistency(old, new, &r1, &r2, &proof));
        for p in altered(&proof) {
            prop_assert!(!verify_consistency(old, new, &r1, &r2, &p));
        }
        prop_assert!(!verify_consistency(old, new, &r2, &r1, &proof));
        if old + 1 < new {
            prop_assert!(!verify_consistency(old + 1, new, &t.root_at(old + 1).unwrap(), &r2, &proof));
        }
    }
}

/// A tree of a million leaves answers a proof from its stored subtrees: a handful of hashes,
/// whatever the size (the benchmark measures the time; this counts the work).
#[test]
fn a_proof_at_a_million_leaves_is_logarithmic() {
    let mut t = Tree::new();
    for i in 0..1_000_000u64 {
        t.push_hash(leaf_hash(&i.to_be_bytes()));
    }
    let proof = t.inclusion_proof(777_777, t.len()).unwrap();
    assert_eq!(proof.len(), 20);
    let leaf = leaf_hash(&777_777u64.to_be_bytes());
    assert!(verify_inclusion(777_777, t.len(), &leaf, &proof, &t.root()));
    let c = t.consistency_proof(654_321, t.len()).unwrap();
    assert!(c.len() <= 40);
    assert!(verify_consistency(
        654_321,
        t.len(),
        &t.root_at(654_321).unwrap(),
        &t.root(),
        &c
    ));
}
