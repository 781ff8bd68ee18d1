//! The `consent-server` command: serve the API, make keys and tokens, check policies, verify and
//! export receipts, record rights requests.
//!
//! This file parses the command line and dispatches; each command is a file in `cli/`, and what the
//! server and the offline staff commands share (configuration, policies, keys, the state) is loaded in
//! `cli/bootstrap.rs`.

mod cli;

/// mimalloc rather than the system allocator (DESIGN.md "consent-server: the cost of a request").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use consent_server::store::Rights;

use cli::rights::Request;
use cli::{
    audit, backup, cases, export, keygen, migrate, policy, receipts, rights, serve, token, webhooks,
};

#[derive(Parser)]
#[command(
    name = "consent-server",
    version,
    about = "Records consent choices as signed receipts, and serves them to auditors and data subjects."
)]
struct Cli {
    /// Configuration file (TOML); CONSENT_* environment variables override it.
    #[arg(long, global = true, env = "CONSENT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (with nothing configured: 127.0.0.1:8080, ./consent.db, development keys,
    /// the demo site at / and the banner from ./target/banner at /consent/).
    Serve,
    /// Write a new key file (mode 0600), or rotate the keys of an existing one.
    Keygen(keygen::Args),
    /// Bearer tokens for staff and services.
    Token {
        #[command(subcommand)]
        command: token::Command,
    },
    /// Policy files.
    Policy {
        #[command(subcommand)]
        command: policy::Command,
    },
    /// Receipts.
    Receipts {
        #[command(subcommand)]
        command: receipts::Command,
    },
    /// Export receipts from the database.
    Export(export::Args),
    /// Check the consent log from outside (an auditor), or witness it (cosign its checkpoints).
    Audit {
        #[command(subcommand)]
        command: audit::Command,
    },
    /// Withdraw a subject's consents (all, or --purpose), with a receipt.
    Withdraw(rights::Args),
    /// Restrict (block) processing of a subject's data.
    Restrict(rights::Args),
    /// Lift a restriction.
    Unblock(rights::Args),
    /// Erase: unlink the person from their receipts (which stay verifiable) and destroy their data key
    /// (the names in their receipts can no longer be read).
    Erase(rights::Args),
    /// Record an access request (a copy of the subject's history): a case, open until closed.
    Access(rights::Args),
    /// Rights requests as cases, with their legal due dates: list, close.
    Cases {
        #[command(subcommand)]
        command: cases::Command,
    },
    /// Webhook deliveries to the subscribed systems: list (pending, dead), retry dead-letter ones.
    Webhooks {
        #[command(subcommand)]
        command: webhooks::Command,
    },
    /// How many distinct subjects have a live record (Law 94-V's size classes count them).
    Subjects,
    /// Back up the database as two files: receipts without the data keys, and the data keys alone.
    Backup(backup::Args),
    /// Put back the data keys of a key backup, except those of subjects erased since.
    RestoreKeys {
        /// The key backup file (`backup --keys`).
        file: PathBuf,
    },
    /// Copy the SQLite database into PostgreSQL (verified, resumable), or only create its schema.
    Migrate(migrate::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONSENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = cli.config.as_deref();
    let done = match cli.command {
        Command::Serve => serve::run(config),
        Command::Keygen(args) => keygen::run(&args),
        Command::Token { command } => token::run(config, command),
        Command::Policy { command } => policy::run(command),
        Command::Receipts { command } => receipts::run(command),
        Command::Export(args) => export::run(config, args),
        Command::Audit { command } => audit::run(command),
        Command::Withdraw(args) => rights::run(config, args, Request::Withdraw),
        Command::Restrict(args) => rights::run(config, args, Request::Rights(Rights::Restrict)),
        Command::Unblock(args) => rights::run(config, args, Request::Rights(Rights::Unblock)),
        Command::Erase(args) => rights::run(config, args, Request::Rights(Rights::Erase)),
        Command::Access(args) => rights::run(config, args, Request::Access),
        Command::Cases { command } => cases::run(config, command),
        Command::Subjects => cases::subjects(config),
        Command::Webhooks { command } => webhooks::run(config, command),
        Command::Backup(args) => backup::backup(config, &args),
        Command::RestoreKeys { file } => backup::restore_keys(config, &file),
        Command::Migrate(args) => migrate::run(config, &args),
    };
    done.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
