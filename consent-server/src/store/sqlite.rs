//! SQLite store: WAL, one writer thread with group commit, a small pool of read-only connections.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use consent_core::Event;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{
    EventRow, ExportQuery, Rights, Store, StoreError, StoredReceipt, Write, Written,
    events_from_row,
};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;
/// Writes waiting beyond this are refused with [`StoreError::Busy`].
const QUEUE: usize = 16 * 1024;

/// Schema migrations, applied in order; `PRAGMA user_version` is the number applied.
pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE policies (
    version    TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    canonical  TEXT NOT NULL
);
-- seq is the rowid: with deletes forbidden, it only grows (no AUTOINCREMENT bookkeeping needed).
CREATE TABLE receipts (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    subject        TEXT NOT NULL,
    issued_at      INTEGER NOT NULL,
    policy_version TEXT NOT NULL,
    method         TEXT NOT NULL,
    kid            TEXT NOT NULL,
    browser        TEXT,
    -- What the receipt decided, for folding consent state without parsing JWS: `purpose=choice;...`.
    decisions      TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    jws            TEXT NOT NULL
);
CREATE INDEX receipts_subject ON receipts (subject, seq);
CREATE INDEX receipts_issued ON receipts (issued_at, seq);
CREATE TRIGGER receipts_append_only_update BEFORE UPDATE ON receipts
    BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER receipts_append_only_delete BEFORE DELETE ON receipts
    BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER policies_immutable BEFORE UPDATE ON policies
    BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;
-- Rights requests (consents are the receipts themselves).
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    subject        TEXT NOT NULL,
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('restrict', 'unblock', 'erase'))
);
CREATE INDEX events_subject ON events (subject, seq);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE subject_links (
    lookup   BLOB PRIMARY KEY,
    subject  TEXT NOT NULL UNIQUE
);
"#];

type Job = (Write, oneshot::Sender<Result<Written, StoreError>>);

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

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    checkpointer: Mutex<Option<(Arc<std::sync::atomic::AtomicBool>, JoinHandle<()>)>>,
    tx: Mutex<Option<SyncSender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    stats: Arc<WriterStats>,
}

fn open(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    #[cfg(unix)]
    if !read_only && !path.exists() {
        // The database holds pseudonymous personal data: readable by the server's user only.
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                StoreError::CommitFailed(format!("cannot create {}: {e}", path.display()))
            })?;
    }
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a commit is on disk (WAL fsynced) before it returns. Rule 6 of the product.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
        .try_into()
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
        tracing::info!(migration = i + 1, "applied database migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path` and starts the writer.
    pub fn open(path: impl Into<PathBuf>) -> Result<SqliteStore, StoreError> {
        let path = path.into();
        let mut conn = open(&path, false)?;
        migrate(&mut conn)?;
        // Checkpoints run on their own thread, off the commit path of the writer.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkpoint_conn = open(&path, false)?;
        let checkpoint_stop = Arc::clone(&stop);
        let checkpointer = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpoint_conn, &checkpoint_stop))
            .map_err(|e| StoreError::Corrupt(format!("cannot start checkpoint thread: {e}")))?;
        let stats = Arc::new(WriterStats::default());
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let writer_stats = Arc::clone(&stats);
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, &writer_stats))
            .map_err(|e| StoreError::Corrupt(format!("cannot start writer thread: {e}")))?;
        Ok(SqliteStore {
            path,
            checkpointer: Mutex::new(Some((stop, checkpointer))),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            stats,
        })
    }

    /// Writer counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.lock().map_err(|_| StoreError::Closed)?.pop();
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path, true)?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 8
        {
            pool.push(conn);
        }
        out
    }
}

/// Copies the WAL into the database every second without blocking the writer (PASSIVE), and empties it
/// (TRUNCATE) when the store closes.
fn checkpoint_loop(conn: &Connection, stop: &std::sync::atomic::AtomicBool) {
    let checkpoint = |mode: &str| {
        if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::warn!(error = %e, mode, "WAL checkpoint failed");
        }
    };
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(1000));
        checkpoint("PASSIVE");
    }
    checkpoint("TRUNCATE");
}

fn writer_loop(mut conn: Connection, rx: Receiver<Job>, stats: &WriterStats) {
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
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(jobs.len());
    for (write, _) in jobs {
        let mut sp = tx.savepoint()?;
        match apply(&sp, write) {
            Ok(w) => {
                sp.commit()?;
                results.push(Ok(w));
            }
            Err(e) => {
                sp.rollback()?;
                sp.finish()?;
                results.push(Err(e));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

fn apply(conn: &Connection, write: &Write) -> Result<Written, StoreError> {
    match write {
        Write::Receipt(row) => {
            conn.prepare_cached(
                "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, browser, decisions, expires_at, actor, jws)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                row.id,
                row.subject,
                row.issued_at,
                row.policy_version,
                row.method,
                row.kid,
                row.browser,
                row.decisions,
                row.expires_at,
                row.actor,
                row.jws
            ])?;
            Ok(Written::Done)
        }
        Write::Rights { subject, at, what } => {
            conn.prepare_cached("INSERT INTO events (subject, at, kind) VALUES (?1, ?2, ?3)")?
                .execute(params![subject, at.as_unix(), what.as_str()])?;
            if *what == Rights::Erase {
                // The person can no longer be found from their external id; receipts stay as they are.
                conn.prepare_cached("DELETE FROM subject_links WHERE subject = ?1")?
                    .execute(params![subject])?;
            }
            Ok(Written::Done)
        }
        Write::Link {
            lookup,
            new_subject,
        } => {
            let existing: Option<String> = conn
                .prepare_cached("SELECT subject FROM subject_links WHERE lookup = ?1")?
                .query_row(params![&lookup[..]], |r| r.get(0))
                .optional()?;
            if let Some(s) = existing {
                return Ok(Written::Subject(s));
            }
            conn.prepare_cached("INSERT INTO subject_links (lookup, subject) VALUES (?1, ?2)")?
                .execute(params![&lookup[..], new_subject])?;
            Ok(Written::Subject(new_subject.clone()))
        }
        Write::Policy {
            version,
            sha256,
            canonical,
        } => {
            let v = version.to_string();
            let existing: Option<String> = conn
                .prepare_cached("SELECT sha256 FROM policies WHERE version = ?1")?
                .query_row(params![v], |r| r.get(0))
                .optional()?;
            match existing {
                Some(h) if h == *sha256 => Ok(Written::Done),
                Some(_) => Err(StoreError::PolicyChanged(v)),
                None => {
                    conn.prepare_cached(
                        "INSERT INTO policies (version, sha256, canonical) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![v, sha256, canonical])?;
                    Ok(Written::Done)
                }
            }
        }
    }
}

fn receipt_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredReceipt> {
    Ok(StoredReceipt {
        seq: r.get(0)?,
        id: r.get(1)?,
        subject: r.get(2)?,
        issued_at: r.get(3)?,
        jws: r.get(4)?,
    })
}

impl Store for SqliteStore {
    fn submit(
        &self,
        write: Write,
    ) -> Result<oneshot::Receiver<Result<Written, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        let guard = self.tx.lock().map_err(|_| StoreError::Closed)?;
        let tx = guard.as_ref().ok_or(StoreError::Closed)?;
        match tx.try_send((write, reply)) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::Closed),
        }
    }

    fn receipt(&self, id: &str) -> Result<Option<StoredReceipt>, StoreError> {
        self.with_reader(|c| {
            Ok(c.prepare_cached(
                "SELECT seq, id, subject, issued_at, jws FROM receipts WHERE id = ?1",
            )?
            .query_row(params![id], receipt_row)
            .optional()?)
        })
    }

    fn subject_receipts(&self, subject: &str) -> Result<Vec<StoredReceipt>, StoreError> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached("SELECT seq, id, subject, issued_at, jws FROM receipts WHERE subject = ?1 ORDER BY seq")?;
            let rows = st.query_map(params![subject], receipt_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn subject_events(&self, subject: &str) -> Result<Vec<Event>, StoreError> {
        self.with_reader(|c| {
            let mut out = Vec::new();
            // Consents come from the receipts, rights requests from events; the fold does not need them
            // interleaved in time order.
            let mut st = c.prepare_cached(
                "SELECT issued_at, decisions, policy_version, method, expires_at, actor FROM receipts WHERE subject = ?1 ORDER BY seq",
            )?;
            let mut rows = st.query(params![subject])?;
            while let Some(r) = rows.next()? {
                let row = EventRow {
                    at: r.get(0)?,
                    kind: "consent".into(),
                    decisions: r.get(1)?,
                    version: r.get(2)?,
                    method: r.get(3)?,
                    expires_at: r.get(4)?,
                    actor: r.get(5)?,
                };
                events_from_row(row, &mut out)?;
            }
            let mut st = c.prepare_cached("SELECT at, kind FROM events WHERE subject = ?1 ORDER BY seq")?;
            let mut rows = st.query(params![subject])?;
            while let Some(r) = rows.next()? {
                let row = EventRow { at: r.get(0)?, kind: r.get(1)?, decisions: None, version: None, method: None, expires_at: None, actor: None };
                events_from_row(row, &mut out)?;
            }
            Ok(out)
        })
    }

    fn export(
        &self,
        q: &ExportQuery,
        each: &mut dyn FnMut(StoredReceipt) -> bool,
    ) -> Result<u64, StoreError> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, id, subject, issued_at, jws FROM receipts
                 WHERE issued_at >= ?1 AND issued_at < ?2 AND (?3 IS NULL OR subject = ?3) AND seq > ?4
                 ORDER BY seq LIMIT ?5",
            )?;
            let limit = q.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let mut rows = st.query(params![
                q.from.unwrap_or(i64::MIN),
                q.to.unwrap_or(i64::MAX),
                q.subject,
                q.after_seq.unwrap_or(0),
                limit
            ])?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                n += 1;
                if !each(receipt_row(r)?) {
                    break;
                }
            }
            Ok(n)
        })
    }

    fn lookup_subject(&self, lookup: &[u8; 32]) -> Result<Option<String>, StoreError> {
        self.with_reader(|c| {
            Ok(
                c.prepare_cached("SELECT subject FROM subject_links WHERE lookup = ?1")?
                    .query_row(params![&lookup[..]], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn receipt_count(&self) -> Result<u64, StoreError> {
        self.with_reader(|c| {
            let n: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) FROM receipts", [], |r| {
                r.get(0)
            })?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn metrics(&self) -> String {
        let s = &self.stats;
        let commits = s.commits.load(Ordering::Relaxed);
        format!(
            "# HELP consent_store_commits_total Transactions committed by the writer.\n# TYPE consent_store_commits_total counter\nconsent_store_commits_total {commits}\n\
             # HELP consent_store_writes_total Writes committed (a batch shares one commit).\n# TYPE consent_store_writes_total counter\nconsent_store_writes_total {}\n\
             # HELP consent_store_commit_seconds_total Time spent in batches, from first insert to durable commit.\n# TYPE consent_store_commit_seconds_total counter\nconsent_store_commit_seconds_total {}\n\
             # HELP consent_store_batch_max Largest batch committed at once.\n# TYPE consent_store_batch_max gauge\nconsent_store_batch_max {}\n",
            s.writes.load(Ordering::Relaxed),
            s.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
            s.max_batch.load(Ordering::Relaxed),
        )
    }

    fn ready(&self) -> bool {
        self.tx.lock().map(|t| t.is_some()).unwrap_or(false)
            && self
                .with_reader(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
                .is_ok()
    }

    fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = writer {
            let _ = w.join();
        }
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some((stop, handle)) = checkpointer {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}
