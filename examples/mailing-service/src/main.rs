//! The foundation's mailing service, as a receiver of the consent server's webhooks (issue 20.5).
//!
//! It keeps its newsletter list in a small file (one subject pseudonym a line) and listens for
//! deliveries: each is checked with the `standardwebhooks` crate (signature and timestamp) before
//! anything is read; `consent.given` for `marketing` adds the subject, `consent.withdrawn` or
//! `consent.unsubscribed` for `marketing`, `subject.restricted` and `subject.erased` remove them; then
//! it acknowledges with 204. A delivery seen before (the same `webhook-id`, sent again because an
//! acknowledgement was lost) is acknowledged without acting twice.
//!
//! ```text
//! mailing-service --listen 127.0.0.1:9090 --secret-file mailing.secret --list newsletter.txt
//! ```
//!
//! The README (`examples/mailing-service/README.md`) shows it next to the server.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::Parser;
use consent_core::{Notification, WebhookEvent};
use tokio::sync::Mutex;

/// The purpose whose consent the newsletter needs.
const NEWSLETTER_PURPOSE: &str = "marketing";

#[derive(Parser)]
#[command(about = "The foundation's mailing service: a webhook receiver of the consent server.")]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// The file holding the webhook's secret (`whsec_…`, the same as the server's `secret_file`).
    #[arg(long, env = "MAILING_WEBHOOK_SECRET_FILE")]
    secret_file: PathBuf,
    /// The newsletter list: one subject pseudonym a line (created if missing).
    #[arg(long, default_value = "newsletter.txt")]
    list: PathBuf,
    /// Also append each event acted on to this file (`webhook-id type subject`), for audits and tests.
    #[arg(long)]
    log: Option<PathBuf>,
}

struct Service {
    verifier: standardwebhooks::Webhook,
    list_path: PathBuf,
    log_path: Option<PathBuf>,
    /// The list, and the `webhook-id`s already handled.
    state: Mutex<(BTreeSet<String>, HashSet<String>)>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let secret = std::fs::read_to_string(&args.secret_file)
        .with_context(|| format!("cannot read {}", args.secret_file.display()))?;
    let verifier = standardwebhooks::Webhook::new(secret.trim())
        .map_err(|e| anyhow::anyhow!("webhook secret: {e}"))?;
    let list = match std::fs::read_to_string(&args.list) {
        Ok(text) => text
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", args.list.display())),
    };
    let service = Arc::new(Service {
        verifier,
        list_path: args.list,
        log_path: args.log,
        state: Mutex::new((list, HashSet::new())),
    });
    let app = axum::Router::new()
        .route("/webhooks/consent", post(receive))
        .with_state(service);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "mailing-service listening on http://{}/webhooks/consent",
        args.listen
    );
    axum::serve(listener, app).await?;
    Ok(())
}

/// One delivery: verify, act, acknowledge.
async fn receive(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, (StatusCode, String)> {
    service
        .verifier
        .verify(&body, &headers)
        .map_err(|e| (StatusCode::UNAUTHORIZED, format!("signature: {e}")))?;
    let n = Notification::from_json(&body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("payload: {e}")))?;
    let id = headers
        .get(standardwebhooks::HEADER_WEBHOOK_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut state = service.state.lock().await;
    if state.1.contains(&id) {
        return Ok(StatusCode::NO_CONTENT);
    }
    let marketing = n
        .data
        .purposes
        .iter()
        .any(|p| p.as_str() == NEWSLETTER_PURPOSE);
    let subject = n.data.subject.clone();
    let changed = match n.event {
        WebhookEvent::Given if marketing => state.0.insert(subject.clone()),
        WebhookEvent::Withdrawn | WebhookEvent::Unsubscribed | WebhookEvent::Expired
            if marketing =>
        {
            state.0.remove(&subject)
        }
        WebhookEvent::Restricted | WebhookEvent::Erased => state.0.remove(&subject),
        _ => false,
    };
    if changed {
        save(&service.list_path, &state.0).await.map_err(|e| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("list not saved: {e}"),
            )
        })?;
        eprintln!(
            "{} {subject}: newsletter {}",
            n.event,
            if state.0.contains(&subject) {
                "on"
            } else {
                "stopped"
            }
        );
    }
    if let Some(log) = &service.log_path {
        use tokio::io::AsyncWriteExt as _;
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        f.write_all(format!("{id} {} {subject}\n", n.event).as_bytes())
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    }
    state.1.insert(id);
    // Acknowledged only once the list is on disk: a crash before it means the server sends again.
    Ok(StatusCode::NO_CONTENT)
}

/// Writes the list atomically (a temporary file renamed over it).
async fn save(path: &std::path::Path, list: &BTreeSet<String>) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let text: String = list.iter().map(|s| format!("{s}\n")).collect();
    tokio::fs::write(&tmp, text).await?;
    tokio::fs::rename(&tmp, path).await
}
