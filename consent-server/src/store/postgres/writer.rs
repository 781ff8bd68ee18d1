//! The writer task: group commit on PostgreSQL. It takes the first queued write, drains what else is
//! queued (up to [`MAX_BATCH`]), commits them in one transaction, then answers them all; while writes
//! fail and no client writes, it commits a probe once a second so that recovery is noticed without
//! traffic.
//!
//! A batch of receipts only (the common case) is one transaction of a few statements, prepared once per
//! connection and sent together where none waits for another
//! ([`write_receipt_batch`](super::fast_path::write_receipt_batch), issue 19.7): `BEGIN` with the lock
//! of `log_head` (its numbers and the log's tree), insert every row from arrays (`UNNEST … WITH
//! ORDINALITY`) with their `seq` and `log_index` (and mark their subjects live), store the tiles the
//! batch's leaves grew, set the head, write the batch's webhook deliveries if any (each receipt of a
//! subject seen before cancelling its pending expiries first), commit (sent with the tiles' write and
//! the head's update when the batch has nothing else: three round trips a batch). Anything else (rights
//! requests, checkpoints, pseudonym links, policy versions, a receipt that makes a data key or opens a
//! case (issue 20), receipts with deliveries that share a subject, or a receipt batch whose insert
//! failed) takes the general path: one transaction that locks `log_head` first, applies each write in
//! its own savepoint (one failing write does not undo the others and gives its numbers back), grows the
//! tree, sets the head and commits. Either way the numbers and log indexes of a batch are taken under the row
//! lock of `log_head`, held to `COMMIT`: committed rows are numbered without gaps, in commit order,
//! across every instance, and the stored tree is always the tree of the committed entries.
//!
//! A receipt with an idempotency key (issue 18.7) stores the key in its transaction. A batch of receipts
//! whose keys are all new (the common case) stays on the fast path: after the receipts, the expired keys
//! are deleted, a check finds none of the keys stored, and the keys are inserted.
//! A batch in which a key is seen again (a repeat, or twice in the batch) takes the general path, where
//! each keyed receipt looks its key up first and a repeat writes nothing ([`Written::Repeat`]). Keys are
//! only touched under the lock of `log_head`, taken first on every path: one order of locks across
//! instances (no deadlock), and no other instance between the look-up and the insert.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{Client, GenericClient, Pool};
use tokio::sync::mpsc;

use consent_core::tlog::Hash;

use super::fast_path::{BatchStatements, insert_receipts};
use super::fault::Pg as _;
use super::log;
use super::webhooks;
use crate::store::batch::{Job, WriterStats, answer};
use crate::store::columns;
use crate::store::health::Throttle;
use consent_core::ReceiptId;

use crate::store::{
    CaseId, LogIndex, NewCase, NewReceipt, Rights, StorageHealth, StoreError, Write, Written,
};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;

/// While writes fail, a probe this often when no client writes.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// What the writer task owns besides the pool.
pub(super) struct Writer {
    pub(super) stats: Arc<WriterStats>,
    pub(super) health: Arc<StorageHealth>,
    /// Probe failures that are not outages (rare): logged at most once per minute.
    pub(super) probe_errors: Throttle,
}

/// Until the queue is closed (and drained): batches, and probes while writes fail.
pub(super) async fn writer_loop(pool: Pool, mut rx: mpsc::Receiver<Job>, mut w: Writer) {
    loop {
        let first = match tokio::time::timeout(PROBE_EVERY, rx.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => break,
            Err(_) => {
                if w.health.failing() {
                    probe(&pool, &mut w).await;
                }
                continue;
            }
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let results = commit_batch(&pool, &jobs).await;
        answer(jobs, results, started, &w.stats, &w.health);
    }
    tracing::info!("postgres writer stopped");
}

/// A write committed like a batch (one row of `probe` rewritten): does the database take writes?
async fn probe(pool: &Pool, w: &mut Writer) {
    let done = async {
        let client = pool.get().await.pg()?;
        client
            .execute(
                "INSERT INTO probe (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = probe.n + 1",
                &[],
            )
            .await
            .pg()
    }
    .await;
    match done {
        Ok(_) => w.health.write_succeeded(),
        Err(StoreError::Unavailable { outage, source }) => {
            let error = source.map_or_else(|| outage.to_string(), |e| e.to_string());
            w.health.write_failed(outage, &error, 0);
        }
        Err(e) => {
            if let Some(more) = w.probe_errors.hit(Instant::now(), Duration::from_secs(60)) {
                tracing::warn!(error = %e, not_logged = more, "storage probe failed");
            }
        }
    }
}

/// Commits `jobs` in one transaction; per-write results once committed.
async fn commit_batch(
    pool: &Pool,
    jobs: &[Job],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut client = pool.get().await.pg()?;
    let receipts: Option<Vec<&NewReceipt>> = jobs
        .iter()
        .map(|(w, _)| match w {
            Write::Receipt(r) if r.new_data_key().is_none() && r.case().is_none() => Some(&**r),
            _ => None,
        })
        .collect();
    if let Some(receipts) = receipts {
        match insert_receipts(&client, &receipts).await {
            Ok(Some(first)) => {
                return Ok((first..)
                    .take(jobs.len())
                    .map(|i| Ok(Written::Logged(LogIndex(i))))
                    .collect());
            }
            // A key seen before: each receipt on its own, a repeat answered with the first receipt.
            Ok(None) => {}
            Err(e @ StoreError::Unavailable { .. }) => return Err(e),
            // One of them cannot be stored (a constraint): store the others, each on its own.
            Err(e) => tracing::debug!(error = %e, "batch insert failed; writing one by one"),
        }
    }
    general(&mut client, jobs).await
}

/// The general path: one transaction, `log_head` locked first (when the batch numbers rows), each write
/// in its own savepoint, in queue order.
async fn general(
    client: &mut Client,
    jobs: &[Job],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut tx = client.transaction().await.pg()?;
    // Every write but a link or a policy takes the lock, so that writes touching the same subjects'
    // rows (keys, live subjects) lock them in one order across instances.
    let numbered = jobs.iter().any(|(w, _)| {
        !matches!(
            w,
            Write::Link { .. }
                | Write::Policy { .. }
                | Write::ClaimDeliveries { .. }
                | Write::DeliveryAttempt { .. }
                | Write::RetryDeliveries { .. }
        )
    });
    let mut head = Head::default();
    let statements = BatchStatements::cached(&tx).await?;
    if numbered {
        let heads = log::head_by(&*tx, &statements.head).await?;
        head = Head {
            receipts: heads.receipts,
            events: heads.events,
            tree: Some(heads.log),
            leaves: Vec::new(),
        };
    }
    let mut results = Vec::with_capacity(jobs.len());
    for (write, _) in jobs {
        let sp = tx.savepoint("write").await.pg()?;
        let mark = (head.receipts, head.events, head.leaves.len());
        match apply(&sp, write, &mut head).await {
            Ok(w) => {
                sp.commit().await.pg()?;
                results.push(Ok(w));
            }
            // The connection or the server failed: the whole batch fails, nothing is acknowledged.
            Err(e @ StoreError::Unavailable { .. }) => return Err(e),
            Err(e) => {
                sp.rollback().await.pg()?;
                (head.receipts, head.events) = (mark.0, mark.1);
                head.leaves.truncate(mark.2);
                results.push(Err(e));
            }
        }
    }
    if let Some(tree) = head.tree {
        let mut tree = tree;
        if !head.leaves.is_empty() {
            let reader = log::prefetch_by(&*tx, &statements.read_tiles, tree.size).await?;
            let grown = log::grow(tree, &head.leaves, &reader)?;
            log::write_tiles_by(&*tx, &statements.write_tiles, &grown).await?;
            tree = grown.head();
        }
        log::set_head_by(&*tx, &statements.set_head, head.receipts, head.events, tree).await?;
    }
    tx.commit().await.pg()?;
    Ok(results)
}

/// The last numbers given and the leaves logged so far, under the lock of `log_head`.
#[derive(Default)]
struct Head {
    receipts: i64,
    events: i64,
    /// The tree as the batch found it (`None`: `log_head` not locked).
    tree: Option<crate::store::LogHead>,
    leaves: Vec<Hash>,
}

impl Head {
    /// Gives `entry` the next log index.
    fn log(&mut self, entry: &str) -> Result<LogIndex, StoreError> {
        let tree = self.tree()?;
        self.leaves.push(Hash::leaf(entry.as_bytes()));
        Ok(LogIndex(tree.size + self.leaves.len() as u64 - 1))
    }

    fn tree(&self) -> Result<crate::store::LogHead, StoreError> {
        self.tree
            .ok_or_else(|| StoreError::Corrupt("log_head is not locked".into()))
    }
}

/// Applies one write; a number is taken only by a write that succeeds.
async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    write: &Write,
    head: &mut Head,
) -> Result<Written, StoreError> {
    match write {
        Write::Receipt(r) => {
            if let Some(k) = r.idempotency() {
                // Keys are kept a bounded time: the expired ones go first (indexed, cheap).
                tx.execute(
                    "DELETE FROM idempotency WHERE expires_at <= $1",
                    &[&r.issued_at().as_unix()],
                )
                .await
                .pg()?;
                let first = tx
                    .query_opt(
                        "SELECT body, receipt::text FROM idempotency WHERE key = $1",
                        &[&&k.key[..]],
                    )
                    .await
                    .pg()?;
                if let Some(row) = first {
                    let (body, receipt): (Vec<u8>, String) = (row.get(0), row.get(1));
                    return Ok(Written::Repeat {
                        receipt: receipt.parse().map_err(|_| {
                            StoreError::Corrupt(format!("idempotency: receipt id {receipt}"))
                        })?,
                        same_body: body == k.body,
                    });
                }
            }
            let seq = head.receipts + 1;
            let subject = r.subject().to_string();
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO receipts (seq, id, subject, issued_at, policy_version, method, kid, \
                     browser, decisions, expires_at, actor, jws, log_index) \
                     VALUES ($1, $2::text::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .await
                .pg()?;
            let index = head.log(r.jws())?;
            tx.execute(
                &stmt,
                &[
                    &seq,
                    &r.id().to_string(),
                    &subject,
                    &r.issued_at().as_unix(),
                    &r.policy_version().to_string(),
                    &r.method().as_str(),
                    &r.kid(),
                    &r.browser(),
                    &columns::decisions_text(r.decisions()),
                    &r.expires_at().as_unix(),
                    &r.by().to_string(),
                    &r.jws(),
                    &i64::try_from(index.0).unwrap_or(i64::MAX),
                ],
            )
            .await
            .pg()?;
            if let Some(key) = r.new_data_key() {
                // Under the lock of log_head no other instance adds a key meanwhile; the conflict
                // clause still answers rather than fails if one did.
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO data_keys (subject, key, created_seq) VALUES ($1, $2, $3) \
                         ON CONFLICT (subject) DO NOTHING",
                    )
                    .await
                    .pg()?;
                let key: &[u8] = &key.expose_secret()[..];
                if tx.execute(&stmt, &[&subject, &key, &seq]).await.pg()? == 0 {
                    return Err(StoreError::DataKeyExists);
                }
            }
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO subjects (subject, live) VALUES ($1, true) \
                     ON CONFLICT (subject) DO UPDATE SET live = true WHERE NOT subjects.live",
                )
                .await
                .pg()?;
            tx.execute(&stmt, &[&subject]).await.pg()?;
            let case = match r.case() {
                Some(case) => Some(insert_case(tx, &subject, case, Some(r.id())).await?),
                None => None,
            };
            let decided: Vec<String> = r.decisions().keys().map(ToString::to_string).collect();
            webhooks::insert(
                tx,
                &subject,
                r.deliveries(),
                case.map(case_row),
                Some(&decided),
                r.issued_at(),
            )
            .await?;
            if let Some(k) = r.idempotency() {
                tx.execute(
                    "INSERT INTO idempotency (key, body, receipt, expires_at) \
                     VALUES ($1, $2, $3::text::uuid, $4)",
                    &[
                        &&k.key[..],
                        &&k.body[..],
                        &r.id().to_string(),
                        &k.expires_at.as_unix(),
                    ],
                )
                .await
                .pg()?;
            }
            head.receipts = seq;
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
            let seq = head.events + 1;
            let subject = subject.to_string();
            let index = head.log(record)?;
            tx.execute(
                "INSERT INTO events (seq, subject, at, kind, record, log_index) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &seq,
                    &subject,
                    &at.as_unix(),
                    &what.as_str(),
                    record,
                    &i64::try_from(index.0).unwrap_or(i64::MAX),
                ],
            )
            .await
            .pg()?;
            let case = insert_case(tx, &subject, case, None).await?;
            // An erasure cancels the expiries still to come: nothing of the subject is left to lapse.
            let decided: Option<&[String]> = (*what != Rights::Erase).then_some(&[]);
            webhooks::insert(tx, &subject, deliveries, Some(case_row(case)), decided, *at).await?;
            if *what == Rights::Erase {
                // The person can no longer be found from their external id, and the names in their
                // receipts can no longer be read: the data key is deleted (the table's trigger allows it
                // now that the erasure is recorded; VACUUM reclaims the row, README "Backups and
                // erasure"). Receipts stay, except version 1 ones naming a person in clear, which are
                // redacted.
                for sql in [
                    "DELETE FROM subject_links WHERE subject = $1",
                    "DELETE FROM data_keys WHERE subject = $1",
                    "UPDATE subjects SET live = false WHERE subject = $1 AND live",
                ] {
                    tx.execute(sql, &[&subject]).await.pg()?;
                }
                for (id, redacted) in redact {
                    tx.execute(
                        "UPDATE receipts SET jws = $1 WHERE id = $2::text::uuid AND subject = $3",
                        &[redacted, &id.to_string(), &subject],
                    )
                    .await
                    .pg()?;
                }
                // Nor from the hashes of their requests' bodies.
                tx.execute(
                    "DELETE FROM idempotency WHERE receipt IN \
                     (SELECT id FROM receipts WHERE subject = $1)",
                    &[&subject],
                )
                .await
                .pg()?;
            }
            head.events = seq;
            Ok(Written::Logged(index))
        }
        Write::Checkpoint { size, root, note } => {
            log::store_checkpoint(&**tx, head.tree()?, *size, root, note).await?;
            Ok(Written::Done)
        }
        Write::Cosignature { size, line } => {
            log::store_cosignature(&**tx, *size, line).await?;
            Ok(Written::Done)
        }
        Write::Access { subject, case } => {
            let id = insert_case(tx, &subject.to_string(), case, None).await?;
            Ok(Written::Case(id))
        }
        Write::CloseCase { id, at, by } => {
            let n = tx
                .execute(
                    "UPDATE cases SET closed_at = $1, closed_by = $2 WHERE id = $3 AND closed_at IS NULL",
                    &[&at.as_unix(), by, &i64::try_from(id.0).unwrap_or(i64::MAX)],
                )
                .await
                .pg()?;
            if n == 0 {
                return Err(StoreError::NoOpenCase(*id));
            }
            Ok(Written::Done)
        }
        Write::ClaimDeliveries { .. }
        | Write::DeliveryAttempt { .. }
        | Write::RetryDeliveries { .. } => webhooks::write(tx, write).await,
        Write::Link {
            lookup,
            new_subject,
        } => {
            let lookup = &lookup.as_bytes()[..];
            let find = "SELECT subject FROM subject_links WHERE lookup = $1";
            if let Some(row) = tx.query_opt(find, &[&lookup]).await.pg()? {
                return Ok(Written::Subject(columns::subject(row.get(0))?));
            }
            // Another instance may link the same id at the same moment: the first to commit wins, and
            // this one reads its pseudonym.
            let inserted = tx
                .query_opt(
                    "INSERT INTO subject_links (lookup, subject) VALUES ($1, $2) \
                     ON CONFLICT (lookup) DO NOTHING RETURNING subject",
                    &[&lookup, &new_subject.to_string()],
                )
                .await
                .pg()?;
            let row = match inserted {
                Some(row) => row,
                None => tx.query_one(find, &[&lookup]).await.pg()?,
            };
            Ok(Written::Subject(columns::subject(row.get(0))?))
        }
        Write::Policy {
            version,
            sha256,
            canonical,
        } => {
            let (v, sha256) = (version.to_string(), sha256.to_string());
            let find = "SELECT sha256 FROM policies WHERE version = $1";
            let mut stored: Option<String> =
                tx.query_opt(find, &[&v]).await.pg()?.map(|r| r.get(0));
            if stored.is_none() {
                let inserted = tx
                    .execute(
                        "INSERT INTO policies (version, sha256, canonical) VALUES ($1, $2, $3) \
                         ON CONFLICT (version) DO NOTHING",
                        &[&v, &sha256, canonical],
                    )
                    .await
                    .pg()?;
                if inserted == 1 {
                    return Ok(Written::Done);
                }
                // Another instance stored it first.
                stored = Some(tx.query_one(find, &[&v]).await.pg()?.get(0));
            }
            match stored {
                Some(h) if h == sha256 => Ok(Written::Done),
                _ => Err(StoreError::PolicyChanged(*version)),
            }
        }
    }
}

/// Opens `case` for `subject` (closed at once if its write completes it); its number.
async fn insert_case(
    tx: &deadpool_postgres::Transaction<'_>,
    subject: &str,
    case: &NewCase,
    receipt: Option<ReceiptId>,
) -> Result<CaseId, StoreError> {
    let received = case.received_at.as_unix();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO cases (kind, subject, received_at, due_at, handled_by, receipt_id, closed_at, \
             closed_by) VALUES ($1, $2, $3, $4, $5, $6::text::uuid, $7, $8) RETURNING id",
        )
        .await
        .pg()?;
    let id: i64 = tx
        .query_one(
            &stmt,
            &[
                &case.kind.as_str(),
                &subject,
                &received,
                &case.due_at.map(|t| t.as_unix()),
                &case.handled_by,
                &receipt.map(|r| r.to_string()),
                &case.done.then_some(received),
                &case.done.then_some(case.handled_by.as_str()),
            ],
        )
        .await
        .pg()?
        .try_get(0)
        .pg()?;
    Ok(CaseId(u64::try_from(id).unwrap_or(0)))
}

/// A case's number as its column.
fn case_row(id: CaseId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}
