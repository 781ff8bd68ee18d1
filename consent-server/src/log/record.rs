//! A rights event's entry in the log: a JWS (`typ` [`RIGHTS_TYP`]) signed with the receipts' key, over
//! what was done, to whom (the pseudonym), when and by which server. `spec/SPEC.md` §6.8.

use consent_core::{JwsError, KeySet, Timestamp};
use serde::{Deserialize, Serialize};

use crate::privacy::SubjectRef;
use crate::store::Rights;

/// The JWS `typ` of rights records: keeps them apart from receipts signed with the same keys.
pub const RIGHTS_TYP: &str = "consent-rights+jwt";

/// Why a rights record could not be signed or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The JWS: its form, key or signature.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The signed payload is not a version 1 rights record.
    #[error("rights record: {0}")]
    Payload(String),
}

/// A restriction, unblocking or erasure, as the log records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightsRecord {
    /// Format version: 1.
    pub v: u8,
    /// The server (its public URL).
    pub iss: String,
    /// The pseudonymous subject.
    pub sub: String,
    /// Server time, seconds since the Unix epoch.
    pub at: i64,
    /// `restrict`, `unblock` or `erase`.
    pub what: String,
    /// An erasure only: the logged receipts it redacted (version 1 receipts that named the person in
    /// clear), each with the leaf hash of its redacted form, so that an auditor can tell that redaction
    /// from an edit. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<Redaction>,
}

/// A logged receipt redacted by an erasure ([`RightsRecord::redacted`]): its log index and the RFC
/// 6962 leaf hash (`H(0x00 ‖ bytes)`, base64) of the redacted form the log now serves for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// The receipt's log index.
    pub index: u64,
    /// Leaf hash of the redacted form, base64.
    pub leaf: String,
}

impl RightsRecord {
    /// The record of `what` done to `subject` at `at` by the server `issuer`.
    pub fn new(issuer: &str, subject: SubjectRef, at: Timestamp, what: Rights) -> RightsRecord {
        RightsRecord {
            v: 1,
            iss: issuer.to_owned(),
            sub: subject.to_string(),
            at: at.as_unix(),
            what: what.as_str().to_owned(),
            redacted: Vec::new(),
        }
    }

    /// The same record naming the logged receipts an erasure redacts: (log index, redacted form).
    pub fn with_redacted<'a>(mut self, redacted: impl IntoIterator<Item = (u64, &'a str)>) -> Self {
        self.redacted = redacted
            .into_iter()
            .map(|(index, form)| Redaction {
                index,
                leaf: consent_core::tlog::Hash::leaf(form.as_bytes()).to_base64(),
            })
            .collect();
        self
    }

    /// Signed with the active receipt key: the log's entry.
    pub fn sign(&self, keys: &KeySet) -> Result<String, RecordError> {
        let json = serde_json::to_vec(self).map_err(|e| RecordError::Payload(e.to_string()))?;
        Ok(keys.sign(RIGHTS_TYP, &json)?)
    }

    /// Verifies a signed record against `keys` and reads it.
    ///
    /// ```
    /// use consent_core::{KeySet, Timestamp};
    /// use consent_server::log::RightsRecord;
    /// use consent_server::store::Rights;
    ///
    /// let keys = KeySet::new().with_ed25519("k1".parse()?, [7; 32]).activate("k1".parse()?)?;
    /// let subject = "sub:AAAAAAAAAAAAAAAAAAAAAA".parse()?;
    /// let record = RightsRecord::new("https://example.org", subject, Timestamp::from_unix(9), Rights::Erase);
    /// let jws = record.sign(&keys)?;
    /// assert_eq!(RightsRecord::verify(&jws, &keys)?, record);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(jws: &str, keys: &KeySet) -> Result<RightsRecord, RecordError> {
        let (_, payload) = keys.verify(jws, RIGHTS_TYP)?;
        let record: RightsRecord =
            serde_json::from_slice(&payload).map_err(|e| RecordError::Payload(e.to_string()))?;
        if record.v != 1 || !matches!(record.what.as_str(), "restrict" | "unblock" | "erase") {
            return Err(RecordError::Payload(
                "not version 1, or not restrict, unblock or erase".into(),
            ));
        }
        if record.what != "erase" && !record.redacted.is_empty() {
            return Err(RecordError::Payload(
                "only an erasure redacts receipts".into(),
            ));
        }
        Ok(record)
    }
}
