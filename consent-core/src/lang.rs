//! Language codes.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::ParseError;

/// A language code: 2 or 3 lowercase ASCII letters, such as `kk`, `ru` or `en`.
///
/// ```
/// use consent_core::Lang;
/// assert_eq!("kk".parse::<Lang>()?, Lang::KK);
/// assert!("KK".parse::<Lang>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lang([u8; 3]);

impl Lang {
    /// Kazakh, the policy's original language.
    pub const KK: Lang = Lang(*b"kk\0");
    /// Russian.
    pub const RU: Lang = Lang(*b"ru\0");
    /// English.
    pub const EN: Lang = Lang(*b"en\0");

    /// The code as a string.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The code's ASCII bytes (see `PurposeId::as_bytes`).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        let len = if self.0[2] == 0 { 2 } else { 3 };
        self.0.get(..len).unwrap_or_default()
    }
}

impl core::str::FromStr for Lang {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        if !(2..=3).contains(&b.len()) || !b.iter().all(u8::is_ascii_lowercase) {
            return Err(ParseError::Lang);
        }
        let mut out = [0u8; 3];
        for (o, c) in out.iter_mut().zip(b) {
            *o = *c;
        }
        Ok(Lang(out))
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_and_three_letter_codes() {
        assert_eq!("kk".parse::<Lang>().unwrap().as_str(), "kk");
        assert_eq!("kaz".parse::<Lang>().unwrap().as_str(), "kaz");
        for bad in ["", "k", "kkkk", "Kk", "k1", "кк"] {
            assert!(bad.parse::<Lang>().is_err(), "{bad:?}");
        }
    }
}
