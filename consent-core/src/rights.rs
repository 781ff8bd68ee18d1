//! Rights records: a restriction, unblocking or erasure as the consent log records it. A JWS (`typ`
//! [`RIGHTS_TYP`]) signed with the receipts' keys, over what was done, to whom (the pseudonym), when
//! and by which server; an erasure also names the logged receipts it redacted. `spec/SPEC.md` §6.8.
//!
//! One definition for the server, which signs them, and for `audit verify`, which checks them.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::tlog::Hash;
use crate::{JwsError, KeySet, Timestamp};

/// The JWS `typ` of rights records: keeps them apart from receipts signed with the same keys.
pub const RIGHTS_TYP: &str = "consent-rights+jwt";
/// The format version of rights records (`v`).
pub const RIGHTS_VERSION: u8 = 1;

/// Why a rights record could not be signed or read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RightsError {
    /// The JWS: its form, type, key or signature.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The signed payload is not a version 1 rights record.
    #[error("rights record: {0}")]
    Payload(String),
    /// A redaction the record names does not match the entry served at its index.
    #[error("rights record: entry {index} is not the redacted form the erasure logged")]
    Redaction {
        /// The redacted receipt's log index.
        index: u64,
    },
}

/// What a rights record records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RightsKind {
    /// Processing restricted (blocked).
    Restrict,
    /// A restriction lifted.
    Unblock,
    /// The link between the person and their pseudonym erased.
    Erase,
}

impl RightsKind {
    /// As written in the record (`what`): `restrict`, `unblock` or `erase`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RightsKind::Restrict => "restrict",
            RightsKind::Unblock => "unblock",
            RightsKind::Erase => "erase",
        }
    }
}

/// A restriction, unblocking or erasure, as the log records it (the signed payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightsRecord {
    /// Format version: [`RIGHTS_VERSION`].
    pub v: u8,
    /// The server (its public URL).
    pub iss: String,
    /// The pseudonymous subject (`sub:…` or `dev:…`).
    pub sub: String,
    /// Server time.
    pub at: Timestamp,
    /// What was done.
    pub what: RightsKind,
    /// An erasure only: the logged receipts it redacted (version 1 receipts that named the person in
    /// clear), each with the leaf hash of its redacted form, so that an auditor can tell that redaction
    /// from an edit. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<Redaction>,
}

/// A logged receipt redacted by an erasure ([`RightsRecord::redacted`]): its log index and the RFC
/// 6962 leaf hash (`SHA-256(0x00 ‖ bytes)`, standard base64 with padding) of the redacted form the log
/// now serves for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// The receipt's log index.
    pub index: u64,
    /// Leaf hash of the redacted form.
    #[serde(
        serialize_with = "leaf_to_base64",
        deserialize_with = "leaf_from_base64"
    )]
    pub leaf: Hash,
}

fn leaf_to_base64<S: Serializer>(leaf: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&leaf.to_base64())
}

fn leaf_from_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
    let text = String::deserialize(d)?;
    Hash::from_base64(&text).map_err(serde::de::Error::custom)
}

impl Redaction {
    /// Whether `served` (the entry the log serves at [`Redaction::index`]) is the redacted form this
    /// redaction logged.
    pub fn matches(&self, served: &[u8]) -> bool {
        Hash::leaf(served) == self.leaf
    }
}

impl RightsRecord {
    /// The record of `what` done to the pseudonymous subject `sub` at `at` by the server `issuer`.
    pub fn new(issuer: &str, sub: &str, at: Timestamp, what: RightsKind) -> RightsRecord {
        RightsRecord {
            v: RIGHTS_VERSION,
            iss: issuer.to_owned(),
            sub: sub.to_owned(),
            at,
            what,
            redacted: Vec::new(),
        }
    }

    /// The same record naming the logged receipts an erasure redacts: (log index, redacted form).
    pub fn with_redacted<'a>(
        mut self,
        redacted: impl IntoIterator<Item = (u64, &'a [u8])>,
    ) -> Self {
        self.redacted = redacted
            .into_iter()
            .map(|(index, form)| Redaction {
                index,
                leaf: Hash::leaf(form),
            })
            .collect();
        self
    }

    /// The payload's JSON (what [`RightsRecord::sign`] signs).
    pub fn to_json(&self) -> Result<Vec<u8>, RightsError> {
        serde_json::to_vec(self).map_err(|e| RightsError::Payload(e.to_string()))
    }

    /// Signed with the active key of `keys`: the log's entry. Refuses a record that
    /// [`RightsRecord::verify`] would reject.
    pub fn sign(&self, keys: &KeySet) -> Result<String, RightsError> {
        self.check()?;
        Ok(keys.sign(RIGHTS_TYP, &self.to_json()?)?)
    }

    /// Verifies a signed record against `keys` and reads it: the JWS (form, `typ` [`RIGHTS_TYP`], a key
    /// of the set, its algorithm, the signature), then the payload (exactly the members above and
    /// nothing after the JSON object, version 1, a known `what`, redactions only on an erasure, each
    /// index once, leaf hashes of 32 bytes).
    ///
    /// ```
    /// use consent_core::{KeySet, RightsKind, RightsRecord, Timestamp};
    ///
    /// let keys = KeySet::new().with_ed25519("k1".parse()?, [7; 32]).activate("k1".parse()?)?;
    /// let redacted_form = b"erased:eyJ...";
    /// let record = RightsRecord::new("https://example.org", "sub:AAAAAAAAAAAAAAAAAAAAAA",
    ///     Timestamp::from_unix(9), RightsKind::Erase)
    ///     .with_redacted([(4, &redacted_form[..])]);
    /// let jws = record.sign(&keys)?;
    /// let read = RightsRecord::verify(&jws, &keys)?;
    /// assert_eq!(read, record);
    /// read.check_served(4, redacted_form)?;
    /// assert!(read.check_served(4, b"something else").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(jws: &str, keys: &KeySet) -> Result<RightsRecord, RightsError> {
        let (_, payload) = keys.verify(jws, RIGHTS_TYP)?;
        let record: RightsRecord =
            serde_json::from_slice(&payload).map_err(|e| RightsError::Payload(e.to_string()))?;
        record.check()?;
        Ok(record)
    }

    /// Checks that the entry served at `index` is the redacted form this erasure logged for it.
    pub fn check_served(&self, index: u64, served: &[u8]) -> Result<(), RightsError> {
        match self.redacted.iter().find(|r| r.index == index) {
            Some(r) if r.matches(served) => Ok(()),
            _ => Err(RightsError::Redaction { index }),
        }
    }

    fn check(&self) -> Result<(), RightsError> {
        if self.v != RIGHTS_VERSION {
            return Err(RightsError::Payload(format!(
                "version {} is not {RIGHTS_VERSION}",
                self.v
            )));
        }
        if self.iss.is_empty() || self.sub.is_empty() {
            return Err(RightsError::Payload("empty `iss` or `sub`".into()));
        }
        if self.what != RightsKind::Erase && !self.redacted.is_empty() {
            return Err(RightsError::Payload(
                "only an erasure redacts receipts".into(),
            ));
        }
        let mut seen: Vec<u64> = self.redacted.iter().map(|r| r.index).collect();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(RightsError::Payload(
                "a receipt is named twice in `redacted`".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySet {
        KeySet::new()
            .with_ed25519("k1".parse().unwrap(), [7; 32])
            .activate("k1".parse().unwrap())
            .unwrap()
    }

    fn record(what: RightsKind) -> RightsRecord {
        RightsRecord::new(
            "https://example.org",
            "sub:x",
            Timestamp::from_unix(9),
            what,
        )
    }

    #[test]
    fn round_trip_every_kind() {
        for what in [RightsKind::Restrict, RightsKind::Unblock, RightsKind::Erase] {
            let r = record(what);
            assert_eq!(
                RightsRecord::verify(&r.sign(&keys()).unwrap(), &keys()),
                Ok(r)
            );
        }
    }

    #[test]
    fn wire_form_is_the_specified_one() {
        let r = record(RightsKind::Erase).with_redacted([(3, &b""[..])]);
        assert_eq!(
            String::from_utf8(r.to_json().unwrap()).unwrap(),
            r#"{"v":1,"iss":"https://example.org","sub":"sub:x","at":9,"what":"erase","redacted":[{"index":3,"leaf":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="}]}"#
        );
    }

    #[test]
    fn refuses_to_sign_what_it_would_reject() {
        let r = record(RightsKind::Restrict).with_redacted([(3, &b"x"[..])]);
        assert!(matches!(r.sign(&keys()), Err(RightsError::Payload(_))));
        let r = record(RightsKind::Erase).with_redacted([(3, &b"x"[..]), (3, &b"y"[..])]);
        assert!(matches!(r.sign(&keys()), Err(RightsError::Payload(_))));
    }

    #[test]
    fn a_receipt_is_not_a_rights_record() {
        let jws = keys().sign("consent-receipt+jwt", b"{}").unwrap();
        assert!(matches!(
            RightsRecord::verify(&jws, &keys()),
            Err(RightsError::Jws(JwsError::WrongType { .. }))
        ));
    }
}
