//! The single writer thread: group commit (one transaction for whatever is queued, each write in its own
//! savepoint), the free-space floor, the health probe; and the WAL checkpointer beside it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use consent_core::tlog::Hash;

use super::Db as _;
use super::log;
use super::space::{self, DiskSpace};
use super::webhooks;
use crate::store::batch::{Job, WriterStats, answer};
use crate::store::columns;
use crate::store::health::Throttle;
use consent_core::ReceiptId;

use crate::store::{
    CaseId, LogIndex, NewCase, Outage, Rights, StorageHealth, StoreError, Write, Written,
};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;

/// Copies the WAL into the database every second without blocking the writer (PASSIVE), and empties it
/// (TRUNCATE) when the store closes, and after an erasure (`truncate`, or a new rights event written by
/// another process): the WAL still holds the pages as they were before the erasure (the data key, a
/// redacted receipt's names) until it is emptied.
/// A TRUNCATE that cannot finish (a reader still uses the WAL) is tried again every second. Failures
/// (a full disk cannot take the pages) are logged once per `log_interval`, with a count.
pub(super) fn checkpoint_loop(
    conn: &Connection,
    stop: &AtomicBool,
    truncate: &AtomicBool,
    log_interval: Duration,
) {
    let mut throttle = Throttle::default();
    let mut checkpoint = |mode: &str| -> bool {
        match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(busy) => busy == 0,
            Err(e) => {
                if let Some(more) = throttle.hit(Instant::now(), log_interval) {
                    tracing::warn!(error = %e, mode, failures_not_logged = more, "WAL checkpoint failed");
                }
                false
            }
        }
    };
    // Erasures recorded by another process (the `erase` command beside the server) are noticed by the
    // newest rights event: the WAL this process keeps writing to must be emptied too.
    let last_event = || {
        conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap_or(0)
    };
    let mut seen = last_event();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(1000));
        let newest = last_event();
        if newest > seen {
            seen = newest;
            truncate.store(true, Ordering::Relaxed);
        }
        if truncate.swap(false, Ordering::Relaxed) {
            if !checkpoint("TRUNCATE") {
                truncate.store(true, Ordering::Relaxed);
            }
        } else {
            checkpoint("PASSIVE");
        }
    }
    checkpoint("TRUNCATE");
}

/// What the writer thread owns besides its connection.
pub(super) struct Writer {
    pub(super) stats: std::sync::Arc<WriterStats>,
    pub(super) health: std::sync::Arc<StorageHealth>,
    pub(super) space: DiskSpace,
    /// Probe failures that are not outages (rare): logged at most once per minute.
    pub(super) probe_errors: Throttle,
    /// Set after an erasure commits: the checkpointer empties the WAL.
    pub(super) truncate: std::sync::Arc<AtomicBool>,
}

/// Takes the first queued write, drains what else is queued (up to [`MAX_BATCH`]), commits them in one
/// transaction, then answers them all; until the queue is closed. Free space is measured at most once a
/// second; while writes fail and no client writes, a probe write runs once a second, so that recovery
/// is noticed without traffic.
pub(super) fn writer_loop(mut conn: Connection, rx: Receiver<Job>, mut w: Writer) {
    loop {
        let first = match rx.recv_timeout(space::EVERY) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        w.space.refresh_if_due(&w.health);
        let Some(first) = first else {
            if w.health.failing() {
                match probe(&mut conn) {
                    Ok(()) => w.health.write_succeeded(),
                    Err(StoreError::Unavailable { outage, source }) => {
                        let error = source.map_or_else(|| outage.to_string(), |e| e.to_string());
                        w.health.write_failed(outage, &error, 0);
                    }
                    Err(e) => {
                        if let Some(more) =
                            w.probe_errors.hit(Instant::now(), Duration::from_secs(60))
                        {
                            tracing::warn!(error = %e, not_logged = more, "storage probe failed");
                        }
                    }
                }
            }
            continue;
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        batch(&mut conn, jobs, &w);
    }
    tracing::info!("sqlite writer stopped");
}

/// Commits one batch, tells the health what happened, answers every job.
fn batch(conn: &mut Connection, jobs: Vec<Job>, w: &Writer) {
    let started = Instant::now();
    let low_space = w.health.low_on_space();
    let results = commit_batch(conn, &jobs, low_space);
    // An erasure committed: the WAL still holds the pages as they were before it.
    if let Ok(results) = &results
        && jobs.iter().zip(results).any(|((write, _), r)| {
            r.is_ok()
                && matches!(
                    write,
                    Write::Rights {
                        what: Rights::Erase,
                        ..
                    }
                )
        })
    {
        w.truncate.store(true, Ordering::Relaxed);
    }
    answer(jobs, results, started, &w.stats, &w.health);
}

/// A write that touches the disk (one row, rewritten), committed like a batch: does the storage write?
fn probe(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .db()?;
    tx.execute(
        "INSERT INTO probe (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1",
        [],
    )
    .db()?;
    tx.commit().db()
}

/// The log's entries of a batch: the next index and the leaf hashes of what was logged so far.
struct Logged {
    next: u64,
    leaves: Vec<Hash>,
}

impl Logged {
    /// Gives `entry` the next index.
    fn push(&mut self, entry: &str) -> LogIndex {
        self.leaves.push(Hash::leaf(entry.as_bytes()));
        self.next += 1;
        LogIndex(self.next - 1)
    }
}

/// One transaction for the batch; each write in its own savepoint, so one failing write does not undo
/// the others. Receipts and rights events get the next log indexes in the order they are applied (a
/// rolled-back write gives its index back), and the tree's tiles grow by their leaves before the commit:
/// the order is the commit order, without gaps. Returns per-write results once the transaction is
/// committed. Below the floor (`low_space`) writes that add data and are not [`Write::essential`] are
/// refused.
fn commit_batch(
    conn: &mut Connection,
    jobs: &[Job],
    low_space: bool,
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .db()?;
    let head = log::head(&tx)?;
    let mut logged = Logged {
        next: head.size,
        leaves: Vec::new(),
    };
    let mut results = Vec::with_capacity(jobs.len());
    for (write, _) in jobs {
        let mut sp = tx.savepoint().db()?;
        let floor = low_space && !write.essential();
        let mark = (logged.next, logged.leaves.len());
        match apply(&sp, write, floor, &mut logged) {
            Ok(w) => {
                sp.commit().db()?;
                results.push(Ok(w));
            }
            Err(e) => {
                sp.rollback().db()?;
                sp.finish().db()?;
                (logged.next, _) = mark;
                logged.leaves.truncate(mark.1);
                results.push(Err(e));
            }
        }
    }
    log::append(&tx, head, &logged.leaves)?;
    tx.commit().db()?;
    Ok(results)
}

/// Applies one write; with `refuse_growth` (below the floor), a write that would add a row is refused
/// with [`Outage::LowSpace`] (one that finds its row already there still answers).
fn apply(
    conn: &Connection,
    write: &Write,
    refuse_growth: bool,
    logged: &mut Logged,
) -> Result<Written, StoreError> {
    let grow = || {
        if refuse_growth {
            Err(StoreError::unavailable(Outage::LowSpace))
        } else {
            Ok(())
        }
    };
    match write {
        Write::Receipt(r) => {
            let subject = r.subject().to_string();
            if let Some(k) = r.idempotency() {
                // Keys are kept a bounded time: the expired ones go first (indexed, cheap).
                conn.prepare_cached("DELETE FROM idempotency WHERE expires_at <= ?1")
                    .db()?
                    .execute(params![r.issued_at().as_unix()])
                    .db()?;
                let first: Option<(Vec<u8>, String)> = conn
                    .prepare_cached("SELECT body, receipt FROM idempotency WHERE key = ?1")
                    .db()?
                    .query_row(params![&k.key[..]], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
                    .db()?;
                if let Some((body, receipt)) = first {
                    // A repeat adds nothing, even below the floor (and the first request made the
                    // subject's data key, if it needed one).
                    return Ok(Written::Repeat {
                        receipt: receipt.parse().map_err(|_| {
                            StoreError::Corrupt(format!("idempotency: receipt id {receipt}"))
                        })?,
                        same_body: body == k.body,
                    });
                }
            }
            grow()?;
            if r.new_data_key().is_some() {
                let exists: bool = conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM data_keys WHERE subject = ?1)")
                    .db()?
                    .query_row(params![subject], |row| row.get(0))
                    .db()?;
                if exists {
                    return Err(StoreError::DataKeyExists);
                }
            }
            if let Some(k) = r.idempotency() {
                conn.prepare_cached(
                    "INSERT INTO idempotency (key, body, receipt, expires_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .db()?
                .execute(params![
                    &k.key[..],
                    &k.body[..],
                    r.id().to_string(),
                    k.expires_at.as_unix()
                ])
                .db()?;
            }
            let mut insert = conn.prepare_cached(
                "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, browser, decisions, expires_at, actor, jws, log_index)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .db()?;
            let index = logged.push(r.jws());
            insert
                .execute(params![
                    r.id().to_string(),
                    subject,
                    r.issued_at().as_unix(),
                    r.policy_version().to_string(),
                    r.method().as_str(),
                    r.kid(),
                    r.browser(),
                    columns::decisions_text(r.decisions()),
                    r.expires_at().as_unix(),
                    r.by().to_string(),
                    r.jws(),
                    i64::try_from(index.0).unwrap_or(i64::MAX),
                ])
                .db()?;
            let seq = conn.last_insert_rowid();
            if let Some(key) = r.new_data_key() {
                conn.prepare_cached(
                    "INSERT INTO data_keys (subject, key, created_seq) VALUES (?1, ?2, ?3)",
                )
                .db()?
                .execute(params![subject, &key.expose_secret()[..], seq])
                .db()?;
            }
            conn.prepare_cached(
                "INSERT INTO subjects (subject, live) VALUES (?1, 1)
                 ON CONFLICT (subject) DO UPDATE SET live = 1 WHERE live = 0",
            )
            .db()?
            .execute(params![subject])
            .db()?;
            let case = match r.case() {
                Some(case) => Some(insert_case(conn, &subject, case, Some(r.id()))?),
                None => None,
            };
            let decided: Vec<String> = r.decisions().keys().map(ToString::to_string).collect();
            webhooks::insert(
                conn,
                &subject,
                r.deliveries(),
                case.map(case_row),
                Some(&decided),
                r.issued_at(),
            )?;
            Ok(Written::Logged(index))
        }
        Write::Rights {
            subject,
            at,
            what,
            case,
            redact,
            record,
            deliveries,
        } => {
            grow()?;
            let subject = subject.to_string();
            let index = logged.push(record);
            conn.prepare_cached(
                "INSERT INTO events (subject, at, kind, record, log_index) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .db()?
            .execute(params![
                subject,
                at.as_unix(),
                what.as_str(),
                record,
                i64::try_from(index.0).unwrap_or(i64::MAX)
            ])
            .db()?;
            let case = insert_case(conn, &subject, case, None)?;
            // An erasure cancels the expiries still to come: nothing of the subject is left to lapse.
            let decided: Option<&[String]> = (*what != Rights::Erase).then_some(&[]);
            webhooks::insert(
                conn,
                &subject,
                deliveries,
                Some(case_row(case)),
                decided,
                *at,
            )?;
            if *what == Rights::Erase {
                // The person can no longer be found from their external id, and the names in their
                // receipts can no longer be read: the data key is destroyed (secure_delete zeroes its
                // bytes in the page). Receipts stay, except version 1 ones naming a person in clear,
                // which are redacted.
                for sql in [
                    "DELETE FROM subject_links WHERE subject = ?1",
                    "DELETE FROM data_keys WHERE subject = ?1",
                    "UPDATE subjects SET live = 0 WHERE subject = ?1",
                ] {
                    conn.prepare_cached(sql)
                        .db()?
                        .execute(params![subject])
                        .db()?;
                }
                for (id, redacted) in redact {
                    conn.prepare_cached(
                        "UPDATE receipts SET jws = ?1 WHERE id = ?2 AND subject = ?3",
                    )
                    .db()?
                    .execute(params![redacted, id.to_string(), subject])
                    .db()?;
                }
                // Nor from the hashes of their requests' bodies.
                conn.prepare_cached(
                    "DELETE FROM idempotency WHERE receipt IN (SELECT id FROM receipts WHERE subject = ?1)",
                )
                .db()?
                .execute(params![subject])
                .db()?;
            }
            Ok(Written::Logged(index))
        }
        Write::Checkpoint { size, root, note } => {
            log::store_checkpoint(conn, *size, root, note)?;
            Ok(Written::Done)
        }
        Write::Cosignature { size, line } => {
            log::store_cosignature(conn, *size, line)?;
            Ok(Written::Done)
        }
        Write::Access { subject, case } => {
            grow()?;
            let id = insert_case(conn, &subject.to_string(), case, None)?;
            Ok(Written::Case(id))
        }
        Write::CloseCase { id, at, by } => {
            let n = conn
                .prepare_cached(
                    "UPDATE cases SET closed_at = ?1, closed_by = ?2 WHERE id = ?3 AND closed_at IS NULL",
                )
                .db()?
                .execute(params![
                    at.as_unix(),
                    by,
                    i64::try_from(id.0).unwrap_or(i64::MAX)
                ])
                .db()?;
            if n == 0 {
                return Err(StoreError::NoOpenCase(*id));
            }
            Ok(Written::Done)
        }
        Write::ClaimDeliveries { .. }
        | Write::DeliveryAttempt { .. }
        | Write::RetryDeliveries { .. } => webhooks::write(conn, write),
        Write::Link {
            lookup,
            new_subject,
        } => {
            let lookup = &lookup.as_bytes()[..];
            let existing: Option<String> = conn
                .prepare_cached("SELECT subject FROM subject_links WHERE lookup = ?1")
                .db()?
                .query_row(params![lookup], |r| r.get(0))
                .optional()
                .db()?;
            if let Some(s) = existing {
                return Ok(Written::Subject(columns::subject(&s)?));
            }
            grow()?;
            conn.prepare_cached("INSERT INTO subject_links (lookup, subject) VALUES (?1, ?2)")
                .db()?
                .execute(params![lookup, new_subject.to_string()])
                .db()?;
            Ok(Written::Subject(*new_subject))
        }
        Write::Policy {
            version,
            sha256,
            canonical,
        } => {
            let (v, sha256) = (version.to_string(), sha256.to_string());
            let existing: Option<String> = conn
                .prepare_cached("SELECT sha256 FROM policies WHERE version = ?1")
                .db()?
                .query_row(params![v], |r| r.get(0))
                .optional()
                .db()?;
            match existing {
                Some(h) if h == sha256 => Ok(Written::Done),
                Some(_) => Err(StoreError::PolicyChanged(*version)),
                None => {
                    grow()?;
                    conn.prepare_cached(
                        "INSERT INTO policies (version, sha256, canonical) VALUES (?1, ?2, ?3)",
                    )
                    .db()?
                    .execute(params![v, sha256, canonical])
                    .db()?;
                    Ok(Written::Done)
                }
            }
        }
    }
}

/// Opens `case` for `subject` (closed at once if its write completes it); its number.
///
/// A case that waits for every subscribed system's acknowledgement (issue 20.4) is opened with
/// `done = false` and closed by the delivery that completes it (`webhooks::attempt`).
fn insert_case(
    conn: &Connection,
    subject: &str,
    case: &NewCase,
    receipt: Option<ReceiptId>,
) -> Result<CaseId, StoreError> {
    let received = case.received_at.as_unix();
    conn.prepare_cached(
        "INSERT INTO cases (kind, subject, received_at, due_at, handled_by, receipt_id, closed_at, closed_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .db()?
    .execute(params![
        case.kind.as_str(),
        subject,
        received,
        case.due_at.map(|t| t.as_unix()),
        case.handled_by,
        receipt.map(|r| r.to_string()),
        case.done.then_some(received),
        case.done.then_some(case.handled_by.as_str()),
    ])
    .db()?;
    Ok(CaseId(u64::try_from(conn.last_insert_rowid()).unwrap_or(0)))
}

/// A case's number as its column.
fn case_row(id: CaseId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}
