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
        }
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
        Ok(record)
    }
}
