//! The delivery loop: while the server runs, it claims the due deliveries (each the oldest not
//! acknowledged for its system and subject, leased to this instance), sends them concurrently, and
//! records each outcome: acknowledged, or failed and due again after an exponential backoff with
//! jitter, or, past its dead-letter time, dead. Times are the system clock's milliseconds.

use std::sync::Arc;
use std::time::Duration;

use super::route::millis;
use super::{SendError, Subscriptions};
use crate::store::{Attempt, Delivery, DeliveryCount, DeliveryState, Store, Write, Written};

/// How often the loop looks for due deliveries when there were none.
const POLL: Duration = Duration::from_millis(200);
/// Most deliveries claimed at once.
const CLAIM: u32 = 64;
/// A claim's lease beyond the longest attempt: time to record the outcome. A delivery claimed by an
/// instance that dies is sent again once its lease ends.
const LEASE_MARGIN_MS: i64 = 10_000;

/// The delay before attempt `failures + 1` after `failures` failures (at least 1): `min` doubled per
/// earlier failure, at most `max`, with jitter: a uniform draw (`random`) between half and all of it,
/// so that receivers coming back are not hit by every instance at once.
///
/// ```
/// use consent_server::webhooks::backoff_ms;
/// assert_eq!(backoff_ms(1, 1000, 60_000, 0), 500);
/// assert_eq!(backoff_ms(1, 1000, 60_000, 500), 1000);
/// assert_eq!(backoff_ms(3, 1000, 60_000, 2000), 4000);
/// assert_eq!(backoff_ms(40, 1000, 60_000, 30_000), 60_000);
/// for random in [0, 1, 12_345, u64::MAX] {
///     let d = backoff_ms(5, 1000, 60_000, random);
///     assert!((8000..=16_000).contains(&d));
/// }
/// ```
pub fn backoff_ms(failures: u32, min_ms: u64, max_ms: u64, random: u64) -> u64 {
    let exp = failures.saturating_sub(1).min(62);
    let full = min_ms.saturating_mul(1u64 << exp).min(max_ms);
    let half = full / 2;
    half + random % (full - half + 1)
}

/// The webhook delivery worker of one instance.
pub struct Worker {
    store: Arc<dyn Store>,
    subscriptions: Arc<Subscriptions>,
    client: reqwest::Client,
}

impl Worker {
    /// A worker sending the deliveries of `store` to `subscriptions`.
    pub fn new(
        store: Arc<dyn Store>,
        subscriptions: Arc<Subscriptions>,
    ) -> Result<Worker, SendError> {
        let client = reqwest::Client::builder()
            // A receiver acknowledges itself: a redirect is a failure, not a hop to somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "consent-server/",
                env!("CARGO_PKG_VERSION"),
                " webhooks"
            ))
            .build()
            .map_err(|e| SendError::Transport(e.to_string()))?;
        Ok(Worker {
            store,
            subscriptions,
            client,
        })
    }

    /// Runs until the store closes.
    pub async fn run(self) {
        if self.subscriptions.is_empty() {
            return;
        }
        let lease_ms = self
            .subscriptions
            .list()
            .iter()
            .map(|s| millis(s.timeout))
            .max()
            .unwrap_or(0)
            .saturating_add(LEASE_MARGIN_MS);
        loop {
            match self.round(lease_ms).await {
                Ok(0) => tokio::time::sleep(POLL).await,
                Ok(_) => {}
                Err(crate::store::StoreError::Closed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries: store failed");
                    tokio::time::sleep(POLL * 5).await;
                }
            }
        }
    }

    /// One round: claims what is due, sends it, records the outcomes; how many were claimed.
    async fn round(&self, lease_ms: i64) -> Result<usize, crate::store::StoreError> {
        let now = now_ms();
        let store = Arc::clone(&self.store);
        let due = tokio::task::spawn_blocking(move || store.deliveries_due(now))
            .await
            .map_err(|_| crate::store::StoreError::Closed)??;
        if !due {
            return Ok(0);
        }
        let claimed = self
            .store
            .submit(Write::ClaimDeliveries {
                now_ms: now,
                lease_ms,
                limit: CLAIM,
            })?
            .await
            .map_err(|_| crate::store::StoreError::Closed)??;
        let Written::Deliveries(claimed) = claimed else {
            return Ok(0);
        };
        let n = claimed.len();
        let mut sends = tokio::task::JoinSet::new();
        for d in claimed {
            let Some(s) = self.subscriptions.get(&d.webhook).cloned() else {
                // Unsubscribed since (the configuration changed): left pending until it dies or
                // the subscription is back.
                tracing::warn!(webhook = %d.webhook, id = %d.id, "delivery to a webhook no longer configured");
                continue;
            };
            let client = self.client.clone();
            let store = Arc::clone(&self.store);
            sends.spawn(async move {
                let outcome = super::send::send(&client, &s, &d, now_ms() / 1000).await;
                record(store.as_ref(), &s, &d, outcome).await
            });
        }
        while let Some(done) = sends.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "webhook delivery outcome not recorded");
            }
        }
        Ok(n)
    }
}

/// Records the outcome of an attempt at `d`.
async fn record(
    store: &dyn Store,
    s: &super::Subscription,
    d: &Delivery,
    outcome: Result<(), SendError>,
) -> Result<(), crate::store::StoreError> {
    let at_ms = now_ms();
    let attempt = match outcome {
        Ok(()) => {
            tracing::info!(webhook = %s.name, id = %d.id, event = %d.event, attempts = d.attempts, "webhook delivered");
            Attempt::Delivered
        }
        Err(e) => {
            let mut r = [0u8; 8];
            let random = getrandom::fill(&mut r).map_or(u64::MAX, |()| u64::from_le_bytes(r));
            let failures = d.attempts.max(1);
            let delay = backoff_ms(
                failures,
                u64::try_from(millis(s.retry_min)).unwrap_or(u64::MAX),
                u64::try_from(millis(s.retry_max)).unwrap_or(u64::MAX),
                random,
            );
            let retry_at_ms = at_ms.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
            tracing::warn!(webhook = %s.name, id = %d.id, error = %e, attempts = d.attempts,
                retry_in_ms = delay, dead = retry_at_ms >= d.dead_at_ms, "webhook delivery failed");
            Attempt::Failed {
                error: e.to_string(),
                retry_at_ms,
            }
        }
    };
    store
        .submit(Write::DeliveryAttempt {
            id: d.id,
            at_ms,
            attempt,
        })?
        .await
        .map_err(|_| crate::store::StoreError::Closed)?
        .map(|_| ())
}

/// The system time in milliseconds since the epoch.
fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Webhook deliveries in Prometheus text format: by subscription and state (every configured one,
/// zeros included), the failed attempts, and the pending ones that are due.
pub fn prometheus(subscriptions: &Subscriptions, counts: &[DeliveryCount]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# HELP consent_webhook_deliveries Webhook deliveries by receiving system and state (pending: not acknowledged yet; dead: moved to dead-letter).\n# TYPE consent_webhook_deliveries gauge\n",
    );
    let mut names: Vec<&str> = subscriptions
        .list()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for c in counts {
        if !names.contains(&c.webhook.as_str()) {
            names.push(&c.webhook);
        }
    }
    for name in &names {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Dead,
        ] {
            let n: u64 = counts
                .iter()
                .filter(|c| c.webhook == *name && c.state == state)
                .map(|c| c.count)
                .sum();
            let _ = writeln!(
                out,
                "consent_webhook_deliveries{{webhook=\"{name}\",state=\"{}\"}} {n}",
                state.as_str()
            );
        }
    }
    // One line per receiving system, summed over its states.
    let per_webhook = |out: &mut String,
                       metric: &str,
                       kind: &str,
                       help: &str,
                       value: fn(&DeliveryCount) -> u64| {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for name in &names {
            let n: u64 = counts
                .iter()
                .filter(|c| c.webhook == *name)
                .map(value)
                .sum();
            let _ = writeln!(out, "{metric}{{webhook=\"{name}\"}} {n}");
        }
    };
    per_webhook(
        &mut out,
        "consent_webhook_failed_attempts_total",
        "counter",
        "Delivery attempts that were not acknowledged (no answer, or not 2xx), by receiving system.",
        |c| c.failed_attempts,
    );
    per_webhook(
        &mut out,
        "consent_webhook_deliveries_due",
        "gauge",
        "Pending webhook deliveries whose time has come: tried and not acknowledged yet, or due for their first attempt (expiries announced ahead are pending, not due), by receiving system.",
        |c| c.due,
    );
    out
}
