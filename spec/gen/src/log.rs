//! Consent-log vectors (`spec/vectors/log/`): a tree of 600 opaque entries, its roots, inclusion and
//! consistency proofs (valid, and every kind of corruption), and its tiles at two checkpoints, laid out
//! as a static C2SP tlog-tiles log (`tile/…`). Signed notes, checkpoints and tlog-proofs are in
//! `log_notes.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use consent_core::tlog::{
    Bundle, ConsistencyProof, Hash, InclusionProof, MemoryTiles, Tile, TileHashReader, TileReader,
    append_leaves, bundle_data, prove_consistency, prove_inclusion, tree_root,
};
use serde_json::{Value, json};

/// Entries in the vector log.
pub(crate) const SIZE: u64 = 600;
/// Tree sizes with a checkpoint and tiles: a partial level 0 tile of width 44 and of width 88.
pub(crate) const CHECKPOINTS: [u64; 2] = [300, SIZE];

/// Entry `i`: opaque bytes (the server decides what a leaf is; SPEC.md §6). Entry 0 is empty, entry 1
/// holds every byte value, the others are short texts.
pub(crate) fn entry(i: u64) -> Vec<u8> {
    match i {
        0 => Vec::new(),
        1 => (0..=255u8).collect(),
        _ => format!("consent-log vector entry {i}").into_bytes(),
    }
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The log: its tiles, and the root of every size from 0 to [`SIZE`]. Written in uneven batches
/// (1, 2, 297, 300) with `append_leaves`, as the server's writer would.
pub(crate) struct Log {
    pub(crate) store: MemoryTiles,
    pub(crate) roots: Vec<Hash>,
    /// The tiles' data at each checkpoint size (partial tiles are overwritten later).
    pub(crate) snapshots: BTreeMap<u64, Vec<(Tile, Vec<u8>)>>,
}

impl Log {
    pub(crate) fn build() -> Log {
        let store = MemoryTiles::new();
        let mut snapshots = BTreeMap::new();
        let mut size = 0;
        for batch in [1, 2, 297, 300] {
            let leaves: Vec<Hash> = (size..size + batch)
                .map(|i| Hash::leaf(&entry(i)))
                .collect();
            let appended = ok(append_leaves(size, &leaves, &store));
            store.store(appended.tiles());
            size += batch;
            if CHECKPOINTS.contains(&size) {
                let tiles = Tile::for_tree(size)
                    .into_iter()
                    .map(|t| {
                        let data = ok(store.read_tiles(&[t])).remove(0);
                        (t, data[..t.data_len()].to_vec())
                    })
                    .collect();
                snapshots.insert(size, tiles);
            }
        }
        let roots = (0..=SIZE)
            .map(|n| ok(tree_root(n, &TileHashReader::new(n, &store))))
            .collect();
        Log {
            store,
            roots,
            snapshots,
        }
    }

    pub(crate) fn root(&self, size: u64) -> Hash {
        self.roots[size as usize]
    }

    fn reader(&self) -> TileHashReader<'_, MemoryTiles> {
        TileHashReader::new(SIZE, &self.store)
    }

    pub(crate) fn inclusion(&self, index: u64, size: u64) -> InclusionProof {
        // Proofs for earlier sizes come from the same (grown) tiles: complete subtrees never change.
        ok(prove_inclusion(index, size, &self.reader()))
    }

    fn consistency(&self, old: u64, new: u64) -> ConsistencyProof {
        ok(prove_consistency(old, new, &self.reader()))
    }
}

fn b64(h: &Hash) -> Value {
    json!(h.to_string())
}

fn hashes(p: &[Hash]) -> Value {
    Value::Array(p.iter().map(b64).collect())
}

/// `tree.json`: the entries (standard base64), their leaf hashes and the root of every size.
fn tree(log: &Log) -> Value {
    json!({
        "entries": (0..SIZE).map(|i| STANDARD.encode(entry(i))).collect::<Vec<_>>(),
        "leaf_hashes": (0..SIZE).map(|i| Hash::leaf(&entry(i)).to_string()).collect::<Vec<_>>(),
        "roots": log.roots.iter().map(Hash::to_string).collect::<Vec<_>>(),
    })
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = *h.as_bytes();
    b[bit / 8] ^= 1 << (bit % 8);
    Hash::from_bytes(b)
}

/// Corruptions of a path: a flipped bit in each hash, each hash missing, a hash added first and last,
/// neighbours swapped.
fn corrupt_path(path: &[Hash]) -> Vec<(String, Vec<Hash>)> {
    let mut out = Vec::new();
    for i in 0..path.len() {
        let mut p = path.to_vec();
        p[i] = flip(&p[i], (i * 37 + 5) % 256);
        out.push((format!("bit flipped in hash {i}"), p));
        let mut p = path.to_vec();
        p.remove(i);
        out.push((format!("hash {i} missing"), p));
        if i + 1 < path.len() {
            let mut p = path.to_vec();
            p.swap(i, i + 1);
            out.push((format!("hashes {i} and {} swapped", i + 1), p));
        }
    }
    let extra = Hash::leaf(b"not in the log");
    let mut first = path.to_vec();
    first.insert(0, extra);
    out.push(("extra hash first".into(), first));
    let mut last = path.to_vec();
    last.push(extra);
    out.push(("extra hash last".into(), last));
    out
}

fn inclusion_vector(
    name: String,
    proof: &InclusionProof,
    leaf: Hash,
    root: Hash,
    reason: Option<&str>,
) -> Value {
    let ok = proof.verify(&leaf, &root).is_ok();
    assert_eq!(
        ok,
        reason.is_none(),
        "inclusion vector {name}: {:?}",
        proof.verify(&leaf, &root)
    );
    let mut v = json!({
        "name": name,
        "index": proof.index(),
        "size": proof.size(),
        "leaf_hash": leaf.to_string(),
        "root": root.to_string(),
        "proof": hashes(proof.path()),
        "valid": ok,
    });
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    v
}

fn consistency_vector(
    name: String,
    proof: &ConsistencyProof,
    old_root: Hash,
    new_root: Hash,
    reason: Option<&str>,
) -> Value {
    let ok = proof.verify(&old_root, &new_root).is_ok();
    assert_eq!(ok, reason.is_none(), "consistency vector {name}");
    let mut v = json!({
        "name": name,
        "old_size": proof.old_size(),
        "new_size": proof.new_size(),
        "old_root": old_root.to_string(),
        "new_root": new_root.to_string(),
        "proof": hashes(proof.path()),
        "valid": ok,
    });
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    v
}

/// Sizes with selected proofs besides every proof in the trees of up to 16 entries: tile boundaries
/// and the checkpoints.
const INCLUSION: [(u64, u64); 10] = [
    (0, 600),
    (1, 600),
    (255, 256),
    (256, 257),
    (299, 300),
    (123, 300),
    (300, 600),
    (511, 512),
    (512, 600),
    (599, 600),
];
const CONSISTENCY: [(u64, u64); 9] = [
    (1, 600),
    (255, 257),
    (256, 600),
    (257, 512),
    (299, 300),
    (300, 600),
    (511, 513),
    (599, 600),
    (600, 600),
];

/// `proofs.json`.
fn proofs(log: &Log) -> Value {
    let leaf = |i: u64| Hash::leaf(&entry(i));
    let mut inclusion = Vec::new();
    let small = (1..=16u64).flat_map(|n| (0..n).map(move |i| (i, n)));
    for (i, n) in small.chain(INCLUSION) {
        let p = log.inclusion(i, n);
        inclusion.push(inclusion_vector(
            format!("entry {i} in {n}"),
            &p,
            leaf(i),
            log.root(n),
            None,
        ));
    }
    for (i, n) in [(5, 13), (300, 500)] {
        let p = log.inclusion(i, n);
        let (root, l) = (log.root(n), leaf(i));
        let base = format!("entry {i} in {n}");
        for (what, path) in corrupt_path(p.path()) {
            let bad = InclusionProof::new(i, n, path);
            inclusion.push(inclusion_vector(
                format!("{base}: {what}"),
                &bad,
                l,
                root,
                Some(&what),
            ));
        }
        let again = |index: u64, size: u64| InclusionProof::new(index, size, p.path().to_vec());
        let cases = [
            ("another index (+1)", again(i + 1, n), l, root),
            ("another index (-1)", again(i - 1, n), l, root),
            ("the leaf of another entry", again(i, n), leaf(i + 1), root),
            (
                "another size (+1), with its root",
                again(i, n + 1),
                l,
                log.root(n + 1),
            ),
            (
                "another size (-1), with its root",
                again(i, n - 1),
                l,
                log.root(n - 1),
            ),
            (
                "a much larger size, with its root",
                again(i, SIZE),
                l,
                log.root(SIZE),
            ),
            ("index not below the size", again(n, n), l, root),
            ("the root of another size", again(i, n), l, log.root(n - 1)),
            ("a flipped bit in the root", again(i, n), l, flip(&root, 1)),
        ];
        for (what, bad, l, r) in cases {
            inclusion.push(inclusion_vector(
                format!("{base}: {what}"),
                &bad,
                l,
                r,
                Some(what),
            ));
        }
    }
    let mut consistency = Vec::new();
    let small = (1..=16u64).flat_map(|n| (1..=n).map(move |m| (m, n)));
    for (m, n) in small.chain(CONSISTENCY) {
        let p = log.consistency(m, n);
        let name = format!("{m} to {n}");
        consistency.push(consistency_vector(name, &p, log.root(m), log.root(n), None));
    }
    for (m, n) in [(6, 13), (300, 500)] {
        let p = log.consistency(m, n);
        let (old, new) = (log.root(m), log.root(n));
        let base = format!("{m} to {n}");
        for (what, path) in corrupt_path(p.path()) {
            let bad = ConsistencyProof::new(m, n, path);
            consistency.push(consistency_vector(
                format!("{base}: {what}"),
                &bad,
                old,
                new,
                Some(&what),
            ));
        }
        let again = |a: u64, b: u64| ConsistencyProof::new(a, b, p.path().to_vec());
        let cases = [
            (
                "another old size (+1), with its root",
                again(m + 1, n),
                log.root(m + 1),
                new,
            ),
            (
                "another old size (-1), with its root",
                again(m - 1, n),
                log.root(m - 1),
                new,
            ),
            (
                "another new size (+1), with its root",
                again(m, n + 1),
                old,
                log.root(n + 1),
            ),
            (
                "both sizes (-1), with their roots",
                again(m - 1, n - 1),
                log.root(m - 1),
                log.root(n - 1),
            ),
            ("roots swapped", again(m, n), new, old),
            (
                "a flipped bit in the old root",
                again(m, n),
                flip(&old, 9),
                new,
            ),
            (
                "a flipped bit in the new root",
                again(m, n),
                old,
                flip(&new, 9),
            ),
            ("an empty old tree", again(0, n), Hash::EMPTY, new),
            ("old size above the new", again(n, m), new, old),
        ];
        for (what, bad, o, nr) in cases {
            consistency.push(consistency_vector(
                format!("{base}: {what}"),
                &bad,
                o,
                nr,
                Some(what),
            ));
        }
    }
    json!({ "inclusion": inclusion, "consistency": consistency })
}

/// Writes the tiles and entry bundles of each checkpoint size under `dir/tile/`, and returns
/// `tiles.json`: for each checkpoint size, the paths of its tiles and bundles.
fn tiles(log: &Log, dir: &Path) -> Result<(Value, usize), String> {
    let mut index = Vec::new();
    let mut written = 0;
    for (size, tiles) in &log.snapshots {
        let mut paths = Vec::new();
        for (tile, data) in tiles {
            crate::write_path(dir, &tile.to_string(), data)?;
            paths.push(tile.to_string());
            written += 1;
        }
        let mut bundles = Vec::new();
        for bundle in Bundle::for_tree(*size) {
            let first = bundle.first_entry();
            let entries: Vec<Vec<u8>> = (first..first + u64::from(bundle.width()))
                .map(entry)
                .collect();
            crate::write_path(dir, &bundle.to_string(), &ok(bundle_data(&entries)))?;
            bundles.push(bundle.to_string());
            written += 1;
        }
        index.push(json!({ "tree_size": size, "tiles": paths, "bundles": bundles }));
    }
    Ok((Value::Array(index), written))
}

/// Writes `tree.json`, `proofs.json`, `tiles.json` and the tiles into `dir` (`spec/vectors/log`);
/// returns the number of files written and the log, for the notes' vectors.
pub(crate) fn write(dir: &Path) -> Result<(usize, Log), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let log = Log::build();
    crate::write_json(dir, "tree.json", &tree(&log))?;
    crate::write_json(dir, "proofs.json", &proofs(&log))?;
    let (index, n) = tiles(&log, dir)?;
    crate::write_json(dir, "tiles.json", &index)?;
    Ok((3 + n, log))
}
