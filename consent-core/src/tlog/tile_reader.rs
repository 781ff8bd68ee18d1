//! Reading the tree from stored tiles: [`TileReader`] (whole tiles from the log's storage) and
//! [`TileHashReader`] (node hashes computed within them), and the tile arithmetic the writer shares.

#[allow(unused_imports)]
use crate::prelude::*;

use super::tiles::{HEIGHT, MAX_TILE_LEN, hashes_at};
use super::tree::join;
use super::{HASH_LEN, Hash, HashReader, NodeId, TILE_WIDTH, Tile, TreeError};

/// Reads whole tiles from the log's storage (the server's database, an auditor's download).
pub trait TileReader {
    /// The data of each hash tile, in the order asked, one per tile: at least `tile.width()` hashes.
    /// More is fine (a later, wider version of a partial tile, or the full tile): a tile only grows at
    /// its end, so a storage may keep one row per tile and overwrite it as it grows.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError>;
}

impl<R: TileReader + ?Sized> TileReader for &R {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        (**self).read_tiles(tiles)
    }
}

/// Reads the tiles and checks that each holds at least its width, in whole hashes.
pub(crate) fn read_checked(
    reader: &(impl TileReader + ?Sized),
    tiles: &[Tile],
) -> Result<Vec<Vec<u8>>, TreeError> {
    let data = reader.read_tiles(tiles)?;
    if data.len() != tiles.len() {
        return Err(TreeError::ShortRead {
            expected: tiles.len(),
            found: data.len(),
        });
    }
    for (tile, d) in tiles.iter().zip(&data) {
        if d.len() < tile.data_len() || d.len() > MAX_TILE_LEN || d.len() % HASH_LEN != 0 {
            return Err(TreeError::TileLength {
                tile: *tile,
                expected: tile.data_len(),
                found: d.len(),
            });
        }
    }
    Ok(data)
}

/// The root of a complete subtree from its leaves (a power of two of them): pairs joined level by level.
pub(crate) fn perfect_root(hashes: &[Hash]) -> Hash {
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [l, r] => Some(Hash::node(l, r)),
                _ => None,
            })
            .collect();
    }
    level.first().copied().unwrap_or(Hash::EMPTY)
}

/// The root of `count` (a power of two) consecutive hashes of tile data starting at hash `first`.
pub(crate) fn subtree_root(data: &[u8], first: usize, count: usize) -> Option<Hash> {
    let bytes = data.get(first * HASH_LEN..(first + count) * HASH_LEN)?;
    let hashes: Vec<Hash> = bytes
        .chunks_exact(HASH_LEN)
        .filter_map(Hash::read)
        .collect();
    Some(perfect_root(&hashes))
}

/// The first `width` hashes of tile data (checked by [`read_checked`] to hold them).
pub(crate) fn first_hashes(data: &[u8], width: u16) -> Vec<Hash> {
    data.chunks_exact(HASH_LEN)
        .take(usize::from(width))
        .filter_map(Hash::read)
        .collect()
}

/// Appends the roots of the complete subtrees a partial tile's hashes make up, largest first: the
/// tile's part of the tree's root.
pub(crate) fn edge_parts(hashes: &[Hash], parts: &mut Vec<Hash>) {
    let mut rest = hashes;
    for bit in (0..HEIGHT).rev() {
        let count = 1usize << bit;
        if rest.len() & count != 0
            && let Some((subtree, tail)) = rest.split_at_checked(count)
        {
            parts.push(perfect_root(subtree));
            rest = tail;
        }
    }
}

/// The root of a tree from the hashes of its partial tiles ([`Tile::partial_in`]), lowest level first.
pub(crate) fn root_of_partials<'a>(partials: impl DoubleEndedIterator<Item = &'a [Hash]>) -> Hash {
    let mut parts = Vec::new();
    for hashes in partials.rev() {
        edge_parts(hashes, &mut parts);
    }
    join(&parts).unwrap_or(Hash::EMPTY)
}

/// A [`HashReader`] over the tiles of a tree of a given size: each node's hash is read from, or
/// computed within, the one tile that holds its subtree (a node at level 8*L* + *k* is the root of
/// 2^*k* consecutive hashes of a level *L* tile). A proof in a tree of 10 million entries reads 4 to 6
/// tiles.
///
/// The hashes are not authenticated here: a proof made from altered tiles does not verify against the
/// signed checkpoint, which is where a client's trust comes from.
///
/// ```
/// use consent_core::tlog::{append_leaves, prove_inclusion, tree_root, Hash, MemoryTiles,
///     TileHashReader};
///
/// // The writer: append a batch, store the tiles it returns (here in memory; the server's database
/// // keeps one row per tile, overwritten as it grows), sign a checkpoint of the new root.
/// let store = MemoryTiles::new();
/// let mut size = 0;
/// for batch in [&["a", "b", "c"][..], &["d", "e"]] {
///     let leaves: Vec<Hash> = batch.iter().map(|e| Hash::leaf(e.as_bytes())).collect();
///     let appended = append_leaves(size, &leaves, &store)?;
///     store.store(appended.tiles());
///     size = appended.size();
///     assert_eq!(appended.root(), tree_root(size, &TileHashReader::new(size, &store))?);
/// }
/// // A reader: a proof that entry 3 is in the tree of size 5, from the stored tiles.
/// let reader = TileHashReader::new(5, &store);
/// let proof = prove_inclusion(3, 5, &reader)?;
/// assert!(proof.verify(&Hash::leaf(b"d"), &tree_root(5, &reader)?).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TileHashReader<'a, R: ?Sized> {
    size: u64,
    tiles: &'a R,
}

impl<'a, R: TileReader + ?Sized> TileHashReader<'a, R> {
    /// Reads the tree of the first `size` entries from these tiles.
    pub fn new(size: u64, tiles: &'a R) -> Self {
        TileHashReader { size, tiles }
    }
}

/// The tile holding `node`'s subtree in the tree of `size` entries, and where in it: (tile, first hash,
/// count).
fn locate(size: u64, node: NodeId) -> Option<(Tile, usize, usize)> {
    if node.leaves().end > size {
        return None;
    }
    let level = node.level() / HEIGHT as u8;
    let k = u32::from(node.level()) % HEIGHT;
    let first = node.index() << k;
    let width = u64::from(TILE_WIDTH);
    let index = first / width;
    let count = hashes_at(level, size);
    // Within the tree, which has at most 2⁶⁴ - 1 entries: a valid tile.
    let tile = Tile::at(level, index, (count - index * width).min(width) as u16);
    Some((tile, (first % width) as usize, 1 << k))
}

/// Where a node's subtree is: its tile's place in a list of tiles, its first hash there, their count.
type Place = (usize, usize, usize);

/// The tiles (each once) that hold the nodes, and where each node is.
fn plan(size: u64, nodes: &[NodeId]) -> Result<(Vec<Tile>, Vec<Place>), TreeError> {
    // A proof needs a handful of tiles: a linear search beats a map.
    let mut tiles: Vec<Tile> = Vec::new();
    let mut located = Vec::with_capacity(nodes.len());
    for node in nodes {
        let (tile, first, count) = locate(size, *node).ok_or(TreeError::NotInTree(*node))?;
        let slot = match tiles.iter().position(|t| *t == tile) {
            Some(slot) => slot,
            None => {
                tiles.push(tile);
                tiles.len() - 1
            }
        };
        located.push((slot, first, count));
    }
    Ok((tiles, located))
}

/// The tiles of the tree of `size` entries that hold these nodes, each once: what a client downloads
/// (in parallel) before making a proof, or a storage fetches ahead.
///
/// ```
/// use consent_core::tlog::{inclusion_nodes, tiles_for};
/// let tiles = tiles_for(10_000_000, &inclusion_nodes(4_000_000, 10_000_000)?)?;
/// let paths: Vec<String> = tiles.iter().map(ToString::to_string).collect();
/// assert_eq!(paths, ["tile/0/x015/625", "tile/1/061", "tile/2/000.p/152", "tile/1/152.p/150",
///                    "tile/0/x039/062.p/128"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tiles_for(size: u64, nodes: &[NodeId]) -> Result<Vec<Tile>, TreeError> {
    Ok(plan(size, nodes)?.0)
}

impl<R: TileReader + ?Sized> HashReader for TileHashReader<'_, R> {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError> {
        let (tiles, located) = plan(self.size, nodes)?;
        let data = read_checked(self.tiles, &tiles)?;
        located
            .iter()
            .zip(nodes)
            .map(|((slot, first, count), node)| {
                data.get(*slot)
                    .and_then(|d| subtree_root(d, *first, *count))
                    .ok_or(TreeError::NotInTree(*node))
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::MemoryTiles;
    use super::super::tree::tests::{Nodes, leaves, mth};
    use super::super::{prove_consistency, prove_inclusion, tile_data, tree_root};
    use super::*;

    /// The tiles of a tree with these leaves, built the slow way.
    pub(crate) fn tiles_of(leaves: &[Hash]) -> MemoryTiles {
        let tiles = MemoryTiles::new();
        let mut level: Vec<Hash> = leaves.to_vec();
        let mut l = 0u8;
        while !level.is_empty() {
            for (i, chunk) in level.chunks(256).enumerate() {
                let tile = Tile::new(l, i as u64, chunk.len() as u16).unwrap();
                tiles.insert(&tile, tile_data(chunk));
            }
            level = level.chunks_exact(256).map(mth).collect();
            l += 1;
        }
        tiles
    }

    #[test]
    fn node_hashes_from_tiles() {
        let all = leaves(70_000);
        let tiles = tiles_of(&all);
        for size in [1u64, 255, 256, 257, 65_535, 65_536, 65_537, 70_000] {
            let reader = TileHashReader::new(size, &tiles);
            let root = tree_root(size, &reader).unwrap();
            assert_eq!(root, mth(&all[..size as usize]), "{size}");
            for index in [0, size / 3, size - 1] {
                let p = prove_inclusion(index, size, &reader).unwrap();
                assert_eq!(p.verify(&all[index as usize], &root), Ok(()));
            }
            if size > 1 {
                let old = size / 2;
                let c = prove_consistency(old, size, &reader).unwrap();
                let old_root = mth(&all[..old as usize]);
                assert_eq!(c.verify(&old_root, &root), Ok(()));
            }
        }
        // The same hashes as a node-by-node store.
        let small = &all[..1000];
        let nodes = Nodes::of_leaves(small);
        let tiles = tiles_of(small);
        let reader = TileHashReader::new(1000, &tiles);
        let ids: Vec<NodeId> = nodes
            .0
            .keys()
            .copied()
            .filter(|n| n.leaves().end <= 1000)
            .collect();
        assert_eq!(
            reader.read_hashes(&ids).unwrap(),
            nodes.read_hashes(&ids).unwrap()
        );
        assert!(matches!(
            reader.read_hashes(&[NodeId::new(0, 1000).unwrap()]),
            Err(TreeError::NotInTree(_))
        ));
    }

    #[test]
    fn bad_tile_data_is_an_error() {
        let tiles = tiles_of(&leaves(10));
        tiles.insert(&Tile::new(0, 0, 10).unwrap(), vec![0; 31]);
        assert!(matches!(
            tree_root(10, &TileHashReader::new(10, &tiles)),
            Err(TreeError::TileLength {
                expected: 320,
                found: 31,
                ..
            })
        ));
        // A wider (later) version of a partial tile is fine.
        let tiles = tiles_of(&leaves(20));
        assert_eq!(
            tree_root(10, &TileHashReader::new(10, &tiles)).unwrap(),
            mth(&leaves(10))
        );
    }
}
