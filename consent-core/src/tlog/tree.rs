//! Making roots and proofs from stored hashes (RFC 6962 §2.1, RFC 9162 §2.1), reading only the hashes
//! they need: a root of a tree of size *n* reads at most log₂ *n* + 1 hashes, a proof at most 2 log₂ *n*,
//! in one call to a [`HashReader`].
//!
//! Stored hashes are those of *complete* subtrees ([`NodeId`]), which never change once the log has
//! grown past them: the ragged right edge of a tree is recomputed from them on every read. This is how
//! Go's `golang.org/x/mod/sumdb/tlog` and C2SP tlog-tiles keep a log.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::{ConsistencyProof, Hash, InclusionProof, ProofError, TreeError};

/// A complete subtree of the log's tree: `2^level` leaves, starting at leaf `index << level`.
///
/// Level 0 holds the leaf hashes, level 1 the hashes of pairs of leaves, and so on.
///
/// ```
/// use consent_core::tlog::NodeId;
/// let node = NodeId::new(3, 2).unwrap();
/// assert_eq!(node.leaves(), 16..24);
/// assert!(NodeId::new(64, 0).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeId {
    level: u8,
    index: u64,
}

impl NodeId {
    /// The node at `level` (0 to 63) and `index` within it, if its leaves fit in a tree of `u64` size.
    pub const fn new(level: u8, index: u64) -> Option<NodeId> {
        if level >= 64 || index >= (u64::MAX >> level) {
            return None;
        }
        Some(NodeId { level, index })
    }

    /// The level: 0 for leaves.
    pub const fn level(self) -> u8 {
        self.level
    }

    /// The index within the level.
    pub const fn index(self) -> u64 {
        self.index
    }

    /// The leaves it covers.
    pub const fn leaves(self) -> core::ops::Range<u64> {
        (self.index << self.level)..((self.index + 1) << self.level)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.level, self.index)
    }
}

/// Reads the hashes of complete subtrees from the log's storage.
///
/// The server implements it over its tiles ([`TileHashReader`](super::TileHashReader)); tests and
/// other storages can implement it directly.
pub trait HashReader {
    /// The hash of each node, in the order asked. Every node asked for is a complete subtree of the
    /// tree being read; an implementation returns exactly one hash per node, or an error (storage
    /// errors through [`TreeError::storage`]).
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError> {
        (**self).read_hashes(nodes)
    }
}

/// Appends to `out` the complete subtrees that make up the leaves `lo..hi`, largest first: RFC 6962's
/// split of a range at the largest power of two smaller than its size, applied until every part is a
/// power of two. `lo` is a multiple of a power of two at least `hi - lo` wherever this is called, so
/// the parts are aligned; the `min` keeps them aligned for any range.
pub(crate) fn range_nodes(lo: u64, hi: u64, out: &mut Vec<NodeId>) {
    let mut lo = lo;
    while lo < hi {
        let mut level = 63 - (hi - lo).leading_zeros();
        if lo != 0 {
            level = level.min(lo.trailing_zeros());
        }
        out.push(NodeId {
            level: level as u8,
            index: lo >> level,
        });
        lo += 1 << level;
    }
}

/// The Merkle Tree Hash of consecutive complete subtrees given left to right (RFC 6962's MTH of a range
/// split as [`range_nodes`] splits it): each left part is joined to the hash of everything on its right.
pub(crate) fn join(parts: &[Hash]) -> Option<Hash> {
    let (last, rest) = parts.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| Hash::node(h, &acc)))
}

/// Which nodes a list of proof hashes is made of: proof hash `i` is the [`join`] of the next `counts[i]`
/// nodes.
struct Plan {
    nodes: Vec<NodeId>,
    counts: Vec<usize>,
}

impl Plan {
    /// A plan for the hashes of these ranges of leaves, in order.
    fn of_ranges(ranges: impl Iterator<Item = (u64, u64)>) -> Plan {
        let mut plan = Plan {
            nodes: Vec::new(),
            counts: Vec::new(),
        };
        for (lo, hi) in ranges {
            let before = plan.nodes.len();
            range_nodes(lo, hi, &mut plan.nodes);
            plan.counts.push(plan.nodes.len() - before);
        }
        plan
    }

    fn read(&self, reader: &(impl HashReader + ?Sized)) -> Result<Vec<Hash>, TreeError> {
        if self.nodes.is_empty() {
            return Ok(Vec::new());
        }
        let hashes = reader.read_hashes(&self.nodes)?;
        let short = || TreeError::ShortRead {
            expected: self.nodes.len(),
            found: hashes.len(),
        };
        if hashes.len() != self.nodes.len() {
            return Err(short());
        }
        let mut rest = hashes.as_slice();
        let mut out = Vec::with_capacity(self.counts.len());
        for &count in &self.counts {
            // Every count is at least 1 and they add up to the number of nodes.
            let (part, tail) = rest.split_at_checked(count).ok_or_else(short)?;
            out.push(join(part).ok_or_else(short)?);
            rest = tail;
        }
        Ok(out)
    }
}

/// The nodes [`tree_root`] reads for a tree of `size` leaves (the complete subtrees it is made of,
/// largest first): at most 64, one per bit set in `size`.
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    range_nodes(0, size, &mut nodes);
    nodes
}

/// The root (Merkle Tree Hash) of the tree of the first `size` leaves, from the stored hashes of its
/// complete subtrees ([`root_nodes`]); [`Hash::EMPTY`] for size 0.
///
/// ```
/// use consent_core::tlog::{tree_root, Hash, HashReader, NodeId, TreeError};
/// /// A tree of three leaves, stored node by node.
/// struct Three([Hash; 3]);
/// impl HashReader for Three {
///     fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError> {
///         let [a, b, c] = self.0;
///         Ok(nodes.iter().map(|n| match (n.level(), n.index()) {
///             (1, 0) => Hash::node(&a, &b),
///             (0, 2) => c,
///             _ => unreachable!("a root of size 3 reads 1/0 and 0/2"),
///         }).collect())
///     }
/// }
/// let leaves = [Hash::leaf(b"a"), Hash::leaf(b"b"), Hash::leaf(b"c")];
/// let root = tree_root(3, &Three(leaves))?;
/// assert_eq!(root, Hash::node(&Hash::node(&leaves[0], &leaves[1]), &leaves[2]));
/// # Ok::<(), TreeError>(())
/// ```
pub fn tree_root(size: u64, reader: &(impl HashReader + ?Sized)) -> Result<Hash, TreeError> {
    let plan = Plan::of_ranges((size > 0).then_some((0, size)).into_iter());
    Ok(plan.read(reader)?.first().copied().unwrap_or(Hash::EMPTY))
}

/// The largest power of two smaller than `n` (`n` ≥ 2): where RFC 6962 splits a tree of `n` leaves.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The leaf ranges whose hashes make up the inclusion proof of `index` in a tree of `size` leaves,
/// from the leaf's sibling up (RFC 6962 §2.1.1, `PATH`).
fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0, size);
    let mut ranges = Vec::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    ranges
}

/// The leaf ranges whose hashes make up the consistency proof from `old` to `new` leaves, in proof
/// order (RFC 6962 §2.1.2, `SUBPROOF`). `0 < old <= new`.
fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0, new);
    let mut ranges = Vec::new();
    loop {
        if old == hi {
            // The old tree's last subtree: known to the verifier when it is the whole old tree.
            if lo != 0 {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split(hi - lo);
        if old <= lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    ranges
}

fn inclusion_plan(index: u64, size: u64) -> Result<Plan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    Ok(Plan::of_ranges(inclusion_ranges(index, size).into_iter()))
}

fn consistency_plan(old: u64, new: u64) -> Result<Plan, ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::InvalidSizes { old, new });
    }
    Ok(Plan::of_ranges(consistency_ranges(old, new).into_iter()))
}

/// The nodes [`prove_inclusion`] reads (at most 2 log₂ `size`), for a storage that wants to fetch them
/// ahead.
pub fn inclusion_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, ProofError> {
    Ok(inclusion_plan(index, size)?.nodes)
}

/// The nodes [`prove_consistency`] reads (at most 2 log₂ `new`).
pub fn consistency_nodes(old: u64, new: u64) -> Result<Vec<NodeId>, ProofError> {
    Ok(consistency_plan(old, new)?.nodes)
}

/// The inclusion proof of entry `index` in the tree of the first `size` entries, from stored hashes.
///
/// Fails with [`ProofError::IndexOutOfRange`] (inside [`TreeError::Proof`]) when `index >= size`.
pub fn prove_inclusion(
    index: u64,
    size: u64,
    reader: &(impl HashReader + ?Sized),
) -> Result<InclusionProof, TreeError> {
    let path = inclusion_plan(index, size)?.read(reader)?;
    Ok(InclusionProof::new(index, size, path))
}

/// The consistency proof from the tree of the first `old` entries to that of the first `new`, from
/// stored hashes. The old tree may not be empty (every tree extends the empty one; there is nothing to
/// prove) nor larger than the new one.
pub fn prove_consistency(
    old: u64,
    new: u64,
    reader: &(impl HashReader + ?Sized),
) -> Result<ConsistencyProof, TreeError> {
    let path = consistency_plan(old, new)?.read(reader)?;
    Ok(ConsistencyProof::new(old, new, path))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tree kept node by node in memory, built from its leaves the slow way (the test's reference).
    pub(crate) struct Nodes(pub(crate) BTreeMap<NodeId, Hash>);

    impl Nodes {
        pub(crate) fn of_leaves(leaves: &[Hash]) -> Nodes {
            let mut map = BTreeMap::new();
            let mut level: Vec<Hash> = leaves.to_vec();
            for l in 0..64u8 {
                for (i, h) in level.iter().enumerate() {
                    map.insert(NodeId::new(l, i as u64).unwrap(), *h);
                }
                if level.len() < 2 {
                    break;
                }
                level = level
                    .chunks_exact(2)
                    .map(|p| Hash::node(&p[0], &p[1]))
                    .collect();
            }
            Nodes(map)
        }
    }

    impl HashReader for Nodes {
        fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError> {
            nodes
                .iter()
                .map(|n| self.0.get(n).copied().ok_or(TreeError::NotInTree(*n)))
                .collect()
        }
    }

    /// RFC 6962 §2.1's MTH, by its recursive definition.
    pub(crate) fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Hash::EMPTY,
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                Hash::node(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// RFC 6962 §2.1.1's PATH, by its recursive definition.
    pub(crate) fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n as u64) as usize;
        let (mut p, sibling) = if m < k {
            (path(m, &leaves[..k]), mth(&leaves[k..]))
        } else {
            (path(m - k, &leaves[k..]), mth(&leaves[..k]))
        };
        p.push(sibling);
        p
    }

    /// RFC 6962 §2.1.2's SUBPROOF, by its recursive definition.
    pub(crate) fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole { Vec::new() } else { vec![mth(leaves)] };
        }
        let k = split(n as u64) as usize;
        let (mut p, sibling) = if m <= k {
            (subproof(m, &leaves[..k], whole), mth(&leaves[k..]))
        } else {
            (subproof(m - k, &leaves[k..], false), mth(&leaves[..k]))
        };
        p.push(sibling);
        p
    }

    pub(crate) fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| Hash::leaf(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn roots_and_proofs_follow_the_rfc_definitions() {
        let all = leaves(70);
        let store = Nodes::of_leaves(&all);
        for n in 0..=all.len() {
            assert_eq!(tree_root(n as u64, &store).unwrap(), mth(&all[..n]), "{n}");
            for m in 0..n {
                let p = prove_inclusion(m as u64, n as u64, &store).unwrap();
                assert_eq!(p.path(), path(m, &all[..n]), "inclusion {m} {n}");
                let c = prove_consistency(m as u64 + 1, n as u64, &store).unwrap();
                assert_eq!(
                    c.path(),
                    subproof(m + 1, &all[..n], true),
                    "consistency {m} {n}"
                );
            }
        }
    }

    #[test]
    fn reads_are_logarithmic() {
        let size = 10_000_000u64;
        for index in [0, 1, 255, 256, 4_999_999, 9_999_999] {
            let n = inclusion_nodes(index, size).unwrap().len();
            assert!(n <= 2 * 24, "{index}: {n}");
        }
        assert!(consistency_nodes(3_333_333, size).unwrap().len() <= 2 * 24);
        assert_eq!(root_nodes(size).len(), size.count_ones() as usize);
        assert_eq!(root_nodes(u64::MAX).len(), 64);
    }

    #[test]
    fn bad_arguments() {
        let store = Nodes::of_leaves(&leaves(4));
        assert!(matches!(
            prove_inclusion(4, 4, &store),
            Err(TreeError::Proof(ProofError::IndexOutOfRange {
                index: 4,
                size: 4
            }))
        ));
        for (old, new) in [(0, 0), (0, 3), (4, 3)] {
            assert!(matches!(
                prove_consistency(old, new, &store),
                Err(TreeError::Proof(ProofError::InvalidSizes { .. }))
            ));
        }
        assert_eq!(prove_consistency(3, 3, &store).unwrap().path(), &[]);
        // The largest sizes do not overflow.
        assert_eq!(inclusion_nodes(u64::MAX - 1, u64::MAX).unwrap().len(), 63);
        assert!(consistency_nodes(u64::MAX - 1, u64::MAX).unwrap().len() <= 128);
    }

    #[test]
    fn short_reads_are_errors() {
        struct Short;
        impl HashReader for Short {
            fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TreeError> {
                Ok(vec![Hash::EMPTY; nodes.len() - 1])
            }
        }
        assert!(matches!(
            prove_inclusion(0, 8, &Short),
            Err(TreeError::ShortRead {
                expected: 3,
                found: 2
            })
        ));
    }
}
