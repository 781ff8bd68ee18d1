//! A receipt's typestate: [`UnverifiedReceipt`] as received (split and decoded), and
//! [`VerifiedReceipt`] once its signature verified with a known key; only the latter are stored.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{RECEIPT_TYP, ReceiptError, ReceiptPayload};
use crate::jws::{Header, ParsedJws};
use crate::{KeySet, Timestamp};

/// A receipt as received: split and decoded, not yet trusted.
///
/// ```
/// # use std::collections::BTreeMap;
/// # use consent_core::*;
/// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
/// let keys = KeySet::new().with_ed25519("ed1".parse()?, [1; 32]).activate("ed1".parse()?)?;
/// let decisions = BTreeMap::from([("marketing".parse()?, Choice::Given)]);
/// let collection = CollectionPoint { kind: CollectionKind::Banner, build: None, page: None };
/// let req = ReceiptRequest::new(ReceiptId([1; 16]), Timestamp::from_unix(1_750_000_000),
///     "https://consent.invisionu.education", "dev:abc", Lang::EN, Method::Custom, collection, decisions);
/// let jws = ReceiptPayload::new(&policy, req)?.sign(&keys)?;
///
/// // An auditor, offline, with the published JWK Set:
/// let public = KeySet::from_jwks_json(&keys.jwks_json())?;
/// let receipt = UnverifiedReceipt::parse(&jws)?.verify(&public)?;
/// assert_eq!(receipt.payload().decisions[&"marketing".parse()?], Choice::Given);
/// assert_eq!(receipt.payload().policy.sha256, policy.hash().to_string());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct UnverifiedReceipt {
    jws: String,
    parsed: ParsedJws,
}

impl UnverifiedReceipt {
    /// Splits and decodes a JWS; checks the form only (see [`KeySet::verify`] for what is rejected).
    pub fn parse(jws: &str) -> Result<UnverifiedReceipt, ReceiptError> {
        let parsed = ParsedJws::parse(jws)?;
        Ok(UnverifiedReceipt {
            jws: jws.to_owned(),
            parsed,
        })
    }

    /// The key id the receipt claims.
    pub fn kid(&self) -> &str {
        &self.parsed.header.kid
    }

    /// Verifies the signature, then reads the payload. A receipt stays verifiable after its consents
    /// lapse: it proves what happened. For "is this consent still in force?" use
    /// [`UnverifiedReceipt::verify_at`].
    pub fn verify(self, keys: &KeySet) -> Result<VerifiedReceipt, ReceiptError> {
        keys.verify_parsed(&self.parsed, RECEIPT_TYP)?;
        let payload = ReceiptPayload::from_json(&self.parsed.payload)?;
        Ok(VerifiedReceipt {
            header: self.parsed.header,
            payload,
            jws: self.jws,
        })
    }

    /// Like [`UnverifiedReceipt::verify`], and also rejects a receipt whose expiry is at or before `now`.
    pub fn verify_at(self, keys: &KeySet, now: Timestamp) -> Result<VerifiedReceipt, ReceiptError> {
        let r = self.verify(keys)?;
        if now >= r.payload.exp {
            return Err(ReceiptError::Expired(r.payload.exp));
        }
        Ok(r)
    }
}

/// A receipt whose signature verified with a known key. Only these are stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedReceipt {
    header: Header,
    payload: ReceiptPayload,
    jws: String,
}

impl VerifiedReceipt {
    /// The JWS header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The payload.
    pub fn payload(&self) -> &ReceiptPayload {
        &self.payload
    }
    /// The JWS compact string, as signed.
    pub fn jws(&self) -> &str {
        &self.jws
    }
}

impl ReceiptPayload {
    /// Signs the receipt and returns it as a [`VerifiedReceipt`]: a receipt this process has just signed
    /// needs no verification (that is for receipts that come from outside). Saves the server a
    /// signature check and a JSON parse per receipt.
    pub fn sign_verified(self, keys: &KeySet) -> Result<VerifiedReceipt, ReceiptError> {
        let jws = self.sign(keys)?;
        let (header, _) = jws
            .split_once('.')
            .and_then(|(h, _)| crate::b64::decode(h).ok())
            .and_then(|h| serde_json::from_slice::<Header>(&h).ok())
            .map(|h| (h, ()))
            .ok_or_else(|| ReceiptError::Invalid("signed header does not parse".into()))?;
        Ok(VerifiedReceipt {
            header,
            payload: self,
            jws,
        })
    }
}
