//! A SQLite database read for a copy (`consent-server migrate --to postgres://…`): read-only, in
//! order, a chunk at a time, while the server may still run on it.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

use super::Db as _;
use crate::store::StoreError;

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
}

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
}
