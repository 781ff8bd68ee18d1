//! [`StorageHealth`]: whether the storage takes writes, the free space an engine sees, the writes it
//! failed or refused, and a log that speaks once per interval rather than once per request.
//!
//! Engine-neutral: an engine reports what happens ([`StorageHealth::write_failed`],
//! [`StorageHealth::write_succeeded`], [`StorageHealth::set_free_space`]…); `/readyz` and `/metrics`
//! read it back. The first failure is logged at ERROR with the engine's error; while the storage keeps
//! failing, one summary line per interval counts the failed writes; the first success afterwards (a
//! client's write or the engine's probe) logs one INFO line.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::Outage;

/// The default free-space floor: 256 MiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;

/// The default interval between log lines about the same storage failure: 60 s.
pub const DEFAULT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Storage health, shared by an engine's writer, its readers and the server.
///
/// ```
/// use std::time::Duration;
/// use consent_server::store::{Outage, StorageHealth};
///
/// let health = StorageHealth::new(256 << 20, Duration::from_secs(60));
/// assert_eq!(health.outage(), None);
/// health.set_free_space(Some(100 << 20));
/// assert_eq!(health.outage(), Some(Outage::LowSpace));
/// health.write_failed(Outage::DiskFull, &"database or disk is full", 3);
/// assert_eq!(health.outage(), Some(Outage::DiskFull));
/// health.write_succeeded();
/// assert_eq!((health.outage(), health.failed_writes()), (Some(Outage::LowSpace), 3));
/// ```
#[derive(Debug)]
pub struct StorageHealth {
    min_free_bytes: u64,
    log_interval: Duration,
    state: Mutex<State>,
    /// Whether writes are failing now (a copy of `state.writes.is_some()`, read without the lock).
    failing: AtomicBool,
    /// Whether free space is below the floor now.
    low_space: AtomicBool,
    /// Free bytes, `u64::MAX` when unknown.
    free_bytes: AtomicU64,
    failed_writes: AtomicU64,
    failed_reads: AtomicU64,
    refused_writes: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// The current run of failed writes, if writes fail.
    writes: Option<Episode>,
    /// Failed reads: they do not change readiness, only the log (once per interval).
    reads: Throttle,
}

impl StorageHealth {
    /// Health for a store with a free-space floor of `min_free_bytes` (0: none) that logs a lasting
    /// failure at most once per `log_interval`.
    pub fn new(min_free_bytes: u64, log_interval: Duration) -> StorageHealth {
        StorageHealth {
            min_free_bytes,
            log_interval: log_interval.max(Duration::from_secs(1)),
            state: Mutex::new(State::default()),
            failing: AtomicBool::new(false),
            low_space: AtomicBool::new(false),
            free_bytes: AtomicU64::new(u64::MAX),
            failed_writes: AtomicU64::new(0),
            failed_reads: AtomicU64::new(0),
            refused_writes: AtomicU64::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why writes cannot be taken now: a failure of the storage first, then low space; `None` when
    /// they can.
    pub fn outage(&self) -> Option<Outage> {
        if self.failing.load(Ordering::Relaxed)
            && let Some(e) = &self.state().writes
        {
            return Some(e.outage);
        }
        self.low_on_space().then_some(Outage::LowSpace)
    }

    /// Whether writes fail now (not counting the floor): the engine then probes until one succeeds.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Whether free space is below the floor.
    pub fn low_on_space(&self) -> bool {
        self.low_space.load(Ordering::Relaxed)
    }

    /// The floor in bytes (0: none).
    pub fn min_free_bytes(&self) -> u64 {
        self.min_free_bytes
    }

    /// Free bytes on the database's disk (for the server's user), if the engine sees its disk.
    pub fn free_bytes(&self) -> Option<u64> {
        Some(self.free_bytes.load(Ordering::Relaxed)).filter(|b| *b != u64::MAX)
    }

    /// Writes that failed because the storage could not write.
    pub fn failed_writes(&self) -> u64 {
        self.failed_writes.load(Ordering::Relaxed)
    }

    /// Reads that failed because the storage could not read.
    pub fn failed_reads(&self) -> u64 {
        self.failed_reads.load(Ordering::Relaxed)
    }

    /// Writes refused because free space was below the floor.
    pub fn refused_writes(&self) -> u64 {
        self.refused_writes.load(Ordering::Relaxed)
    }

    /// The free space just measured (`None`: it could not be measured, and the floor is not applied).
    /// Logs when it crosses the floor, either way.
    pub fn set_free_space(&self, free: Option<u64>) {
        self.free_bytes
            .store(free.unwrap_or(u64::MAX), Ordering::Relaxed);
        let low = free.is_some_and(|f| f < self.min_free_bytes);
        let was = self.low_space.swap(low, Ordering::Relaxed);
        let (free, floor) = (free.unwrap_or(0), self.min_free_bytes);
        if low && !was {
            tracing::warn!(
                free_bytes = free,
                min_free_bytes = floor,
                "free space on the database's disk is below the floor: refusing writes that add data \
                 (503 storage_unavailable); reads, exports and rights requests still work"
            );
        } else if was && !low {
            tracing::info!(
                free_bytes = free,
                min_free_bytes = floor,
                "free space is above the floor again: accepting all writes"
            );
        }
    }

    /// `writes` client writes were refused because free space is below the floor (counted; the log
    /// says it once, when space crossed the floor).
    pub fn writes_refused(&self, writes: u64) {
        self.refused_writes.fetch_add(writes, Ordering::Relaxed);
    }

    /// `writes` client writes failed (0 for the engine's own probe) because of `outage`; `error` is the
    /// engine's error, for the log.
    pub fn write_failed(&self, outage: Outage, error: &dyn std::fmt::Display, writes: u64) {
        self.failed_writes.fetch_add(writes, Ordering::Relaxed);
        let mut state = self.state();
        let now = Instant::now();
        let report = match &mut state.writes {
            Some(e) => e.fail(now, outage, writes, self.log_interval),
            None => {
                state.writes = Some(Episode::new(now, outage, writes));
                self.failing.store(true, Ordering::Relaxed);
                Report::Started
            }
        };
        drop(state);
        match report {
            Report::Started => tracing::error!(
                outage = outage.as_str(),
                error = %error,
                "storage unavailable: writes fail and are answered 503 storage_unavailable until one \
                 succeeds (this is logged again at most once per {}s while it lasts)",
                self.log_interval.as_secs()
            ),
            Report::Summary { failed, lasting } => tracing::error!(
                outage = outage.as_str(),
                error = %error,
                failed_writes = failed,
                for_secs = lasting.as_secs(),
                "storage still unavailable"
            ),
            Report::Quiet => {}
        }
    }

    /// A write (a client's, or the engine's probe) was committed: the storage writes again.
    pub fn write_succeeded(&self) {
        if !self.failing.load(Ordering::Relaxed) {
            return;
        }
        let ended = self.state().writes.take();
        self.failing.store(false, Ordering::Relaxed);
        if let Some(e) = ended {
            tracing::info!(
                failed_writes = e.total,
                after_secs = format!("{:.1}", e.since.elapsed().as_secs_f64()),
                "storage available again: accepting writes"
            );
        }
    }

    /// A read failed because of `outage`: logged at most once per interval, with the count; readiness
    /// follows writes only.
    pub fn read_failed(&self, outage: Outage, error: &dyn std::fmt::Display) {
        self.failed_reads.fetch_add(1, Ordering::Relaxed);
        let hit = self.state().reads.hit(Instant::now(), self.log_interval);
        if let Some(suppressed) = hit {
            tracing::error!(
                outage = outage.as_str(),
                error = %error,
                failed_reads_not_logged = suppressed,
                "storage unavailable for reads (logged at most once per {}s)",
                self.log_interval.as_secs()
            );
        }
    }
}

/// What to log for a failure.
#[derive(Debug, PartialEq, Eq)]
enum Report {
    /// The first failure of a run.
    Started,
    /// A summary: failures since the last line, and how long the run has lasted.
    Summary { failed: u64, lasting: Duration },
    /// Nothing yet.
    Quiet,
}

/// A run of failures, from the first to the next success.
#[derive(Debug)]
struct Episode {
    outage: Outage,
    since: Instant,
    last_line: Instant,
    /// Failures since the last line.
    unreported: u64,
    /// Failures in the whole run.
    total: u64,
}

impl Episode {
    fn new(now: Instant, outage: Outage, failed: u64) -> Episode {
        Episode {
            outage,
            since: now,
            last_line: now,
            unreported: 0,
            total: failed,
        }
    }

    fn fail(&mut self, now: Instant, outage: Outage, failed: u64, every: Duration) -> Report {
        self.outage = outage;
        self.unreported += failed;
        self.total += failed;
        if self.unreported > 0 && now.duration_since(self.last_line) >= every {
            let failed = std::mem::take(&mut self.unreported);
            self.last_line = now;
            Report::Summary {
                failed,
                lasting: now.duration_since(self.since),
            }
        } else {
            Report::Quiet
        }
    }
}

/// At most one line per interval; counts what it did not log.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    last_line: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// Whether to log now: `Some(lines suppressed since the last one)`, or `None`.
    pub(crate) fn hit(&mut self, now: Instant, every: Duration) -> Option<u64> {
        match self.last_line {
            Some(t) if now.duration_since(t) < every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_line = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_run_of_failures_logs_its_start_then_one_summary_per_interval() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut e = Episode::new(t0, Outage::DiskFull, 1);
        // 1,000 failures in the first minute: no line after the first.
        for i in 0..1000 {
            assert_eq!(
                e.fail(
                    t0 + Duration::from_millis(i * 59),
                    Outage::DiskFull,
                    1,
                    MINUTE
                ),
                Report::Quiet
            );
        }
        assert_eq!(
            e.fail(at(60), Outage::Io, 1, MINUTE),
            Report::Summary {
                failed: 1001,
                lasting: MINUTE
            }
        );
        assert_eq!(e.outage, Outage::Io);
        assert_eq!(e.fail(at(61), Outage::Io, 5, MINUTE), Report::Quiet);
        // The engine's probe (0 writes) reports nothing new: no summary of nothing.
        let mut probe_only = Episode::new(t0, Outage::DiskFull, 0);
        assert_eq!(
            probe_only.fail(at(3600), Outage::DiskFull, 0, MINUTE),
            Report::Quiet
        );
        assert_eq!(e.total, 1 + 1000 + 1 + 5);
    }

    #[test]
    fn health_follows_failures_successes_and_the_floor() {
        let h = StorageHealth::new(1000, MINUTE);
        assert_eq!((h.outage(), h.free_bytes()), (None, None));
        h.set_free_space(None);
        assert!(!h.low_on_space(), "unknown free space never refuses writes");
        h.set_free_space(Some(999));
        assert_eq!(h.outage(), Some(Outage::LowSpace));
        h.writes_refused(2);
        h.set_free_space(Some(1000));
        assert_eq!((h.outage(), h.free_bytes()), (None, Some(1000)));
        h.write_failed(Outage::ReadOnly, &"attempt to write a readonly database", 4);
        h.write_failed(Outage::ReadOnly, &"attempt to write a readonly database", 0);
        assert!(h.failing());
        assert_eq!(h.outage(), Some(Outage::ReadOnly));
        h.read_failed(Outage::Io, &"disk I/O error");
        h.write_succeeded();
        assert_eq!(h.outage(), None);
        assert_eq!(
            (h.failed_writes(), h.failed_reads(), h.refused_writes()),
            (4, 1, 2)
        );
        // No floor: never low on space.
        let none = StorageHealth::new(0, MINUTE);
        none.set_free_space(Some(0));
        assert_eq!(none.outage(), None);
    }

    #[test]
    fn the_throttle_speaks_once_per_interval_and_counts_the_rest() {
        let t0 = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(t.hit(t0, MINUTE), Some(0));
        for s in 1..60 {
            assert_eq!(t.hit(t0 + Duration::from_secs(s), MINUTE), None);
        }
        assert_eq!(t.hit(t0 + MINUTE, MINUTE), Some(59));
        assert_eq!(t.hit(t0 + MINUTE, MINUTE), None);
    }
}
