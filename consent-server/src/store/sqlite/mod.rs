//! SQLite store: WAL, one writer thread with group commit, a small pool of read-only connections.
//!
//! - `schema`: the migrations;
//! - `writer`: the writer thread (group commit, the free-space floor, the health probe) and the WAL
//!   checkpointer;
//! - `fault`: SQLite's errors as engine-neutral outages;
//! - `space`: free space on the database's file system;
//! - `rows`: values to columns and back (what is read is parsed there, once);
//! - `log`: the consent log's entries, tiles, head and checkpoints;
//! - `source`: a database read for a copy to PostgreSQL (`migrate --to`).

mod backup;
mod fault;
mod log;
mod rows;
mod schema;
mod source;
mod space;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use consent_core::{DataKey, Event, ReceiptId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

pub use backup::{Backup, KeysRestored};
pub use schema::MIGRATIONS;
pub use source::{
    SourceCase, SourceCounts, SourceDelivery, SourceIdempotency, SourceReceipt, SqliteSource,
};

use self::rows::{CASE_COLUMNS, RECEIPT_COLUMNS, stored_receipt};
use self::space::DiskSpace;
use self::writer::{Writer, checkpoint_loop, writer_loop};
use crate::privacy::{SubjectLookup, SubjectRef};
use crate::store::batch::{Job, WriterStats};
use crate::store::columns::{self, EventRow, events_from_row};
use crate::store::{
    Case, CaseQuery, Delivery, DeliveryCount, DeliveryQuery, ExportQuery, LiveSubjects, LogHead,
    Seq, StorageHealth, Store, StoreError, StoreOptions, StoredReceipt, Write, Written,
};
use consent_core::tlog::Tile;

/// Writes waiting beyond this are refused with [`StoreError::Busy`].
const QUEUE: usize = 16 * 1024;

/// SQLite's errors, as the engine-neutral [`StoreError`]: [`StoreError::Unavailable`] for a full disk,
/// an I/O error, a read-only file or a lock held too long, [`StoreError::Backend`] otherwise.
trait Db<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(fault::store_error)
    }
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    checkpointer: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
    tx: Mutex<Option<SyncSender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    stats: Arc<WriterStats>,
    health: Arc<StorageHealth>,
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
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).db()?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL").db()?;
        // FULL: a commit is on disk (WAL fsynced) before it returns. Rule 6 of the product.
        conn.pragma_update(None, "synchronous", "FULL").db()?;
        conn.pragma_update(None, "foreign_keys", "ON").db()?;
        // Deleted rows (an erased subject's data key and link) and freed pages are overwritten with
        // zeros, not left in free space (issue 20.2).
        conn.pragma_update(None, "secure_delete", "ON").db()?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path` and starts the writer, with the
    /// default [`StoreOptions`] (a floor of 256 MiB).
    pub fn open(path: impl Into<PathBuf>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, StoreOptions::default())
    }

    /// Opens the database at `path` with `options`: below `min_free_bytes` free on its file system,
    /// writes that add data are refused.
    pub fn open_with(
        path: impl Into<PathBuf>,
        options: StoreOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.into();
        let health = Arc::new(StorageHealth::new(
            options.min_free_bytes,
            options.log_interval,
        ));
        let mut space = DiskSpace::new(&path);
        space.refresh(&health);
        tracing::debug!(
            free_bytes = health.free_bytes(),
            min_free_bytes = options.min_free_bytes,
            "free space on the database's disk"
        );
        let mut conn = open(&path, false)?;
        schema::migrate(&mut conn)?;
        log::catch_up(&mut conn)?;
        // Checkpoints run on their own thread, off the commit path of the writer.
        conn.pragma_update(None, "wal_autocheckpoint", 0).db()?;
        let stop = Arc::new(AtomicBool::new(false));
        let truncate = Arc::new(AtomicBool::new(false));
        let checkpoint_conn = open(&path, false)?;
        let checkpoint_stop = Arc::clone(&stop);
        let checkpoint_truncate = Arc::clone(&truncate);
        let log_interval = options.log_interval;
        let checkpointer = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                checkpoint_loop(
                    &checkpoint_conn,
                    &checkpoint_stop,
                    &checkpoint_truncate,
                    log_interval,
                )
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start checkpoint thread: {e}")))?;
        let stats = Arc::new(WriterStats::default());
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let w = Writer {
            stats: Arc::clone(&stats),
            health: Arc::clone(&health),
            space,
            probe_errors: Default::default(),
            truncate,
        };
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, w))
            .map_err(|e| StoreError::Corrupt(format!("cannot start writer thread: {e}")))?;
        Ok(SqliteStore {
            path,
            checkpointer: Mutex::new(Some((stop, checkpointer))),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            stats,
            health,
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
            None => open(&self.path, true).inspect_err(|e| self.read_failed(e))?,
        };
        let out = f(&conn).inspect_err(|e| self.read_failed(e));
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 8
        {
            pool.push(conn);
        }
        out
    }

    /// Tells the health about a read the storage could not serve (logged once per interval).
    fn read_failed(&self, e: &StoreError) {
        if let StoreError::Unavailable { outage, .. } = e {
            self.health.read_failed(*outage, e);
        }
    }
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

    fn receipt(&self, id: ReceiptId) -> Result<Option<StoredReceipt>, StoreError> {
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE id = ?1"
                ))
                .db()?;
            let mut rows = st.query(params![id.to_string()]).db()?;
            rows.next().db()?.map(stored_receipt).transpose()
        })
    }

    fn subject_receipts(&self, subject: SubjectRef) -> Result<Vec<StoredReceipt>, StoreError> {
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE subject = ?1 ORDER BY seq"
                ))
                .db()?;
            let mut rows = st.query(params![subject.to_string()]).db()?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().db()? {
                out.push(stored_receipt(r)?);
            }
            Ok(out)
        })
    }

    fn has_receipts(&self, subject: SubjectRef) -> Result<bool, StoreError> {
        self.with_reader(|c| {
            // The index receipts_subject (subject, seq) answers it without reading a row.
            c.prepare_cached("SELECT EXISTS (SELECT 1 FROM receipts WHERE subject = ?1)")
                .db()?
                .query_row(params![subject.to_string()], |r| r.get(0))
                .db()
        })
    }

    fn subject_events(&self, subject: SubjectRef) -> Result<Vec<Event>, StoreError> {
        let subject = subject.to_string();
        self.with_reader(|c| {
            let mut out = Vec::new();
            // Consents come from the receipts, rights requests from events; the fold does not need them
            // interleaved in time order.
            let mut st = c.prepare_cached(
                "SELECT issued_at, decisions, policy_version, method, expires_at, actor FROM receipts WHERE subject = ?1 ORDER BY seq",
            ).db()?;
            let mut rows = st.query(params![subject]).db()?;
            while let Some(r) = rows.next().db()? {
                let row = EventRow {
                    at: r.get(0).db()?,
                    kind: "consent".into(),
                    decisions: r.get(1).db()?,
                    version: r.get(2).db()?,
                    method: r.get(3).db()?,
                    expires_at: r.get(4).db()?,
                    actor: r.get(5).db()?,
                };
                events_from_row(row, &mut out)?;
            }
            let mut st = c
                .prepare_cached("SELECT at, kind FROM events WHERE subject = ?1 ORDER BY seq")
                .db()?;
            let mut rows = st.query(params![subject]).db()?;
            while let Some(r) = rows.next().db()? {
                let row = EventRow {
                    at: r.get(0).db()?,
                    kind: r.get(1).db()?,
                    decisions: None,
                    version: None,
                    method: None,
                    expires_at: None,
                    actor: None,
                };
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
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts
                     WHERE issued_at >= ?1 AND issued_at < ?2 AND (?3 IS NULL OR subject = ?3) AND seq > ?4
                     ORDER BY seq LIMIT ?5"
                ))
                .db()?;
            let mut rows = st
                .query(params![
                    q.from.map_or(i64::MIN, |t| t.as_unix()),
                    q.to.map_or(i64::MAX, |t| t.as_unix()),
                    q.subject.map(|s| s.to_string()),
                    q.after_seq.map_or(0, |s| as_i64(s.0)),
                    q.limit.map_or(i64::MAX, as_i64),
                ])
                .db()?;
            let mut n = 0;
            while let Some(r) = rows.next().db()? {
                n += 1;
                if !each(stored_receipt(r)?) {
                    break;
                }
            }
            Ok(n)
        })
    }

    fn lookup_subject(&self, lookup: &SubjectLookup) -> Result<Option<SubjectRef>, StoreError> {
        self.with_reader(|c| {
            let found: Option<String> = c
                .prepare_cached("SELECT subject FROM subject_links WHERE lookup = ?1")
                .db()?
                .query_row(params![&lookup.as_bytes()[..]], |r| r.get(0))
                .optional()
                .db()?;
            found.as_deref().map(columns::subject).transpose()
        })
    }

    fn receipt_count(&self) -> Result<u64, StoreError> {
        self.with_reader(|c| {
            let n: i64 = c
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM receipts", [], |r| {
                    r.get(0)
                })
                .db()?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn log_head(&self) -> Result<LogHead, StoreError> {
        self.with_reader(log::head)
    }

    fn log_tiles(&self, tiles: &[Tile]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.with_reader(|c| log::DbTiles(c).read(tiles))
    }

    fn log_entries(&self, first: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with_reader(|c| log::entries(c, first, count))
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.with_reader(log::latest_checkpoint)
    }

    fn data_key(&self, subject: SubjectRef) -> Result<Option<(DataKey, Seq)>, StoreError> {
        self.with_reader(|c| {
            let row: Option<(Vec<u8>, i64)> = c
                .prepare_cached("SELECT key, created_seq FROM data_keys WHERE subject = ?1")
                .db()?
                .query_row(params![subject.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db()?;
            row.map(|(key, seq)| {
                let key: [u8; 32] = key
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("data key of {subject}")))?;
                Ok((
                    DataKey::from_bytes(key),
                    Seq(u64::try_from(seq).unwrap_or(0)),
                ))
            })
            .transpose()
        })
    }

    fn cases(&self, q: &CaseQuery) -> Result<Vec<Case>, StoreError> {
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {CASE_COLUMNS} FROM cases
                     WHERE (?1 = 0 OR closed_at IS NULL) AND (?2 IS NULL OR subject = ?2)
                     ORDER BY id LIMIT ?3"
                ))
                .db()?;
            let mut rows = st
                .query(params![
                    q.open_only,
                    q.subject.map(|s| s.to_string()),
                    q.limit
                        .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX)),
                ])
                .db()?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().db()? {
                out.push(rows::case(r)?);
            }
            Ok(out)
        })
    }

    fn live_subjects(&self) -> Result<LiveSubjects, StoreError> {
        self.with_reader(|c| {
            let count = |prefix: &str| -> Result<u64, StoreError> {
                let n: i64 = c
                    .prepare_cached(
                        "SELECT COUNT(*) FROM subjects WHERE live = 1 AND subject >= ?1 AND subject < ?2",
                    )
                    .db()?
                    .query_row(params![format!("{prefix}:"), format!("{prefix};")], |r| {
                        r.get(0)
                    })
                    .db()?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(LiveSubjects {
                persons: count("sub")?,
                devices: count("dev")?,
            })
        })
    }

    fn last_receipt(&self) -> Result<Option<StoredReceipt>, StoreError> {
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE jws NOT LIKE 'erased:%' \
                     ORDER BY seq DESC LIMIT 1"
                ))
                .db()?;
            let mut rows = st.query([]).db()?;
            rows.next().db()?.map(stored_receipt).transpose()
        })
    }

    fn deliveries(&self, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        self.with_reader(|c| webhooks::list(c, q))
    }

    fn delivery_counts(&self, now_ms: i64) -> Result<Vec<DeliveryCount>, StoreError> {
        self.with_reader(|c| webhooks::counts(c, now_ms))
    }

    fn deliveries_due(&self, now_ms: i64) -> Result<bool, StoreError> {
        self.with_reader(|c| webhooks::due(c, now_ms))
    }

    fn metrics(&self) -> String {
        self.stats.prometheus()
    }

    fn ready(&self) -> Result<(), StoreError> {
        if !self.tx.lock().map(|t| t.is_some()).unwrap_or(false) {
            return Err(StoreError::Closed);
        }
        if let Some(outage) = self.health.outage() {
            return Err(StoreError::unavailable(outage));
        }
        self.with_reader(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).db())
            .map(|_| ())
    }

    fn health(&self) -> &StorageHealth {
        &self.health
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

#[cfg(test)]
mod tests;
