//! `consent-server withdraw | restrict | unblock | erase | access`: rights requests from the command
//! line, with the same effect (and, for a withdrawal, the same receipt) as the operators' endpoints,
//! each recorded as a case handled by `--by` (default `cli:$USER`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use consent_core::PurposeId;
use consent_server::api;
use consent_server::config::Config;
use consent_server::privacy::SubjectRef;
use consent_server::store::Rights;

use super::bootstrap::{require_installation, state};

/// The arguments of the rights commands.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The subject: a pseudonym (`sub:…`, `dev:…`) or, with --id, the external id (e-mail, portal id).
    subject: String,
    /// SUBJECT is an external id to look up.
    #[arg(long)]
    id: bool,
    /// Purposes to withdraw (withdraw only; default: every consent purpose).
    #[arg(long = "purpose")]
    purposes: Vec<PurposeId>,
    /// Who handles the request, for its case (default: `cli:` and the user's login name).
    #[arg(long)]
    by: Option<String>,
}

/// What a rights command records.
#[derive(Clone, Copy)]
pub(crate) enum Request {
    /// A withdrawal (a receipt).
    Withdraw,
    /// A restriction, unblocking or erasure.
    Rights(Rights),
    /// An access request (a case, open until closed).
    Access,
}

/// Who handles a request made from the command line: `--by`, or `cli:` and the login name.
pub(crate) fn handler(by: Option<String>) -> String {
    by.unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into())
        )
    })
}

/// Records `what` for the subject (`None`: a withdrawal) in the configured installation.
pub(crate) fn run(config: Option<&Path>, a: Args, what: Request) -> Result<ExitCode> {
    let config = Config::load(config)?;
    require_installation(&config)?;
    let name = match what {
        Request::Withdraw => "withdraw",
        Request::Rights(r) => r.as_str(),
        Request::Access => "access",
    };
    if !matches!(what, Request::Withdraw) && !a.purposes.is_empty() {
        bail!("--purpose is for withdraw only; {name} applies to the whole subject");
    }
    let by = handler(a.by.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let state = state(config).await?;
        let subject: SubjectRef = if a.id {
            api::find_subject(&state, &a.subject)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?
                .context("no subject with this id (never recorded, or already erased)")?
        } else {
            a.subject
                .parse()
                .map_err(|e: String| anyhow::anyhow!("subject: {e}"))?
        };
        match what {
            Request::Withdraw => {
                let purposes = (!a.purposes.is_empty()).then_some(a.purposes);
                let out = api::staff_withdraw(&state, subject, purposes, &by)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Request::Rights(r) => {
                let (at, _) = api::staff_rights(&state, subject, r, &by)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!("{} {subject} at {at}", r.as_str());
            }
            Request::Access => {
                let case = api::staff_access(&state, subject, &by)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!(
                    "access request for {subject}: case {} due {}",
                    case.id,
                    case.due_at
                        .map_or_else(|| "unknown (calendar)".to_owned(), |t| t.to_string())
                );
            }
        }
        let store = Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || store.close()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
