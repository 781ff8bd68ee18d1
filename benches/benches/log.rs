//! The consent log at 10 million entries: making and verifying inclusion and consistency proofs from
//! stored tiles, the root, a writer's batch, and tlog-proof files (issue 21's target: a proof answered
//! in under 5 ms at 10 million entries).
//!
//! The tree is generated sparsely: only the tiles the benchmarked proofs and the right edge read are
//! materialised; a tile's hash of a subtree that is not materialised is a pseudo-random stand-in, as
//! the hash of entries nobody asks for would be. Each materialised parent holds the real root of each
//! materialised child, so every proof made here verifies against the tree's root.

use std::collections::HashMap;
use std::hint::black_box;

use consent_core::tlog::{
    Checkpoint, Cosigner, Hash, NoteSigner, TILE_WIDTH, Tile, TileHashReader, TileReader,
    TreeError, UnverifiedTlogProof, VerifiedTlogProof, append_leaves, prove_consistency,
    prove_inclusion, tile_data, tiles_root, tree_root,
};
use criterion::{Criterion, criterion_group, criterion_main};

const SIZE: u64 = 10_000_000;
/// Entries whose proofs are made: spread over the tree, plus both ends.
const TARGETS: usize = 64;

fn entry(i: u64) -> Vec<u8> {
    format!("consent-log benchmark entry {i}").into_bytes()
}

/// Tiles in memory, as a database would return them (each read copies the tile).
struct Store(HashMap<(u8, u64), Vec<u8>>);

impl TileReader for Store {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(&(t.level(), t.index()))
                    .cloned()
                    .ok_or_else(|| TreeError::storage(format!("tile {t} not generated")))
            })
            .collect()
    }
}

fn targets() -> Vec<u64> {
    let mut t: Vec<u64> = (0..TARGETS as u64 - 2)
        .map(|i| i * (SIZE / (TARGETS as u64 - 2)) + (i * 7919) % 256)
        .collect();
    t.extend([SIZE - 1, SIZE - 1000]);
    t
}

/// A stand-in for the root of a subtree nobody reads.
fn stand_in(level: u8, index: u64, position: u64) -> Hash {
    Hash::leaf(format!("stand-in {level}/{index}/{position}").as_bytes())
}

/// The tiles of a tree of `SIZE` entries that proofs of `leaves` and the right edge need.
fn sparse_tree(leaves: &[u64]) -> Store {
    let width = u64::from(TILE_WIDTH);
    let mut wanted: Vec<std::collections::BTreeSet<u64>> = vec![Default::default(); 3];
    for &leaf in leaves.iter().chain([SIZE - 1].iter()) {
        for (level, set) in wanted.iter_mut().enumerate() {
            set.insert(leaf >> (8 * (level as u32 + 1)));
        }
    }
    let mut map: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
    for level in 0..3u8 {
        let count = SIZE >> (8 * u32::from(level));
        for &index in &wanted[usize::from(level)] {
            let w = (count - index * width).min(width);
            let hashes: Vec<Hash> = (0..w)
                .map(|p| {
                    let position = index * width + p;
                    if level == 0 {
                        Hash::leaf(&entry(position))
                    } else if let Some(child) = map.get(&(level - 1, position)) {
                        full_tile_root(child)
                    } else {
                        stand_in(level, index, p)
                    }
                })
                .collect();
            map.insert((level, index), tile_data(&hashes));
        }
    }
    Store(map)
}

/// The root of a full tile's 256 hashes.
fn full_tile_root(data: &[u8]) -> Hash {
    let mut level: Vec<Hash> = data
        .chunks_exact(32)
        .map(|c| Hash::from_bytes(c.try_into().unwrap_or_else(|_| unreachable!())))
        .collect();
    assert_eq!(
        level.len(),
        256,
        "a parent holds the roots of full tiles only"
    );
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| Hash::node(&p[0], &p[1]))
            .collect();
    }
    level[0]
}

fn log(c: &mut Criterion) {
    let targets = targets();
    let store = sparse_tree(&targets);
    let reader = TileHashReader::new(SIZE, &store);
    let root = tree_root(SIZE, &reader).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tiles_root(SIZE, &store).ok(), Some(root));
    let proofs: Vec<_> = targets
        .iter()
        .map(|&t| {
            let p = prove_inclusion(t, SIZE, &reader).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.verify(&Hash::leaf(&entry(t)), &root), Ok(()));
            p
        })
        .collect();
    let mut g = c.benchmark_group("log (10 million entries)");
    let mut next = 0usize;
    g.bench_function(
        format!(
            "make an inclusion proof from tiles ({} hashes)",
            proofs[0].path().len()
        ),
        |b| {
            b.iter(|| {
                next = (next + 1) % targets.len();
                prove_inclusion(black_box(targets[next]), SIZE, &reader)
            })
        },
    );
    g.bench_function("verify an inclusion proof", |b| {
        b.iter(|| {
            next = (next + 1) % targets.len();
            proofs[next].verify(black_box(&Hash::leaf(&entry(targets[next]))), &root)
        })
    });
    g.bench_function("make + verify an inclusion proof", |b| {
        b.iter(|| {
            next = (next + 1) % targets.len();
            let t = targets[next];
            prove_inclusion(black_box(t), SIZE, &reader)
                .map(|p| p.verify(&Hash::leaf(&entry(t)), &root))
        })
    });
    g.bench_function("root from tiles", |b| {
        b.iter(|| tiles_root(black_box(SIZE), &store))
    });
    let old = SIZE - 1000;
    let old_root =
        tree_root(old, &TileHashReader::new(old, &store)).unwrap_or_else(|e| panic!("{e}"));
    let consistency = prove_consistency(old, SIZE, &reader).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(consistency.verify(&old_root, &root), Ok(()));
    g.bench_function("make a consistency proof (1,000 entries later)", |b| {
        b.iter(|| prove_consistency(black_box(old), SIZE, &reader))
    });
    g.bench_function("verify a consistency proof", |b| {
        b.iter(|| consistency.verify(black_box(&old_root), &root))
    });
    let batch: Vec<Hash> = (SIZE..SIZE + 1000).map(|i| Hash::leaf(&entry(i))).collect();
    g.bench_function(
        "append a batch of 1,000 leaf hashes (new tiles and root)",
        |b| b.iter(|| append_leaves(SIZE, black_box(&batch), &store)),
    );

    // tlog-proof files: the server makes one per receipt, a person's verifier reads it.
    let key = NoteSigner::from_seed(
        consent_core::tlog::DEFAULT_ORIGIN
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        [1; 32],
    );
    let witness = Cosigner::from_seed(
        "witness.example.org/w"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        [2; 32],
    );
    g.bench_function("sign a checkpoint", |b| {
        b.iter(|| Checkpoint::new(key.name(), SIZE, root).sign(black_box(&key)))
    });
    let mut checkpoint = Checkpoint::new(key.name(), SIZE, root)
        .sign(&key)
        .unwrap_or_else(|e| panic!("{e}"));
    let line = witness
        .cosign(&checkpoint, 1_750_000_000)
        .unwrap_or_else(|e| panic!("{e}"));
    checkpoint
        .add_cosignature(line, &witness.verifier())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = targets[1];
    let leaf = Hash::leaf(&entry(t));
    let file = VerifiedTlogProof::new(&leaf, proofs[1].clone(), checkpoint.clone(), None)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    g.bench_function(
        "make a tlog-proof file (proof from tiles, checked, written)",
        |b| {
            b.iter(|| {
                let proof =
                    prove_inclusion(black_box(t), SIZE, &reader).unwrap_or_else(|e| panic!("{e}"));
                VerifiedTlogProof::new(&leaf, proof, checkpoint.clone(), None)
                    .map(|p| p.to_string())
            })
        },
    );
    let (log_key, witnesses) = (key.verifier(), [witness.verifier()]);
    g.bench_function(
        format!(
            "parse + verify a tlog-proof file ({} bytes, 2 signatures)",
            file.len()
        ),
        |b| {
            b.iter(|| {
                UnverifiedTlogProof::parse(black_box(&file))
                    .map_err(|e| e.to_string())
                    .and_then(|p| {
                        p.verify(&leaf, &log_key, &witnesses)
                            .map_err(|e| e.to_string())
                    })
            })
        },
    );
    g.finish();
}

criterion_group!(benches, log);
criterion_main!(benches);
