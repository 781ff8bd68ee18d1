//! C2SP signed notes (<https://c2sp.org/signed-note>): a text ending in a newline, a blank line, and
//! signature lines `— <key name> <base64(key id || signature)>`. Parsed strictly
//! ([`UnverifiedNote::parse`]) and trusted only once verified ([`UnverifiedNote::verify`]).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{KeyKind, KeyName, NoteSigner, NoteVerifier};

/// Largest note accepted, in bytes: room for 16 post-quantum signatures (C2SP asks verifiers to accept
/// at least 16) beside a checkpoint.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// Most signature lines a note may have (as Go's `sumdb/note`).
pub const MAX_NOTE_SIGNATURES: usize = 100;

/// A signed note, checkpoint, key or cosignature that is malformed or does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// Over [`MAX_NOTE_LEN`] bytes.
    #[error("note is longer than {MAX_NOTE_LEN} bytes")]
    TooLong,
    /// Over [`MAX_NOTE_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_NOTE_SIGNATURES} signatures")]
    TooManySignatures,
    /// Not a signed note: what is wrong with it.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A key name that breaks the rules.
    #[error("invalid key name: {0}")]
    KeyName(&'static str),
    /// A verifier or private key text that cannot be used.
    #[error("invalid key: {0}")]
    BadKey(&'static str),
    /// Two different keys known under one name and key id.
    #[error("two keys are known as {name}+{key_id:08x}")]
    AmbiguousKey {
        /// The key name.
        name: KeyName,
        /// The key id.
        key_id: u32,
    },
    /// A known key signed the note twice.
    #[error("key {name}+{key_id:08x} signed the note twice")]
    DuplicateSignature {
        /// The key name.
        name: KeyName,
        /// The key id.
        key_id: u32,
    },
    /// A known key's signature does not verify: the whole note is rejected.
    #[error("signature of key {name}+{key_id:08x} does not verify")]
    BadSignature {
        /// The key name.
        name: KeyName,
        /// The key id.
        key_id: u32,
    },
    /// No signature by a known key.
    #[error("note has no signature by a known key")]
    NoKnownSignature,
    /// A cosignature timestamp above 2⁶³ - 1.
    #[error("cosignature timestamp is above 2^63 - 1")]
    Timestamp,
    /// The note's text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
    /// The checkpoint's origin is not the name of the log's key.
    #[error("checkpoint origin `{origin}` is not the log key's name `{key}`")]
    OriginMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// The log key's name.
        key: KeyName,
    },
    /// The checkpoint carries no valid signature by the log's key (only witnesses' perhaps).
    #[error("checkpoint is not signed by the log's key")]
    NotSignedByLog,
}

/// One signature line: key name, key id, and the signature bytes (for a cosignature, the timestamp
/// and the signature).
///
/// ```
/// use consent_core::tlog::NoteSignature;
/// // C2SP tlog-cosignature's example cosignature line.
/// let line = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
/// let sig: NoteSignature = line.parse()?;
/// assert_eq!((sig.name().as_str(), sig.key_id()), ("witness.example.com/w1", 0x8d66cf3f));
/// assert_eq!(sig.to_string(), line);
/// # Ok::<(), consent_core::tlog::NoteError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteSignature {
    name: KeyName,
    id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    pub(crate) fn new(name: KeyName, id: u32, signature: Vec<u8>) -> NoteSignature {
        NoteSignature {
            name,
            id,
            signature,
        }
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The signature bytes after the key id.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    fn is_by(&self, v: &NoteVerifier) -> bool {
        self.name == *v.name() && self.id == v.key_id()
    }
}

impl fmt::Display for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = self.id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        write!(f, "— {} {}", self.name, STANDARD.encode(bytes))
    }
}

impl core::str::FromStr for NoteSignature {
    type Err = NoteError;

    /// Parses one signature line, without its newline.
    fn from_str(line: &str) -> Result<NoteSignature, NoteError> {
        let rest = line.strip_prefix("— ").ok_or(NoteError::Malformed(
            "a signature line starts with an em dash and a space",
        ))?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed(
            "a signature line is `— <name> <signature>`",
        ))?;
        let name: KeyName = name
            .parse()
            .map_err(|_| NoteError::Malformed("a signature line has an invalid key name"))?;
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::Malformed("a signature is not standard base64 with padding"))?;
        let Some((id, signature)) = bytes.split_first_chunk::<4>() else {
            return Err(NoteError::Malformed("a signature is shorter than 5 bytes"));
        };
        if signature.is_empty() {
            return Err(NoteError::Malformed("a signature is shorter than 5 bytes"));
        }
        Ok(NoteSignature {
            name,
            id: u32::from_be_bytes(*id),
            signature: signature.to_vec(),
        })
    }
}

/// The text of a note that a signer may sign: ends with a newline, no control characters but
/// newlines, and the whole note stays under the limit.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end with a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    Ok(())
}

/// A signed note as read, signatures not checked. Its text must not be used before
/// [`UnverifiedNote::verify`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnverifiedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl UnverifiedNote {
    /// Parses a signed note. Rejects: over [`MAX_NOTE_LEN`] bytes; control characters other than
    /// newline; no blank line before the signatures; no signature, or over
    /// [`MAX_NOTE_SIGNATURES`]; a signature line that is not `— <name> <base64>` with a valid key
    /// name and at least 5 bytes of canonical standard base64; anything not ending in a newline.
    pub fn parse(note: &str) -> Result<UnverifiedNote, NoteError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLong);
        }
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::Malformed("control character"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, lines) = (note.get(..split + 1), note.get(split + 2..));
        let (Some(text), Some(lines)) = (text, lines) else {
            return Err(NoteError::Malformed("no blank line before the signatures"));
        };
        let lines = lines.strip_suffix('\n').ok_or(NoteError::Malformed(
            "no signature, or no newline after the last",
        ))?;
        let mut signatures = Vec::new();
        for line in lines.split('\n') {
            if signatures.len() == MAX_NOTE_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(line.parse()?);
        }
        Ok(UnverifiedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note's text, not yet trusted.
    pub fn unverified_text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Checks the signatures of the keys in `verifiers` (C2SP signed-note): signatures of other keys
    /// are kept but ignored; a known key's signature that does not verify, or a known key signing
    /// twice, rejects the whole note; at least one known key must have signed.
    pub fn verify(self, verifiers: &[NoteVerifier]) -> Result<VerifiedNote, NoteError> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        for sig in &self.signatures {
            let mut known = verifiers.iter().filter(|v| sig.is_by(v));
            let Some(key) = known.next() else {
                continue;
            };
            if known.any(|other| other != key) {
                return Err(NoteError::AmbiguousKey {
                    name: sig.name.clone(),
                    key_id: sig.id,
                });
            }
            if verified
                .iter()
                .any(|v| v.name == sig.name && v.key_id == sig.id)
            {
                return Err(NoteError::DuplicateSignature {
                    name: sig.name.clone(),
                    key_id: sig.id,
                });
            }
            let timestamp = key.check(&self.text, &sig.signature)?;
            verified.push(VerifiedSignature {
                name: sig.name.clone(),
                key_id: sig.id,
                kind: key.kind(),
                timestamp,
            });
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(VerifiedNote {
            text: self.text,
            signatures: self.signatures,
            verified,
        })
    }
}

/// A signature that verified with a known key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedSignature {
    name: KeyName,
    key_id: u32,
    kind: KeyKind,
    timestamp: Option<u64>,
}

impl VerifiedSignature {
    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// What the key signs.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// A cosignature's timestamp (POSIX seconds); `None` for a plain note signature.
    pub fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }

    /// Whether `key` made it.
    pub fn is_by(&self, key: &NoteVerifier) -> bool {
        self.name == *key.name() && self.key_id == key.key_id() && self.kind == key.kind()
    }
}

/// A signed note at least one known key verified. Writes back as the exact note it was read from
/// (signatures of unknown keys included).
///
/// ```
/// use consent_core::tlog::{NoteSigner, UnverifiedNote, VerifiedNote};
/// // Go's sumdb/note test key and its signed note.
/// let signer = NoteSigner::from_skey("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")?;
/// let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
/// let note = VerifiedNote::sign(text, &[&signer])?.to_string();
/// assert!(note.ends_with("\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"));
/// let verified = UnverifiedNote::parse(&note)?.verify(&[signer.verifier()])?;
/// assert_eq!(verified.text(), text);
/// # Ok::<(), consent_core::tlog::NoteError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedNote {
    text: String,
    signatures: Vec<NoteSignature>,
    verified: Vec<VerifiedSignature>,
}

impl VerifiedNote {
    /// Signs a text (ending in a newline, no control characters but newlines) with note keys, in
    /// order.
    pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<VerifiedNote, NoteError> {
        check_text(text)?;
        if signers.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        let mut note = VerifiedNote {
            text: text.to_owned(),
            signatures: Vec::new(),
            verified: Vec::new(),
        };
        for signer in signers {
            let sig = signer.signature(text);
            let verifier = signer.verifier();
            if note.verified.iter().any(|v| v.is_by(&verifier)) {
                return Err(NoteError::DuplicateSignature {
                    name: sig.name,
                    key_id: sig.id,
                });
            }
            note.verified.push(VerifiedSignature {
                name: sig.name.clone(),
                key_id: sig.id,
                kind: KeyKind::Ed25519,
                timestamp: None,
            });
            note.signatures.push(sig);
        }
        note.check_len()?;
        Ok(note)
    }

    fn check_len(&self) -> Result<(), NoteError> {
        if self.to_string().len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLong);
        }
        Ok(())
    }

    /// The text (ending in a newline): trusted, as a known key signed it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every signature line, known keys' or not, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The signatures that verified.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// Adds a signature line of `key` after checking it (replacing an earlier one by the same key,
    /// such as a witness's older cosignature).
    pub(crate) fn add(&mut self, sig: NoteSignature, key: &NoteVerifier) -> Result<(), NoteError> {
        if !sig.is_by(key) {
            return Err(NoteError::BadSignature {
                name: sig.name,
                key_id: sig.id,
            });
        }
        let timestamp = key.check(&self.text, &sig.signature)?;
        self.signatures.retain(|s| !s.is_by(key));
        self.verified.retain(|v| !v.is_by(key));
        self.verified.push(VerifiedSignature {
            name: sig.name.clone(),
            key_id: sig.id,
            kind: key.kind(),
            timestamp,
        });
        self.signatures.push(sig);
        if self.signatures.len() > MAX_NOTE_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.check_len()
    }
}

impl fmt::Display for VerifiedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            writeln!(f, "{sig}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go's golang.org/x/mod/sumdb/note tests (note_test.go at fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db).
    const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> NoteVerifier {
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            .parse()
            .unwrap()
    }

    fn enoch() -> NoteVerifier {
        "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
            .parse()
            .unwrap()
    }

    #[test]
    fn go_open() {
        let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let one = UnverifiedNote::parse(&note)
            .unwrap()
            .verify(&[peter()])
            .unwrap();
        assert_eq!(one.text(), TEXT);
        assert_eq!(one.verified().len(), 1);
        assert!(one.verified()[0].is_by(&peter()));
        assert_eq!(one.signatures().len(), 2);
        assert_eq!(one.to_string(), note);
        let both = UnverifiedNote::parse(&note)
            .unwrap()
            .verify(&[peter(), enoch()])
            .unwrap();
        assert_eq!(both.verified().len(), 2);
        assert_eq!(
            UnverifiedNote::parse(&note).unwrap().verify(&[]),
            Err(NoteError::NoKnownSignature)
        );
        // Too many signatures.
        let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
        assert_eq!(
            UnverifiedNote::parse(&many),
            Err(NoteError::TooManySignatures)
        );
        // An invalid signature by a known key rejects the note; by an unknown key, it is ignored.
        let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert!(matches!(
            UnverifiedNote::parse(&bad).unwrap().verify(&[peter()]),
            Err(NoteError::BadSignature { .. })
        ));
        let bad_enoch = format!(
            "{TEXT}\n{PETER_SIG}{}ABCD{}",
            &ENOCH_SIG[..60],
            &ENOCH_SIG[60..]
        );
        assert!(
            UnverifiedNote::parse(&bad_enoch)
                .unwrap()
                .verify(&[peter()])
                .is_ok()
        );
        // Stricter than Go: a known key signing twice is an error (Go ignores the second).
        let twice = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}");
        assert!(matches!(
            UnverifiedNote::parse(&twice).unwrap().verify(&[peter()]),
            Err(NoteError::DuplicateSignature { .. })
        ));
        // Misnamed signature: unknown, so no known signature.
        let misnamed = format!(
            "{TEXT}\n{}",
            PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
        );
        assert_eq!(
            UnverifiedNote::parse(&misnamed).unwrap().verify(&[peter()]),
            Err(NoteError::NoKnownSignature)
        );
    }

    #[test]
    fn go_malformed_notes() {
        for bad in [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!(
                "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            // And ours: non-canonical base64, a 4-byte signature, a CR, a tab, a missing space.
            format!("{TEXT}\n{}", PETER_SIG.replace("AM=", "AN=")),
            format!("{TEXT}\n— PeterNeumann x08go/8\n"),
            format!("{TEXT}\n— PeterNeumann AAAAAA==\n"),
            format!("{TEXT}\r\n{PETER_SIG}"),
            format!("{TEXT}\n{}", PETER_SIG.replace(' ', "\t")),
            format!(
                "{TEXT}\n—PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            format!("{TEXT}\n{PETER_SIG}\n"),
        ] {
            assert!(
                matches!(UnverifiedNote::parse(&bad), Err(NoteError::Malformed(_))),
                "{bad:?}: {:?}",
                UnverifiedNote::parse(&bad)
            );
        }
        assert_eq!(
            UnverifiedNote::parse(&"a".repeat(MAX_NOTE_LEN + 1)),
            Err(NoteError::TooLong)
        );
    }

    #[test]
    fn ambiguous_keys() {
        // Two keys under one name and key id: only reachable with a forged key id.
        let mut other = NoteSigner::from_seed("PeterNeumann".parse().unwrap(), [9; 32]).verifier();
        other.force_id(peter().key_id());
        let note = format!("{TEXT}\n{PETER_SIG}");
        assert!(matches!(
            UnverifiedNote::parse(&note)
                .unwrap()
                .verify(&[peter(), other]),
            Err(NoteError::AmbiguousKey { .. })
        ));
        // The same key twice is not ambiguous.
        assert!(
            UnverifiedNote::parse(&note)
                .unwrap()
                .verify(&[peter(), peter()])
                .is_ok()
        );
    }

    #[test]
    fn c2sp_example() {
        // C2SP signed-note.md (C2SP/C2SP at 5ba5ee830903e91240fc6f9f3a7a9293d49e69c9), "Example".
        let key: NoteVerifier =
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
                .parse()
                .unwrap();
        let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let verified = UnverifiedNote::parse(note).unwrap().verify(&[key]).unwrap();
        assert_eq!(verified.text(), "This is an example message.\n");
        assert_eq!(verified.to_string(), note);
    }

    #[test]
    fn signing_checks_the_text() {
        let signer = NoteSigner::from_seed("k".parse().unwrap(), [3; 32]);
        assert!(VerifiedNote::sign("no newline", &[&signer]).is_err());
        assert!(VerifiedNote::sign("tab\t\n", &[&signer]).is_err());
        assert!(VerifiedNote::sign("a\n", &[]).is_err());
        assert!(VerifiedNote::sign("a\n", &[&signer, &signer]).is_err());
        // Texts with blank lines, even at the end, survive a round trip.
        for text in ["a\n\nb\n", "a\n\n", "\n"] {
            let note = VerifiedNote::sign(text, &[&signer]).unwrap();
            let back = UnverifiedNote::parse(&note.to_string())
                .unwrap()
                .verify(&[signer.verifier()])
                .unwrap();
            assert_eq!(back, note);
        }
    }
}
