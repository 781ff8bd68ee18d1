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
    r#"
-- Issue 20. Data keys: one per subject, the key its receipts' names are sealed under (payload version 2).
-- Erasure deletes the row (with secure_delete on, its bytes are zeroed in the page). Kept in a table of
-- its own so that a backup can leave it out (README, "Backups and erasure").
CREATE TABLE data_keys (
    subject     TEXT PRIMARY KEY,
    key         BLOB NOT NULL CHECK (length(key) = 32),
    created_seq INTEGER NOT NULL
);
-- Receipts stay append-only, with one exception: on erasure, a version 1 receipt that names a person in
-- clear has its JWS replaced by its redacted form (`erased:` + the header, the payload without the names,
-- the signature; DESIGN.md, "What version 1 receipts keep"). Every other column stays.
DROP TRIGGER receipts_append_only_update;
CREATE TRIGGER receipts_append_only_update BEFORE UPDATE ON receipts
    WHEN NOT (NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.subject IS OLD.subject
        AND NEW.issued_at IS OLD.issued_at AND NEW.policy_version IS OLD.policy_version
        AND NEW.method IS OLD.method AND NEW.kid IS OLD.kid AND NEW.browser IS OLD.browser
        AND NEW.decisions IS OLD.decisions AND NEW.expires_at IS OLD.expires_at
        AND NEW.actor IS OLD.actor AND OLD.jws NOT LIKE 'erased:%' AND NEW.jws LIKE 'erased:%')
    BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
-- Rights requests as cases (issue 20.3): when each arrived, who handled it, its legal due date, and when
-- it closed. Cases are never deleted; closing sets closed_at once.
CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('withdrawal', 'unsubscribe', 'restriction', 'unblocking',
                                              'erasure', 'access')),
    subject     TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    due_at      INTEGER,
    handled_by  TEXT NOT NULL,
    receipt_id  TEXT,
    closed_at   INTEGER,
    closed_by   TEXT
);
CREATE INDEX cases_open ON cases (closed_at, due_at);
CREATE INDEX cases_subject ON cases (subject, id);
CREATE TRIGGER cases_kept BEFORE DELETE ON cases
    BEGIN SELECT RAISE(ABORT, 'cases are kept'); END;
CREATE TRIGGER cases_close_once BEFORE UPDATE ON cases
    WHEN NOT (OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL AND NEW.id IS OLD.id
        AND NEW.kind IS OLD.kind AND NEW.subject IS OLD.subject AND NEW.received_at IS OLD.received_at
        AND NEW.due_at IS OLD.due_at AND NEW.handled_by IS OLD.handled_by
        AND NEW.receipt_id IS OLD.receipt_id)
    BEGIN SELECT RAISE(ABORT, 'a case only closes, once'); END;
-- Subjects with a live record (issue 20.6): a receipt not followed by an erasure. One row per subject,
-- kept by the writer; the count is what Law 94-V's size classes count.
CREATE TABLE subjects (
    subject  TEXT PRIMARY KEY,
    live     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX subjects_live ON subjects (live);
INSERT INTO subjects (subject, live)
    SELECT r.subject, NOT EXISTS (SELECT 1 FROM events e WHERE e.subject = r.subject AND e.kind = 'erase'
                                  AND e.at >= (SELECT MAX(issued_at) FROM receipts x WHERE x.subject = r.subject))
    FROM receipts r GROUP BY r.subject;
"#,
    super::webhooks::MIGRATION,
    r#"
-- The consent log (issue 21, `DESIGN.md`): every receipt and rights event gets a log index, 0, 1, 2…,
-- in one order without gaps, given by the writer when its batch commits.
ALTER TABLE receipts ADD COLUMN log_index INTEGER;
CREATE UNIQUE INDEX receipts_log ON receipts (log_index);
-- A rights event's signed record (its entry in the log); NULL for events made before the log, which are
-- not logged.
ALTER TABLE events ADD COLUMN record TEXT;
ALTER TABLE events ADD COLUMN log_index INTEGER;
CREATE UNIQUE INDEX events_log ON events (log_index);
-- Receipts stored before the log are logged first, in their order (the tiles follow at open).
-- The trigger comes back as migration 4 made it (the one exception: an erasure's redaction of a version
-- 1 receipt), and the redaction keeps the log index too.
DROP TRIGGER receipts_append_only_update;
UPDATE receipts SET log_index = seq - 1;
CREATE TRIGGER receipts_append_only_update BEFORE UPDATE ON receipts
    WHEN NOT (NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.subject IS OLD.subject
        AND NEW.issued_at IS OLD.issued_at AND NEW.policy_version IS OLD.policy_version
        AND NEW.method IS OLD.method AND NEW.kid IS OLD.kid AND NEW.browser IS OLD.browser
        AND NEW.decisions IS OLD.decisions AND NEW.expires_at IS OLD.expires_at
        AND NEW.actor IS OLD.actor AND NEW.log_index IS OLD.log_index
        AND OLD.jws NOT LIKE 'erased:%' AND NEW.jws LIKE 'erased:%')
    BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
-- The tree as committed: its size (the entries its tiles hold) and root.
CREATE TABLE log_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    entries  INTEGER NOT NULL,
    root     BLOB NOT NULL
);
INSERT INTO log_head (id, entries, root)
    VALUES (1, 0, x'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
CREATE TRIGGER log_head_kept BEFORE DELETE ON log_head
    BEGIN SELECT RAISE(ABORT, 'the log head is never deleted'); END;
CREATE TRIGGER log_head_grows BEFORE UPDATE ON log_head WHEN NEW.entries < OLD.entries
    BEGIN SELECT RAISE(ABORT, 'the log only grows'); END;
-- C2SP tlog-tiles hash tiles, one row per tile, rewritten as a partial tile grows (only at its end).
CREATE TABLE log_tiles (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TRIGGER log_tiles_grow BEFORE UPDATE ON log_tiles
    WHEN length(NEW.data) < length(OLD.data) OR substr(NEW.data, 1, length(OLD.data)) IS NOT OLD.data
    BEGIN SELECT RAISE(ABORT, 'a tile only grows at its end'); END;
CREATE TRIGGER log_tiles_kept BEFORE DELETE ON log_tiles
    BEGIN SELECT RAISE(ABORT, 'tiles are append-only'); END;
-- Every checkpoint signed (C2SP tlog-checkpoint), by tree size, and the cosignatures witnesses gave.
CREATE TABLE log_checkpoints (
    size  INTEGER PRIMARY KEY,
    note  TEXT NOT NULL
);
CREATE TRIGGER log_checkpoints_update BEFORE UPDATE ON log_checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER log_checkpoints_delete BEFORE DELETE ON log_checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TABLE log_cosignatures (
    size  INTEGER NOT NULL REFERENCES log_checkpoints (size),
    line  TEXT NOT NULL,
    PRIMARY KEY (size, line)
) WITHOUT ROWID;
"#,
    super::webhooks::EXPIRIES_INDEX,
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
