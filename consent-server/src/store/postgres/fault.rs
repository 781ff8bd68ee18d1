//! PostgreSQL's errors as the engine-neutral [`StoreError`]: what says the database cannot take the
//! write now is [`StoreError::Unavailable`] with its [`Outage`]; everything else (a constraint, a
//! trigger, a type error, a missing privilege) is [`StoreError::Backend`].
//!
//! - `disk_full` (53100): [`Outage::DiskFull`];
//! - `io_error` (58030), class 08 (connection exceptions), the server shutting down or starting
//!   (57P01, 57P02, 57P03), a connection that closed or could not be made: [`Outage::Io`];
//! - `read_only_sql_transaction` (25006): [`Outage::ReadOnly`] (a standby, or
//!   `default_transaction_read_only`);
//! - `lock_not_available` (55P03), a statement or lock timeout (57014), serialisation failures and
//!   deadlocks (40001, 40P01), the server out of connections or memory (53300, 53200, 53000), and a pool
//!   that had no connection to give in time: [`Outage::Locked`].

use deadpool_postgres::{PoolError, TimeoutType};
use tokio_postgres::error::SqlState;

use crate::store::{Outage, StoreError};

/// The outage a SQLSTATE means, if it means one.
pub(super) fn outage_of(code: &SqlState) -> Option<Outage> {
    let code = code.code();
    match code {
        "53100" => Some(Outage::DiskFull),
        "58030" | "57P01" | "57P02" | "57P03" => Some(Outage::Io),
        _ if code.starts_with("08") => Some(Outage::Io),
        "25006" => Some(Outage::ReadOnly),
        "55P03" | "57014" | "40001" | "40P01" | "53000" | "53200" | "53300" => Some(Outage::Locked),
        _ => None,
    }
}

/// The outage a driver error means, if it means one: a server's error by its SQLSTATE; a connection
/// that is closed, failed or timed out is [`Outage::Io`].
pub(super) fn outage(e: &tokio_postgres::Error) -> Option<Outage> {
    if let Some(code) = e.code() {
        return outage_of(code);
    }
    let io = std::iter::successors(std::error::Error::source(e), |s| s.source())
        .any(|s| s.is::<std::io::Error>());
    (e.is_closed() || io || e.to_string() == "timeout waiting for server").then_some(Outage::Io)
}

/// The driver's error as a [`StoreError`].
pub(super) fn store_error(e: tokio_postgres::Error) -> StoreError {
    match outage(&e) {
        Some(outage) => StoreError::Unavailable {
            outage,
            source: Some(Box::new(e)),
        },
        None => StoreError::Backend(Box::new(e)),
    }
}

/// The pool's error as a [`StoreError`]: no connection within the wait is [`Outage::Locked`] (every
/// connection is busy); a connection that cannot be made (or made in time) is [`Outage::Io`].
pub(super) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => store_error(e),
        PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable {
            outage: Outage::Locked,
            source: Some(Box::new(PoolError::Timeout(TimeoutType::Wait))),
        },
        PoolError::Timeout(t) => StoreError::Unavailable {
            outage: Outage::Io,
            source: Some(Box::new(PoolError::Timeout(t))),
        },
        PoolError::Closed => StoreError::Closed,
        other => StoreError::Backend(Box::new(other)),
    }
}

/// Results of the driver, as the store's.
pub(super) trait Pg<T> {
    fn pg(self) -> Result<T, StoreError>;
}

impl<T> Pg<T> for Result<T, tokio_postgres::Error> {
    fn pg(self) -> Result<T, StoreError> {
        self.map_err(store_error)
    }
}

impl<T> Pg<T> for Result<T, PoolError> {
    fn pg(self) -> Result<T, StoreError> {
        self.map_err(pool_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_outages() {
        for (code, want) in [
            (SqlState::DISK_FULL, Some(Outage::DiskFull)),
            (SqlState::IO_ERROR, Some(Outage::Io)),
            (SqlState::CONNECTION_EXCEPTION, Some(Outage::Io)),
            (SqlState::CONNECTION_FAILURE, Some(Outage::Io)),
            (
                SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                Some(Outage::Io),
            ),
            (SqlState::ADMIN_SHUTDOWN, Some(Outage::Io)),
            (SqlState::CRASH_SHUTDOWN, Some(Outage::Io)),
            (SqlState::CANNOT_CONNECT_NOW, Some(Outage::Io)),
            (SqlState::READ_ONLY_SQL_TRANSACTION, Some(Outage::ReadOnly)),
            (SqlState::LOCK_NOT_AVAILABLE, Some(Outage::Locked)),
            (SqlState::QUERY_CANCELED, Some(Outage::Locked)),
            (SqlState::T_R_SERIALIZATION_FAILURE, Some(Outage::Locked)),
            (SqlState::T_R_DEADLOCK_DETECTED, Some(Outage::Locked)),
            (SqlState::TOO_MANY_CONNECTIONS, Some(Outage::Locked)),
            // Not "retry later": a bug, a trigger or a deployment mistake, answered 500.
            (SqlState::UNIQUE_VIOLATION, None),
            (SqlState::RAISE_EXCEPTION, None),
            (SqlState::INSUFFICIENT_PRIVILEGE, None),
            (SqlState::UNDEFINED_TABLE, None),
            (SqlState::DATA_CORRUPTED, None),
        ] {
            assert_eq!(outage_of(&code), want, "{}", code.code());
        }
    }

    #[test]
    fn pool_timeouts_are_outages() {
        assert!(matches!(
            pool_error(PoolError::Timeout(TimeoutType::Wait)),
            StoreError::Unavailable {
                outage: Outage::Locked,
                ..
            }
        ));
        assert!(matches!(
            pool_error(PoolError::Timeout(TimeoutType::Create)),
            StoreError::Unavailable {
                outage: Outage::Io,
                ..
            }
        ));
        assert!(matches!(pool_error(PoolError::Closed), StoreError::Closed));
    }
}
