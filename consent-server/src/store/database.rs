//! [`Database`]: the `database` setting, which chooses the engine. A `postgres://` (or
//! `postgresql://`) URL is PostgreSQL; anything else is the path of a SQLite file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::postgres::{PgStore, PostgresUrl, is_postgres_url};
use super::sqlite::SqliteStore;
use super::{Store, StoreError, StoreOptions};

/// Where receipts are kept.
///
/// ```
/// use consent_server::store::Database;
///
/// assert!(matches!(Database::parse("consent.db").unwrap(), Database::Sqlite(_)));
/// let pg = Database::parse("postgres://app:secret@db.example.kz/consent?sslmode=disable").unwrap();
/// assert!(matches!(pg, Database::Postgres(_)));
/// assert_eq!(pg.to_string(), "postgres://app@db.example.kz:5432/consent?sslmode=disable");
/// ```
#[derive(Clone)]
pub enum Database {
    /// A SQLite file (created on first use), in WAL mode.
    Sqlite(PathBuf),
    /// A PostgreSQL database, shared by any number of instances.
    Postgres(Box<PostgresUrl>),
}

impl Database {
    /// A `postgres://…` URL, or the path of a SQLite file.
    pub fn parse(s: &str) -> Result<Database, String> {
        if is_postgres_url(s) {
            Ok(Database::Postgres(Box::new(PostgresUrl::parse(s)?)))
        } else if s.is_empty() {
            Err("the database is empty: give a SQLite file or a postgres:// URL".into())
        } else {
            Ok(Database::Sqlite(PathBuf::from(s)))
        }
    }

    /// Opens the store (creating and migrating the database if needed).
    pub fn open(&self, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            Database::Sqlite(path) => Arc::new(SqliteStore::open_with(path, options)?),
            Database::Postgres(url) => Arc::new(PgStore::open(url, options)?),
        })
    }

    /// The SQLite file, if the engine is SQLite.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(p) => Some(p),
            Database::Postgres(_) => None,
        }
    }

    /// Whether this is PostgreSQL (shared by instances: keys come from the key file, never generated).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

impl Default for Database {
    fn default() -> Self {
        Database::Sqlite(PathBuf::from("consent.db"))
    }
}

impl From<PathBuf> for Database {
    fn from(p: PathBuf) -> Self {
        Database::Sqlite(p)
    }
}

impl std::fmt::Display for Database {
    /// The file, or the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{}", p.display()),
            Database::Postgres(u) => u.fmt(f),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Database::Postgres(u) => f.debug_tuple("Postgres").field(u).finish(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Database {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Database::parse(&s).map_err(serde::de::Error::custom)
    }
}
