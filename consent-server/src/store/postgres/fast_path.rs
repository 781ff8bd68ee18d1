//! The writer's fast path on PostgreSQL (issue 19.7): a batch of receipts only, in one transaction of a
//! few statements, prepared once per connection and pipelined ([`write_receipt_batch`], with the
//! webhook deliveries and idempotency keys of [`insert_receipts`]). The writer (`writer.rs`) takes the
//! general path when this one declines a batch.

use deadpool_postgres::{Client, GenericClient};

use consent_core::tlog::Hash;

use super::fault::Pg as _;
use super::log;
use super::webhooks;
use crate::store::columns;
use crate::store::{NewReceipt, StoreError};

/// The receipts' insert of a batch on the fast path, inside the transaction that locked `log_head`,
/// their subjects marked live: `$1` the last `seq` given, `$2` the first log index, `$3`…`$13` arrays of
/// the columns, in the order of the `INSERT` ([`ReceiptColumns`]). Only for receipts that create no data
/// key and open no case.
pub const INSERT_RECEIPTS: &str = "
WITH r AS (
    SELECT * FROM UNNEST($3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::text[], $11::int8[], $12::text[], $13::text[])
         WITH ORDINALITY AS r(id, subject, issued_at, policy_version, method, kid, browser, decisions,
                              expires_at, actor, jws, n)
),
live AS (
    INSERT INTO subjects (subject, live)
    SELECT DISTINCT r.subject, true FROM r ORDER BY 1
    ON CONFLICT (subject) DO UPDATE SET live = true WHERE NOT subjects.live
)
INSERT INTO receipts (seq, id, subject, issued_at, policy_version, method, kid, browser, decisions,
                      expires_at, actor, jws, log_index)
SELECT $1 + r.n, r.id::uuid, r.subject, r.issued_at, r.policy_version, r.method, r.kid,
       r.browser, r.decisions, r.expires_at, r.actor, r.jws, $2 + r.n - 1
FROM r";

/// A batch of receipts as the arrays [`INSERT_RECEIPTS`] takes, in its order.
#[derive(Debug, Default)]
pub struct ReceiptColumns<'a> {
    /// Receipt ids (UUID text).
    pub id: Vec<String>,
    /// Subjects (`sub:…`, `dev:…`).
    pub subject: Vec<String>,
    /// Unix seconds.
    pub issued_at: Vec<i64>,
    /// Policy versions.
    pub policy_version: Vec<String>,
    /// Methods.
    pub method: Vec<&'a str>,
    /// Key ids.
    pub kid: Vec<&'a str>,
    /// Browser families, if known.
    pub browser: Vec<Option<&'a str>>,
    /// Decisions as `purpose=choice;…`.
    pub decisions: Vec<String>,
    /// Unix seconds.
    pub expires_at: Vec<i64>,
    /// Who decided.
    pub actor: Vec<String>,
    /// The JWS of each receipt (the log's entries).
    pub jws: Vec<&'a str>,
}

/// The statements of a batch of receipts ([`write_receipt_batch`]): [`INSERT_RECEIPTS`] and the log's,
/// prepared once per connection, so that each is one round trip (a statement given as text is two:
/// parse, then execute).
pub struct BatchStatements {
    insert: tokio_postgres::Statement,
    pub(super) head: tokio_postgres::Statement,
    pub(super) read_tiles: tokio_postgres::Statement,
    pub(super) write_tiles: tokio_postgres::Statement,
    pub(super) set_head: tokio_postgres::Statement,
}

impl BatchStatements {
    /// Prepares them on the connection of `c` (the load generator's ceiling, once).
    pub async fn prepare(
        c: &impl tokio_postgres::GenericClient,
    ) -> Result<BatchStatements, StoreError> {
        Ok(BatchStatements {
            insert: c.prepare(INSERT_RECEIPTS).await.pg()?,
            head: c.prepare(log::HEAD_FOR_UPDATE).await.pg()?,
            read_tiles: c.prepare(log::READ_TILES).await.pg()?,
            write_tiles: c.prepare(log::WRITE_TILES).await.pg()?,
            set_head: c.prepare(log::SET_HEAD).await.pg()?,
        })
    }

    /// The same from the pool connection's statement cache (prepared on its first batch).
    pub(super) async fn cached(c: &impl GenericClient) -> Result<BatchStatements, StoreError> {
        Ok(BatchStatements {
            insert: c.prepare_cached(INSERT_RECEIPTS).await.pg()?,
            head: c.prepare_cached(log::HEAD_FOR_UPDATE).await.pg()?,
            read_tiles: c.prepare_cached(log::READ_TILES).await.pg()?,
            write_tiles: c.prepare_cached(log::WRITE_TILES).await.pg()?,
            set_head: c.prepare_cached(log::SET_HEAD).await.pg()?,
        })
    }
}

/// How [`write_receipt_batch`] leaves its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// `COMMIT` sent with the batch's last statements (nothing else to write in the transaction).
    Commit,
    /// Left open: the caller writes more (webhook deliveries, idempotency keys), then commits or rolls
    /// back.
    Open,
}

/// What the writer's fast path does with a batch of receipts on `client`, in a transaction of its own
/// that it begins: lock `log_head`, insert the rows with their numbers and log indexes
/// ([`INSERT_RECEIPTS`]) while the tiles the tree's growth needs are read, grow the log's tree by their
/// leaves, write its tiles while setting the head, and with [`Finish::Commit`] commit. Statements that do
/// not wait for each other are sent together (tokio-postgres pipelines them on the connection): `BEGIN`
/// with the lock of `log_head`, the insert with the read of the tiles, the tiles' write with the head's
/// update and `COMMIT`, three round trips a batch (five before, with `BEGIN` and `COMMIT` on their own).
///
/// A `COMMIT` sent behind a statement that fails is a rollback (PostgreSQL ends an aborted transaction
/// so), and that statement's error is returned: `Ok` means every statement succeeded and, with
/// [`Finish::Commit`], that the commit returned. On `Err` the transaction may still be open (aborted or
/// not): the caller sends `ROLLBACK` before it uses the connection again. Returns the first receipt's
/// log index. Public (as `postgres_write_receipt_batch`) for the load generator's ceiling, which times
/// exactly this (the cost of the consent log included).
pub async fn write_receipt_batch(
    client: &tokio_postgres::Client,
    statements: &BatchStatements,
    cols: &ReceiptColumns<'_>,
    finish: Finish,
) -> Result<u64, StoreError> {
    let n = cols.jws.len();
    // Polled in order, so sent in order: `BEGIN`, then the lock.
    let (begun, heads) = tokio::join!(
        async { client.batch_execute("BEGIN").await.pg() },
        log::head_by(client, &statements.head),
    );
    // Both must have succeeded: a lock taken outside the transaction (`BEGIN` failed) is no lock.
    begun?;
    let heads = heads?;
    let first = heads.log.size;
    let first_index = i64::try_from(first).unwrap_or(i64::MAX);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
        &heads.receipts,
        &first_index,
        &cols.id,
        &cols.subject,
        &cols.issued_at,
        &cols.policy_version,
        &cols.method,
        &cols.kid,
        &cols.browser,
        &cols.decisions,
        &cols.expires_at,
        &cols.actor,
        &cols.jws,
    ];
    let (inserted, reader) = tokio::join!(
        async { client.execute(&statements.insert, &params).await.pg() },
        log::prefetch_by(client, &statements.read_tiles, first),
    );
    let (inserted, reader) = (inserted?, reader?);
    if inserted != n as u64 {
        return Err(StoreError::Corrupt(format!(
            "{inserted} of {n} receipts inserted"
        )));
    }
    let leaves: Vec<Hash> = cols.jws.iter().map(|j| Hash::leaf(j.as_bytes())).collect();
    let grown = log::grow(heads.log, &leaves, &reader)?;
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    // Sent in order: the tiles, the head, then `COMMIT` (a rollback if either failed).
    let (tiles, head, committed) = tokio::join!(
        log::write_tiles_by(client, &statements.write_tiles, &grown),
        log::set_head_by(
            client,
            &statements.set_head,
            heads.receipts + count,
            heads.events,
            grown.head(),
        ),
        async {
            match finish {
                Finish::Commit => client.batch_execute("COMMIT").await.pg(),
                Finish::Open => Ok(()),
            }
        },
    );
    tiles?;
    head?;
    committed?;
    Ok(first)
}

/// Ends whatever transaction `client` has open (a failed batch's, aborted or not); errors are ignored:
/// a connection that cannot take a `ROLLBACK` is broken, and the pool drops broken connections.
pub(super) async fn rollback(client: &tokio_postgres::Client) {
    if let Err(e) = client.batch_execute("ROLLBACK").await {
        tracing::debug!(error = %e, "rollback of a failed batch");
    }
}

/// Stores a batch of receipts only (none makes a data key or opens a case), in one transaction:
/// [`write_receipt_batch`], their webhook deliveries if any (one statement), their idempotency keys if
/// any, the commit (sent with the batch's last statements when there is nothing else); returns the first
/// one's log index. On an error nothing is written and the transaction is rolled back. `None` (nothing written) when a key of the batch
/// is stored already or comes twice, or when receipts with deliveries share a subject: the general
/// path then answers the repeats, and writes such receipts one after the other.
pub(super) async fn insert_receipts(
    client: &Client,
    receipts: &[&NewReceipt],
) -> Result<Option<u64>, StoreError> {
    let keyed: Vec<_> = receipts
        .iter()
        .filter_map(|r| r.idempotency().map(|k| (k, r)))
        .collect();
    let key: Vec<&[u8]> = keyed.iter().map(|(k, _)| &k.key[..]).collect();
    let mut distinct = key.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != key.len() {
        return Ok(None);
    }
    // Each receipt of a subject seen before cancels its subject's expiries still to come (as on the
    // general path and on SQLite), with deliveries of its own or not: a refusal that no subscription
    // hears still cancels the expiry its earlier consent scheduled. Then the deliveries are written: one
    // statement does it for the batch when no subject comes twice (then no receipt of the batch can
    // cancel what another wrote).
    let outbox = receipts.iter().any(|r| !r.deliveries().is_empty());
    let cancels = receipts.iter().any(|r| !r.fresh_subject());
    let mut cols = ReceiptColumns::default();
    for r in receipts {
        cols.id.push(r.id().to_string());
        cols.subject.push(r.subject().to_string());
        cols.issued_at.push(r.issued_at().as_unix());
        cols.policy_version.push(r.policy_version().to_string());
        cols.method.push(r.method().as_str());
        cols.kid.push(r.kid());
        cols.browser.push(r.browser());
        cols.decisions.push(columns::decisions_text(r.decisions()));
        cols.expires_at.push(r.expires_at().as_unix());
        cols.actor.push(r.by().to_string());
        cols.jws.push(r.jws());
    }
    if outbox {
        let mut subjects: Vec<&str> = cols.subject.iter().map(String::as_str).collect();
        subjects.sort_unstable();
        subjects.dedup();
        if subjects.len() != receipts.len() {
            return Ok(None);
        }
    }
    let statements = BatchStatements::cached(client).await?;
    let (pooled, client): (&Client, &tokio_postgres::Client) = (client, client);
    // With nothing but the receipts to write, `COMMIT` goes with the batch's last statements.
    let finish = if outbox || cancels || !keyed.is_empty() {
        Finish::Open
    } else {
        Finish::Commit
    };
    let done = async {
        let first = write_receipt_batch(client, &statements, &cols, finish).await?;
        if finish == Finish::Commit {
            return Ok(Some(first));
        }
        if outbox || cancels {
            webhooks::insert_batch(pooled, receipts, &cols.subject).await?;
        }
        if !keyed.is_empty() {
            // Expired keys go first (indexed, cheap); a key expired for a later receipt of the batch
            // but not for the oldest is found below and the general path decides, receipt by receipt.
            let oldest = receipts
                .iter()
                .map(|r| r.issued_at().as_unix())
                .min()
                .unwrap_or(i64::MIN);
            client
                .execute("DELETE FROM idempotency WHERE expires_at <= $1", &[&oldest])
                .await
                .pg()?;
            let seen = client
                .query_opt(
                    "SELECT 1 FROM idempotency WHERE key = ANY($1::bytea[]) LIMIT 1",
                    &[&key],
                )
                .await
                .pg()?;
            if seen.is_some() {
                client.batch_execute("ROLLBACK").await.pg()?;
                return Ok(None);
            }
            let body: Vec<&[u8]> = keyed.iter().map(|(k, _)| &k.body[..]).collect();
            let receipt: Vec<String> = keyed.iter().map(|(_, r)| r.id().to_string()).collect();
            let expires_at: Vec<i64> = keyed.iter().map(|(k, _)| k.expires_at.as_unix()).collect();
            client
                .execute(
                    "INSERT INTO idempotency (key, body, receipt, expires_at) \
                     SELECT k.key, k.body, k.receipt::uuid, k.expires_at \
                     FROM UNNEST($1::bytea[], $2::bytea[], $3::text[], $4::int8[]) \
                     AS k(key, body, receipt, expires_at)",
                    &[&key, &body, &receipt, &expires_at],
                )
                .await
                .pg()?;
        }
        client.batch_execute("COMMIT").await.pg()?;
        Ok(Some(first))
    }
    .await;
    if done.is_err() {
        rollback(client).await;
    }
    done
}
