//! `consent-server policy check`: every problem of a policy file at once.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use consent_core::Policy;

/// The subcommands of `policy`.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Check a policy file and print every problem (exit 1 if any).
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

/// Runs a `policy` subcommand.
pub(crate) fn run(command: Command) -> Result<ExitCode> {
    let Command::Check { file } = command;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    match Policy::from_toml(&text) {
        Ok(p) => {
            println!(
                "{}: ok: policy {} version {}, {} purposes, sha256 {}",
                file.display(),
                p.id(),
                p.version(),
                p.purposes().len(),
                p.hash()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for problem in e.problems() {
                println!("{}:{problem}", file.display());
            }
            eprintln!("{}: {} problem(s)", file.display(), e.problems().len());
            Ok(ExitCode::FAILURE)
        }
    }
}
