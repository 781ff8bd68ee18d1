//! `consent-server backup` and `consent-server restore-keys`: backups that keep erasure true
//! (`DESIGN.md`, "Where the keys live"; the README's "Backups and erasure").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use consent_server::config::Config;
use consent_server::store::{SqliteStore, Store};

use super::bootstrap::require_installation;

/// The arguments of `backup`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The copy of the database without the data keys (a new file): keep it as long as the proof of
    /// consent is needed.
    #[arg(long)]
    receipts: PathBuf,
    /// The data keys alone (a new file, mode 0600): keep it for a short time only.
    #[arg(long)]
    keys: PathBuf,
}

/// Writes the two backup files.
pub(crate) fn backup(config: Option<&Path>, args: &Args) -> Result<ExitCode> {
    let config = Config::load(config)?;
    require_installation(&config)?;
    let path = sqlite_file(&config)?;
    let store =
        SqliteStore::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let b = store.backup(&args.receipts, &args.keys)?;
    store.close();
    println!(
        "receipts (no data keys): {}\ndata keys ({}): {}",
        b.receipts.display(),
        b.key_count,
        b.keys.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Puts back the data keys of a key backup, except those destroyed by an erasure since.
pub(crate) fn restore_keys(config: Option<&Path>, keys: &Path) -> Result<ExitCode> {
    let config = Config::load(config)?;
    require_installation(&config)?;
    let path = sqlite_file(&config)?;
    let store =
        SqliteStore::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let r = store.restore_keys(keys)?;
    store.close();
    println!(
        "restored {} data key(s); left out {} of subjects erased since; {} already present",
        r.restored, r.erased, r.present
    );
    Ok(ExitCode::SUCCESS)
}

/// The SQLite database file; on PostgreSQL, backups are `pg_dump`'s, split the same way.
fn sqlite_file(config: &Config) -> Result<&Path> {
    config.database.sqlite_file().ok_or_else(|| {
        anyhow::anyhow!(
            "the database is PostgreSQL: back it up with pg_dump in two parts, without the data keys \
             (--exclude-table-data=data_keys) and the data keys alone (--table=data_keys, kept briefly); \
             see the README, \"Backups and erasure\""
        )
    })
}
