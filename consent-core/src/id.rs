//! Identifiers: [`Id`] for policy parts and [`PurposeId`] for purposes.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::ParseError;

/// Longest [`Id`], in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest [`PurposeId`], in bytes.
pub const MAX_PURPOSE_ID_LEN: usize = 31;

/// Checks the shared id grammar: `[a-z0-9]` first, then `[a-z0-9-]`, 1 to `max` bytes.
fn check_id(s: &str, max: usize) -> Result<(), ParseError> {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(ParseError::Id("empty"));
    };
    if bytes.len() > max {
        return Err(ParseError::Id("too long"));
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(ParseError::Id(
            "must start with a lowercase letter or digit",
        ));
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return Err(ParseError::Id(
            "only lowercase letters, digits and `-` are allowed",
        ));
    }
    Ok(())
}

/// The id of a policy, audience, data category, recipient or right.
///
/// 1 to 64 bytes: a lowercase ASCII letter or digit, then letters, digits or `-`.
///
/// ```
/// use consent_core::Id;
/// let id: Id = "applicants-students".parse()?;
/// assert_eq!(id.as_str(), "applicants-students");
/// assert!("Applicants".parse::<Id>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(Box<str>);

impl Id {
    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::str::FromStr for Id {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        check_id(s, MAX_ID_LEN)?;
        Ok(Self(s.into()))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// The stable id of a purpose, such as `marketing` or `cookies-analytics`.
///
/// Same grammar as [`Id`] but at most 31 bytes, stored inline: it is `Copy` and cheap to compare, because
/// every consent event carries one.
///
/// ```
/// use consent_core::PurposeId;
/// let p: PurposeId = "cookies-analytics".parse()?;
/// assert_eq!(p.to_string(), "cookies-analytics");
/// assert!("cookies_analytics".parse::<PurposeId>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PurposeId {
    len: u8,
    bytes: [u8; MAX_PURPOSE_ID_LEN],
}

impl PurposeId {
    /// The id as a string.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this never fails.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The id's ASCII bytes: what the request writer writes, without `as_str`'s UTF-8 check (the
    /// banner has no other use for that code).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl core::str::FromStr for PurposeId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        check_id(s, MAX_PURPOSE_ID_LEN)?;
        let mut bytes = [0u8; MAX_PURPOSE_ID_LEN];
        for (slot, b) in bytes.iter_mut().zip(s.bytes()) {
            *slot = b;
        }
        // `check_id` bounds the length by 31.
        let len = u8::try_from(s.len()).map_err(|_| ParseError::Id("too long"))?;
        Ok(Self { len, bytes })
    }
}

impl PartialOrd for PurposeId {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PurposeId {
    /// The order of the ids as strings (their ASCII bytes).
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Display for PurposeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PurposeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_ids_round_trip_and_order_like_strings() {
        let a: PurposeId = "b".parse().unwrap();
        let b: PurposeId = "aa".parse().unwrap();
        assert!(b < a, "ordered as strings, not by length");
        let long = "a".repeat(31);
        assert_eq!(long.parse::<PurposeId>().unwrap().as_str(), long);
        assert!("a".repeat(32).parse::<PurposeId>().is_err());
    }

    #[test]
    fn ids_reject_bad_grammar() {
        for bad in ["", "-a", "A", "a b", "a_b", "é", &"a".repeat(65)] {
            assert!(bad.parse::<Id>().is_err(), "{bad:?}");
        }
        for good in ["a", "0", "a-b-c", "cookies-necessary", &"a".repeat(64)] {
            assert!(good.parse::<Id>().is_ok(), "{good:?}");
        }
    }
}
