//! The report: each phase's result lines and JSON, and the summary table against the targets.
//!
//! The table's lines are quoted in the README ("consent-server under load"): keep their wording
//! and format, so that figures stay comparable between runs and versions.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::ceiling::{Ceiling, CeilingRow};
use crate::phases::HttpResult;
use crate::system::{CpuUse, cpu_count, mb};

/// Targets of the product (README).
pub(crate) const TARGET_RECEIPTS_PER_SEC: f64 = 10_000.0;
pub(crate) const TARGET_P99_MS: f64 = 20.0;
pub(crate) const TARGET_P99_AT_RATE: f64 = 2_000.0;
pub(crate) const TARGET_RSS_MB: f64 = 100.0;
/// On PostgreSQL, one instance: at least this share (%) of the rows-only ceiling (issue 19.7).
pub(crate) const TARGET_SHARE_OF_PG_CEILING: f64 = 50.0;

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Percentiles {
    n: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Percentiles {
    pub(crate) fn of(mut micros: Vec<u64>) -> Percentiles {
        if micros.is_empty() {
            return Percentiles::default();
        }
        micros.sort_unstable();
        let n = micros.len();
        let at = |p: f64| {
            let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
            micros[rank - 1] as f64 / 1000.0
        };
        Percentiles {
            n,
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: micros[n - 1] as f64 / 1000.0,
            mean: micros.iter().sum::<u64>() as f64 / n as f64 / 1000.0,
        }
    }

    fn json(&self) -> Value {
        json!({"count": self.n, "p50_ms": self.p50, "p90_ms": self.p90, "p99_ms": self.p99, "max_ms": self.max, "mean_ms": self.mean})
    }
}

/// What one phase measured, with the server's side of it.
pub(crate) struct PhaseReport {
    pub(crate) name: &'static str,
    pub(crate) elapsed: Duration,
    pub(crate) result: HttpResult,
    pub(crate) latency: Percentiles,
    pub(crate) service: Percentiles,
    pub(crate) send_lag: Percentiles,
    pub(crate) receipts_per_sec: f64,
    pub(crate) cpu: CpuUse,
    pub(crate) rss_peak_kb: u64,
    pub(crate) rss_last_kb: u64,
    pub(crate) rss_samples: usize,
    pub(crate) server_mean_ms: Option<f64>,
    pub(crate) stored_after: Option<f64>,
    pub(crate) target_rate: Option<f64>,
    pub(crate) connections: usize,
}

impl PhaseReport {
    /// Server CPU time per receipt, in total and by thread: what the hardware must pay for each one.
    fn cpu_per_receipt(&self) -> Option<String> {
        if self.receipts_per_sec <= 0.0 || self.cpu.server <= 0.0 {
            return None;
        }
        let us = |cores: f64| cores * 1e6 / self.receipts_per_sec;
        let mut parts = vec![format!("{:.0} total", us(self.cpu.server))];
        for (name, cores) in &self.cpu.threads {
            parts.push(format!("{name} {:.0}", us(*cores)));
        }
        if let Some(db) = self.cpu.database {
            parts.push(format!("and PostgreSQL's processes {:.0}", us(db)));
        }
        Some(parts.join(", "))
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "elapsed_s": self.elapsed.as_secs_f64(),
            "receipts_201": self.result.ok,
            "receipts_per_sec": self.receipts_per_sec,
            "errors": self.result.errors(),
            "unfinished": self.result.unfinished,
            "latency_201": self.latency.json(),
            "cpu": self.cpu.json(),
            "rss_peak_mb": mb(self.rss_peak_kb),
            "rss_last_mb": mb(self.rss_last_kb),
            "rss_samples": self.rss_samples,
            "server_mean_request_ms": self.server_mean_ms,
            "server_receipts_stored_after": self.stored_after,
            "connections": self.connections,
            "server_cpu_us_per_receipt": (self.receipts_per_sec > 0.0).then(|| self.cpu.server * 1e6 / self.receipts_per_sec),
            "postgres_cpu_us_per_receipt": self.cpu.database.filter(|_| self.receipts_per_sec > 0.0)
                .map(|db| db * 1e6 / self.receipts_per_sec),
            "server_thread_cpu_us_per_receipt": self.cpu.threads.iter()
                .map(|(k, c)| (k.clone(), c * 1e6 / self.receipts_per_sec.max(1e-9)))
                .collect::<BTreeMap<_, _>>(),
        });
        if let Some(r) = self.target_rate {
            v["target_rate"] = json!(r);
            v["service_time_201"] = self.service.json();
            v["send_lag"] = self.send_lag.json();
        }
        v
    }

    pub(crate) fn print(&self) {
        let r = &self.result;
        let l = &self.latency;
        eprintln!(
            "  [{}] done: {} answers 201 in {:.2} s = {:.0} receipts/s; errors {}; latency p50 {:.2} ms p90 {:.2} p99 {:.2} max {:.2}",
            self.name,
            r.ok,
            self.elapsed.as_secs_f64(),
            self.receipts_per_sec,
            if r.error_total() == 0 {
                "none".to_owned()
            } else {
                format!("{:?} unfinished {}", r.errors(), r.unfinished)
            },
            l.p50,
            l.p90,
            l.p99,
            l.max
        );
        eprintln!("  [{}] CPU: {}", self.name, self.cpu.line());
        eprintln!(
            "  [{}] server threads (cores): {}; {}",
            self.name,
            self.cpu.threads_line(),
            self.cpu.pressure_line()
        );
    }
}

/// Everything a run measured.
pub(crate) struct Results {
    pub(crate) quick: bool,
    /// The file system type of the databases.
    pub(crate) filesystem: String,
    /// PostgreSQL (its URL without password), or `None` for SQLite.
    pub(crate) database: Option<String>,
    /// Server instances.
    pub(crate) instances: usize,
    pub(crate) max: Option<PhaseReport>,
    pub(crate) rate: Option<PhaseReport>,
    /// Server RSS (kB) before the phases, its peak during them, and after.
    pub(crate) rss_idle: u64,
    pub(crate) rss_peak: u64,
    pub(crate) rss_final: u64,
    /// Mean size of the receipts answered.
    pub(crate) receipt_len: Option<usize>,
    pub(crate) ceiling: Option<Ceiling>,
}

impl Results {
    /// The summary table (stdout).
    pub(crate) fn table(&self) -> String {
        let (max_report, rate_report) = (&self.max, &self.rate);
        let (rss_idle, rss_peak, rss_final) = (self.rss_idle, self.rss_peak, self.rss_final);
        let receipt_len = self.receipt_len;
        let mut out = String::new();
        let line = "-".repeat(100);
        let _ = writeln!(out, "\n{line}");
        match &self.database {
            None => {
                let _ = writeln!(
                    out,
                    "consent-server load test ({} mode) - {} CPUs, data on {}",
                    if self.quick { "quick" } else { "full" },
                    cpu_count(),
                    self.filesystem
                );
            }
            Some(url) => {
                let _ = writeln!(
                    out,
                    "consent-server load test ({} mode) - {} CPUs, {} instance{} on PostgreSQL {url}",
                    if self.quick { "quick" } else { "full" },
                    cpu_count(),
                    self.instances,
                    if self.instances == 1 { "" } else { "s" },
                );
            }
        }
        let _ = writeln!(out, "{line}");
        let _ = writeln!(
            out,
            "{:<44} {:>24}  {:<18} verdict",
            "measure", "value", "target"
        );
        let _ = writeln!(out, "{line}");
        if let Some(m) = max_report {
            let _ = writeln!(
                out,
                "{:<44} {:>24}  {:<18} {}",
                format!("receipts/s, durable (201s), {} conns", m.connections),
                format!("{:.0}", m.receipts_per_sec),
                format!(">= {TARGET_RECEIPTS_PER_SEC:.0}"),
                verdict(m.receipts_per_sec >= TARGET_RECEIPTS_PER_SEC)
            );
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  201s / duration",
                format!("{} / {:.2} s", m.result.ok, m.elapsed.as_secs_f64())
            );
            let _ = writeln!(out, "{:<44} {:>24}", "  errors", error_text(&m.result));
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  latency p50 / p90 (ms)",
                format!("{:.2} / {:.2}", m.latency.p50, m.latency.p90)
            );
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  latency p99 / max (ms)",
                format!("{:.2} / {:.2}", m.latency.p99, m.latency.max)
            );
            if let Some(s) = m.server_mean_ms {
                let _ = writeln!(
                    out,
                    "{:<44} {:>24}",
                    "  server-side mean request time (ms)",
                    format!("{s:.2}")
                );
            }
            let _ = writeln!(out, "{:<44} {}", "  CPU (cores)", m.cpu.line());
            if let Some(cost) = m.cpu_per_receipt() {
                let _ = writeln!(out, "{:<44} {}", "  server CPU per receipt (us)", cost);
            }
            let _ = writeln!(
                out,
                "{:<44} {}",
                "  server threads (cores)",
                m.cpu.threads_line()
            );
            let _ = writeln!(
                out,
                "{:<44} {}",
                "  pressure (PSI some)",
                m.cpu.pressure_line()
            );
        }
        if let Some(r) = rate_report {
            let rate = r.target_rate.unwrap_or(0.0);
            let _ = writeln!(
                out,
                "{:<44} {:>24}  {:<18} {}",
                format!("fixed rate: achieved 201s/s (asked {rate:.0})"),
                format!("{:.0}", r.receipts_per_sec),
                format!(">= {:.0}", rate * 0.99),
                verdict(r.receipts_per_sec >= rate * 0.99 && r.result.error_total() == 0)
            );
            let at_target = (rate - TARGET_P99_AT_RATE).abs() < 1.0;
            let _ = writeln!(
                out,
                "{:<44} {:>24}  {:<18} {}",
                format!("  latency p99 at {rate:.0} req/s (ms)"),
                format!("{:.2}", r.latency.p99),
                format!("< {TARGET_P99_MS:.0} @ {TARGET_P99_AT_RATE:.0}/s"),
                if at_target {
                    verdict(r.latency.p99 < TARGET_P99_MS && r.result.error_total() == 0)
                } else {
                    "n/a (other rate)"
                }
            );
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  latency p50 / max (ms)",
                format!("{:.2} / {:.2}", r.latency.p50, r.latency.max)
            );
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  service time p50 / p99 (from actual send)",
                format!("{:.2} / {:.2}", r.service.p50, r.service.p99)
            );
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  send lag p99 / max (ms)",
                format!("{:.2} / {:.2}", r.send_lag.p99, r.send_lag.max)
            );
            let _ = writeln!(out, "{:<44} {:>24}", "  errors", error_text(&r.result));
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  connections used",
                r.connections.to_string()
            );
            let _ = writeln!(out, "{:<44} {}", "  CPU (cores)", r.cpu.line());
            let _ = writeln!(
                out,
                "{:<44} {}",
                "  server threads (cores)",
                r.cpu.threads_line()
            );
            let _ = writeln!(
                out,
                "{:<44} {}",
                "  pressure (PSI some)",
                r.cpu.pressure_line()
            );
        }
        if max_report.is_some() || rate_report.is_some() {
            let _ = writeln!(
                out,
                "{:<44} {:>24}  {:<18} {}",
                "server RSS peak under load (MB)",
                format!("{:.1}", mb(rss_peak)),
                format!("< {TARGET_RSS_MB:.0}"),
                verdict(mb(rss_peak) < TARGET_RSS_MB)
            );
            let _ = writeln!(
                out,
                "{:<44} {:>24}",
                "  RSS idle / final (MB)",
                format!("{:.1} / {:.1}", mb(rss_idle), mb(rss_final))
            );
            for r in [max_report, rate_report].into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "{:<44} {:>24}",
                    format!("  RSS during {} peak / last (MB)", r.name),
                    format!(
                        "{:.1} / {:.1} ({} samples)",
                        mb(r.rss_peak_kb),
                        mb(r.rss_last_kb),
                        r.rss_samples
                    )
                );
            }
            if let Some(n) = receipt_len {
                let _ = writeln!(
                    out,
                    "{:<44} {:>24}",
                    "  receipt (JWS) size (bytes)",
                    n.to_string()
                );
            }
        }
        if let Some(ceiling) = self.ceiling.as_ref().filter(|c| !c.runs.is_empty()) {
            let _ = writeln!(
                out,
                "ceiling: {} alone, {}, JWS {} B (rows/s)",
                ceiling.engine,
                ceiling.settings.join(" + "),
                ceiling.jws_len
            );
            for c in &ceiling.runs {
                let _ = writeln!(
                    out,
                    "{:<70} {:>10.0}",
                    format!("  {}", c.label),
                    c.rows_per_sec()
                );
            }
            if let (Some(m), Some(best)) = (
                max_report,
                ceiling
                    .runs
                    .iter()
                    .find(|c| c.server_shaped && c.batch == 1024),
            ) {
                let _ = writeln!(
                    out,
                    "{:<70} {:>9.0}%",
                    "  server receipts/s as a share of the server-shaped ceiling",
                    m.receipts_per_sec / best.rows_per_sec() * 100.0
                );
            }
            if let (Some(m), Some(share)) = (max_report, self.share_of_rows_only_ceiling()) {
                let _ = write!(
                    out,
                    "{:<70} {:>9.0}%",
                    "  server receipts/s as a share of the rows-only ceiling (1024/tx)", share
                );
                if ceiling.engine == "PostgreSQL" {
                    let verdict = if self.instances == 1 {
                        verdict(share >= TARGET_SHARE_OF_PG_CEILING && m.result.error_total() == 0)
                    } else {
                        "n/a (target: 1 instance)"
                    };
                    let _ = write!(out, "  >= {TARGET_SHARE_OF_PG_CEILING:.0}% {verdict}");
                }
                let _ = writeln!(out);
            }
        }
        let _ = writeln!(out, "{line}");
        out
    }

    /// Receipts/s of the max-throughput phase as a percentage of the rows-only ceiling at 1024 rows
    /// per transaction.
    fn share_of_rows_only_ceiling(&self) -> Option<f64> {
        let m = self.max.as_ref()?;
        let bare = self
            .ceiling
            .as_ref()?
            .runs
            .iter()
            .find(|c| !c.server_shaped && c.batch == 1024)?;
        Some(m.receipts_per_sec / bare.rows_per_sec() * 100.0)
    }

    /// Adds the results and the verdicts to `summary` (the JSON of `--json`).
    pub(crate) fn add_to(&self, summary: &mut Value) {
        let (max_report, rate_report) = (&self.max, &self.rate);
        let (rss_idle, rss_peak, rss_final) = (self.rss_idle, self.rss_peak, self.rss_final);
        let receipt_len = self.receipt_len;

        if let Some(m) = max_report {
            summary["max_throughput"] = m.json();
        }
        if let Some(r) = rate_report {
            summary["fixed_rate"] = r.json();
        }
        if max_report.is_some() || rate_report.is_some() {
            summary["rss"] = json!({
                "idle_mb": mb(rss_idle), "peak_mb": mb(rss_peak), "final_mb": mb(rss_final),
                "pass": mb(rss_peak) < TARGET_RSS_MB,
            });
            summary["receipt_jws_bytes"] = json!(receipt_len);
        }
        if let Some(ceiling) = self.ceiling.as_ref().filter(|c| !c.runs.is_empty()) {
            summary["ceiling"] = json!({
                "engine": ceiling.engine,
                "settings": ceiling.settings,
                "share_of_rows_only_ceiling_pct": self.share_of_rows_only_ceiling(),
                "jws_bytes": ceiling.jws_len,
                "runs": ceiling.runs.iter().map(CeilingRow::json).collect::<Vec<_>>(),
            });
        }
        let verdicts = json!({
            "receipts_per_sec": max_report.as_ref().map(|m| m.receipts_per_sec >= TARGET_RECEIPTS_PER_SEC),
            "p99_at_rate": rate_report.as_ref().filter(|r| (r.target_rate.unwrap_or(0.0) - TARGET_P99_AT_RATE).abs() < 1.0)
                .map(|r| r.latency.p99 < TARGET_P99_MS && r.result.error_total() == 0),
            "rss": (max_report.is_some() || rate_report.is_some()).then_some(mb(rss_peak) < TARGET_RSS_MB),
            "share_of_ceiling": self.share_of_rows_only_ceiling()
                .filter(|_| self.database.is_some() && self.instances == 1)
                .map(|share| share >= TARGET_SHARE_OF_PG_CEILING),
        });
        summary["pass"] = verdicts;
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn error_text(r: &HttpResult) -> String {
    if r.error_total() == 0 {
        return "none".into();
    }
    let mut parts: Vec<String> = r
        .errors()
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if r.unfinished > 0 {
        parts.push(format!("unfinished: {}", r.unfinished));
    }
    parts.join(", ")
}
