//! The log's values as the store speaks them: an entry's [`LogIndex`], the committed [`LogHead`], and
//! [`StoreTiles`], which reads a store's tiles for core's proof functions (any engine).

use consent_core::tlog::{Hash, Tile, TileReader, TreeError};

use super::{Store, StoreError};

/// An entry's place in the log: 0, 1, 2… in the one order every receipt and rights event is logged
/// in, given when the batch holding it commits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LogIndex(pub u64);

impl std::fmt::Display for LogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The log's tree as committed: what the next checkpoint signs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LogHead {
    /// Number of entries.
    pub size: u64,
    /// Root of the tree of those entries.
    pub root: Hash,
}

/// A store's hash tiles as core's [`TileReader`]: proofs and roots are computed from them by
/// `consent_core::tlog`, whatever the engine.
pub struct StoreTiles<'a>(pub &'a dyn Store);

impl TileReader for StoreTiles<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        self.0
            .log_tiles(tiles)
            .map_err(TreeError::storage)?
            .into_iter()
            .zip(tiles)
            .map(|(data, tile)| {
                data.ok_or_else(|| {
                    TreeError::storage(StoreError::Corrupt(format!("tile {tile} is not stored")))
                })
            })
            .collect()
    }
}
