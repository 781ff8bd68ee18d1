//! Storage: the [`Store`] trait, and two engines behind it: SQLite ([`SqliteStore`], the embedded
//! default) and PostgreSQL ([`PgStore`], for several instances on one database). [`Database`] is the
//! configured choice between them.
//!
//! The trait speaks the types of the rest of the code (core's [`ReceiptId`], [`Timestamp`],
//! [`PolicyVersion`], [`Event`]; the server's [`SubjectRef`] and [`SubjectLookup`]) and fails with
//! [`StoreError`], which names no engine's types.
//! Each engine turns its rows into these types as it reads them, and refuses a row that does not parse.
//!
//! Writes go through [`Store::submit`] and are acknowledged only once committed durably; reads are plain
//! blocking calls (run them on a blocking thread). Receipts are never updated or deleted.
//!
//! When the storage cannot write (a full disk, an I/O error, a read-only file system, a lock held too
//! long) an engine answers [`StoreError::Unavailable`] with the [`Outage`], reports it to its
//! [`StorageHealth`] (readiness, the log once per interval, `/metrics`), and notices recovery by itself.
//! Below a free-space floor, writes that add data are refused before the disk is full
//! ([`Write::essential`] says which still go through).

mod batch;
mod cases;
mod columns;
mod copy;
mod database;
mod health;
mod log;
mod postgres;
mod receipt;
mod sqlite;
mod webhooks;

pub use batch::WriterStats;
pub use cases::{Case, CaseId, CaseKind, CaseQuery, LiveSubjects, NewCase};
pub use copy::{CopyReport, LogCopy, Progress, copy_sqlite_to_postgres};
pub use database::Database;
pub use health::{DEFAULT_LOG_INTERVAL, DEFAULT_MIN_FREE_BYTES, StorageHealth};
pub use log::{LogHead, LogIndex, StoreTiles};
pub use postgres::{
    BatchStatements as PostgresBatchStatements, DEFAULT_POOL_MAX_SIZE, Finish as PostgresFinish,
    INSERT_RECEIPTS as POSTGRES_INSERT_RECEIPTS, ImportedEvent, MIGRATIONS as POSTGRES_MIGRATIONS,
    PgStore, PostgresUrl, ReceiptColumns as PostgresReceiptColumns, TlsMode, is_postgres_url,
    write_receipt_batch as postgres_write_receipt_batch,
};
pub use receipt::{Idempotency, NewReceipt, REDACTED_PREFIX, StoredReceipt};
pub use sqlite::{
    Backup, KeysRestored, MIGRATIONS, SourceCase, SourceCounts, SourceDelivery, SourceIdempotency,
    SourceReceipt, SqliteSource, SqliteStore,
};
pub use webhooks::{
    Attempt, Delivery, DeliveryCount, DeliveryId, DeliveryQuery, DeliveryState, NewDelivery,
};

use std::time::Duration;

use consent_core::tlog::{Hash, Tile};
use consent_core::{
    Choice, CollectionKind, DataKey, Event, PolicyHash, PolicyVersion, ReceiptId, Timestamp,
};
use tokio::sync::oneshot;

use crate::privacy::{SubjectLookup, SubjectRef};

/// Storage failures. Their details are logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database engine failed (its own error, boxed: the trait names no engine's types).
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The storage cannot take this now (full disk, I/O error, read-only, locked, or free space below
    /// the floor); retrying later can succeed. Nothing of the write was stored.
    #[error("storage unavailable: {outage}")]
    Unavailable {
        /// Why.
        outage: Outage,
        /// The engine's own error, when there is one (logged by the engine, never sent to clients).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
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
    PolicyChanged(PolicyVersion),
    /// A value that is not what the store keeps: a row that cannot be read back, or a receipt whose
    /// subject is not a pseudonym.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The receipt came with a new data key for its subject, but the subject has one already (another
    /// receipt created it first): seal with the stored key and try again. Nothing was stored.
    #[error("the subject already has a data key")]
    DataKeyExists,
    /// No case with this number, or it is closed already.
    #[error("no open case {0}")]
    NoOpenCase(CaseId),
    /// `migrate --to`: consent-server has served on the target, whose state is then newer than the
    /// source's. Nothing was written.
    #[error(
        "the target has been served since {since} (first opened by {by}): a copy now would overwrite \
         its newer state (the webhook deliveries its instances attempted, leased, acknowledged or \
         retried) and bring back the pseudonym links, data keys and idempotency keys its erasures \
         deleted; nothing was written. A copy goes only into a database no server has started on: \
         keep this one as the deployment (what the SQLite file took since is not moved), or copy \
         into a new, empty database and start the instances on that"
    )]
    TargetServed {
        /// When a store was first opened to serve on it (UTC).
        since: String,
        /// What opened it: consent-server's version, the role and the client's address.
        by: String,
    },
}

impl StoreError {
    /// [`StoreError::Unavailable`] without the engine's error (already logged, or there is none).
    pub fn unavailable(outage: Outage) -> StoreError {
        StoreError::Unavailable {
            outage,
            source: None,
        }
    }
}

/// Why the storage cannot take writes now. Engines map their own errors to these (SQLite's result codes,
/// PostgreSQL's SQLSTATEs), so the server answers `503 storage_unavailable` whatever the engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum Outage {
    /// The disk (or a quota) is full. SQLite: `SQLITE_FULL`; PostgreSQL: `disk_full` (53100).
    DiskFull,
    /// Free space is below the configured floor: writes that add data are refused before the disk is
    /// full. Engines that see their disk (SQLite) apply it; a remote database leaves it to its own server.
    LowSpace,
    /// Reading or writing failed, or a file could not be opened. SQLite: `SQLITE_IOERR_*`,
    /// `SQLITE_CANTOPEN`; PostgreSQL: `io_error` (58030), a lost connection (class 08).
    Io,
    /// The database or its file system is read-only, or writing is not permitted. SQLite:
    /// `SQLITE_READONLY_*`, `SQLITE_PERM`; PostgreSQL: `read_only_sql_transaction` (25006), a standby.
    ReadOnly,
    /// The database stayed locked (or busy) longer than the engine waits. SQLite: `SQLITE_BUSY`,
    /// `SQLITE_LOCKED`, `SQLITE_PROTOCOL`; PostgreSQL: `lock_not_available` (55P03), a pool timeout.
    Locked,
}

impl Outage {
    /// A short code, for logs and metrics: `disk_full`, `low_space`, `io`, `read_only`, `locked`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outage::DiskFull => "disk_full",
            Outage::LowSpace => "low_space",
            Outage::Io => "io",
            Outage::ReadOnly => "read_only",
            Outage::Locked => "locked",
        }
    }
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outage::DiskFull => "the disk is full",
            Outage::LowSpace => "free space is below the floor",
            Outage::Io => "the storage failed to read or write",
            Outage::ReadOnly => "the storage is read-only",
            Outage::Locked => "the database stayed locked",
        })
    }
}

/// Storage settings shared by the engines.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Below this many free bytes on the database's disk, writes that add data are refused (0: no
    /// floor). Only engines that see their disk apply it.
    pub min_free_bytes: u64,
    /// While the storage fails, at most one log line per interval (besides the first and the recovery).
    pub log_interval: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            log_interval: DEFAULT_LOG_INTERVAL,
        }
    }
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

    /// The kind of the rights record that logs it.
    pub fn kind(self) -> consent_core::RightsKind {
        match self {
            Rights::Restrict => consent_core::RightsKind::Restrict,
            Rights::Unblock => consent_core::RightsKind::Unblock,
            Rights::Erase => consent_core::RightsKind::Erase,
        }
    }
}

/// A receipt's place in insertion order: 1, 2, 3… Export pages continue after one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Seq(pub u64);

impl std::fmt::Display for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One write. A batch of writes shares one transaction; each write is all-or-nothing on its own.
#[derive(Debug)]
pub enum Write {
    /// A verified receipt, with the consent events it records.
    Receipt(Box<NewReceipt>),
    /// A restriction, unblocking or erasure for a subject, its signed record (the log's entry,
    /// [`consent_core::RightsRecord`]) and its case. An erasure also destroys the subject's data key and
    /// replaces the JWS of each receipt in `redact` by its redacted form (`erased:…`, version 1 receipts
    /// that name a person in clear).
    Rights {
        /// Pseudonymous subject.
        subject: SubjectRef,
        /// Server time.
        at: Timestamp,
        /// What.
        what: Rights,
        /// The case it opens.
        case: NewCase,
        /// Erasure only: receipts whose JWS is replaced by the redacted form given.
        redact: Vec<(ReceiptId, String)>,
        /// The signed record (a JWS), logged as the event's entry.
        record: String,
        /// The webhook deliveries reporting it (issue 20.4), written in the same transaction.
        deliveries: Vec<NewDelivery>,
    },
    /// A signed checkpoint of the log at `size` entries whose root is `root` (C2SP tlog-checkpoint).
    /// The engine stores it only if its own tree of `size` entries has that root; one already stored
    /// for that size is kept (answers [`Written::Done`] all the same).
    Checkpoint {
        /// Tree size.
        size: u64,
        /// Root the checkpoint signs.
        root: Hash,
        /// The signed note.
        note: String,
    },
    /// A witness's cosignature line (C2SP tlog-cosignature, already verified) on the checkpoint of
    /// `size` entries; served with it from then on. A line given twice is stored once.
    Cosignature {
        /// Size of the cosigned checkpoint.
        size: u64,
        /// The signature line, `— <name> <base64>` (without newline).
        line: String,
    },
    /// An access request (a copy of the subject's history): a case, open until handled.
    Access {
        /// Pseudonymous subject.
        subject: SubjectRef,
        /// The case.
        case: NewCase,
    },
    /// Closes an open case: its action is done.
    CloseCase {
        /// Which.
        id: CaseId,
        /// When.
        at: Timestamp,
        /// Who closed it.
        by: String,
    },
    /// Find or create the pseudonym linked to a keyed hash of a subject's external id.
    Link {
        /// Keyed hash of the external id.
        lookup: SubjectLookup,
        /// The pseudonym to create if there is none.
        new_subject: SubjectRef,
    },
    /// Hands out up to `limit` webhook deliveries due at `now_ms` (milliseconds since the epoch), each the
    /// oldest not acknowledged for its system and subject, leased until `now_ms + lease_ms` (another
    /// instance skips them); moves those past their dead-letter time to dead-letter first.
    ClaimDeliveries {
        /// Now, in milliseconds since the epoch.
        now_ms: i64,
        /// How long the claimer may take to send them.
        lease_ms: i64,
        /// At most this many.
        limit: u32,
    },
    /// Records how an attempt to send a delivery ended (and closes its case when it was the last one).
    DeliveryAttempt {
        /// Which.
        id: DeliveryId,
        /// When it ended, in milliseconds since the epoch.
        at_ms: i64,
        /// How.
        attempt: Attempt,
    },
    /// Puts dead-letter deliveries back in the queue, due now, with a new dead-letter period: one, or
    /// all (`None`).
    RetryDeliveries {
        /// One delivery, or every dead one.
        id: Option<DeliveryId>,
        /// Now, in milliseconds since the epoch.
        now_ms: i64,
    },
    /// Store a policy version (immutable: the same version must keep the same hash).
    Policy {
        /// Version.
        version: PolicyVersion,
        /// SHA-256 of the canonical form.
        sha256: PolicyHash,
        /// Canonical JSON.
        canonical: String,
    },
}

impl Write {
    /// Whether the write still goes through when free space is below the floor: rights requests
    /// (restrict, unblock, erase, access, closing a case: a few dozen bytes each, by staff only) and the withdrawals the server
    /// itself makes for staff and one-click unsubscribe links. Everything else adds data anyone can add
    /// (receipts from banners, forms and services, new pseudonym links, policy versions) and waits for
    /// space. `DESIGN.md`, "Storage failures and a full disk", says why.
    ///
    /// ```
    /// use consent_core::Timestamp;
    /// use consent_server::privacy::SubjectRef;
    /// use consent_server::store::{CaseKind, NewCase, Rights, Write};
    ///
    /// let subject: SubjectRef = "sub:AAAAAAAAAAAAAAAAAAAAAA".parse().unwrap();
    /// let at = Timestamp::from_unix(0);
    /// let case = NewCase { kind: CaseKind::Erasure, received_at: at, due_at: None,
    ///     handled_by: "dpo".into(), done: true };
    /// let erase = Write::Rights { subject, at, what: Rights::Erase, case, redact: Vec::new(),
    ///     record: String::new(), deliveries: Vec::new() };
    /// assert!(erase.essential());
    /// ```
    pub fn essential(&self) -> bool {
        match self {
            Write::Rights { .. }
            | Write::Access { .. }
            | Write::CloseCase { .. }
            | Write::Checkpoint { .. }
            | Write::Cosignature { .. } => true,
            // Deliveries change rows already stored.
            Write::ClaimDeliveries { .. }
            | Write::DeliveryAttempt { .. }
            | Write::RetryDeliveries { .. } => true,
            Write::Receipt(r) => {
                matches!(
                    r.collection(),
                    CollectionKind::Staff | CollectionKind::Email
                ) && r.decisions().values().all(|c| *c != Choice::Given)
            }
            Write::Link { .. } | Write::Policy { .. } => false,
        }
    }
}

/// What a write returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Done.
    Done,
    /// A receipt or rights event stored, at this index of the log.
    Logged(LogIndex),
    /// The subject pseudonym found or created by [`Write::Link`].
    Subject(SubjectRef),
    /// The case opened by [`Write::Access`].
    Case(CaseId),
    /// A [`Write::Receipt`] with an idempotency key already stored (and not expired): nothing was
    /// written. `receipt` is the first answer's; `same_body` whether this request's body is the same.
    Repeat {
        /// The receipt of the first request with the key.
        receipt: ReceiptId,
        /// Whether the body is the first request's.
        same_body: bool,
    },
    /// The deliveries handed out by [`Write::ClaimDeliveries`].
    Deliveries(Vec<Delivery>),
    /// How many rows [`Write::RetryDeliveries`] changed.
    Count(u64),
}

/// Which receipts to export.
#[derive(Clone, Debug, Default)]
pub struct ExportQuery {
    /// Issued at or after.
    pub from: Option<Timestamp>,
    /// Issued before.
    pub to: Option<Timestamp>,
    /// Only this subject.
    pub subject: Option<SubjectRef>,
    /// Only receipts after this one (pagination).
    pub after_seq: Option<Seq>,
    /// At most this many.
    pub limit: Option<u64>,
}

/// A receipt store: SQLite and PostgreSQL implement it.
pub trait Store: Send + Sync + 'static {
    /// Queues a write; the receiver resolves once the write is committed durably (or failed).
    fn submit(
        &self,
        write: Write,
    ) -> Result<oneshot::Receiver<Result<Written, StoreError>>, StoreError>;
    /// One receipt by id.
    fn receipt(&self, id: ReceiptId) -> Result<Option<StoredReceipt>, StoreError>;
    /// A subject's receipts, oldest first.
    fn subject_receipts(&self, subject: SubjectRef) -> Result<Vec<StoredReceipt>, StoreError>;
    /// Whether the subject has at least one receipt: one indexed lookup, nothing loaded (a device
    /// with receipts is claimed, and only its own token may change it).
    fn has_receipts(&self, subject: SubjectRef) -> Result<bool, StoreError>;
    /// A subject's events (consents, restrictions, erasures), oldest first.
    fn subject_events(&self, subject: SubjectRef) -> Result<Vec<Event>, StoreError>;
    /// Streams receipts matching `q` in insertion order to `each` until it returns false; the count.
    fn export(
        &self,
        q: &ExportQuery,
        each: &mut dyn FnMut(StoredReceipt) -> bool,
    ) -> Result<u64, StoreError>;
    /// The pseudonym linked to a keyed hash of an external id.
    fn lookup_subject(&self, lookup: &SubjectLookup) -> Result<Option<SubjectRef>, StoreError>;
    /// Number of receipts stored.
    fn receipt_count(&self) -> Result<u64, StoreError>;
    /// The log's tree as committed: its size and root.
    fn log_head(&self) -> Result<LogHead, StoreError>;
    /// The stored data of each hash tile (C2SP tlog-tiles), in the order asked; `None` for a tile not
    /// stored. A partial tile's data may be wider than asked (a tile only grows at its end).
    fn log_tiles(&self, tiles: &[Tile]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// The entries at log indexes `first .. first + count`, in order: receipts' JWS bytes and rights
    /// events' signed records. Stops at the first index not logged.
    fn log_entries(&self, first: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError>;
    /// The latest checkpoint (the largest size), with every cosignature given for it: (size, note).
    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError>;
    /// The subject's data key (what its receipts' names are sealed under), unless destroyed or never
    /// made; with the insertion order of the receipt that created it (receipts before it were sealed
    /// under a key since destroyed).
    fn data_key(&self, subject: SubjectRef) -> Result<Option<(DataKey, Seq)>, StoreError>;
    /// Cases matching `q`, oldest first.
    fn cases(&self, q: &CaseQuery) -> Result<Vec<Case>, StoreError>;
    /// Subjects with a live record (a receipt not followed by an erasure).
    fn live_subjects(&self) -> Result<LiveSubjects, StoreError>;
    /// The receipt stored last (the highest `seq`) that is not redacted (a redacted receipt no longer
    /// verifies), if any: at start, the server checks that its keys verify it (a second instance with
    /// another key file is refused).
    fn last_receipt(&self) -> Result<Option<StoredReceipt>, StoreError>;
    /// Webhook deliveries matching `q`, oldest first.
    fn deliveries(&self, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError>;
    /// Webhook deliveries by subscription and state, with their failed attempts and how many pending
    /// ones are due at `now_ms` (`/metrics`).
    fn delivery_counts(&self, now_ms: i64) -> Result<Vec<DeliveryCount>, StoreError>;
    /// Whether a webhook delivery is due at `now_ms` (a cheap read before [`Write::ClaimDeliveries`]).
    fn deliveries_due(&self, now_ms: i64) -> Result<bool, StoreError>;
    /// Store-specific metrics in Prometheus text format.
    fn metrics(&self) -> String {
        String::new()
    }
    /// Whether the store takes writes now: `Ok` when the database answers, the last write (or probe)
    /// succeeded and free space is above the floor; [`StoreError::Unavailable`] with the outage while
    /// writes fail or space is low; [`StoreError::Closed`] once closed.
    fn ready(&self) -> Result<(), StoreError>;
    /// The storage's health: what `/readyz` and `/metrics` report.
    fn health(&self) -> &StorageHealth;
    /// Stops accepting writes, commits what is queued, and waits for the writer.
    fn close(&self);
}
