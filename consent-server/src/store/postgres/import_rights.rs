//! What `migrate --to` writes besides receipts, events and the log: rights requests' cases, webhook
//! deliveries and idempotency keys, each under the number (or key) it has in the source, so that a
//! copy run again adds nothing twice and deliveries keep naming their cases and their order.
//!
//! The source stays authoritative until the PostgreSQL instances start (README, "Moving a SQLite
//! deployment"): a run after the source moved on closes the cases closed there since, and brings the
//! deliveries still pending or dead here to the source's state. A row of the same number that is not the
//! source's (a target with rows of its own) is refused, named.

use tokio_postgres::GenericClient;

use super::fault::Pg as _;
use super::{PgStore, run};
use crate::store::{SourceCase, SourceDelivery, SourceIdempotency, StoreError};

impl PgStore {
    /// Stores the cases not stored yet (by number), closes those closed in the source since, and moves
    /// the numbering past them; how many were added.
    pub fn import_cases(&self, cases: Vec<SourceCase>) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let mut client = pool.get().await.pg()?;
            let tx = client.transaction().await.pg()?;
            // One column a vector, in the order of `ROWS`.
            let mut c: (
                Vec<_>,
                Vec<_>,
                Vec<_>,
                Vec<_>,
                Vec<_>,
                Vec<_>,
                Vec<_>,
                Vec<_>,
                Vec<_>,
            ) = Default::default();
            for k in cases {
                c.0.push(k.id);
                c.1.push(k.kind);
                c.2.push(k.subject);
                c.3.push(k.received_at);
                c.4.push(k.due_at);
                c.5.push(k.handled_by);
                c.6.push(k.receipt_id);
                c.7.push(k.closed_at);
                c.8.push(k.closed_by);
            }
            const ROWS: &str = "UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], \
                                $6::text[], $7::text[], $8::int8[], $9::text[]) \
                                AS s(id, kind, subject, received_at, due_at, handled_by, receipt_id, \
                                     closed_at, closed_by)";
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] =
                [&c.0, &c.1, &c.2, &c.3, &c.4, &c.5, &c.6, &c.7, &c.8];
            let added = tx
                .execute(
                    &format!(
                        "INSERT INTO cases (id, kind, subject, received_at, due_at, handled_by, \
                         receipt_id, closed_at, closed_by) OVERRIDING SYSTEM VALUE \
                         SELECT id, kind, subject, received_at, due_at, handled_by, receipt_id::uuid, \
                         closed_at, closed_by FROM {ROWS} ON CONFLICT (id) DO NOTHING"
                    ),
                    &params,
                )
                .await
                .pg()?;
            tx.execute(
                &format!(
                    "UPDATE cases t SET closed_at = s.closed_at, closed_by = s.closed_by FROM {ROWS} \
                     WHERE t.id = s.id AND t.closed_at IS NULL AND s.closed_at IS NOT NULL"
                ),
                &params,
            )
            .await
            .pg()?;
            let other: Option<i64> = tx
                .query_one(
                    &format!(
                        "SELECT min(s.id) FROM {ROWS} LEFT JOIN cases t ON t.id = s.id \
                         WHERE t.id IS NULL OR (t.kind, t.subject, t.received_at, t.due_at, t.handled_by, \
                             t.receipt_id, t.closed_at, t.closed_by) IS DISTINCT FROM \
                             (s.kind, s.subject, s.received_at, s.due_at, s.handled_by, \
                              s.receipt_id::uuid, s.closed_at, s.closed_by)"
                    ),
                    &params,
                )
                .await
                .pg()?
                .get(0);
            if let Some(id) = other {
                return Err(StoreError::Corrupt(format!(
                    "case {id} in the target is not the source's (the target has cases of its own: copy \
                     into a new database)"
                )));
            }
            number_past(&*tx, "cases").await?;
            tx.commit().await.pg()?;
            Ok(added)
        })
    }

    /// Stores the webhook deliveries not stored yet (by number, with their `webhook-id`, state and
    /// schedule), brings those pending or dead here to the source's state, and moves the numbering past
    /// them; how many were added.
    pub fn import_deliveries(&self, deliveries: Vec<SourceDelivery>) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let mut client = pool.get().await.pg()?;
            let tx = client.transaction().await.pg()?;
            // One column a vector, in the order of `ROWS` (two tuples: `Default` goes up to twelve).
            #[allow(
                clippy::type_complexity,
                reason = "a row of columns, each only pushed then bound"
            )]
            let mut c: (
                (
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                ),
                (
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                    Vec<_>,
                ),
            ) = Default::default();
            for d in deliveries {
                c.0.0.push(d.id);
                c.0.1.push(d.msg_id);
                c.0.2.push(d.webhook);
                c.0.3.push(d.subject);
                c.0.4.push(d.event);
                c.0.5.push(d.occurs_at);
                c.0.6.push(d.purposes);
                c.0.7.push(d.payload);
                c.0.8.push(d.case_id);
                c.1.0.push(d.state);
                c.1.1.push(i32::try_from(d.attempts).unwrap_or(i32::MAX));
                c.1.2.push(i32::try_from(d.failures).unwrap_or(i32::MAX));
                c.1.3.push(d.next_at_ms);
                c.1.4.push(d.dead_at_ms);
                c.1.5.push(d.lease_until_ms);
                c.1.6.push(d.last_error);
                c.1.7.push(d.delivered_at);
            }
            const ROWS: &str = "UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                $6::int8[], $7::text[], $8::text[], $9::int8[], $10::text[], \
                                $11::int4[], $12::int4[], $13::int8[], $14::int8[], $15::int8[], \
                                $16::text[], $17::int8[]) \
                                AS s(id, msg_id, webhook, subject, event, occurs_at, purposes, payload, \
                                     case_id, state, attempts, failures, next_at_ms, dead_at_ms, \
                                     lease_until_ms, last_error, delivered_at)";
            const COLUMNS: &str = "id, msg_id, webhook, subject, event, occurs_at, purposes, payload, \
                                   case_id, state, attempts, failures, next_at_ms, dead_at_ms, \
                                   lease_until_ms, last_error, delivered_at";
            const STATE: &str = "state, attempts, failures, next_at_ms, dead_at_ms, lease_until_ms, \
                                 last_error, delivered_at";
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 17] = [
                &c.0.0, &c.0.1, &c.0.2, &c.0.3, &c.0.4, &c.0.5, &c.0.6, &c.0.7, &c.0.8, &c.1.0,
                &c.1.1, &c.1.2, &c.1.3, &c.1.4, &c.1.5, &c.1.6, &c.1.7,
            ];
            let added = tx
                .execute(
                    &format!(
                        "INSERT INTO webhook_deliveries ({COLUMNS}) OVERRIDING SYSTEM VALUE \
                         SELECT {COLUMNS} FROM {ROWS} ON CONFLICT (id) DO NOTHING"
                    ),
                    &params,
                )
                .await
                .pg()?;
            let other: Option<i64> = tx
                .query_one(
                    &format!(
                        "SELECT min(s.id) FROM {ROWS} LEFT JOIN webhook_deliveries t ON t.id = s.id \
                         WHERE t.id IS NULL OR (t.msg_id, t.webhook, t.subject, t.event, t.occurs_at, \
                             t.purposes, t.payload, t.case_id) IS DISTINCT FROM \
                             (s.msg_id, s.webhook, s.subject, s.event, s.occurs_at, s.purposes, \
                              s.payload, s.case_id)"
                    ),
                    &params,
                )
                .await
                .pg()?
                .get(0);
            if let Some(id) = other {
                return Err(StoreError::Corrupt(format!(
                    "webhook delivery {id} in the target is not the source's (the target has deliveries \
                     of its own: copy into a new database)"
                )));
            }
            tx.execute(
                &format!(
                    "UPDATE webhook_deliveries t SET ({STATE}) = (SELECT {STATE} FROM {ROWS} \
                         WHERE s.id = t.id) \
                     WHERE t.state IN ('pending', 'dead') AND EXISTS (SELECT 1 FROM {ROWS} \
                         WHERE s.id = t.id AND (s.state, s.attempts, s.failures, s.next_at_ms, \
                             s.dead_at_ms, s.lease_until_ms, s.last_error, s.delivered_at) \
                         IS DISTINCT FROM (t.state, t.attempts, t.failures, t.next_at_ms, \
                             t.dead_at_ms, t.lease_until_ms, t.last_error, t.delivered_at))"
                ),
                &params,
            )
            .await
            .pg()?;
            number_past(&*tx, "webhook_deliveries").await?;
            tx.commit().await.pg()?;
            Ok(added)
        })
    }

    /// Stores the idempotency keys not stored yet (by key), each naming a copied receipt; how many were
    /// added.
    pub fn import_idempotency(&self, keys: Vec<SourceIdempotency>) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            let mut c = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (key, body, receipt, expires_at) in keys {
                c.0.push(key);
                c.1.push(body);
                c.2.push(receipt);
                c.3.push(expires_at);
            }
            client
                .execute(
                    "INSERT INTO idempotency (key, body, receipt, expires_at)
                     SELECT s.key, s.body, r.id, s.expires_at
                     FROM UNNEST($1::bytea[], $2::bytea[], $3::text[], $4::int8[])
                          AS s(key, body, receipt, expires_at)
                     JOIN receipts r ON r.id = s.receipt::uuid
                     ON CONFLICT (key) DO NOTHING",
                    &[&c.0, &c.1, &c.2, &c.3],
                )
                .await
                .pg()
        })
    }
}

/// Moves the identity of `table`'s `id` past the largest number stored (rows copied under their source
/// numbers, `OVERRIDING SYSTEM VALUE`), so that the rows the instances add follow them.
async fn number_past(tx: &impl GenericClient, table: &'static str) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} \
             HAVING max(id) IS NOT NULL"
        ),
        &[],
    )
    .await
    .pg()
    .map(|_| ())
}
