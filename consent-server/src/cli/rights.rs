//! `consent-server withdraw | restrict | unblock | erase`: rights requests from the command line, with
//! the same effect (and, for a withdrawal, the same receipt) as the operators' endpoints.

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
}

/// Records `what` for the subject (`None`: a withdrawal) in the configured installation.
pub(crate) fn run(config: Option<&Path>, a: Args, what: Option<Rights>) -> Result<ExitCode> {
    let config = Config::load(config)?;
    require_installation(&config)?;
    if let (Some(r), false) = (what, a.purposes.is_empty()) {
        bail!(
            "--purpose is for withdraw only; {} applies to the whole subject",
            r.as_str()
        );
    }
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
            None => {
                let purposes = (!a.purposes.is_empty()).then_some(a.purposes);
                let out = api::staff_withdraw(&state, subject, purposes)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Some(r) => {
                let at = api::staff_rights(&state, subject, r)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!("{} {subject} at {at}", r.as_str());
            }
        }
        let store = Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || store.close()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
