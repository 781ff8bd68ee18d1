//! The decisions of a consent request: purpose → given, refused or withdrawn.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::BTreeMap;
use core::fmt;

use crate::{Choice, PurposeId};

/// The decisions of a consent request: a choice per purpose, at most one each, in purpose-id order.
///
/// A sorted vector rather than a `BTreeMap`: a request has a handful of decisions, and the banner,
/// which builds requests, keeps B-tree code out of its wasm. Converts to and from the
/// `BTreeMap<PurposeId, Choice>` of [`crate::ReceiptRequest`].
///
/// ```
/// use consent_core::{Choice, Decisions};
/// let mut d = Decisions::new();
/// d.insert("cookies-marketing".parse()?, Choice::Refused);
/// d.insert("cookies-analytics".parse()?, Choice::Given);
/// assert_eq!(d.insert("cookies-analytics".parse()?, Choice::Withdrawn), Some(Choice::Given));
/// let ids: Vec<&str> = d.iter().map(|(p, _)| p.as_str()).collect();
/// assert_eq!(ids, ["cookies-analytics", "cookies-marketing"]);
/// assert_eq!(d.get("cookies-analytics".parse()?), Some(Choice::Withdrawn));
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Decisions(Vec<(PurposeId, Choice)>);

impl Decisions {
    /// No decisions.
    pub const fn new() -> Decisions {
        Decisions(Vec::new())
    }

    /// Sets the choice for `purpose`; returns the one it replaces.
    pub fn insert(&mut self, purpose: PurposeId, choice: Choice) -> Option<Choice> {
        // Searched from the end: readers insert in order, so each insert looks at one entry.
        let i = self
            .0
            .iter()
            .rposition(|(p, _)| *p < purpose)
            .map_or(0, |i| i + 1);
        match self.0.get_mut(i) {
            Some(slot) if slot.0 == purpose => Some(core::mem::replace(&mut slot.1, choice)),
            _ => {
                self.0.insert(i, (purpose, choice));
                None
            }
        }
    }

    /// The choice for `purpose`, if decided.
    pub fn get(&self, purpose: PurposeId) -> Option<Choice> {
        self.0
            .binary_search_by(|(p, _)| p.cmp(&purpose))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, c)| *c)
    }

    /// How many purposes are decided.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is decided.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The decisions, in purpose-id order.
    pub fn iter(&self) -> core::slice::Iter<'_, (PurposeId, Choice)> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a Decisions {
    type Item = &'a (PurposeId, Choice);
    type IntoIter = core::slice::Iter<'a, (PurposeId, Choice)>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<(PurposeId, Choice)> for Decisions {
    /// Later choices for the same purpose replace earlier ones.
    fn from_iter<I: IntoIterator<Item = (PurposeId, Choice)>>(items: I) -> Decisions {
        let mut d = Decisions::new();
        d.extend(items);
        d
    }
}

impl Extend<(PurposeId, Choice)> for Decisions {
    fn extend<I: IntoIterator<Item = (PurposeId, Choice)>>(&mut self, items: I) {
        for (p, c) in items {
            self.insert(p, c);
        }
    }
}

impl From<BTreeMap<PurposeId, Choice>> for Decisions {
    fn from(map: BTreeMap<PurposeId, Choice>) -> Decisions {
        Decisions(map.into_iter().collect())
    }
}

impl From<Decisions> for BTreeMap<PurposeId, Choice> {
    fn from(d: Decisions) -> BTreeMap<PurposeId, Choice> {
        d.0.into_iter().collect()
    }
}

impl fmt::Debug for Decisions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(p, c)| (p, c)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PurposeId {
        s.parse().unwrap()
    }

    #[test]
    fn behaves_like_a_btree_map() {
        let ops = [
            ("b", Choice::Given),
            ("a", Choice::Refused),
            ("c", Choice::Withdrawn),
            ("b", Choice::Refused),
            ("a-b", Choice::Given),
            ("a", Choice::Given),
            ("0", Choice::Withdrawn),
        ];
        let mut ours = Decisions::new();
        let mut map = BTreeMap::new();
        for (p, c) in ops {
            assert_eq!(ours.insert(id(p), c), map.insert(id(p), c), "{p}");
            assert_eq!(ours.len(), map.len());
        }
        assert!(ours.iter().map(|(p, c)| (p, c)).eq(map.iter()));
        for p in ["a", "b", "zz"] {
            assert_eq!(ours.get(id(p)), map.get(&id(p)).copied());
        }
        assert_eq!(BTreeMap::from(ours.clone()), map);
        assert_eq!(Decisions::from(map), ours);
    }
}
