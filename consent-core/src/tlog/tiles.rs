//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): the tree served and stored as tiles of 256 hashes,
//! their paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), their contents, and which tiles a
//! tree has. Reading node hashes from them is `tile_reader.rs`.
//!
//! A hash tile at level *L* holds consecutive hashes of tree level 8*L*: at level 0 leaf hashes, above
//! the roots of full tiles of the level below. A tile's hashes never change; a partial tile (fewer than
//! 256 hashes, the right edge of the tree) only grows at its end until it is full.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::{HASH_LEN, Hash};

/// Hashes in a full tile (C2SP: tiles of height 8).
pub const TILE_WIDTH: u16 = 256;
/// Levels of the tree one level of tiles spans.
pub(crate) const HEIGHT: u32 = 8;
/// Bytes of a full hash tile.
pub const MAX_TILE_LEN: usize = TILE_WIDTH as usize * HASH_LEN;

/// A tile path or tile contents that break C2SP tlog-tiles.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// Not a path of the form `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` in canonical form.
    #[error("invalid tile path: {0}")]
    Path(&'static str),
    /// Coordinates no tree of at most 2⁶⁴ - 1 entries has (a level above 63, a width of 0 or above 256,
    /// hashes past the largest tree).
    #[error("no such tile: {0}")]
    OutOfRange(&'static str),
    /// Hash tile data that is not exactly the tile's width in hashes.
    #[error("tile data is {found} bytes, expected {expected}")]
    Length {
        /// The tile's width times 32.
        expected: usize,
        /// The data's length.
        found: usize,
    },
    /// An entry bundle that does not hold exactly its width of length-prefixed entries.
    #[error("invalid entry bundle: {0}")]
    Bundle(&'static str),
}

/// A hash tile: level, index within the level, and width (256 for a full tile).
///
/// ```
/// use consent_core::tlog::{Tile, TilePath};
/// let tile = Tile::new(0, 1_234_067, 256)?;
/// assert_eq!(tile.to_string(), "tile/0/x001/x234/067");
/// let partial = Tile::new(1, 3, 17)?;
/// assert_eq!(partial.to_string(), "tile/1/003.p/17");
/// assert_eq!("tile/1/003.p/17".parse::<TilePath>()?, TilePath::Hashes(partial));
/// // C2SP's example: a tree of 70,000 entries has 273 full level 0 tiles, a partial one of width 112,
/// // one full level 1 tile, a partial one of width 17, and a partial level 2 tile of width 1.
/// let tiles = Tile::for_tree(70_000);
/// assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);
/// assert_eq!(tiles.iter().filter(|t| !t.is_full()).map(|t| (t.level(), t.width())).collect::<Vec<_>>(),
///            [(0, 112), (1, 17), (2, 1)]);
/// # Ok::<(), consent_core::tlog::TileError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

/// An entry bundle: the entries of the level 0 tile with the same index and width.
///
/// ```
/// use consent_core::tlog::{Bundle, TilePath};
/// let bundle = Bundle::new(7, 3)?;
/// assert_eq!(bundle.to_string(), "tile/entries/007.p/3");
/// assert_eq!(bundle.to_string().parse::<TilePath>()?, TilePath::Entries(bundle));
/// # Ok::<(), consent_core::tlog::TileError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Bundle {
    index: u64,
    width: u16,
}

/// What a path under `tile/` names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes(Tile),
    /// `tile/entries/<N>[.p/<W>]`.
    Entries(Bundle),
}

/// Hashes at tree level 8 × `level` in a tree of `size` entries.
pub(crate) fn hashes_at(level: u8, size: u64) -> u64 {
    size.checked_shr(HEIGHT * u32::from(level)).unwrap_or(0)
}

/// Whether `count` consecutive items at tile level `level`, starting at tile `index`, stay within the
/// largest tree (2⁶⁴ - 1 entries).
fn fits(level: u8, index: u64, width: u16) -> bool {
    index
        .checked_mul(u64::from(TILE_WIDTH))
        .and_then(|first| first.checked_add(u64::from(width)))
        .zip(1u64.checked_shl(HEIGHT * u32::from(level)))
        .is_some_and(|(hashes, span)| hashes.checked_mul(span).is_some())
}

fn check_width(width: u16) -> Result<(), TileError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(TileError::OutOfRange("a width is 1 to 256"));
    }
    Ok(())
}

impl Tile {
    /// A tile the caller knows to be valid (within a tree of at most 2⁶⁴ - 1 entries).
    pub(crate) const fn at(level: u8, index: u64, width: u16) -> Tile {
        Tile {
            level,
            index,
            width,
        }
    }

    /// The hash tile at `level`, `index`, `width` (1 to 256), if a tree of at most 2⁶⁴ - 1 entries can
    /// have it.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Tile, TileError> {
        check_width(width)?;
        if level > 63 {
            return Err(TileError::OutOfRange("a level is 0 to 63"));
        }
        if !fits(level, index, width) {
            return Err(TileError::OutOfRange("past the largest tree"));
        }
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// The tile level (tree level 8 × this).
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The index within the level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Hashes it holds.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether it holds 256 hashes.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// Bytes of its data.
    pub fn data_len(&self) -> usize {
        usize::from(self.width) * HASH_LEN
    }

    /// The same tile at another width (a full tile and its partial versions share their first hashes).
    pub fn with_width(&self, width: u16) -> Result<Tile, TileError> {
        Tile::new(self.level, self.index, width)
    }

    /// Every hash tile of a tree of `size` entries, as C2SP serves them: per level from 0, the full
    /// tiles, then the partial one if the level's count is not a multiple of 256.
    pub fn for_tree(size: u64) -> Vec<Tile> {
        Tile::changed_between(0, size)
    }

    /// The hash tiles that appear or change when a tree grows from `old` to `new` entries: the tiles a
    /// writer stores and a server publishes (Go's `tlog.NewTiles`). Empty when `new <= old`.
    pub fn changed_between(old: u64, new: u64) -> Vec<Tile> {
        let mut tiles = Vec::new();
        for level in 0..8u8 {
            let (from, to) = (hashes_at(level, old), hashes_at(level, new));
            if to <= from {
                continue;
            }
            let width = u64::from(TILE_WIDTH);
            for index in from / width..to.div_ceil(width) {
                let w = (to - index * width).min(width) as u16;
                tiles.push(Tile {
                    level,
                    index,
                    width: w,
                });
            }
        }
        tiles
    }

    /// The partial tiles of a tree of `size` entries, lowest level first: what its root and the next
    /// append are computed from.
    pub fn partial_in(size: u64) -> Vec<Tile> {
        (0..8u8)
            .filter_map(|level| {
                let count = hashes_at(level, size);
                let width = (count % u64::from(TILE_WIDTH)) as u16;
                (width > 0).then_some(Tile {
                    level,
                    index: count / u64::from(TILE_WIDTH),
                    width,
                })
            })
            .collect()
    }
}

impl Bundle {
    /// The entry bundle `index` with `width` entries (1 to 256).
    pub fn new(index: u64, width: u16) -> Result<Bundle, TileError> {
        check_width(width)?;
        if !fits(0, index, width) {
            return Err(TileError::OutOfRange("past the largest tree"));
        }
        Ok(Bundle { index, width })
    }

    /// The index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Entries it holds.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether it holds 256 entries.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The first entry's index in the log.
    pub fn first_entry(&self) -> u64 {
        self.index * u64::from(TILE_WIDTH)
    }

    /// The level 0 hash tile of the same entries.
    pub fn tile(&self) -> Tile {
        Tile {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// The bundle holding entry `index` in a log of `size` entries, with the width it has at that
    /// size; `None` when `index >= size`.
    pub fn of_entry(index: u64, size: u64) -> Option<Bundle> {
        if index >= size {
            return None;
        }
        let width = u64::from(TILE_WIDTH);
        let bundle = index / width;
        Some(Bundle {
            index: bundle,
            width: (size - bundle * width).min(width) as u16,
        })
    }

    /// Every entry bundle of a log of `size` entries.
    pub fn for_tree(size: u64) -> Vec<Bundle> {
        Tile::changed_between(0, size)
            .into_iter()
            .filter(|t| t.level == 0)
            .map(|t| Bundle {
                index: t.index,
                width: t.width,
            })
            .collect()
    }
}

/// Writes `<N>[.p/<W>]`: the index in 3-digit groups, all but the last prefixed with `x`.
fn write_index(f: &mut fmt::Formatter<'_>, index: u64, width: u16) -> fmt::Result {
    let mut groups = [0u16; 7];
    let mut n = index;
    let mut len = 0;
    for g in groups.iter_mut() {
        *g = (n % 1000) as u16;
        n /= 1000;
        len += 1;
        if n == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().take(len).rev().enumerate() {
        if i + 1 < len {
            write!(f, "x{g:03}/")?;
        } else {
            write!(f, "{g:03}")?;
        }
    }
    if width != TILE_WIDTH {
        write!(f, ".p/{width}")?;
    }
    Ok(())
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tile/{}/", self.level)?;
        write_index(f, self.index, self.width)
    }
}

impl fmt::Display for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tile/entries/")?;
        write_index(f, self.index, self.width)
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TilePath::Hashes(t) => t.fmt(f),
            TilePath::Entries(b) => b.fmt(f),
        }
    }
}

/// A decimal of 1 to `max_digits` digits without leading zeros.
fn decimal(s: &str, max_digits: usize) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= max_digits
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

impl core::str::FromStr for TilePath {
    type Err = TileError;

    /// Parses a path relative to the log's prefix, in canonical form only (one text per tile).
    fn from_str(path: &str) -> Result<TilePath, TileError> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or(TileError::Path("does not start with tile/"))?;
        let (level, rest) = rest
            .split_once('/')
            .ok_or(TileError::Path("no tile index"))?;
        let (index, width) = match rest.split_once(".p/") {
            Some((index, w)) => {
                let w = decimal(w, 3).ok_or(TileError::Path("bad partial width"))?;
                if w == 0 || w >= u64::from(TILE_WIDTH) {
                    return Err(TileError::Path("a partial width is 1 to 255"));
                }
                (index, w as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let groups: Vec<&str> = index.split('/').collect();
        if groups.len() > 7 {
            return Err(TileError::Path("tile index too long"));
        }
        let mut n: u64 = 0;
        for (i, g) in groups.iter().enumerate() {
            let digits = if i + 1 < groups.len() {
                g.strip_prefix('x')
                    .ok_or(TileError::Path("index groups but the last start with x"))?
            } else {
                g
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TileError::Path("index groups are 3 digits"));
            }
            let value: u64 = digits
                .parse()
                .map_err(|_| TileError::Path("index groups are 3 digits"))?;
            n = n
                .checked_mul(1000)
                .and_then(|n| n.checked_add(value))
                .ok_or(TileError::OutOfRange("index too large"))?;
        }
        // One text per index: no leading 000 group (`x000/001` is `001`).
        if groups.len() > 1 && groups.first() == Some(&"x000") {
            return Err(TileError::Path("index has a leading zero group"));
        }
        if level == "entries" {
            return Bundle::new(n, width).map(TilePath::Entries);
        }
        let level = decimal(level, 2).ok_or(TileError::Path("bad level"))?;
        if level > 63 {
            return Err(TileError::Path("a level is 0 to 63"));
        }
        Tile::new(level as u8, n, width).map(TilePath::Hashes)
    }
}

/// The hashes of a hash tile's data: exactly its width in hashes.
pub fn tile_hashes(tile: &Tile, data: &[u8]) -> Result<Vec<Hash>, TileError> {
    if data.len() != tile.data_len() {
        return Err(TileError::Length {
            expected: tile.data_len(),
            found: data.len(),
        });
    }
    Ok(data.chunks_exact(HASH_LEN).filter_map(Hash::read).collect())
}

/// A hash tile's data: its hashes, concatenated.
pub fn tile_data(hashes: &[Hash]) -> Vec<u8> {
    hashes
        .iter()
        .flat_map(|h| h.as_bytes().iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tree::tests::leaves;
    use super::*;

    #[test]
    fn paths() {
        // C2SP's example index, and Go's tlog tile path tests (tile/<H>/ dropped: C2SP's height is 8;
        // level 5 of `x123/x456/078` moved to 1, as no tree of u64 size reaches that far at level 5).
        for (tile, path) in [
            (Tile::new(0, 1_234_067, 256), "tile/0/x001/x234/067"),
            (Tile::new(4, 1, 256), "tile/4/001"),
            (Tile::new(4, 1, 5), "tile/4/001.p/5"),
            (Tile::new(1, 123_456_078, 256), "tile/1/x123/x456/078"),
            (Tile::new(1, 123_456_078, 2), "tile/1/x123/x456/078.p/2"),
            (Tile::new(0, 3_057_500, 256), "tile/0/x003/x057/500"),
            (Tile::new(0, 0, 1), "tile/0/000.p/1"),
            (Tile::new(0, 1000, 256), "tile/0/x001/000"),
            (
                Tile::new(0, 72_057_594_037_927_935, 255), // the last level 0 tile of a u64 tree
                "tile/0/x072/x057/x594/x037/x927/935.p/255",
            ),
        ] {
            let tile = tile.unwrap();
            assert_eq!(tile.to_string(), path);
            assert_eq!(path.parse::<TilePath>(), Ok(TilePath::Hashes(tile)));
        }
        assert_eq!(
            "tile/entries/x001/x234/067.p/9".parse::<TilePath>(),
            Ok(TilePath::Entries(Bundle::new(1_234_067, 9).unwrap()))
        );
        for bad in [
            "tile/3/5/123/456/078",
            "tile/5/x123/x456/078",
            "tile/-1/123",
            "tile/data/x003/x057/500",
            "tile/0/001.p/256",
            "tile/0/001.p/0",
            "tile/0/001.p/05",
            "tile/0/001.p/",
            "tile/00/001",
            "tile/01/001",
            "tile/64/000",
            "tile/8/000.p/1",
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/x01/001",
            "tile/0/001/",
            "tile/0/",
            "tile/0",
            "tile/entries/001.p/256",
            "tile/entries/x1/001",
            "/tile/0/001",
            "tiles/0/001",
            "tile/0/x018/x446/x744/x073/x709/x551/615",
            "tile/0/+01",
            "tile/ 0/001",
            "tile/0/001.p/+1",
            "",
        ] {
            assert!(bad.parse::<TilePath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tiles_of_a_tree() {
        // C2SP: "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1".
        assert_eq!(
            Tile::for_tree(256),
            [Tile::new(0, 0, 256).unwrap(), Tile::new(1, 0, 1).unwrap()]
        );
        assert!(Tile::for_tree(0).is_empty());
        // Go's TestNewTilesForSize cases with height 10 do not carry over; these are height 8's.
        assert_eq!(Tile::changed_between(1, 1), []);
        assert_eq!(
            Tile::changed_between(100, 101),
            [Tile::new(0, 0, 101).unwrap()]
        );
        assert_eq!(
            Tile::changed_between(255, 257),
            [
                Tile::new(0, 0, 256).unwrap(),
                Tile::new(0, 1, 1).unwrap(),
                Tile::new(1, 0, 1).unwrap()
            ]
        );
        assert_eq!(
            Tile::changed_between(257, 300),
            [Tile::new(0, 1, 44).unwrap()]
        );
        assert_eq!(Tile::partial_in(70_000).len(), 3);
        assert_eq!(Tile::partial_in(65_536), [Tile::new(2, 0, 1).unwrap()]);
        assert_eq!(Tile::partial_in(u64::MAX).len(), 8);
        assert_eq!(
            Tile::partial_in(u64::MAX).last(),
            Tile::new(7, 0, 255).ok().as_ref()
        );
        assert_eq!(
            Bundle::for_tree(600),
            [
                Bundle::new(0, 256).unwrap(),
                Bundle::new(1, 256).unwrap(),
                Bundle::new(2, 88).unwrap()
            ]
        );
        assert_eq!(Bundle::of_entry(599, 600), Bundle::new(2, 88).ok());
        assert_eq!(Bundle::of_entry(600, 600), None);
        assert!(Tile::new(7, 1, 1).is_err() && Tile::new(8, 0, 1).is_err());
    }

    #[test]
    fn tile_data_round_trip() {
        let hashes = leaves(3);
        let tile = Tile::new(0, 0, 3).unwrap();
        let data = tile_data(&hashes);
        assert_eq!(tile_hashes(&tile, &data), Ok(hashes));
        assert_eq!(
            tile_hashes(&tile, &data[1..]),
            Err(TileError::Length {
                expected: 96,
                found: 95
            })
        );
    }
}
