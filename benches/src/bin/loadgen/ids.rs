//! Random ids for the requests and rows: device ids, receipt ids (UUIDv7), JWS-like text.
//!
//! The generator is wyrand, seeded from the OS: fast enough to leave the CPU to the server, and
//! random enough for ids that only have to differ from each other.

use uuid::{Builder, Uuid};

/// wyrand: fast, good enough for random device ids; seeded from the OS.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Rng {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            seed = (t.as_nanos() as u64).to_le_bytes();
        }
        Rng(u64::from_le_bytes(seed))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    pub(crate) fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        b
    }
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
pub(crate) fn b64url(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
}

/// Length of a device id.
pub(crate) const DEVICE_ID_LEN: usize = 22;

/// A random device id: 16 random bytes, 22 base64url characters.
pub(crate) fn device_id(rng: &mut Rng) -> [u8; DEVICE_ID_LEN] {
    let mut v = Vec::with_capacity(DEVICE_ID_LEN);
    b64url(&rng.bytes16(), &mut v);
    let mut out = [0u8; DEVICE_ID_LEN];
    out.copy_from_slice(&v);
    out
}

/// A time-ordered id like the server's receipt ids: UUIDv7 of `millis` and random bits.
pub(crate) fn uuid7(rng: &mut Rng, millis: u64) -> Uuid {
    let mut random = [0u8; 10];
    random.copy_from_slice(&rng.bytes16()[..10]);
    Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_22_base64url_characters_and_differ() {
        let mut rng = Rng::new();
        let (a, b) = (device_id(&mut rng), device_id(&mut rng));
        assert_ne!(a, b);
        assert!(
            a.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        );
    }

    #[test]
    fn base64url_matches_rfc_4648_without_padding() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"\xfb\xff", "-_8"),
        ] {
            let mut out = Vec::new();
            b64url(input, &mut out);
            assert_eq!(out, expected.as_bytes());
        }
    }

    #[test]
    fn receipt_ids_are_version_7_carrying_the_time() {
        let mut rng = Rng::new();
        let millis = 1_764_000_000_123;
        let id = uuid7(&mut rng, millis);
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        let text = id.hyphenated().to_string();
        assert_eq!(text.len(), 36);
        assert!(text.starts_with(&format!("{:012x}", millis)[..8]));
        assert_ne!(uuid7(&mut rng, millis), id);
    }
}
