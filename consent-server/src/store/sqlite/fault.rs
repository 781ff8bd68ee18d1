//! SQLite's errors as the engine-neutral [`StoreError`]: what says the storage cannot take the write now
//! (a full disk, an I/O error, a read-only file, a lock held too long) is [`StoreError::Unavailable`]
//! with its [`Outage`]; everything else (a constraint, corruption, misuse) is [`StoreError::Backend`].

use rusqlite::ErrorCode;

use crate::store::{Outage, StoreError};

/// The outage a SQLite error means, if it means one.
pub(super) fn outage(e: &rusqlite::Error) -> Option<Outage> {
    match e.sqlite_error_code()? {
        ErrorCode::DiskFull => Some(Outage::DiskFull),
        // SQLITE_IOERR and all its extended codes (write, fsync, shared memory…); a file that cannot
        // be opened (a missing directory, no file descriptors left).
        ErrorCode::SystemIoFailure | ErrorCode::CannotOpen => Some(Outage::Io),
        ErrorCode::ReadOnly | ErrorCode::PermissionDenied => Some(Outage::ReadOnly),
        ErrorCode::DatabaseBusy
        | ErrorCode::DatabaseLocked
        | ErrorCode::FileLockingProtocolFailed => Some(Outage::Locked),
        _ => None,
    }
}

/// SQLite's error as a [`StoreError`].
pub(super) fn store_error(e: rusqlite::Error) -> StoreError {
    match outage(&e) {
        Some(outage) => StoreError::Unavailable {
            outage,
            source: Some(Box::new(e)),
        },
        None => StoreError::Backend(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::{Connection, OpenFlags, ffi};

    use super::*;

    fn code(c: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(c), None)
    }

    #[test]
    fn result_codes_map_to_outages() {
        for (c, want) in [
            (ffi::SQLITE_FULL, Some(Outage::DiskFull)),
            (ffi::SQLITE_IOERR, Some(Outage::Io)),
            (ffi::SQLITE_IOERR_WRITE, Some(Outage::Io)),
            (ffi::SQLITE_IOERR_FSYNC, Some(Outage::Io)),
            (ffi::SQLITE_IOERR_SHMSIZE, Some(Outage::Io)),
            (ffi::SQLITE_CANTOPEN, Some(Outage::Io)),
            (ffi::SQLITE_READONLY, Some(Outage::ReadOnly)),
            (ffi::SQLITE_READONLY_DBMOVED, Some(Outage::ReadOnly)),
            (ffi::SQLITE_PERM, Some(Outage::ReadOnly)),
            (ffi::SQLITE_BUSY, Some(Outage::Locked)),
            (ffi::SQLITE_BUSY_SNAPSHOT, Some(Outage::Locked)),
            (ffi::SQLITE_LOCKED, Some(Outage::Locked)),
            (ffi::SQLITE_PROTOCOL, Some(Outage::Locked)),
            // Not "retry later": a bug or a damaged file, answered 500 and logged every time.
            (ffi::SQLITE_CONSTRAINT_UNIQUE, None),
            (ffi::SQLITE_CORRUPT, None),
            (ffi::SQLITE_NOTADB, None),
            (ffi::SQLITE_MISUSE, None),
            (ffi::SQLITE_NOMEM, None),
        ] {
            assert_eq!(outage(&code(c)), want, "result code {c}");
        }
        assert_eq!(outage(&rusqlite::Error::QueryReturnedNoRows), None);
        assert!(matches!(
            store_error(code(ffi::SQLITE_FULL)),
            StoreError::Unavailable {
                outage: Outage::DiskFull,
                source: Some(_)
            }
        ));
        assert!(matches!(
            store_error(code(ffi::SQLITE_CORRUPT)),
            StoreError::Backend(_)
        ));
    }

    /// Real SQLite failures, not constructed codes: a database at its size limit, a read-only
    /// connection, a write lock held by another connection.
    #[test]
    fn real_failures_are_classified() {
        let dir = std::env::temp_dir().join(format!("consent-fault-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x BLOB);")
            .unwrap();
        // Full: the file may not grow past its current pages (what SQLite answers on ENOSPC too).
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "max_page_count", pages).unwrap();
        let e = conn
            .execute("INSERT INTO t VALUES (zeroblob(100000))", [])
            .unwrap_err();
        assert!(
            matches!(
                store_error(e),
                StoreError::Unavailable {
                    outage: Outage::DiskFull,
                    ..
                }
            ),
            "full"
        );
        // Read-only.
        let ro = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let e = ro.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert_eq!(outage(&e), Some(Outage::ReadOnly), "{e}");
        // Locked: another connection holds the write lock, and this one does not wait.
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        let e = other.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert_eq!(outage(&e), Some(Outage::Locked), "{e}");
        conn.execute_batch("ROLLBACK").unwrap();
        // A constraint is a bug of ours, not an outage (the page limit above is the first connection's).
        other
            .execute_batch("CREATE TABLE u (x INTEGER PRIMARY KEY); INSERT INTO u VALUES (1);")
            .unwrap();
        let e = other.execute("INSERT INTO u VALUES (1)", []).unwrap_err();
        assert!(matches!(store_error(e), StoreError::Backend(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
