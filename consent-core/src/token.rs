//! The consent token: the first-party cookie that carries a visitor's choices.
//!
//! Binary layout (version 1), then base64url without padding; see `spec/SPEC.md`:
//!
//! ```text
//! u8  version = 1
//! u8  key id length k (1..=16), then k bytes of key id
//! u16 policy version, days since 1970-01-01
//! u32 issued at, seconds since the epoch
//! u32 expires at, seconds since the epoch
//! 16  subject or device id
//! 16  receipt id
//! u64 given purposes (bit n = purpose code n)
//! u64 refused purposes
//! 16  tag = first 16 bytes of HMAC-SHA256(key, "consent-token/v1" || 0x00 || all bytes above)
//! ```
//! Integers are big-endian.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::{
    Allowed, Date, Decision, Denied, KeyId, Policy, PolicyVersion, PurposeId, PurposeSet,
    ReceiptId, SubjectId, Timestamp,
};

/// The token format version this library writes and reads.
pub const TOKEN_VERSION: u8 = 1;
/// Domain separation for the token's MAC.
#[cfg(feature = "crypto")]
pub(crate) const TOKEN_DOMAIN: &[u8] = b"consent-token/v1\0";
/// Longest token text accepted by [`UnverifiedToken::decode`].
pub const MAX_TOKEN_LEN: usize = 256;
const TAG_LEN: usize = 16;
#[cfg(feature = "crypto")]
/// Fixed part after the key id: version(2) + issued(4) + expires(4) + subject(16) + receipt(16) + 2×u64.
const BODY_LEN: usize = 2 + 4 + 4 + 16 + 16 + 8 + 8;

/// What a consent token says.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TokenClaims {
    /// The policy version the choice was made under.
    pub policy_version: PolicyVersion,
    /// Server time the token was issued.
    pub issued_at: Timestamp,
    /// When the choice lapses and the banner asks again.
    pub expires_at: Timestamp,
    /// The device (anonymous visitor) or the subject's pseudonym.
    pub subject: SubjectId,
    /// The receipt that records this choice.
    pub receipt: ReceiptId,
    /// Purposes consented to.
    pub given: PurposeSet,
    /// Purposes refused or withdrawn.
    pub refused: PurposeSet,
}

/// Why a token was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token is longer than {MAX_TOKEN_LEN} characters")]
    TooLong,
    /// Not base64url without padding.
    #[error("token is not base64url without padding")]
    Base64,
    /// A version this library does not know.
    #[error("unknown token version {0}")]
    UnknownVersion(u8),
    /// Ends before its fields do.
    #[error("token is truncated")]
    Truncated,
    /// Bytes after the tag.
    #[error("token has trailing bytes")]
    TrailingBytes,
    /// A field breaks a rule.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// Signed with a key id the verifier does not have.
    #[error("token key id `{0}` is not known")]
    UnknownKey(KeyId),
    /// The tag does not match.
    #[error("token signature does not verify")]
    BadSignature,
}

/// A consent token read from a cookie, not yet verified.
///
/// The banner reads it with [`UnverifiedToken::unverified_claims`] (it has no key); backends call
/// [`UnverifiedToken::verify`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnverifiedToken {
    kid: KeyId,
    claims: TokenClaims,
    signed: Vec<u8>,
    tag: [u8; TAG_LEN],
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], TokenError> {
    if bytes.len() < n {
        return Err(TokenError::Truncated);
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

/// The next `n` bytes (at most 8) as a big-endian unsigned integer: one loop for every integer field,
/// which compiles smaller into the banner's wasm than a `from_be_bytes` per width. The fields cast it
/// back to their width (`n` bytes always fit).
fn uint(bytes: &mut &[u8], n: usize) -> Result<u64, TokenError> {
    Ok(take(bytes, n)?
        .iter()
        .fold(0, |acc, b| (acc << 8) | u64::from(*b)))
}

fn array<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N], TokenError> {
    take(bytes, N)?
        .try_into()
        .map_err(|_| TokenError::Truncated)
}

impl UnverifiedToken {
    /// Parses a token. Checks the format only, not the signature.
    ///
    /// Rejects texts over 256 characters, anything but strict base64url, unknown versions, truncated
    /// tokens, trailing bytes, and tokens whose fields contradict each other.
    pub fn decode(text: &str) -> Result<UnverifiedToken, TokenError> {
        if text.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let raw = crate::b64::decode(text).map_err(|_| TokenError::Base64)?;
        let mut rest = raw.as_slice();
        let version = uint(&mut rest, 1)? as u8;
        if version != TOKEN_VERSION {
            return Err(TokenError::UnknownVersion(version));
        }
        let kid_len = uint(&mut rest, 1)? as usize;
        let kid = KeyId::from_bytes(take(&mut rest, kid_len)?)
            .map_err(|_| TokenError::Invalid("bad key id"))?;
        let days = uint(&mut rest, 2)? as u16;
        let issued_at = Timestamp::from_unix(uint(&mut rest, 4)? as i64);
        let expires_at = Timestamp::from_unix(uint(&mut rest, 4)? as i64);
        let subject = SubjectId(array(&mut rest)?);
        let receipt = ReceiptId(array(&mut rest)?);
        let given = PurposeSet(uint(&mut rest, 8)?);
        let refused = PurposeSet(uint(&mut rest, 8)?);
        let signed_len = raw.len() - rest.len();
        let tag: [u8; TAG_LEN] = array(&mut rest)?;
        if !rest.is_empty() {
            return Err(TokenError::TrailingBytes);
        }
        let policy_version = Date::from_days(i32::from(days))
            .map(PolicyVersion::from_date)
            .map_err(|_| TokenError::Invalid("policy version out of range"))?;
        if expires_at <= issued_at {
            return Err(TokenError::Invalid("expires before it is issued"));
        }
        if given.0 & refused.0 != 0 {
            return Err(TokenError::Invalid("a purpose is both given and refused"));
        }
        let claims = TokenClaims {
            policy_version,
            issued_at,
            expires_at,
            subject,
            receipt,
            given,
            refused,
        };
        let mut signed = raw;
        signed.truncate(signed_len);
        Ok(UnverifiedToken {
            kid,
            claims,
            signed,
            tag,
        })
    }

    /// The key id the token claims to be signed with.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The claims, unverified: anyone can forge them. Fine for the banner deciding whether to ask again;
    /// never for a backend deciding whether it may process data (use [`UnverifiedToken::verify`]).
    pub fn unverified_claims(&self) -> &TokenClaims {
        &self.claims
    }
}

#[cfg(feature = "crypto")]
/// Encodes claims under `kid`, with a tag computed by `mac` over the domain-separated bytes.
pub(crate) fn encode_with(
    kid: KeyId,
    c: &TokenClaims,
    mac: impl FnOnce(&[u8]) -> [u8; TAG_LEN],
) -> Result<String, TokenError> {
    let days = u16::try_from(c.policy_version.date().days())
        .map_err(|_| TokenError::Invalid("policy version out of range"))?;
    let issued = u32::try_from(c.issued_at.as_unix())
        .map_err(|_| TokenError::Invalid("issue time out of range"))?;
    let expires = u32::try_from(c.expires_at.as_unix())
        .map_err(|_| TokenError::Invalid("expiry out of range"))?;
    if expires <= issued {
        return Err(TokenError::Invalid("expires before it is issued"));
    }
    if c.given.0 & c.refused.0 != 0 {
        return Err(TokenError::Invalid("a purpose is both given and refused"));
    }
    let kid_bytes = kid.as_bytes();
    let mut out = Vec::with_capacity(2 + kid_bytes.len() + BODY_LEN + TAG_LEN);
    out.push(TOKEN_VERSION);
    out.push(u8::try_from(kid_bytes.len()).map_err(|_| TokenError::Invalid("bad key id"))?);
    out.extend_from_slice(kid_bytes);
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&issued.to_be_bytes());
    out.extend_from_slice(&expires.to_be_bytes());
    out.extend_from_slice(&c.subject.0);
    out.extend_from_slice(&c.receipt.0);
    out.extend_from_slice(&c.given.0.to_be_bytes());
    out.extend_from_slice(&c.refused.0.to_be_bytes());
    let tag = mac(&out);
    out.extend_from_slice(&tag);
    Ok(crate::b64::encode(&out))
}

/// A verified consent token: its tag checked against one of the server's keys.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ConsentToken {
    kid: KeyId,
    claims: TokenClaims,
}

impl ConsentToken {
    /// The key id it was signed with.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The verified claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }

    /// May `purpose` be pursued at `at`, on the strength of this token?
    ///
    /// Same answers as [`crate::ConsentState::decision`] for what a token can know: never asked,
    /// given, refused (a withdrawal shows as refused), expired, renewal needed because the policy changed
    /// the purpose after the token's version. Purposes that need no consent are allowed.
    pub fn decision(&self, purpose: PurposeId, at: Timestamp, policy: &Policy) -> Decision {
        let Some(p) = policy.purpose(purpose) else {
            return Decision::Denied(Denied::UnknownPurpose);
        };
        if !p.needs_consent() {
            return Decision::Allowed(Allowed::NotRequired {
                basis: p.legal_basis,
            });
        }
        let c = &self.claims;
        if c.refused.contains(p.code) {
            return Decision::Denied(Denied::Refused { at: c.issued_at });
        }
        if !c.given.contains(p.code) {
            return Decision::Denied(Denied::NeverAsked);
        }
        if p.changed_in > c.policy_version {
            return Decision::Denied(Denied::RenewalNeeded {
                changed_in: p.changed_in,
                given_under: c.policy_version,
            });
        }
        if at >= c.expires_at {
            return Decision::Denied(Denied::Expired { at: c.expires_at });
        }
        Decision::Allowed(Allowed::Consent {
            given_at: c.issued_at,
            expires_at: c.expires_at,
            policy_version: c.policy_version,
            renewed: false,
        })
    }
}

#[cfg(feature = "crypto")]
mod keys {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    use super::*;
    use crate::HmacKey;

    fn mac(key: &HmacKey) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this never fails.
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        m.update(TOKEN_DOMAIN);
        m
    }

    /// The server's token keys: one active key that signs, older keys that still verify.
    ///
    /// ```
    /// use consent_core::{HmacKey, KeyId, PurposeSet, TokenClaims, TokenKeys, UnverifiedToken, Timestamp};
    /// let keys = TokenKeys::new("t1".parse()?, HmacKey::from_bytes([1; 32]));
    /// let claims = TokenClaims {
    ///     policy_version: "2025-03-26".parse()?,
    ///     issued_at: Timestamp::from_unix(1_750_000_000),
    ///     expires_at: Timestamp::from_unix(1_750_000_000).add_months(6),
    ///     subject: consent_core::SubjectId([7; 16]),
    ///     receipt: consent_core::ReceiptId([9; 16]),
    ///     given: PurposeSet(0b1_0000_0000),
    ///     refused: PurposeSet(0b10_0000_0000),
    /// };
    /// let cookie = keys.sign(&claims)?;
    /// let token = UnverifiedToken::decode(&cookie)?.verify(&keys)?;
    /// assert_eq!(token.claims(), &claims);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone, Debug)]
    pub struct TokenKeys {
        active: KeyId,
        keys: Vec<(KeyId, HmacKey)>,
    }

    impl TokenKeys {
        /// Keys with one active key.
        pub fn new(active: KeyId, key: HmacKey) -> Self {
            TokenKeys {
                active,
                keys: vec![(active, key)],
            }
        }

        /// Adds a key that verifies but does not sign (a previous key, during rotation). A key id that is
        /// already present is left unchanged.
        pub fn with_verify_only(mut self, kid: KeyId, key: HmacKey) -> Self {
            if !self.keys.iter().any(|(k, _)| *k == kid) {
                self.keys.push((kid, key));
            }
            self
        }

        /// The key id that signs.
        pub fn active(&self) -> KeyId {
            self.active
        }

        fn key(&self, kid: KeyId) -> Option<&HmacKey> {
            self.keys
                .iter()
                .find(|(k, _)| *k == kid)
                .map(|(_, key)| key)
        }

        /// Signs claims with the active key; the result is the cookie value.
        pub fn sign(&self, claims: &TokenClaims) -> Result<String, TokenError> {
            let key = self
                .key(self.active)
                .ok_or(TokenError::UnknownKey(self.active))?;
            encode_with(self.active, claims, |bytes| {
                let mut m = mac(key);
                m.update(bytes);
                let full = m.finalize().into_bytes();
                let mut tag = [0u8; TAG_LEN];
                for (t, b) in tag.iter_mut().zip(full.iter()) {
                    *t = *b;
                }
                tag
            })
        }
    }

    impl UnverifiedToken {
        /// Checks the tag with the key the token names (constant-time comparison).
        pub fn verify(self, keys: &TokenKeys) -> Result<ConsentToken, TokenError> {
            let key = keys.key(self.kid).ok_or(TokenError::UnknownKey(self.kid))?;
            let mut m = mac(key);
            m.update(&self.signed);
            m.verify_truncated_left(&self.tag)
                .map_err(|_| TokenError::BadSignature)?;
            Ok(ConsentToken {
                kid: self.kid,
                claims: self.claims,
            })
        }
    }
}

#[cfg(feature = "crypto")]
pub use keys::TokenKeys;

#[cfg(all(test, feature = "crypto"))]
mod tests {
    use super::*;
    use crate::HmacKey;
    use proptest::prelude::*;

    fn keys() -> TokenKeys {
        TokenKeys::new("t1".parse().unwrap(), HmacKey::from_bytes([1; 32]))
    }

    fn claims() -> TokenClaims {
        TokenClaims {
            policy_version: "2025-03-26".parse().unwrap(),
            issued_at: Timestamp::from_unix(1_750_000_000),
            expires_at: Timestamp::from_unix(1_765_000_000),
            subject: SubjectId([7; 16]),
            receipt: ReceiptId([9; 16]),
            given: PurposeSet(0x3fff & !0x280),
            refused: PurposeSet(0x280),
        }
    }

    #[test]
    fn round_trip_and_size() {
        let text = keys().sign(&claims()).unwrap();
        assert!(text.len() <= 180, "{} chars", text.len());
        let t = UnverifiedToken::decode(&text).unwrap();
        assert_eq!(t.unverified_claims(), &claims());
        assert_eq!(t.verify(&keys()).unwrap().claims(), &claims());
    }

    #[test]
    fn rejects_tampering_unknown_keys_and_rotation_works() {
        let text = keys().sign(&claims()).unwrap();
        let mut raw = crate::b64::decode(&text).unwrap();
        raw[20] ^= 1; // inside the subject id
        let tampered = crate::b64::encode(&raw);
        assert_eq!(
            UnverifiedToken::decode(&tampered).unwrap().verify(&keys()),
            Err(TokenError::BadSignature)
        );
        let other = TokenKeys::new("t2".parse().unwrap(), HmacKey::from_bytes([2; 32]));
        assert!(matches!(
            UnverifiedToken::decode(&text).unwrap().verify(&other),
            Err(TokenError::UnknownKey(_))
        ));
        let rotated = other.with_verify_only("t1".parse().unwrap(), HmacKey::from_bytes([1; 32]));
        assert!(
            UnverifiedToken::decode(&text)
                .unwrap()
                .verify(&rotated)
                .is_ok()
        );
        // Same kid, wrong secret.
        let wrong = TokenKeys::new("t1".parse().unwrap(), HmacKey::from_bytes([3; 32]));
        assert_eq!(
            UnverifiedToken::decode(&text).unwrap().verify(&wrong),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn rejects_malformed_tokens() {
        let text = keys().sign(&claims()).unwrap();
        let raw = crate::b64::decode(&text).unwrap();
        let mut v2 = raw.clone();
        v2[0] = 2;
        assert_eq!(
            UnverifiedToken::decode(&crate::b64::encode(&v2)),
            Err(TokenError::UnknownVersion(2))
        );
        let mut trailing = raw.clone();
        trailing.push(0);
        assert_eq!(
            UnverifiedToken::decode(&crate::b64::encode(&trailing)),
            Err(TokenError::TrailingBytes)
        );
        assert_eq!(
            UnverifiedToken::decode(&crate::b64::encode(&raw[..raw.len() - 1])),
            Err(TokenError::Truncated)
        );
        assert_eq!(
            UnverifiedToken::decode(&format!("{text}=")),
            Err(TokenError::Base64)
        );
        assert_eq!(
            UnverifiedToken::decode(&"A".repeat(300)),
            Err(TokenError::TooLong)
        );
        assert_eq!(UnverifiedToken::decode(""), Err(TokenError::Truncated));
        let both = TokenClaims {
            given: PurposeSet(1),
            refused: PurposeSet(1),
            ..claims()
        };
        assert!(keys().sign(&both).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = UnverifiedToken::decode(&crate::b64::encode(&bytes));
        }

        #[test]
        fn sign_then_verify(given in any::<u64>(), refused in any::<u64>(), issued in 0u32..4_000_000_000, life in 1u32..100_000_000, days in 0u16..40_000) {
            let c = TokenClaims {
                policy_version: PolicyVersion::from_date(Date::from_days(i32::from(days)).unwrap()),
                issued_at: Timestamp::from_unix(i64::from(issued)),
                expires_at: Timestamp::from_unix(i64::from(issued) + i64::from(life)),
                given: PurposeSet(given & !refused),
                refused: PurposeSet(refused),
                ..claims()
            };
            if c.expires_at.as_unix() <= i64::from(u32::MAX) {
                let t = keys().sign(&c).unwrap();
                let verified = UnverifiedToken::decode(&t).unwrap().verify(&keys()).unwrap();
                prop_assert_eq!(verified.claims(), &c);
            }
        }
    }
}
