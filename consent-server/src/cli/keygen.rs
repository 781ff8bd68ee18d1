//! `consent-server keygen`: a new key file, or new active keys in an existing one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use consent_server::keys::ServerKeys;

/// The arguments of `keygen`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Key file to write.
    #[arg(long, default_value = "consent-keys.json")]
    out: PathBuf,
    /// Add new active keys to an existing file (old keys keep verifying).
    #[arg(long, conflicts_with = "add_log_key")]
    rotate: bool,
    /// Add the consent log's key to a key file written before the log (other keys unchanged).
    #[arg(long)]
    add_log_key: bool,
}

/// Writes the key file (mode 0600; never over an existing one unless rotating) and says what signs.
pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    if args.add_log_key {
        let added = ServerKeys::add_log_key(&args.out)?;
        println!(
            "{} {}",
            args.out.display(),
            if added {
                "now has a log key (the log's vkey is at /log/key once the server runs)"
            } else {
                "already has a log key: unchanged"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let keys = if args.rotate {
        ServerKeys::rotate(&args.out, super::now())?
    } else {
        ServerKeys::generate(&args.out, super::now(), false)?
    };
    let (kid, alg) = keys.receipts.active().context("no active key")?;
    println!(
        "wrote {} (mode 0600): receipts signed with {kid} ({alg}), tokens with {}",
        args.out.display(),
        keys.tokens.active()
    );
    Ok(ExitCode::SUCCESS)
}
