//! Secret keys: redacted `Debug`, constant-time comparison, zeroed on drop.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A 256-bit HMAC-SHA256 key (consent tokens, HS256 receipts).
///
/// Its `Debug` never shows the key, equality runs in constant time, and the bytes are zeroed on drop.
///
/// ```
/// use consent_core::HmacKey;
/// let key = HmacKey::from_bytes([7; 32]);
/// assert_eq!(format!("{key:?}"), "HmacKey(<redacted>)");
/// assert_eq!(key, HmacKey::from_bytes([7; 32]));
/// ```
#[derive(Clone)]
pub struct HmacKey([u8; 32]);

impl HmacKey {
    /// A key from 32 bytes. The caller draws them from a secure RNG (this crate has none).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        HmacKey(bytes)
    }

    /// The key bytes, to store or to MAC with.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for HmacKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for HmacKey {}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = HmacKey::from_bytes(*b"super-secret-key-material-012345");
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains("super"), "{shown}");
        assert!(!shown.contains("115"), "no byte values either: {shown}");
    }

    #[test]
    fn equality_compares_all_bytes() {
        let mut other = [1u8; 32];
        assert_eq!(HmacKey::from_bytes(other), HmacKey::from_bytes([1; 32]));
        other[31] = 2;
        assert_ne!(HmacKey::from_bytes(other), HmacKey::from_bytes([1; 32]));
    }
}
