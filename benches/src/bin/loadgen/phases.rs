//! The load phases: max throughput (closed loop), fixed rate (open loop), and the measurements
//! taken around each (server CPU and memory, its `/metrics`).
//!
//! Each phase sends `POST /v1/consents` to a list of [`Target`]s, connection `i` (max
//! throughput) or request `i` (fixed rate) to target `i` modulo their number, over its own
//! [`Client`], so that no connection of a phase is reused by the next one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use crate::http::{Client, Connection, ConsentBody, Outcome, REQUEST_TIMEOUT, Target};
use crate::ids::Rng;
use crate::report::{Percentiles, PhaseReport};
use crate::server::{Server, ServerMetrics};
use crate::system::{CpuSnapshot, CpuUse, RssSampler, mb};

/// In the fixed-rate phase, at most this many requests in flight (requests beyond wait for one,
/// and the wait counts in their latency).
const RATE_MAX_CONNECTIONS: usize = 512;
/// Connections opened (to each target) before the fixed-rate phase starts.
const RATE_PREOPEN: usize = 32;
/// The answers to the first few requests are checked (fields, receipt size).
const INSPECTED: usize = 4;

/// Counters shared with the progress printer.
#[derive(Default)]
pub(crate) struct Live {
    ok: AtomicU64,
    errors: AtomicU64,
}

impl Live {
    fn count(&self, outcome: Outcome) {
        let counter = if outcome == Outcome::CREATED {
            &self.ok
        } else {
            &self.errors
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a phase measured.
#[derive(Default)]
pub(crate) struct HttpResult {
    pub(crate) ok: u64,
    outcomes: BTreeMap<Outcome, u64>,
    /// Latencies of the 201 answers, microseconds.
    pub(crate) latencies: Vec<u64>,
    /// Fixed rate only: time from the actual send (not the scheduled one), microseconds.
    pub(crate) service: Vec<u64>,
    /// Fixed rate only: how late requests were sent after their scheduled time, microseconds.
    pub(crate) send_lag: Vec<u64>,
    /// Sizes of a few receipts (JWS) answered.
    pub(crate) receipt_sizes: Vec<usize>,
    pub(crate) response_problem: Option<String>,
    pub(crate) unfinished: u64,
    pub(crate) connections_used: usize,
}

impl HttpResult {
    fn record(&mut self, outcome: Outcome, micros: u64) {
        *self.outcomes.entry(outcome).or_insert(0) += 1;
        if outcome == Outcome::CREATED {
            self.ok += 1;
            self.latencies.push(micros);
        }
    }

    fn merge(&mut self, other: HttpResult) {
        self.ok += other.ok;
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_insert(0) += v;
        }
        self.latencies.extend(other.latencies);
        self.service.extend(other.service);
        self.send_lag.extend(other.send_lag);
        self.receipt_sizes.extend(other.receipt_sizes);
        self.unfinished += other.unfinished;
        if self.response_problem.is_none() {
            self.response_problem = other.response_problem;
        }
    }

    /// Answers other than 201, by kind.
    pub(crate) fn errors(&self) -> BTreeMap<String, u64> {
        self.outcomes
            .iter()
            .filter(|(o, _)| **o != Outcome::CREATED)
            .map(|(o, n)| (o.label(), *n))
            .collect()
    }

    pub(crate) fn error_total(&self) -> u64 {
        self.errors().values().sum::<u64>() + self.unfinished
    }

    /// Looks at a 201 body: the fields the API promises, and the size of the receipt.
    fn inspect(&mut self, body: &[u8]) {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let missing: Vec<&str> = [
                    "receipt_id",
                    "receipt",
                    "token",
                    "subject",
                    "issued_at",
                    "expires_at",
                    "gpc",
                ]
                .into_iter()
                .filter(|k| v.get(*k).is_none())
                .collect();
                if !missing.is_empty() && self.response_problem.is_none() {
                    self.response_problem =
                        Some(format!("201 answer without {}", missing.join(", ")));
                }
                if let Some(r) = v.get("receipt").and_then(Value::as_str) {
                    self.receipt_sizes.push(r.len());
                }
            }
            Err(e) => {
                if self.response_problem.is_none() {
                    self.response_problem = Some(format!("201 answer is not JSON: {e}"));
                }
            }
        }
    }
}

/// Prints a progress line on stderr every second until aborted.
fn progress(
    phase: &'static str,
    live: Arc<Live>,
    rss: Arc<AtomicU64>,
    total: f64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut last_ok = 0;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let ok = live.ok.load(Ordering::Relaxed);
            let errors = live.errors.load(Ordering::Relaxed);
            eprintln!(
                "  [{phase}] {:>5.1}/{total:.0} s  201s {ok:>8}  ({:>6}/s last second)  errors {errors}  server RSS {:.1} MB",
                start.elapsed().as_secs_f64(),
                ok - last_ok,
                mb(rss.load(Ordering::Relaxed)),
            );
            last_ok = ok;
        }
    })
}

/// Closed loop: `connections` tasks, each with its own connection ([`Connection`]), each sending its
/// next request when the answer comes.
pub(crate) async fn max_throughput(
    targets: &[Target],
    body: &ConsentBody,
    connections: usize,
    duration: Duration,
    live: &Arc<Live>,
) -> (HttpResult, Duration) {
    let start = Instant::now();
    let end = start + duration;
    let mut workers = Vec::with_capacity(connections);
    for i in 0..connections {
        let (body, live) = (body.clone(), Arc::clone(live));
        let mut connection = match Connection::new(targets[i % targets.len()].clone()) {
            Ok(c) => c,
            Err(_) => continue,
        };
        workers.push(tokio::spawn(async move {
            let mut rng = Rng::new();
            let mut result = HttpResult::default();
            let mut inspected = 0;
            while Instant::now() < end {
                let request = body.next(&mut rng);
                let sent = Instant::now();
                let (outcome, answer) = connection
                    .post_consent(request, inspected < INSPECTED)
                    .await;
                result.record(outcome, sent.elapsed().as_micros() as u64);
                live.count(outcome);
                if let Some(b) = answer {
                    result.inspect(&b);
                    inspected += 1;
                }
                if matches!(outcome, Outcome::Io | Outcome::Timeout) {
                    // Do not spin on a refusing server.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            result
        }));
    }
    let mut total = HttpResult {
        connections_used: connections,
        ..HttpResult::default()
    };
    for w in workers {
        if let Ok(r) = w.await {
            total.merge(r);
        }
    }
    (total, start.elapsed())
}

/// What became of one request of the fixed-rate phase: outcome, latency from the scheduled
/// time, service time from the actual send, send lag (microseconds), a body to inspect.
type Sent = (Outcome, u64, u64, u64, Option<Vec<u8>>);

/// Open loop: request `i` is due at `start + i / rate` and sent then, whatever happened to the others.
pub(crate) async fn fixed_rate(
    client: &Client,
    targets: &[Target],
    body: &ConsentBody,
    rate: f64,
    duration: Duration,
    live: &Arc<Live>,
) -> (HttpResult, Duration) {
    for target in targets {
        client.open(target, RATE_PREOPEN).await;
    }
    let targets: Arc<[Target]> = targets.into();
    let permits = Arc::new(tokio::sync::Semaphore::new(RATE_MAX_CONNECTIONS));
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let mut rng = Rng::new();
    let start = Instant::now() + Duration::from_millis(5);
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let request = body.next(&mut rng);
        let (client, targets, permits, live) = (
            client.clone(),
            Arc::clone(&targets),
            Arc::clone(&permits),
            Arc::clone(live),
        );
        let inspect = i < INSPECTED as u64;
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let target = &targets[(i % targets.len() as u64) as usize];
            let sent = Instant::now();
            let (outcome, answer) = client.post_consent(target, request, inspect).await;
            let done = Instant::now();
            live.count(outcome);
            let sent: Sent = (
                outcome,
                done.duration_since(due).as_micros() as u64,
                done.duration_since(sent).as_micros() as u64,
                sent.duration_since(due).as_micros() as u64,
                answer,
            );
            sent
        }));
    }
    let mut result = HttpResult::default();
    // Every request has its own timeout; this only bounds the wait should something hang.
    let grace = Instant::now() + REQUEST_TIMEOUT + Duration::from_secs(5);
    for t in tasks {
        let remaining = grace.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, t).await {
            Ok(Ok((outcome, latency, service, lag, answer))) => {
                result.record(outcome, latency);
                if outcome == Outcome::CREATED {
                    result.service.push(service);
                }
                result.send_lag.push(lag);
                if let Some(b) = answer {
                    result.inspect(&b);
                }
            }
            Ok(Err(_)) | Err(_) => result.unfinished += 1,
        }
    }
    result.connections_used = usize::try_from(client.connections_opened()).unwrap_or(usize::MAX);
    (result, start.elapsed())
}

/// How a phase loads the server.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Load {
    /// Closed loop over this many connections.
    Max { connections: usize },
    /// Open loop at this many requests/s.
    Rate(f64),
}

/// Runs phases against the server processes (one, or several instances on one PostgreSQL),
/// measuring their CPU, memory and `/metrics` around each.
pub(crate) struct Phase<'a> {
    pub(crate) servers: &'a [Server],
    /// Whether the servers run on PostgreSQL (its local processes' CPU is measured too).
    pub(crate) postgres: bool,
    pub(crate) sampler: &'a RssSampler,
    /// For `/metrics` (not counted in any phase's connections).
    pub(crate) control: &'a Client,
    /// Clock ticks per second.
    pub(crate) hz: f64,
}

impl Phase<'_> {
    /// One phase of `load` for `duration`, over fresh connections; prints its result lines.
    pub(crate) async fn run(
        &self,
        name: &'static str,
        body: &ConsentBody,
        load: Load,
        duration: Duration,
    ) -> Result<PhaseReport> {
        let targets: Vec<Target> = self.servers.iter().map(|s| s.target().clone()).collect();
        let pids: Vec<u32> = self.servers.iter().map(Server::pid).collect();
        let client = Client::new()?;
        let live = Arc::new(Live::default());
        let before = ServerMetrics::fetch_all(self.control, &targets).await;
        let cpu0 = CpuSnapshot::take(&pids, self.postgres);
        let t0 = Instant::now();
        let printer = progress(
            name,
            Arc::clone(&live),
            self.sampler.current(),
            duration.as_secs_f64(),
        );
        let (result, elapsed) = match load {
            Load::Max { connections } => {
                max_throughput(&targets, body, connections, duration, &live).await
            }
            Load::Rate(r) => fixed_rate(&client, &targets, body, r, duration, &live).await,
        };
        printer.abort();
        let cpu1 = CpuSnapshot::take(&pids, self.postgres);
        // Let the sampler take one more sample after the last answer.
        tokio::time::sleep(Duration::from_millis(120)).await;
        let (peak, last, samples) = self.sampler.window(t0, Instant::now());
        let after = ServerMetrics::fetch_all(self.control, &targets).await;
        let server_mean_ms = match (before, after) {
            (Some(b), Some(a)) if a.duration_count > b.duration_count => Some(
                (a.duration_sum - b.duration_sum) / (a.duration_count - b.duration_count) * 1000.0,
            ),
            _ => None,
        };
        let receipts_per_sec = result.ok as f64 / elapsed.as_secs_f64();
        let connections = result.connections_used;
        let report = PhaseReport {
            name,
            elapsed,
            latency: Percentiles::of(result.latencies.clone()),
            service: Percentiles::of(result.service.clone()),
            send_lag: Percentiles::of(result.send_lag.clone()),
            result,
            receipts_per_sec,
            cpu: CpuUse::between(&cpu0, &cpu1, self.hz),
            rss_peak_kb: peak,
            rss_last_kb: last,
            rss_samples: samples,
            server_mean_ms,
            stored_after: after.map(|a| a.receipts_stored),
            target_rate: match load {
                Load::Max { .. } => None,
                Load::Rate(r) => Some(r),
            },
            connections,
        };
        report.print();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_count_201s_apart_and_merge() {
        let mut a = HttpResult::default();
        a.record(Outcome::CREATED, 1_000);
        a.record(Outcome::Status(503), 2_000);
        let mut b = HttpResult::default();
        b.record(Outcome::CREATED, 3_000);
        b.record(Outcome::Timeout, 10_000_000);
        b.unfinished = 1;
        a.merge(b);
        assert_eq!(a.ok, 2);
        assert_eq!(a.latencies, [1_000, 3_000]);
        assert_eq!(
            a.errors(),
            BTreeMap::from([("503".to_owned(), 1), ("timeout".to_owned(), 1)])
        );
        assert_eq!(a.error_total(), 3);
    }

    #[test]
    fn an_answer_without_the_promised_fields_is_reported() {
        let mut r = HttpResult::default();
        r.inspect(br#"{"receipt_id":"x","receipt":"abcd","token":"t","subject":"s","issued_at":1,"expires_at":2,"gpc":false}"#);
        assert_eq!(
            (r.response_problem.as_deref(), &r.receipt_sizes[..]),
            (None, &[4][..])
        );
        r.inspect(br#"{"receipt":"ab"}"#);
        assert_eq!(
            r.response_problem.as_deref(),
            Some("201 answer without receipt_id, token, subject, issued_at, expires_at, gpc")
        );
        let mut r = HttpResult::default();
        r.inspect(b"<html>");
        assert!(
            r.response_problem
                .unwrap()
                .starts_with("201 answer is not JSON")
        );
    }
}
