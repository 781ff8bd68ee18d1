//! Strict base64url without padding (RFC 4648 §5), as JWS (RFC 7515) and the consent token use it.

use crate::ParseError;
#[allow(unused_imports)]
use crate::prelude::*;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes bytes as base64url without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    encode_into(bytes, &mut out);
    out
}

/// Appends the base64url of `bytes` (no padding) to `out`: three bytes at a time, four symbols each,
/// then the one or two bytes left (two or three symbols).
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    let symbol = |n: u32| char::from(ALPHABET.get((n & 63) as usize).copied().unwrap_or(b'A'));
    out.reserve(bytes.len().div_ceil(3) * 4);
    let mut chunks = bytes.chunks_exact(3);
    for chunk in &mut chunks {
        if let [a, b, c] = *chunk {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
            out.extend([symbol(n >> 18), symbol(n >> 12), symbol(n >> 6), symbol(n)]);
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend([symbol(n >> 18), symbol(n >> 12)]);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend([symbol(n >> 18), symbol(n >> 12), symbol(n >> 6)]);
        }
        _ => {}
    }
}

fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Decodes base64url without padding. Rejects padding, characters outside the alphabet, a length of
/// 1 mod 4, and non-zero unused bits (so every byte string has exactly one encoding).
pub(crate) fn decode(s: &str) -> Result<Vec<u8>, ParseError> {
    let s = s.as_bytes();
    if s.len() % 4 == 1 {
        return Err(ParseError::Base64);
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c).ok_or(ParseError::Base64)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        // Unused low bits of the last character must be zero.
        let unused = match keep {
            1 => n & 0xFFFF,
            2 => n & 0xFF,
            _ => 0,
        };
        if unused != 0 {
            return Err(ParseError::Base64);
        }
        out.extend(bytes.iter().take(keep));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(raw.as_bytes()), enc);
            assert_eq!(decode(enc).unwrap(), raw.as_bytes());
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn rejects_non_canonical_input() {
        for bad in [
            "Zg==", "Zg=", "Z", "Zh", "Zm9+", "Zm9/", "Zm 9v", "Zm9v\n", "é",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(s in ".{0,40}") {
            let _ = decode(&s);
        }
    }
}
