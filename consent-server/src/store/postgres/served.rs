//! Whether consent-server has served on this database: the guard between `migrate --to` and the
//! instances (issue 19.4). The copy is for a database no server has started on; once one has, the
//! database's state is newer than the SQLite file's (deliveries attempted, leased, acknowledged or
//! retried here; links, data keys and idempotency keys deleted by erasures here), and a copy would
//! overwrite it or bring the deleted rows back. So:
//!
//! - a store opened to serve (any command but `migrate`) records, the first time, when and by what
//!   (`log_head.served_since`, `served_by`: set once, kept by the trigger even against the owner), unless
//!   a copy into the database has not finished (`imports.finished`): then it refuses to start;
//! - a copy checks that record before it writes anything, and marks its source unfinished in the same
//!   transaction.
//!
//! Both take the row lock of `log_head` first, so a server starting while a copy begins is ordered
//! with it: either the server marked the database and the copy refuses, or the copy marked itself
//! unfinished and the server refuses.

use tokio_postgres::GenericClient;

use super::fault::Pg as _;
use crate::store::{Outage, StoreError};

/// Migration 7: the record of the first start, and the copy's end.
pub(super) const MIGRATION: &str = r#"
-- `migrate --to` refuses a database consent-server has served on (issue 19.4): when a store was first
-- opened to serve (an instance or any command but `migrate`) and by what. Set once; never changed or
-- cleared, even by the owner (the trigger of `log_head`).
ALTER TABLE log_head ADD COLUMN served_since timestamptz;
ALTER TABLE log_head ADD COLUMN served_by text;
ALTER TABLE log_head ADD CONSTRAINT log_head_served CHECK ((served_since IS NULL) = (served_by IS NULL));
CREATE OR REPLACE FUNCTION consent_log_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.entries < OLD.entries OR NEW.receipts < OLD.receipts OR NEW.events < OLD.events THEN
        RAISE EXCEPTION 'the log only grows' USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.served_since IS NOT NULL
       AND (NEW.served_since, NEW.served_by) IS DISTINCT FROM (OLD.served_since, OLD.served_by) THEN
        RAISE EXCEPTION 'when the database was first served is kept' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
-- Whether the copy of a source ran to its end (a run marks it unfinished before it writes, finished
-- after its checks): a server refuses a database holding an unfinished copy. Copies made before this
-- column are taken as finished (the server's older check, a tree behind its entries, still applies).
ALTER TABLE imports ADD COLUMN finished boolean NOT NULL DEFAULT true;
ALTER TABLE imports ALTER COLUMN finished SET DEFAULT false;
"#;

/// `log_head`'s record, locked: (since, by) as text, if the database has been served.
const SERVED_FOR_UPDATE: &str = "SELECT to_char(served_since AT TIME ZONE 'UTC', \
                                 'YYYY-MM-DD HH24:MI:SS') || ' UTC', served_by \
                                 FROM log_head WHERE id = 1 FOR UPDATE";

/// Records, the first time a store is opened to serve, when and by what; refuses a database holding a
/// copy from SQLite that has not finished. A read-only session (a standby) records nothing.
pub(super) async fn mark(client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
    // Looked at without a lock first: once recorded, a start takes no lock.
    let served: bool = client
        .query_one(
            "SELECT served_since IS NOT NULL FROM log_head WHERE id = 1",
            &[],
        )
        .await
        .pg()?
        .get(0);
    if served {
        return Ok(());
    }
    let tx = client.transaction().await.pg()?;
    let row = match tx.query_one(SERVED_FOR_UPDATE, &[]).await.pg() {
        Ok(row) => row,
        // A standby, or `default_transaction_read_only`: it serves reads and writes nothing here.
        Err(StoreError::Unavailable {
            outage: Outage::ReadOnly,
            ..
        }) => return Ok(()),
        Err(e) => return Err(e),
    };
    if row.get::<_, Option<String>>(0).is_some() {
        return tx.commit().await.pg();
    }
    if let Some(source) = unfinished_copy(&*tx).await? {
        return Err(StoreError::Corrupt(format!(
            "this database holds a copy from SQLite that has not finished (of {source}): run \
             `consent-server migrate --to` again to its end before starting the server"
        )));
    }
    tx.execute(
        "UPDATE log_head SET served_since = now(), served_by = $1 || ' as ' || current_user \
         || COALESCE(' from ' || host(inet_client_addr()), ' over a local socket') WHERE id = 1",
        &[&concat!("consent-server ", env!("CARGO_PKG_VERSION"))],
    )
    .await
    .pg()?;
    tx.commit().await.pg()
}

/// Whether this role may read `imports`: one granted before an instance read it at start may not, and
/// then takes the database as holding no copy.
pub(super) async fn imports_readable(c: &impl GenericClient) -> Result<bool, StoreError> {
    Ok(
        c.query_one("SELECT has_table_privilege('imports', 'SELECT')", &[])
            .await
            .pg()?
            .get(0),
    )
}

/// The source of a copy that has not finished, if any ([`imports_readable`]: none if unreadable).
async fn unfinished_copy(c: &impl GenericClient) -> Result<Option<String>, StoreError> {
    if !imports_readable(c).await? {
        return Ok(None);
    }
    Ok(c.query_opt(
        "SELECT source FROM imports WHERE NOT finished ORDER BY source LIMIT 1",
        &[],
    )
    .await
    .pg()?
    .map(|r| r.get(0)))
}

/// For a copy, before it writes anything (in its transaction, which then marks its source
/// unfinished): [`StoreError::TargetServed`] if consent-server has served on the database. Holds the
/// row lock of `log_head` to the end of the transaction.
pub(super) async fn refuse_if_served(c: &impl GenericClient) -> Result<(), StoreError> {
    let row = c.query_one(SERVED_FOR_UPDATE, &[]).await.pg()?;
    match (row.get::<_, Option<String>>(0), row.get(1)) {
        (Some(since), Some(by)) => Err(StoreError::TargetServed { since, by }),
        _ => Ok(()),
    }
}
