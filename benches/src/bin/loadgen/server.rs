//! The server under test: the `consent-server` binary started on loopback with a fresh database
//! (a SQLite file, or a PostgreSQL URL shared by every instance) and keys in a temporary
//! directory, killed when dropped; and its `/metrics` counters.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::args::Options;
use crate::http::{Client, Target};

/// The temporary directory (databases, keys, server log); removed when dropped unless `--keep`.
pub(crate) struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub(crate) fn new(base: Option<&Path>, keep: bool) -> Result<TempDir> {
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

    pub(crate) fn path(&self) -> &Path {
        &self.path
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

/// Where the servers keep their receipts.
#[derive(Debug, Clone)]
pub(crate) enum Backing {
    /// A SQLite file in the run's directory, development keys made by the server.
    Sqlite,
    /// This PostgreSQL URL (a fresh schema), and a key file made once by `consent-server keygen`
    /// for every instance: on PostgreSQL the server never makes its own keys.
    Postgres(String),
}

/// `binary keygen --out path`: the key file every instance on PostgreSQL shares.
pub(crate) fn keygen(binary: &Path, path: &Path) -> Result<()> {
    let out = Command::new(binary)
        .arg("keygen")
        .arg("--out")
        .arg(path)
        .env_remove("CONSENT_CONFIG")
        .output()
        .with_context(|| format!("cannot run {} keygen", binary.display()))?;
    if !out.status.success() {
        bail!(
            "{} keygen failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A server process; dropping it kills the server.
pub(crate) struct Server {
    child: Option<Child>,
    pid: u32,
    target: Target,
    log: PathBuf,
}

/// The configuration of `--webhook-expiries`: one subscription, to the expiries only (nothing is due
/// before a consent lapses; the port is never reached).
const WEBHOOK_EXPIRIES: &str = "[[webhooks]]\nname = \"loadgen\"\nurl = \"http://127.0.0.1:9/hook\"\n\
    secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"consent.expired\"]\n";

impl Server {
    /// Starts `binary serve` on loopback with its files in `dir` and its receipts where `backing`
    /// says (rate limit off; with `webhook_expiries`, a configuration file in `dir` subscribing one
    /// system to `consent.expired`), and waits until it answers `/readyz` (at most 30 s). Instance
    /// `instance` logs to `server.log` (the first) or `server-N.log`.
    pub(crate) async fn start(
        binary: &Path,
        dir: &Path,
        backing: &Backing,
        webhook_expiries: bool,
        instance: usize,
        port: Option<u16>,
        client: &Client,
    ) -> Result<Server> {
        if !binary.exists() {
            bail!(
                "server binary {} not found: build it with `cargo build --release -p consent-server` \
                 (or pass --build, or --server PATH)",
                binary.display()
            );
        }
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join(if instance == 0 {
            "server.log".to_owned()
        } else {
            format!("server-{instance}.log")
        });
        let log_file = std::fs::File::create(&log)?;
        let (database, development_keys) = match backing {
            Backing::Sqlite => (dir.join("consent.db").display().to_string(), "true"),
            Backing::Postgres(url) => (url.clone(), "false"),
        };
        let mut command = Command::new(binary);
        command.arg("serve").env_remove("CONSENT_CONFIG");
        if webhook_expiries {
            let config = dir.join("webhooks.toml");
            std::fs::write(&config, WEBHOOK_EXPIRIES)?;
            command.env("CONSENT_CONFIG", config);
        }
        let child = command
            .env_remove("CONSENT_POLICY")
            .env_remove("CONSENT_SITE_DIR")
            .env_remove("CONSENT_CORS_ORIGINS")
            .env("CONSENT_LISTEN", addr.to_string())
            .env("CONSENT_DATABASE", database)
            .env("CONSENT_KEYS", dir.join("keys.json"))
            .env("CONSENT_DEVELOPMENT_KEYS", development_keys)
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
            target: Target::new(addr)?,
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
            if let Ok((status, _)) = client.get(&server.target, "/readyz").await
                && status == 200
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

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Where the load goes.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last 20 lines of the server's log.
    pub(crate) fn log_tail(&self) -> String {
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

/// The server's `/metrics` counters we look at.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ServerMetrics {
    pub(crate) duration_sum: f64,
    pub(crate) duration_count: f64,
    pub(crate) receipts_stored: f64,
}

impl ServerMetrics {
    /// The counters of `target`, or `None` if it does not answer.
    pub(crate) async fn fetch(client: &Client, target: &Target) -> Option<ServerMetrics> {
        let (_, body) = client.get(target, "/metrics").await.ok()?;
        Some(ServerMetrics::parse(&String::from_utf8(body).ok()?))
    }

    /// The counters of every instance: request times added up, receipts stored (in the one
    /// database they share) the largest seen; `None` if one does not answer.
    pub(crate) async fn fetch_all(client: &Client, targets: &[Target]) -> Option<ServerMetrics> {
        let mut all = ServerMetrics::default();
        for t in targets {
            let m = ServerMetrics::fetch(client, t).await?;
            all.duration_sum += m.duration_sum;
            all.duration_count += m.duration_count;
            all.receipts_stored = all.receipts_stored.max(m.receipts_stored);
        }
        Some(all)
    }

    /// Reads the Prometheus text format.
    fn parse(text: &str) -> ServerMetrics {
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
                "consent_receipts_stored" => m.receipts_stored = v,
                _ => {}
            }
        }
        m
    }
}

/// The file system type holding `path` (from /proc/mounts), to warn when fsync is free (tmpfs).
pub(crate) fn fs_type(path: &Path) -> String {
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

/// The server binary: `--server`, else `target/release/consent-server` here or in the workspace.
pub(crate) fn binary(opts: &Options) -> PathBuf {
    if let Some(p) = &opts.server {
        return p.clone();
    }
    let here = PathBuf::from("target/release/consent-server");
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/consent-server")
}

/// `cargo build --release -p consent-server` in the workspace (`--build`).
pub(crate) fn build() -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_read_from_the_prometheus_text() {
        let m = ServerMetrics::parse(
            "# HELP consent_receipts_stored receipts\n\
             consent_http_request_duration_seconds_sum 1.5\n\
             consent_http_request_duration_seconds_count 300\n\
             consent_receipts_recorded_total 299\n\
             consent_receipts_stored 1234\n\
             consent_other{a=\"b\"} 7\n",
        );
        assert_eq!(
            (m.duration_sum, m.duration_count, m.receipts_stored),
            (1.5, 300.0, 1234.0)
        );
    }
}
