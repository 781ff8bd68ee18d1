//! Tiles kept in memory: [`MemoryTiles`], a [`TileReader`] for tests, tools and logs small enough to
//! hold.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::BTreeMap;
use core::cell::RefCell;

use super::{Tile, TileReader, TreeError};

/// Tiles kept in memory, one entry per tile position (level and index), overwritten as the tile grows,
/// as a database row would be. For tests, tools and logs small enough to hold in memory; one thread
/// (not `Sync`).
///
/// ```
/// use consent_core::tlog::{append_leaves, tree_root, Hash, MemoryTiles, TileHashReader};
/// let tiles = MemoryTiles::new();
/// let mut size = 0;
/// for batch in [&["a", "b", "c"][..], &["d", "e"]] {
///     let leaves: Vec<Hash> = batch.iter().map(|e| Hash::leaf(e.as_bytes())).collect();
///     let appended = append_leaves(size, &leaves, &tiles)?;
///     tiles.store(appended.tiles());
///     size = appended.size();
///     assert_eq!(tree_root(size, &TileHashReader::new(size, &tiles))?, appended.root());
/// }
/// assert_eq!(tiles.len(), 1, "five entries: one partial tile at level 0");
/// # Ok::<(), consent_core::tlog::TreeError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryTiles(RefCell<BTreeMap<(u8, u64), Vec<u8>>>);

impl MemoryTiles {
    /// No tiles.
    pub fn new() -> Self {
        MemoryTiles::default()
    }

    /// Stores each tile's data (what [`append_leaves`](super::append_leaves) returns), replacing what
    /// its position held.
    pub fn store(&self, tiles: &[(Tile, Vec<u8>)]) {
        let mut map = self.0.borrow_mut();
        for (tile, data) in tiles {
            map.insert((tile.level(), tile.index()), data.clone());
        }
    }

    /// Stores `data` at `tile`'s position, as it is: whether it holds the tile's hashes is checked when
    /// a proof reads it.
    pub fn insert(&self, tile: &Tile, data: Vec<u8>) {
        self.0
            .borrow_mut()
            .insert((tile.level(), tile.index()), data);
    }

    /// Takes the data at `tile`'s position out, if any (a tile lost, in a test of what reads it).
    pub fn remove(&self, tile: &Tile) -> Option<Vec<u8>> {
        self.0.borrow_mut().remove(&(tile.level(), tile.index()))
    }

    /// How many tile positions hold data.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether no tile is stored.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

impl TileReader for MemoryTiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        let map = self.0.borrow();
        tiles
            .iter()
            .map(|t| {
                map.get(&(t.level(), t.index()))
                    .cloned()
                    .ok_or_else(|| TreeError::storage(format!("no tile {t}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_grows_in_place_and_a_missing_one_is_a_storage_error() {
        let tiles = MemoryTiles::new();
        let partial = Tile::new(0, 0, 1).unwrap();
        tiles.insert(&partial, vec![1; 32]);
        tiles.insert(&partial.with_width(2).unwrap(), vec![2; 64]);
        assert_eq!(tiles.len(), 1);
        assert_eq!(tiles.read_tiles(&[partial]).unwrap(), [vec![2; 64]]);
        assert_eq!(tiles.remove(&partial), Some(vec![2; 64]));
        assert!(tiles.is_empty() && tiles == MemoryTiles::new());
        tiles.insert(&partial, vec![1; 32]);
        let missing = Tile::new(1, 0, 1).unwrap();
        let err = tiles.read_tiles(&[partial, missing]).unwrap_err();
        assert_eq!(
            err.to_string(),
            TreeError::storage(format!("no tile {missing}")).to_string()
        );
    }
}
