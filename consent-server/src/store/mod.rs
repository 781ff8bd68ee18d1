//! Storage: the `Store` trait, and SQLite behind it.
//!
//! Writes go through [`Store::submit`] and are acknowledged only once committed durably; reads are plain
//! blocking calls (run them on a blocking thread). Receipts are never updated or deleted.

mod sqlite;

pub use sqlite::{MIGRATIONS, SqliteStore};

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
    /// A verified receipt and the consent events it records, as rows ready to insert.
    Receipt(Box<ReceiptRow>),
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
    /// Store-specific metrics in Prometheus text format.
    fn metrics(&self) -> String {
        String::new()
    }
    /// Whether the database answers.
    fn ready(&self) -> bool;
    /// Stops accepting writes, commits what is queued, and waits for the writer.
    fn close(&self);
}

/// The columns stored for a receipt, computed by the request handler so that the single writer thread
/// only inserts. Only a [`VerifiedReceipt`] makes one.
#[derive(Debug)]
pub struct ReceiptRow {
    pub(crate) id: String,
    pub(crate) subject: String,
    pub(crate) issued_at: i64,
    pub(crate) policy_version: String,
    pub(crate) method: &'static str,
    pub(crate) kid: String,
    pub(crate) browser: Option<&'static str>,
    pub(crate) jws: String,
    /// `purpose=choice` pairs joined by `;`, one event row for the whole receipt.
    pub(crate) decisions: String,
    pub(crate) expires_at: i64,
    pub(crate) actor: String,
}

impl ReceiptRow {
    /// The rows of a verified receipt; `browser` is the request's browser family.
    pub fn new(r: &VerifiedReceipt, browser: Option<&'static str>) -> ReceiptRow {
        let p = r.payload();
        let mut decisions = String::with_capacity(p.decisions.len() * 24);
        for (i, (purpose, choice)) in p.decisions.iter().enumerate() {
            if i > 0 {
                decisions.push(';');
            }
            decisions.push_str(purpose.as_str());
            decisions.push('=');
            decisions.push_str(choice.as_str());
        }
        ReceiptRow {
            id: p.jti.to_string(),
            subject: p.sub.clone(),
            issued_at: p.iat.as_unix(),
            policy_version: p.policy.version.to_string(),
            method: p.method.as_str(),
            kid: r.header().kid.clone(),
            browser,
            jws: r.jws().to_owned(),
            decisions,
            expires_at: p.exp.as_unix(),
            actor: p.by.to_string(),
        }
    }
}

/// The stored columns of an event.
pub(crate) struct EventRow {
    pub(crate) at: i64,
    pub(crate) kind: String,
    pub(crate) decisions: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) actor: Option<String>,
}

/// Rebuilds the events of one stored row (a consent row holds every decision of its receipt).
pub(crate) fn events_from_row(row: EventRow, out: &mut Vec<Event>) -> Result<(), StoreError> {
    let EventRow {
        at,
        kind,
        decisions,
        version,
        method,
        expires_at,
        actor,
    } = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("event {kind} at {at}: {what}"));
    let t = Timestamp::from_unix(at);
    match kind.as_str() {
        "restrict" => out.push(Event {
            at: t,
            kind: EventKind::Restrict,
        }),
        "unblock" => out.push(Event {
            at: t,
            kind: EventKind::Unblock,
        }),
        "erase" => out.push(Event {
            at: t,
            kind: EventKind::Erase,
        }),
        "consent" => {
            let policy_version: PolicyVersion = version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt("version"))?;
            let method: Method = method
                .as_deref()
                .and_then(|m| m.parse().ok())
                .ok_or_else(|| corrupt("method"))?;
            let by: Actor = actor
                .as_deref()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| corrupt("actor"))?;
            for pair in decisions
                .as_deref()
                .ok_or_else(|| corrupt("decisions"))?
                .split(';')
            {
                let (purpose, choice) = pair.split_once('=').ok_or_else(|| corrupt("decision"))?;
                let purpose: PurposeId = purpose.parse().map_err(|_| corrupt("purpose"))?;
                let choice: Choice = choice.parse().map_err(|_| corrupt("choice"))?;
                out.push(Event {
                    at: t,
                    kind: EventKind::Consent(ConsentRecord {
                        purpose,
                        choice,
                        policy_version,
                        method,
                        expires_at: (choice == Choice::Given)
                            .then(|| expires_at.map(Timestamp::from_unix))
                            .flatten(),
                        by,
                    }),
                });
            }
        }
        _ => return Err(corrupt("kind")),
    }
    Ok(())
}
