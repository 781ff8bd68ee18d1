//! The writer's side: appending a batch of leaves to a tree kept as tiles, and the tiles to store and
//! the root that result; and [`Frontier`], a tree of which only the right edge is kept, for whoever
//! rebuilds a tree from its entries.

#[allow(unused_imports)]
use crate::prelude::*;

use super::tile_reader::{first_hashes, perfect_root, read_checked, root_of_partials};
use super::tree::{join, root_nodes};
use super::{Hash, HashReader, TILE_WIDTH, Tile, TileReader, TreeError, tile_data};

/// What appending a batch changed: the new size and root, and every tile that appeared or grew, with its
/// whole data at the new size (what [`Tile::changed_between`] lists for the old and new sizes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    size: u64,
    root: Hash,
    tiles: Vec<(Tile, Vec<u8>)>,
}

impl Appended {
    /// The tree's size after the batch.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root after the batch: what the next checkpoint signs.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The tiles to store, lowest level first, each with its data at the new size. A partial tile
    /// replaces the narrower version stored before, or is stored beside it (C2SP serves both).
    pub fn tiles(&self) -> &[(Tile, Vec<u8>)] {
        &self.tiles
    }

    /// The tiles, by value.
    pub fn into_tiles(self) -> Vec<(Tile, Vec<u8>)> {
        self.tiles
    }
}

/// Appends leaf hashes ([`Hash::leaf`] of each entry, in log order) to the tree of `size` entries kept
/// as tiles, and returns the tiles to store and the new root.
///
/// Reads only the partial tiles of the current tree (at most one per level, 3 at 10 million entries),
/// in one call; the work is proportional to the batch. The caller stores the tiles in the same
/// transaction as the entries, so that the stored tree never disagrees with them. An example is on
/// [`TileHashReader`](super::TileHashReader).
pub fn append_leaves(
    size: u64,
    leaves: &[Hash],
    reader: &(impl TileReader + ?Sized),
) -> Result<Appended, TreeError> {
    let new_size = u64::try_from(leaves.len())
        .ok()
        .and_then(|n| size.checked_add(n))
        .ok_or(TreeError::Full)?;
    let partials = Tile::partial_in(size);
    let data = read_checked(reader, &partials)?;
    let mut old: [Vec<Hash>; 8] = Default::default();
    for (tile, d) in partials.iter().zip(&data) {
        if let Some(slot) = old.get_mut(usize::from(tile.level())) {
            *slot = first_hashes(d, tile.width());
        }
    }
    let width = usize::from(TILE_WIDTH);
    let mut tiles = Vec::new();
    // The partial tile of each level at the new size, for the root.
    let mut edge: Vec<Vec<Hash>> = Vec::new();
    let mut incoming: Vec<Hash> = leaves.to_vec();
    for (level, existing) in (0u8..).zip(old) {
        let first_tile =
            size.checked_shr(8 * u32::from(level)).unwrap_or(0) / u64::from(TILE_WIDTH);
        if incoming.is_empty() {
            // Nothing reaches this level: its partial tile, if any, stays as it was.
            edge.push(existing);
            continue;
        }
        let mut combined = existing;
        combined.append(&mut incoming);
        let mut partial = Vec::new();
        for (index, chunk) in (first_tile..).zip(combined.chunks(width)) {
            // Within the new tree, which has at most 2⁶⁴ - 1 entries: a valid tile.
            tiles.push((Tile::at(level, index, chunk.len() as u16), tile_data(chunk)));
            if chunk.len() == width {
                incoming.push(perfect_root(chunk));
            } else {
                partial = chunk.to_vec();
            }
        }
        edge.push(partial);
    }
    Ok(Appended {
        size: new_size,
        root: root_of_partials(edge.iter().map(Vec::as_slice)),
        tiles,
    })
}

/// The root of the tree of `size` entries from its tiles: the partial tile of each level (fewer reads
/// than [`tree_root`](super::tree_root) over a [`TileHashReader`](super::TileHashReader), which reads
/// the same tiles).
pub fn tiles_root(size: u64, reader: &(impl TileReader + ?Sized)) -> Result<Hash, TreeError> {
    let partials = Tile::partial_in(size);
    let data = read_checked(reader, &partials)?;
    let edge: Vec<Vec<Hash>> = partials
        .iter()
        .zip(&data)
        .map(|(tile, d)| first_hashes(d, tile.width()))
        .collect();
    Ok(root_of_partials(edge.iter().map(Vec::as_slice)))
}

/// A tree of which only the right edge is kept: the roots of its complete subtrees, at most 64 hashes.
/// Enough to append leaves and compute the root at every size, as an auditor does when it rebuilds the
/// log from its entries (RFC 9162's "compact range" of the whole tree).
///
/// ```
/// use consent_core::tlog::{Frontier, Hash};
/// let mut tree = Frontier::new();
/// assert_eq!(tree.root(), Hash::EMPTY);
/// for entry in [&b"a"[..], b"b", b"c"] {
///     tree.push(Hash::leaf(entry))?;
/// }
/// let (a, b, c) = (Hash::leaf(b"a"), Hash::leaf(b"b"), Hash::leaf(b"c"));
/// assert_eq!((tree.size(), tree.root()), (3, Hash::node(&Hash::node(&a, &b), &c)));
/// # Ok::<(), consent_core::tlog::TreeError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// The roots of the complete subtrees the tree is made of, largest (leftmost) first: one per bit
    /// set in `size`.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The right edge of the tree of `size` entries, from stored hashes (at most 64 read).
    pub fn from_reader(
        size: u64,
        reader: &(impl HashReader + ?Sized),
    ) -> Result<Frontier, TreeError> {
        let ids = root_nodes(size);
        let nodes = reader.read_hashes(&ids)?;
        if nodes.len() != ids.len() {
            return Err(TreeError::ShortRead {
                expected: ids.len(),
                found: nodes.len(),
            });
        }
        Ok(Frontier { size, nodes })
    }

    /// Entries in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash. Fails only when the tree already holds 2⁶⁴ - 1 entries.
    pub fn push(&mut self, leaf: Hash) -> Result<(), TreeError> {
        let size = self.size.checked_add(1).ok_or(TreeError::Full)?;
        let mut hash = leaf;
        let mut bits = self.size;
        // Each trailing 1 bit of the old size is a complete subtree the new leaf completes.
        while bits & 1 == 1 {
            let left = self.nodes.pop().ok_or(TreeError::Full)?;
            hash = Hash::node(&left, &hash);
            bits >>= 1;
        }
        self.nodes.push(hash);
        self.size = size;
        Ok(())
    }

    /// The root of the tree as it is now.
    pub fn root(&self) -> Hash {
        join(&self.nodes).unwrap_or(Hash::EMPTY)
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryTiles;
    use super::super::tile_reader::tests::tiles_of;
    use super::super::tree::tests::{Nodes, leaves, mth};
    use super::super::{TileHashReader, tree_root};
    use super::*;

    #[test]
    fn batches_build_the_same_tiles_as_the_whole_tree() {
        let all = leaves(70_000);
        let tiles = MemoryTiles::new();
        let mut size = 0u64;
        for batch in [1usize, 254, 1, 1, 300, 65_000, 0, 3_000, 1_443] {
            let range = size as usize..size as usize + batch;
            let appended = append_leaves(size, &all[range.clone()], &tiles).unwrap();
            assert_eq!(
                appended.tiles().iter().map(|(t, _)| *t).collect::<Vec<_>>(),
                Tile::changed_between(size, range.end as u64)
            );
            tiles.store(appended.tiles());
            size = appended.size();
            assert_eq!(appended.root(), mth(&all[..range.end]), "{size}");
            assert_eq!(tiles_root(size, &tiles).unwrap(), appended.root());
        }
        assert_eq!(size, 70_000);
        let reference = tiles_of(&all);
        assert_eq!(tiles, reference);
    }

    #[test]
    fn appending_nothing_keeps_the_root() {
        let all = leaves(300);
        let tiles = tiles_of(&all);
        let appended = append_leaves(300, &[], &tiles).unwrap();
        assert_eq!((appended.size(), appended.root()), (300, mth(&all)));
        assert!(appended.tiles().is_empty());
        assert_eq!(
            append_leaves(0, &[], &MemoryTiles::new()).unwrap().root(),
            Hash::EMPTY
        );
    }

    #[test]
    fn a_missing_tile_is_a_storage_error() {
        let tiles = tiles_of(&leaves(300));
        tiles.remove(&Tile::new(0, 1, 256).unwrap());
        assert!(matches!(
            append_leaves(300, &leaves(1), &tiles),
            Err(TreeError::Storage(_))
        ));
    }

    #[test]
    fn frontier_follows_every_size() {
        let all = leaves(600);
        let mut f = Frontier::new();
        for (n, leaf) in all.iter().enumerate() {
            assert_eq!(f.root(), mth(&all[..n]));
            f.push(*leaf).unwrap();
        }
        let nodes = Nodes::of_leaves(&all);
        let resumed = Frontier::from_reader(600, &nodes).unwrap();
        assert_eq!(resumed, f);
        let tiles = tiles_of(&all);
        assert_eq!(
            tree_root(600, &TileHashReader::new(600, &tiles)).unwrap(),
            f.root()
        );
        let mut full = Frontier {
            size: u64::MAX,
            nodes: vec![Hash::EMPTY; 64],
        };
        assert!(matches!(full.push(Hash::EMPTY), Err(TreeError::Full)));
    }
}
