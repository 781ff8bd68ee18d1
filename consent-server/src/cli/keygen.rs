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
    #[arg(long)]
    rotate: bool,
}

/// Writes the key file (mode 0600; never over an existing one unless rotating) and says what signs.
pub(crate) fn run(args: &Args) -> Result<ExitCode> {
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
