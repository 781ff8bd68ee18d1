//! `consent-server cases list | close` and `consent-server subjects`: rights requests with their legal
//! due dates, and the number of subjects with a live record.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use consent_server::AppState;
use consent_server::api;
use consent_server::cases;
use consent_server::config::Config;
use consent_server::store::{CaseId, CaseQuery};

use super::bootstrap::{require_installation, state};

/// The `cases` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Open cases (or all with --all), oldest first: number, kind, subject, received, due, handled by.
    List {
        /// Only those past their due date.
        #[arg(long)]
        overdue: bool,
        /// Closed ones too.
        #[arg(long)]
        all: bool,
    },
    /// Close an open case: its action is done (an access request's copy was given).
    Close {
        /// The case's number.
        id: u64,
        /// Who closed it (default: `cli:` and the user's login name).
        #[arg(long)]
        by: Option<String>,
    },
}

pub(crate) fn with_state<T>(
    config: Option<&Path>,
    f: impl AsyncFnOnce(&AppState) -> Result<T>,
) -> Result<T> {
    let config = Config::load(config)?;
    require_installation(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let state = state(config).await?;
        let out = f(&state).await;
        let store = Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || store.close()).await?;
        out
    })
}

/// Runs a `cases` subcommand.
pub(crate) fn run(config: Option<&Path>, command: Command) -> Result<ExitCode> {
    with_state(config, async |state| match command {
        Command::List { overdue, all } => {
            let list = state.store.cases(&CaseQuery {
                open_only: !all,
                ..CaseQuery::default()
            })?;
            let now = (state.clock)().0;
            println!("id\tkind\tsubject\treceived_at\tdue_at\thandled_by\tstatus");
            let mut n = 0;
            for c in list
                .iter()
                .filter(|c| !overdue || cases::overdue(&state.calendar, c, now))
            {
                n += 1;
                let due = cases::due_at(&state.calendar, c)
                    .map_or_else(|| "unknown (calendar)".to_owned(), |t| t.to_string());
                let status = match &c.closed {
                    Some((at, by)) => format!("closed {at} by {by}"),
                    None if cases::overdue(&state.calendar, c, now) => "OVERDUE".to_owned(),
                    None => "open".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{due}\t{}\t{status}",
                    c.id, c.kind, c.subject, c.received_at, c.handled_by
                );
            }
            eprintln!("{n} case(s)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Close { id, by } => {
            let by = super::rights::handler(by);
            api::close_case(state, CaseId(id), &by)
                .await
                .map_err(|e| anyhow!(e.message))?;
            println!("case {id} closed by {by}");
            Ok(ExitCode::SUCCESS)
        }
    })
}

/// `consent-server subjects`: distinct subjects with a live record (a receipt not followed by an
/// erasure): persons, and anonymous devices.
pub(crate) fn subjects(config: Option<&Path>) -> Result<ExitCode> {
    with_state(config, async |state| {
        let live = state.store.live_subjects()?;
        println!("persons\t{}\ndevices\t{}", live.persons, live.devices);
        Ok(ExitCode::SUCCESS)
    })
}
