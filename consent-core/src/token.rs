//! The consent token: the first-party cookie that carries a visitor's choices.
//!
//! Binary layout (version 2), then base64url without padding; see `spec/SPEC.md` §3:
//!
//! ```text
//! u8  version = 2
//! u8  key id length k (1..=16), then k bytes of key id
//! u16 policy version, days since 1970-01-01
//! u32 issued at, seconds since the epoch
//! u32 expires at, seconds since the epoch
//! u8  subject kind: 1 = device, 2 = person
//! 16  subject: the device id or the person's pseudonym
//! 16  receipt id
//! u64 given purposes (bit n = purpose code n)
//! u64 refused purposes
//! 16  tag = first 16 bytes of HMAC-SHA256(key, "consent-token/v2" || 0x00 || all bytes above)
//! ```
//! Integers are big-endian. Version 1 is the same without the kind byte, tagged under
//! `"consent-token/v1" || 0x00`; it is still read, with a subject of unknown kind
//! ([`TokenSubject::Unbound`]), and never written.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::{
    Allowed, Date, Decision, Denied, KeyId, Policy, PolicyVersion, PurposeId, PurposeSet,
    ReceiptId, SubjectId, Timestamp,
};

/// The token format version this library writes. It also reads version 1, whose subject's kind is not
/// known ([`TokenSubject::Unbound`]).
pub const TOKEN_VERSION: u8 = 2;
/// The first token format: read, never written.
const VERSION_1: u8 = 1;
/// Longest token text accepted by [`UnverifiedToken::decode`].
pub const MAX_TOKEN_LEN: usize = 256;
const TAG_LEN: usize = 16;
/// The subject kind byte of a device (version 2).
const KIND_DEVICE: u8 = 1;
/// The subject kind byte of a person (version 2).
const KIND_PERSON: u8 = 2;
#[cfg(feature = "crypto")]
/// Fixed part after the key id: version(2) + issued(4) + expires(4) + kind(1) + subject(16) +
/// receipt(16) + 2×u64.
const BODY_LEN: usize = 2 + 4 + 4 + 1 + 16 + 16 + 8 + 8;

/// What a consent token says.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TokenClaims {
    /// The policy version the choice was made under.
    pub policy_version: PolicyVersion,
    /// Server time the token was issued.
    pub issued_at: Timestamp,
    /// When the choice lapses and the banner asks again.
    pub expires_at: Timestamp,
    /// Whose choice it is: a device or a person (signed with the token), or, in a version 1 token, 128
    /// bits of unknown kind. Read it with [`TokenClaims::device`] or [`TokenClaims::person`].
    pub subject: TokenSubject,
    /// The receipt that records this choice.
    pub receipt: ReceiptId,
    /// Purposes consented to.
    pub given: PurposeSet,
    /// Purposes refused or withdrawn.
    pub refused: PurposeSet,
}

impl TokenClaims {
    /// The claims of a token text, unverified: [`UnverifiedToken::decode`] (the same decoder, the same
    /// checks and errors) for a reader that wants the claims only, such as the banner deciding whether
    /// to ask again. It keeps neither the key id, the signed bytes nor the tag, so a build that never
    /// verifies carries none of that. Anyone can forge these claims: a backend deciding whether it may
    /// process data verifies ([`UnverifiedToken::verify`]).
    ///
    /// ```
    /// use consent_core::{TokenClaims, UnverifiedToken};
    /// // spec/vectors/tokens.json, `every-purpose-decided`.
    /// let text = "AgN0MjVOzWfrqxBo3O2QAVpaWlpaWlpaWlpaWlpaWloBAQEBAQEBAQEBAQEBAQEBAAAAAAAAGT8AAAAAAAAgwJ1KBLguKu7L0JHv1dEv_F4";
    /// let claims = TokenClaims::decode_unverified(text)?;
    /// assert!(claims.device().is_some());
    /// assert_eq!(claims, *UnverifiedToken::decode(text)?.unverified_claims());
    /// # Ok::<(), consent_core::TokenError>(())
    /// ```
    pub fn decode_unverified(text: &str) -> Result<TokenClaims, TokenError> {
        Ok(parse(text)?.1)
    }

    /// The device whose choice this is, when the token says it is a device's (an anonymous visitor,
    /// `dev:` on the server).
    pub fn device(&self) -> Option<SubjectId> {
        match self.subject {
            TokenSubject::Device(id) => Some(id),
            TokenSubject::Person(_) | TokenSubject::Unbound(_) => None,
        }
    }

    /// The person whose choice this is, when the token says it is a person's (the server's pseudonym,
    /// `sub:` on the server). `None` for a device and for a version 1 token, whose 128 bits may be a
    /// device id equal to someone's pseudonym: only this says a token speaks for a person.
    ///
    /// ```
    /// use consent_core::{SubjectId, TokenClaims, TokenSubject};
    /// let pseudonym = SubjectId([7; 16]);
    /// let mut claims = TokenClaims {
    ///     subject: TokenSubject::Device(pseudonym),
    ///     # policy_version: "2025-03-26".parse()?,
    ///     # issued_at: consent_core::Timestamp::from_unix(1),
    ///     # expires_at: consent_core::Timestamp::from_unix(2),
    ///     # receipt: consent_core::ReceiptId([9; 16]),
    ///     # given: consent_core::PurposeSet::EMPTY,
    ///     # refused: consent_core::PurposeSet::EMPTY,
    /// };
    /// // The same 128 bits, drawn as a device id: not that person.
    /// assert_eq!(claims.person(), None);
    /// assert_eq!(claims.device(), Some(pseudonym));
    /// claims.subject = TokenSubject::Person(pseudonym);
    /// assert_eq!(claims.person(), Some(pseudonym));
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    pub fn person(&self) -> Option<SubjectId> {
        match self.subject {
            TokenSubject::Person(id) => Some(id),
            TokenSubject::Device(_) | TokenSubject::Unbound(_) => None,
        }
    }

    /// Whether the token may stand for device `id`: a version 2 token of that device, or a version 1
    /// token with those bits ([`TokenSubject::Unbound`], read as far as a device goes: a version 1
    /// cookie's bits are the device id its banner sends). Never a person's token, even with the same
    /// bits. The consent server asks it of the token a request naming a device comes with: a device's
    /// choice is changed only by that device (product rule 12).
    ///
    /// ```
    /// use consent_core::{SubjectId, TokenClaims, TokenSubject};
    /// let id = SubjectId([7; 16]);
    /// let mut claims = TokenClaims {
    ///     subject: TokenSubject::Device(id),
    ///     # policy_version: "2025-03-26".parse()?,
    ///     # issued_at: consent_core::Timestamp::from_unix(1),
    ///     # expires_at: consent_core::Timestamp::from_unix(2),
    ///     # receipt: consent_core::ReceiptId([9; 16]),
    ///     # given: consent_core::PurposeSet::EMPTY,
    ///     # refused: consent_core::PurposeSet::EMPTY,
    /// };
    /// assert!(claims.speaks_for_device(id));
    /// assert!(!claims.speaks_for_device(SubjectId([8; 16])));
    /// claims.subject = TokenSubject::Unbound(id);
    /// assert!(claims.speaks_for_device(id));
    /// claims.subject = TokenSubject::Person(id);
    /// assert!(!claims.speaks_for_device(id));
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    pub fn speaks_for_device(&self, id: SubjectId) -> bool {
        match self.subject {
            TokenSubject::Device(d) | TokenSubject::Unbound(d) => d == id,
            TokenSubject::Person(_) => false,
        }
    }
}

/// Whose choice a token carries: 128 bits and what they name.
///
/// A device id (drawn by the banner or the server) and a person's pseudonym (drawn by the server) are
/// both 128 bits, and pseudonyms are not secret (they appear in unsubscribe links), so the bits alone
/// never say whose a token is: anyone can make a device id equal to a pseudonym. Version 2 tokens sign
/// the kind with the bits; version 1 tokens did not, and their subject is [`TokenSubject::Unbound`].
/// There is deliberately no accessor that returns the bits whatever their kind: a caller matches, or
/// asks [`TokenClaims::device`] or [`TokenClaims::person`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TokenSubject {
    /// An anonymous visitor's device (`dev:` on the server).
    Device(SubjectId),
    /// An identified person: the server's pseudonym for them (`sub:` on the server).
    Person(SubjectId),
    /// The subject of a version 1 token, which does not say its kind: a device id or a pseudonym, nobody
    /// can tell, so never a person. `TokenKeys::sign` refuses it: only version 2 is written.
    Unbound(SubjectId),
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
    /// A subject kind byte that is neither device (1) nor person (2).
    #[error("unknown token subject kind {0}")]
    UnknownSubjectKind(u8),
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

/// The one token decoder, behind [`UnverifiedToken::decode`] and [`TokenClaims::decode_unverified`]:
/// the key id, the claims, the signed bytes (the decoded text, cut to what the tag covers) and the tag.
// Inlined into both: a reader of the claims alone (the banner) then keeps none of the rest.
#[inline(always)]
fn parse(text: &str) -> Result<(KeyId, TokenClaims, Vec<u8>, [u8; TAG_LEN]), TokenError> {
    if text.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let raw = crate::b64::decode(text).map_err(|_| TokenError::Base64)?;
    let mut rest = raw.as_slice();
    let version = uint(&mut rest, 1)? as u8;
    // Version 2 has a kind byte before the subject; version 1 has none (read as kind 0).
    let kind_len = match version {
        TOKEN_VERSION => 1,
        VERSION_1 => 0,
        _ => return Err(TokenError::UnknownVersion(version)),
    };
    let kid_len = uint(&mut rest, 1)? as usize;
    let kid = KeyId::from_bytes(take(&mut rest, kid_len)?)
        .map_err(|_| TokenError::Invalid("bad key id"))?;
    let days = uint(&mut rest, 2)? as u16;
    let issued_at = Timestamp::from_unix(uint(&mut rest, 4)? as i64);
    let expires_at = Timestamp::from_unix(uint(&mut rest, 4)? as i64);
    let kind = uint(&mut rest, kind_len)? as u8;
    let id = SubjectId(array(&mut rest)?);
    let receipt = ReceiptId(array(&mut rest)?);
    let given = PurposeSet(uint(&mut rest, 8)?);
    let refused = PurposeSet(uint(&mut rest, 8)?);
    let signed_len = raw.len() - rest.len();
    let tag: [u8; TAG_LEN] = array(&mut rest)?;
    if !rest.is_empty() {
        return Err(TokenError::TrailingBytes);
    }
    let subject = match kind {
        KIND_DEVICE => TokenSubject::Device(id),
        KIND_PERSON => TokenSubject::Person(id),
        0 if kind_len == 0 => TokenSubject::Unbound(id),
        other => return Err(TokenError::UnknownSubjectKind(other)),
    };
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
    Ok((kid, claims, signed, tag))
}

impl UnverifiedToken {
    /// Parses a token (version 2, or version 1 with an [`TokenSubject::Unbound`] subject). Checks the
    /// format only, not the signature.
    ///
    /// Rejects texts over 256 characters, anything but strict base64url, unknown versions, unknown
    /// subject kinds, truncated tokens, trailing bytes, and tokens whose fields contradict each other.
    pub fn decode(text: &str) -> Result<UnverifiedToken, TokenError> {
        let (kid, claims, signed, tag) = parse(text)?;
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
/// The bytes a token's tag covers, laid out for its subject: version 2 for a device or a person,
/// version 1 for an unbound subject (which only [`UnverifiedToken::encode`] writes: signing refuses it).
fn signed_bytes(kid: KeyId, c: &TokenClaims) -> Result<Vec<u8>, TokenError> {
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
    let (version, kind, id) = match c.subject {
        TokenSubject::Device(id) => (TOKEN_VERSION, Some(KIND_DEVICE), id),
        TokenSubject::Person(id) => (TOKEN_VERSION, Some(KIND_PERSON), id),
        TokenSubject::Unbound(id) => (VERSION_1, None, id),
    };
    let kid_bytes = kid.as_bytes();
    let mut out = Vec::with_capacity(2 + kid_bytes.len() + BODY_LEN + TAG_LEN);
    out.push(version);
    out.push(u8::try_from(kid_bytes.len()).map_err(|_| TokenError::Invalid("bad key id"))?);
    out.extend_from_slice(kid_bytes);
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&issued.to_be_bytes());
    out.extend_from_slice(&expires.to_be_bytes());
    out.extend(kind);
    out.extend_from_slice(&id.0);
    out.extend_from_slice(&c.receipt.0);
    out.extend_from_slice(&c.given.0.to_be_bytes());
    out.extend_from_slice(&c.refused.0.to_be_bytes());
    Ok(out)
}

#[cfg(feature = "crypto")]
impl UnverifiedToken {
    /// The token's text, written again from its fields (key id, claims, tag; the version follows the
    /// subject). Decoding is strict, so a token has one text form and this is the text it was decoded
    /// from, for version 1 as for version 2; the fuzz target checks that for every token it decodes.
    ///
    /// ```
    /// use consent_core::{TokenSubject, UnverifiedToken};
    /// // A version 1 token (spec/vectors/tokens.json, `v1-every-purpose-decided`).
    /// let text = "AQN0MjVOzWfrqxBo3O2QWlpaWlpaWlpaWlpaWlpaWgEBAQEBAQEBAQEBAQEBAQEAAAAAAAAZPwAAAAAAACDAEMlUBIQ4yUXonuB9KUa5zg";
    /// let token = UnverifiedToken::decode(text)?;
    /// assert!(matches!(token.unverified_claims().subject, TokenSubject::Unbound(_)));
    /// assert_eq!(token.encode(), text);
    /// # Ok::<(), consent_core::TokenError>(())
    /// ```
    pub fn encode(&self) -> String {
        // Cannot fail: every field came from the decoder, which checks what `signed_bytes` checks.
        let mut bytes = signed_bytes(self.kid, &self.claims).unwrap_or_default();
        bytes.extend_from_slice(&self.tag);
        crate::b64::encode(&bytes)
    }
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
    ///
    /// It does not say whose the choice is: a service acting for one person first checks that
    /// [`TokenClaims::person`] is that person.
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
mod keys;
#[cfg(feature = "crypto")]
pub use keys::TokenKeys;

#[cfg(all(test, feature = "crypto"))]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    /// The bytes of a token with these claims under key id `t1`, with a tag that decoding does not check.
    fn bytes(c: &TokenClaims) -> Vec<u8> {
        let mut out = signed_bytes("t1".parse().unwrap(), c).unwrap();
        out.extend_from_slice(&[0xaa; TAG_LEN]);
        out
    }

    fn decode(bytes: &[u8]) -> Result<UnverifiedToken, TokenError> {
        UnverifiedToken::decode(&crate::b64::encode(bytes))
    }

    /// Where the kind byte is in a token with key id `t1`.
    const KIND_AT: usize = 2 + 2 + 2 + 4 + 4;

    #[test]
    fn only_a_person_token_names_a_person() {
        let id = SubjectId([7; 16]);
        let with = |subject| TokenClaims {
            subject,
            ..claims()
        };
        let (device, person, v1) = (
            with(TokenSubject::Device(id)),
            with(TokenSubject::Person(id)),
            with(TokenSubject::Unbound(id)),
        );
        assert_eq!((device.device(), device.person()), (Some(id), None));
        assert_eq!((person.device(), person.person()), (None, Some(id)));
        assert_eq!((v1.device(), v1.person()), (None, None));
        assert!(device.speaks_for_device(id) && v1.speaks_for_device(id));
        assert!(!person.speaks_for_device(id));
        assert!(!device.speaks_for_device(SubjectId([8; 16])));
        // The kind byte is what is read: the same bytes but for it, the same bits, another kind.
        let (d, p) = (bytes(&device), bytes(&person));
        assert_eq!((d[0], d[KIND_AT]), (TOKEN_VERSION, KIND_DEVICE));
        assert_eq!((p[0], p[KIND_AT]), (TOKEN_VERSION, KIND_PERSON));
        let differ: Vec<usize> = (0..d.len()).filter(|i| d[*i] != p[*i]).collect();
        assert_eq!(differ, [KIND_AT]);
        assert_eq!(decode(&p).unwrap().unverified_claims(), &person);
        // Version 1: no kind byte, version 1, read as unbound.
        let old = bytes(&v1);
        assert_eq!((old[0], old.len()), (VERSION_1, d.len() - 1));
        assert_eq!(decode(&old).unwrap().unverified_claims(), &v1);
    }

    #[test]
    fn rejects_malformed_tokens() {
        let raw = bytes(&claims());
        let mut v3 = raw.clone();
        v3[0] = 3;
        assert_eq!(decode(&v3), Err(TokenError::UnknownVersion(3)));
        v3[0] = 0;
        assert_eq!(decode(&v3), Err(TokenError::UnknownVersion(0)));
        for kind in [0, 3, 0x81, 0xff] {
            let mut unknown = raw.clone();
            unknown[KIND_AT] = kind;
            assert_eq!(decode(&unknown), Err(TokenError::UnknownSubjectKind(kind)));
        }
        // A version 1 layout labelled version 2 is one byte short, and the reverse one byte long.
        let mut relabelled = bytes(&TokenClaims {
            subject: TokenSubject::Unbound(SubjectId([7; 16])),
            ..claims()
        });
        relabelled[0] = TOKEN_VERSION;
        assert_eq!(decode(&relabelled), Err(TokenError::Truncated));
        let mut relabelled = raw.clone();
        relabelled[0] = VERSION_1;
        assert_eq!(decode(&relabelled), Err(TokenError::TrailingBytes));
        let mut trailing = raw.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(TokenError::TrailingBytes));
        assert_eq!(decode(&raw[..raw.len() - 1]), Err(TokenError::Truncated));
        assert_eq!(decode(&raw[..KIND_AT]), Err(TokenError::Truncated));
        let text = crate::b64::encode(&raw);
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
        assert!(signed_bytes("t1".parse().unwrap(), &both).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let text = crate::b64::encode(&bytes);
            // The claims-only entry agrees with the full decoder on every input.
            prop_assert_eq!(
                TokenClaims::decode_unverified(&text),
                UnverifiedToken::decode(&text).map(|t| *t.unverified_claims())
            );
        }

        #[test]
        fn decoded_tokens_encode_to_their_text(mut bytes in proptest::collection::vec(any::<u8>(), 79), version in 1u8..3, kind in 0u8..4) {
            // Random fields in a well-formed frame (key id `t1`, issued before expiry, nothing both given
            // and refused): every such token decodes unless its kind is unknown, and re-encodes to its text.
            let len = if version == 1 { 78 } else { 79 };
            bytes.truncate(len);
            bytes[..4].copy_from_slice(&[version, 2, b't', b'1']);
            bytes[6] = 0; // issued at < 2^24
            bytes[10] = 0xff; // expires at >= 2^24 * 255
            if version == 2 {
                bytes[KIND_AT] = kind;
            }
            let refused_at = len - TAG_LEN - 8;
            bytes[refused_at..refused_at + 8].fill(0);
            let text = crate::b64::encode(&bytes);
            match UnverifiedToken::decode(&text) {
                Ok(t) => prop_assert_eq!(t.encode(), text),
                Err(e) => prop_assert_eq!(e, TokenError::UnknownSubjectKind(kind)),
            }
        }
    }
}
