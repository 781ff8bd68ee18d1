//! Storage: the `Store` trait, and SQLite behind it.
//!
//! Writes go through [`Store::submit`] and are acknowledged only once committed durably; reads are plain
//! blocking calls (run them on a blocking thread). Receipts are never updated or deleted.

mod sqlite;

pub use sqlite::SqliteStore;

use consent_core::{
    Actor, Choice, ConsentRecord, Event, EventKind, Method, PolicyVersion, PurposeId, Timestamp,
    VerifiedReceipt,
};
use tokio::sync::oneshot;

/// Storage failures. Their details are logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The write queue is full: shed load.
    #[error("write queue is full")]
    Busy,
    /// The store is shutting down.
    #[error("store is closed")]
    Closed,
    /// The transaction holding this write did not commit; nothing in it was stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// A policy version was published twice with different content.
    #[error("policy version {0} is already stored with another hash")]
    PolicyChanged(String),
    /// A row that cannot be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// What a rights request does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rights {
    /// Restrict (block) processing.
    Restrict,
    /// Lift a restriction.
    Unblock,
    /// Erase: remove the link between the person and their pseudonym.
    Erase,
}

impl Rights {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Rights::Restrict => "restrict",
            Rights::Unblock => "unblock",
            Rights::Erase => "erase",
        }
    }
}

/// One write. A batch of writes shares one transaction; each write is all-or-nothing on its own.
#[derive(Debug)]
pub enum Write {
    /// A verified receipt and the consent events it records.
    Receipt {
        /// The receipt.
        receipt: Box<VerifiedReceipt>,
        /// Browser family of the request (never the user agent itself).
        browser: Option<&'static str>,
    },
    /// A restriction, unblocking or erasure for a subject.
    Rights {
        /// Pseudonymous subject.
        subject: String,
        /// Server time.
        at: Timestamp,
        /// What.
        what: Rights,
    },
    /// Find or create the pseudonym linked to a keyed hash of a subject's external id.
    Link {
        /// HMAC of the external id.
        lookup: [u8; 32],
        /// The pseudonym to create if there is none.
        new_subject: String,
    },
    /// Store a policy version (immutable: the same version must keep the same hash).
    Policy {
        /// Version.
        version: PolicyVersion,
        /// SHA-256 of the canonical form.
        sha256: String,
        /// Canonical JSON.
        canonical: String,
    },
}

/// What a write returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Done.
    Done,
    /// The subject pseudonym found or created by [`Write::Link`].
    Subject(String),
}

/// A stored receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReceipt {
    /// Insertion order.
    pub seq: i64,
    /// Receipt id.
    pub id: String,
    /// Pseudonymous subject.
    pub subject: String,
    /// Server time.
    pub issued_at: i64,
    /// The JWS.
    pub jws: String,
}

/// Which receipts to export.
#[derive(Clone, Debug, Default)]
pub struct ExportQuery {
    /// Issued at or after (unix seconds).
    pub from: Option<i64>,
    /// Issued before (unix seconds).
    pub to: Option<i64>,
    /// Only this subject.
    pub subject: Option<String>,
    /// Only receipts after this sequence number (pagination).
    pub after_seq: Option<i64>,
    /// At most this many.
    pub limit: Option<u64>,
}

/// A receipt store. SQLite implements it; a PostgreSQL store can follow.
pub trait Store: Send + Sync + 'static {
    /// Queues a write; the receiver resolves once the write is committed durably (or failed).
    fn submit(
        &self,
        write: Write,
    ) -> Result<oneshot::Receiver<Result<Written, StoreError>>, StoreError>;
    /// One receipt by id.
    fn receipt(&self, id: &str) -> Result<Option<StoredReceipt>, StoreError>;
    /// A subject's receipts, oldest first.
    fn subject_receipts(&self, subject: &str) -> Result<Vec<StoredReceipt>, StoreError>;
    /// A subject's events (consents, restrictions, erasures), oldest first.
    fn subject_events(&self, subject: &str) -> Result<Vec<Event>, StoreError>;
    /// Streams receipts matching `q` in insertion order to `each` until it returns false; the count.
    fn export(
        &self,
        q: &ExportQuery,
        each: &mut dyn FnMut(StoredReceipt) -> bool,
    ) -> Result<u64, StoreError>;
    /// The pseudonym linked to a keyed hash of an external id.
    fn lookup_subject(&self, lookup: &[u8; 32]) -> Result<Option<String>, StoreError>;
    /// Number of receipts stored.
    fn receipt_count(&self) -> Result<u64, StoreError>;
    /// Whether the database answers.
    fn ready(&self) -> bool;
    /// Stops accepting writes, commits what is queued, and waits for the writer.
    fn close(&self);
}

/// Events recorded by a receipt, one per decision.
pub(crate) fn receipt_events(r: &VerifiedReceipt) -> Vec<Event> {
    let p = r.payload();
    p.decisions
        .iter()
        .map(|(purpose, choice)| Event {
            at: p.iat,
            kind: EventKind::Consent(ConsentRecord {
                purpose: *purpose,
                choice: *choice,
                policy_version: p.policy.version,
                method: p.method,
                expires_at: (*choice == Choice::Given).then_some(p.exp),
                by: p.by,
            }),
        })
        .collect()
}

/// The stored columns of an event.
pub(crate) struct EventRow {
    pub(crate) at: i64,
    pub(crate) kind: String,
    pub(crate) purpose: Option<String>,
    pub(crate) choice: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) actor: Option<String>,
}

/// Rebuilds an event from its stored columns.
pub(crate) fn event_from_row(row: EventRow) -> Result<Event, StoreError> {
    let EventRow {
        at,
        kind,
        purpose,
        choice,
        version,
        method,
        expires_at,
        actor,
    } = row;
    let kind = kind.as_str();
    let corrupt = |what: &str| StoreError::Corrupt(format!("event {kind} at {at}: {what}"));
    let kind = match kind {
        "restrict" => EventKind::Restrict,
        "unblock" => EventKind::Unblock,
        "erase" => EventKind::Erase,
        "consent" => EventKind::Consent(ConsentRecord {
            purpose: purpose
                .as_deref()
                .and_then(|p| p.parse::<PurposeId>().ok())
                .ok_or_else(|| corrupt("purpose"))?,
            choice: choice
                .as_deref()
                .and_then(|c| c.parse::<Choice>().ok())
                .ok_or_else(|| corrupt("choice"))?,
            policy_version: version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt("version"))?,
            method: method
                .as_deref()
                .and_then(|m| m.parse::<Method>().ok())
                .ok_or_else(|| corrupt("method"))?,
            expires_at: expires_at.map(Timestamp::from_unix),
            by: actor
                .as_deref()
                .and_then(|a| a.parse::<Actor>().ok())
                .ok_or_else(|| corrupt("actor"))?,
        }),
        _ => return Err(corrupt("kind")),
    };
    Ok(Event {
        at: Timestamp::from_unix(at),
        kind,
    })
}
