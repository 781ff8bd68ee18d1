//! Webhook deliveries on PostgreSQL (issue 20.4): the same outbox as on SQLite
//! (`store::sqlite::webhooks`), shared by every instance. A claim takes the due rows with
//! `FOR UPDATE SKIP LOCKED` and leases them (`lease_until_ms`) in one statement: two instances never
//! hand out the same delivery, and one that dies mid-send leaves it to another once the lease ends.

use consent_core::Timestamp;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::fault::Pg as _;
use crate::store::columns::subject;
use crate::store::{
    Attempt, Delivery, DeliveryCount, DeliveryId, DeliveryQuery, DeliveryState, NewDelivery,
    NewReceipt, StoreError, Write, Written,
};

const COLUMNS: &str = "id, msg_id, webhook, subject, event, occurs_at, payload, state, attempts, \
                       next_at_ms, dead_at_ms, last_error, delivered_at";

fn delivery(r: &Row) -> Result<Delivery, StoreError> {
    let id: i64 = r.try_get(0).pg()?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("webhook delivery {id}: {what}"));
    Ok(Delivery {
        id: DeliveryId(u64::try_from(id).map_err(|_| corrupt("id"))?),
        msg_id: r.try_get(1).pg()?,
        webhook: r.try_get(2).pg()?,
        subject: subject(r.try_get(3).pg()?)?,
        event: r
            .try_get::<_, &str>(4)
            .pg()?
            .parse()
            .map_err(|_| corrupt("event"))?,
        occurs_at: Timestamp::from_unix(r.try_get(5).pg()?),
        payload: r.try_get(6).pg()?,
        state: r
            .try_get::<_, &str>(7)
            .pg()?
            .parse()
            .map_err(|_| corrupt("state"))?,
        attempts: u32::try_from(r.try_get::<_, i32>(8).pg()?).map_err(|_| corrupt("attempts"))?,
        next_at_ms: r.try_get(9).pg()?,
        dead_at_ms: r.try_get(10).pg()?,
        last_error: r.try_get(11).pg()?,
        delivered_at: r
            .try_get::<_, Option<i64>>(12)
            .pg()?
            .map(Timestamp::from_unix),
    })
}

fn id(d: DeliveryId) -> i64 {
    i64::try_from(d.0).unwrap_or(i64::MAX)
}

/// Writes `deliveries` for `subject` (of the case `case`, if they wait for it), and cancels the
/// pending expiries of the purposes `decided` anew (`None`: every purpose, an erasure) that have not
/// happened by `now`.
pub(super) async fn insert(
    tx: &impl GenericClient,
    subject: &str,
    deliveries: &[NewDelivery],
    case: Option<i64>,
    decided: Option<&[String]>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let every = decided.is_none();
    let decided: Vec<String> = decided.map(<[String]>::to_vec).unwrap_or_default();
    tx.execute(
        CANCEL_EXPIRIES,
        &[&subject, &now.as_unix(), &every, &decided],
    )
    .await
    .pg()?;
    for d in deliveries {
        let purposes: Vec<String> = d.purposes.iter().map(ToString::to_string).collect();
        tx.execute(
            "INSERT INTO webhook_deliveries (msg_id, webhook, subject, event, occurs_at, purposes, \
                 payload, case_id, next_at_ms, dead_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &d.msg_id,
                &d.webhook,
                &subject,
                &d.event.as_str(),
                &d.occurs_at.as_unix(),
                &purposes.join(","),
                &d.payload,
                &if d.for_case { case } else { None },
                &d.occurs_at.as_unix().saturating_mul(1000),
                &d.dead_at_ms,
            ],
        )
        .await
        .pg()?;
    }
    Ok(())
}

/// [`insert`] for a batch of receipts (`subjects`, as text, in the same order), none opening a case:
/// the pending expiries of each receipt's subject for the purposes it decides (those that have not
/// happened by its time) are cancelled, one statement per receipt whose subject existed before it (a
/// new device has none: [`NewReceipt::fresh_subject`]), then the batch's deliveries, if any, are
/// written in queue order in one statement; all are sent together, in that order. A batch with
/// deliveries has no two receipts of one subject (so none cancels what another writes); a batch
/// without them may.
pub(super) async fn insert_batch(
    tx: &impl GenericClient,
    receipts: &[&NewReceipt],
    subjects: &[String],
) -> Result<(), StoreError> {
    let mut d = DeliveryColumns::default();
    for (r, subject) in receipts.iter().zip(subjects) {
        for x in r.deliveries() {
            d.msg_id.push(x.msg_id.as_str());
            d.webhook.push(x.webhook.as_str());
            d.subject.push(subject.as_str());
            d.event.push(x.event.as_str());
            d.occurs_at.push(x.occurs_at.as_unix());
            d.purposes.push(
                x.purposes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            );
            d.payload.push(x.payload.as_str());
            d.next_at_ms
                .push(x.occurs_at.as_unix().saturating_mul(1000));
            d.dead_at_ms.push(x.dead_at_ms);
        }
    }
    let cancels: Vec<(&str, i64, Vec<String>)> = receipts
        .iter()
        .zip(subjects)
        .filter(|(r, _)| !r.fresh_subject())
        .map(|(r, subject)| {
            let decided = r.decisions().keys().map(ToString::to_string).collect();
            (subject.as_str(), r.issued_at().as_unix(), decided)
        })
        .collect();
    let cancel = tx.prepare_cached(CANCEL_EXPIRIES).await.pg()?;
    let insert = tx.prepare_cached(INSERT_BATCH).await.pg()?;
    let cancel_params: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 4]> = cancels
        .iter()
        .map(
            |(subject, now, decided)| -> [&(dyn tokio_postgres::types::ToSql + Sync); 4] {
                [subject, now, &false, decided]
            },
        )
        .collect();
    let cancelled = cancel_params.iter().map(|p| tx.execute(&cancel, p));
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
        &d.msg_id,
        &d.webhook,
        &d.subject,
        &d.event,
        &d.occurs_at,
        &d.purposes,
        &d.payload,
        &d.next_at_ms,
        &d.dead_at_ms,
    ];
    // Polled in order, so sent in order: the cancellations, then the insert.
    let inserts = !d.msg_id.is_empty();
    let (cancelled, inserted) =
        futures_util::future::join(futures_util::future::join_all(cancelled), async {
            if inserts {
                tx.execute(&insert, &params).await.map(|_| ())
            } else {
                Ok(())
            }
        })
        .await;
    for c in cancelled {
        c.pg()?;
    }
    inserted.pg()?;
    Ok(())
}

/// Cancels a subject's pending expiries that have not happened by a time: `$1` the subject, `$2` the
/// time, `$3` every purpose (an erasure), else `$4` those purposes.
const CANCEL_EXPIRIES: &str = "UPDATE webhook_deliveries SET state = 'cancelled' \
     WHERE subject = $1 AND event = 'consent.expired' AND state = 'pending' AND occurs_at > $2 \
       AND ($3 OR purposes = ANY($4))";

/// [`insert_batch`]'s insert: the deliveries' columns, in queue order.
const INSERT_BATCH: &str = "
INSERT INTO webhook_deliveries (msg_id, webhook, subject, event, occurs_at, purposes, payload,
                                next_at_ms, dead_at_ms)
SELECT d.msg_id, d.webhook, d.subject, d.event, d.occurs_at, d.purposes, d.payload, d.next_at_ms,
       d.dead_at_ms
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[],
            $8::int8[], $9::int8[])
     WITH ORDINALITY AS d(msg_id, webhook, subject, event, occurs_at, purposes, payload, next_at_ms,
                          dead_at_ms, n)
ORDER BY d.n";

/// A batch's deliveries as the arrays of [`INSERT_BATCH`].
#[derive(Default)]
struct DeliveryColumns<'a> {
    msg_id: Vec<&'a str>,
    webhook: Vec<&'a str>,
    subject: Vec<&'a str>,
    event: Vec<&'static str>,
    occurs_at: Vec<i64>,
    purposes: Vec<String>,
    payload: Vec<&'a str>,
    next_at_ms: Vec<i64>,
    dead_at_ms: Vec<i64>,
}

/// The deliveries' own writes: [`Write::ClaimDeliveries`], [`Write::DeliveryAttempt`],
/// [`Write::RetryDeliveries`] (any other write is not theirs: a corrupt call).
pub(super) async fn write(tx: &impl GenericClient, w: &Write) -> Result<Written, StoreError> {
    match w {
        Write::ClaimDeliveries {
            now_ms,
            lease_ms,
            limit,
        } => Ok(Written::Deliveries(
            claim(tx, *now_ms, *lease_ms, *limit).await?,
        )),
        Write::DeliveryAttempt {
            id,
            at_ms,
            attempt: a,
        } => {
            attempt(tx, *id, *at_ms, a).await?;
            Ok(Written::Done)
        }
        Write::RetryDeliveries { id, now_ms } => Ok(Written::Count(retry(tx, *id, *now_ms).await?)),
        _ => Err(StoreError::Corrupt("not a webhook delivery write".into())),
    }
}

/// [`crate::store::Write::ClaimDeliveries`]: locked rows (another instance is claiming them) are
/// skipped, leased ones are not due.
async fn claim(
    tx: &impl GenericClient,
    now_ms: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    tx.execute(
        "UPDATE webhook_deliveries SET state = 'dead' \
         WHERE state = 'pending' AND dead_at_ms <= $1 AND lease_until_ms <= $1",
        &[&now_ms],
    )
    .await
    .pg()?;
    let rows = tx
        .query(
            &format!(
                "WITH due AS (
                     SELECT d.id FROM webhook_deliveries d
                     WHERE d.state = 'pending' AND d.next_at_ms <= $1 AND d.lease_until_ms <= $1
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                           WHERE e.webhook = d.webhook AND e.subject = d.subject
                             AND e.state IN ('pending', 'dead') AND e.occurs_at <= $2
                             AND (e.occurs_at, e.id) < (d.occurs_at, d.id))
                     ORDER BY d.occurs_at, d.id LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE webhook_deliveries w SET lease_until_ms = $4, attempts = w.attempts + 1
                 FROM due WHERE w.id = due.id
                 RETURNING {}",
                COLUMNS
                    .split(", ")
                    .map(|c| format!("w.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[
                &now_ms,
                &(now_ms / 1000),
                &i64::from(limit),
                &now_ms.saturating_add(lease_ms),
            ],
        )
        .await
        .pg()?;
    let mut out = rows.iter().map(delivery).collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|d| (d.occurs_at, d.id));
    Ok(out)
}

/// [`crate::store::Write::DeliveryAttempt`].
async fn attempt(
    tx: &impl GenericClient,
    d: DeliveryId,
    at_ms: i64,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    match attempt {
        Attempt::Delivered => {
            let n = tx
                .execute(
                    "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = $1, \
                         lease_until_ms = 0, last_error = NULL \
                     WHERE id = $2 AND state = 'pending'",
                    &[&(at_ms / 1000), &id(d)],
                )
                .await
                .pg()?;
            if n == 1 {
                // The last acknowledgement of a case's deliveries closes it.
                tx.execute(
                    "UPDATE cases SET closed_at = $1, closed_by = 'webhooks' \
                     WHERE closed_at IS NULL \
                       AND id = (SELECT case_id FROM webhook_deliveries WHERE id = $2) \
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries w \
                           WHERE w.case_id = cases.id AND w.state <> 'delivered')",
                    &[&(at_ms / 1000), &id(d)],
                )
                .await
                .pg()?;
            }
        }
        Attempt::Failed { error, retry_at_ms } => {
            tx.execute(
                "UPDATE webhook_deliveries SET failures = failures + 1, last_error = $1, \
                     next_at_ms = $2, lease_until_ms = 0, \
                     state = CASE WHEN $2 >= dead_at_ms THEN 'dead' ELSE 'pending' END \
                 WHERE id = $3 AND state = 'pending'",
                &[error, retry_at_ms, &id(d)],
            )
            .await
            .pg()?;
        }
    }
    Ok(())
}

/// [`crate::store::Write::RetryDeliveries`]: how many went back in the queue.
async fn retry(
    tx: &impl GenericClient,
    d: Option<DeliveryId>,
    now_ms: i64,
) -> Result<u64, StoreError> {
    tx.execute(
        "UPDATE webhook_deliveries SET state = 'pending', next_at_ms = $1, lease_until_ms = 0, \
             dead_at_ms = $1 + GREATEST(dead_at_ms - occurs_at * 1000, 0) \
         WHERE state = 'dead' AND ($2::int8 IS NULL OR id = $2)",
        &[&now_ms, &d.map(id)],
    )
    .await
    .pg()
}

/// [`crate::store::Store::deliveries`].
pub(super) async fn list(
    c: &impl GenericClient,
    q: &DeliveryQuery,
) -> Result<Vec<Delivery>, StoreError> {
    let state = q.state.map(DeliveryState::as_str);
    let limit = q
        .limit
        .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
    c.query(
        &format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE ($1::text IS NULL OR state = $1) \
             ORDER BY id LIMIT $2"
        ),
        &[&state, &limit],
    )
    .await
    .pg()?
    .iter()
    .map(delivery)
    .collect()
}

/// [`crate::store::Store::delivery_counts`].
pub(super) async fn counts(
    c: &impl GenericClient,
    now_ms: i64,
) -> Result<Vec<DeliveryCount>, StoreError> {
    let rows = c
        .query(
            "SELECT webhook, state, COUNT(*), COALESCE(SUM(failures), 0)::int8, \
             COUNT(*) FILTER (WHERE state = 'pending' AND (failures > 0 OR next_at_ms <= $1)) \
             FROM webhook_deliveries GROUP BY webhook, state ORDER BY webhook, state",
            &[&now_ms],
        )
        .await
        .pg()?;
    rows.iter()
        .map(|r| {
            Ok(DeliveryCount {
                webhook: r.try_get(0).pg()?,
                state: r
                    .try_get::<_, &str>(1)
                    .pg()?
                    .parse()
                    .map_err(StoreError::Corrupt)?,
                count: u64::try_from(r.try_get::<_, i64>(2).pg()?).unwrap_or(0),
                failed_attempts: u64::try_from(r.try_get::<_, i64>(3).pg()?).unwrap_or(0),
                due: u64::try_from(r.try_get::<_, i64>(4).pg()?).unwrap_or(0),
            })
        })
        .collect()
}

/// [`crate::store::Store::deliveries_due`].
pub(super) async fn due(c: &impl GenericClient, now_ms: i64) -> Result<bool, StoreError> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries \
             WHERE state = 'pending' AND (next_at_ms <= $1 OR dead_at_ms <= $1) \
               AND lease_until_ms <= $1)",
        &[&now_ms],
    )
    .await
    .pg()?
    .get(0))
}

/// The migration that adds the outbox (PostgreSQL migration 4).
pub(super) const MIGRATION: &str = r#"
-- Webhook deliveries (issue 20.4): the outbox, shared by every instance. One row per subscribed system
-- and event, written in the same transaction as the receipt or rights event it reports.
CREATE TABLE webhook_deliveries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id         text NOT NULL UNIQUE,
    webhook        text NOT NULL,
    subject        text NOT NULL,
    event          text NOT NULL,
    occurs_at      bigint NOT NULL,
    purposes       text NOT NULL,
    payload        text NOT NULL,
    case_id        bigint,
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'delivered', 'dead', 'cancelled')),
    attempts       integer NOT NULL DEFAULT 0,
    failures       integer NOT NULL DEFAULT 0,
    next_at_ms     bigint NOT NULL,
    dead_at_ms     bigint NOT NULL,
    lease_until_ms bigint NOT NULL DEFAULT 0,
    last_error     text,
    delivered_at   bigint
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at_ms) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook, subject, occurs_at, id)
    WHERE state IN ('pending', 'dead');
CREATE INDEX webhook_deliveries_case ON webhook_deliveries (case_id) WHERE case_id IS NOT NULL;
CREATE TRIGGER webhook_deliveries_kept BEFORE DELETE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('webhook deliveries are kept');
"#;

/// The migration that indexes the expiries still to come by subject (PostgreSQL migration 6, issue
/// 19.7): every receipt cancels its subject's pending expiries of the purposes it decides, and without it
/// each of those updates read every pending delivery (the other indexes begin with the subscription), a
/// cost that grew with every consent given.
pub(super) const EXPIRIES_INDEX: &str = "
CREATE INDEX webhook_deliveries_expiries ON webhook_deliveries (subject, purposes)
    WHERE event = 'consent.expired' AND state = 'pending';
";
