//! A SQLite database read for a copy (`consent-server migrate --to postgres://…`): read-only, in
//! order, a chunk at a time, while the server may still run on it.

use std::path::Path;

use consent_core::tlog::{Hash, TILE_WIDTH, Tile, tile_hashes};
use rusqlite::{Connection, OpenFlags, params};

use super::Db as _;
use super::log::DbTiles;
use crate::store::{LogHead, StoreError};

/// A receipt row of the source: its number there, its JWS, and the browser family kept beside it.
#[derive(Clone, Debug)]
pub struct SourceReceipt {
    /// `seq` in the source.
    pub seq: i64,
    /// The receipt id as stored.
    pub id: String,
    /// The JWS.
    pub jws: String,
    /// The browser family, if any.
    pub browser: Option<String>,
    /// Its index in the consent log (`None` in a database from before the log).
    pub log_index: Option<i64>,
}

/// How many rows of each kind the source holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// Policy versions.
    pub policies: u64,
    /// Receipts.
    pub receipts: u64,
    /// Rights events.
    pub events: u64,
    /// Pseudonym links.
    pub links: u64,
    /// Rights requests' cases.
    pub cases: u64,
    /// Webhook deliveries (every state).
    pub deliveries: u64,
    /// Signed checkpoints of the consent log.
    pub checkpoints: u64,
}

/// A case of the source (`cases`), every column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceCase {
    /// Its number (kept in the target: deliveries name it).
    pub id: i64,
    /// `withdrawal`, `erasure`, …
    pub kind: String,
    /// The pseudonym.
    pub subject: String,
    /// Unix seconds.
    pub received_at: i64,
    /// Its legal due date, unix seconds.
    pub due_at: Option<i64>,
    /// Who handled it.
    pub handled_by: String,
    /// The receipt that opened it, if any.
    pub receipt_id: Option<String>,
    /// When it closed.
    pub closed_at: Option<i64>,
    /// Who closed it.
    pub closed_by: Option<String>,
}

/// A webhook delivery of the source (`webhook_deliveries`), every column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceDelivery {
    /// Its number (kept in the target: the order per subject is by time, then number).
    pub id: i64,
    /// The Standard Webhooks `webhook-id` (kept: a receiver that saw it acts once).
    pub msg_id: String,
    /// The subscription's name.
    pub webhook: String,
    /// The pseudonym.
    pub subject: String,
    /// The event type.
    pub event: String,
    /// Unix seconds.
    pub occurs_at: i64,
    /// The purposes, as stored.
    pub purposes: String,
    /// The JSON payload (pseudonyms and purposes only).
    pub payload: String,
    /// The case it waits for, if any.
    pub case_id: Option<i64>,
    /// `pending`, `delivered`, `dead`, `cancelled`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts failed.
    pub failures: i64,
    /// Next attempt, unix milliseconds.
    pub next_at_ms: i64,
    /// When it goes dead, unix milliseconds.
    pub dead_at_ms: i64,
    /// A sender's lease, unix milliseconds.
    pub lease_until_ms: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When the receiver acknowledged it.
    pub delivered_at: Option<i64>,
}

/// An idempotency key of the source: (keyed hash of caller and key, keyed hash of the body, receipt
/// id, expiry in unix seconds).
pub type SourceIdempotency = (Vec<u8>, Vec<u8>, String, i64);

/// A SQLite database of consent-server, opened read-only.
pub struct SqliteSource {
    conn: Connection,
}

impl SqliteSource {
    /// Opens the database at `path` read-only (it must exist and hold consent-server's tables).
    pub fn open(path: &Path) -> Result<SqliteSource, StoreError> {
        if !path.exists() {
            return Err(StoreError::Corrupt(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .db()?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).db()?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .db()?;
        if version < 1 {
            return Err(StoreError::Corrupt(format!(
                "{} is not a consent-server database",
                path.display()
            )));
        }
        let current = i64::try_from(super::schema::MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version != current {
            return Err(StoreError::Corrupt(format!(
                "{} is at schema version {version}, this server's is {current}: {}",
                path.display(),
                if version < current {
                    "start this version of the server on it once (it migrates the file), then copy"
                } else {
                    "copy it with the server version that wrote it"
                }
            )));
        }
        Ok(SqliteSource { conn })
    }

    /// Rows of each kind.
    pub fn counts(&self) -> Result<SourceCounts, StoreError> {
        let count = |table: &str| -> Result<u64, StoreError> {
            let n: i64 = self
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .db()?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(SourceCounts {
            policies: count("policies")?,
            receipts: count("receipts")?,
            events: count("events")?,
            links: count("subject_links")?,
            cases: count("cases")?,
            deliveries: count("webhook_deliveries")?,
            checkpoints: count("log_checkpoints")?,
        })
    }

    /// Every policy version: (version, sha256, canonical JSON).
    pub fn policies(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT version, sha256, canonical FROM policies ORDER BY version")
            .db()?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .db()?;
        rows.map(|r| r.db()).collect()
    }

    /// Every pseudonym link: (keyed hash, pseudonym).
    pub fn links(&self) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT lookup, subject FROM subject_links ORDER BY lookup")
            .db()?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
        rows.map(|r| r.db()).collect()
    }

    /// Up to `limit` receipts after `seq`, in order.
    pub fn receipts_after(&self, seq: i64, limit: i64) -> Result<Vec<SourceReceipt>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, id, jws, browser, log_index FROM receipts WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![seq, limit], |r| {
                Ok(SourceReceipt {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    jws: r.get(2)?,
                    browser: r.get(3)?,
                    log_index: r.get(4)?,
                })
            })
            .db()?;
        rows.map(|r| r.db()).collect()
    }

    /// The data keys (issue 20.1), each with the id of the receipt that made it (the target numbers
    /// receipts its own way); none in a database from before data keys.
    pub fn data_keys(&self) -> Result<Vec<(String, Vec<u8>, String)>, StoreError> {
        let has_keys: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'data_keys')",
                [],
                |r| r.get(0),
            )
            .db()?;
        if !has_keys {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT k.subject, k.key, r.id FROM data_keys k JOIN receipts r ON r.seq = k.created_seq \
                 ORDER BY k.subject",
            )
            .db()?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .db()?;
        rows.map(|r| r.db()).collect()
    }

    /// Up to `limit` events after `seq`, in order: (seq, subject, at, kind, (signed record, log index)
    /// of a logged event).
    #[allow(clippy::type_complexity)]
    pub fn events_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, i64, String, Option<(String, i64)>)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, subject, at, kind, record, log_index FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![seq, limit], |r| {
                let record: Option<String> = r.get(4)?;
                let index: Option<i64> = r.get(5)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    record.zip(index),
                ))
            })
            .db()?;
        rows.map(|r| r.db()).collect()
    }

    /// The consent log's tree as committed.
    pub fn log_head(&self) -> Result<LogHead, StoreError> {
        super::log::head(&self.conn)
    }

    /// The number of entries logged (one past the largest log index).
    pub fn logged(&self) -> Result<u64, StoreError> {
        super::log::logged(&self.conn)
    }

    /// The entries logged at `first ..first + count`, stopping at the first index not logged.
    pub fn log_entries(&self, first: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        super::log::entries(&self.conn, first, count)
    }

    /// The leaf hashes the tree of `size` entries holds for `first ..first + count` (the hashes logged at
    /// commit, read from its level-0 tiles); `first + count` must not pass `size`.
    pub fn logged_leaves(
        &self,
        size: u64,
        first: u64,
        count: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let end = first.saturating_add(count);
        if end > size {
            return Err(StoreError::Corrupt(format!(
                "leaves up to {end} asked of a tree of {size}"
            )));
        }
        let width = u64::from(TILE_WIDTH);
        let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut at = first;
        while at < end {
            let index = at / width;
            let w = (size - index * width).min(width);
            let tile = Tile::new(0, index, w as u16)
                .map_err(|e| StoreError::Corrupt(format!("the log's tile of entry {at}: {e}")))?;
            let data = DbTiles(&self.conn)
                .read(std::slice::from_ref(&tile))?
                .pop()
                .flatten()
                .ok_or_else(|| StoreError::Corrupt(format!("the log's tile {tile} is missing")))?;
            // A partial tile only grows at its end (the server may still write): its first hashes are
            // the ones of the tree of `size`.
            let data = data.get(..tile.data_len()).unwrap_or(&data);
            let hashes = tile_hashes(&tile, data)
                .map_err(|e| StoreError::Corrupt(format!("the log's tile {tile}: {e}")))?;
            let from = (at - index * width) as usize;
            let to = (end - index * width).min(w) as usize;
            out.extend(hashes.get(from..to).unwrap_or_default());
            at = index * width + to as u64;
        }
        Ok(out)
    }

    /// Every signed checkpoint (size, note) in order of size, and every cosignature line (size, line).
    #[allow(clippy::type_complexity)]
    pub fn checkpoints(&self) -> Result<(Vec<(i64, String)>, Vec<(i64, String)>), StoreError> {
        let read = |sql: &str| -> Result<Vec<(i64, String)>, StoreError> {
            let mut st = self.conn.prepare(sql).db()?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
            rows.map(|r| r.db()).collect()
        };
        Ok((
            read("SELECT size, note FROM log_checkpoints ORDER BY size")?,
            read("SELECT size, line FROM log_cosignatures ORDER BY size, line")?,
        ))
    }

    /// Up to `limit` cases after number `id`, in order.
    pub fn cases_after(&self, id: i64, limit: i64) -> Result<Vec<SourceCase>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, kind, subject, received_at, due_at, handled_by, receipt_id, closed_at, \
                 closed_by FROM cases WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![id, limit], |r| {
                Ok(SourceCase {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    subject: r.get(2)?,
                    received_at: r.get(3)?,
                    due_at: r.get(4)?,
                    handled_by: r.get(5)?,
                    receipt_id: r.get(6)?,
                    closed_at: r.get(7)?,
                    closed_by: r.get(8)?,
                })
            })
            .db()?;
        rows.map(|r| r.db()).collect()
    }

    /// Up to `limit` webhook deliveries after number `id`, in order.
    pub fn deliveries_after(&self, id: i64, limit: i64) -> Result<Vec<SourceDelivery>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, msg_id, webhook, subject, event, occurs_at, purposes, payload, case_id, \
                 state, attempts, failures, next_at_ms, dead_at_ms, lease_until_ms, last_error, \
                 delivered_at FROM webhook_deliveries WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![id, limit], |r| {
                Ok(SourceDelivery {
                    id: r.get(0)?,
                    msg_id: r.get(1)?,
                    webhook: r.get(2)?,
                    subject: r.get(3)?,
                    event: r.get(4)?,
                    occurs_at: r.get(5)?,
                    purposes: r.get(6)?,
                    payload: r.get(7)?,
                    case_id: r.get(8)?,
                    state: r.get(9)?,
                    attempts: r.get(10)?,
                    failures: r.get(11)?,
                    next_at_ms: r.get(12)?,
                    dead_at_ms: r.get(13)?,
                    lease_until_ms: r.get(14)?,
                    last_error: r.get(15)?,
                    delivered_at: r.get(16)?,
                })
            })
            .db()?;
        rows.map(|r| r.db()).collect()
    }

    /// The idempotency keys that have not expired at `now` (unix seconds).
    pub fn idempotency_keys(&self, now: i64) -> Result<Vec<SourceIdempotency>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT key, body, receipt, expires_at FROM idempotency WHERE expires_at > ?1 \
                 ORDER BY key",
            )
            .db()?;
        let rows = st
            .query_map(params![now], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .db()?;
        rows.map(|r| r.db()).collect()
    }
}
