-- What consent-server's application role may do on PostgreSQL, and nothing more. Run it as the owner of
-- the tables (the role that applied the migrations), after the first migration:
--
--     psql "postgres://consent_owner@db.example.kz/consent" -v app=consent_app -f postgres-grants.sql
--
-- Receipts and events are append-only: the application may read and add them, never change or remove
-- them (and the tables' triggers refuse that even to the owner). An erasure deletes a pseudonym link and
-- the idempotency keys of the person's requests, so the application may delete those (keys also lapse
-- after a day). The application numbers receipts and events through the one row of log_head, which it
-- updates; the probe row is rewritten while the storage fails. Issue 20: an erasure deletes the
-- subject's data key (the table's trigger allows it only once the erasure is recorded) and redacts the
-- JWS of version 1 receipts naming the person (the trigger allows that change only); closing a case sets
-- when and by whom; live subjects are counted in `subjects`. Issue 20.4: webhook deliveries are added with
-- the receipt or event, then claimed, leased and marked delivered, failed or dead; never deleted.
GRANT SELECT, INSERT ON receipts, events, policies TO :"app";
GRANT UPDATE (jws) ON receipts TO :"app";
GRANT SELECT, INSERT, DELETE ON subject_links, data_keys TO :"app";
GRANT SELECT, INSERT, DELETE ON idempotency TO :"app";
GRANT SELECT, INSERT ON cases TO :"app";
GRANT UPDATE (closed_at, closed_by) ON cases TO :"app";
GRANT SELECT, INSERT ON subjects TO :"app";
GRANT UPDATE (live) ON subjects TO :"app";
GRANT SELECT, INSERT ON webhook_deliveries TO :"app";
GRANT UPDATE (state, attempts, failures, next_at_ms, dead_at_ms, lease_until_ms, last_error, delivered_at)
    ON webhook_deliveries TO :"app";
-- log_head also holds when and by what the database was first served (set once at an instance's first
-- start; `migrate --to` refuses the database from then on): the same UPDATE.
GRANT SELECT, UPDATE ON log_head TO :"app";
-- The consent log: tiles grow (a partial tile is rewritten, only longer), checkpoints and cosignatures
-- are added.
GRANT SELECT, INSERT, UPDATE ON log_tiles TO :"app";
GRANT SELECT, INSERT ON log_checkpoints, log_cosignatures TO :"app";
GRANT SELECT, INSERT, UPDATE ON probe TO :"app";
GRANT SELECT ON schema_migrations TO :"app";
-- `migrate --to`'s progress and whether each copy ran to its end: an instance reads it at its first start,
-- to refuse a database whose copy from SQLite has not finished.
GRANT SELECT ON imports TO :"app";
