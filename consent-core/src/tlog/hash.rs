//! The hashes of the log's Merkle tree (RFC 6962 §2.1, RFC 9162 §2.1.1): SHA-256, with one prefix byte
//! for leaves (`0x00`) and another for interior nodes (`0x01`), so a leaf can never pass for a node.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::ParseError;

/// Length of a [`Hash`](struct@Hash) in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash of the log's tree: a leaf hash, an interior node hash or a root.
///
/// Written (checkpoints, proofs, vectors) in standard base64 with padding (RFC 4648 §4), 44 characters;
/// [`Hash::from_base64`] accepts exactly that form.
///
/// ```
/// use consent_core::tlog::Hash;
/// // RFC 6962 §2.1: the root of the empty tree is the hash of the empty string.
/// assert_eq!(Hash::EMPTY.to_string(), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
/// let a = Hash::leaf(b"");
/// assert_eq!(a.to_string(), "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
/// let root = Hash::node(&a, &Hash::leaf(b"\x00"));
/// assert_eq!(root.to_string().parse::<Hash>()?, root);
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash([u8; HASH_LEN]);

impl Hash {
    /// The root of the empty tree: SHA-256 of the empty string.
    pub const EMPTY: Hash = Hash([
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9,
        0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
        0xb8, 0x55,
    ]);

    /// A hash from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Hash {
        Hash(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// The hash of a log entry: `SHA-256(0x00 || entry)`.
    pub fn leaf(entry: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(entry);
        Hash(h.finalize().into())
    }

    /// The hash of an interior node: `SHA-256(0x01 || left || right)`.
    pub fn node(left: &Hash, right: &Hash) -> Hash {
        let mut buf = [0u8; 1 + 2 * HASH_LEN];
        let (prefix, children) = buf.split_at_mut(1);
        let (l, r) = children.split_at_mut(HASH_LEN);
        prefix.fill(0x01);
        l.copy_from_slice(&left.0);
        r.copy_from_slice(&right.0);
        Hash(Sha256::digest(buf).into())
    }

    /// Standard base64 with padding (44 characters).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard base64 with padding of exactly 32 bytes; any other form (no padding, the URL-safe
    /// alphabet, non-zero unused bits, white space) is rejected, so a hash has one text form.
    pub fn from_base64(s: &str) -> Result<Hash, ParseError> {
        if s.len() != 44 {
            return Err(ParseError::Hash);
        }
        let mut out = [0u8; HASH_LEN];
        match STANDARD.decode_slice(s, &mut out) {
            Ok(HASH_LEN) => Ok(Hash(out)),
            _ => Err(ParseError::Hash),
        }
    }

    /// The hash the slice starts with (tile data), if it is long enough.
    pub(crate) fn read(bytes: &[u8]) -> Option<Hash> {
        bytes
            .get(..HASH_LEN)
            .and_then(|b| <[u8; HASH_LEN]>::try_from(b).ok())
            .map(Hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl core::str::FromStr for Hash {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Hash, ParseError> {
        Hash::from_base64(s)
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Hash {
        Hash(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_sha256_of_nothing() {
        assert_eq!(Hash::EMPTY.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn rfc6962_reference_leaves() {
        // certificate-transparency's merkle_tree_test leaves 0 and 1 ("" and "00").
        assert_eq!(
            Hash::leaf(b"").to_string(),
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
        );
        assert_eq!(
            Hash::leaf(&[0x00]).to_string(),
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c="
        );
    }

    #[test]
    fn one_text_form() {
        let h = Hash::leaf(b"x");
        let text = h.to_string();
        assert_eq!(text.parse::<Hash>(), Ok(h));
        for bad in [
            text.trim_end_matches('=').to_owned(),
            text.replace('+', "-").replace('/', "_"),
            format!(" {}", &text[1..]),
            "A".repeat(43) + "B", // 43 + 1 chars without padding: 33 bytes' worth
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=".into(), // non-zero unused bits
            "ZG9uJ3QgY2FyZSAy".into(), // 12 bytes
            String::new(),
        ] {
            assert!(bad.parse::<Hash>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn node_is_prefixed_concatenation() {
        let (a, b) = (Hash::leaf(b"a"), Hash::leaf(b"b"));
        let mut input = vec![1u8];
        input.extend_from_slice(a.as_bytes());
        input.extend_from_slice(b.as_bytes());
        assert_eq!(
            Hash::node(&a, &b).0,
            <[u8; 32]>::from(Sha256::digest(&input))
        );
        assert_ne!(Hash::node(&a, &b), Hash::node(&b, &a));
    }
}
