//! `consent-server serve`: the HTTP server, until SIGTERM or Ctrl-C (then in-flight requests finish within
//! the grace period, and queued writes are committed).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use consent_server::app;
use consent_server::config::Config;
use consent_server::serve::Limits;

/// Loads the configuration, builds the state and serves until asked to stop.
pub(crate) fn run(config: Option<&Path>) -> Result<ExitCode> {
    let config = Config::load(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listen = config.listen;
        let state = super::bootstrap::state(config).await?;
        let store = Arc::clone(&state.store);
        let Some(vkey) = state.log.verifier() else {
            anyhow::bail!(
                "the key file {} has no log key (it was written before the consent log): run \
                 `consent-server keygen --add-log-key --out {}` once, then start again",
                state.config.keys.display(),
                state.config.keys.display()
            );
        };
        tracing::info!(%vkey, "the log's verifier key");
        tracing::info!(
            policy = %state.policy.version(),
            sha256 = %state.policy.hash(),
            database = %state.config.database,
            "consent-server listening on http://{listen}"
        );
        consent_server::site::log_startup(&state.config);
        tokio::spawn({
            let state = state.clone();
            async move { state.prepare().await }
        });
        tokio::spawn({
            let state = state.clone();
            async move { state.forget_idle_clients().await }
        });
        // A checkpoint of what the log holds before the first request, so that an auditor asking
        // right after a restart gets the log as it is (entries logged when the store opened, or by a
        // batch whose checkpoint a crash prevented), not the one before. Bounded: a database that is
        // not there yet delays the start by at most a few seconds; the checkpointer retries.
        match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            consent_server::log::checkpoint_once(&state),
        )
        .await
        {
            Ok(Ok((size, _))) => tracing::info!(size, "the consent log's checkpoint"),
            Ok(Err(e)) => tracing::warn!(error = %e.message, "no checkpoint signed at start"),
            Err(_) => {
                tracing::warn!("no checkpoint signed at start: the database is slow to answer")
            }
        }
        tokio::spawn(consent_server::log::keep_checkpointing(state.clone()));
        // Webhook deliveries (issue 20.4): what is pending, from before a restart too, goes out now.
        let worker = consent_server::webhooks::Worker::new(
            Arc::clone(&state.store),
            Arc::clone(&state.webhooks),
        )?;
        if !state.webhooks.is_empty() {
            tracing::info!(
                webhooks = state.webhooks.list().len(),
                "webhook delivery worker started"
            );
        }
        tokio::spawn(worker.run());
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let limits = Limits::from_config(&state.config);
        let metrics = Arc::clone(&state.metrics);
        consent_server::serve::run(listener, app(state), limits, metrics, shutdown_signal()).await;
        tracing::info!("connections closed; committing queued writes");
        tokio::task::spawn_blocking(move || store.close()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}
