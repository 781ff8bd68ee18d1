//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed tree head, a note whose text is
//! the log's origin, its size and its root hash; and C2SP tlog-cosignature's witness cosignatures on it
//! (<https://c2sp.org/tlog-cosignature>).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::keys::MAX_KEY_NAME_LEN;
use super::{
    Hash, KeyKind, KeyName, NoteError, NoteSignature, NoteSigner, NoteVerifier, UnverifiedNote,
    VerifiedNote,
};

/// The log's origin unless configured otherwise: its checkpoints' first line and its key's name.
pub const DEFAULT_ORIGIN: &str = "invisionu.education/consent-log";

/// A tree head: the log's origin, its size, its root, and optional extension lines.
///
/// ```
/// use consent_core::tlog::{Checkpoint, Hash};
/// let body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
/// let checkpoint = Checkpoint::parse_body(body)?;
/// assert_eq!((checkpoint.origin(), checkpoint.size()), ("example.com/behind-the-sofa", 20852163));
/// assert_eq!(checkpoint.body(), body);
/// # Ok::<(), consent_core::tlog::NoteError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

/// A line of a checkpoint's text: not empty, no control characters.
fn is_line(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c < ' ')
}

impl Checkpoint {
    /// The checkpoint of a log named `origin` (its key's name) at `size` entries with this root.
    pub fn new(origin: &KeyName, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.as_str().to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// With extension lines after the root (C2SP: opaque, and not recommended, as monitors cannot
    /// audit them). Each must be non-empty, without control characters.
    pub fn with_extensions(mut self, lines: Vec<String>) -> Result<Checkpoint, NoteError> {
        if !lines.iter().all(|l| is_line(l)) {
            return Err(NoteError::Checkpoint(
                "an extension line is empty or holds a control character",
            ));
        }
        self.extensions = lines;
        Ok(self)
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The extension lines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, root (standard base64), extension lines, each ending in a newline.
    pub fn body(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Parses a checkpoint's note text. Rejects: fewer than three lines; an empty line; an origin over
    /// 255 bytes; a size that is not a decimal without leading zeros fitting 64 bits; a root that is not
    /// 32 bytes of canonical standard base64; text not ending in a newline.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::Checkpoint("does not end with a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Checkpoint("fewer than three lines"));
        };
        if !is_line(origin) || origin.len() > MAX_KEY_NAME_LEN {
            return Err(NoteError::Checkpoint("the origin is 1 to 255 bytes"));
        }
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size: u64 =
            canonical
                .then(|| size.parse().ok())
                .flatten()
                .ok_or(NoteError::Checkpoint(
                    "the size is a decimal without leading zeros, below 2^64",
                ))?;
        let root = Hash::from_base64(root).map_err(|_| {
            NoteError::Checkpoint("the root is not 32 bytes of standard base64 with padding")
        })?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if !extensions.iter().all(|l| is_line(l)) {
            return Err(NoteError::Checkpoint("an extension line is empty"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint with the log's key, whose name must be the origin.
    ///
    /// ```
    /// use consent_core::tlog::{Checkpoint, Hash, NoteSigner, UnverifiedCheckpoint, DEFAULT_ORIGIN};
    /// let key = NoteSigner::from_seed(DEFAULT_ORIGIN.parse()?, [1; 32]);
    /// let signed = Checkpoint::new(key.name(), 0, Hash::EMPTY).sign(&key)?;
    /// let text = signed.to_string();
    /// assert!(text.starts_with("invisionu.education/consent-log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— invisionu.education/consent-log "));
    /// let verified = UnverifiedCheckpoint::parse(&text)?.verify(&key.verifier(), &[])?;
    /// assert_eq!(verified.checkpoint().size(), 0);
    /// # Ok::<(), consent_core::tlog::NoteError>(())
    /// ```
    pub fn sign(self, key: &NoteSigner) -> Result<VerifiedCheckpoint, NoteError> {
        if self.origin != key.name().as_str() {
            return Err(NoteError::OriginMismatch {
                origin: self.origin,
                key: key.name().clone(),
            });
        }
        let note = VerifiedNote::sign(&self.body(), &[key])?;
        Ok(VerifiedCheckpoint {
            checkpoint: self,
            note,
        })
    }
}

/// A checkpoint as read, signatures not checked: only [`UnverifiedCheckpoint::verify`] makes it
/// usable.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnverifiedCheckpoint {
    note: UnverifiedNote,
    checkpoint: Checkpoint,
}

impl UnverifiedCheckpoint {
    /// Parses a signed checkpoint: a signed note ([`UnverifiedNote::parse`]) whose text is a
    /// checkpoint ([`Checkpoint::parse_body`]).
    pub fn parse(note: &str) -> Result<UnverifiedCheckpoint, NoteError> {
        let note = UnverifiedNote::parse(note)?;
        let checkpoint = Checkpoint::parse_body(note.unverified_text())?;
        Ok(UnverifiedCheckpoint { note, checkpoint })
    }

    /// The checkpoint, not yet trusted (to choose the keys to verify it with, or to report).
    pub fn unverified_checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Verifies the checkpoint: `log` is the log's Ed25519 note key, named after the origin, and must
    /// have signed it; `witnesses` are cosignature/v1 keys whose cosignatures, where present, must
    /// verify. Other signatures are ignored (and kept). Which witnesses must have cosigned is the
    /// caller's policy ([`VerifiedCheckpoint::cosignatures`]).
    pub fn verify(
        self,
        log: &NoteVerifier,
        witnesses: &[NoteVerifier],
    ) -> Result<VerifiedCheckpoint, NoteError> {
        if log.kind() != KeyKind::Ed25519 {
            return Err(NoteError::BadKey("the log's key is an Ed25519 note key"));
        }
        if witnesses.iter().any(|w| w.kind() != KeyKind::Cosignature) {
            return Err(NoteError::BadKey("a witness's key is a cosignature/v1 key"));
        }
        if self.checkpoint.origin != log.name().as_str() {
            return Err(NoteError::OriginMismatch {
                origin: self.checkpoint.origin,
                key: log.name().clone(),
            });
        }
        let keys: Vec<NoteVerifier> = core::iter::once(log.clone())
            .chain(witnesses.iter().cloned())
            .collect();
        let note = self.note.verify(&keys)?;
        if !note.verified().iter().any(|v| v.is_by(log)) {
            return Err(NoteError::NotSignedByLog);
        }
        Ok(VerifiedCheckpoint {
            checkpoint: self.checkpoint,
            note,
        })
    }
}

/// A witness's cosignature that verified: who, and when they cosigned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cosignature<'a> {
    /// The witness's key name.
    pub name: &'a KeyName,
    /// The witness's key id.
    pub key_id: u32,
    /// When it cosigned (POSIX seconds).
    pub timestamp: u64,
}

/// A checkpoint signed by the log's key (and perhaps cosigned by witnesses), verified. Writes as its
/// signed note.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note: VerifiedNote,
}

impl VerifiedCheckpoint {
    /// The tree head.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note.
    pub fn note(&self) -> &VerifiedNote {
        &self.note
    }

    /// The witnesses' cosignatures that verified.
    pub fn cosignatures(&self) -> Vec<Cosignature<'_>> {
        self.note
            .verified()
            .iter()
            .filter_map(|v| {
                Some(Cosignature {
                    name: v.name(),
                    key_id: v.key_id(),
                    timestamp: v.timestamp()?,
                })
            })
            .collect()
    }

    /// Adds a witness's cosignature line after verifying it with the witness's key (a cosignature/v1
    /// key); it replaces an earlier cosignature of the same witness.
    pub fn add_cosignature(
        &mut self,
        cosignature: NoteSignature,
        witness: &NoteVerifier,
    ) -> Result<(), NoteError> {
        if witness.kind() != KeyKind::Cosignature {
            return Err(NoteError::BadKey("a witness's key is a cosignature/v1 key"));
        }
        self.note.add(cosignature, witness)
    }
}

impl fmt::Display for VerifiedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Cosigner;
    use super::super::keys::cosigned_message;
    use super::*;

    fn log_key() -> NoteSigner {
        NoteSigner::from_seed(DEFAULT_ORIGIN.parse().unwrap(), [1; 32])
    }

    fn witness(n: u8) -> Cosigner {
        Cosigner::from_seed(
            format!("witness.example/{n}").parse().unwrap(),
            [10 + n; 32],
        )
    }

    fn signed(size: u64) -> VerifiedCheckpoint {
        let key = log_key();
        Checkpoint::new(key.name(), size, Hash::leaf(&size.to_be_bytes()))
            .sign(&key)
            .unwrap()
    }

    #[test]
    fn c2sp_examples() {
        // C2SP tlog-checkpoint.md and tlog-cosignature.md (C2SP/C2SP at
        // 5ba5ee830903e91240fc6f9f3a7a9293d49e69c9): the example checkpoint, and the cosigned message.
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let parsed = UnverifiedCheckpoint::parse(note).unwrap();
        let c = parsed.unverified_checkpoint();
        assert_eq!(
            (c.origin(), c.size()),
            ("example.com/behind-the-sofa", 20852163)
        );
        let cosig = &parsed.note.signatures()[1];
        assert_eq!(cosig.signature().len(), 8 + 64);
        assert_eq!(
            u64::from_be_bytes(cosig.signature()[..8].try_into().unwrap()),
            1679315147
        );
        assert_eq!(
            cosigned_message(parsed.note.unverified_text(), 1679315147).unwrap(),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn sign_cosign_verify() {
        let key = log_key();
        let mut checkpoint = signed(42);
        let (w1, w2) = (witness(1), witness(2));
        let line = w1.cosign(&checkpoint, 1_750_000_000).unwrap();
        checkpoint.add_cosignature(line, &w1.verifier()).unwrap();
        let text = checkpoint.to_string();
        let verified = UnverifiedCheckpoint::parse(&text)
            .unwrap()
            .verify(&key.verifier(), &[w1.verifier(), w2.verifier()])
            .unwrap();
        assert_eq!(verified, checkpoint);
        assert_eq!(
            verified.cosignatures(),
            [Cosignature {
                name: w1.name(),
                key_id: w1.verifier().key_id(),
                timestamp: 1_750_000_000
            }]
        );
        // A newer cosignature by the same witness replaces the older.
        let mut again = verified.clone();
        let later = w1.cosign(&again, 1_750_000_100).unwrap();
        again.add_cosignature(later, &w1.verifier()).unwrap();
        assert_eq!(again.note().signatures().len(), 2);
        assert_eq!(again.cosignatures()[0].timestamp, 1_750_000_100);
        // A cosignature by one witness is not another's, nor a log signature.
        let forged = w2.cosign(&checkpoint, 1).unwrap();
        assert!(
            again
                .add_cosignature(forged.clone(), &w1.verifier())
                .is_err()
        );
        assert!(again.add_cosignature(forged, &key.verifier()).is_err());
        assert_eq!(w1.cosign(&checkpoint, 1 << 63), Err(NoteError::Timestamp));
    }

    #[test]
    fn who_must_have_signed() {
        let key = log_key();
        let checkpoint = signed(7);
        let w = witness(1);
        // Only a witness signed: not a checkpoint of the log.
        let text = checkpoint.to_string();
        let body_only = text.split("\n\n").next().unwrap().to_owned() + "\n";
        let mut cosigned = format!("{body_only}\n");
        cosigned.push_str(&w.cosign(&checkpoint, 5).unwrap().to_string());
        cosigned.push('\n');
        assert_eq!(
            UnverifiedCheckpoint::parse(&cosigned)
                .unwrap()
                .verify(&key.verifier(), &[w.verifier()]),
            Err(NoteError::NotSignedByLog)
        );
        // Another log's key, or a key not named after the origin.
        let other = NoteSigner::from_seed(DEFAULT_ORIGIN.parse().unwrap(), [2; 32]);
        assert_eq!(
            UnverifiedCheckpoint::parse(&text)
                .unwrap()
                .verify(&other.verifier(), &[]),
            Err(NoteError::NoKnownSignature)
        );
        let renamed = NoteSigner::from_seed("example.com/log".parse().unwrap(), [1; 32]);
        assert!(matches!(
            UnverifiedCheckpoint::parse(&text)
                .unwrap()
                .verify(&renamed.verifier(), &[]),
            Err(NoteError::OriginMismatch { .. })
        ));
        assert!(matches!(
            Checkpoint::new(renamed.name(), 1, Hash::EMPTY).sign(&key),
            Err(NoteError::OriginMismatch { .. })
        ));
        // Keys of the wrong kind.
        assert!(
            UnverifiedCheckpoint::parse(&text)
                .unwrap()
                .verify(&w.verifier(), &[])
                .is_err()
        );
        assert!(
            UnverifiedCheckpoint::parse(&text)
                .unwrap()
                .verify(&key.verifier(), &[key.verifier()])
                .is_err()
        );
    }

    #[test]
    fn bodies() {
        let root = Hash::EMPTY.to_string();
        for good in [
            format!("o\n0\n{root}\n"),
            format!("o\n18446744073709551615\n{root}\n"),
            format!("o\n1\n{root}\next one\next two\n"),
        ] {
            let c = Checkpoint::parse_body(&good).unwrap();
            assert_eq!(c.body(), good);
        }
        for bad in [
            format!("o\n0\n{root}"),
            "o\n0\n".to_owned(),
            format!("\n0\n{root}\n"),
            format!("o\n00\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o\n1\n{}\n", root.trim_end_matches('=')),
            format!("o\n1\n{root}\n\n"),
            format!("o\n1\n{root}\next\n\n"),
            format!("{}\n1\n{root}\n", "o".repeat(256)),
        ] {
            assert!(
                matches!(Checkpoint::parse_body(&bad), Err(NoteError::Checkpoint(_))),
                "{bad:?}"
            );
        }
        let key = log_key();
        let c = Checkpoint::new(key.name(), 3, Hash::EMPTY)
            .with_extensions(vec!["x y".into()])
            .unwrap();
        let text = c.clone().sign(&key).unwrap().to_string();
        let back = UnverifiedCheckpoint::parse(&text)
            .unwrap()
            .verify(&key.verifier(), &[])
            .unwrap();
        assert_eq!(back.checkpoint(), &c);
        assert!(c.with_extensions(vec![String::new()]).is_err());
    }
}
