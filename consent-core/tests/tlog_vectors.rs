//! The checked-in log vectors (`spec/vectors/log/`) mean what they say: the library rebuilds the tree,
//! its roots, proofs and tiles from the entries, and accepts exactly the notes, checkpoints, proofs
//! and tlog-proofs marked valid. (`spec/check-vectors.py` checks the same files independently.)
#![cfg(feature = "tlog")]

use std::path::PathBuf;

use consent_core::tlog::{
    Bundle, ConsistencyProof, Frontier, Hash, InclusionProof, MemoryTiles, NoteVerifier, Tile,
    TileHashReader, TilePath, TileReader, UnverifiedCheckpoint, UnverifiedTlogProof, append_leaves,
    bundle_entries, prove_consistency, prove_inclusion, tile_hashes,
};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/log")
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
}

fn base64(s: &str) -> Vec<u8> {
    // A tiny independent decoder (standard alphabet, padding ignored), so that the test does not trust
    // the library's.
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

fn hash(v: &Value) -> Hash {
    Hash::from_bytes(base64(v.as_str().unwrap()).try_into().unwrap())
}

fn path(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

fn entries() -> Vec<Vec<u8>> {
    json("tree.json")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| base64(e.as_str().unwrap()))
        .collect()
}

/// The log rebuilt from its entries, in one batch.
fn rebuilt() -> (MemoryTiles, u64) {
    let leaves: Vec<Hash> = entries().iter().map(|e| Hash::leaf(e)).collect();
    let tiles = MemoryTiles::new();
    let appended = append_leaves(0, &leaves, &tiles).unwrap();
    tiles.store(appended.tiles());
    (tiles, leaves.len() as u64)
}

#[test]
fn tree() {
    let tree = json("tree.json");
    let mut frontier = Frontier::new();
    let roots = tree["roots"].as_array().unwrap();
    for (i, e) in entries().iter().enumerate() {
        assert_eq!(Hash::leaf(e), hash(&tree["leaf_hashes"][i]));
        assert_eq!(frontier.root(), hash(&roots[i]));
        frontier.push(Hash::leaf(e)).unwrap();
    }
    assert_eq!(frontier.root(), hash(roots.last().unwrap()));
}

#[test]
fn proofs() {
    let (tiles, size) = rebuilt();
    let reader = TileHashReader::new(size, &tiles);
    let proofs = json("proofs.json");
    let mut valid = 0;
    for v in proofs["inclusion"].as_array().unwrap() {
        let (index, n) = (v["index"].as_u64().unwrap(), v["size"].as_u64().unwrap());
        let proof = InclusionProof::new(index, n, path(&v["proof"]));
        let result = proof.verify(&hash(&v["leaf_hash"]), &hash(&v["root"]));
        assert_eq!(
            result.is_ok(),
            v["valid"] == true,
            "{}: {result:?}",
            v["name"]
        );
        if v["valid"] == true {
            assert_eq!(prove_inclusion(index, n, &reader).unwrap(), proof);
            valid += 1;
        }
    }
    for v in proofs["consistency"].as_array().unwrap() {
        let (old, new) = (
            v["old_size"].as_u64().unwrap(),
            v["new_size"].as_u64().unwrap(),
        );
        let proof = ConsistencyProof::new(old, new, path(&v["proof"]));
        let result = proof.verify(&hash(&v["old_root"]), &hash(&v["new_root"]));
        assert_eq!(
            result.is_ok(),
            v["valid"] == true,
            "{}: {result:?}",
            v["name"]
        );
        if v["valid"] == true {
            assert_eq!(prove_consistency(old, new, &reader).unwrap(), proof);
            valid += 1;
        }
    }
    assert!(valid > 250, "{valid}");
}

#[test]
fn tiles_and_bundles() {
    let (tiles, _) = rebuilt();
    let entries = entries();
    for checkpoint in json("tiles.json").as_array().unwrap() {
        let size = checkpoint["tree_size"].as_u64().unwrap();
        let listed: Vec<&str> = checkpoint["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let expected: Vec<String> = Tile::for_tree(size).iter().map(Tile::to_string).collect();
        assert_eq!(listed, expected);
        for p in listed {
            let TilePath::Hashes(tile) = p.parse().unwrap() else {
                panic!("{p} is not a hash tile");
            };
            let data = std::fs::read(dir().join(p)).unwrap();
            let stored = &tiles.read_tiles(&[tile]).unwrap()[0];
            assert_eq!(data, stored[..tile.data_len()], "{p}");
            assert_eq!(
                tile_hashes(&tile, &data).unwrap().len(),
                usize::from(tile.width())
            );
        }
        for p in checkpoint["bundles"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            let TilePath::Entries(bundle) = p.parse().unwrap() else {
                panic!("{p} is not an entry bundle");
            };
            assert!(Bundle::for_tree(size).contains(&bundle));
            let data = std::fs::read(dir().join(p)).unwrap();
            let first = bundle.first_entry() as usize;
            let want: Vec<&[u8]> = entries[first..first + usize::from(bundle.width())]
                .iter()
                .map(Vec::as_slice)
                .collect();
            assert_eq!(bundle_entries(&bundle, &data).unwrap(), want, "{p}");
        }
    }
}

fn keys() -> (NoteVerifier, Vec<NoteVerifier>) {
    let notes = json("notes.json");
    let log = notes["log_key"].as_str().unwrap().parse().unwrap();
    let witnesses = notes["witness_key"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().parse().unwrap())
        .collect();
    (log, witnesses)
}

#[test]
fn checkpoints() {
    let (log, witnesses) = keys();
    let notes = json("notes.json");
    let roots = json("tree.json")["roots"].clone();
    for v in notes["checkpoints"].as_array().unwrap() {
        let result = UnverifiedCheckpoint::parse(v["note"].as_str().unwrap())
            .and_then(|c| c.verify(&log, &witnesses));
        assert_eq!(
            result.is_ok(),
            v["valid"] == true,
            "{}: {result:?}",
            v["name"]
        );
        if let Ok(c) = result {
            let cp = c.checkpoint();
            assert_eq!(cp.origin(), v["checkpoint"]["origin"]);
            assert_eq!(cp.size(), v["checkpoint"]["size"]);
            assert_eq!(cp.root(), hash(&v["checkpoint"]["root"]));
            assert_eq!(cp.root(), hash(&roots[cp.size() as usize]));
            assert_eq!(c.to_string(), v["note"].as_str().unwrap());
            let cosignatures: Vec<(String, u64)> = c
                .cosignatures()
                .iter()
                .map(|s| (s.name.to_string(), s.timestamp))
                .collect();
            let want: Vec<(String, u64)> = v["cosignatures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["name"].as_str().unwrap().to_owned(),
                        s["timestamp"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(cosignatures, want);
        }
    }
    // The log's latest checkpoint, as served.
    let served = std::fs::read_to_string(dir().join("checkpoint")).unwrap();
    let c = UnverifiedCheckpoint::parse(&served)
        .unwrap()
        .verify(&log, &witnesses)
        .unwrap();
    assert_eq!(c.checkpoint().size(), entries().len() as u64);
    assert_eq!(c.cosignatures().len(), 1);
}

#[test]
fn tlog_proofs() {
    let (log, witnesses) = keys();
    let mut cases: Vec<(String, String, Vec<u8>, bool)> = json("tlog-proofs.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["proof"].as_str().unwrap().to_owned(),
                base64(v["entry"].as_str().unwrap()),
                v["valid"] == true,
            )
        })
        .collect();
    let file = std::fs::read_to_string(dir().join("entry-300.tlog-proof")).unwrap();
    cases.push((
        "entry-300.tlog-proof".into(),
        file,
        entries()[300].clone(),
        true,
    ));
    for (name, text, entry, valid) in cases {
        let result = UnverifiedTlogProof::parse(&text)
            .map_err(|e| e.to_string())
            .and_then(|p| {
                p.verify(&Hash::leaf(&entry), &log, &witnesses)
                    .map_err(|e| e.to_string())
            });
        assert_eq!(result.is_ok(), valid, "{name}: {result:?}");
        if let Ok(p) = result {
            assert_eq!(p.to_string(), text, "{name}");
        }
    }
}
