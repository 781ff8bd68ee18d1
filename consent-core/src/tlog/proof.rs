//! Verifying inclusion and consistency proofs, with the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.
//!
//! These walk the bits of the index and sizes; the proofs are made (`tree.rs`) by RFC 6962's recursive
//! split instead, so the two sides share no tree arithmetic and a mistake in one cannot hide in the
//! other.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{Hash, ProofError};

/// A proof that an entry is in a tree: the hashes from the entry's sibling up to the root's child
/// (RFC 6962 §2.1.1's audit path, RFC 9162's inclusion path).
///
/// ```
/// use consent_core::tlog::{Hash, InclusionProof, ProofError};
/// let (a, b, c) = (Hash::leaf(b"a"), Hash::leaf(b"b"), Hash::leaf(b"c"));
/// let root = Hash::node(&Hash::node(&a, &b), &c);
/// let proof = InclusionProof::new(1, 3, vec![a, c]);
/// assert_eq!(proof.verify(&b, &root), Ok(()));
/// assert_eq!(proof.verify(&a, &root), Err(ProofError::RootMismatch));
/// let moved = InclusionProof::new(2, 3, vec![a, c]);
/// assert_eq!(moved.verify(&b, &root), Err(ProofError::WrongLength { expected: 1, found: 2 }));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InclusionProof {
    index: u64,
    size: u64,
    path: Vec<Hash>,
}

/// The number of hashes of an inclusion proof (RFC 9162 §2.1.3.2): one per level below the point where
/// the paths to `index` and to the last leaf part (`inner`), and one per left sibling above it.
fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

impl InclusionProof {
    /// A proof that entry `index` is in the tree of the first `size` entries, with its path.
    pub fn new(index: u64, size: u64, path: Vec<Hash>) -> InclusionProof {
        InclusionProof { index, size, path }
    }

    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The tree's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes, from the entry's sibling up.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// The root this proof leads to from the entry's leaf hash ([`Hash::leaf`] of the entry).
    ///
    /// Fails when the index is not in the tree or the path has the wrong length for them.
    pub fn root(&self, leaf: &Hash) -> Result<Hash, ProofError> {
        let (index, size) = (self.index, self.size);
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let wrong_length = ProofError::WrongLength {
            expected: inclusion_len(index, size),
            found: self.path.len(),
        };
        if self.path.len() != inclusion_len(index, size) {
            return Err(wrong_length);
        }
        // RFC 9162 §2.1.3.2, steps 2 to 5.
        let (mut f, mut s) = (index, size - 1);
        let mut r = *leaf;
        for p in &self.path {
            if s == 0 {
                return Err(wrong_length);
            }
            if f & 1 == 1 || f == s {
                r = Hash::node(p, &r);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                r = Hash::node(&r, p);
            }
            f >>= 1;
            s >>= 1;
        }
        if s != 0 {
            return Err(wrong_length);
        }
        Ok(r)
    }

    /// Checks that the entry with this leaf hash is at the proof's index in the tree of the proof's
    /// size whose root is `root` (taken from a verified checkpoint of that size).
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        if self.root(leaf)? == *root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        }
    }
}

/// A proof that a tree is an extension of an earlier one: every entry of the old tree is in the new
/// one, at the same index (RFC 6962 §2.1.2, RFC 9162 §2.1.4).
///
/// ```
/// use consent_core::tlog::{ConsistencyProof, Hash, ProofError};
/// let (a, b, c) = (Hash::leaf(b"a"), Hash::leaf(b"b"), Hash::leaf(b"c"));
/// let (old, new) = (Hash::node(&a, &b), Hash::node(&Hash::node(&a, &b), &c));
/// let proof = ConsistencyProof::new(2, 3, vec![c]);
/// assert_eq!(proof.verify(&old, &new), Ok(()));
/// // A log that rewrote entry 1 cannot prove the extension.
/// let rewritten = Hash::node(&a, &Hash::leaf(b"B"));
/// assert_eq!(proof.verify(&rewritten, &new), Err(ProofError::RootMismatch));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConsistencyProof {
    old: u64,
    new: u64,
    path: Vec<Hash>,
}

/// The number of hashes of a consistency proof for `0 < old < new`.
fn consistency_len(old: u64, new: u64) -> usize {
    // Where the paths to the old and the new tree's last leaves part, and the left siblings above.
    let inner = 64 - ((old - 1) ^ (new - 1)).leading_zeros();
    let border = (old - 1).checked_shr(inner).unwrap_or(0).count_ones();
    // The proof starts at the old tree's rightmost complete subtree, and names it unless it is the
    // whole old tree (a power of two), which the verifier knows.
    let shift = old.trailing_zeros();
    let seed = usize::from(!old.is_power_of_two());
    seed + (inner - shift + border) as usize
}

impl ConsistencyProof {
    /// A proof that the tree of `new` entries extends that of `old` entries, with its path.
    pub fn new(old: u64, new: u64, path: Vec<Hash>) -> ConsistencyProof {
        ConsistencyProof { old, new, path }
    }

    /// The old tree's size.
    pub fn old_size(&self) -> u64 {
        self.old
    }

    /// The new tree's size.
    pub fn new_size(&self) -> u64 {
        self.new
    }

    /// The hashes, in RFC 6962's order.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// Checks that the tree of the new size with root `new_root` extends the tree of the old size with
    /// root `old_root`. Equal sizes need an empty proof and equal roots; an empty old tree has no proof
    /// (every tree extends it).
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        let (old, new) = (self.old, self.new);
        if old == 0 || old > new {
            return Err(ProofError::InvalidSizes { old, new });
        }
        let expected = if old == new {
            0
        } else {
            consistency_len(old, new)
        };
        let wrong_length = ProofError::WrongLength {
            expected,
            found: self.path.len(),
        };
        if self.path.len() != expected {
            return Err(wrong_length);
        }
        if old == new {
            return if old_root == new_root {
                Ok(())
            } else {
                Err(ProofError::RootMismatch)
            };
        }
        // RFC 9162 §2.1.4.2, steps 2 to 7.
        let seeded: Vec<Hash>;
        let path = if old.is_power_of_two() {
            seeded = core::iter::once(*old_root)
                .chain(self.path.iter().copied())
                .collect();
            &seeded
        } else {
            &self.path
        };
        let (mut f, mut s) = (old - 1, new - 1);
        while f & 1 == 1 {
            f >>= 1;
            s >>= 1;
        }
        let (first, rest) = path.split_first().ok_or(wrong_length)?;
        let (mut fr, mut sr) = (*first, *first);
        for c in rest {
            if s == 0 {
                return Err(wrong_length);
            }
            if f & 1 == 1 || f == s {
                fr = Hash::node(c, &fr);
                sr = Hash::node(c, &sr);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                sr = Hash::node(&sr, c);
            }
            f >>= 1;
            s >>= 1;
        }
        if s != 0 {
            return Err(wrong_length);
        }
        if fr != *old_root {
            return Err(ProofError::OldRootMismatch);
        }
        if sr != *new_root {
            return Err(ProofError::RootMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::tests::{leaves, mth, path, subproof};
    use super::*;

    #[test]
    fn lengths_match_the_rfc_paths() {
        let all = leaves(80);
        for n in 1..=all.len() {
            for m in 0..n {
                assert_eq!(inclusion_len(m as u64, n as u64), path(m, &all[..n]).len());
                if m > 0 {
                    assert_eq!(
                        consistency_len(m as u64, n as u64),
                        subproof(m, &all[..n], true).len(),
                        "{m} {n}"
                    );
                }
            }
        }
        assert_eq!(inclusion_len(0, u64::MAX), 64);
        assert_eq!(inclusion_len(u64::MAX - 1, u64::MAX), 63);
        assert!(consistency_len(1, u64::MAX) <= 64);
    }

    #[test]
    fn rfc_paths_verify() {
        let all = leaves(40);
        for n in 1..=all.len() {
            let root = mth(&all[..n]);
            for m in 0..n {
                let p = InclusionProof::new(m as u64, n as u64, path(m, &all[..n]));
                assert_eq!(p.verify(&all[m], &root), Ok(()), "inclusion {m} {n}");
                let old = m + 1;
                let c = ConsistencyProof::new(old as u64, n as u64, subproof(old, &all[..n], true));
                assert_eq!(
                    c.verify(&mth(&all[..old]), &root),
                    Ok(()),
                    "consistency {old} {n}"
                );
            }
        }
    }

    #[test]
    fn consistency_edge_cases() {
        let h = Hash::leaf(b"x");
        let same = ConsistencyProof::new(5, 5, vec![]);
        assert_eq!(same.verify(&h, &h), Ok(()));
        assert_eq!(same.verify(&h, &Hash::EMPTY), Err(ProofError::RootMismatch));
        assert_eq!(
            ConsistencyProof::new(5, 5, vec![h]).verify(&h, &h),
            Err(ProofError::WrongLength {
                expected: 0,
                found: 1
            })
        );
        for (old, new) in [(0, 0), (0, 1), (2, 1)] {
            assert_eq!(
                ConsistencyProof::new(old, new, vec![]).verify(&Hash::EMPTY, &Hash::EMPTY),
                Err(ProofError::InvalidSizes { old, new })
            );
        }
        assert_eq!(
            InclusionProof::new(0, 0, vec![]).verify(&h, &h),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(InclusionProof::new(0, 1, vec![]).verify(&h, &h), Ok(()));
    }
}
