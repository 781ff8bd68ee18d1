//! Sealed personal fields (receipt payload version 2): each name is encrypted with XChaCha20-Poly1305
//! under the subject's data key, bound to the receipt id and the field's name as associated data.
//!
//! The signature of a receipt covers the ciphertexts, so a receipt stays verifiable after its subject's
//! key is destroyed (crypto-shredding): the names in it can then be read by nobody.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::{ReceiptError, ReceiptId, b64};

/// The `enc` of a sealed field: XChaCha20-Poly1305 with this library's associated data and padding
/// (`spec/SPEC.md` §2.5).
pub const SEAL_ENC: &str = "xc20p1";
/// Length of a data key, in bytes.
pub const DATA_KEY_LEN: usize = 32;
/// Length of a sealed field's nonce, in bytes.
pub const SEAL_NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Names are padded to a multiple of this many bytes, so a ciphertext tells little of a name's length.
const PAD_BLOCK: usize = 32;
/// The start of every sealed field's associated data.
const AAD_DOMAIN: &[u8] = b"consent-receipt/v2\0";

/// A subject's data key: the 256-bit XChaCha20-Poly1305 key their receipts' names are sealed under.
///
/// The caller (the server) draws it from a secure RNG, keeps it apart from the receipts, and destroys it
/// to erase the subject: the names sealed under it can then never be read again, while the receipts
/// still verify. Its `Debug` never shows the key, equality runs in constant time, and the bytes are
/// zeroed on drop.
///
/// ```
/// use consent_core::DataKey;
/// let key = DataKey::from_bytes([7; 32]);
/// assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
/// assert_eq!(key, DataKey::from_bytes([7; 32]));
/// assert_ne!(key, DataKey::from_bytes([8; 32]));
/// ```
#[derive(Clone)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// A key from 32 bytes. The caller draws them from a secure RNG (this crate has none).
    pub const fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        DataKey(bytes)
    }

    /// The key bytes, to store.
    pub fn expose_secret(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }
}

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A field of a receipt that names a person, sealed in version 2 receipts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[non_exhaustive]
pub enum PersonalField {
    /// The subject's full name (Law 94-V Art. 8(4)(2)): `personal.subject_name`.
    SubjectName,
    /// The name of the representative who decided: `personal.representative`.
    Representative,
}

impl PersonalField {
    /// Every personal field, in the order the payload lists them.
    pub const ALL: [PersonalField; 2] = [PersonalField::SubjectName, PersonalField::Representative];

    /// The field's name: its member in the payload's `personal` object, and its part of the
    /// associated data.
    pub const fn as_str(self) -> &'static str {
        match self {
            PersonalField::SubjectName => "subject_name",
            PersonalField::Representative => "representative",
        }
    }
}

impl fmt::Display for PersonalField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The nonces of one receipt's sealed fields: fresh random bytes from the caller, one nonce per field.
///
/// XChaCha20's 192-bit nonces are long enough to be drawn at random for every field of every receipt
/// under one key (a repeat is as likely as guessing a 192-bit number). A nonce must never be used twice
/// with the same key, so the two must differ, and all-zero nonces (a forgotten fill) are refused.
///
/// ```
/// use consent_core::SealNonces;
/// let n = SealNonces::from_bytes([1; 48]);
/// assert_eq!((n.subject_name, n.representative), ([1; 24], [1; 24]));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SealNonces {
    /// The nonce of `personal.subject_name`.
    pub subject_name: [u8; SEAL_NONCE_LEN],
    /// The nonce of `personal.representative`.
    pub representative: [u8; SEAL_NONCE_LEN],
}

impl SealNonces {
    /// The two nonces from 48 random bytes: the first 24 for the subject's name, the rest for the
    /// representative's.
    pub fn from_bytes(bytes: [u8; 2 * SEAL_NONCE_LEN]) -> Self {
        let mut n = SealNonces {
            subject_name: [0; SEAL_NONCE_LEN],
            representative: [0; SEAL_NONCE_LEN],
        };
        let (a, b) = bytes.split_at(SEAL_NONCE_LEN);
        n.subject_name.copy_from_slice(a);
        n.representative.copy_from_slice(b);
        n
    }

    fn get(&self, field: PersonalField) -> [u8; SEAL_NONCE_LEN] {
        match field {
            PersonalField::SubjectName => self.subject_name,
            PersonalField::Representative => self.representative,
        }
    }
}

/// What a version 2 receipt is sealed with: the subject's data key and fresh nonces.
///
/// ```
/// use consent_core::{DataKey, Seal, SealNonces};
/// let key = DataKey::from_bytes([7; 32]);
/// let seal = Seal::new(&key, SealNonces::from_bytes([1; 48]));
/// # let _ = seal;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Seal<'k> {
    pub(crate) key: &'k DataKey,
    pub(crate) nonces: SealNonces,
}

impl<'k> Seal<'k> {
    /// Seals with `key`, using `nonces` (drawn fresh for this receipt).
    pub fn new(key: &'k DataKey, nonces: SealNonces) -> Self {
        Seal { key, nonces }
    }

    /// Seals `name` as `field` of receipt `receipt`.
    pub(crate) fn seal(
        &self,
        receipt: ReceiptId,
        field: PersonalField,
        name: &str,
    ) -> Result<Sealed, ReceiptError> {
        let nonce = self.nonces.get(field);
        if nonce == [0; SEAL_NONCE_LEN] {
            return Err(ReceiptError::Invalid(format!(
                "the nonce of {field} is all zeros: draw it from a secure RNG"
            )));
        }
        if self.nonces.subject_name == self.nonces.representative {
            return Err(ReceiptError::Invalid(
                "the two nonces are equal: a nonce is never used twice".into(),
            ));
        }
        if name.is_empty() {
            return Err(ReceiptError::Invalid(format!("{field} is empty")));
        }
        let mut buf = pad(name.as_bytes());
        let tag = self
            .key
            .cipher()
            .encrypt_inout_detached(
                &XNonce::from(nonce),
                &seal_associated_data(receipt, field),
                buf.as_mut_slice().into(),
            )
            .map_err(|_| ReceiptError::Invalid(format!("{field} is too long to seal")))?;
        buf.extend_from_slice(&tag);
        Ok(Sealed {
            nonce,
            ciphertext: buf,
        })
    }
}

/// The associated data of a sealed field: `"consent-receipt/v2" || 0x00 || jti || 0x00 || field`, with
/// `jti` the receipt id as written in the payload (36 characters) and `field` its name (`subject_name`,
/// `representative`). A ciphertext moved to another receipt or another field does not open.
///
/// ```
/// use consent_core::{PersonalField, ReceiptId, seal_associated_data};
/// let aad = seal_associated_data(ReceiptId([0xab; 16]), PersonalField::Representative);
/// assert_eq!(aad, b"consent-receipt/v2\0abababab-abab-abab-abab-abababababab\0representative");
/// ```
pub fn seal_associated_data(receipt: ReceiptId, field: PersonalField) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + 36 + 1 + field.as_str().len());
    aad.extend_from_slice(AAD_DOMAIN);
    aad.extend_from_slice(receipt.hyphenated().as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.as_str().as_bytes());
    aad
}

/// `bytes || 0x80 || 0x00…` up to the next multiple of [`PAD_BLOCK`] (at least one byte of padding).
fn pad(bytes: &[u8]) -> Vec<u8> {
    let len = (bytes.len() / PAD_BLOCK + 1) * PAD_BLOCK;
    let mut out = Vec::with_capacity(len + TAG_LEN);
    out.extend_from_slice(bytes);
    out.push(0x80);
    out.resize(len, 0);
    out
}

/// The bytes before the padding, if the padding is exactly what [`pad`] writes.
fn unpad(mut buf: Vec<u8>) -> Option<Vec<u8>> {
    if buf.is_empty() || !buf.len().is_multiple_of(PAD_BLOCK) {
        return None;
    }
    let end = buf.iter().rposition(|&b| b != 0)?;
    if buf.get(end) != Some(&0x80) || buf.len() - end > PAD_BLOCK {
        return None;
    }
    buf.truncate(end);
    Some(buf)
}

/// A sealed personal field: the nonce and the XChaCha20-Poly1305 ciphertext (with its 16-byte tag) of
/// the padded name.
///
/// In JSON: `{"enc":"xc20p1","n":<nonce, base64url>,"c":<ciphertext || tag, base64url>}`, nothing else.
/// The ciphertext's length is 16 plus a positive multiple of 32 bytes (the padded name).
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    nonce: [u8; SEAL_NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl Sealed {
    /// A sealed field from its parts, checking the form only (what decrypting needs: the ciphertext is
    /// 16 plus a positive multiple of 32 bytes).
    pub fn from_parts(
        nonce: [u8; SEAL_NONCE_LEN],
        ciphertext: Vec<u8>,
    ) -> Result<Self, ReceiptError> {
        let body = ciphertext.len().saturating_sub(TAG_LEN);
        if body == 0 || !body.is_multiple_of(PAD_BLOCK) {
            return Err(ReceiptError::Payload(format!(
                "a sealed field's ciphertext is {} bytes: expected 16 plus a multiple of {PAD_BLOCK}",
                ciphertext.len()
            )));
        }
        Ok(Sealed { nonce, ciphertext })
    }

    /// The nonce.
    pub fn nonce(&self) -> &[u8; SEAL_NONCE_LEN] {
        &self.nonce
    }

    /// The ciphertext followed by the 16-byte tag.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The name sealed here as `field` of receipt `receipt`, if `key` is the key it was sealed with and
    /// nothing was altered or moved.
    pub(crate) fn open(
        &self,
        key: &DataKey,
        receipt: ReceiptId,
        field: PersonalField,
    ) -> Result<String, ReceiptError> {
        let fail = || ReceiptError::Unseal(field);
        let (body, tag) = self
            .ciphertext
            .split_at_checked(self.ciphertext.len().wrapping_sub(TAG_LEN))
            .ok_or_else(fail)?;
        let tag = Tag::try_from(tag).map_err(|_| fail())?;
        let mut buf = body.to_vec();
        key.cipher()
            .decrypt_inout_detached(
                &XNonce::from(self.nonce),
                &seal_associated_data(receipt, field),
                buf.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| fail())?;
        let name = unpad(buf).ok_or_else(fail)?;
        match String::from_utf8(name) {
            Ok(s) if !s.is_empty() => Ok(s),
            Ok(_) => Err(fail()),
            Err(e) => {
                let mut bytes = e.into_bytes();
                bytes.zeroize();
                Err(fail())
            }
        }
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Sealed {{ n: {}, c: {} bytes }}",
            b64::encode(&self.nonce),
            self.ciphertext.len()
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedJson<'a> {
    enc: alloc::borrow::Cow<'a, str>,
    n: alloc::borrow::Cow<'a, str>,
    c: alloc::borrow::Cow<'a, str>,
}

impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SealedJson {
            enc: SEAL_ENC.into(),
            n: b64::encode(&self.nonce).into(),
            c: b64::encode(&self.ciphertext).into(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let j = SealedJson::deserialize(d)?;
        if j.enc != SEAL_ENC {
            return Err(D::Error::custom(format!(
                "unknown sealing `{}`: expected `{SEAL_ENC}`",
                j.enc
            )));
        }
        let nonce = b64::decode(&j.n)
            .ok()
            .and_then(|n| <[u8; SEAL_NONCE_LEN]>::try_from(n).ok())
            .ok_or_else(|| D::Error::custom("a sealed field's `n` is not 24 bytes of base64url"))?;
        let ciphertext = b64::decode(&j.c)
            .map_err(|_| D::Error::custom("a sealed field's `c` is not base64url"))?;
        Sealed::from_parts(nonce, ciphertext).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    static KEY: DataKey = DataKey::from_bytes([7; 32]);
    const ID: ReceiptId = ReceiptId([1; 16]);

    fn seal() -> Seal<'static> {
        Seal::new(
            &KEY,
            SealNonces::from_bytes(core::array::from_fn(|i| i as u8 + 1)),
        )
    }

    #[test]
    fn opens_with_its_key_receipt_and_field_only() {
        let s = seal()
            .seal(ID, PersonalField::SubjectName, "Нұрлан Серіков")
            .unwrap();
        assert_eq!(s.ciphertext().len(), 32 + 16, "27 bytes of name pad to 32");
        assert_eq!(
            s.open(&KEY, ID, PersonalField::SubjectName).unwrap(),
            "Нұрлан Серіков"
        );
        let wrong = DataKey::from_bytes([8; 32]);
        for (key, id, field) in [
            (&wrong, ID, PersonalField::SubjectName),
            (&KEY, ReceiptId([2; 16]), PersonalField::SubjectName),
            (&KEY, ID, PersonalField::Representative),
        ] {
            assert_eq!(
                s.open(key, id, field),
                Err(ReceiptError::Unseal(field)),
                "{id:?} {field}"
            );
        }
        let mut flipped = s.clone();
        if let Some(b) = flipped.ciphertext.first_mut() {
            *b ^= 1;
        }
        assert!(flipped.open(&KEY, ID, PersonalField::SubjectName).is_err());
    }

    #[test]
    fn refuses_zero_or_repeated_nonces_and_empty_names() {
        let zero = Seal::new(&KEY, SealNonces::from_bytes([0; 48]));
        assert!(zero.seal(ID, PersonalField::SubjectName, "a").is_err());
        let same = Seal::new(&KEY, SealNonces::from_bytes([5; 48]));
        assert!(same.seal(ID, PersonalField::SubjectName, "a").is_err());
        assert!(seal().seal(ID, PersonalField::SubjectName, "").is_err());
    }

    #[test]
    fn padding_is_strict() {
        assert_eq!(pad(b"").len(), 32);
        assert_eq!(pad(&[1; 31]).len(), 32);
        assert_eq!(pad(&[1; 32]).len(), 64);
        assert_eq!(unpad(pad(b"abc")), Some(b"abc".to_vec()));
        assert_eq!(unpad(vec![0; 32]), None, "no 0x80");
        let mut long = vec![0x80];
        long.resize(64, 0);
        assert_eq!(unpad(long), None, "more than one block of padding");
        assert_eq!(unpad(vec![0x80; 31]), None, "not a whole block");
    }

    #[test]
    fn json_form_is_strict() {
        let s = seal().seal(ID, PersonalField::Representative, "A").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.starts_with(r#"{"enc":"xc20p1","n":""#), "{json}");
        assert_eq!(serde_json::from_str::<Sealed>(&json).unwrap(), s);
        for bad in [
            json.replace("xc20p1", "xc20p2"),
            json.replacen('{', r#"{"x":1,"#, 1),
            json.replacen(r#""n":""#, r#""n":"AA"#, 1),
            r#"{"enc":"xc20p1","n":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","c":"AAAA"}"#.to_owned(),
            r#"{"enc":"xc20p1","n":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#.to_owned(),
            r#""a name""#.to_owned(),
        ] {
            assert!(serde_json::from_str::<Sealed>(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_shows_no_key_and_no_name() {
        let s = seal()
            .seal(ID, PersonalField::SubjectName, "Aigerim")
            .unwrap();
        let shown = format!("{KEY:?} {s:?} {s:#?}");
        assert!(shown.starts_with("DataKey(<redacted>) Sealed {"), "{shown}");
        assert!(!shown.contains("Aigerim"), "{shown}");
    }

    proptest! {
        #[test]
        fn round_trip(name in "\\PC{1,80}", key in any::<[u8; 32]>(), n in any::<[u8; 48]>()) {
            let key = DataKey::from_bytes(key);
            let nonces = SealNonces::from_bytes(n);
            prop_assume!(nonces.subject_name != nonces.representative);
            prop_assume!(nonces.representative != [0; 24]);
            let s = Seal::new(&key, nonces).seal(ID, PersonalField::Representative, &name).unwrap();
            prop_assert_eq!(s.ciphertext().len() % 32, 16);
            prop_assert_eq!(s.open(&key, ID, PersonalField::Representative).unwrap(), name);
        }

        #[test]
        fn opening_garbage_never_panics(nonce in any::<[u8; 24]>(), c in proptest::collection::vec(any::<u8>(), 0..120)) {
            let s = Sealed { nonce, ciphertext: c };
            prop_assert!(s.open(&KEY, ID, PersonalField::SubjectName).is_err());
        }
    }
}
