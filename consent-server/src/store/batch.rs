//! What both engines' writers share: a queued write and its answer, the batch's outcome told to the
//! [`StorageHealth`] and the counters, each job answered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::store::{Outage, StorageHealth, StoreError, Write, Written};

/// A queued write and where its result goes.
pub(crate) type Job = (Write, oneshot::Sender<Result<Written, StoreError>>);

/// Counters for `/metrics`.
#[derive(Default, Debug)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Writes committed.
    pub writes: AtomicU64,
    /// Sum of commit durations, in microseconds.
    pub commit_micros: AtomicU64,
    /// Largest batch so far.
    pub max_batch: AtomicU64,
}

impl WriterStats {
    /// The counters in Prometheus text format.
    pub(crate) fn prometheus(&self) -> String {
        let commits = self.commits.load(Ordering::Relaxed);
        format!(
            "# HELP consent_store_commits_total Transactions committed by the writer.\n# TYPE consent_store_commits_total counter\nconsent_store_commits_total {commits}\n\
             # HELP consent_store_writes_total Writes committed (a batch shares one commit).\n# TYPE consent_store_writes_total counter\nconsent_store_writes_total {}\n\
             # HELP consent_store_commit_seconds_total Time spent in batches, from first insert to durable commit.\n# TYPE consent_store_commit_seconds_total counter\nconsent_store_commit_seconds_total {}\n\
             # HELP consent_store_batch_max Largest batch committed at once.\n# TYPE consent_store_batch_max gauge\nconsent_store_batch_max {}\n",
            self.writes.load(Ordering::Relaxed),
            self.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
            self.max_batch.load(Ordering::Relaxed),
        )
    }
}

/// Tells `health` and `stats` how the batch `jobs` ended (`results`: one result per job once the
/// transaction committed, or the batch's own failure) and answers every job.
pub(crate) fn answer(
    jobs: Vec<Job>,
    results: Result<Vec<Result<Written, StoreError>>, StoreError>,
    started: Instant,
    stats: &WriterStats,
    health: &StorageHealth,
) {
    let n = jobs.len() as u64;
    match results {
        Ok(results) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.writes.fetch_add(n, Ordering::Relaxed);
            stats.max_batch.fetch_max(n, Ordering::Relaxed);
            stats.commit_micros.fetch_add(
                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            let mut refused = 0;
            let mut failed: Option<(Outage, String, u64)> = None;
            for r in &results {
                match r {
                    Err(StoreError::Unavailable {
                        outage: Outage::LowSpace,
                        ..
                    }) => refused += 1,
                    Err(e @ StoreError::Unavailable { outage, .. }) => {
                        let f = failed.get_or_insert_with(|| (*outage, e.to_string(), 0));
                        f.2 += 1;
                    }
                    _ => {}
                }
            }
            if refused > 0 {
                health.writes_refused(refused);
            }
            match failed {
                Some((outage, error, k)) => health.write_failed(outage, &error, k),
                None if results.iter().any(Result::is_ok) => health.write_succeeded(),
                None => {}
            }
            for ((_, reply), result) in jobs.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(StoreError::Unavailable { outage, source }) => {
            // Logged by the health, once per interval; each request is answered 503.
            let error = source.map_or_else(|| outage.to_string(), |e| e.to_string());
            health.write_failed(outage, &error, n);
            for (_, reply) in jobs {
                let _ = reply.send(Err(StoreError::unavailable(outage)));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batch = n, "commit failed; the whole batch is refused");
            for (_, reply) in jobs {
                let _ = reply.send(Err(StoreError::CommitFailed(e.to_string())));
            }
        }
    }
}
