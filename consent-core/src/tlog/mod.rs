//! The consent log's building blocks (feature `tlog`): an RFC 6962 / RFC 9162 Merkle tree over opaque
//! entries, in the formats transparency logs use today, so that existing tools and witnesses can check
//! the log.
//!
//! - **Tree and proofs**: [`Hash`](struct@Hash) (leaf `SHA-256(0x00 || entry)`, node `SHA-256(0x01 || l || r)`),
//!   roots, [`InclusionProof`]s and [`ConsistencyProof`]s, made from stored hashes through a
//!   [`HashReader`] ([`tree_root`], [`prove_inclusion`], [`prove_consistency`]) and verified with RFC
//!   9162's algorithms.
//! - **Tiles** (C2SP tlog-tiles): [`Tile`] and [`Bundle`] paths, tile data and entry bundles,
//!   [`TileReader`] and [`TileHashReader`] (proofs from stored tiles), [`MemoryTiles`] (tiles kept in
//!   memory), [`tiles_for`] (which tiles a proof reads), and the writer's
//!   [`append_leaves`]; [`Frontier`] rebuilds a root from entries in O(log n) memory.
//! - **Signed notes** (C2SP signed-note): [`NoteSigner`], [`NoteVerifier`] (the `vkey` text form),
//!   [`UnverifiedNote::verify`] → [`VerifiedNote`].
//! - **Checkpoints and cosignatures** (C2SP tlog-checkpoint, tlog-cosignature): [`Checkpoint`],
//!   [`UnverifiedCheckpoint::verify`] → [`VerifiedCheckpoint`], witnesses' [`Cosigner`].
//! - **Proof files** (C2SP tlog-proof@v1): [`UnverifiedTlogProof::verify`] → [`VerifiedTlogProof`].
//!
//! Everything here is pure: storage is the caller's, behind the reader traits.
//!
//! A proof of size *n* reads at most 2 log₂ *n* hashes, from at most a few tiles; see
//! [`TileHashReader`] for the writer's and a reader's whole round trip.

mod append;
mod bundle;
mod checkpoint;
mod error;
mod hash;
mod keys;
mod memory;
mod note;
mod proof;
mod proof_file;
mod tile_reader;
mod tiles;
mod tree;

pub use append::{Appended, Frontier, append_leaves, tiles_root};
pub use bundle::{MAX_ENTRY_LEN, bundle_data, bundle_entries};
pub use checkpoint::{
    Checkpoint, Cosignature, DEFAULT_ORIGIN, UnverifiedCheckpoint, VerifiedCheckpoint,
};
pub use error::{ProofError, TreeError};
pub use hash::{HASH_LEN, Hash};
pub use keys::{Cosigner, KeyKind, KeyName, MAX_KEY_NAME_LEN, NoteSigner, NoteVerifier};
pub use memory::MemoryTiles;
pub use note::{
    MAX_NOTE_LEN, MAX_NOTE_SIGNATURES, NoteError, NoteSignature, UnverifiedNote, VerifiedNote,
    VerifiedSignature,
};
pub use proof::{ConsistencyProof, InclusionProof};
pub use proof_file::{
    MAX_TLOG_PROOF_LEN, TLOG_PROOF_HEADER, TlogProofError, UnverifiedTlogProof, VerifiedTlogProof,
};
pub use tile_reader::{TileHashReader, TileReader, tiles_for};
pub use tiles::{
    Bundle, MAX_TILE_LEN, TILE_WIDTH, Tile, TileError, TilePath, tile_data, tile_hashes,
};
pub use tree::{
    HashReader, NodeId, consistency_nodes, inclusion_nodes, prove_consistency, prove_inclusion,
    root_nodes, tree_root,
};
