//! Signing and verifying consent tokens: HMAC-SHA256 under the domain separation string of the token's
//! version, truncated to 16 bytes, compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::*;
use crate::HmacKey;

/// Domain separation for the MAC of a version 2 token.
const TOKEN_DOMAIN: &[u8] = b"consent-token/v2\0";
/// Domain separation for the MAC of a version 1 token.
const TOKEN_DOMAIN_V1: &[u8] = b"consent-token/v1\0";

/// HMAC-SHA256 keyed with `key`, fed the domain separation string of the token's version.
fn mac(key: &HmacKey, domain: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this never fails.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    m.update(domain);
    m
}

/// The tag of `signed` under `domain`: the first 16 bytes of the MAC.
fn tag(key: &HmacKey, domain: &[u8], signed: &[u8]) -> [u8; TAG_LEN] {
    let mut m = mac(key, domain);
    m.update(signed);
    let full = m.finalize().into_bytes();
    let mut tag = [0u8; TAG_LEN];
    for (t, b) in tag.iter_mut().zip(full.iter()) {
        *t = *b;
    }
    tag
}

/// The server's token keys: one active key that signs, older keys that still verify.
///
/// ```
/// use consent_core::{HmacKey, PurposeSet, SubjectId, TokenClaims, TokenKeys, TokenSubject,
///     UnverifiedToken, Timestamp};
/// let keys = TokenKeys::new("t25".parse()?, HmacKey::from_bytes([1; 32]));
/// let claims = TokenClaims {
///     policy_version: "2025-03-26".parse()?,
///     issued_at: Timestamp::from_unix(1_750_000_000),
///     expires_at: Timestamp::from_unix(1_750_000_000).add_months(6),
///     subject: TokenSubject::Person(SubjectId([7; 16])),
///     receipt: consent_core::ReceiptId([9; 16]),
///     given: PurposeSet(0b1_0000_0000),
///     refused: PurposeSet(0b10_0000_0000),
/// };
/// let cookie = keys.sign(&claims)?;
/// assert_eq!(cookie.len(), 107);
/// let token = UnverifiedToken::decode(&cookie)?.verify(&keys)?;
/// assert_eq!(token.claims(), &claims);
/// assert_eq!(token.claims().person(), Some(SubjectId([7; 16])));
/// // Only version 2 is written: a subject of unknown kind is never signed.
/// let unbound = TokenClaims { subject: TokenSubject::Unbound(SubjectId([7; 16])), ..claims };
/// assert!(keys.sign(&unbound).is_err());
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

    /// Signs claims with the active key; the result is the cookie value, a version 2 token.
    ///
    /// Refuses an [`TokenSubject::Unbound`] subject: a token says whose it is.
    pub fn sign(&self, claims: &TokenClaims) -> Result<String, TokenError> {
        if let TokenSubject::Unbound(_) = claims.subject {
            return Err(TokenError::Invalid(
                "a subject of unknown kind is never signed",
            ));
        }
        let key = self
            .key(self.active)
            .ok_or(TokenError::UnknownKey(self.active))?;
        let mut bytes = signed_bytes(self.active, claims)?;
        let tag = tag(key, TOKEN_DOMAIN, &bytes);
        bytes.extend_from_slice(&tag);
        Ok(crate::b64::encode(&bytes))
    }
}

impl UnverifiedToken {
    /// Checks the tag with the key the token names (constant-time comparison), under the domain
    /// separation string of the token's version.
    pub fn verify(self, keys: &TokenKeys) -> Result<ConsentToken, TokenError> {
        let key = keys.key(self.kid).ok_or(TokenError::UnknownKey(self.kid))?;
        let domain = match self.claims.subject {
            TokenSubject::Device(_) | TokenSubject::Person(_) => TOKEN_DOMAIN,
            TokenSubject::Unbound(_) => TOKEN_DOMAIN_V1,
        };
        let mut m = mac(key, domain);
        m.update(&self.signed);
        m.verify_truncated_left(&self.tag)
            .map_err(|_| TokenError::BadSignature)?;
        Ok(ConsentToken {
            kid: self.kid,
            claims: self.claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> TokenKeys {
        TokenKeys::new("t1".parse().unwrap(), HmacKey::from_bytes([1; 32]))
    }

    fn claims() -> TokenClaims {
        TokenClaims {
            policy_version: "2025-03-26".parse().unwrap(),
            issued_at: Timestamp::from_unix(1_750_000_000),
            expires_at: Timestamp::from_unix(1_765_000_000),
            subject: TokenSubject::Device(SubjectId([7; 16])),
            receipt: ReceiptId([9; 16]),
            given: PurposeSet(0x3fff & !0x280),
            refused: PurposeSet(0x280),
        }
    }

    fn raw(text: &str) -> Vec<u8> {
        crate::b64::decode(text).unwrap()
    }

    /// Tags `body` (all bytes before the tag) with the test key under `domain`.
    fn retag(body: &[u8], domain: &[u8]) -> String {
        let mut out = body.to_vec();
        out.extend_from_slice(&tag(&HmacKey::from_bytes([1; 32]), domain, body));
        crate::b64::encode(&out)
    }

    /// A version 1 token as the library wrote it before version 2: the same layout without the kind
    /// byte, tagged under the version 1 domain. (Its layout is checked independently by the vectors,
    /// which keep the texts earlier releases wrote.)
    fn sign_v1(c: &TokenClaims) -> String {
        let bytes = signed_bytes("t1".parse().unwrap(), c).unwrap();
        assert_eq!(bytes[0], VERSION_1);
        retag(&bytes, TOKEN_DOMAIN_V1)
    }

    /// Signs claims the way their subject calls for: version 2, or version 1 for an unbound subject.
    fn sign_any(c: &TokenClaims) -> String {
        match c.subject {
            TokenSubject::Unbound(_) => sign_v1(c),
            _ => keys().sign(c).unwrap(),
        }
    }

    fn verify(text: &str) -> Result<TokenClaims, TokenError> {
        UnverifiedToken::decode(text)?
            .verify(&keys())
            .map(|t| *t.claims())
    }

    /// Where the kind byte is in a token signed by `keys()` (key id `t1`).
    const KIND_AT: usize = 2 + 2 + 2 + 4 + 4;

    #[test]
    fn round_trip_and_size_for_both_kinds() {
        for subject in [
            TokenSubject::Device(SubjectId([7; 16])),
            TokenSubject::Person(SubjectId([7; 16])),
        ] {
            let c = TokenClaims {
                subject,
                ..claims()
            };
            let text = keys().sign(&c).unwrap();
            // 2 + 2 (key id) + 59 + 16 = 79 bytes.
            assert_eq!(text.len(), 106, "{text}");
            assert_eq!(raw(&text)[0], TOKEN_VERSION);
            let t = UnverifiedToken::decode(&text).unwrap();
            assert_eq!(t.unverified_claims(), &c);
            assert_eq!(t.encode(), text);
            assert_eq!(t.verify(&keys()).unwrap().claims(), &c);
        }
    }

    #[test]
    fn the_kind_is_signed() {
        let id = SubjectId([7; 16]);
        let device = keys().sign(&claims()).unwrap();
        // Flipping the kind without the key breaks the tag; with the key, the token says person.
        let mut flipped = raw(&device);
        flipped[KIND_AT] = KIND_PERSON;
        assert_eq!(
            verify(&crate::b64::encode(&flipped)),
            Err(TokenError::BadSignature)
        );
        let body = &flipped[..flipped.len() - TAG_LEN];
        assert_eq!(
            verify(&retag(body, TOKEN_DOMAIN)).unwrap().person(),
            Some(id)
        );
    }

    #[test]
    fn version_1_still_verifies_with_a_subject_of_unknown_kind() {
        let v1 = TokenClaims {
            subject: TokenSubject::Unbound(SubjectId([7; 16])),
            ..claims()
        };
        let text = sign_v1(&v1);
        assert_eq!(text.len(), 104); // one byte less than version 2: no kind
        let t = UnverifiedToken::decode(&text).unwrap();
        assert_eq!(t.unverified_claims(), &v1);
        assert_eq!(t.encode(), text);
        let verified = t.verify(&keys()).unwrap();
        assert_eq!(verified.claims(), &v1);
        assert_eq!(verified.claims().person(), None);
        // Never written again.
        assert!(matches!(keys().sign(&v1), Err(TokenError::Invalid(_))));
        let mut tampered = raw(&text);
        tampered[20] ^= 1; // inside the subject
        assert_eq!(
            verify(&crate::b64::encode(&tampered)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn the_domains_of_the_two_versions_are_separate() {
        // A version 2 body tagged under the version 1 domain, and the reverse, do not verify.
        let v2 = raw(&keys().sign(&claims()).unwrap());
        let body = &v2[..v2.len() - TAG_LEN];
        assert_eq!(
            verify(&retag(body, TOKEN_DOMAIN_V1)),
            Err(TokenError::BadSignature)
        );
        let v1 = raw(&sign_v1(&TokenClaims {
            subject: TokenSubject::Unbound(SubjectId([7; 16])),
            ..claims()
        }));
        let body = &v1[..v1.len() - TAG_LEN];
        assert_eq!(
            verify(&retag(body, TOKEN_DOMAIN)),
            Err(TokenError::BadSignature)
        );
        // Downgrading a version 2 token to version 1 (the kind byte cut out) without the key.
        let mut downgraded = v2.clone();
        downgraded[0] = VERSION_1;
        downgraded.remove(KIND_AT);
        assert_eq!(
            verify(&crate::b64::encode(&downgraded)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn rejects_tampering_unknown_keys_and_rotation_works() {
        let text = keys().sign(&claims()).unwrap();
        let mut raw = raw(&text);
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
        let both = TokenClaims {
            given: PurposeSet(1),
            refused: PurposeSet(1),
            ..claims()
        };
        assert!(keys().sign(&both).is_err());
    }

    fn any_claims() -> impl Strategy<Value = TokenClaims> {
        (
            (any::<u64>(), any::<u64>()),
            (0u32..4_000_000_000, 1u32..100_000_000, 0u16..40_000),
            (any::<[u8; 16]>(), any::<[u8; 16]>(), 0u8..3),
        )
            .prop_filter_map(
                "expiry fits 32 bits",
                |((given, refused), (issued, life, days), (id, receipt, kind))| {
                    let expires = issued.checked_add(life)?;
                    let id = SubjectId(id);
                    Some(TokenClaims {
                        policy_version: PolicyVersion::from_date(
                            Date::from_days(i32::from(days)).unwrap(),
                        ),
                        issued_at: Timestamp::from_unix(i64::from(issued)),
                        expires_at: Timestamp::from_unix(i64::from(expires)),
                        subject: match kind {
                            0 => TokenSubject::Device(id),
                            1 => TokenSubject::Person(id),
                            _ => TokenSubject::Unbound(id),
                        },
                        receipt: ReceiptId(receipt),
                        given: PurposeSet(given & !refused),
                        refused: PurposeSet(refused),
                    })
                },
            )
    }

    proptest! {
        #[test]
        fn sign_then_verify_for_every_kind(c in any_claims()) {
            let t = sign_any(&c);
            let decoded = UnverifiedToken::decode(&t).unwrap();
            prop_assert_eq!(decoded.encode(), t.clone());
            let verified = decoded.verify(&keys()).unwrap();
            prop_assert_eq!(verified.claims(), &c);
            let version = if matches!(c.subject, TokenSubject::Unbound(_)) { VERSION_1 } else { TOKEN_VERSION };
            prop_assert_eq!(raw(&t)[0], version);
        }

        #[test]
        fn flipping_any_bit_of_a_token_breaks_it(c in any_claims(), bit in any::<prop::sample::Index>()) {
            let mut bytes = raw(&sign_any(&c));
            let bit = bit.index(bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify(&crate::b64::encode(&bytes)).is_err(), "bit {}", bit);
        }
    }
}
