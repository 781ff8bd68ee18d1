//! The keys of C2SP signed notes (<https://c2sp.org/signed-note>): key names, key ids, Ed25519 note
//! keys (type `0x01`), Ed25519 cosignature/v1 keys (type `0x04`, <https://c2sp.org/tlog-cosignature>),
//! and the verifier key text form (`vkey`).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::NoteError;

/// Longest key name (and checkpoint origin), in bytes: ML-DSA cosignatures (C2SP tlog-cosignature)
/// encode names and origins with an 8-bit length.
pub const MAX_KEY_NAME_LEN: usize = 255;

/// The name of a note key: 1 to 255 bytes of UTF-8 without white space, `+` or control characters
/// below U+0020. C2SP recommends a schema-less URL; a log's key is named after its origin.
///
/// ```
/// use consent_core::tlog::KeyName;
/// assert!("invisionu.education/consent-log".parse::<KeyName>().is_ok());
/// assert!("a+b".parse::<KeyName>().is_err());
/// assert!("two words".parse::<KeyName>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct KeyName(String);

impl KeyName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::str::FromStr for KeyName {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<KeyName, NoteError> {
        if s.is_empty() || s.len() > MAX_KEY_NAME_LEN {
            return Err(NoteError::KeyName("1 to 255 bytes"));
        }
        if s.chars().any(|c| c.is_whitespace() || c == '+' || c < ' ') {
            return Err(NoteError::KeyName(
                "no white space, `+` or control characters",
            ));
        }
        Ok(KeyName(s.to_owned()))
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a note key signs, by its signature type byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum KeyKind {
    /// `0x01`: Ed25519 over the note text (a log signing its checkpoints).
    Ed25519,
    /// `0x04`: a timestamped Ed25519 cosignature/v1 of a checkpoint (a witness).
    Cosignature,
}

impl KeyKind {
    /// The signature type byte.
    pub const fn type_byte(self) -> u8 {
        match self {
            KeyKind::Ed25519 => 0x01,
            KeyKind::Cosignature => 0x04,
        }
    }

    fn from_type_byte(b: u8) -> Option<KeyKind> {
        match b {
            0x01 => Some(KeyKind::Ed25519),
            0x04 => Some(KeyKind::Cosignature),
            _ => None,
        }
    }
}

/// The key id: the first 4 bytes (big-endian) of `SHA-256(name || 0x0A || type || public key)`.
pub(crate) fn key_id(name: &KeyName, kind: KeyKind, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.0.as_bytes());
    h.update([b'\n', kind.type_byte()]);
    h.update(public);
    let [a, b, c, d, ..]: [u8; 32] = h.finalize().into();
    u32::from_be_bytes([a, b, c, d])
}

/// A public key that verifies note signatures (`0x01`) or checkpoint cosignatures (`0x04`).
///
/// Written and read as a C2SP verifier key, `<name>+<hex key id>+<base64(type || public key)>`: the form
/// the log publishes (`/log/key`, the README) and witnesses configure.
///
/// ```
/// use consent_core::tlog::{KeyKind, NoteVerifier};
/// // C2SP signed-note's example key.
/// let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
/// let key: NoteVerifier = vkey.parse()?;
/// assert_eq!((key.name().as_str(), key.key_id(), key.kind()), ("example.com/foo", 0x530d903a, KeyKind::Ed25519));
/// assert_eq!(key.to_string(), vkey);
/// // The key id must match the name and key.
/// assert!("example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k".parse::<NoteVerifier>().is_err());
/// # Ok::<(), consent_core::tlog::NoteError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteVerifier {
    name: KeyName,
    id: u32,
    kind: KeyKind,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The verifier of an Ed25519 public key of this kind and name.
    pub fn new(name: KeyName, kind: KeyKind, public: [u8; 32]) -> Result<NoteVerifier, NoteError> {
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadKey("not an Ed25519 public key"))?;
        Ok(NoteVerifier {
            id: key_id(&name, kind, &public),
            name,
            kind,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// What the key signs.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// A verifier that claims another key id (tests of colliding ids).
    #[cfg(test)]
    pub(crate) fn force_id(&mut self, id: u32) {
        self.id = id;
    }

    /// Whether `signature` (the bytes after the key id) is this key's over the note `text`; for a
    /// cosignature, returns its timestamp.
    pub(crate) fn check(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, NoteError> {
        let bad = NoteError::BadSignature {
            name: self.name.clone(),
            key_id: self.id,
        };
        match self.kind {
            KeyKind::Ed25519 => {
                let sig = <[u8; 64]>::try_from(signature).map_err(|_| bad.clone())?;
                self.key
                    .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig))
                    .map_err(|_| bad)?;
                Ok(None)
            }
            KeyKind::Cosignature => {
                let (time, sig) = signature.split_at_checked(8).ok_or(bad.clone())?;
                let time = u64::from_be_bytes(<[u8; 8]>::try_from(time).map_err(|_| bad.clone())?);
                let sig = <[u8; 64]>::try_from(sig).map_err(|_| bad.clone())?;
                let message = cosigned_message(text, time)?;
                self.key
                    .verify_strict(&message, &Signature::from_bytes(&sig))
                    .map_err(|_| bad)?;
                Ok(Some(time))
            }
        }
    }
}

/// What a cosignature/v1 signs: `cosignature/v1\ntime <t>\n` and the checkpoint's note text.
pub(crate) fn cosigned_message(text: &str, time: u64) -> Result<Vec<u8>, NoteError> {
    if time > i64::MAX as u64 {
        return Err(NoteError::Timestamp);
    }
    Ok(format!("cosignature/v1\ntime {time}\n{text}").into_bytes())
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = vec![self.kind.type_byte()];
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(material)
        )
    }
}

/// Parses `<name>+<8 lower-case hex digits>+<base64(type || key)>`, as `(name, id, type, key)`.
fn split_key(text: &str) -> Result<(KeyName, u32, KeyKind, [u8; 32]), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey("expected <name>+<key id>+<key>"));
    };
    let name: KeyName = name.parse()?;
    if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteError::BadKey("the key id is 8 lower-case hex digits"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::BadKey("bad key id"))?;
    let material = STANDARD
        .decode(material)
        .map_err(|_| NoteError::BadKey("the key is not standard base64 with padding"))?;
    let (kind, key) = material
        .split_first()
        .ok_or(NoteError::BadKey("empty key"))?;
    let kind = KeyKind::from_type_byte(*kind).ok_or(NoteError::BadKey(
        "unsupported signature type (Ed25519 0x01 and cosignature/v1 0x04 are)",
    ))?;
    let key =
        <[u8; 32]>::try_from(key).map_err(|_| NoteError::BadKey("an Ed25519 key is 32 bytes"))?;
    Ok((name, id, kind, key))
}

impl core::str::FromStr for NoteVerifier {
    type Err = NoteError;
    fn from_str(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let (name, id, kind, public) = split_key(vkey)?;
        let verifier = NoteVerifier::new(name, kind, public)?;
        if verifier.id != id {
            return Err(NoteError::BadKey(
                "the key id does not match the name and key",
            ));
        }
        Ok(verifier)
    }
}

/// The private half of a key, its name and id; `Debug` shows no key material.
#[derive(Clone)]
struct Private {
    name: KeyName,
    id: u32,
    key: SigningKey,
}

impl Private {
    fn new(name: KeyName, kind: KeyKind, seed: [u8; 32]) -> Private {
        let key = SigningKey::from_bytes(&seed);
        Private {
            id: key_id(&name, kind, key.verifying_key().as_bytes()),
            name,
            key,
        }
    }

    fn verifier(&self, kind: KeyKind) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            kind,
            key: self.key.verifying_key(),
        }
    }

    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    fn debug(&self, f: &mut fmt::Formatter<'_>, ty: &str) -> fmt::Result {
        f.debug_struct(ty)
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .field("key", &format_args!("<redacted>"))
            .finish()
    }
}

/// An Ed25519 note signing key (type `0x01`): the log's checkpoint key.
///
/// ```
/// use consent_core::tlog::NoteSigner;
/// let signer = NoteSigner::from_seed("example.com/log".parse()?, [7; 32]);
/// assert!(signer.verifier().to_string().starts_with("example.com/log+"));
/// assert!(!format!("{signer:?}").contains("[7"));
/// # Ok::<(), consent_core::tlog::NoteError>(())
/// ```
#[derive(Clone)]
pub struct NoteSigner(Private);

impl NoteSigner {
    /// The key from its 32-byte Ed25519 seed (the caller draws it from a secure RNG).
    pub fn from_seed(name: KeyName, seed: [u8; 32]) -> NoteSigner {
        NoteSigner(Private::new(name, KeyKind::Ed25519, seed))
    }

    /// The key from Go's `golang.org/x/mod/sumdb/note` private key text,
    /// `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>` (what `note.GenerateKey` writes).
    pub fn from_skey(skey: &str) -> Result<NoteSigner, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadKey("a private key starts with PRIVATE+KEY+"))?;
        let (name, id, kind, seed) = split_key(rest)?;
        if kind != KeyKind::Ed25519 {
            return Err(NoteError::BadKey("not an Ed25519 note key"));
        }
        let signer = NoteSigner::from_seed(name, seed);
        if signer.0.id != id {
            return Err(NoteError::BadKey(
                "the key id does not match the name and key",
            ));
        }
        Ok(signer)
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.0.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.0.id
    }

    /// The public half, to publish as a vkey.
    pub fn verifier(&self) -> NoteVerifier {
        self.0.verifier(KeyKind::Ed25519)
    }

    /// This key's signature line for a note text (checked by the caller: see
    /// [`VerifiedNote::sign`](super::VerifiedNote::sign)).
    pub(crate) fn signature(&self, text: &str) -> super::NoteSignature {
        super::NoteSignature::new(
            self.0.name.clone(),
            self.0.id,
            self.0.sign(text.as_bytes()).to_vec(),
        )
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(f, "NoteSigner")
    }
}

/// A witness's cosignature/v1 key (type `0x04`): it cosigns checkpoints it has verified and found
/// consistent with those it saw before ([`Cosigner::cosign`]).
#[derive(Clone)]
pub struct Cosigner(Private);

impl Cosigner {
    /// The key from its 32-byte Ed25519 seed.
    pub fn from_seed(name: KeyName, seed: [u8; 32]) -> Cosigner {
        Cosigner(Private::new(name, KeyKind::Cosignature, seed))
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.0.name
    }

    /// The public half, to publish as a vkey.
    pub fn verifier(&self) -> NoteVerifier {
        self.0.verifier(KeyKind::Cosignature)
    }

    /// The cosignature line over a checkpoint's note text at `time` (POSIX seconds, at most 2⁶³ - 1):
    /// the 8-byte big-endian timestamp, then the Ed25519 signature.
    pub fn cosign(
        &self,
        checkpoint: &super::VerifiedCheckpoint,
        time: u64,
    ) -> Result<super::NoteSignature, NoteError> {
        let message = cosigned_message(checkpoint.note().text(), time)?;
        let mut bytes = time.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.0.sign(&message));
        Ok(super::NoteSignature::new(
            self.0.name.clone(),
            self.0.id,
            bytes,
        ))
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(f, "Cosigner")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go's golang.org/x/mod/sumdb/note tests (note_test.go at fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db).
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn go_keys() {
        let signer = NoteSigner::from_skey(PETER_SKEY).unwrap();
        assert_eq!(signer.verifier().to_string(), PETER_VKEY);
        assert_eq!(
            PETER_VKEY.parse::<NoteVerifier>().unwrap(),
            signer.verifier()
        );
        let enoch: NoteVerifier = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
            .parse()
            .unwrap();
        assert_eq!(enoch.key_id(), 0xaf0cfe78);
    }

    #[test]
    fn go_rejects_every_mangled_key() {
        // Go's TestNewVerifier and TestNewSigner: every proper substring and every byte + 1.
        for key in [PETER_VKEY, PETER_SKEY] {
            let parse = |k: &str| {
                if key == PETER_SKEY {
                    NoteSigner::from_skey(k).map(|_| ())
                } else {
                    k.parse::<NoteVerifier>().map(|_| ())
                }
            };
            let b = key.as_bytes();
            for i in 0..=b.len() {
                for j in i + 1..=b.len() {
                    if i != 0 || j != b.len() {
                        let k = core::str::from_utf8(&b[i..j]).unwrap();
                        assert!(parse(k).is_err(), "{k}");
                    }
                }
            }
            for i in 0..b.len() {
                let mut m = b.to_vec();
                m[i] += 1;
                if let Ok(k) = core::str::from_utf8(&m) {
                    assert!(parse(k).is_err(), "{k}");
                }
            }
        }
        for bad in [
            // Go's: wrong key length and unknown algorithm, each with an adjusted key hash.
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            // Upper-case hex.
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(bad.parse::<NoteVerifier>().is_err(), "{bad}");
        }
    }

    #[test]
    fn key_ids_separate_types() {
        let name: KeyName = "w.example/1".parse().unwrap();
        let note = NoteSigner::from_seed(name.clone(), [1; 32]).verifier();
        let cosig = Cosigner::from_seed(name, [1; 32]).verifier();
        assert_eq!(note.public_key(), cosig.public_key());
        assert_ne!(note.key_id(), cosig.key_id());
        assert_eq!(cosig.to_string().parse::<NoteVerifier>(), Ok(cosig.clone()));
        assert_eq!(cosig.kind(), KeyKind::Cosignature);
    }

    #[test]
    fn names() {
        assert!("x".repeat(255).parse::<KeyName>().is_ok());
        for bad in [
            "",
            "a b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2028}b",
            "a+b",
            "a\u{1}b",
        ] {
            assert!(bad.parse::<KeyName>().is_err(), "{bad:?}");
        }
        assert!("x".repeat(256).parse::<KeyName>().is_err());
        assert!("ключ/журнал".parse::<KeyName>().is_ok());
    }
}
