//! Privacy by design: pseudonyms, browser families, receipt ids, unsubscribe links.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::{HmacKey, ReceiptId, SubjectId, Timestamp};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

fn mac(key: &HmacKey, domain: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .unwrap_or_else(|_| <hmac::Hmac<Sha256> as KeyInit>::new(&Default::default()));
    m.update(domain);
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The lookup key of an external subject id (e-mail, portal user id): a keyed hash, so the database never
/// holds the id itself. Erasure deletes the row linking this lookup to the pseudonym.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubjectLookup([u8; 32]);

impl SubjectLookup {
    /// The 32 bytes of the hash, as stored.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SubjectLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectLookup(<redacted>)")
    }
}

/// The [`SubjectLookup`] of an external id, normalised (trimmed, lower-cased) and keyed with `key`.
pub fn subject_lookup(key: &HmacKey, external_id: &str) -> SubjectLookup {
    SubjectLookup(mac(
        key,
        b"consent-subject/v1\0",
        external_id.trim().to_lowercase().as_bytes(),
    ))
}

/// A pseudonymous subject reference: `sub:` + 16 random bytes (known subjects) or `dev:` + the device
/// id (anonymous visitors).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubjectRef {
    /// A known subject's pseudonym.
    Subject(SubjectId),
    /// An anonymous visitor's device.
    Device(SubjectId),
}

impl SubjectRef {
    /// The 128 bits carried in the consent token.
    pub fn id(self) -> SubjectId {
        match self {
            SubjectRef::Subject(s) | SubjectRef::Device(s) => s,
        }
    }
}

impl std::fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectRef::Subject(s) => write!(f, "sub:{s}"),
            SubjectRef::Device(s) => write!(f, "dev:{s}"),
        }
    }
}

impl std::str::FromStr for SubjectRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || "expected `sub:` or `dev:` followed by 22 base64url characters".to_string();
        if let Some(rest) = s.strip_prefix("sub:") {
            Ok(SubjectRef::Subject(rest.parse().map_err(|_| bad())?))
        } else if let Some(rest) = s.strip_prefix("dev:") {
            Ok(SubjectRef::Device(rest.parse().map_err(|_| bad())?))
        } else {
            Err(bad())
        }
    }
}

/// The browser family of a `User-Agent`: all that is ever kept of it.
pub fn browser_family(user_agent: &str) -> &'static str {
    if user_agent.contains("Edg/") {
        "Edge"
    } else if user_agent.contains("OPR/") {
        "Opera"
    } else if user_agent.contains("Firefox/") {
        "Firefox"
    } else if user_agent.contains("Chrome/") || user_agent.contains("Chromium/") {
        "Chrome"
    } else if user_agent.contains("Safari/") {
        "Safari"
    } else {
        "Other"
    }
}

/// A browser family as stored (one of those [`browser_family`] answers), back as the same value.
///
/// ```
/// use consent_server::privacy::{browser_family, stored_browser_family};
/// assert_eq!(stored_browser_family("Firefox"), Some(browser_family("Firefox/140.0")));
/// assert_eq!(stored_browser_family("Netscape"), None);
/// ```
pub fn stored_browser_family(name: &str) -> Option<&'static str> {
    ["Edge", "Opera", "Firefox", "Chrome", "Safari", "Other"]
        .into_iter()
        .find(|f| *f == name)
}

/// A receipt id: a UUIDv7 (RFC 9562) of `now_ms` and random bits (sorts by time). The 74 random bits are
/// taken from the last 10 bytes of `random`.
///
/// ```
/// let id = consent_server::privacy::receipt_id(1_750_000_000_123, [0x5a; 16]);
/// assert_eq!(id.to_string(), "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a5a");
/// ```
pub fn receipt_id(now_ms: u64, random: [u8; 16]) -> ReceiptId {
    let [_, _, _, _, _, _, rest @ ..] = random;
    ReceiptId(
        uuid::Builder::from_unix_timestamp_millis(now_ms, &rest)
            .into_uuid()
            .into_bytes(),
    )
}

/// A one-click unsubscribe token for a subject: `<subject>.<tag>` where the tag is a truncated HMAC.
pub fn unsubscribe_token(key: &HmacKey, subject: &SubjectRef) -> String {
    let s = subject.to_string();
    let tag = mac(key, b"consent-unsubscribe/v1\0", s.as_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(s.as_bytes()),
        URL_SAFE_NO_PAD.encode(&tag[..16])
    )
}

/// Checks an unsubscribe token; the subject it names.
pub fn check_unsubscribe_token(key: &HmacKey, token: &str) -> Option<SubjectRef> {
    let (s, tag) = token.split_once('.')?;
    let s = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let expected = mac(key, b"consent-unsubscribe/v1\0", s.as_bytes());
    let ok: bool = subtle::ConstantTimeEq::ct_eq(expected.get(..16)?, tag.as_slice()).into();
    if ok { s.parse().ok() } else { None }
}

/// The stored form of a consent request's `Idempotency-Key` (issue 18.7): the key keyed-hashed with
/// the caller it came from (`anonymous`, or a bearer token's name), so that one caller's key never
/// answers another's, and the body keyed-hashed (it may hold a name: the database keeps neither).
///
/// ```
/// use consent_core::{HmacKey, Timestamp};
/// let k = HmacKey::from_bytes([1; 32]);
/// let at = Timestamp::from_unix(1_750_000_000);
/// let a = consent_server::privacy::idempotency(&k, "anonymous", "k-1", b"{}", at);
/// assert_eq!(a, consent_server::privacy::idempotency(&k, "anonymous", "k-1", b"{}", at));
/// assert_ne!(a.key, consent_server::privacy::idempotency(&k, "portal", "k-1", b"{}", at).key);
/// assert_ne!(a.body, consent_server::privacy::idempotency(&k, "anonymous", "k-1", b"{ }", at).body);
/// ```
pub fn idempotency(
    key: &HmacKey,
    caller: &str,
    header: &str,
    body: &[u8],
    expires_at: Timestamp,
) -> crate::store::Idempotency {
    let mut scoped = Vec::with_capacity(caller.len() + 1 + header.len());
    scoped.extend_from_slice(caller.as_bytes());
    scoped.push(0);
    scoped.extend_from_slice(header.as_bytes());
    crate::store::Idempotency {
        key: mac(key, b"consent-idempotency-key/v1\0", &scoped),
        body: mac(key, b"consent-idempotency-body/v1\0", body),
        expires_at,
    }
}

/// SHA-256 hex of a bearer token, as configured.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest as _;
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Milliseconds since the epoch of a timestamp plus a sub-second part.
pub fn millis(t: Timestamp, sub_ms: u32) -> u64 {
    u64::try_from(t.as_unix()).unwrap_or(0) * 1000 + u64::from(sub_ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_keyed_and_normalised() {
        let k = HmacKey::from_bytes([1; 32]);
        assert_eq!(
            subject_lookup(&k, "A@Example.org "),
            subject_lookup(&k, "a@example.org")
        );
        assert_ne!(
            subject_lookup(&k, "a@example.org"),
            subject_lookup(&HmacKey::from_bytes([2; 32]), "a@example.org")
        );
    }

    #[test]
    fn subject_refs_round_trip() {
        for s in [
            SubjectRef::Subject(SubjectId([1; 16])),
            SubjectRef::Device(SubjectId([2; 16])),
        ] {
            assert_eq!(s.to_string().parse::<SubjectRef>().unwrap(), s);
        }
        assert!("user@example.org".parse::<SubjectRef>().is_err());
    }

    #[test]
    fn browser_families() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(browser_family(chrome), "Chrome");
        assert_eq!(
            browser_family("Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox"
        );
        assert_eq!(browser_family(&format!("{chrome} Edg/156.0")), "Edge");
        assert_eq!(browser_family("curl/8.0"), "Other");
    }

    #[test]
    fn receipt_ids_are_uuid_v7() {
        let id = receipt_id(1_750_000_000_123, [0xff; 16]).to_string();
        assert_eq!(id.as_bytes()[14], b'7');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert!(id.starts_with("01977"), "{id}");
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version(), Some(uuid::Version::SortRand));
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(id.parse::<ReceiptId>().unwrap().to_string(), id);
    }

    #[test]
    fn receipt_ids_are_the_same_as_before_uuid() {
        // Made by the hand-written layout this crate used before `uuid`: same inputs, same ids.
        let ms = 1_750_000_000_123;
        let ids = [
            (
                core::array::from_fn(|i| i as u8),
                "01977420-dc7b-7607-8809-0a0b0c0d0e0f",
            ),
            ([0xff; 16], "01977420-dc7b-7fff-bfff-ffffffffffff"),
            ([0x5a; 16], "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a5a"),
        ];
        for (random, want) in ids {
            assert_eq!(receipt_id(ms, random).to_string(), want);
        }
        // Time orders them.
        assert!(receipt_id(ms, [0xff; 16]) < receipt_id(ms + 1, [0; 16]));
    }

    #[test]
    fn unsubscribe_tokens() {
        let k = HmacKey::from_bytes([3; 32]);
        let s = SubjectRef::Subject(SubjectId([4; 16]));
        let t = unsubscribe_token(&k, &s);
        assert_eq!(check_unsubscribe_token(&k, &t), Some(s));
        assert_eq!(
            check_unsubscribe_token(&HmacKey::from_bytes([5; 32]), &t),
            None
        );
        let mut forged = t.clone();
        forged.pop();
        forged.push('A');
        assert!(check_unsubscribe_token(&k, &forged).is_none() || forged == t);
    }
}
