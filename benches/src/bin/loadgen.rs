//! `loadgen`: HTTP load against the real `consent-server` binary, and the SQLite ceiling.
//!
//! It starts `target/release/consent-server serve` on a loopback port with a fresh temporary
//! database and keys (rate limit off), then runs:
//!
//! 1. **max throughput**: `--connections` keep-alive connections sending `POST /v1/consents` back to
//!    back for `--duration` seconds (after a short warm-up that is not counted);
//! 2. **fixed rate**: open loop at `--rate` requests/s, each request sent at its scheduled time whatever
//!    the previous ones are doing, latency counted from the scheduled time (no coordinated omission);
//! 3. the server's resident memory (`VmRSS`), sampled every 100 ms during both phases;
//! 4. **ceiling**: rows shaped like the `receipts` table inserted straight into a fresh SQLite file with
//!    the server's pragmas (WAL, `synchronous=FULL`), 1, 64 and 1024 rows per transaction;
//!
//! and prints a summary against the targets (optionally also as JSON with `--json PATH`). Everything
//! goes to 127.0.0.1, every phase is bounded in time, and the server is killed at the end, on error
//! and on Ctrl-C.
//!
//! ```text
//! cargo build --release -p consent-server -p consent-benches
//! target/release/loadgen                  # full run (about a minute)
//! target/release/loadgen --quick          # smoke test (about 15 s)
//! target/release/loadgen --help
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Targets of the product (README).
const TARGET_RECEIPTS_PER_SEC: f64 = 10_000.0;
const TARGET_P99_MS: f64 = 20.0;
const TARGET_P99_AT_RATE: f64 = 2_000.0;
const TARGET_RSS_MB: f64 = 100.0;

/// No request waits longer than this for its answer (the server's own timeout is 10 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// In the fixed-rate phase, at most this many connections (requests beyond wait for one, and the wait
/// counts in their latency).
const RATE_MAX_CONNECTIONS: usize = 512;
/// Connections opened before the fixed-rate phase starts.
const RATE_PREOPEN: usize = 32;

const USAGE: &str = "\
loadgen: load test of consent-server (POST /v1/consents) and the SQLite write ceiling

USAGE: loadgen [OPTIONS]

  --server PATH       consent-server binary [default: target/release/consent-server]
                      (build it first: cargo build --release -p consent-server)
  --build             run `cargo build --release -p consent-server` first
  --connections N     connections of the max-throughput phase [default: 64]
  --duration SECS     length of each HTTP phase [default: 10]
  --rate R            requests/s of the fixed-rate phase [default: 2000]
  --warmup SECS       warm-up before the max-throughput phase, not counted [default: 1]
  --ceiling-secs S    length of each ceiling measurement [default: 3]
  --client-threads N  threads of the load generator [default: 1]
  --phases LIST       comma-separated subset of max,rate,ceiling [default: all]
  --dir PATH          where the temporary databases go [default: the system temp dir]
  --port P            loopback port of the server [default: a free one]
  --keep              keep the temporary directory (database, keys, server log)
  --json PATH         also write the results as JSON to PATH
  --quick             smoke test: 2 s phases, 8 connections, 500 req/s, short ceiling
  -h, --help          this text
";

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Options {
    server: Option<PathBuf>,
    build: bool,
    connections: usize,
    duration: f64,
    rate: f64,
    warmup: f64,
    ceiling_secs: f64,
    client_threads: usize,
    max: bool,
    fixed_rate: bool,
    ceiling: bool,
    dir: Option<PathBuf>,
    port: Option<u16>,
    keep: bool,
    json: Option<PathBuf>,
    quick: bool,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>> {
        let mut o = Options {
            server: None,
            build: false,
            connections: 64,
            duration: 10.0,
            rate: 2000.0,
            warmup: 1.0,
            ceiling_secs: 3.0,
            client_threads: 1,
            max: true,
            fixed_rate: true,
            ceiling: true,
            dir: None,
            port: None,
            keep: false,
            json: None,
            quick: false,
        };
        let args: Vec<String> = args.into_iter().collect();
        // --quick first, so explicit options given with it still win.
        if args.iter().any(|a| a == "--quick") {
            o.quick = true;
            o.connections = 8;
            o.duration = 2.0;
            o.rate = 500.0;
            o.warmup = 0.5;
            o.ceiling_secs = 0.5;
        }
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || -> Result<String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it.next().with_context(|| format!("{name} needs a value")),
                }
            };
            match name.as_str() {
                "-h" | "--help" => return Ok(None),
                "--quick" => {}
                "--build" => o.build = true,
                "--keep" => o.keep = true,
                "--server" => o.server = Some(value()?.into()),
                "--dir" => o.dir = Some(value()?.into()),
                "--json" => o.json = Some(value()?.into()),
                "--connections" => o.connections = number(&name, &value()?)?,
                "--client-threads" => o.client_threads = number(&name, &value()?)?,
                "--port" => o.port = Some(number(&name, &value()?)?),
                "--duration" => o.duration = number(&name, &value()?)?,
                "--rate" => o.rate = number(&name, &value()?)?,
                "--warmup" => o.warmup = number(&name, &value()?)?,
                "--ceiling-secs" => o.ceiling_secs = number(&name, &value()?)?,
                "--phases" => {
                    let list = value()?;
                    o.max = false;
                    o.fixed_rate = false;
                    o.ceiling = false;
                    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        match p {
                            "max" => o.max = true,
                            "rate" => o.fixed_rate = true,
                            "ceiling" => o.ceiling = true,
                            other => bail!("unknown phase `{other}` (max, rate, ceiling)"),
                        }
                    }
                }
                other => bail!("unknown option `{other}`; see --help"),
            }
        }
        if o.connections == 0 || o.connections > 10_000 {
            bail!("--connections must be 1 to 10000");
        }
        if o.client_threads == 0 || o.client_threads > 64 {
            bail!("--client-threads must be 1 to 64");
        }
        if !(0.1..=3600.0).contains(&o.duration) {
            bail!("--duration must be 0.1 to 3600 seconds");
        }
        if !(1.0..=1_000_000.0).contains(&o.rate) {
            bail!("--rate must be 1 to 1000000 requests/s");
        }
        if !(0.0..=600.0).contains(&o.warmup) || !(0.1..=600.0).contains(&o.ceiling_secs) {
            bail!("--warmup must be 0 to 600 s and --ceiling-secs 0.1 to 600 s");
        }
        Ok(Some(o))
    }
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| anyhow::anyhow!("{name}: `{v}` is not a valid number"))
}

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

/// wyrand: fast, good enough for random device ids; seeded from the OS.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            seed = (t.as_nanos() as u64).to_le_bytes();
        }
        Rng(u64::from_le_bytes(seed))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        b
    }
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
fn b64url(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
}

/// A random device id: 16 random bytes, 22 base64url characters.
fn device_id(rng: &mut Rng) -> [u8; 22] {
    let mut v = Vec::with_capacity(22);
    b64url(&rng.bytes16(), &mut v);
    let mut out = [0u8; 22];
    out.copy_from_slice(&v);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Percentiles {
    n: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Percentiles {
    fn of(mut micros: Vec<u64>) -> Percentiles {
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

// ---------------------------------------------------------------------------------------------
// /proc: memory and CPU
// ---------------------------------------------------------------------------------------------

/// `VmRSS` of a process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
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
fn system_ticks() -> Option<(u64, u64)> {
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

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn cpu_count() -> usize {
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
struct CpuSnapshot {
    at: Instant,
    server: u64,
    threads: BTreeMap<String, u64>,
    own: u64,
    busy: u64,
    cpu_pressure: Option<u64>,
    io_pressure: Option<u64>,
}

impl CpuSnapshot {
    fn take(server_pid: u32) -> CpuSnapshot {
        CpuSnapshot {
            at: Instant::now(),
            server: cpu_ticks(&server_pid.to_string()).unwrap_or(0),
            threads: thread_ticks(server_pid),
            own: cpu_ticks("self").unwrap_or(0),
            busy: system_ticks().map_or(0, |t| t.0),
            cpu_pressure: pressure_us("cpu"),
            io_pressure: pressure_us("io"),
        }
    }
}

/// Cores used (1.0 = one core busy all the time).
#[derive(Debug, Clone, Default)]
struct CpuUse {
    server: f64,
    /// The server's threads, by name.
    threads: BTreeMap<String, f64>,
    loadgen: f64,
    other: f64,
    cpus: usize,
    /// Share of the time some runnable task waited for a CPU (PSI), and for I/O.
    cpu_pressure: Option<f64>,
    io_pressure: Option<f64>,
}

impl CpuUse {
    fn between(a: &CpuSnapshot, b: &CpuSnapshot, hz: f64) -> CpuUse {
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
        CpuUse {
            server,
            threads,
            loadgen,
            other: (all - server - loadgen).max(0.0),
            cpus: cpu_count(),
            cpu_pressure: share(a.cpu_pressure, b.cpu_pressure),
            io_pressure: share(a.io_pressure, b.io_pressure),
        }
    }

    fn json(&self) -> Value {
        json!({
            "server_cores": self.server, "server_threads_cores": self.threads,
            "loadgen_cores": self.loadgen, "other_cores": self.other, "cpus": self.cpus,
            "cpu_pressure_some": self.cpu_pressure, "io_pressure_some": self.io_pressure,
        })
    }

    fn line(&self) -> String {
        format!(
            "server {:.2} cores, loadgen {:.2}, other processes {:.2} (of {} CPUs)",
            self.server, self.loadgen, self.other, self.cpus
        )
    }

    fn threads_line(&self) -> String {
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

    fn pressure_line(&self) -> String {
        let pct = |x: Option<f64>| x.map_or("n/a".to_owned(), |x| format!("{:.0}%", x * 100.0));
        format!(
            "waiting for CPU {}, for I/O {} of the time",
            pct(self.cpu_pressure),
            pct(self.io_pressure)
        )
    }
}

/// Samples the server's RSS every 100 ms on its own thread.
struct RssSampler {
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    current: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
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
                    if let Some(kb) = rss_kb(pid) {
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
    fn window(&self, from: Instant, to: Instant) -> (u64, u64, usize) {
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

    fn last(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
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

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// The temporary directory (databases, keys, server log); removed when dropped unless `--keep`.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    fn new(base: Option<&Path>, keep: bool) -> Result<TempDir> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let path = base.join(format!("consent-loadgen-{}-{nanos:09}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir { path, keep })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The server process; dropping it kills the server.
struct Server {
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The file system type holding `path` (from /proc/mounts), to warn when fsync is free (tmpfs).
fn fs_type(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best = (0, String::from("unknown"));
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [_, mount, kind, ..] = f[..]
            && path.starts_with(mount)
            && mount.len() >= best.0
        {
            best = (mount.len(), kind.to_owned());
        }
    }
    best.1
}

fn server_binary(opts: &Options) -> Result<PathBuf> {
    if let Some(p) = &opts.server {
        return Ok(p.clone());
    }
    let here = PathBuf::from("target/release/consent-server");
    if here.exists() {
        return Ok(here);
    }
    Ok(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/consent-server"))
}

fn build_server() -> Result<()> {
    eprintln!("building: cargo build --release -p consent-server");
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "consent-server"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build --release -p consent-server failed");
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(l.local_addr()?.port())
}

async fn start_server(opts: &Options, binary: &Path, dir: &Path) -> Result<Server> {
    if !binary.exists() {
        bail!(
            "server binary {} not found: build it with `cargo build --release -p consent-server` \
             (or pass --build, or --server PATH)",
            binary.display()
        );
    }
    let port = match opts.port {
        Some(p) => p,
        None => free_port()?,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = dir.join("server.log");
    let log_file = std::fs::File::create(&log)?;
    let child = Command::new(binary)
        .arg("serve")
        .env_remove("CONSENT_CONFIG")
        .env_remove("CONSENT_POLICY")
        .env_remove("CONSENT_SITE_DIR")
        .env_remove("CONSENT_CORS_ORIGINS")
        .env("CONSENT_LISTEN", addr.to_string())
        .env("CONSENT_DATABASE", dir.join("consent.db"))
        .env("CONSENT_KEYS", dir.join("keys.json"))
        .env("CONSENT_DEVELOPMENT_KEYS", "true")
        .env("CONSENT_ISSUER", format!("http://{addr}"))
        .env("CONSENT_RATE_PER_SECOND", "1000000")
        .env("CONSENT_RATE_BURST", "1000000")
        .env("CONSENT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let pid = child.id();
    let mut server = Server {
        child: Some(child),
        pid,
        addr,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(c) = server.child.as_mut()
            && let Some(status) = c.try_wait()?
        {
            bail!(
                "the server exited during start-up ({status}):\n{}",
                server.log_tail()
            );
        }
        if let Ok(r) = get(addr, "/readyz").await
            && r.status == 200
        {
            return Ok(server);
        }
        if Instant::now() > deadline {
            let tail = server.log_tail();
            server.stop();
            bail!("the server was not ready within 30 s:\n{tail}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client with keep-alive (cheap, so the load generator leaves the CPU to the server)
// ---------------------------------------------------------------------------------------------

struct Response {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl Conn {
    async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    async fn exchange(&mut self, request: &[u8]) -> io::Result<Response> {
        self.stream.write_all(request).await?;
        self.read_response().await
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(8192);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        // One request at a time on a connection: nothing is left over from the previous response.
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err(invalid("response head over 64 KiB"));
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| invalid("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("bad status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim(), v.trim());
                if k.eq_ignore_ascii_case("content-length") {
                    length = Some(v.parse::<usize>().map_err(|_| invalid("content-length"))?);
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = v.to_ascii_lowercase().contains("chunked");
                } else if k.eq_ignore_ascii_case("connection") {
                    close = v.eq_ignore_ascii_case("close");
                }
            }
        }
        let body = if chunked {
            self.read_chunked(head_end).await?
        } else if let Some(n) = length {
            while self.buf.len() < head_end + n {
                self.fill().await?;
            }
            self.buf[head_end..head_end + n].to_vec()
        } else {
            // No length: only bodiless answers are expected; do not reuse the connection.
            close = true;
            Vec::new()
        };
        Ok(Response {
            status,
            body,
            close,
        })
    }

    async fn read_chunked(&mut self, mut pos: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf[pos..], b"\r\n") {
                    break pos + i;
                }
                self.fill().await?;
            };
            let size_text =
                std::str::from_utf8(&self.buf[pos..line_end]).map_err(|_| invalid("chunk size"))?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("chunk size"))?;
            pos = line_end + 2;
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    if let Some(i) = find(&self.buf[pos..], b"\r\n") {
                        if i == 0 {
                            return Ok(body);
                        }
                        pos += i + 2;
                    } else {
                        self.fill().await?;
                    }
                }
            }
            while self.buf.len() < pos + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[pos..pos + size]);
            pos += size + 2;
        }
    }
}

/// One GET on a fresh connection.
async fn get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    let mut c = tokio::time::timeout(Duration::from_secs(5), Conn::connect(addr))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tokio::time::timeout(Duration::from_secs(10), c.exchange(req.as_bytes()))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// The `POST /v1/consents` request, with a placeholder for the 22-character device id.
#[derive(Clone)]
struct Template {
    bytes: Vec<u8>,
    device_at: usize,
}

impl Template {
    fn new(addr: SocketAddr) -> Template {
        const PLACEHOLDER: &str = "DEVICEDEVICEDEVICEDEVI";
        let body = format!(
            r#"{{"policy_version":"2025-03-26","decisions":{{"cookies-analytics":"given","cookies-marketing":"refused","marketing":"given"}},"method":"custom","language":"kk","collection_point":{{"kind":"banner","page":"https://invisionu.education/"}},"subject":{{"device":"{PLACEHOLDER}"}}}}"#
        );
        let head = format!(
            "POST /v1/consents HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) \
             AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0 Safari/537.36 consent-loadgen\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let bytes = format!("{head}{body}").into_bytes();
        let device_at = find(&bytes, PLACEHOLDER.as_bytes()).unwrap_or(0);
        Template { bytes, device_at }
    }

    fn fill(&self, out: &mut Vec<u8>, rng: &mut Rng) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        out[self.device_at..self.device_at + 22].copy_from_slice(&device_id(rng));
    }
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Status(u16),
    Timeout,
    Io,
}

impl Outcome {
    fn label(self) -> String {
        match self {
            Outcome::Status(s) => s.to_string(),
            Outcome::Timeout => "timeout".into(),
            Outcome::Io => "connection error".into(),
        }
    }
}

/// Counters shared with the progress printer.
#[derive(Default)]
struct Live {
    ok: AtomicU64,
    errors: AtomicU64,
}

/// What a phase measured.
#[derive(Default)]
struct HttpResult {
    ok: u64,
    outcomes: BTreeMap<Outcome, u64>,
    /// Latencies of the 201 answers, microseconds.
    latencies: Vec<u64>,
    /// Fixed rate only: time from the actual send (not the scheduled one), microseconds.
    service: Vec<u64>,
    /// Fixed rate only: how late requests were sent after their scheduled time, microseconds.
    send_lag: Vec<u64>,
    /// Sizes of a few receipts (JWS) answered.
    receipt_sizes: Vec<usize>,
    response_problem: Option<String>,
    unfinished: u64,
    connections_used: usize,
}

impl HttpResult {
    fn record(&mut self, outcome: Outcome, micros: u64) {
        *self.outcomes.entry(outcome).or_insert(0) += 1;
        if outcome == Outcome::Status(201) {
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

    fn errors(&self) -> BTreeMap<String, u64> {
        self.outcomes
            .iter()
            .filter(|(o, _)| **o != Outcome::Status(201))
            .map(|(o, n)| (o.label(), *n))
            .collect()
    }

    fn error_total(&self) -> u64 {
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

/// Sends one request on `conn` (connecting first if needed); the connection is dropped on error.
async fn one_request(
    conn: &mut Option<Conn>,
    addr: SocketAddr,
    request: &[u8],
) -> (Outcome, Option<Vec<u8>>) {
    let attempt = async {
        if conn.is_none() {
            *conn = Some(Conn::connect(addr).await?);
        }
        match conn.as_mut() {
            Some(c) => c.exchange(request).await,
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, attempt).await {
        Ok(Ok(r)) => {
            let outcome = Outcome::Status(r.status);
            if r.close {
                *conn = None;
            }
            (outcome, (r.status == 201).then_some(r.body))
        }
        Ok(Err(_)) => {
            *conn = None;
            (Outcome::Io, None)
        }
        Err(_) => {
            *conn = None;
            (Outcome::Timeout, None)
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

/// Closed loop: `connections` connections, each sending its next request when the answer comes.
async fn max_throughput(
    addr: SocketAddr,
    template: &Template,
    connections: usize,
    duration: Duration,
    live: &Arc<Live>,
) -> (HttpResult, Duration) {
    let start = Instant::now();
    let end = start + duration;
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let template = template.clone();
        let live = Arc::clone(live);
        workers.push(tokio::spawn(async move {
            let mut rng = Rng::new();
            let mut result = HttpResult::default();
            let mut conn = Conn::connect(addr).await.ok();
            let mut request = Vec::with_capacity(template.bytes.len());
            let mut inspected = 0;
            while Instant::now() < end {
                template.fill(&mut request, &mut rng);
                let sent = Instant::now();
                let (outcome, body) = one_request(&mut conn, addr, &request).await;
                let micros = sent.elapsed().as_micros() as u64;
                result.record(outcome, micros);
                if outcome == Outcome::Status(201) {
                    live.ok.fetch_add(1, Ordering::Relaxed);
                    if inspected < 4 {
                        if let Some(b) = body {
                            result.inspect(&b);
                        }
                        inspected += 1;
                    }
                } else {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    if conn.is_none() {
                        // Do not spin on a refusing server.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
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

/// Open loop: request `i` is due at `start + i / rate` and sent then, whatever happened to the others.
async fn fixed_rate(
    addr: SocketAddr,
    template: &Template,
    rate: f64,
    duration: Duration,
    live: &Arc<Live>,
) -> (HttpResult, Duration) {
    let pool: Arc<Mutex<Vec<Conn>>> = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..RATE_PREOPEN {
        if let Ok(c) = Conn::connect(addr).await
            && let Ok(mut p) = pool.lock()
        {
            p.push(c);
        }
    }
    let opened = Arc::new(AtomicU64::new(RATE_PREOPEN as u64));
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
        let mut request = Vec::with_capacity(template.bytes.len());
        template.fill(&mut request, &mut rng);
        let (pool, permits, live, opened) = (
            Arc::clone(&pool),
            Arc::clone(&permits),
            Arc::clone(live),
            Arc::clone(&opened),
        );
        let inspect = i < 4;
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let mut conn = pool.lock().ok().and_then(|mut p| p.pop());
            if conn.is_none() {
                opened.fetch_add(1, Ordering::Relaxed);
            }
            let sent = Instant::now();
            let (outcome, body) = one_request(&mut conn, addr, &request).await;
            let done = Instant::now();
            if let Some(c) = conn
                && let Ok(mut p) = pool.lock()
            {
                p.push(c);
            }
            if outcome == Outcome::Status(201) {
                live.ok.fetch_add(1, Ordering::Relaxed);
            } else {
                live.errors.fetch_add(1, Ordering::Relaxed);
            }
            (
                outcome,
                done.duration_since(due).as_micros() as u64,
                done.duration_since(sent).as_micros() as u64,
                sent.duration_since(due).as_micros() as u64,
                if inspect { body } else { None },
            )
        }));
    }
    let mut result = HttpResult::default();
    // Every request has its own timeout; this only bounds the wait should something hang.
    let grace = Instant::now() + REQUEST_TIMEOUT + Duration::from_secs(5);
    for t in tasks {
        let remaining = grace.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, t).await {
            Ok(Ok((outcome, latency, service, lag, body))) => {
                result.record(outcome, latency);
                if outcome == Outcome::Status(201) {
                    result.service.push(service);
                }
                result.send_lag.push(lag);
                if let Some(b) = body {
                    result.inspect(&b);
                }
            }
            Ok(Err(_)) => result.unfinished += 1,
            Err(_) => result.unfinished += 1,
        }
    }
    result.connections_used = usize::try_from(opened.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
    (result, start.elapsed())
}

/// The server's `/metrics` counters we look at.
#[derive(Debug, Clone, Copy, Default)]
struct ServerMetrics {
    duration_sum: f64,
    duration_count: f64,
    receipts_recorded: f64,
    receipts_stored: f64,
}

async fn server_metrics(addr: SocketAddr) -> Option<ServerMetrics> {
    let r = get(addr, "/metrics").await.ok()?;
    let text = String::from_utf8(r.body).ok()?;
    let mut m = ServerMetrics::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        match name {
            "consent_http_request_duration_seconds_sum" => m.duration_sum = v,
            "consent_http_request_duration_seconds_count" => m.duration_count = v,
            "consent_receipts_recorded_total" => m.receipts_recorded = v,
            "consent_receipts_stored" => m.receipts_stored = v,
            _ => {}
        }
    }
    Some(m)
}

// ---------------------------------------------------------------------------------------------
// Phases with their reports
// ---------------------------------------------------------------------------------------------

struct PhaseReport {
    name: &'static str,
    elapsed: Duration,
    result: HttpResult,
    latency: Percentiles,
    service: Percentiles,
    send_lag: Percentiles,
    receipts_per_sec: f64,
    cpu: CpuUse,
    rss_peak_kb: u64,
    rss_last_kb: u64,
    rss_samples: usize,
    server_mean_ms: Option<f64>,
    stored_after: Option<f64>,
    target_rate: Option<f64>,
    connections: usize,
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

    fn print(&self) {
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

struct Phase<'a> {
    server: &'a Server,
    sampler: &'a RssSampler,
    hz: f64,
}

impl Phase<'_> {
    async fn run(
        &self,
        name: &'static str,
        template: &Template,
        opts: &Options,
        rate: Option<f64>,
    ) -> PhaseReport {
        let addr = self.server.addr;
        let duration = Duration::from_secs_f64(opts.duration);
        let live = Arc::new(Live::default());
        let before = server_metrics(addr).await;
        let cpu0 = CpuSnapshot::take(self.server.pid);
        let t0 = Instant::now();
        let printer = progress(
            name,
            Arc::clone(&live),
            Arc::clone(&self.sampler.current),
            opts.duration,
        );
        let (result, elapsed) = match rate {
            None => max_throughput(addr, template, opts.connections, duration, &live).await,
            Some(r) => fixed_rate(addr, template, r, duration, &live).await,
        };
        printer.abort();
        let cpu1 = CpuSnapshot::take(self.server.pid);
        // Let the sampler take one more sample after the last answer.
        tokio::time::sleep(Duration::from_millis(120)).await;
        let (peak, last, samples) = self.sampler.window(t0, Instant::now());
        let after = server_metrics(addr).await;
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
            target_rate: rate,
            connections,
        };
        report.print();
        report
    }
}

// ---------------------------------------------------------------------------------------------
// Ceiling: SQLite alone
// ---------------------------------------------------------------------------------------------

/// consent-server's schema, exactly (its migrations, applied in order).
fn ceiling_schema() -> String {
    consent_server::store::MIGRATIONS.concat()
}

struct CeilingRow {
    label: String,
    batch: usize,
    server_shaped: bool,
    rows: u64,
    commits: u64,
    elapsed: Duration,
}

impl CeilingRow {
    fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }

    fn json(&self) -> Value {
        json!({
            "label": self.label,
            "rows_per_transaction": self.batch,
            "server_shaped": self.server_shaped,
            "rows": self.rows,
            "commits": self.commits,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rows_per_sec": self.rows_per_sec(),
            "commits_per_sec": self.commits as f64 / self.elapsed.as_secs_f64(),
        })
    }
}

/// Time-ordered UUID text, like the server's receipt ids.
fn uuid7(rng: &mut Rng, millis: u64) -> String {
    let mut b = rng.bytes16();
    b[..6].copy_from_slice(&millis.to_be_bytes()[2..8]);
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Inserts rows for `secs` seconds, `batch` per transaction, into a fresh database in `dir`.
fn ceiling_run(
    dir: &Path,
    batch: usize,
    server_shaped: bool,
    jws_len: usize,
    secs: f64,
) -> Result<CeilingRow> {
    let path = dir.join(format!(
        "ceiling-{batch}{}.db",
        if server_shaped { "-server" } else { "" }
    ));
    let mut conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(&ceiling_schema())?;
    let mut rng = Rng::new();
    // Distinct JWS-like texts: windows of one long random base64url string.
    let mut noise = Vec::new();
    let mut random = vec![0u8; (jws_len + 4096) * 3 / 4 + 3];
    for chunk in random.chunks_mut(16) {
        let r = rng.bytes16();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    b64url(&random, &mut noise);
    let noise = String::from_utf8(noise)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = now.as_millis() as u64;
    let issued_at = i64::try_from(now.as_secs()).unwrap_or(0);
    let expires = issued_at + 365 * 86_400;
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let (mut rows, mut commits) = (0u64, 0u64);
    while Instant::now() < deadline {
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for _ in 0..batch {
            let id = uuid7(&mut rng, millis + rows / 16);
            let mut subject = b"dev:".to_vec();
            subject.extend_from_slice(&device_id(&mut rng));
            let subject = String::from_utf8(subject)?;
            let offset = (rng.next() % 4096) as usize;
            let jws = &noise[offset..offset + jws_len];
            let insert = |c: &rusqlite::Connection| -> rusqlite::Result<()> {
                // Exactly the row the server inserts per receipt.
                c.prepare_cached(
                    "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, browser, decisions, expires_at, actor, jws)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(rusqlite::params![
                    id,
                    subject,
                    issued_at,
                    "2025-03-26",
                    "custom",
                    "ed-20251124",
                    "Chrome",
                    "cookies-analytics=given;cookies-marketing=refused;marketing=given",
                    expires,
                    "subject",
                    jws
                ])?;
                Ok(())
            };
            if server_shaped {
                // As the server does: each write in its own savepoint.
                let sp = tx.savepoint()?;
                insert(&sp)?;
                sp.commit()?;
            } else {
                insert(&tx)?;
            }
            rows += 1;
        }
        tx.commit()?;
        commits += 1;
    }
    let elapsed = start.elapsed();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(CeilingRow {
        label: if server_shaped {
            format!("{batch}/tx, receipt row + savepoint (as the server writes)")
        } else {
            format!("{batch}/tx, receipts rows only")
        },
        batch,
        server_shaped,
        rows,
        commits,
        elapsed,
    })
}

fn ceiling(dir: &Path, jws_len: usize, secs: f64) -> Result<Vec<CeilingRow>> {
    let mut out = Vec::new();
    for (batch, server_shaped) in [
        (1, false),
        (64, false),
        (1024, false),
        (64, true),
        (1024, true),
    ] {
        let row = ceiling_run(dir, batch, server_shaped, jws_len, secs)?;
        eprintln!(
            "  [ceiling] {:<62} {:>9.0} rows/s ({} rows, {} commits in {:.2} s)",
            row.label,
            row.rows_per_sec(),
            row.rows,
            row.commits,
            row.elapsed.as_secs_f64()
        );
        out.push(row);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

async fn run(opts: Options) -> Result<Value> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: loadgen is a debug build; use `cargo run --release -p consent-benches --bin loadgen`"
        );
    }
    if opts.build {
        build_server()?;
    }
    let binary = server_binary(&opts)?;
    if (opts.max || opts.fixed_rate) && !binary.exists() {
        bail!(
            "server binary {} not found: build it with `cargo build --release -p consent-server` \
             (or pass --build, or --server PATH)",
            binary.display()
        );
    }
    // Declared first, so dropped last: after the server is killed.
    let tmp = TempDir::new(opts.dir.as_deref(), opts.keep)?;
    let dir = tmp.path.clone();
    let fs = fs_type(&dir);
    let hz = clock_ticks_per_sec();
    let cpus = cpu_count();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "loadgen: server {}, data in {} ({fs}), {cpus} CPUs, load average {}",
        binary.display(),
        dir.display(),
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if fs == "tmpfs" || fs == "ramfs" {
        eprintln!(
            "warning: {} is on {fs}: fsync costs nothing there, so \"durable\" figures are optimistic; use --dir on a disk",
            dir.display()
        );
    }
    // Other busy processes skew the figures: measure the machine for half a second first.
    let idle0 = system_ticks();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle1 = system_ticks();
    let busy_before = match (idle0, idle1) {
        (Some(a), Some(b)) if b.1 > a.1 => (b.0 - a.0) as f64 / (b.1 - a.1) as f64 * cpus as f64,
        _ => 0.0,
    };
    if busy_before > 0.3 {
        eprintln!(
            "note: before starting, other processes keep {busy_before:.2} of {cpus} CPUs busy"
        );
    }

    let mut summary = json!({
        "mode": if opts.quick { "quick" } else { "full" },
        "options": {
            "connections": opts.connections, "duration_s": opts.duration, "rate": opts.rate,
            "warmup_s": opts.warmup, "ceiling_s": opts.ceiling_secs, "client_threads": opts.client_threads,
        },
        "machine": { "cpus": cpus, "busy_cores_before": busy_before, "filesystem": fs, "loadavg_before": load_before.trim() },
        "targets": { "receipts_per_sec": TARGET_RECEIPTS_PER_SEC, "p99_ms": TARGET_P99_MS, "p99_at_rate": TARGET_P99_AT_RATE, "rss_mb": TARGET_RSS_MB },
    });

    let mut max_report = None;
    let mut rate_report = None;
    let mut rss_idle = 0;
    let mut rss_final = 0;
    let mut rss_peak = 0;
    let mut receipt_len = None;
    if opts.max || opts.fixed_rate {
        let t_start = Instant::now();
        let mut server = start_server(&opts, &binary, &dir).await?;
        eprintln!(
            "server pid {} ready on http://{} after {:.2} s",
            server.pid,
            server.addr,
            t_start.elapsed().as_secs_f64()
        );
        let sampler = RssSampler::start(server.pid);
        rss_idle = rss_kb(server.pid).unwrap_or(0);
        let template = Template::new(server.addr);
        let phase = Phase {
            server: &server,
            sampler: &sampler,
            hz,
        };
        if opts.max {
            if opts.warmup > 0.0 {
                eprintln!(
                    "warm-up: {} connections for {:.1} s (not counted)",
                    opts.connections, opts.warmup
                );
                let live = Arc::new(Live::default());
                let (w, _) = max_throughput(
                    server.addr,
                    &template,
                    opts.connections,
                    Duration::from_secs_f64(opts.warmup),
                    &live,
                )
                .await;
                if w.ok == 0 {
                    bail!(
                        "no request succeeded during the warm-up: {:?}\nserver log:\n{}",
                        w.errors(),
                        server.log_tail()
                    );
                }
            }
            eprintln!(
                "phase max throughput: {} keep-alive connections, {:.0} s",
                opts.connections, opts.duration
            );
            max_report = Some(phase.run("max", &template, &opts, None).await);
        }
        if opts.fixed_rate {
            eprintln!(
                "phase fixed rate: {:.0} requests/s open loop, {:.0} s",
                opts.rate, opts.duration
            );
            rate_report = Some(phase.run("rate", &template, &opts, Some(opts.rate)).await);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        rss_final = rss_kb(server.pid).unwrap_or_else(|| sampler.last());
        rss_peak = [&max_report, &rate_report]
            .iter()
            .filter_map(|r| r.as_ref().map(|r| r.rss_peak_kb))
            .max()
            .unwrap_or(0)
            .max(rss_final);
        let sizes: Vec<usize> = [&max_report, &rate_report]
            .iter()
            .filter_map(|r| r.as_ref())
            .flat_map(|r| r.result.receipt_sizes.iter().copied())
            .collect();
        if !sizes.is_empty() {
            receipt_len = Some(sizes.iter().sum::<usize>() / sizes.len());
        }
        if let Some(p) = [&max_report, &rate_report]
            .iter()
            .filter_map(|r| r.as_ref())
            .find_map(|r| r.result.response_problem.clone())
        {
            eprintln!("warning: {p}");
            summary["response_problem"] = json!(p);
        }
        drop(sampler);
        server.stop();
        eprintln!("server stopped");
        summary["server"] = json!({ "binary": binary.display().to_string() });
    }
    ceiling_and_summary(
        &opts,
        &dir,
        &mut summary,
        &max_report,
        &rate_report,
        (rss_idle, rss_peak, rss_final),
        receipt_len,
    )?;
    drop(tmp);
    Ok(summary)
}

fn ceiling_and_summary(
    opts: &Options,
    dir: &Path,
    summary: &mut Value,
    max_report: &Option<PhaseReport>,
    rate_report: &Option<PhaseReport>,
    (rss_idle, rss_peak, rss_final): (u64, u64, u64),
    receipt_len: Option<usize>,
) -> Result<()> {
    let mut ceiling_rows = Vec::new();
    let jws_len = receipt_len.unwrap_or(2500);
    if opts.ceiling {
        eprintln!(
            "phase ceiling: SQLite alone (WAL, synchronous=FULL), JWS of {jws_len} bytes{}, {:.1} s per run",
            if receipt_len.is_some() {
                " (as measured)"
            } else {
                ""
            },
            opts.ceiling_secs
        );
        ceiling_rows = ceiling(dir, jws_len, opts.ceiling_secs)?;
    }

    // ---- the table ----
    let mut out = String::new();
    let line = "-".repeat(100);
    let _ = writeln!(out, "\n{line}");
    let _ = writeln!(
        out,
        "consent-server load test ({} mode) - {} CPUs, data on {}",
        if opts.quick { "quick" } else { "full" },
        cpu_count(),
        summary["machine"]["filesystem"].as_str().unwrap_or("?")
    );
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
    if !ceiling_rows.is_empty() {
        let _ = writeln!(
            out,
            "ceiling: SQLite alone, WAL + synchronous=FULL, JWS {jws_len} B (rows/s)"
        );
        for c in &ceiling_rows {
            let _ = writeln!(
                out,
                "{:<70} {:>10.0}",
                format!("  {}", c.label),
                c.rows_per_sec()
            );
        }
        if let (Some(m), Some(best)) = (
            max_report,
            ceiling_rows
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
    }
    let _ = writeln!(out, "{line}");
    print!("{out}");

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
    if !ceiling_rows.is_empty() {
        summary["ceiling"] = json!({
            "jws_bytes": jws_len,
            "runs": ceiling_rows.iter().map(CeilingRow::json).collect::<Vec<_>>(),
        });
    }
    let verdicts = json!({
        "receipts_per_sec": max_report.as_ref().map(|m| m.receipts_per_sec >= TARGET_RECEIPTS_PER_SEC),
        "p99_at_rate": rate_report.as_ref().filter(|r| (r.target_rate.unwrap_or(0.0) - TARGET_P99_AT_RATE).abs() < 1.0)
            .map(|r| r.latency.p99 < TARGET_P99_MS && r.result.error_total() == 0),
        "rss": (max_report.is_some() || rate_report.is_some()).then_some(mb(rss_peak) < TARGET_RSS_MB),
    });
    summary["pass"] = verdicts;
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(summary)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
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

/// Ctrl-C, SIGTERM or SIGHUP.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let wait = |kind: SignalKind| async move {
        match signal(kind) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = wait(SignalKind::interrupt()) => {},
        () = wait(SignalKind::terminate()) => {},
        () = wait(SignalKind::hangup()) => {},
    }
}

fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = if opts.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.client_threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Dropping `run` (Ctrl-C, SIGTERM, SIGHUP) drops the server guard, which kills the server.
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(opts) => r.map(Some),
            () = interrupted() => Ok(None),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(Some(_)) => ExitCode::SUCCESS,
        Ok(None) => {
            eprintln!("interrupted; server stopped");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
