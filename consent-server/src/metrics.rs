//! Counters for `/metrics`, and their Prometheus text form.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::{StorageHealth, Store};

/// Counters for `/metrics`.
#[derive(Default, Debug)]
pub struct Metrics {
    /// Requests by route, then status. Routes are few: a lookup by `&str` allocates only once per route.
    requests: Mutex<HashMap<String, BTreeMap<u16, u64>>>,
    /// Receipts signed and committed.
    pub receipts: AtomicU64,
    /// Requests refused by the rate limiter.
    pub rate_limited: AtomicU64,
    /// Requests that timed out.
    pub timeouts: AtomicU64,
    /// Connections open now.
    pub(crate) connections_open: AtomicU64,
    /// Idle connections closed to make room for new ones (at the cap, or out of file descriptors).
    pub(crate) connections_evicted: AtomicU64,
    /// New connections closed at once: at the cap with a request in flight on every connection.
    pub(crate) connections_refused: AtomicU64,
    /// Connections closed because no request (or no whole request head) came in time.
    pub(crate) connections_timed_out: AtomicU64,
    /// Clients with a rate-limit bucket of their own, as of the last pruning.
    pub(crate) rate_limit_clients: AtomicU64,
    /// Sum of request durations in microseconds, and count, for the mean.
    latency_micros: AtomicU64,
    latency_count: AtomicU64,
}

impl Metrics {
    /// Counts one answered request: its route (the matched path, or `other`), status and duration.
    pub(crate) fn request(&self, route: &str, status: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            let by_status = match m.get_mut(route) {
                Some(b) => b,
                None => m.entry(route.to_owned()).or_default(),
            };
            *by_status.entry(status).or_insert(0) += 1;
        }
        self.latency_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text format: these counters, then the store's gauge and its own metrics.
    pub(crate) fn render(&self, store: &dyn Store) -> String {
        let mut out = String::new();
        out.push_str("# HELP consent_http_requests_total HTTP requests by route and status.\n# TYPE consent_http_requests_total counter\n");
        if let Ok(reqs) = self.requests.lock() {
            let mut routes: Vec<_> = reqs.iter().collect();
            routes.sort();
            for (route, status, n) in routes
                .into_iter()
                .flat_map(|(r, b)| b.iter().map(move |(s, n)| (r, s, n)))
            {
                let _ = writeln!(
                    out,
                    "consent_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let sum = self.latency_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "# HELP consent_http_request_duration_seconds Request durations.\n# TYPE consent_http_request_duration_seconds summary"
        );
        let _ = writeln!(
            out,
            "consent_http_request_duration_seconds_sum {sum}\nconsent_http_request_duration_seconds_count {count}"
        );
        for (name, kind, help, value) in [
            (
                "consent_receipts_recorded_total",
                "counter",
                "Receipts signed and committed.",
                self.receipts.load(Ordering::Relaxed),
            ),
            (
                "consent_rate_limited_total",
                "counter",
                "Requests refused by the rate limiter.",
                self.rate_limited.load(Ordering::Relaxed),
            ),
            (
                "consent_timeouts_total",
                "counter",
                "Requests that timed out.",
                self.timeouts.load(Ordering::Relaxed),
            ),
            (
                "consent_connections_open",
                "gauge",
                "Connections open.",
                self.connections_open.load(Ordering::Relaxed),
            ),
            (
                "consent_connections_evicted_total",
                "counter",
                "Idle connections closed to make room (connection cap or no file descriptors left).",
                self.connections_evicted.load(Ordering::Relaxed),
            ),
            (
                "consent_connections_refused_total",
                "counter",
                "New connections closed at once: at the cap with a request in flight on every connection.",
                self.connections_refused.load(Ordering::Relaxed),
            ),
            (
                "consent_connections_timed_out_total",
                "counter",
                "Connections closed because no request head came in time.",
                self.connections_timed_out.load(Ordering::Relaxed),
            ),
            (
                "consent_rate_limit_clients",
                "gauge",
                "Clients with a rate-limit bucket of their own (at the last pruning).",
                self.rate_limit_clients.load(Ordering::Relaxed),
            ),
        ]
        .into_iter()
        .chain(store.receipt_count().ok().map(|n| {
            (
                "consent_receipts_stored",
                "gauge",
                "Receipts in the database.",
                n,
            )
        })) {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        storage(&mut out, store.health());
        out.push_str(&store.metrics());
        out
    }
}

/// The storage's health: whether it takes writes, free space and the floor, failed and refused writes.
fn storage(out: &mut String, h: &StorageHealth) {
    let outage = h.outage();
    let _ = writeln!(
        out,
        "# HELP consent_storage_available 1 while the store takes writes; 0 while writes fail or free space is below the floor.\n\
         # TYPE consent_storage_available gauge\nconsent_storage_available {}",
        u8::from(outage.is_none())
    );
    if let Some(free) = h.free_bytes() {
        let _ = writeln!(
            out,
            "# HELP consent_storage_free_bytes Free space on the database's file system, for the server's user (measured every second).\n\
             # TYPE consent_storage_free_bytes gauge\nconsent_storage_free_bytes {free}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP consent_storage_min_free_bytes The floor: below it, writes that add data are refused (0: none).\n\
         # TYPE consent_storage_min_free_bytes gauge\nconsent_storage_min_free_bytes {}\n\
         # HELP consent_storage_failures_total Operations that failed because the storage could not read or write (full disk, I/O error, read-only, locked).\n\
         # TYPE consent_storage_failures_total counter\n\
         consent_storage_failures_total{{op=\"write\"}} {}\nconsent_storage_failures_total{{op=\"read\"}} {}\n\
         # HELP consent_storage_refused_writes_total Writes refused because free space was below the floor.\n\
         # TYPE consent_storage_refused_writes_total counter\nconsent_storage_refused_writes_total {}",
        h.min_free_bytes(),
        h.failed_writes(),
        h.failed_reads(),
        h.refused_writes(),
    );
}

/// Rights requests and subjects, in Prometheus text format: open, overdue and undated cases by kind
/// (issue 20.3), and subjects with a live record (issue 20.6). Read from the store at each scrape.
pub(crate) fn render_rights(
    store: &dyn Store,
    calendar: &consent_core::WorkingDays,
    now: consent_core::Timestamp,
) -> String {
    let mut out = String::new();
    match store.cases(&crate::store::CaseQuery {
        open_only: true,
        ..Default::default()
    }) {
        Ok(open) => {
            let counts = crate::cases::counts(calendar, &open, now);
            for (i, (name, help)) in [
                ("consent_cases_open", "Rights requests not closed yet, by kind."),
                (
                    "consent_cases_overdue",
                    "Open rights requests past their legal due date (working days), by kind.",
                ),
                (
                    "consent_cases_undated",
                    "Open rights requests whose period the working-day calendar does not cover yet, by kind.",
                ),
            ]
            .into_iter()
            .enumerate()
            {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                for (kind, n) in &counts {
                    let _ = writeln!(
                        out,
                        "{name}{{kind=\"{kind}\"}} {}",
                        n.get(i).copied().unwrap_or(0)
                    );
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cases not read"),
    }
    match store.live_subjects() {
        Ok(live) => {
            let _ = writeln!(
                out,
                "# HELP consent_subjects_live Distinct subjects with a live record (a receipt not followed by an erasure): persons (what Law 94-V's size classes count) and anonymous devices.\n# TYPE consent_subjects_live gauge\nconsent_subjects_live{{kind=\"person\"}} {}\nconsent_subjects_live{{kind=\"device\"}} {}",
                live.persons, live.devices
            );
        }
        Err(e) => tracing::warn!(error = %e, "metrics: subjects not counted"),
    }
    out
}
