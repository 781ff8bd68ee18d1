//! A receipt as the store takes it ([`NewReceipt`], made from a verified receipt, with what is written
//! in its transaction) and gives it back ([`StoredReceipt`]), and the idempotency key kept with it.

use std::collections::BTreeMap;

use consent_core::{
    Actor, Choice, CollectionKind, DataKey, Method, PolicyVersion, PurposeId, ReceiptId,
    ReceiptPayload, Timestamp, VerifiedReceipt,
};

use super::{LogIndex, NewCase, NewDelivery, Seq, StoreError};
use crate::privacy::SubjectRef;

/// The idempotency key of a consent request (issue 18.7), as stored: a keyed hash of the caller and
/// the `Idempotency-Key` header, a keyed hash of the body, and when the key may be forgotten. The
/// store keeps it with the receipt, in the same transaction; a second request with the same key gets
/// [`Written::Repeat`](super::Written::Repeat) and writes nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Idempotency {
    /// Keyed hash of the caller and the key.
    pub key: [u8; 32],
    /// Keyed hash of the body.
    pub body: [u8; 32],
    /// When the key is forgotten.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A stored receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReceipt {
    /// Insertion order.
    pub seq: Seq,
    /// Receipt id.
    pub id: ReceiptId,
    /// Pseudonymous subject.
    pub subject: SubjectRef,
    /// Server time.
    pub issued_at: Timestamp,
    /// The JWS; or, for a version 1 receipt that named a person and whose subject was erased, its
    /// redacted form (`erased:` + header, payload without the names, signature; it no longer verifies).
    pub jws: String,
    /// Its place in the log (none for a receipt stored before the log existed and not logged yet).
    pub log_index: Option<LogIndex>,
}

/// The prefix of a redacted receipt's stored form.
pub const REDACTED_PREFIX: &str = "erased:";

impl StoredReceipt {
    /// Whether this is a version 1 receipt redacted on erasure ([`StoredReceipt::jws`]).
    pub fn is_redacted(&self) -> bool {
        self.jws.starts_with(REDACTED_PREFIX)
    }
}

/// A receipt to store: its JWS and what the store keeps beside it (so that a subject's state is folded
/// from stored values without parsing JWS). Only a [`VerifiedReceipt`] makes one.
#[derive(Debug)]
pub struct NewReceipt {
    id: ReceiptId,
    subject: SubjectRef,
    issued_at: Timestamp,
    expires_at: Timestamp,
    policy_version: PolicyVersion,
    method: Method,
    collection: CollectionKind,
    by: Actor,
    decisions: BTreeMap<PurposeId, Choice>,
    kid: String,
    browser: Option<&'static str>,
    jws: String,
    new_data_key: Option<DataKey>,
    case: Option<NewCase>,
    idempotency: Option<Idempotency>,
    deliveries: Vec<NewDelivery>,
    fresh_subject: bool,
}

impl NewReceipt {
    /// The receipt `r` to store; `browser` is the request's browser family. Its subject must be a
    /// pseudonym (as every receipt the server signs names one).
    pub fn new(
        r: &VerifiedReceipt,
        browser: Option<&'static str>,
    ) -> Result<NewReceipt, StoreError> {
        NewReceipt::stored_as(
            r.payload(),
            r.header().kid.clone(),
            r.jws().to_owned(),
            browser,
        )
    }

    /// The receipt whose payload is `p`, signed with the key `kid`, stored as `jws` (its JWS, or the
    /// redacted form an erasure left, which `migrate --to` copies): every column from the payload.
    pub(crate) fn stored_as(
        p: &ReceiptPayload,
        kid: String,
        jws: String,
        browser: Option<&'static str>,
    ) -> Result<NewReceipt, StoreError> {
        let subject = p.sub.parse().map_err(|_| {
            StoreError::Corrupt(format!("receipt {}: subject is not a pseudonym", p.jti))
        })?;
        Ok(NewReceipt {
            id: p.jti,
            subject,
            issued_at: p.iat,
            expires_at: p.exp,
            policy_version: p.policy.version,
            method: p.method,
            collection: p.collection.kind,
            by: p.by,
            decisions: p.decisions.clone(),
            kid,
            browser,
            jws,
            new_data_key: None,
            case: None,
            idempotency: None,
            deliveries: Vec::new(),
            fresh_subject: false,
        })
    }

    /// Marks its subject as one drawn for this receipt (a new device): it has no earlier deliveries
    /// to cancel, and the writer skips looking.
    pub fn with_fresh_subject(mut self) -> NewReceipt {
        self.fresh_subject = true;
        self
    }

    /// Whether its subject was drawn for it ([`NewReceipt::with_fresh_subject`]).
    pub fn fresh_subject(&self) -> bool {
        self.fresh_subject
    }

    /// Also creates the subject's data key, `key` (its names are sealed under it), in the same
    /// transaction; fails with [`StoreError::DataKeyExists`] if the subject has one.
    pub fn with_new_data_key(mut self, key: DataKey) -> NewReceipt {
        self.new_data_key = Some(key);
        self
    }

    /// Also opens `case` (a withdrawal, an unsubscribe) for this receipt, in the same transaction.
    pub fn with_case(mut self, case: NewCase) -> NewReceipt {
        self.case = Some(case);
        self
    }

    /// Also writes `deliveries` (the webhook deliveries reporting it, issue 20.4), in the same
    /// transaction.
    pub fn with_deliveries(mut self, deliveries: Vec<NewDelivery>) -> NewReceipt {
        self.deliveries = deliveries;
        self
    }

    /// The webhook deliveries to write with the receipt.
    pub fn deliveries(&self) -> &[NewDelivery] {
        &self.deliveries
    }

    /// The data key to create with the receipt, if any.
    pub fn new_data_key(&self) -> Option<&DataKey> {
        self.new_data_key.as_ref()
    }
    /// The case to open with the receipt, if any.
    pub fn case(&self) -> Option<&NewCase> {
        self.case.as_ref()
    }

    /// The same receipt, stored only if no request with this idempotency key was (issue 18.7).
    pub fn with_idempotency(mut self, idempotency: Option<Idempotency>) -> NewReceipt {
        self.idempotency = idempotency;
        self
    }

    /// Its idempotency key, if any.
    pub fn idempotency(&self) -> Option<&Idempotency> {
        self.idempotency.as_ref()
    }

    /// Receipt id.
    pub fn id(&self) -> ReceiptId {
        self.id
    }
    /// Pseudonymous subject.
    pub fn subject(&self) -> SubjectRef {
        self.subject
    }
    /// Server time of issue.
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }
    /// When the consents given by it lapse.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
    /// The policy version it binds.
    pub fn policy_version(&self) -> PolicyVersion {
        self.policy_version
    }
    /// How the choice was made.
    pub fn method(&self) -> Method {
        self.method
    }
    /// Where it was collected.
    pub fn collection(&self) -> CollectionKind {
        self.collection
    }
    /// Who decided.
    pub fn by(&self) -> Actor {
        self.by
    }
    /// The choice per purpose.
    pub fn decisions(&self) -> &BTreeMap<PurposeId, Choice> {
        &self.decisions
    }
    /// The signing key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The browser family of the request, if any.
    pub fn browser(&self) -> Option<&'static str> {
        self.browser
    }
    /// The JWS.
    pub fn jws(&self) -> &str {
        &self.jws
    }
}
