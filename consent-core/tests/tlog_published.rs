//! The log's tree against published test vectors, ported with their sources:
//!
//! - transparency-dev/merkle (<https://github.com/transparency-dev/merkle>, commit
//!   417fb0c314750d94e53942e9f92e79b6d35915db, Apache-2.0):
//!   - `testdata/inclusion/**` and `testdata/consistency/**`, the proof probes of `cmd/proofgen` (valid
//!     proofs over RFC 6962's reference tree and every corruption of them), copied unchanged into
//!     `tests/fixtures/transparency-dev-merkle.json`;
//!   - `testonly/constants.go`: the reference tree's 8 leaves (certificate-transparency's
//!     `merkle_tree_test`), its node hashes and the roots of its 9 sizes;
//!   - `cmd/proofgen/main.go`: the reference inclusion and consistency proofs;
//!   - `testonly/vectors_test.go`: the accumulated vectors of draft-ietf-plants-merkle-tree-certs'
//!     "Subtree Test Vectors" appendix (every subtree hash, and every inclusion proof in every subtree,
//!     of a tree of 130 leaves, folded into one SHA-256).
//!
//! The signed-note, checkpoint and cosignature vectors of C2SP and Go's `sumdb/note` are in the unit
//! tests of `src/tlog/` (keys, note, checkpoint).
#![cfg(feature = "tlog")]

use std::fmt::Write as _;

use consent_core::tlog::{
    ConsistencyProof, Frontier, Hash, HashReader, InclusionProof, NodeId, TreeError,
    prove_consistency, prove_inclusion, tree_root,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PROBES: &str = include_str!("fixtures/transparency-dev-merkle.json");

/// Standard base64 with padding, written here so that the test does not trust the library's decoder.
fn base64(s: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in s.trim_end_matches('=').chars() {
        bits = (bits << 6) | ALPHABET.find(c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A probe's root or proof hash. A typed API cannot be handed a value that is not 32 bytes (the probes
/// use empty strings and `"don't care"`), and transparency-dev's verifiers do not check their length:
/// they fail, or not, by comparison. Such a value becomes a 32-byte stand-in unique to it, so that
/// equal values stay equal and different ones different. (A leaf hash of the wrong length is refused
/// by transparency-dev's verifier itself, as by a typed API: see [`transparency_dev_proof_probes`].)
fn probe_hash(v: &Value) -> Hash {
    let bytes = base64(v.as_str().unwrap());
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(b) => Hash::from_bytes(b),
        Err(_) => {
            let mut h = Sha256::new();
            h.update(b"not a 32-byte hash: ");
            h.update(&bytes);
            Hash::from_bytes(h.finalize().into())
        }
    }
}

fn probe_path(v: &Value) -> Vec<Hash> {
    v.as_array()
        .map(|a| a.iter().map(probe_hash).collect())
        .unwrap_or_default()
}

#[test]
fn transparency_dev_proof_probes() {
    let probes: Value = serde_json::from_str(PROBES).unwrap();
    let files = probes["files"].as_object().unwrap();
    let (mut inclusion, mut consistency, mut rejected) = (0, 0, 0);
    for (path, p) in files {
        let want_err = p["wantErr"].as_bool().unwrap();
        let result = if path.starts_with("testdata/inclusion/") {
            inclusion += 1;
            if base64(p["leafHash"].as_str().unwrap()).len() != 32 {
                // Not a leaf hash: it cannot even be given to the verifier.
                assert!(want_err, "{path}");
                rejected += 1;
                continue;
            }
            InclusionProof::new(
                p["leafIdx"].as_u64().unwrap(),
                p["treeSize"].as_u64().unwrap(),
                probe_path(&p["proof"]),
            )
            .verify(&probe_hash(&p["leafHash"]), &probe_hash(&p["root"]))
        } else {
            consistency += 1;
            ConsistencyProof::new(
                p["size1"].as_u64().unwrap(),
                p["size2"].as_u64().unwrap(),
                probe_path(&p["proof"]),
            )
            .verify(&probe_hash(&p["root1"]), &probe_hash(&p["root2"]))
        };
        assert_eq!(result.is_err(), want_err, "{path}: {result:?}");
        rejected += usize::from(want_err);
    }
    assert_eq!((inclusion, consistency, rejected), (98, 98, 196 - 12));
}

/// The reference tree of RFC 6962 tests (transparency-dev/merkle `testonly/constants.go`).
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
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(hex_str: &str) -> Hash {
    Hash::from_bytes(hex(hex_str).try_into().unwrap())
}

/// The reference tree's published node hashes, as a store.
struct Published;

impl HashReader for Published {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError> {
        Ok(nodes
            .iter()
            .map(|n| h(NODES[n.level() as usize][n.index() as usize]))
            .collect())
    }
}

#[test]
fn rfc6962_reference_tree() {
    // Leaf hashes from the leaves; roots of every size from the published node hashes and from the
    // leaves.
    let mut frontier = Frontier::new();
    for (i, leaf) in LEAVES.iter().enumerate() {
        assert_eq!(Hash::leaf(&hex(leaf)), h(NODES[0][i]));
        assert_eq!(frontier.root(), h(ROOTS[i]));
        frontier.push(Hash::leaf(&hex(leaf))).unwrap();
    }
    assert_eq!(frontier.root(), h(ROOTS[8]));
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(tree_root(size as u64, &Published).unwrap(), h(root));
    }
    // cmd/proofgen/main.go's proofs (leaf indices there are 1-based).
    let inclusion: [(u64, u64, &[&str]); 5] = [
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
    for (leaf, size, path) in inclusion {
        let proof = prove_inclusion(leaf - 1, size, &Published).unwrap();
        let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        assert_eq!(proof.path(), want, "inclusion {leaf} {size}");
        let leaf_hash = Hash::leaf(&hex(LEAVES[leaf as usize - 1]));
        assert_eq!(proof.verify(&leaf_hash, &h(ROOTS[size as usize])), Ok(()));
    }
    let consistency: [(u64, u64, &[&str]); 5] = [
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
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old, new, path) in consistency {
        let proof = prove_consistency(old, new, &Published).unwrap();
        let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        assert_eq!(proof.path(), want, "consistency {old} {new}");
        assert_eq!(
            proof.verify(&h(ROOTS[old as usize]), &h(ROOTS[new as usize])),
            Ok(())
        );
    }
}

/// A tree held as its leaf hashes; node hashes computed on demand.
struct Leaves(Vec<Hash>);

impl HashReader for Leaves {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError> {
        Ok(nodes
            .iter()
            .map(|n| {
                let r = n.leaves();
                let mut f = Frontier::new();
                for leaf in &self.0[r.start as usize..r.end as usize] {
                    f.push(*leaf).unwrap();
                }
                f.root()
            })
            .collect())
    }
}

/// transparency-dev/merkle `isSubtreeValid`: `start` is 0 or a multiple of `bit_ceil(end - start)`.
fn subtree_valid(start: u64, end: u64) -> bool {
    start == 0 || start == end || start.is_multiple_of((end - start).next_power_of_two())
}

#[test]
fn merkle_tree_certs_subtree_vectors() {
    // draft-ietf-plants-merkle-tree-certs, "Subtree Test Vectors", as transparency-dev/merkle
    // testonly/vectors_test.go reproduces them: leaves d[i] = [i] for i < 130. A subtree [start, end) is
    // the tree of its leaves, so its hash is that tree's root and an inclusion proof in it is that
    // tree's inclusion proof.
    let leaves: Vec<Hash> = (0..130u8).map(|i| Hash::leaf(&[i])).collect();
    let (mut hashes, mut proofs) = (Sha256::new(), Sha256::new());
    for end in 0..=130u64 {
        for start in 0..=end {
            if !subtree_valid(start, end) {
                continue;
            }
            let sub = Leaves(leaves[start as usize..end as usize].to_vec());
            let root = tree_root(end - start, &sub).unwrap();
            hashes.update(format!("[{start}, {end}) {}\n", hexs(root.as_bytes())));
            for index in start..end {
                let proof = prove_inclusion(index - start, end - start, &sub).unwrap();
                assert_eq!(proof.verify(&leaves[index as usize], &root), Ok(()));
                let mut line = format!("{index} [{start}, {end})");
                for p in proof.path() {
                    write!(line, " {}", hexs(p.as_bytes())).unwrap();
                }
                line.push('\n');
                proofs.update(line);
            }
        }
    }
    assert_eq!(
        hexs(&hashes.finalize()),
        "b82806ad4265bb151c1119c0f4db437bb4d1a1f887b3a7fba1cd4ebf552e3e81"
    );
    assert_eq!(
        hexs(&proofs.finalize()),
        "ac2a8f989e44d99e399db448050ff5f19757df53cfb716aa81015d3955d8163f"
    );
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
