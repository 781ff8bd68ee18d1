//! The consent request's strings that have rules: a banner build hash, a page URL, a person's name and
//! an external subject id. Each exists only through its parser.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::ParseError;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The SHA-256 of the banner build a person saw: 64 lower-case hex digits (written into the banner's
/// bootstrap at build time, recorded in the receipt).
///
/// Kept as its hex digits, the form it is read and written in: the banner, which only passes it on,
/// then needs no hex conversion either way.
///
/// ```
/// use consent_core::BuildHash;
/// let h: BuildHash = "9f2c1e0b6a3d4c5e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e".parse()?;
/// assert_eq!(h.to_hex(), "9f2c1e0b6a3d4c5e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e");
/// assert_eq!(BuildHash::from_sha256([0xab; 32]).to_hex(), "ab".repeat(32));
/// assert!("9F2C".parse::<BuildHash>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildHash([u8; 64]);

impl BuildHash {
    /// The hash of these 32 bytes (a SHA-256 digest).
    pub fn from_sha256(digest: [u8; 32]) -> BuildHash {
        let mut hex = [b'0'; 64];
        for (pair, b) in hex.chunks_exact_mut(2).zip(digest) {
            for (slot, nibble) in pair.iter_mut().zip([b >> 4, b & 15]) {
                *slot = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
            }
        }
        BuildHash(hex)
    }

    /// The 64 lower-case hex digits, as [`Display`](fmt::Display) writes them but without `core::fmt`
    /// (the banner writes requests, and has no room for the formatting machinery).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| char::from(*b)).collect()
    }

    /// The hex digits' ASCII bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl core::str::FromStr for BuildHash {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let hex: [u8; 64] = s.as_bytes().try_into().map_err(|_| ParseError::BuildHash)?;
        if hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(BuildHash(hex))
        } else {
            Err(ParseError::BuildHash)
        }
    }
}

impl fmt::Display for BuildHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BuildHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildHash({self})")
    }
}

/// The page where a choice was made: an `http://` or `https://` URL without its query and fragment
/// (what the person saw, not what they searched), at most [`PageUrl::MAX_LEN`] bytes, each one of the
/// URL characters of RFC 3986 ([`PageUrl::is_url_char`]: no white space, no quotes, nothing outside
/// ASCII; a browser's `location` percent-encodes those). An anonymous caller may send at most
/// [`PageUrl::ANONYMOUS_MAX_LEN`] bytes ([`crate::Caller`]).
///
/// ```
/// use consent_core::PageUrl;
/// let page: PageUrl = "https://invisionu.education/apply?utm_source=x#form".parse()?;
/// assert_eq!(page.as_str(), "https://invisionu.education/apply");
/// assert!("javascript:alert(1)".parse::<PageUrl>().is_err());
/// assert!("https://invisionu.education/a b".parse::<PageUrl>().is_err());
/// assert!("https://invisionu.education/заявка".parse::<PageUrl>().is_err());
/// assert!("https://invisionu.education/%D0%B7".parse::<PageUrl>().is_ok());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageUrl(String);

impl PageUrl {
    /// Longest page URL, in bytes, after the query and fragment are removed.
    pub const MAX_LEN: usize = 2048;

    /// Longest page URL an anonymous caller may send, in bytes (a visitor's browser; the banner leaves
    /// a longer page out).
    pub const ANONYMOUS_MAX_LEN: usize = 512;

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether `b` is a URL character of RFC 3986 that a page keeps: unreserved (`A-Z a-z 0-9 - . _
    /// ~`), reserved but for `?` and `#` (`: / [ ] @ ! $ & ' ( ) * + , ; =`), or `%` (escapes are not
    /// decoded, so their form is not checked).
    ///
    /// ```
    /// use consent_core::PageUrl;
    /// let kept: String = (0..=127u8).filter(|b| PageUrl::is_url_char(*b)).map(char::from).collect();
    /// assert_eq!(kept, "!$%&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz~");
    /// ```
    pub fn is_url_char(b: u8) -> bool {
        matches!(b, b'!'..=b'~')
            && !matches!(
                b,
                b'"' | b'#' | b'<' | b'>' | b'?' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
    }

    /// A page URL already in the form a browser's `location` gives it (`origin` then `pathname`:
    /// `https://invisionu.education/apply`), sent by an anonymous caller (the banner): `http://` or
    /// `https://`, at most [`PageUrl::ANONYMOUS_MAX_LEN`] bytes, each a URL character
    /// ([`PageUrl::is_url_char`]). A query or fragment is refused rather than cut off, so every page it
    /// accepts is one that [`FromStr`](core::str::FromStr) reads unchanged and that the server takes
    /// from an anonymous caller; the banner sends none when it refuses.
    ///
    /// ```
    /// use consent_core::PageUrl;
    /// let page = PageUrl::from_ascii("https://invisionu.education/apply".into())?;
    /// assert_eq!(Ok(page.clone()), page.as_str().parse());
    /// assert!(PageUrl::from_ascii("https://invisionu.education/?q".into()).is_err());
    /// assert!(PageUrl::from_ascii("https://invisionu.education/заявка".into()).is_err());
    /// assert!(PageUrl::from_ascii("null/apply".into()).is_err(), "a file:// page's origin");
    /// assert!(PageUrl::from_ascii(format!("https://a/{}", "p".repeat(600))).is_err());
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    pub fn from_ascii(url: String) -> Result<PageUrl, ParseError> {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= PageUrl::ANONYMOUS_MAX_LEN
            && url.bytes().all(PageUrl::is_url_char);
        if ok {
            Ok(PageUrl(url))
        } else {
            Err(ParseError::PageUrl)
        }
    }
}

impl core::str::FromStr for PageUrl {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let end = s
            .bytes()
            .position(|c| c == b'?' || c == b'#')
            .unwrap_or(s.len());
        let base = s.get(..end).unwrap_or_default();
        let ok = (base.starts_with("https://") || base.starts_with("http://"))
            && base.len() <= PageUrl::MAX_LEN
            && base.bytes().all(PageUrl::is_url_char);
        if ok {
            Ok(PageUrl(base.to_owned()))
        } else {
            Err(ParseError::PageUrl)
        }
    }
}

impl fmt::Display for PageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Trims `s` and checks it is 1 to `max` bytes without control characters.
fn short_text(s: &str, max: usize) -> Result<String, ParseError> {
    let s = s.trim();
    if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
        return Err(ParseError::Text(max));
    }
    Ok(s.to_owned())
}

/// A person's full name, as recorded in a receipt: the subject's (Law 94-V Art. 8(4)(2)) or their
/// representative's. Trimmed; 1 to [`PersonName::MAX_LEN`] bytes, no control characters.
///
/// ```
/// use consent_core::PersonName;
/// let name: PersonName = "  Aigerim Nurlanovna ".parse()?;
/// assert_eq!(name.as_str(), "Aigerim Nurlanovna");
/// assert!(" ".parse::<PersonName>().is_err());
/// assert!("a\u{0}b".parse::<PersonName>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// Longest name, in bytes, after trimming.
    pub const MAX_LEN: usize = 200;

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl core::str::FromStr for PersonName {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        short_text(s, PersonName::MAX_LEN).map(PersonName)
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// An authenticated subject's id in another system (an e-mail address, a portal user id), sent by a
/// backend service. Trimmed; 1 to [`ExternalId::MAX_LEN`] bytes, no control characters.
///
/// The server never stores it: it keeps a keyed hash linking it to a pseudonym. Its `Debug` shows only
/// its length, so it stays out of logs.
///
/// ```
/// use consent_core::ExternalId;
/// let id: ExternalId = " aigerim.n@example.kz".parse()?;
/// assert_eq!(id.as_str(), "aigerim.n@example.kz");
/// assert_eq!(format!("{id:?}"), "ExternalId(20 bytes)");
/// assert!("x".repeat(321).parse::<ExternalId>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalId(String);

impl ExternalId {
    /// Longest external id, in bytes, after trimming.
    pub const MAX_LEN: usize = 320;

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::str::FromStr for ExternalId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        short_text(s, ExternalId::MAX_LEN).map(ExternalId)
    }
}

impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExternalId({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_hashes_are_64_lower_case_hex_digits() {
        let text = "0123456789abcdef".repeat(4);
        let h: BuildHash = text.parse().unwrap();
        assert_eq!(h.to_hex(), text);
        assert_eq!(h.to_string(), text);
        let digest: [u8; 32] = core::array::from_fn(|i| (i * 8) as u8);
        let h = BuildHash::from_sha256(digest);
        let expected: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(h.to_hex(), expected);
        assert_eq!(expected.parse::<BuildHash>(), Ok(h));
        for bad in [
            String::new(),
            "0".repeat(63),
            "0".repeat(65),
            "0123456789ABCDEF".repeat(4),
            format!("{}g", "0".repeat(63)),
            format!("{}é", "0".repeat(62)),
        ] {
            assert_eq!(
                bad.parse::<BuildHash>(),
                Err(ParseError::BuildHash),
                "{bad}"
            );
        }
    }

    #[test]
    fn pages_lose_query_and_fragment_before_the_checks() {
        let page = |s: &str| s.parse::<PageUrl>().map(|p| p.as_str().to_owned());
        assert_eq!(page("http://a/b?c#d").unwrap(), "http://a/b");
        assert_eq!(page("https://a/#x?y").unwrap(), "https://a/");
        assert_eq!(page("https://").unwrap(), "https://");
        assert_eq!(
            page("https://a/%7B[x]@y:1/!$&'()*+,;=~_.-").unwrap(),
            "https://a/%7B[x]@y:1/!$&'()*+,;=~_.-"
        );
        // The limit counts what is kept.
        let long = format!("https://a/{}", "p".repeat(PageUrl::MAX_LEN - 10));
        assert_eq!(page(&format!("{long}?{}", "q".repeat(5000))).unwrap(), long);
        assert!(page(&format!("{long}p")).is_err());
        for bad in [
            "",
            "ftp://a/",
            "HTTPS://a/",
            "https://a/ b",
            "https://a/\u{7f}",
            "https://a/\u{a0}",
            "https://a/\"",
            "https://a/<b>",
            "https://a/b\\c",
            "https://a/{b}",
            "https://a/b|c",
            "https://a/^",
            "https://a/`",
            "https://a/é",
            "?https://a/",
        ] {
            assert_eq!(page(bad), Err(ParseError::PageUrl), "{bad:?}");
        }
        // Whatever follows the query is dropped with it.
        assert_eq!(page("https://a/?q= x\"é").unwrap(), "https://a/");
    }

    #[test]
    fn pages_from_ascii_are_pages_from_str_unchanged_and_anonymous_sized() {
        let long = format!("https://a/{}", "p".repeat(PageUrl::ANONYMOUS_MAX_LEN - 10));
        assert!(PageUrl::from_ascii(long.clone()).is_ok());
        assert!(PageUrl::from_ascii(format!("{long}p")).is_err());
        assert!(
            format!("{long}p").parse::<PageUrl>().is_ok(),
            "others may send more"
        );
        for bad in [
            "",
            "https:/",
            "ftp://a/",
            "HTTPS://a/",
            "https://a/ b",
            "https://a/\u{7f}",
            "https://a/\t",
            "https://a/?",
            "https://a/#",
            "https://a/|",
            "https://a/\u{a0}",
            "https://a/é",
            "?https://a/",
        ] {
            assert_eq!(
                PageUrl::from_ascii(bad.into()),
                Err(ParseError::PageUrl),
                "{bad:?}"
            );
        }
        // Every ASCII character in a path: accepted only where `FromStr` keeps the URL as it is.
        for b in 0..=127u8 {
            let url = format!("https://a/x{}y", char::from(b));
            if let Ok(page) = PageUrl::from_ascii(url.clone()) {
                assert_eq!(url.parse::<PageUrl>().unwrap(), page, "{url:?}");
            } else {
                assert!(
                    url.parse::<PageUrl>().map_or(true, |p| p.as_str() != url),
                    "{url:?}"
                );
            }
        }
    }

    #[test]
    fn short_texts_are_trimmed_and_bounded_in_bytes() {
        assert_eq!(" a ".parse::<PersonName>().unwrap().as_str(), "a");
        // 100 two-byte characters are 200 bytes; one more is too many.
        assert!("ж".repeat(100).parse::<PersonName>().is_ok());
        assert_eq!(
            "ж".repeat(101).parse::<PersonName>(),
            Err(ParseError::Text(200))
        );
        assert!("x".repeat(320).parse::<ExternalId>().is_ok());
        for bad in ["", " \t\n", "a\u{1}b", "a\u{85}b"] {
            assert!(bad.parse::<PersonName>().is_err(), "{bad:?}");
            assert!(bad.parse::<ExternalId>().is_err(), "{bad:?}");
        }
    }
}
