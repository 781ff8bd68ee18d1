//! `loadgen`: HTTP load against the real `consent-server` binary, and the database's ceiling.
//!
//! It starts `target/release/consent-server serve` on a loopback port with a fresh temporary
//! database and keys (rate limit off): a SQLite file, or with `--database postgres://…` a fresh
//! schema of that PostgreSQL database and `--instances N` servers on it sharing one key file made
//! by `consent-server keygen`, the load spread over them. Then it runs:
//!
//! 1. **max throughput**: `--connections` keep-alive connections sending `POST /v1/consents` back to
//!    back for `--duration` seconds (after a short warm-up that is not counted);
//! 2. **fixed rate**: open loop at `--rate` requests/s, each request sent at its scheduled time whatever
//!    the previous ones are doing, latency counted from the scheduled time (no coordinated omission);
//! 3. the server's resident memory (`VmRSS`), sampled every 100 ms during both phases;
//! 4. **ceiling**: rows shaped like the `receipts` table inserted straight into a fresh SQLite file with
//!    the server's pragmas (WAL, `synchronous=FULL`), or a fresh schema of the PostgreSQL database
//!    over a connection made as the server makes them, 1, 64 and 1024 rows per transaction;
//!
//! and prints a summary against the targets (optionally also as JSON with `--json PATH`). Everything
//! goes to 127.0.0.1, every phase is bounded in time, and the server is killed at the end, on error
//! and on Ctrl-C.
//!
//! ```text
//! cargo build --release -p consent-server -p consent-benches
//! target/release/loadgen                  # full run (about a minute)
//! target/release/loadgen --quick          # smoke test (about 15 s)
//! target/release/loadgen --database postgres://bench@127.0.0.1:5432/consent --instances 3
//! target/release/loadgen --help
//! ```
//!
//! The modules: [`args`] (the command line), [`http`] (the reqwest client and the request),
//! [`server`] (the server process), [`phases`] (the HTTP load and what is measured around it),
//! [`system`] (`/proc`), [`ceiling`] (the database alone), [`report`] (the table and the JSON),
//! [`ids`] (random ids), [`pg`] (the run's schemas in PostgreSQL).

mod args;
mod ceiling;
mod http;
mod ids;
mod pg;
mod phases;
mod report;
mod server;
mod system;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};

use crate::args::{Args, Options};
use crate::http::{Client, ConsentBody};
use crate::phases::{Live, Load, Phase};
use crate::report::{
    PhaseReport, Results, TARGET_P99_AT_RATE, TARGET_P99_MS, TARGET_RECEIPTS_PER_SEC,
    TARGET_RSS_MB, TARGET_SHARE_OF_PG_CEILING,
};
use crate::server::{Backing, Server, TempDir};
use crate::system::{RssSampler, clock_ticks_per_sec, cpu_count, rss_kb, system_ticks};

/// Receipt length for the ceiling when no HTTP phase measured one.
const DEFAULT_JWS_LEN: usize = 2500;

/// What the HTTP phases leave for the report.
#[derive(Default)]
struct HttpPhases {
    max: Option<PhaseReport>,
    rate: Option<PhaseReport>,
    rss_idle: u64,
    rss_peak: u64,
    rss_final: u64,
    receipt_len: Option<usize>,
}

async fn run(opts: Options) -> Result<Value> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: loadgen is a debug build; use `cargo run --release -p consent-benches --bin loadgen`"
        );
    }
    if opts.build {
        server::build()?;
    }
    let binary = server::binary(&opts);
    if opts.phases.http() && !binary.exists() {
        bail!(
            "server binary {} not found: build it with `cargo build --release -p consent-server` \
             (or pass --build, or --server PATH)",
            binary.display()
        );
    }
    // Declared first, so dropped last: after the server is killed.
    let tmp = TempDir::new(opts.dir.as_deref(), opts.keep)?;
    let dir = tmp.path().to_path_buf();
    let fs = server::fs_type(&dir);
    let database = match &opts.database {
        Some(url) => Some(
            consent_server::store::PostgresUrl::parse(url)
                .map_err(anyhow::Error::msg)?
                .to_string(),
        ),
        None => None,
    };
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
    if let Some(url) = &database {
        eprintln!(
            "loadgen: {} instance(s) on PostgreSQL {url} (fresh schemas, dropped at the end)",
            opts.instances
        );
    } else if fs == "tmpfs" || fs == "ramfs" {
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
            "device_ids": opts.device_ids,
            "webhook_expiries": opts.webhook_expiries,
        },
        "machine": { "cpus": cpus, "busy_cores_before": busy_before, "filesystem": fs, "loadavg_before": load_before.trim() },
        "targets": { "receipts_per_sec": TARGET_RECEIPTS_PER_SEC, "p99_ms": TARGET_P99_MS, "p99_at_rate": TARGET_P99_AT_RATE, "rss_mb": TARGET_RSS_MB },
        "database": {
            "engine": if database.is_some() { "PostgreSQL" } else { "SQLite" },
            "url": database,
            "instances": opts.instances,
        },
    });
    if database.is_some() {
        summary["targets"]["share_of_pg_ceiling_pct"] = json!(TARGET_SHARE_OF_PG_CEILING);
    }

    let http = if opts.phases.http() {
        let http = http_phases(&opts, &binary, &dir, &mut summary).await?;
        summary["server"] = json!({ "binary": binary.display().to_string() });
        http
    } else {
        HttpPhases::default()
    };
    let ceiling = if opts.phases.ceiling {
        let jws_len = http.receipt_len.unwrap_or(DEFAULT_JWS_LEN);
        let measured = http.receipt_len.is_some();
        Some(match &opts.database {
            None => ceiling::run(
                &ceiling::Sqlite::new(&dir),
                jws_len,
                measured,
                opts.ceiling_secs,
            )?,
            // On a thread of its own: the PostgreSQL ceiling has its own runtime.
            Some(url) => std::thread::scope(|s| {
                s.spawn(|| {
                    let backend = ceiling::Postgres::new(url, opts.keep)?;
                    ceiling::run(&backend, jws_len, measured, opts.ceiling_secs)
                })
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the ceiling's thread panicked")))
            })?,
        })
    } else {
        None
    };
    let results = Results {
        quick: opts.quick,
        filesystem: fs,
        database,
        instances: opts.instances,
        max: http.max,
        rate: http.rate,
        rss_idle: http.rss_idle,
        rss_peak: http.rss_peak,
        rss_final: http.rss_final,
        receipt_len: http.receipt_len,
        ceiling,
    };
    print!("{}", results.table());
    results.add_to(&mut summary);
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    drop(tmp);
    Ok(summary)
}

/// Starts the server, runs the warm-up and the HTTP phases asked for, and stops the server.
async fn http_phases(
    opts: &Options,
    binary: &Path,
    dir: &Path,
    summary: &mut Value,
) -> Result<HttpPhases> {
    let control = Client::new()?;
    // On PostgreSQL: a fresh schema, and one key file for every instance (made first: the server
    // never makes its own keys there). Declared before the servers, so dropped after them.
    let schema = match &opts.database {
        Some(url) => Some(pg::Schema::create(url, "servers", opts.keep)?),
        None => None,
    };
    let backing = match &schema {
        Some(s) => {
            server::keygen(binary, &dir.join("keys.json"))?;
            summary["database"]["schema"] = json!(s.name());
            Backing::Postgres(s.url().to_owned())
        }
        None => Backing::Sqlite,
    };
    let t_start = Instant::now();
    // One after the other (the first migrates the schema); `--port P` gives instance i port P + i.
    let mut servers = Vec::with_capacity(opts.instances);
    for i in 0..opts.instances {
        let port = opts.port.map(|p| p.saturating_add(i as u16));
        servers.push(
            Server::start(
                binary,
                dir,
                &backing,
                opts.webhook_expiries,
                i,
                port,
                &control,
            )
            .await?,
        );
    }
    for server in &servers {
        eprintln!(
            "server pid {} ready on http://{} after {:.2} s",
            server.pid(),
            server.target().addr(),
            t_start.elapsed().as_secs_f64()
        );
    }
    let pids: Vec<u32> = servers.iter().map(Server::pid).collect();
    let targets: Vec<_> = servers.iter().map(|s| s.target().clone()).collect();
    let rss = |pids: &[u32]| pids.iter().filter_map(|p| rss_kb(*p)).max();
    let sampler = RssSampler::start(pids.clone());
    let mut out = HttpPhases {
        rss_idle: rss(&pids).unwrap_or(0),
        ..HttpPhases::default()
    };
    let body = ConsentBody::new(opts.device_ids);
    let phase = Phase {
        servers: &servers,
        postgres: schema.is_some(),
        sampler: &sampler,
        control: &control,
        hz: clock_ticks_per_sec(),
    };
    let duration = Duration::from_secs_f64(opts.duration);
    if opts.phases.max {
        if opts.warmup > 0.0 {
            eprintln!(
                "warm-up: {} connections for {:.1} s (not counted)",
                opts.connections, opts.warmup
            );
            let (w, _) = phases::max_throughput(
                &targets,
                &body,
                opts.connections,
                Duration::from_secs_f64(opts.warmup),
                &Arc::new(Live::default()),
            )
            .await;
            if w.ok == 0 {
                bail!(
                    "no request succeeded during the warm-up: {:?}\nserver log:\n{}",
                    w.errors(),
                    servers[0].log_tail()
                );
            }
        }
        eprintln!(
            "phase max throughput: {} keep-alive connections, {:.0} s",
            opts.connections, opts.duration
        );
        let load = Load::Max {
            connections: opts.connections,
        };
        out.max = Some(phase.run("max", &body, load, duration).await?);
    }
    if opts.phases.rate {
        eprintln!(
            "phase fixed rate: {:.0} requests/s open loop, {:.0} s",
            opts.rate, opts.duration
        );
        out.rate = Some(
            phase
                .run("rate", &body, Load::Rate(opts.rate), duration)
                .await?,
        );
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    out.rss_final = rss(&pids).unwrap_or_else(|| sampler.last());
    let reports = || [&out.max, &out.rate].into_iter().flatten();
    out.rss_peak = reports()
        .map(|r| r.rss_peak_kb)
        .max()
        .unwrap_or(0)
        .max(out.rss_final);
    let sizes: Vec<usize> = reports()
        .flat_map(|r| r.result.receipt_sizes.iter().copied())
        .collect();
    if !sizes.is_empty() {
        out.receipt_len = Some(sizes.iter().sum::<usize>() / sizes.len());
    }
    if let Some(p) = reports().find_map(|r| r.result.response_problem.clone()) {
        eprintln!("warning: {p}");
        summary["response_problem"] = json!(p);
    }
    drop(sampler);
    for server in &mut servers {
        server.stop();
    }
    eprintln!(
        "server{} stopped",
        if servers.len() == 1 { "" } else { "s" }
    );
    drop(schema);
    Ok(out)
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
    let opts = Args::parse().options();
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
