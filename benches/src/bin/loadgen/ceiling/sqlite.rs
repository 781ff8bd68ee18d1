//! The SQLite ceiling: a fresh database file with consent-server's schema and pragmas.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rusqlite::{Connection, TransactionBehavior, params};

use super::{Backend, Row, Store};

/// SQLite files in a directory, set up as consent-server sets up its database.
pub(crate) struct Sqlite {
    dir: PathBuf,
}

impl Sqlite {
    /// Databases go to `dir`.
    pub(crate) fn new(dir: &Path) -> Sqlite {
        Sqlite {
            dir: dir.to_path_buf(),
        }
    }
}

impl Backend for Sqlite {
    fn engine(&self) -> &'static str {
        "SQLite"
    }

    fn settings(&self) -> &'static [&'static str] {
        &["WAL", "synchronous=FULL"]
    }

    fn server_shape(&self) -> &'static str {
        "receipt row + savepoint"
    }

    fn open(&self, name: &str) -> Result<Box<dyn Store + '_>> {
        let path = self.dir.join(format!("{name}.db"));
        let conn = Connection::open(&path)?;
        let store = SqliteStore {
            conn,
            _files: Files(path),
        };
        store.conn.pragma_update(None, "journal_mode", "WAL")?;
        store.conn.pragma_update(None, "synchronous", "FULL")?;
        store.conn.pragma_update(None, "foreign_keys", "ON")?;
        // consent-server's schema, exactly (its migrations, applied in order).
        store
            .conn
            .execute_batch(&consent_server::store::MIGRATIONS.concat())?;
        Ok(Box::new(store))
    }
}

/// One database; its files are removed when dropped.
struct SqliteStore {
    conn: Connection,
    /// Dropped after the connection (fields drop in order), so the files are closed first.
    _files: Files,
}

/// A database file and its `-wal` and `-shm` files, removed when dropped.
struct Files(PathBuf);

/// Exactly the row the server inserts per receipt.
const INSERT: &str = "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, browser, decisions, expires_at, actor, jws)
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

fn insert(c: &Connection, row: &Row<'_>) -> rusqlite::Result<()> {
    c.prepare_cached(INSERT)?.execute(params![
        row.id,
        row.subject,
        row.issued_at,
        Row::POLICY_VERSION,
        Row::METHOD,
        Row::KID,
        Row::BROWSER,
        Row::DECISIONS,
        row.expires_at,
        Row::ACTOR,
        row.jws
    ])?;
    Ok(())
}

impl Store for SqliteStore {
    fn insert(&mut self, rows: &[Row<'_>], server_shaped: bool) -> Result<()> {
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for row in rows {
            if server_shaped {
                // As the server does: each write in its own savepoint.
                let sp = tx.savepoint()?;
                insert(&sp, row)?;
                sp.commit()?;
            } else {
                insert(&tx, row)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}
