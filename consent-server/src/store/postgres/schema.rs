//! The PostgreSQL schema: versioned migrations recorded in `schema_migrations`, applied once under an
//! advisory lock (several instances may start at the same moment), and the checks that the server is
//! set up to make a commit durable.

use deadpool_postgres::Client;

use super::fault::Pg as _;
use crate::store::StoreError;

/// The advisory lock held while migrating: `hashtext('consent-server/migrations')` would do as well;
/// a constant is easier to find in `pg_locks` (`objid` 0x636f6e73, "cons").
const MIGRATION_LOCK: i64 = 0x636f_6e73_656e_7401;

/// Schema migrations, applied in order; `schema_migrations` records each version applied (1, 2, …).
///
/// The order of receipts and events: `seq` is not an identity column (a sequence hands out numbers in
/// the order transactions ask, not the order they commit, and loses the numbers of transactions that roll
/// back). Each batch takes the next numbers from `log_head` under its row lock, held to `COMMIT`, so the
/// numbers of committed rows have no gaps and grow in commit order across every instance (`DESIGN.md`).
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE policies (
    version    text PRIMARY KEY,
    sha256     text NOT NULL,
    canonical  text NOT NULL
);
CREATE TABLE receipts (
    seq            bigint PRIMARY KEY CHECK (seq > 0),
    id             uuid NOT NULL UNIQUE,
    subject        text NOT NULL,
    issued_at      bigint NOT NULL,
    policy_version text NOT NULL,
    method         text NOT NULL,
    kid            text NOT NULL,
    browser        text,
    -- What the receipt decided, for folding consent state without parsing JWS: `purpose=choice;...`.
    decisions      text NOT NULL,
    expires_at     bigint NOT NULL,
    actor          text NOT NULL,
    jws            text NOT NULL
);
CREATE INDEX receipts_subject ON receipts (subject, seq);
CREATE INDEX receipts_issued ON receipts (issued_at, seq);
-- Rights requests (consents are the receipts themselves).
CREATE TABLE events (
    seq      bigint PRIMARY KEY CHECK (seq > 0),
    subject  text NOT NULL,
    at       bigint NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('restrict', 'unblock', 'erase'))
);
CREATE INDEX events_subject ON events (subject, seq);
CREATE TABLE subject_links (
    lookup   bytea PRIMARY KEY,
    subject  text NOT NULL UNIQUE
);
-- The last number given to a receipt and to an event. A batch locks this row (UPDATE), takes the next
-- numbers and commits: one order, without gaps, in commit order, across every instance.
CREATE TABLE log_head (
    id        integer PRIMARY KEY CHECK (id = 1),
    receipts  bigint NOT NULL,
    events    bigint NOT NULL
);
INSERT INTO log_head (id, receipts, events) VALUES (1, 0, 0);
-- `consent-server migrate --to`: how far the copy of a SQLite database's events got (by its `seq`), so
-- that a copy run again after an interruption adds none twice.
CREATE TABLE imports (
    source  text PRIMARY KEY,
    events  bigint NOT NULL
);
-- One row the writer rewrites while the storage fails and no client writes: does the database write?
CREATE TABLE probe (
    id  integer PRIMARY KEY CHECK (id = 1),
    n   bigint NOT NULL
);

-- Append-only, even for the tables' owner: no UPDATE, DELETE or TRUNCATE of receipts and events, and a
-- policy version never changes.
CREATE FUNCTION consent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER receipts_append_only BEFORE UPDATE OR DELETE ON receipts
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('receipts are append-only');
CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON receipts
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('receipts are append-only');
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('events are append-only');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('events are append-only');
CREATE TRIGGER policies_immutable BEFORE UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('policy versions are immutable');
CREATE TRIGGER policies_no_truncate BEFORE TRUNCATE ON policies
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('policy versions are immutable');
CREATE TRIGGER log_head_kept BEFORE DELETE ON log_head
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('the log head is never deleted');
CREATE TRIGGER log_head_no_truncate BEFORE TRUNCATE ON log_head
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('the log head is never deleted');
"#,
    r#"
-- Idempotency keys of consent requests (issue 18.7): a keyed hash of the caller and the key, a keyed
-- hash of the body, the receipt of the first answer; deleted once expired (a day) and on erasure. Written
-- in the transaction of the receipt, under the lock of log_head (the writer's order of locks).
CREATE TABLE idempotency (
    key         bytea PRIMARY KEY,
    body        bytea NOT NULL,
    receipt     uuid NOT NULL,
    expires_at  bigint NOT NULL
);
CREATE INDEX idempotency_expires ON idempotency (expires_at);
CREATE INDEX idempotency_receipt ON idempotency (receipt);
"#,
    r#"
-- Issue 20 (as SQLite's migration 4). Data keys: one per subject, the key its receipts' names are sealed
-- under (payload version 2), kept in a table of its own so that a backup can leave it out. The one table
-- rows are deleted from, and only by an erasure: a key never changes, and its row may go only once an
-- erasure of its subject is recorded after the key was made. Deleted rows stay in the table's pages
-- until vacuumed, so autovacuum visits it after any deletion (README, "Backups and erasure").
CREATE TABLE data_keys (
    subject     text PRIMARY KEY,
    key         bytea NOT NULL CHECK (length(key) = 32),
    created_seq bigint NOT NULL
) WITH (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
CREATE FUNCTION consent_data_key_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM events e WHERE e.subject = OLD.subject AND e.kind = 'erase'
               AND e.at >= (SELECT r.issued_at FROM receipts r WHERE r.seq = OLD.created_seq)) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'a data key is deleted only by an erasure of its subject'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER data_keys_erasure_only BEFORE DELETE ON data_keys
    FOR EACH ROW EXECUTE FUNCTION consent_data_key_erased();
CREATE TRIGGER data_keys_never_change BEFORE UPDATE ON data_keys
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('data keys never change');
CREATE TRIGGER data_keys_no_truncate BEFORE TRUNCATE ON data_keys
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('a data key is deleted only by an erasure of its subject');
-- Receipts stay append-only, with one exception: once an erasure of its subject is recorded, a version 1
-- receipt that names a person in clear has its JWS replaced by its redacted form (`erased:` + the header,
-- the payload without the names, the signature; DESIGN.md, "What version 1 receipts keep"), once. Every
-- other column stays.
CREATE FUNCTION consent_receipt_redaction_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.seq, NEW.id, NEW.subject, NEW.issued_at, NEW.policy_version, NEW.method, NEW.kid,
            NEW.browser, NEW.decisions, NEW.expires_at, NEW.actor)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.id, OLD.subject, OLD.issued_at, OLD.policy_version, OLD.method, OLD.kid,
            OLD.browser, OLD.decisions, OLD.expires_at, OLD.actor)
       AND NOT starts_with(OLD.jws, 'erased:') AND starts_with(NEW.jws, 'erased:')
       AND EXISTS (SELECT 1 FROM events e WHERE e.subject = OLD.subject AND e.kind = 'erase') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'receipts are append-only' USING ERRCODE = 'restrict_violation';
END
$$;
DROP TRIGGER receipts_append_only ON receipts;
CREATE TRIGGER receipts_append_only BEFORE UPDATE OR DELETE ON receipts
    FOR EACH ROW EXECUTE FUNCTION consent_receipt_redaction_only();
-- Rights requests as cases (issue 20.3): when each arrived, who handled it, its legal due date, and when
-- it closed. Cases are never deleted; closing sets closed_at once. Their numbers come from an identity
-- (a rolled-back case leaves a gap; cases are not a log).
CREATE TABLE cases (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('withdrawal', 'unsubscribe', 'restriction', 'unblocking',
                                              'erasure', 'access')),
    subject     text NOT NULL,
    received_at bigint NOT NULL,
    due_at      bigint,
    handled_by  text NOT NULL,
    receipt_id  uuid,
    closed_at   bigint,
    closed_by   text
);
CREATE INDEX cases_open ON cases (due_at) WHERE closed_at IS NULL;
CREATE INDEX cases_subject ON cases (subject, id);
CREATE FUNCTION consent_case_close_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL
       AND (NEW.id, NEW.kind, NEW.subject, NEW.received_at, NEW.due_at, NEW.handled_by, NEW.receipt_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.kind, OLD.subject, OLD.received_at, OLD.due_at, OLD.handled_by, OLD.receipt_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a case only closes, once' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER cases_close_once BEFORE UPDATE ON cases
    FOR EACH ROW EXECUTE FUNCTION consent_case_close_once();
CREATE TRIGGER cases_kept BEFORE DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('cases are kept');
CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('cases are kept');
-- Subjects with a live record (issue 20.6): a receipt not followed by an erasure. One row per subject,
-- kept by the writer; the count is what Law 94-V's size classes count.
CREATE TABLE subjects (
    subject  text PRIMARY KEY,
    live     boolean NOT NULL
);
CREATE INDEX subjects_live ON subjects (subject) WHERE live;
INSERT INTO subjects (subject, live)
    SELECT r.subject, NOT EXISTS (SELECT 1 FROM events e WHERE e.subject = r.subject AND e.kind = 'erase'
                                  AND e.at >= MAX(r.issued_at))
    FROM receipts r GROUP BY r.subject;
"#,
    super::webhooks::MIGRATION,
    r#"
-- The consent log (issue 21, `DESIGN.md`): every receipt and rights event gets a log index, 0, 1, 2…,
-- in one order without gaps across every instance, given under the lock of `log_head` in the batch's
-- transaction.
ALTER TABLE receipts ADD COLUMN log_index bigint UNIQUE CHECK (log_index >= 0);
-- A rights event's signed record (its entry in the log); NULL for events made before the log, which are
-- not logged.
ALTER TABLE events ADD COLUMN record text;
ALTER TABLE events ADD COLUMN log_index bigint UNIQUE CHECK (log_index >= 0);
ALTER TABLE events ADD CONSTRAINT events_logged CHECK ((record IS NULL) = (log_index IS NULL));
-- Receipts stored before the log are logged first, in their order (the tiles follow at open).
ALTER TABLE receipts DISABLE TRIGGER receipts_append_only;
UPDATE receipts SET log_index = seq - 1;
ALTER TABLE receipts ENABLE TRIGGER receipts_append_only;
-- An erasure's redaction of a version 1 receipt (migration 3) keeps the log index too.
CREATE OR REPLACE FUNCTION consent_receipt_redaction_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.seq, NEW.id, NEW.subject, NEW.issued_at, NEW.policy_version, NEW.method, NEW.kid,
            NEW.browser, NEW.decisions, NEW.expires_at, NEW.actor, NEW.log_index)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.id, OLD.subject, OLD.issued_at, OLD.policy_version, OLD.method, OLD.kid,
            OLD.browser, OLD.decisions, OLD.expires_at, OLD.actor, OLD.log_index)
       AND NOT starts_with(OLD.jws, 'erased:') AND starts_with(NEW.jws, 'erased:')
       AND EXISTS (SELECT 1 FROM events e WHERE e.subject = OLD.subject AND e.kind = 'erase') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'receipts are append-only' USING ERRCODE = 'restrict_violation';
END
$$;
-- The tree as committed: its size (the entries its tiles hold) and root (SHA-256 of nothing when empty).
ALTER TABLE log_head ADD COLUMN entries bigint NOT NULL DEFAULT 0 CHECK (entries >= 0);
ALTER TABLE log_head ADD COLUMN root bytea NOT NULL
    DEFAULT '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
CREATE FUNCTION consent_log_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.entries < OLD.entries OR NEW.receipts < OLD.receipts OR NEW.events < OLD.events THEN
        RAISE EXCEPTION 'the log only grows' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER log_head_grows BEFORE UPDATE ON log_head
    FOR EACH ROW EXECUTE FUNCTION consent_log_grows();
-- C2SP tlog-tiles hash tiles, one row per tile, rewritten as a partial tile grows (only at its end).
CREATE TABLE log_tiles (
    level  smallint NOT NULL CHECK (level BETWEEN 0 AND 7),
    idx    bigint NOT NULL CHECK (idx >= 0),
    data   bytea NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE FUNCTION consent_tile_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF length(NEW.data) < length(OLD.data)
       OR substring(NEW.data FROM 1 FOR length(OLD.data)) <> OLD.data THEN
        RAISE EXCEPTION 'a tile only grows at its end' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER log_tiles_grow BEFORE UPDATE ON log_tiles
    FOR EACH ROW EXECUTE FUNCTION consent_tile_grows();
CREATE TRIGGER log_tiles_kept BEFORE DELETE ON log_tiles
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('tiles are append-only');
CREATE TRIGGER log_tiles_no_truncate BEFORE TRUNCATE ON log_tiles
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('tiles are append-only');
-- Every checkpoint signed (C2SP tlog-checkpoint), by tree size, when it was stored (instances sign at
-- most one a second between them), and the cosignatures witnesses gave.
CREATE TABLE log_checkpoints (
    size       bigint PRIMARY KEY CHECK (size >= 0),
    note       text NOT NULL,
    signed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX log_checkpoints_signed ON log_checkpoints (signed_at);
CREATE TRIGGER log_checkpoints_append_only BEFORE UPDATE OR DELETE ON log_checkpoints
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('checkpoints are append-only');
CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('checkpoints are append-only');
CREATE TABLE log_cosignatures (
    size  bigint NOT NULL REFERENCES log_checkpoints (size),
    line  text NOT NULL,
    PRIMARY KEY (size, line)
);
CREATE TRIGGER log_cosignatures_append_only BEFORE UPDATE OR DELETE ON log_cosignatures
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change('cosignatures are append-only');
CREATE TRIGGER log_cosignatures_no_truncate BEFORE TRUNCATE ON log_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change('cosignatures are append-only');
"#,
    super::webhooks::EXPIRIES_INDEX,
    super::served::MIGRATION,
    // Migration 8 (issue 19.7): `subjects_live` (migration 3) is dropped. It served only the count of
    // live subjects (`/metrics`), which reads every live row anyway (a scan of the table is as fast), and
    // cost every new subject, so nearly every first receipt, a second entry in a B-tree of random keys:
    // 200,000 new subjects took 2.5-3.5 s with it and 1.4-1.5 s without (one statement each, the
    // throwaway cluster, 2026-12-06).
    "DROP INDEX IF EXISTS subjects_live;",
];

/// Applies the migrations not applied yet, each in its own transaction, holding an advisory lock so that
/// instances starting together apply each one once. With the schema up to date it only reads
/// `schema_migrations`, so the application's role needs no right to create tables.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    // Tried rather than waited for: a session's `lock_timeout` would end the wait while another
    // instance migrates.
    while !client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .pg()?
        .try_get::<_, bool>(0)
        .pg()?
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let done = apply(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .pg();
    done.and(unlocked.map(|_| ()))
}

async fn apply(client: &mut Client) -> Result<(), StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .pg()?
        .get(0);
    if !exists {
        client
            .batch_execute(
                "CREATE TABLE schema_migrations (
                     version     integer PRIMARY KEY,
                     applied_at  timestamptz NOT NULL DEFAULT now()
                 )",
            )
            .await
            .map_err(|e| privileges(e, "create the table schema_migrations"))?;
    }
    let applied: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .pg()?
        .get(0);
    let applied = usize::try_from(applied).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let tx = client.transaction().await.pg()?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| privileges(e, &format!("apply migration {version}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .pg()?;
        tx.commit().await.pg()?;
        tracing::info!(migration = version, "applied database migration");
    }
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database's schema is at version {applied}, newer than this server's ({}): \
             upgrade the server",
            MIGRATIONS.len()
        )));
    }
    Ok(())
}

/// A migration that the role may not make says which role must.
fn privileges(e: tokio_postgres::Error, what: &str) -> StoreError {
    if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
        return StoreError::Backend(
            format!(
                "this role may not {what}: run the server once with the schema's owner role to \
                 migrate (README, \"PostgreSQL\"), then start it with the application role ({e})"
            )
            .into(),
        );
    }
    super::fault::store_error(e)
}

/// Refuses a server that cannot make a commit durable: `fsync` off. (`synchronous_commit` is set on
/// for each of the store's sessions, whatever the server's default.)
pub(super) async fn check_durability(client: &Client) -> Result<(), StoreError> {
    let row = client
        .query_one(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'), \
             current_setting('full_page_writes')",
            &[],
        )
        .await
        .pg()?;
    let (fsync, sync_commit, fpw): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    if fsync != "on" {
        return Err(StoreError::Backend(
            "the PostgreSQL server runs with fsync = off: a commit would not survive a crash, so \
             no receipt could be acknowledged; turn fsync on"
                .into(),
        ));
    }
    if sync_commit == "off" {
        return Err(StoreError::Backend(
            "synchronous_commit is off for this session: receipts would be acknowledged before they \
             are durable"
                .into(),
        ));
    }
    if fpw != "on" {
        tracing::warn!(
            "the PostgreSQL server runs with full_page_writes = off: a crash can tear pages unless \
             the file system prevents it"
        );
    }
    Ok(())
}
