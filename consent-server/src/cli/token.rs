//! `consent-server token`: bearer tokens for staff and services, and the consent-token keys.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use consent_server::config::Config;
use consent_server::keys::{ServerKeys, random32};
use consent_server::privacy::token_hash;

/// The subcommands of `token`.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Make a new random bearer token and print the config entry (only its hash is stored).
    New {
        /// Role.
        #[arg(long, value_enum)]
        role: CliRole,
        /// Who holds it.
        #[arg(long)]
        name: String,
    },
    /// Print the SHA-256 of a token read from standard input.
    Hash,
    /// Print the consent-token keys as a JWK Set for backend services (secret: handle like the key file).
    Keys,
}

/// A role, as the command line names it.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum CliRole {
    Auditor,
    Operator,
    Service,
}

/// Runs a `token` subcommand.
pub(crate) fn run(config: Option<&Path>, command: Command) -> Result<ExitCode> {
    match command {
        Command::New { role, name } => {
            let token = super::base64_token(&random32()?);
            let role = match role {
                CliRole::Auditor => "auditor",
                CliRole::Operator => "operator",
                CliRole::Service => "service",
            };
            println!("token (give it to {name}; it is not stored anywhere): {token}");
            println!(
                "\nadd to the configuration file:\n\n[[tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{}\"",
                token_hash(&token)
            );
            if role == "service" {
                // A service token must say what it may record; empty lists record nothing.
                println!(
                    "purposes = []            # purpose ids it may record, e.g. [\"marketing\"]\n\
                     collection_points = []   # of \"banner\", \"form\", \"api\""
                );
            }
        }
        Command::Hash => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            println!("{}", token_hash(line.trim()));
        }
        Command::Keys => {
            let config = Config::load(config)?;
            println!("{}", ServerKeys::load(&config.keys)?.token_jwks);
        }
    }
    Ok(ExitCode::SUCCESS)
}
