//! Sets of purposes, by their stable codes: what the consent token stores and what the choice logic
//! computes with.

use core::fmt;
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Sub, SubAssign};

/// A set of purposes, by their stable codes (0 to 63): bit `n` stands for the purpose with `code` *n*.
///
/// `Copy`, one `u64`, no allocation: the consent token stores two of these, and the banner and the
/// server compute choices with them ([`crate::PurposeScope`]). The operators are the set operations:
/// `|` union, `&` intersection, `-` difference.
///
/// ```
/// use consent_core::PurposeSet;
/// let mut s = PurposeSet::EMPTY;
/// s.insert(8);
/// assert!(s.contains(8) && !s.contains(9));
/// assert_eq!(s.codes().collect::<Vec<_>>(), [8]);
///
/// let cookies = PurposeSet::from_codes([10, 11, 12, 13]);
/// let marketing = PurposeSet::from_codes([8, 13]);
/// assert_eq!(cookies - marketing, PurposeSet::from_codes([10, 11, 12]));
/// assert_eq!(cookies & marketing, PurposeSet::of(13));
/// assert_eq!((cookies | marketing).len(), 5);
/// assert!(PurposeSet::of(13).is_subset(cookies));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PurposeSet(pub u64);

impl PurposeSet {
    /// No purposes.
    pub const EMPTY: PurposeSet = PurposeSet(0);

    /// The set of the one purpose with this code (empty for codes above 63: policies never have them).
    ///
    /// ```
    /// assert_eq!(consent_core::PurposeSet::of(3).0, 0b1000);
    /// assert!(consent_core::PurposeSet::of(64).is_empty());
    /// ```
    pub const fn of(code: u8) -> PurposeSet {
        if code < 64 {
            PurposeSet(1 << code)
        } else {
            PurposeSet::EMPTY
        }
    }

    /// The set of these codes (codes above 63 are ignored).
    ///
    /// ```
    /// use consent_core::PurposeSet;
    /// assert_eq!(PurposeSet::from_codes([1, 3, 1]).codes().collect::<Vec<_>>(), [1, 3]);
    /// ```
    pub fn from_codes(codes: impl IntoIterator<Item = u8>) -> PurposeSet {
        codes
            .into_iter()
            .fold(PurposeSet::EMPTY, |set, code| set | PurposeSet::of(code))
    }

    /// Adds the purpose with this code (codes above 63 are ignored: policies never have them).
    pub fn insert(&mut self, code: u8) {
        *self |= PurposeSet::of(code);
    }

    /// Removes the purpose with this code.
    ///
    /// ```
    /// let mut s = consent_core::PurposeSet::from_codes([1, 2]);
    /// s.remove(1);
    /// assert_eq!(s, consent_core::PurposeSet::of(2));
    /// ```
    pub fn remove(&mut self, code: u8) {
        *self -= PurposeSet::of(code);
    }

    /// Whether the purpose with this code is in the set.
    pub const fn contains(self, code: u8) -> bool {
        self.0 & PurposeSet::of(code).0 != 0
    }

    /// Whether the set has no purposes.
    ///
    /// ```
    /// assert!(consent_core::PurposeSet::EMPTY.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many purposes the set has.
    ///
    /// ```
    /// assert_eq!(consent_core::PurposeSet::from_codes([0, 63]).len(), 2);
    /// ```
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The purposes in either set.
    ///
    /// ```
    /// use consent_core::PurposeSet;
    /// assert_eq!(PurposeSet::of(1).union(PurposeSet::of(2)), PurposeSet::from_codes([1, 2]));
    /// ```
    pub const fn union(self, other: PurposeSet) -> PurposeSet {
        PurposeSet(self.0 | other.0)
    }

    /// The purposes in both sets.
    ///
    /// ```
    /// use consent_core::PurposeSet;
    /// let a = PurposeSet::from_codes([1, 2]);
    /// assert_eq!(a.intersection(PurposeSet::from_codes([2, 3])), PurposeSet::of(2));
    /// ```
    pub const fn intersection(self, other: PurposeSet) -> PurposeSet {
        PurposeSet(self.0 & other.0)
    }

    /// The purposes in `self` but not in `other`.
    ///
    /// ```
    /// use consent_core::PurposeSet;
    /// let a = PurposeSet::from_codes([1, 2]);
    /// assert_eq!(a.difference(PurposeSet::from_codes([2, 3])), PurposeSet::of(1));
    /// ```
    pub const fn difference(self, other: PurposeSet) -> PurposeSet {
        PurposeSet(self.0 & !other.0)
    }

    /// Whether every purpose of `self` is in `other`.
    ///
    /// ```
    /// use consent_core::PurposeSet;
    /// assert!(PurposeSet::EMPTY.is_subset(PurposeSet::of(1)));
    /// assert!(!PurposeSet::of(2).is_subset(PurposeSet::of(1)));
    /// ```
    pub const fn is_subset(self, other: PurposeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The codes in the set, ascending.
    pub fn codes(self) -> PurposeCodes {
        PurposeCodes(self.0)
    }
}

/// The codes of a [`PurposeSet`], ascending ([`PurposeSet::codes`]).
///
/// ```
/// let s = consent_core::PurposeSet::from_codes([40, 2]);
/// assert_eq!(s.into_iter().collect::<Vec<u8>>(), [2, 40]);
/// ```
#[derive(Clone, Debug)]
pub struct PurposeCodes(u64);

impl Iterator for PurposeCodes {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.0 == 0 {
            return None;
        }
        let code = self.0.trailing_zeros() as u8;
        self.0 &= self.0 - 1;
        Some(code)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for PurposeCodes {}

impl IntoIterator for PurposeSet {
    type Item = u8;
    type IntoIter = PurposeCodes;

    fn into_iter(self) -> PurposeCodes {
        self.codes()
    }
}

impl FromIterator<u8> for PurposeSet {
    fn from_iter<I: IntoIterator<Item = u8>>(codes: I) -> PurposeSet {
        PurposeSet::from_codes(codes)
    }
}

impl BitOr for PurposeSet {
    type Output = PurposeSet;
    fn bitor(self, other: PurposeSet) -> PurposeSet {
        self.union(other)
    }
}

impl BitOrAssign for PurposeSet {
    fn bitor_assign(&mut self, other: PurposeSet) {
        *self = self.union(other);
    }
}

impl BitAnd for PurposeSet {
    type Output = PurposeSet;
    fn bitand(self, other: PurposeSet) -> PurposeSet {
        self.intersection(other)
    }
}

impl BitAndAssign for PurposeSet {
    fn bitand_assign(&mut self, other: PurposeSet) {
        *self = self.intersection(other);
    }
}

impl Sub for PurposeSet {
    type Output = PurposeSet;
    fn sub(self, other: PurposeSet) -> PurposeSet {
        self.difference(other)
    }
}

impl SubAssign for PurposeSet {
    fn sub_assign(&mut self, other: PurposeSet) {
        *self = self.difference(other);
    }
}

impl fmt::Debug for PurposeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.codes()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_ascend_and_agree_with_contains() {
        for bits in [0, 1, u64::MAX, 1 << 63, 0x8000_0000_0000_0001, 0xdead_beef] {
            let s = PurposeSet(bits);
            let codes: alloc::vec::Vec<u8> = s.codes().collect();
            let expected: alloc::vec::Vec<u8> = (0u8..64).filter(|c| s.contains(*c)).collect();
            assert_eq!(codes, expected);
            assert_eq!(s.codes().len(), s.len());
            assert_eq!(PurposeSet::from_codes(codes), s);
        }
        assert!(!PurposeSet(u64::MAX).contains(64));
    }

    #[test]
    fn insert_and_remove_ignore_codes_out_of_range() {
        let mut s = PurposeSet::EMPTY;
        s.insert(64);
        s.insert(200);
        assert!(s.is_empty());
        s.insert(63);
        s.remove(64);
        assert_eq!(s, PurposeSet::of(63));
        s.remove(63);
        assert!(s.is_empty());
    }
}
