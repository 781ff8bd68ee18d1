//! Opaque 128-bit identifiers and key ids.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::ParseError;

/// A receipt id: 128 bits, written as a lower-case hyphenated UUID.
///
/// The server draws it (this crate has no RNG).
///
/// ```
/// use consent_core::ReceiptId;
/// let id: ReceiptId = "0192f3a0-7c1e-7abc-8def-0123456789ab".parse()?;
/// assert_eq!(id.to_string(), "0192f3a0-7c1e-7abc-8def-0123456789ab");
/// assert!("0192F3A0-7C1E-7ABC-8DEF-0123456789AB".parse::<ReceiptId>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReceiptId(pub [u8; 16]);

impl ReceiptId {
    /// The hyphenated lower-case form (`0190a8c2-…`), as [`Display`](fmt::Display) writes it but
    /// without `core::fmt` (the banner's size budget has no room for the formatting machinery).
    ///
    /// ```
    /// let id = consent_core::ReceiptId([0xab; 16]);
    /// assert_eq!(id.hyphenated(), id.to_string());
    /// ```
    pub fn hyphenated(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(36);
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            for nibble in [b >> 4, b & 15] {
                out.push(char::from(
                    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ));
            }
        }
        out
    }
}

impl fmt::Display for ReceiptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ReceiptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptId({self})")
    }
}

impl core::str::FromStr for ReceiptId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        if b.len() != 36 {
            return Err(ParseError::ReceiptId);
        }
        let mut out = [0u8; 16];
        let mut hex = b.iter().enumerate().filter_map(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                (*c != b'-').then_some(None)
            } else {
                Some(Some(*c))
            }
        });
        for byte in &mut out {
            let hi = hex
                .next()
                .flatten()
                .and_then(lower_hex)
                .ok_or(ParseError::ReceiptId)?;
            let lo = hex
                .next()
                .flatten()
                .and_then(lower_hex)
                .ok_or(ParseError::ReceiptId)?;
            *byte = (hi << 4) | lo;
        }
        if hex.next().is_some() {
            return Err(ParseError::ReceiptId);
        }
        Ok(ReceiptId(out))
    }
}

fn lower_hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// A 128-bit device or subject id, as carried in the consent token. Written as 22 base64url characters.
///
/// For anonymous visitors it is a random device id; for known subjects, the server's pseudonym.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectId(pub [u8; 16]);

impl SubjectId {
    /// The 22 base64url characters, as [`Display`](fmt::Display) writes them but without `core::fmt`.
    ///
    /// ```
    /// let id = consent_core::SubjectId([7; 16]);
    /// assert_eq!(id.encoded(), id.to_string());
    /// assert_eq!(id.encoded().len(), 22);
    /// ```
    pub fn encoded(&self) -> String {
        crate::b64::encode(&self.0)
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::b64::encode(&self.0))
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectId({self})")
    }
}

impl core::str::FromStr for SubjectId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bytes = crate::b64::decode(s)?;
        Ok(SubjectId(
            bytes.try_into().map_err(|_| ParseError::SubjectId)?,
        ))
    }
}

/// A key id (`kid`): 1 to 16 characters from `[A-Za-z0-9._-]`.
///
/// ```
/// use consent_core::KeyId;
/// let kid: KeyId = "2025-11.ed".parse()?;
/// assert_eq!(kid.as_str(), "2025-11.ed");
/// assert!("no spaces".parse::<KeyId>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId {
    len: u8,
    bytes: [u8; KeyId::MAX_LEN],
}

impl KeyId {
    /// Longest key id, in bytes.
    pub const MAX_LEN: usize = 16;

    /// The key id as a string.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.bytes.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }

    #[cfg(feature = "crypto")]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Result<KeyId, ParseError> {
        if b.is_empty()
            || b.len() > KeyId::MAX_LEN
            || !b
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        {
            return Err(ParseError::KeyId);
        }
        let mut bytes = [0u8; KeyId::MAX_LEN];
        for (o, c) in bytes.iter_mut().zip(b) {
            *o = *c;
        }
        Ok(KeyId {
            len: u8::try_from(b.len()).map_err(|_| ParseError::KeyId)?,
            bytes,
        })
    }
}

impl core::str::FromStr for KeyId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        KeyId::from_bytes(s.as_bytes())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_ids_are_strict_uuids() {
        let id = ReceiptId([0xab; 16]);
        assert_eq!(id.to_string().parse::<ReceiptId>().unwrap(), id);
        for bad in [
            "",
            "abababab-abab-abab-abab-abababababa",
            "abababab-abab-abab-abab-abababababab-",
            "abababababababababababababababababab",
            "abababab_abab-abab-abab-abababababab",
            "gbababab-abab-abab-abab-abababababab",
        ] {
            assert!(bad.parse::<ReceiptId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn subject_ids_round_trip() {
        let id = SubjectId([9; 16]);
        assert_eq!(id.to_string().len(), 22);
        assert_eq!(id.to_string().parse::<SubjectId>().unwrap(), id);
        assert!("AAAA".parse::<SubjectId>().is_err());
    }
}
