-- What consent-server's application role may do on PostgreSQL, and nothing more. Run it as the owner of
-- the tables (the role that applied the migrations), after the first migration:
--
--     psql "postgres://consent_owner@db.example.kz/consent" -v app=consent_app -f postgres-grants.sql
--
-- Receipts and events are append-only: the application may read and add them, never change or remove
-- them (and the tables' triggers refuse that even to the owner). An erasure deletes a pseudonym link and
-- the idempotency keys of the person's requests, so the application may delete those (keys also lapse
-- after a day). The application numbers receipts and events through the one row of log_head, which it
-- updates; the probe row is rewritten while the storage fails.
GRANT SELECT, INSERT ON receipts, events, policies TO :"app";
GRANT SELECT, INSERT, DELETE ON subject_links TO :"app";
GRANT SELECT, INSERT, DELETE ON idempotency TO :"app";
GRANT SELECT, UPDATE ON log_head TO :"app";
GRANT SELECT, INSERT, UPDATE ON probe TO :"app";
GRANT SELECT ON schema_migrations TO :"app";
