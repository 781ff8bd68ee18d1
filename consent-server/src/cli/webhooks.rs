//! `consent-server webhooks list | retry`: the webhook deliveries (issue 20.4), and putting dead-letter
//! ones back in the queue. The running server (any instance) sends what is put back.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use consent_server::store::{DeliveryId, DeliveryQuery, DeliveryState, Write, Written};

use super::cases::with_state;

/// The `webhooks` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Deliveries not acknowledged yet (or with --dead those in dead-letter, with --all every one),
    /// oldest first: number, system, event, subject, state, attempts, next attempt, last error.
    List {
        /// Only those in dead-letter.
        #[arg(long, conflicts_with = "all")]
        dead: bool,
        /// Delivered and cancelled ones too.
        #[arg(long)]
        all: bool,
    },
    /// Put a dead-letter delivery (ID), or every one (--all-dead), back in the queue, due now, with a
    /// new dead-letter period.
    Retry {
        /// The delivery's number (`webhooks list --dead`).
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<u64>,
        /// Every dead-letter delivery.
        #[arg(long)]
        all_dead: bool,
    },
}

/// Runs a `webhooks` subcommand.
pub(crate) fn run(config: Option<&Path>, command: Command) -> Result<ExitCode> {
    with_state(config, async |state| match command {
        Command::List { dead, all } => {
            let state_filter = match (dead, all) {
                (true, _) => Some(DeliveryState::Dead),
                (false, true) => None,
                (false, false) => Some(DeliveryState::Pending),
            };
            let list = state.store.deliveries(&DeliveryQuery {
                state: state_filter,
                limit: None,
            })?;
            println!("id\twebhook\tevent\tsubject\tstate\tattempts\tnext_at\tlast_error");
            for d in &list {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.webhook,
                    d.event,
                    d.subject,
                    d.state.as_str(),
                    d.attempts,
                    consent_core::Timestamp::from_unix(d.next_at_ms / 1000),
                    d.last_error.as_deref().unwrap_or("-")
                );
            }
            eprintln!("{} deliver(ies)", list.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Retry { id, all_dead } => {
            let id = if all_dead { None } else { id.map(DeliveryId) };
            let (now, ms) = (state.clock)();
            let now_ms = now
                .as_unix()
                .saturating_mul(1000)
                .saturating_add(i64::from(ms));
            let written = state
                .store
                .submit(Write::RetryDeliveries { id, now_ms })?
                .await??;
            let Written::Count(n) = written else {
                bail!("the store did not say how many deliveries it put back");
            };
            if n == 0 && id.is_some() {
                bail!("no dead-letter delivery with this number (`webhooks list --dead`)");
            }
            println!("{n} deliver(ies) back in the queue");
            Ok(ExitCode::SUCCESS)
        }
    })
}
