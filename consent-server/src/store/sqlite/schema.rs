//! The SQLite schema: migrations, applied in order at open.

use rusqlite::Connection;

use super::Db as _;
use crate::store::StoreError;

/// Schema migrations, applied in order; `PRAGMA user_version` is the number applied.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE policies (
    version    TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    canonical  TEXT NOT NULL
);
-- seq is the rowid: with deletes forbidden, it only grows (no AUTOINCREMENT bookkeeping needed).
CREATE TABLE receipts (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    subject        TEXT NOT NULL,
    issued_at      INTEGER NOT NULL,
    policy_version TEXT NOT NULL,
    method         TEXT NOT NULL,
    kid            TEXT NOT NULL,
    browser        TEXT,
    -- What the receipt decided, for folding consent state without parsing JWS: `purpose=choice;...`.
    decisions      TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    jws            TEXT NOT NULL
);
CREATE INDEX receipts_subject ON receipts (subject, seq);
CREATE INDEX receipts_issued ON receipts (issued_at, seq);
CREATE TRIGGER receipts_append_only_update BEFORE UPDATE ON receipts
    BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER receipts_append_only_delete BEFORE DELETE ON receipts
    BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER policies_immutable BEFORE UPDATE ON policies
    BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;
-- Rights requests (consents are the receipts themselves).
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    subject        TEXT NOT NULL,
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('restrict', 'unblock', 'erase'))
);
CREATE INDEX events_subject ON events (subject, seq);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE subject_links (
    lookup   BLOB PRIMARY KEY,
    subject  TEXT NOT NULL UNIQUE
);
"#,
    r#"
-- One row the writer rewrites while the storage fails and no client writes: does the disk take writes?
CREATE TABLE probe (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
"#,
    r#"
-- Idempotency keys of consent requests (issue 18.7): a keyed hash of the caller and the key, a keyed
-- hash of the body, the receipt of the first answer; deleted once expired (a day) and on erasure.
CREATE TABLE idempotency (
    key         BLOB PRIMARY KEY,
    body        BLOB NOT NULL,
    receipt     TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX idempotency_expires ON idempotency (expires_at);
CREATE INDEX idempotency_receipt ON idempotency (receipt);
"#,
];

/// Applies the migrations not applied yet, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .db()?
        .try_into()
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().db()?;
        tx.execute_batch(sql).db()?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )
        .db()?;
        tx.commit().db()?;
        tracing::info!(migration = i + 1, "applied database migration");
    }
    Ok(())
}
