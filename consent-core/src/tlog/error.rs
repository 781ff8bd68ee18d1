//! Errors of the Merkle tree: proofs that do not verify, and hashes that cannot be read.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{NodeId, Tile};

/// A Merkle proof that does not verify, or a proof asked for with impossible arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// An entry index that is not in the tree (`index >= size`).
    #[error("entry {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The entry's index.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// Tree sizes that a consistency proof cannot relate: the old tree is empty or larger than the new.
    #[error("no consistency proof from a tree of size {old} to one of size {new}")]
    InvalidSizes {
        /// The old tree's size.
        old: u64,
        /// The new tree's size.
        new: u64,
    },
    /// A proof with the wrong number of hashes for its index and sizes.
    #[error("proof has {found} hashes, expected {expected}")]
    WrongLength {
        /// Hashes a valid proof has.
        expected: usize,
        /// Hashes this proof has.
        found: usize,
    },
    /// The proof leads to another root than the one given (for a consistency proof: another new root).
    #[error("proof does not lead to the given root")]
    RootMismatch,
    /// A consistency proof that leads to another old root than the one given.
    #[error("consistency proof does not lead to the given old root")]
    OldRootMismatch,
}

/// Why hashes of the tree could not be read, or a proof or root could not be made from them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The storage failed (its error is the source).
    #[error("reading the log's hashes failed")]
    Storage(#[source] Box<dyn core::error::Error + Send + Sync>),
    /// A reader returned another number of hashes or tiles than it was asked for.
    #[error("the log's storage returned {found} items for {expected} requested")]
    ShortRead {
        /// Items asked for.
        expected: usize,
        /// Items returned.
        found: usize,
    },
    /// A node that is not a complete subtree of the tree being read.
    #[error("node {0} is not a complete subtree of this tree")]
    NotInTree(NodeId),
    /// Stored tile data that is not a whole number of hashes, or shorter than the tile.
    #[error("tile {tile} holds {found} bytes, expected {expected}")]
    TileLength {
        /// The tile.
        tile: Tile,
        /// Bytes it must hold at least (its width in hashes times 32; at most 8,192).
        expected: usize,
        /// Bytes it holds.
        found: usize,
    },
    /// The tree already holds 2⁶⁴ - 1 entries, as many as its size can count.
    #[error("the log is full (2^64 - 1 entries)")]
    Full,
    /// Arguments no proof exists for (an index outside the tree, sizes in the wrong order).
    #[error(transparent)]
    Proof(#[from] ProofError),
}

impl TreeError {
    /// Wraps a storage error (the `map_err` of a [`HashReader`](super::HashReader) or
    /// [`TileReader`](super::TileReader) implementation).
    pub fn storage(e: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> TreeError {
        TreeError::Storage(e.into())
    }
}
