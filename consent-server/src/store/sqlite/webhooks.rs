//! Webhook deliveries on SQLite (issue 20.4): the outbox rows written with receipts and rights events,
//! handed out in order per system and subject, and their outcomes. The writer thread runs the writes
//! (one writer: a lease is only needed across processes), the readers the lists and counts.

use consent_core::Timestamp;
use rusqlite::{Connection, Row, params};

use super::Db as _;
use crate::store::columns::subject;
use crate::store::{
    Attempt, Delivery, DeliveryCount, DeliveryId, DeliveryQuery, DeliveryState, NewDelivery,
    StoreError, Write, Written,
};

const COLUMNS: &str = "id, msg_id, webhook, subject, event, occurs_at, payload, state, attempts, \
                       next_at_ms, dead_at_ms, last_error, delivered_at";

fn delivery(r: &Row<'_>) -> Result<Delivery, StoreError> {
    let id: i64 = r.get(0).db()?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("webhook delivery {id}: {what}"));
    Ok(Delivery {
        id: DeliveryId(u64::try_from(id).map_err(|_| corrupt("id"))?),
        msg_id: r.get(1).db()?,
        webhook: r.get(2).db()?,
        subject: subject(&r.get::<_, String>(3).db()?)?,
        event: r
            .get::<_, String>(4)
            .db()?
            .parse()
            .map_err(|_| corrupt("event"))?,
        occurs_at: Timestamp::from_unix(r.get(5).db()?),
        payload: r.get(6).db()?,
        state: r
            .get::<_, String>(7)
            .db()?
            .parse()
            .map_err(|_| corrupt("state"))?,
        attempts: u32::try_from(r.get::<_, i64>(8).db()?).map_err(|_| corrupt("attempts"))?,
        next_at_ms: r.get(9).db()?,
        dead_at_ms: r.get(10).db()?,
        last_error: r.get(11).db()?,
        delivered_at: r.get::<_, Option<i64>>(12).db()?.map(Timestamp::from_unix),
    })
}

/// Writes `deliveries` for `subject` (of the case `case`, if they wait for it), and cancels the
/// pending expiries of the purposes `decided` anew (`None`: every purpose, an erasure) that have not
/// happened by `now`.
pub(super) fn insert(
    conn: &Connection,
    subject: &str,
    deliveries: &[NewDelivery],
    case: Option<i64>,
    decided: Option<&[String]>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let cancel = |purpose: Option<&str>| -> Result<(), StoreError> {
        conn.prepare_cached(
            "UPDATE webhook_deliveries SET state = 'cancelled'
             WHERE subject = ?1 AND event = 'consent.expired' AND state = 'pending'
               AND occurs_at > ?2 AND (?3 IS NULL OR purposes = ?3)",
        )
        .db()?
        .execute(params![subject, now.as_unix(), purpose])
        .db()?;
        Ok(())
    };
    match decided {
        Some(purposes) => {
            for p in purposes {
                cancel(Some(p))?;
            }
        }
        None => cancel(None)?,
    }
    for d in deliveries {
        let purposes: Vec<String> = d.purposes.iter().map(ToString::to_string).collect();
        conn.prepare_cached(
            "INSERT INTO webhook_deliveries (msg_id, webhook, subject, event, occurs_at, purposes,
                 payload, case_id, next_at_ms, dead_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .db()?
        .execute(params![
            d.msg_id,
            d.webhook,
            subject,
            d.event.as_str(),
            d.occurs_at.as_unix(),
            purposes.join(","),
            d.payload,
            if d.for_case { case } else { None },
            d.occurs_at.as_unix().saturating_mul(1000),
            d.dead_at_ms,
        ])
        .db()?;
    }
    Ok(())
}

/// The deliveries' own writes: [`Write::ClaimDeliveries`], [`Write::DeliveryAttempt`],
/// [`Write::RetryDeliveries`] (any other write is not theirs: a corrupt call).
pub(super) fn write(conn: &Connection, w: &Write) -> Result<Written, StoreError> {
    match w {
        Write::ClaimDeliveries {
            now_ms,
            lease_ms,
            limit,
        } => Ok(Written::Deliveries(claim(
            conn, *now_ms, *lease_ms, *limit,
        )?)),
        Write::DeliveryAttempt {
            id,
            at_ms,
            attempt: a,
        } => {
            attempt(conn, *id, *at_ms, a)?;
            Ok(Written::Done)
        }
        Write::RetryDeliveries { id, now_ms } => Ok(Written::Count(retry(conn, *id, *now_ms)?)),
        _ => Err(StoreError::Corrupt("not a webhook delivery write".into())),
    }
}

/// [`crate::store::Write::ClaimDeliveries`].
fn claim(
    conn: &Connection,
    now_ms: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET state = 'dead'
         WHERE state = 'pending' AND dead_at_ms <= ?1 AND lease_until_ms <= ?1",
    )
    .db()?
    .execute(params![now_ms])
    .db()?;
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhook_deliveries d
             WHERE d.state = 'pending' AND d.next_at_ms <= ?1 AND d.lease_until_ms <= ?1
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                   WHERE e.webhook = d.webhook AND e.subject = d.subject
                     AND e.state IN ('pending', 'dead') AND e.occurs_at <= ?2
                     AND (e.occurs_at < d.occurs_at OR (e.occurs_at = d.occurs_at AND e.id < d.id)))
             ORDER BY d.occurs_at, d.id LIMIT ?3"
        ))
        .db()?;
    let mut rows = st.query(params![now_ms, now_ms / 1000, limit]).db()?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().db()? {
        out.push(delivery(r)?);
    }
    for d in &mut out {
        conn.prepare_cached(
            "UPDATE webhook_deliveries SET lease_until_ms = ?1, attempts = attempts + 1 WHERE id = ?2",
        )
        .db()?
        .execute(params![now_ms.saturating_add(lease_ms), id(d.id)])
        .db()?;
        d.attempts += 1;
    }
    Ok(out)
}

fn id(d: DeliveryId) -> i64 {
    i64::try_from(d.0).unwrap_or(i64::MAX)
}

/// [`crate::store::Write::DeliveryAttempt`].
fn attempt(
    conn: &Connection,
    d: DeliveryId,
    at_ms: i64,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    match attempt {
        Attempt::Delivered => {
            let n = conn
                .prepare_cached(
                    "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = ?1,
                         lease_until_ms = 0, last_error = NULL
                     WHERE id = ?2 AND state = 'pending'",
                )
                .db()?
                .execute(params![at_ms / 1000, id(d)])
                .db()?;
            if n == 1 {
                // The case waits for every delivery written with it: the last acknowledgement closes it.
                conn.prepare_cached(
                    "UPDATE cases SET closed_at = ?1, closed_by = 'webhooks'
                     WHERE closed_at IS NULL
                       AND id = (SELECT case_id FROM webhook_deliveries WHERE id = ?2)
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries w
                           WHERE w.case_id = cases.id AND w.state <> 'delivered')",
                )
                .db()?
                .execute(params![at_ms / 1000, id(d)])
                .db()?;
            }
        }
        Attempt::Failed { error, retry_at_ms } => {
            conn.prepare_cached(
                "UPDATE webhook_deliveries SET failures = failures + 1, last_error = ?1,
                     next_at_ms = ?2, lease_until_ms = 0,
                     state = CASE WHEN ?2 >= dead_at_ms THEN 'dead' ELSE 'pending' END
                 WHERE id = ?3 AND state = 'pending'",
            )
            .db()?
            .execute(params![error, retry_at_ms, id(d)])
            .db()?;
        }
    }
    Ok(())
}

/// [`crate::store::Write::RetryDeliveries`]: how many went back in the queue.
fn retry(conn: &Connection, d: Option<DeliveryId>, now_ms: i64) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE webhook_deliveries SET state = 'pending', next_at_ms = ?1, lease_until_ms = 0,
                 dead_at_ms = ?1 + MAX(dead_at_ms - occurs_at * 1000, 0)
             WHERE state = 'dead' AND (?2 IS NULL OR id = ?2)",
        )
        .db()?
        .execute(params![now_ms, d.map(id)])
        .db()?;
    Ok(n as u64)
}

/// [`crate::store::Store::deliveries`].
pub(super) fn list(conn: &Connection, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE (?1 IS NULL OR state = ?1)
             ORDER BY id LIMIT ?2"
        ))
        .db()?;
    let mut rows = st
        .query(params![
            q.state.map(DeliveryState::as_str),
            q.limit
                .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX))
        ])
        .db()?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().db()? {
        out.push(delivery(r)?);
    }
    Ok(out)
}

/// [`crate::store::Store::delivery_counts`].
pub(super) fn counts(conn: &Connection, now_ms: i64) -> Result<Vec<DeliveryCount>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT webhook, state, COUNT(*), SUM(failures),
                    SUM(state = 'pending' AND (failures > 0 OR next_at_ms <= ?1))
             FROM webhook_deliveries GROUP BY webhook, state ORDER BY webhook, state",
        )
        .db()?;
    let mut rows = st.query([now_ms]).db()?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().db()? {
        out.push(DeliveryCount {
            webhook: r.get(0).db()?,
            state: r
                .get::<_, String>(1)
                .db()?
                .parse()
                .map_err(StoreError::Corrupt)?,
            count: u64::try_from(r.get::<_, i64>(2).db()?).unwrap_or(0),
            failed_attempts: u64::try_from(r.get::<_, i64>(3).db()?).unwrap_or(0),
            due: u64::try_from(r.get::<_, i64>(4).db()?).unwrap_or(0),
        });
    }
    Ok(out)
}

/// [`crate::store::Store::deliveries_due`].
pub(super) fn due(conn: &Connection, now_ms: i64) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries
             WHERE state = 'pending' AND (next_at_ms <= ?1 OR dead_at_ms <= ?1)
               AND lease_until_ms <= ?1)",
    )
    .db()?
    .query_row(params![now_ms], |r| r.get(0))
    .db()
}

/// The migration that adds the outbox (SQLite migration 5).
pub(super) const MIGRATION: &str = r#"
-- Webhook deliveries (issue 20.4): the outbox. One row per subscribed system and event, written in the
-- same transaction as the receipt or rights event it reports; sent in order per (webhook, subject).
CREATE TABLE webhook_deliveries (
    id             INTEGER PRIMARY KEY,
    msg_id         TEXT NOT NULL UNIQUE,
    webhook        TEXT NOT NULL,
    subject        TEXT NOT NULL,
    event          TEXT NOT NULL,
    occurs_at      INTEGER NOT NULL,
    purposes       TEXT NOT NULL,
    payload        TEXT NOT NULL,
    case_id        INTEGER,
    state          TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'delivered', 'dead', 'cancelled')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0,
    next_at_ms     INTEGER NOT NULL,
    dead_at_ms     INTEGER NOT NULL,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    delivered_at   INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at_ms);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook, subject, state, occurs_at, id);
CREATE INDEX webhook_deliveries_case ON webhook_deliveries (case_id) WHERE case_id IS NOT NULL;
CREATE TRIGGER webhook_deliveries_kept BEFORE DELETE ON webhook_deliveries
    BEGIN SELECT RAISE(ABORT, 'webhook deliveries are kept'); END;
"#;

/// The migration that indexes the expiries still to come by subject (SQLite migration 7, issue 19.7):
/// every receipt cancels its subject's pending expiries of the purposes it decides, and without it each
/// of those updates read the whole outbox (its other indexes begin with the subscription), a cost that
/// grew with every consent given.
pub(super) const EXPIRIES_INDEX: &str = "
CREATE INDEX webhook_deliveries_expiries ON webhook_deliveries (subject, purposes)
    WHERE event = 'consent.expired' AND state = 'pending';
";
