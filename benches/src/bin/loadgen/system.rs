//! What the machine says about the server and itself (`/proc`): memory, CPU by process and by
//! thread, and pressure stall information.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Kilobytes to megabytes.
pub(crate) fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// `VmRSS` of a process, in kB.
pub(crate) fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 of stat(5), utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// (busy, total) ticks of the whole machine.
pub(crate) fn system_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

pub(crate) fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub(crate) fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// CPU ticks of each thread of a process, summed by thread name (`sqlite-writer`, `tokio-runtime-w`…).
fn thread_ticks(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let tid = t.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        if let Some(ticks) = cpu_ticks(&format!("{pid}/task/{tid}")) {
            *out.entry(name).or_insert(0) += ticks;
        }
    }
    out
}

/// CPU ticks of every process named `postgres` on this machine (a local PostgreSQL's server
/// processes), or `None` if there is none.
fn postgres_ticks() -> Option<u64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        if comm.trim_end() == "postgres"
            && let Some(t) = cpu_ticks(&pid)
        {
            *total.get_or_insert(0) += t;
        }
    }
    total
}

/// Total stall time (µs) of `/proc/pressure/{what}`, the "some" line: time at least one task waited.
fn pressure_us(what: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/pressure/{what}")).ok()?;
    text.lines()
        .find(|l| l.starts_with("some"))?
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

/// CPU used by the server, this process and the rest of the machine between two snapshots.
#[derive(Debug, Clone)]
pub(crate) struct CpuSnapshot {
    at: Instant,
    server: u64,
    threads: BTreeMap<String, u64>,
    own: u64,
    /// A local PostgreSQL's processes, when the servers run on PostgreSQL.
    database: Option<u64>,
    busy: u64,
    cpu_pressure: Option<u64>,
    io_pressure: Option<u64>,
}

impl CpuSnapshot {
    /// The server processes `server_pids` (their sum), and with `postgres` the local PostgreSQL's.
    pub(crate) fn take(server_pids: &[u32], postgres: bool) -> CpuSnapshot {
        let mut threads = BTreeMap::new();
        for pid in server_pids {
            for (name, ticks) in thread_ticks(*pid) {
                *threads.entry(name).or_insert(0) += ticks;
            }
        }
        CpuSnapshot {
            at: Instant::now(),
            server: server_pids
                .iter()
                .filter_map(|p| cpu_ticks(&p.to_string()))
                .sum(),
            threads,
            own: cpu_ticks("self").unwrap_or(0),
            database: if postgres { postgres_ticks() } else { None },
            busy: system_ticks().map_or(0, |t| t.0),
            cpu_pressure: pressure_us("cpu"),
            io_pressure: pressure_us("io"),
        }
    }
}

/// Cores used (1.0 = one core busy all the time).
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuUse {
    /// The server processes.
    pub(crate) server: f64,
    /// A local PostgreSQL's processes (`postgres`), when the servers run on it and it is local.
    pub(crate) database: Option<f64>,
    /// The server's threads, by name.
    pub(crate) threads: BTreeMap<String, f64>,
    loadgen: f64,
    other: f64,
    cpus: usize,
    /// Share of the time some runnable task waited for a CPU (PSI), and for I/O.
    cpu_pressure: Option<f64>,
    io_pressure: Option<f64>,
}

impl CpuUse {
    pub(crate) fn between(a: &CpuSnapshot, b: &CpuSnapshot, hz: f64) -> CpuUse {
        let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
        let cores = |x: u64, y: u64| y.saturating_sub(x) as f64 / hz / secs;
        let server = cores(a.server, b.server);
        let loadgen = cores(a.own, b.own);
        let all = cores(a.busy, b.busy);
        let threads = b
            .threads
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    cores(a.threads.get(name).copied().unwrap_or(0), *t),
                )
            })
            .filter(|(_, c)| *c >= 0.005)
            .collect();
        let share = |x: Option<u64>, y: Option<u64>| match (x, y) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x) as f64 / 1e6 / secs),
            _ => None,
        };
        let database = match (a.database, b.database) {
            (Some(x), Some(y)) => Some(cores(x, y)),
            _ => None,
        };
        CpuUse {
            server,
            database,
            threads,
            loadgen,
            other: (all - server - loadgen - database.unwrap_or(0.0)).max(0.0),
            cpus: cpu_count(),
            cpu_pressure: share(a.cpu_pressure, b.cpu_pressure),
            io_pressure: share(a.io_pressure, b.io_pressure),
        }
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "server_cores": self.server, "server_threads_cores": self.threads, "postgres_cores": self.database,
            "loadgen_cores": self.loadgen, "other_cores": self.other, "cpus": self.cpus,
            "cpu_pressure_some": self.cpu_pressure, "io_pressure_some": self.io_pressure,
        })
    }

    pub(crate) fn line(&self) -> String {
        let database = self
            .database
            .map_or(String::new(), |d| format!(", PostgreSQL {d:.2}"));
        format!(
            "server {:.2} cores, loadgen {:.2}{database}, other processes {:.2} (of {} CPUs)",
            self.server, self.loadgen, self.other, self.cpus
        )
    }

    pub(crate) fn threads_line(&self) -> String {
        let mut parts: Vec<String> = self
            .threads
            .iter()
            .map(|(n, c)| format!("{n} {c:.2}"))
            .collect();
        if parts.is_empty() {
            parts.push("n/a".into());
        }
        parts.join(", ")
    }

    pub(crate) fn pressure_line(&self) -> String {
        let pct = |x: Option<f64>| x.map_or("n/a".to_owned(), |x| format!("{:.0}%", x * 100.0));
        format!(
            "waiting for CPU {}, for I/O {} of the time",
            pct(self.cpu_pressure),
            pct(self.io_pressure)
        )
    }
}

/// Samples the servers' RSS every 100 ms on its own thread: the largest instance's.
pub(crate) struct RssSampler {
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    current: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub(crate) fn start(pids: Vec<u32>) -> RssSampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let current = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, c, st) = (
            Arc::clone(&samples),
            Arc::clone(&current),
            Arc::clone(&stop),
        );
        let thread = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    if let Some(kb) = pids.iter().filter_map(|p| rss_kb(*p)).max() {
                        c.store(kb, Ordering::Relaxed);
                        if let Ok(mut v) = s.lock() {
                            v.push((Instant::now(), kb));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .ok();
        RssSampler {
            samples,
            current,
            stop,
            thread,
        }
    }

    /// Peak and last sample (kB) between two instants.
    pub(crate) fn window(&self, from: Instant, to: Instant) -> (u64, u64, usize) {
        let v = self.samples.lock().map(|v| v.clone()).unwrap_or_default();
        let inside: Vec<u64> = v
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, kb)| *kb)
            .collect();
        (
            inside.iter().copied().max().unwrap_or(0),
            inside.last().copied().unwrap_or(0),
            inside.len(),
        )
    }

    /// The latest sample (kB).
    pub(crate) fn last(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }

    /// The latest sample (kB), updated as the sampler runs.
    pub(crate) fn current(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.current)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
