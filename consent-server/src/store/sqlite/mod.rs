//! SQLite store: WAL, one writer thread with group commit, a small pool of read-only connections.
//!
//! - `schema`: the migrations;
//! - `writer`: the writer thread (group commit, the free-space floor, the health probe) and the WAL
//!   checkpointer;
//! - `fault`: SQLite's errors as engine-neutral outages;
//! - `space`: free space on the database's file system;
//! - `rows`: values to columns and back (what is read is parsed there, once).

mod backup;
mod fault;
mod rows;
mod schema;
mod space;
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
pub use writer::WriterStats;

use self::rows::{CASE_COLUMNS, EventRow, RECEIPT_COLUMNS, events_from_row, stored_receipt};
use self::space::DiskSpace;
use self::writer::{Job, Writer, checkpoint_loop, writer_loop};
use crate::privacy::{SubjectLookup, SubjectRef};
use crate::store::{
    Case, CaseQuery, ExportQuery, LiveSubjects, Seq, StorageHealth, Store, StoreError,
    StoreOptions, StoredReceipt, Write, Written,
};

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
            found.as_deref().map(rows::subject).transpose()
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
mod tests {
    use consent_core::{HmacKey, PolicyHash, PolicyVersion, SubjectId, Timestamp};

    use super::*;
    use crate::store::{CaseId, CaseKind, NewCase, Rights};

    fn temp_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("consent-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("consent.db")
    }

    fn write(store: &SqliteStore, w: Write) -> Result<Written, StoreError> {
        store.submit(w).unwrap().blocking_recv().unwrap()
    }

    #[test]
    fn typed_values_in_and_out() {
        let path = temp_db("typed");
        let store = SqliteStore::open(&path).unwrap();
        let lookup = crate::privacy::subject_lookup(&HmacKey::from_bytes([1; 32]), "a@example.org");
        let first = SubjectRef::Subject(SubjectId([2; 16]));
        let link = |s| Write::Link {
            lookup,
            new_subject: s,
        };
        assert_eq!(write(&store, link(first)).unwrap(), Written::Subject(first));
        // The link exists: the first pseudonym stays.
        let other = SubjectRef::Subject(SubjectId([3; 16]));
        assert_eq!(write(&store, link(other)).unwrap(), Written::Subject(first));
        assert_eq!(store.lookup_subject(&lookup).unwrap(), Some(first));
        let rights = Write::Rights {
            subject: first,
            at: Timestamp::from_unix(5),
            what: Rights::Erase,
            case: new_case(CaseKind::Erasure, 5, true),
            redact: Vec::new(),
        };
        write(&store, rights).unwrap();
        assert_eq!(store.lookup_subject(&lookup).unwrap(), None);
        assert_eq!(store.subject_events(first).unwrap().len(), 1);
        let version: PolicyVersion = "2025-03-26".parse().unwrap();
        let policy = |h| Write::Policy {
            version,
            sha256: PolicyHash([h; 32]),
            canonical: "{}".into(),
        };
        write(&store, policy(1)).unwrap();
        write(&store, policy(1)).unwrap();
        assert!(matches!(
            write(&store, policy(2)),
            Err(StoreError::PolicyChanged(v)) if v == version
        ));
        store.close();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    fn new_case(kind: CaseKind, at: i64, done: bool) -> NewCase {
        NewCase {
            kind,
            received_at: Timestamp::from_unix(at),
            due_at: Some(Timestamp::from_unix(at + 86_400)),
            handled_by: "dpo".into(),
            done,
        }
    }

    fn insert_receipt(path: &Path, id: &str, subject: SubjectRef, at: i64, jws: &str) {
        Connection::open(path)
            .unwrap()
            .execute(
                "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws)
                 VALUES (?1, ?2, ?3, '2025-03-26', 'custom', 'k', 'a=given', ?4, 'subject', ?5)",
                params![id, subject.to_string(), at, at + 10, jws],
            )
            .unwrap();
    }

    #[test]
    fn cases_open_close_once_and_are_kept() {
        let path = temp_db("cases");
        let store = SqliteStore::open(&path).unwrap();
        let s = SubjectRef::Subject(SubjectId([6; 16]));
        let Written::Case(id) = write(
            &store,
            Write::Access {
                subject: s,
                case: new_case(CaseKind::Access, 100, false),
            },
        )
        .unwrap() else {
            panic!("no case")
        };
        let restrict = Write::Rights {
            subject: s,
            at: Timestamp::from_unix(101),
            what: Rights::Restrict,
            case: new_case(CaseKind::Restriction, 101, true),
            redact: Vec::new(),
        };
        write(&store, restrict).unwrap();
        let open = store
            .cases(&CaseQuery {
                open_only: true,
                ..CaseQuery::default()
            })
            .unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].id, open[0].kind, open[0].subject),
            (id, CaseKind::Access, s)
        );
        assert_eq!(open[0].due_at, Some(Timestamp::from_unix(100 + 86_400)));
        let all = store.cases(&CaseQuery::default()).unwrap();
        assert_eq!(
            all[1].closed,
            Some((Timestamp::from_unix(101), "dpo".to_owned()))
        );
        let close = |by: &str| Write::CloseCase {
            id,
            at: Timestamp::from_unix(200),
            by: by.into(),
        };
        write(&store, close("alice")).unwrap();
        assert!(matches!(write(&store, close("bob")), Err(StoreError::NoOpenCase(i)) if i == id));
        assert!(matches!(
            write(
                &store,
                Write::CloseCase {
                    id: CaseId(99),
                    at: Timestamp::from_unix(1),
                    by: "x".into()
                }
            ),
            Err(StoreError::NoOpenCase(_))
        ));
        let conn = Connection::open(&path).unwrap();
        // Cases are kept, and a closed case does not change.
        assert!(conn.execute("DELETE FROM cases", []).is_err());
        assert!(
            conn.execute("UPDATE cases SET closed_by = 'mallory'", [])
                .is_err()
        );
        assert!(
            conn.execute("UPDATE cases SET due_at = 0 WHERE closed_at IS NULL", [])
                .is_ok()
        );
        store.close();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn live_subjects_and_the_one_update_receipts_allow() {
        let path = temp_db("live");
        let store = SqliteStore::open(&path).unwrap();
        let (a, b) = (
            SubjectRef::Subject(SubjectId([7; 16])),
            SubjectRef::Subject(SubjectId([8; 16])),
        );
        let d = SubjectRef::Device(SubjectId([7; 16]));
        // Receipts written by the store count their subjects; rows inserted by hand here do not go
        // through the writer, so the migration's backfill is what this checks on reopening.
        insert_receipt(
            &path,
            "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a51",
            a,
            10,
            "x.y.z",
        );
        insert_receipt(
            &path,
            "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a52",
            b,
            10,
            "x.y.z",
        );
        insert_receipt(
            &path,
            "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a53",
            d,
            10,
            "x.y.z",
        );
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO subjects (subject, live) SELECT DISTINCT subject, 1 FROM receipts",
            [],
        )
        .unwrap();
        assert_eq!(
            store.live_subjects().unwrap(),
            LiveSubjects {
                persons: 2,
                devices: 1
            }
        );
        let erase = Write::Rights {
            subject: b,
            at: Timestamp::from_unix(20),
            what: Rights::Erase,
            case: new_case(CaseKind::Erasure, 20, true),
            redact: vec![(
                "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a52".parse().unwrap(),
                "erased:x.y2.z".into(),
            )],
        };
        write(&store, erase).unwrap();
        assert_eq!(store.live_subjects().unwrap().persons, 1);
        let r = store.subject_receipts(b).unwrap();
        assert!(r[0].is_redacted() && r[0].jws == "erased:x.y2.z");
        // Receipts are append-only but for that: no other column, no second redaction, no un-redaction.
        assert!(
            conn.execute(
                "UPDATE receipts SET jws = 'erased:again' WHERE subject = ?1",
                params![b.to_string()]
            )
            .is_err()
        );
        assert!(
            conn.execute(
                "UPDATE receipts SET jws = 'x.y.z' WHERE subject = ?1",
                params![b.to_string()]
            )
            .is_err()
        );
        assert!(
            conn.execute(
                "UPDATE receipts SET decisions = 'a=refused', jws = 'erased:q' WHERE subject = ?1",
                params![a.to_string()]
            )
            .is_err()
        );
        assert!(
            conn.execute(
                "UPDATE receipts SET jws = 'y.y.y' WHERE subject = ?1",
                params![a.to_string()]
            )
            .is_err()
        );
        assert!(conn.execute("DELETE FROM receipts", []).is_err());
        store.close();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn has_receipts_is_an_indexed_lookup() {
        let path = temp_db("has-receipts");
        let store = SqliteStore::open(&path).unwrap();
        let device = SubjectRef::Device(SubjectId([4; 16]));
        assert!(!store.has_receipts(device).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws)
                 VALUES ('01977420-dc7b-7a5a-9a5a-5a5a5a5a5a5a', ?1, 1, '2025-03-26', 'custom', 'k', 'a=given', 2, 'subject', 'x')",
                params![device.to_string()],
            )
            .unwrap();
        assert!(store.has_receipts(device).unwrap());
        // The same bits as a person, and another device: none.
        assert!(
            !store
                .has_receipts(SubjectRef::Subject(SubjectId([4; 16])))
                .unwrap()
        );
        assert!(
            !store
                .has_receipts(SubjectRef::Device(SubjectId([5; 16])))
                .unwrap()
        );
        let conn = Connection::open(&path).unwrap();
        let mut st = conn
            .prepare("EXPLAIN QUERY PLAN SELECT EXISTS (SELECT 1 FROM receipts WHERE subject = ?1)")
            .unwrap();
        let plan: Vec<String> = st
            .query_map(params![device.to_string()], |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let plan = plan.join("; ");
        assert!(
            plan.contains("USING COVERING INDEX receipts_subject"),
            "{plan}"
        );
        store.close();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn rows_that_do_not_parse_are_corrupt_not_passed_on() {
        let path = temp_db("corrupt");
        let store = SqliteStore::open(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws)
                 VALUES ('not-a-uuid', 'someone@example.org', 1, '2025-03-26', 'custom', 'k', 'a=given', 2, 'subject', 'x')",
                [],
            )
            .unwrap();
        let e = store
            .export(&ExportQuery::default(), &mut |_| true)
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
        // The engine's own errors come out as Backend, with the engine's error as source.
        let garbage = path.with_file_name("garbage.db");
        std::fs::write(&garbage, [7u8; 4096]).unwrap();
        let e = SqliteStore::open(&garbage).err().unwrap();
        assert!(matches!(e, StoreError::Backend(_)), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        store.close();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
