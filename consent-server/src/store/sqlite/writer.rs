//! The single writer thread: group commit (one transaction for whatever is queued, each write in its own
//! savepoint), and the WAL checkpointer beside it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::Db as _;
use super::rows;
use crate::store::{Rights, StoreError, Write, Written};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;

/// A queued write and where its result goes.
pub(super) type Job = (Write, oneshot::Sender<Result<Written, StoreError>>);

/// Counters for `/metrics`.
#[derive(Default, Debug)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Writes committed.
    pub writes: AtomicU64,
    /// Sum of commit durations, in microseconds.
    pub commit_micros: AtomicU64,
    /// Largest batch so far.
    pub max_batch: AtomicU64,
}

/// Copies the WAL into the database every second without blocking the writer (PASSIVE), and empties it
/// (TRUNCATE) when the store closes.
pub(super) fn checkpoint_loop(conn: &Connection, stop: &AtomicBool) {
    let checkpoint = |mode: &str| {
        if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::warn!(error = %e, mode, "WAL checkpoint failed");
        }
    };
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(1000));
        checkpoint("PASSIVE");
    }
    checkpoint("TRUNCATE");
}

/// Takes the first queued write, drains what else is queued (up to [`MAX_BATCH`]), commits them in one
/// transaction, then answers them all; until the queue is closed.
pub(super) fn writer_loop(mut conn: Connection, rx: Receiver<Job>, stats: &WriterStats) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let results = commit_batch(&mut conn, &jobs);
        let n = jobs.len() as u64;
        match results {
            Ok(results) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats.writes.fetch_add(n, Ordering::Relaxed);
                stats.max_batch.fetch_max(n, Ordering::Relaxed);
                stats.commit_micros.fetch_add(
                    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                for ((_, reply), result) in jobs.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = n, "commit failed; the whole batch is refused");
                for (_, reply) in jobs {
                    let _ = reply.send(Err(StoreError::CommitFailed(e.to_string())));
                }
            }
        }
    }
    tracing::info!("sqlite writer stopped");
}

/// One transaction for the batch; each write in its own savepoint, so one failing write does not undo
/// the others. Returns per-write results once the transaction is committed.
fn commit_batch(
    conn: &mut Connection,
    jobs: &[Job],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .db()?;
    let mut results = Vec::with_capacity(jobs.len());
    for (write, _) in jobs {
        let mut sp = tx.savepoint().db()?;
        match apply(&sp, write) {
            Ok(w) => {
                sp.commit().db()?;
                results.push(Ok(w));
            }
            Err(e) => {
                sp.rollback().db()?;
                sp.finish().db()?;
                results.push(Err(e));
            }
        }
    }
    tx.commit().db()?;
    Ok(results)
}

fn apply(conn: &Connection, write: &Write) -> Result<Written, StoreError> {
    match write {
        Write::Receipt(r) => {
            conn.prepare_cached(
                "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, browser, decisions, expires_at, actor, jws)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .db()?
            .execute(params![
                r.id().to_string(),
                r.subject().to_string(),
                r.issued_at().as_unix(),
                r.policy_version().to_string(),
                r.method().as_str(),
                r.kid(),
                r.browser(),
                rows::decisions_text(r.decisions()),
                r.expires_at().as_unix(),
                r.by().to_string(),
                r.jws()
            ])
            .db()?;
            Ok(Written::Done)
        }
        Write::Rights { subject, at, what } => {
            let subject = subject.to_string();
            conn.prepare_cached("INSERT INTO events (subject, at, kind) VALUES (?1, ?2, ?3)")
                .db()?
                .execute(params![subject, at.as_unix(), what.as_str()])
                .db()?;
            if *what == Rights::Erase {
                // The person can no longer be found from their external id; receipts stay as they are.
                conn.prepare_cached("DELETE FROM subject_links WHERE subject = ?1")
                    .db()?
                    .execute(params![subject])
                    .db()?;
            }
            Ok(Written::Done)
        }
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
                return Ok(Written::Subject(rows::subject(&s)?));
            }
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
