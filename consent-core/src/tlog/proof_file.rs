//! C2SP tlog-proof@v1 (<https://c2sp.org/tlog-proof>): a self-contained, offline-verifiable proof that
//! an entry is in the log: the entry's index, its inclusion proof, and the signed checkpoint of the
//! tree the proof is for. The server hands one out with each receipt (`.tlog-proof` files).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{
    Hash, InclusionProof, MAX_NOTE_LEN, NoteError, NoteVerifier, ProofError, UnverifiedCheckpoint,
    VerifiedCheckpoint,
};

/// The first line of a tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest tlog-proof accepted, in bytes: a checkpoint note of the largest size, 64 proof hashes, and
/// extra data.
pub const MAX_TLOG_PROOF_LEN: usize = MAX_NOTE_LEN + 32 * 1024;
/// Most proof hashes: a tree of at most 2⁶⁴ - 1 entries has paths of at most 64.
const MAX_PROOF_HASHES: usize = 64;

/// A tlog-proof that is malformed or does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// Over [`MAX_TLOG_PROOF_LEN`] bytes.
    #[error("tlog-proof is longer than {MAX_TLOG_PROOF_LEN} bytes")]
    TooLong,
    /// Not a tlog-proof: what is wrong with it.
    #[error("malformed tlog-proof: {0}")]
    Malformed(&'static str),
    /// The checkpoint is malformed or does not verify.
    #[error("tlog-proof checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The inclusion proof does not verify against the checkpoint.
    #[error("tlog-proof inclusion proof: {0}")]
    Proof(#[from] ProofError),
}

/// A tlog-proof as read: nothing in it is trusted before [`UnverifiedTlogProof::verify`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnverifiedTlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    path: Vec<Hash>,
    checkpoint: UnverifiedCheckpoint,
}

impl UnverifiedTlogProof {
    /// Parses a tlog-proof: the header line; an optional `extra <base64>` line (non-empty data); an
    /// `index <n>` line (decimal, no leading zeros); at most 64 lines of one hash each (standard base64
    /// with padding); an empty line; the signed checkpoint, verbatim. Rejects anything else, and files
    /// over [`MAX_TLOG_PROOF_LEN`] bytes.
    pub fn parse(text: &str) -> Result<UnverifiedTlogProof, TlogProofError> {
        if text.len() > MAX_TLOG_PROOF_LEN {
            return Err(TlogProofError::TooLong);
        }
        let malformed = TlogProofError::Malformed;
        let mut rest = text;
        let mut line = || -> Result<&str, TlogProofError> {
            let (l, tail) = rest
                .split_once('\n')
                .ok_or(malformed("ends before the checkpoint"))?;
            rest = tail;
            Ok(l)
        };
        if line()? != TLOG_PROOF_HEADER {
            return Err(malformed("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut next = line()?;
        let mut extra = None;
        if let Some(data) = next.strip_prefix("extra ") {
            let data = STANDARD
                .decode(data)
                .map_err(|_| malformed("extra data is not standard base64 with padding"))?;
            if data.is_empty() {
                return Err(malformed("an extra line without data"));
            }
            extra = Some(data);
            next = line()?;
        }
        let index = next
            .strip_prefix("index ")
            .filter(|n| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && (*n == "0" || !n.starts_with('0'))
            })
            .and_then(|n| n.parse().ok())
            .ok_or(malformed("no `index <n>` line"))?;
        let mut path = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            if path.len() == MAX_PROOF_HASHES {
                return Err(malformed("more than 64 proof hashes"));
            }
            path.push(Hash::from_base64(l).map_err(|_| malformed("a proof line is not a hash"))?);
        }
        let checkpoint = UnverifiedCheckpoint::parse(rest)?;
        Ok(UnverifiedTlogProof {
            extra,
            index,
            path,
            checkpoint,
        })
    }

    /// The entry's index, not yet trusted.
    pub fn unverified_index(&self) -> u64 {
        self.index
    }

    /// The extra data, if any. C2SP: not authenticated, never to be trusted implicitly.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The checkpoint, not yet verified (to pick the keys for it).
    pub fn checkpoint(&self) -> &UnverifiedCheckpoint {
        &self.checkpoint
    }

    /// Verifies the proof for an entry with this leaf hash ([`Hash::leaf`] of the entry's bytes): the
    /// checkpoint is signed by `log` (with `witnesses`' cosignatures checked, as
    /// [`UnverifiedCheckpoint::verify`]), and the inclusion proof leads from the leaf at the index to
    /// the checkpoint's root.
    pub fn verify(
        self,
        leaf: &Hash,
        log: &NoteVerifier,
        witnesses: &[NoteVerifier],
    ) -> Result<VerifiedTlogProof, TlogProofError> {
        let checkpoint = self.checkpoint.verify(log, witnesses)?;
        VerifiedTlogProof::new(
            leaf,
            InclusionProof::new(self.index, checkpoint.checkpoint().size(), self.path),
            checkpoint,
            self.extra,
        )
    }
}

/// A verified tlog-proof: the entry with the leaf hash it was checked for is at its index in the log
/// the checkpoint's key signs for. Writes as the tlog-proof file.
///
/// ```
/// use consent_core::tlog::{Checkpoint, Hash, InclusionProof, NoteSigner, UnverifiedTlogProof,
///     VerifiedTlogProof};
/// let key = NoteSigner::from_seed("example.com/log".parse()?, [1; 32]);
/// let (a, b) = (Hash::leaf(b"a"), Hash::leaf(b"b"));
/// let checkpoint = Checkpoint::new(key.name(), 2, Hash::node(&a, &b)).sign(&key)?;
/// let file = VerifiedTlogProof::new(&b, InclusionProof::new(1, 2, vec![a]), checkpoint, None)?
///     .to_string();
/// assert!(file.starts_with("c2sp.org/tlog-proof@v1\nindex 1\n"));
/// let proof = UnverifiedTlogProof::parse(&file)?.verify(&b, &key.verifier(), &[])?;
/// assert_eq!(proof.index(), 1);
/// assert!(UnverifiedTlogProof::parse(&file)?.verify(&a, &key.verifier(), &[]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedTlogProof {
    extra: Option<Vec<u8>>,
    proof: InclusionProof,
    checkpoint: VerifiedCheckpoint,
}

impl VerifiedTlogProof {
    /// Puts a proof together (the server's side), checking that the inclusion proof is for the
    /// checkpoint's tree and leads from `leaf` to its root, so that no bad proof is handed out. `extra`
    /// must not be empty.
    pub fn new(
        leaf: &Hash,
        proof: InclusionProof,
        checkpoint: VerifiedCheckpoint,
        extra: Option<Vec<u8>>,
    ) -> Result<VerifiedTlogProof, TlogProofError> {
        let tree = checkpoint.checkpoint();
        if proof.size() != tree.size() {
            return Err(TlogProofError::Malformed(
                "the proof is for another tree size than the checkpoint's",
            ));
        }
        if extra.as_ref().is_some_and(Vec::is_empty) {
            return Err(TlogProofError::Malformed("an extra line without data"));
        }
        if proof.path().len() > MAX_PROOF_HASHES {
            return Err(ProofError::WrongLength {
                expected: MAX_PROOF_HASHES,
                found: proof.path().len(),
            }
            .into());
        }
        proof.verify(leaf, &tree.root())?;
        let made = VerifiedTlogProof {
            extra,
            proof,
            checkpoint,
        };
        if made.to_string().len() > MAX_TLOG_PROOF_LEN {
            return Err(TlogProofError::TooLong);
        }
        Ok(made)
    }

    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.proof.index()
    }

    /// The inclusion proof.
    pub fn proof(&self) -> &InclusionProof {
        &self.proof
    }

    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }

    /// The extra data (not authenticated).
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }
}

impl fmt::Display for VerifiedTlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", STANDARD.encode(extra))?;
        }
        writeln!(f, "index {}", self.proof.index())?;
        for h in self.proof.path() {
            writeln!(f, "{h}")?;
        }
        writeln!(f)?;
        self.checkpoint.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Checkpoint, NoteSigner};
    use super::*;

    fn file(extra: Option<Vec<u8>>) -> (String, NoteSigner, Vec<Hash>) {
        let key = NoteSigner::from_seed("example.com/log".parse().unwrap(), [1; 32]);
        let leaves: Vec<Hash> = (0u8..5).map(|i| Hash::leaf(&[i])).collect();
        let ab = Hash::node(&leaves[0], &leaves[1]);
        let cd = Hash::node(&leaves[2], &leaves[3]);
        let root = Hash::node(&Hash::node(&ab, &cd), &leaves[4]);
        let checkpoint = Checkpoint::new(key.name(), 5, root).sign(&key).unwrap();
        let proof = InclusionProof::new(2, 5, vec![leaves[3], ab, leaves[4]]);
        let text = VerifiedTlogProof::new(&leaves[2], proof, checkpoint, extra)
            .unwrap()
            .to_string();
        (text, key, leaves)
    }

    #[test]
    fn round_trip() {
        for extra in [None, Some(b"age-v1.2.1-darwin-arm64.tar.gz".to_vec())] {
            let (text, key, leaves) = file(extra.clone());
            let parsed = UnverifiedTlogProof::parse(&text).unwrap();
            assert_eq!(parsed.extra(), extra.as_deref());
            let proof = parsed.verify(&leaves[2], &key.verifier(), &[]).unwrap();
            assert_eq!(proof.to_string(), text);
            assert_eq!(proof.index(), 2);
            for (i, leaf) in leaves.iter().enumerate() {
                if i != 2 {
                    assert!(matches!(
                        UnverifiedTlogProof::parse(&text).unwrap().verify(
                            leaf,
                            &key.verifier(),
                            &[]
                        ),
                        Err(TlogProofError::Proof(ProofError::RootMismatch))
                    ));
                }
            }
        }
    }

    #[test]
    fn malformed() {
        let (text, key, leaves) = file(None);
        let lines: Vec<&str> = text.split('\n').collect();
        let edits: Vec<String> = vec![
            text.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            text.replacen("index 2", "index 02", 1),
            text.replacen("index 2", "index  2", 1),
            text.replacen("index 2", "index", 1),
            text.replacen("index 2", "extra \nindex 2", 1),
            text.replacen("index 2", "extra AAA\nindex 2", 1),
            text.replacen("index 2\n", "", 1),
            text.replacen(lines[2], &lines[2][..43], 1),
            text.replacen("\n\n", "\n", 1),
            lines[..5].join("\n"),
            String::new(),
            "c2sp.org/tlog-proof@v1".into(),
        ];
        for bad in edits {
            assert!(UnverifiedTlogProof::parse(&bad).is_err(), "{bad:?}");
        }
        // Well-formed but wrong: index, a missing or extra hash.
        for bad in [
            text.replacen("index 2", "index 3", 1),
            text.replacen(&format!("{}\n", lines[3]), "", 1),
            text.replacen(lines[3], &format!("{}\n{}", lines[3], lines[3]), 1),
        ] {
            assert!(
                matches!(
                    UnverifiedTlogProof::parse(&bad).unwrap().verify(
                        &leaves[2],
                        &key.verifier(),
                        &[]
                    ),
                    Err(TlogProofError::Proof(_))
                ),
                "{bad:?}"
            );
        }
        let many = text.replacen(
            "index 2\n",
            &format!("index 2\n{}", format!("{}\n", lines[2]).repeat(65)),
            1,
        );
        assert_eq!(
            UnverifiedTlogProof::parse(&many),
            Err(TlogProofError::Malformed("more than 64 proof hashes"))
        );
    }
}
