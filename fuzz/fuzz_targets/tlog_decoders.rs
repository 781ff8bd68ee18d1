//! The consent log's decoders (notes, verifier and private keys, signature lines, checkpoints,
//! tlog-proofs, tile paths, tile data, entry bundles): no input panics, and what parses writes back as
//! the same text.
//!
//! Each input is given to every decoder as it is, and also spliced into the vectors' tlog-proof of
//! entry 300 (`spec/vectors/log/entry-300.tlog-proof`: bytes 0-1 the place, byte 2 how many bytes to
//! remove, the rest what to insert), so that the target reaches signature and proof checking from its
//! first run, with or without a seed corpus. A spliced proof that still verifies must write back as
//! itself, and must still prove entry 300.
#![no_main]

use std::sync::LazyLock;

use consent_core::tlog::{
    Bundle, Checkpoint, Hash, NoteSignature, NoteSigner, NoteVerifier, Tile, TilePath,
    UnverifiedCheckpoint, UnverifiedNote, UnverifiedTlogProof, bundle_entries, tile_hashes,
};
use libfuzzer_sys::fuzz_target;

const EXAMPLE: &str = include_str!("../../spec/vectors/log/entry-300.tlog-proof");
const NOTES: &str = include_str!("../../spec/vectors/log/notes.json");

/// The vectors' log key and witness key (`notes.json`: `"log_key"` and `"witness_key"`).
static KEYS: LazyLock<(NoteVerifier, Vec<NoteVerifier>)> = LazyLock::new(|| {
    let vkey = |field: &str| {
        let start = NOTES.find(field).unwrap() + field.len();
        let rest = &NOTES[start..];
        let open = rest.find('"').unwrap() + 1;
        let close = open + rest[open..].find('"').unwrap();
        rest[open..close].parse::<NoteVerifier>().unwrap()
    };
    (vkey("\"log_key\":"), vec![vkey("\"witness_key\": [")])
});
/// Entry 300 of the vector log (`spec/gen/src/log.rs`).
static LEAF: LazyLock<Hash> = LazyLock::new(|| Hash::leaf(b"consent-log vector entry 300"));

fn decode_all(text: &str) {
    let (log, witnesses) = &*KEYS;
    if let Ok(note) = UnverifiedNote::parse(text) {
        if let Ok(verified) = note.verify(&[log.clone(), witnesses[0].clone()]) {
            assert_eq!(
                verified.to_string(),
                text,
                "a verified note writes back as itself"
            );
        }
    }
    if let Ok(c) = UnverifiedCheckpoint::parse(text) {
        let body = c.unverified_checkpoint().body();
        assert!(
            text.starts_with(&body),
            "a checkpoint's body is its note's text"
        );
        if let Ok(v) = c.verify(log, witnesses) {
            assert_eq!(v.to_string(), text);
        }
    }
    if let Ok(c) = Checkpoint::parse_body(text) {
        assert_eq!(c.body(), text, "a checkpoint body writes back as itself");
    }
    if let Ok(p) = UnverifiedTlogProof::parse(text) {
        if let Ok(v) = p.verify(&LEAF, log, witnesses) {
            assert_eq!(
                v.to_string(),
                text,
                "a verified tlog-proof writes back as itself"
            );
            assert_eq!(v.index(), 300, "entry 300 proven at another index");
        }
    }
    if let Ok(k) = text.parse::<NoteVerifier>() {
        assert_eq!(k.to_string(), text, "a vkey writes back as itself");
    }
    if let Ok(s) = text.parse::<NoteSignature>() {
        assert_eq!(
            s.to_string(),
            text,
            "a signature line writes back as itself"
        );
    }
    if let Ok(p) = text.parse::<TilePath>() {
        assert_eq!(p.to_string(), text, "a tile path writes back as itself");
    }
    let _ = NoteSigner::from_skey(text);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        decode_all(text);
    }
    // Tile data and entry bundles: the first 10 bytes choose the tile, the rest is its data.
    if let Some((head, body)) = data.split_first_chunk::<10>() {
        let index = u64::from_be_bytes(head[..8].try_into().unwrap()) >> 16;
        let width = u16::from(head[8]) + 1;
        if let Ok(tile) = Tile::new(head[9] % 8, index >> (8 * u32::from(head[9] % 8)), width) {
            if let Ok(hashes) = tile_hashes(&tile, body) {
                assert_eq!(hashes.len(), usize::from(width));
            }
        }
        if let Ok(bundle) = Bundle::new(index, width) {
            if let Ok(entries) = bundle_entries(&bundle, body) {
                assert_eq!(entries.len(), usize::from(width));
                assert_eq!(consent_core::tlog::bundle_data(&entries).unwrap(), body);
            }
        }
    }
    // The example tlog-proof, with the input spliced in.
    if let Some((head, insert)) = data.split_first_chunk::<3>() {
        let example = EXAMPLE.as_bytes();
        let at = usize::from(u16::from_be_bytes([head[0], head[1]])) % (example.len() + 1);
        let end = (at + usize::from(head[2] % 8)).min(example.len());
        let mut spliced = example[..at].to_vec();
        spliced.extend_from_slice(insert);
        spliced.extend_from_slice(&example[end..]);
        if let Ok(text) = String::from_utf8(spliced) {
            decode_all(&text);
        }
    }
});
