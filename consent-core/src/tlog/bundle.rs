//! C2SP tlog-tiles entry bundles: the entries of a level 0 tile, each prefixed with its length as a
//! big-endian `u16`.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{Bundle, TileError};

/// Largest entry an entry bundle can hold, in bytes.
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// An entry bundle's data: each entry prefixed with its length (big-endian `u16`). At most 256 entries
/// of at most 65,535 bytes each.
///
/// ```
/// use consent_core::tlog::{bundle_entries, bundle_data, Bundle};
/// let data = bundle_data(&[&b"ab"[..], b""])?;
/// assert_eq!(data, b"\x00\x02ab\x00\x00");
/// assert_eq!(bundle_entries(&Bundle::new(0, 2)?, &data)?, [&b"ab"[..], b""]);
/// # Ok::<(), consent_core::tlog::TileError>(())
/// ```
pub fn bundle_data(entries: &[impl AsRef<[u8]>]) -> Result<Vec<u8>, TileError> {
    if entries.is_empty() || entries.len() > 256 {
        return Err(TileError::Bundle("a bundle holds 1 to 256 entries"));
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for entry in entries {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len())
            .map_err(|_| TileError::Bundle("an entry is longer than 65,535 bytes"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// The entries of a bundle's data: exactly the bundle's width of them, nothing after.
pub fn bundle_entries<'a>(bundle: &Bundle, data: &'a [u8]) -> Result<Vec<&'a [u8]>, TileError> {
    let mut rest = data;
    let mut entries = Vec::with_capacity(usize::from(bundle.width()));
    while !rest.is_empty() {
        if entries.len() == usize::from(bundle.width()) {
            return Err(TileError::Bundle("more entries than the bundle's width"));
        }
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(TileError::Bundle("truncated length"))?;
        let (entry, tail) = tail
            .split_at_checked(usize::from(u16::from_be_bytes(*len)))
            .ok_or(TileError::Bundle("truncated entry"))?;
        entries.push(entry);
        rest = tail;
    }
    if entries.len() != usize::from(bundle.width()) {
        return Err(TileError::Bundle("fewer entries than the bundle's width"));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        let b2 = Bundle::new(0, 2).unwrap();
        for bad in [
            &b""[..],
            b"\x00",
            b"\x00\x02a",
            b"\x00\x01a",
            b"\x00\x01a\x00\x00\x00\x00",
            b"\x00\x01a\x00\x00\x00",
        ] {
            assert!(bundle_entries(&b2, bad).is_err(), "{bad:?}");
        }
        assert!(bundle_data(&[vec![0u8; MAX_ENTRY_LEN + 1]]).is_err());
        let none: [&[u8]; 0] = [];
        assert!(bundle_data(&none).is_err());
        let big = vec![7u8; MAX_ENTRY_LEN];
        let data = bundle_data(&[&big]).unwrap();
        assert_eq!(
            bundle_entries(&Bundle::new(0, 1).unwrap(), &data).unwrap(),
            [big.as_slice()]
        );
    }
}
