//! PostgreSQL store: tokio-postgres with a deadpool pool, one writer task per instance with group
//! commit, several instances on one database.
//!
//! - `settings`: the `postgres://` URL, TLS through rustls, the pool's size;
//! - `schema`: the migrations (`schema_migrations`, an advisory lock) and the durability checks;
//! - `writer`: the writer task (group commit, one order of receipts across instances, the probe);
//! - `fault`: SQLSTATEs and pool errors as engine-neutral outages;
//! - `rows`: receipts and cases read back from their rows;
//! - `log`: the consent log's entries, tiles, head and checkpoints;
//! - `import`, `import_log`, `import_rights`: what `migrate --to` writes (idempotent copies from
//!   SQLite: rows; the log's tree and checkpoints; cases, webhook deliveries, idempotency keys);
//! - `served`: the guard between them and the instances (a copy is refused once a server started).
//!
//! The [`Store`] trait's reads are blocking calls (the handlers run them on blocking threads, as
//! SQLite's). The store runs the driver on a small runtime of its own: a read is spawned there and its
//! caller waits for the answer, so a read works from any thread (a blocking thread of the server's
//! runtime, the CLI's main thread) and never needs the caller's runtime to drive its connection.

mod fast_path;
mod fault;
mod import;
mod import_log;
mod import_rights;
mod log;
mod rows;
mod schema;
mod served;
mod settings;
mod webhooks;
mod writer;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consent_core::tlog::Tile;
use consent_core::{DataKey, Event, ReceiptId};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::IsolationLevel;

pub use fast_path::{
    BatchStatements, Finish, INSERT_RECEIPTS, ReceiptColumns, write_receipt_batch,
};
pub use import::ImportedEvent;
pub use schema::MIGRATIONS;
pub use settings::{DEFAULT_POOL_MAX_SIZE, PostgresUrl, TlsMode, is_postgres_url};

use self::fault::Pg as _;
use self::rows::{CASE_COLUMNS, RECEIPT_COLUMNS, case, stored_receipt};
use self::writer::{Writer, writer_loop};
use crate::privacy::{SubjectLookup, SubjectRef};
use crate::store::batch::{Job, WriterStats};
use crate::store::columns::{self, EventRow, events_from_row};
use crate::store::{
    Case, CaseQuery, Delivery, DeliveryCount, DeliveryQuery, ExportQuery, LiveSubjects, LogHead,
    Seq, StorageHealth, Store, StoreError, StoreOptions, StoredReceipt, Write, Written,
};

/// Writes waiting beyond this are refused with [`StoreError::Busy`].
const QUEUE: usize = 16 * 1024;

/// How long a request waits for a connection of the pool, or for a new connection to be made.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows fetched at a time by an export.
const EXPORT_CHUNK: i32 = 1000;

/// The store's own runtime, shut down without waiting (a runtime dropped inside another's async context
/// would panic).
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    url: PostgresUrl,
    handle: tokio::runtime::Handle,
    runtime: Mutex<OwnRuntime>,
    pool: Pool,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stats: Arc<WriterStats>,
    health: Arc<StorageHealth>,
}

/// Runs `fut` on `handle` and waits for it from any thread.
fn run<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    // The runtime was shut down (the store is closed) before the task ran or finished.
    rx.recv().unwrap_or(Err(StoreError::Closed))
}

impl PgStore {
    /// Connects to the database `url` names, checks that its commits are durable, applies the
    /// migrations (once, whatever the number of instances starting) and starts the writer.
    /// `options.min_free_bytes` does not apply: the database's server watches its own disk. A database
    /// holding a copy from SQLite that has not finished (`migrate --to` stopped before its end) is
    /// refused: run the copy again to its end first. The first open records that the database has been
    /// served: `migrate --to` refuses it from then on ([`StoreError::TargetServed`]).
    pub fn open(url: &PostgresUrl, options: StoreOptions) -> Result<PgStore, StoreError> {
        PgStore::open_with(url, options, true)
    }

    /// As [`PgStore::open`], for `migrate --to`: leaves the log's tree alone, which the copy rebuilds
    /// from the leaf hashes the source logged at commit (a tree built here from the stored entries
    /// would hash a redacted receipt's redacted form instead). Records nothing: the copy checks whether
    /// the database has been served before it writes ([`PgStore::begin_import`]).
    pub fn open_for_copy(url: &PostgresUrl, options: StoreOptions) -> Result<PgStore, StoreError> {
        PgStore::open_with(url, options, false)
    }

    fn open_with(
        url: &PostgresUrl,
        options: StoreOptions,
        catch_up: bool,
    ) -> Result<PgStore, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let handle = runtime.handle().clone();
        let runtime = OwnRuntime(Some(runtime));
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(
            url.tls_config()
                .map_err(|e| StoreError::Backend(e.into()))?,
        );
        let manager = Manager::from_config(
            url.driver_config(),
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(url.pool_max_size())
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let setup = pool.clone();
        run(&handle, async move {
            let mut client = setup.get().await.pg()?;
            schema::check_durability(&client).await?;
            schema::migrate(&mut client).await?;
            if catch_up {
                log::catch_up(&mut client).await?;
                served::mark(&mut client).await?;
            }
            Ok(())
        })?;
        // No floor: the database's disk is its server's.
        let health = Arc::new(StorageHealth::new(0, options.log_interval));
        let stats = Arc::new(WriterStats::default());
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let w = Writer {
            stats: Arc::clone(&stats),
            health: Arc::clone(&health),
            probe_errors: Default::default(),
        };
        let writer = handle.spawn(writer_loop(pool.clone(), rx, w));
        Ok(PgStore {
            url: url.clone(),
            handle,
            runtime: Mutex::new(runtime),
            pool,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            stats,
            health,
        })
    }

    /// The database, without its password.
    pub fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// Writer counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Runs a read on the store's runtime with a connection of the pool; a failure the storage caused
    /// is told to the health (logged once per interval).
    fn read<T: Send + 'static, F>(
        &self,
        f: impl FnOnce(deadpool_postgres::Object) -> F + Send + 'static,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>> + Send,
    {
        let pool = self.pool.clone();
        let out = run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            f(client).await
        });
        if let Err(e @ StoreError::Unavailable { outage, .. }) = &out {
            self.health.read_failed(*outage, e);
        }
        out
    }
}

impl Store for PgStore {
    fn submit(
        &self,
        write: Write,
    ) -> Result<oneshot::Receiver<Result<Written, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        let guard = self.tx.lock().map_err(|_| StoreError::Closed)?;
        let tx = guard.as_ref().ok_or(StoreError::Closed)?;
        match tx.try_send((write, reply)) {
            Ok(()) => Ok(rx),
            Err(mpsc::error::TrySendError::Full(_)) => Err(StoreError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(StoreError::Closed),
        }
    }

    fn receipt(&self, id: ReceiptId) -> Result<Option<StoredReceipt>, StoreError> {
        let id = id.to_string();
        self.read(move |c| async move {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE id = $1::text::uuid"
                ))
                .await
                .pg()?;
            c.query_opt(&stmt, &[&id])
                .await
                .pg()?
                .as_ref()
                .map(stored_receipt)
                .transpose()
        })
    }

    fn subject_receipts(&self, subject: SubjectRef) -> Result<Vec<StoredReceipt>, StoreError> {
        let subject = subject.to_string();
        self.read(move |c| async move {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE subject = $1 ORDER BY seq"
                ))
                .await
                .pg()?;
            c.query(&stmt, &[&subject])
                .await
                .pg()?
                .iter()
                .map(stored_receipt)
                .collect()
        })
    }

    fn has_receipts(&self, subject: SubjectRef) -> Result<bool, StoreError> {
        let subject = subject.to_string();
        self.read(move |c| async move {
            // The index receipts_subject (subject, seq) answers it.
            let stmt = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM receipts WHERE subject = $1)")
                .await
                .pg()?;
            c.query_one(&stmt, &[&subject]).await.pg()?.try_get(0).pg()
        })
    }

    fn subject_events(&self, subject: SubjectRef) -> Result<Vec<Event>, StoreError> {
        let subject = subject.to_string();
        self.read(move |c| async move {
            let mut out = Vec::new();
            // Consents come from the receipts, rights requests from events; the fold does not need
            // them interleaved in time order.
            let stmt = c
                .prepare_cached(
                    "SELECT issued_at, decisions, policy_version, method, expires_at, actor \
                     FROM receipts WHERE subject = $1 ORDER BY seq",
                )
                .await
                .pg()?;
            for r in c.query(&stmt, &[&subject]).await.pg()? {
                let row = EventRow {
                    at: r.try_get(0).pg()?,
                    kind: "consent".into(),
                    decisions: r.try_get(1).pg()?,
                    version: r.try_get(2).pg()?,
                    method: r.try_get(3).pg()?,
                    expires_at: r.try_get(4).pg()?,
                    actor: r.try_get(5).pg()?,
                };
                events_from_row(row, &mut out)?;
            }
            let stmt = c
                .prepare_cached("SELECT at, kind FROM events WHERE subject = $1 ORDER BY seq")
                .await
                .pg()?;
            for r in c.query(&stmt, &[&subject]).await.pg()? {
                let row = EventRow {
                    at: r.try_get(0).pg()?,
                    kind: r.try_get(1).pg()?,
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
        let from = q.from.map_or(i64::MIN, |t| t.as_unix());
        let to = q.to.map_or(i64::MAX, |t| t.as_unix());
        let after = q.after_seq.map_or(0, |s| as_i64(s.0));
        let limit = q.limit.map_or(i64::MAX, as_i64);
        let subject = q.subject.map(|s| s.to_string());
        // Rows come in chunks through a small channel, read in one snapshot (a long export sees the
        // receipts committed when it started); the caller's `each` runs on the caller's thread.
        let (tx, mut rx) = mpsc::channel::<Result<Vec<StoredReceipt>, StoreError>>(2);
        let pool = self.pool.clone();
        self.handle.spawn(async move {
            let done = async {
                let mut client = pool.get().await.pg()?;
                let t = client
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await
                    .pg()?;
                let base = format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE issued_at >= $1 AND issued_at < $2 \
                     AND seq > $3"
                );
                let portal = match &subject {
                    Some(s) => {
                        let stmt = t
                            .prepare_cached(&format!(
                                "{base} AND subject = $5 ORDER BY seq LIMIT $4"
                            ))
                            .await
                            .pg()?;
                        t.bind(&stmt, &[&from, &to, &after, &limit, s]).await.pg()?
                    }
                    None => {
                        let stmt = t
                            .prepare_cached(&format!("{base} ORDER BY seq LIMIT $4"))
                            .await
                            .pg()?;
                        t.bind(&stmt, &[&from, &to, &after, &limit]).await.pg()?
                    }
                };
                loop {
                    let rows = t.query_portal(&portal, EXPORT_CHUNK).await.pg()?;
                    if rows.is_empty() {
                        return Ok(());
                    }
                    let chunk = rows.iter().map(stored_receipt).collect::<Result<_, _>>()?;
                    if tx.send(Ok(chunk)).await.is_err() {
                        return Ok(()); // the caller stopped reading
                    }
                }
            };
            if let Err(e) = done.await {
                let _ = tx.send(Err(e)).await;
            }
        });
        let mut n = 0;
        while let Some(chunk) = rx.blocking_recv() {
            let chunk = chunk.inspect_err(|e| {
                if let StoreError::Unavailable { outage, .. } = e {
                    self.health.read_failed(*outage, e);
                }
            })?;
            for r in chunk {
                n += 1;
                if !each(r) {
                    return Ok(n);
                }
            }
        }
        Ok(n)
    }

    fn lookup_subject(&self, lookup: &SubjectLookup) -> Result<Option<SubjectRef>, StoreError> {
        let lookup = lookup.as_bytes().to_vec();
        self.read(move |c| async move {
            let stmt = c
                .prepare_cached("SELECT subject FROM subject_links WHERE lookup = $1")
                .await
                .pg()?;
            match c.query_opt(&stmt, &[&lookup]).await.pg()? {
                Some(r) => Ok(Some(columns::subject(r.try_get(0).pg()?)?)),
                None => Ok(None),
            }
        })
    }

    fn receipt_count(&self) -> Result<u64, StoreError> {
        self.read(|c| async move {
            let n: i64 = c
                .query_one("SELECT receipts FROM log_head WHERE id = 1", &[])
                .await
                .pg()?
                .try_get(0)
                .pg()?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn log_head(&self) -> Result<LogHead, StoreError> {
        self.read(|c| async move { Ok(log::head(&**c, false).await?.log) })
    }

    fn log_tiles(&self, tiles: &[Tile]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let tiles = tiles.to_vec();
        self.read(|c| async move { log::read_tiles(&**c, &tiles).await })
    }

    fn log_entries(&self, first: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(move |c| async move { log::entries(&**c, first, count).await })
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.read(|c| async move { log::latest_checkpoint(&**c).await })
    }

    fn data_key(&self, subject: SubjectRef) -> Result<Option<(DataKey, Seq)>, StoreError> {
        let name = subject.to_string();
        self.read(move |c| async move {
            let stmt = c
                .prepare_cached("SELECT key, created_seq FROM data_keys WHERE subject = $1")
                .await
                .pg()?;
            let Some(row) = c.query_opt(&stmt, &[&name]).await.pg()? else {
                return Ok(None);
            };
            let key: Vec<u8> = row.try_get(0).pg()?;
            let seq: i64 = row.try_get(1).pg()?;
            let key: [u8; 32] = key
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("data key of {subject}")))?;
            Ok(Some((
                DataKey::from_bytes(key),
                Seq(u64::try_from(seq).unwrap_or(0)),
            )))
        })
    }

    fn cases(&self, q: &CaseQuery) -> Result<Vec<Case>, StoreError> {
        let open_only = q.open_only;
        let subject = q.subject.map(|s| s.to_string());
        let limit = q
            .limit
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        self.read(move |c| async move {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {CASE_COLUMNS} FROM cases \
                     WHERE (NOT $1 OR closed_at IS NULL) AND ($2::text IS NULL OR subject = $2) \
                     ORDER BY id LIMIT $3"
                ))
                .await
                .pg()?;
            c.query(&stmt, &[&open_only, &subject, &limit])
                .await
                .pg()?
                .iter()
                .map(case)
                .collect()
        })
    }

    fn live_subjects(&self) -> Result<LiveSubjects, StoreError> {
        self.read(|c| async move {
            // By prefix, not by range: a locale's collation may ignore the punctuation.
            let stmt = c
                .prepare_cached(
                    "SELECT COUNT(*) FILTER (WHERE starts_with(subject, 'sub:')), \
                            COUNT(*) FILTER (WHERE starts_with(subject, 'dev:')) \
                     FROM subjects WHERE live",
                )
                .await
                .pg()?;
            let row = c.query_one(&stmt, &[]).await.pg()?;
            let n = |i: usize| -> Result<u64, StoreError> {
                Ok(u64::try_from(row.try_get::<_, i64>(i).pg()?).unwrap_or(0))
            };
            Ok(LiveSubjects {
                persons: n(0)?,
                devices: n(1)?,
            })
        })
    }

    fn last_receipt(&self) -> Result<Option<StoredReceipt>, StoreError> {
        self.read(|c| async move {
            c.query_opt(
                &format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE NOT starts_with(jws, 'erased:') \
                     ORDER BY seq DESC LIMIT 1"
                ),
                &[],
            )
            .await
            .pg()?
            .as_ref()
            .map(stored_receipt)
            .transpose()
        })
    }

    fn deliveries(&self, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        let q = *q;
        self.read(move |c| async move { webhooks::list(&c, &q).await })
    }

    fn delivery_counts(&self, now_ms: i64) -> Result<Vec<DeliveryCount>, StoreError> {
        self.read(move |c| async move { webhooks::counts(&c, now_ms).await })
    }

    fn deliveries_due(&self, now_ms: i64) -> Result<bool, StoreError> {
        self.read(move |c| async move { webhooks::due(&c, now_ms).await })
    }

    fn metrics(&self) -> String {
        let status = self.pool.status();
        format!(
            "{}# HELP consent_store_pool_connections Connections of this instance's pool to PostgreSQL.\n\
             # TYPE consent_store_pool_connections gauge\nconsent_store_pool_connections {}\n\
             # HELP consent_store_pool_idle Idle connections of the pool.\n\
             # TYPE consent_store_pool_idle gauge\nconsent_store_pool_idle {}\n",
            self.stats.prometheus(),
            status.size,
            status.available,
        )
    }

    fn ready(&self) -> Result<(), StoreError> {
        if !self.tx.lock().map(|t| t.is_some()).unwrap_or(false) {
            return Err(StoreError::Closed);
        }
        if let Some(outage) = self.health.outage() {
            return Err(StoreError::unavailable(outage));
        }
        self.read(|c| async move { c.simple_query("SELECT 1").await.pg().map(|_| ()) })
    }

    fn health(&self) -> &StorageHealth {
        &self.health
    }

    fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        // The writer commits what is queued, then stops.
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = writer {
            let _ = run(&self.handle, async move {
                w.await.map_err(|e| StoreError::Backend(Box::new(e)))
            });
        }
        self.pool.close();
        if let Ok(mut rt) = self.runtime.lock()
            && let Some(rt) = rt.0.take()
        {
            rt.shutdown_background();
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.close();
    }
}
