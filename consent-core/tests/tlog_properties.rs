//! Property tests of the log: proofs made from tiles written batch by batch verify, and every mutation
//! of a valid proof, note, checkpoint or tlog-proof is rejected.
#![cfg(feature = "tlog")]

use consent_core::tlog::{
    Checkpoint, ConsistencyProof, Cosigner, Frontier, Hash, InclusionProof, MemoryTiles,
    NoteSigner, ProofError, Tile, TileHashReader, TilePath, UnverifiedCheckpoint, UnverifiedNote,
    UnverifiedTlogProof, VerifiedNote, VerifiedTlogProof, append_leaves, prove_consistency,
    prove_inclusion, tree_root,
};
use proptest::prelude::*;

fn leaf(i: u64) -> Hash {
    Hash::leaf(format!("entry {i}").as_bytes())
}

/// A log of `size` distinct entries written in batches of the given sizes (cycled), and the root of
/// every size along the way (from a [`Frontier`], a second way to the same roots).
fn log(size: u64, batches: &[usize]) -> (MemoryTiles, Vec<Hash>) {
    let tiles = MemoryTiles::new();
    let mut frontier = Frontier::new();
    let mut roots = vec![frontier.root()];
    let mut written = 0u64;
    for batch in batches.iter().cycle() {
        if written == size {
            break;
        }
        let n = (*batch as u64).clamp(1, size - written);
        let leaves: Vec<Hash> = (written..written + n).map(leaf).collect();
        let appended = append_leaves(written, &leaves, &tiles).unwrap();
        tiles.store(appended.tiles());
        for l in leaves {
            frontier.push(l).unwrap();
            roots.push(frontier.root());
        }
        written += n;
        assert_eq!(appended.root(), frontier.root());
    }
    (tiles, roots)
}

/// Which side each proof hash is on, from the leaf up: RFC 6962's PATH recursion, for the "wrong size"
/// property.
fn sides(index: u64, size: u64) -> Vec<bool> {
    let (mut lo, mut hi, mut out) = (0, size, Vec::new());
    while hi - lo > 1 {
        // The largest power of two below the number of leaves.
        let k = 1u64 << (63 - (hi - lo - 1).leading_zeros());
        if index < lo + k {
            out.push(true);
            hi = lo + k;
        } else {
            out.push(false);
            lo += k;
        }
    }
    out.reverse();
    out
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = *h.as_bytes();
    b[bit / 8] ^= 1 << (bit % 8);
    Hash::from_bytes(b)
}

/// Every mutation of a path: each hash with a flipped bit, each hash missing, a hash added at each
/// place, each pair of neighbours swapped (when they differ).
fn mutations(path: &[Hash], bit: usize) -> Vec<(String, Vec<Hash>)> {
    let mut out = Vec::new();
    for i in 0..path.len() {
        let mut p = path.to_vec();
        p[i] = flip(&p[i], bit);
        out.push((format!("bit {bit} of hash {i} flipped"), p));
        let mut p = path.to_vec();
        p.remove(i);
        out.push((format!("hash {i} missing"), p));
        if i + 1 < path.len() && path[i] != path[i + 1] {
            let mut p = path.to_vec();
            p.swap(i, i + 1);
            out.push((format!("hashes {i} and {} swapped", i + 1), p));
        }
    }
    for i in 0..=path.len() {
        let mut p = path.to_vec();
        p.insert(i, leaf(u64::MAX));
        out.push((format!("hash added at {i}"), p));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn inclusion_proofs(
        size in 1u64..1200,
        index_seed in any::<u64>(),
        batches in proptest::collection::vec(1usize..400, 1..5),
        bit in 0usize..256,
    ) {
        let (tiles, roots) = log(size, &batches);
        let index = index_seed % size;
        let reader = TileHashReader::new(size, &tiles);
        let root = tree_root(size, &reader).unwrap();
        prop_assert_eq!(root, roots[size as usize]);
        let proof = prove_inclusion(index, size, &reader).unwrap();
        prop_assert_eq!(proof.verify(&leaf(index), &root), Ok(()));
        for (what, path) in mutations(proof.path(), bit) {
            let bad = InclusionProof::new(index, size, path);
            prop_assert!(bad.verify(&leaf(index), &root).is_err(), "{}", what);
        }
        // Another entry, another index (the entries are distinct).
        for other in [0, index / 2, index + 1, size - 1, index ^ 1] {
            if other != index && other < size {
                prop_assert!(proof.verify(&leaf(other), &root).is_err());
                let moved = InclusionProof::new(other, size, proof.path().to_vec());
                prop_assert!(moved.verify(&leaf(index), &root).is_err(), "index {}", other);
            }
        }
        prop_assert!(InclusionProof::new(size, size, proof.path().to_vec()).verify(&leaf(index), &root).is_err());
        // Another size: rejected against that size's root. Against this root, accepted only when the
        // proof's shape (length and sides) is the same for both sizes: the proof then says the same
        // thing, and no checkpoint of the other size has this root.
        for other in [1, size / 2, size - 1, size + 1, size * 2, u64::MAX] {
            if other == size || other <= index {
                continue;
            }
            let resized = InclusionProof::new(index, other, proof.path().to_vec());
            if let Some(other_root) = roots.get(other as usize) {
                prop_assert!(resized.verify(&leaf(index), other_root).is_err(), "size {}", other);
            }
            let same_shape = sides(index, other) == sides(index, size);
            prop_assert_eq!(resized.verify(&leaf(index), &root).is_ok(), same_shape, "size {}", other);
        }
    }

    #[test]
    fn consistency_proofs(
        size in 1u64..1200,
        old_seed in any::<u64>(),
        batches in proptest::collection::vec(1usize..400, 1..5),
        bit in 0usize..256,
    ) {
        let (tiles, roots) = log(size, &batches);
        let old = 1 + old_seed % size;
        let reader = TileHashReader::new(size, &tiles);
        let proof = prove_consistency(old, size, &reader).unwrap();
        let (old_root, new_root) = (roots[old as usize], roots[size as usize]);
        prop_assert_eq!(proof.verify(&old_root, &new_root), Ok(()));
        for (what, path) in mutations(proof.path(), bit) {
            let bad = ConsistencyProof::new(old, size, path);
            prop_assert!(bad.verify(&old_root, &new_root).is_err(), "{}", what);
        }
        prop_assert!(proof.verify(&flip(&old_root, bit), &new_root).is_err());
        prop_assert!(proof.verify(&old_root, &flip(&new_root, bit)).is_err());
        // Other sizes, each with its own root: the log must show the root of the size it claims.
        for other in [1, old / 2, old - 1, old + 1, size - 1, size + 1] {
            if other == 0 || other as usize >= roots.len() {
                continue;
            }
            if other != old && other <= size {
                let bad = ConsistencyProof::new(other, size, proof.path().to_vec());
                prop_assert!(bad.verify(&roots[other as usize], &new_root).is_err(), "old size {}", other);
            }
            if other != size && other >= old {
                let bad = ConsistencyProof::new(old, other, proof.path().to_vec());
                prop_assert!(bad.verify(&old_root, &roots[other as usize]).is_err(), "new size {}", other);
            }
        }
        // Both sizes changed.
        if old > 1 && old < size {
            let bad = ConsistencyProof::new(old - 1, size - 1, proof.path().to_vec());
            prop_assert!(bad.verify(&roots[old as usize - 1], &roots[size as usize - 1]).is_err());
        }
        // Swapped roots.
        if old_root != new_root {
            prop_assert!(proof.verify(&new_root, &old_root).is_err());
        }
    }

    #[test]
    fn tile_paths_round_trip(level in 0u8..8, index in any::<u64>(), width in 1u16..=256) {
        // An index a tree of u64 size has at this level.
        let index = index.checked_shr(8 * (u32::from(level) + 1) + 1).unwrap_or(0);
        // The tree level its hashes end at, counted in u128: a full tile at level 7 would need 2⁶⁴
        // entries, one more than the largest tree (found by CI: 1 case in 2,048 draws it).
        let end = (u128::from(index) * 256 + u128::from(width)) << (8 * u32::from(level));
        if end > u128::from(u64::MAX) {
            prop_assert!(Tile::new(level, index, width).is_err());
            return Ok(());
        }
        let tile = Tile::new(level, index, width).unwrap();
        prop_assert_eq!(tile.to_string().parse::<TilePath>(), Ok(TilePath::Hashes(tile)));
    }

    #[test]
    fn tile_paths_never_panic(s in "tile/[0-9a-z./x]{0,40}") {
        if let Ok(p) = s.parse::<TilePath>() {
            prop_assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn notes_round_trip_and_every_byte_matters(
        lines in proptest::collection::vec("[^\\x00-\\x1f]{0,20}", 1..5),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let a = NoteSigner::from_seed("a.example/log".parse().unwrap(), [1; 32]);
        let b = NoteSigner::from_seed("b.example/log".parse().unwrap(), [2; 32]);
        let note = VerifiedNote::sign(&text, &[&a, &b]).unwrap().to_string();
        let verified = UnverifiedNote::parse(&note).unwrap().verify(&[a.verifier(), b.verifier()]).unwrap();
        prop_assert_eq!(verified.text(), text.as_str());
        prop_assert_eq!(verified.to_string(), note.clone());
        // Any changed byte: unparseable, or no longer verifies with both keys.
        let mut bytes = note.into_bytes();
        let i = at.index(bytes.len());
        if bytes[i] != byte {
            bytes[i] = byte;
            if let Ok(changed) = String::from_utf8(bytes) {
                let result = UnverifiedNote::parse(&changed).and_then(|n| n.verify(&[a.verifier(), b.verifier()]));
                prop_assert!(
                    result.as_ref().map_or(true, |n| n.verified().len() < 2 || n.text() != text),
                    "{:?}", changed
                );
            }
        }
    }

    #[test]
    fn checkpoints_and_proof_files(
        size in 1u64..600,
        index_seed in any::<u64>(),
        ext in proptest::option::of("[a-z ]{1,10}"),
        time in 0u64..=i64::MAX as u64,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (tiles, roots) = log(size, &[size as usize]);
        let key = NoteSigner::from_seed("invisionu.education/consent-log".parse().unwrap(), [5; 32]);
        let witness = Cosigner::from_seed("witness.example/w".parse().unwrap(), [6; 32]);
        let mut checkpoint = Checkpoint::new(key.name(), size, roots[size as usize]);
        if let Some(e) = ext {
            checkpoint = checkpoint.with_extensions(vec![e]).unwrap();
        }
        let mut signed = checkpoint.clone().sign(&key).unwrap();
        let cosignature = witness.cosign(&signed, time).unwrap();
        signed.add_cosignature(cosignature, &witness.verifier()).unwrap();
        let text = signed.to_string();
        let back = UnverifiedCheckpoint::parse(&text).unwrap().verify(&key.verifier(), &[witness.verifier()]).unwrap();
        prop_assert_eq!(back.checkpoint(), &checkpoint);
        prop_assert_eq!(back.cosignatures()[0].timestamp, time);

        let index = index_seed % size;
        let proof = prove_inclusion(index, size, &TileHashReader::new(size, &tiles)).unwrap();
        let file = VerifiedTlogProof::new(&leaf(index), proof, back, None).unwrap().to_string();
        let verify = |f: &str| UnverifiedTlogProof::parse(f)
            .map_err(|e| e.to_string())
            .and_then(|p| p.verify(&leaf(index), &key.verifier(), &[witness.verifier()]).map_err(|e| e.to_string()));
        prop_assert_eq!(verify(&file).map(|p| p.to_string()), Ok(file.clone()));
        // Any changed byte: rejected (no extra data here, the one part a tlog-proof does not sign), or,
        // in the witness's line, the cosignature no longer counts (a signature line of an unknown key is
        // ignored: C2SP signed-note).
        let mut bytes = file.into_bytes();
        let i = at.index(bytes.len());
        if bytes[i] != byte {
            bytes[i] = byte;
            if let Ok(changed) = String::from_utf8(bytes) {
                match verify(&changed) {
                    Err(_) => {}
                    Ok(p) => prop_assert!(p.checkpoint().cosignatures().is_empty(), "{:?}", changed),
                }
            }
        }
    }
}

#[test]
fn wrong_size_property_is_not_vacuous() {
    // Both outcomes of the "another size, this root" case occur.
    assert_eq!(sides(0, 5), sides(0, 6));
    assert_ne!(sides(4, 5), sides(4, 6));
    assert_eq!(sides(5, 6), [false, false]);
    assert!(matches!(
        InclusionProof::new(0, 1, vec![]).verify(&leaf(0), &leaf(1)),
        Err(ProofError::RootMismatch)
    ));
}
