//! Backups that keep erasure true (issue 20.1, `DESIGN.md` "Where the keys live"): the receipts and
//! the data keys are written to two files, kept for different times. Restoring keys never brings back
//! a key that an erasure destroyed after it was made.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::{Db as _, SqliteStore};
use crate::store::StoreError;

/// What a backup wrote.
#[derive(Debug)]
pub struct Backup {
    /// Everything but the data keys: keep it as long as the proof of consent is needed.
    pub receipts: PathBuf,
    /// The data keys only: keep it for a short time (the names can be read with it until it is gone).
    pub keys: PathBuf,
    /// Data keys written.
    pub key_count: u64,
}

/// What restoring keys did.
#[derive(Debug, PartialEq, Eq)]
pub struct KeysRestored {
    /// Keys put back.
    pub restored: u64,
    /// Keys left out: their subject was erased after the key was made (or the database has no receipt
    /// that made it).
    pub erased: u64,
    /// Keys the database already had.
    pub present: u64,
}

fn exists(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Err(StoreError::CommitFailed(format!(
            "{} exists: a backup never overwrites",
            path.display()
        )));
    }
    Ok(())
}

impl SqliteStore {
    /// Writes a consistent copy of the database without its data keys to `receipts`, and the data
    /// keys alone to `keys` (both new files, mode 0600). Runs beside the writer (SQLite's
    /// `VACUUM INTO` reads one snapshot). The copy is made, then its keys are deleted with
    /// `secure_delete` and it is vacuumed, so the file holds no key bytes.
    pub fn backup(&self, receipts: &Path, keys: &Path) -> Result<Backup, StoreError> {
        exists(receipts)?;
        exists(keys)?;
        let c = super::open(&self.path, true)?;
        let target = receipts.to_str().ok_or_else(|| {
            StoreError::CommitFailed(format!("{} is not UTF-8", receipts.display()))
        })?;
        c.execute("VACUUM INTO ?1", params![target]).db()?;
        restrict(receipts)?;
        let copy = Connection::open(receipts).db()?;
        copy.pragma_update(None, "secure_delete", "ON").db()?;
        copy.pragma_update(None, "journal_mode", "DELETE").db()?;
        let key_file = super::open(keys, false)?;
        key_file
            .pragma_update(None, "journal_mode", "DELETE")
            .db()?;
        key_file
            .execute_batch(
                "CREATE TABLE data_keys (subject TEXT PRIMARY KEY, key BLOB NOT NULL CHECK (length(key) = 32),
                                         created_seq INTEGER NOT NULL);
                 CREATE TABLE made (issued_at_of_seq INTEGER, seq INTEGER PRIMARY KEY);",
            )
            .db()?;
        let mut n = 0u64;
        {
            let mut rows = copy
                .prepare("SELECT k.subject, k.key, k.created_seq, r.issued_at FROM data_keys k LEFT JOIN receipts r ON r.seq = k.created_seq")
                .db()?;
            let mut rows = rows.query([]).db()?;
            while let Some(r) = rows.next().db()? {
                let (subject, key, seq, at): (String, Vec<u8>, i64, Option<i64>) = (
                    r.get(0).db()?,
                    r.get(1).db()?,
                    r.get(2).db()?,
                    r.get(3).db()?,
                );
                key_file
                    .execute(
                        "INSERT INTO data_keys (subject, key, created_seq) VALUES (?1, ?2, ?3)",
                        params![subject, key, seq],
                    )
                    .db()?;
                key_file
                    .execute(
                        "INSERT OR IGNORE INTO made (seq, issued_at_of_seq) VALUES (?1, ?2)",
                        params![seq, at],
                    )
                    .db()?;
                n += 1;
            }
        }
        drop(key_file);
        copy.execute("DELETE FROM data_keys", []).db()?;
        copy.execute_batch("VACUUM").db()?;
        Ok(Backup {
            receipts: receipts.to_owned(),
            keys: keys.to_owned(),
            key_count: n,
        })
    }

    /// Puts back the data keys of a key backup ([`SqliteStore::backup`]), except those whose subject
    /// has an erasure at or after the receipt that made the key: the erasures made since the backup
    /// are replayed from the `events` table, which names only pseudonyms and is never deleted. Keys
    /// the database has are left as they are.
    pub fn restore_keys(&self, keys: &Path) -> Result<KeysRestored, StoreError> {
        let from = super::open(keys, true)?;
        let live = super::open(&self.path, false)?;
        let mut out = KeysRestored {
            restored: 0,
            erased: 0,
            present: 0,
        };
        let mut st = from
            .prepare("SELECT k.subject, k.key, k.created_seq, m.issued_at_of_seq FROM data_keys k LEFT JOIN made m ON m.seq = k.created_seq")
            .db()?;
        let mut rows = st.query([]).db()?;
        while let Some(r) = rows.next().db()? {
            let (subject, key, seq, made): (String, Vec<u8>, i64, Option<i64>) = (
                r.get(0).db()?,
                r.get(1).db()?,
                r.get(2).db()?,
                r.get(3).db()?,
            );
            let present: bool = live
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM data_keys WHERE subject = ?1)",
                    params![subject],
                    |r| r.get(0),
                )
                .db()?;
            if present {
                out.present += 1;
                continue;
            }
            // The key was made with receipt `seq`, at `made`; an erasure then or later destroyed it.
            let erased: bool = live
                .query_row(
                    "SELECT ?2 IS NULL OR NOT EXISTS (SELECT 1 FROM receipts WHERE seq = ?3 AND subject = ?1)
                        OR EXISTS (SELECT 1 FROM events WHERE subject = ?1 AND kind = 'erase' AND at >= ?2)",
                    params![subject, made, seq],
                    |r| r.get(0),
                )
                .db()?;
            if erased {
                out.erased += 1;
                continue;
            }
            live.execute(
                "INSERT INTO data_keys (subject, key, created_seq) VALUES (?1, ?2, ?3)",
                params![subject, key, seq],
            )
            .db()?;
            out.restored += 1;
        }
        Ok(out)
    }
}

/// Makes `path` readable by its owner only (it holds pseudonymous personal data).
fn restrict(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::CommitFailed(format!("{}: {e}", path.display())))?;
    }
    let _ = path;
    Ok(())
}
