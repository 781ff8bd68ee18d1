//! Helpers for tests that run the real `consent-server` binary on real sockets, on SQLite or, with
//! `DATABASE_URL` set, on PostgreSQL (a schema of the test's own).

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod old_receipts;
pub mod pg;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

pub const AUDITOR: &str = "durability-auditor-token";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The database of the test directory `dir`: its schema's URL (written by [`temp`] when the tests run
/// on PostgreSQL), or its SQLite file.
pub fn database(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("database-url"))
        .unwrap_or_else(|_| dir.join("consent.db").display().to_string())
}

pub fn config(dir: &Path, port: u16) -> PathBuf {
    config_with(dir, port, "")
}

/// The test configuration with `extra` top-level keys (one per line).
pub fn config_with(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let hash = consent_server::privacy::token_hash(AUDITOR);
    // On PostgreSQL the server never makes keys: the tests make them, as an operator would.
    let keys = dir.join("keys.json");
    if !keys.exists() {
        let now = consent_core::Timestamp::from_unix(1_768_471_200);
        consent_server::keys::ServerKeys::generate(&keys, now, true).unwrap();
    }
    let cfg = format!(
        "listen = \"127.0.0.1:{port}\"\ndatabase = \"{db}\"\nkeys = \"{keys}\"\nissuer = \"http://127.0.0.1:{port}\"\n{extra}\n\
         [rate_limit]\nper_second = 1000000\nburst = 1000000\n\n[[tokens]]\nname = \"auditor\"\nrole = \"auditor\"\nsha256 = \"{hash}\"\n",
        db = database(dir),
        keys = keys.display(),
    );
    let path = dir.join("consent-server.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

pub fn start(dir: &Path, port: u16) -> Child {
    start_with(dir, port, "", "warn", &[])
}

/// Starts the server with `extra` configuration lines and the log filter `log` (the log goes to
/// `dir/server.log`), run by `wrapper` if given (e.g. `["prlimit", "--nofile=1024:1024", "--"]`).
pub fn start_with(dir: &Path, port: u16, extra: &str, log: &str, wrapper: &[&str]) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let binary = env!("CARGO_BIN_EXE_consent-server");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    let mut child = command
        .arg("--config")
        .arg(config_with(dir, port, extra))
        .arg("serve")
        .env("CONSENT_LOG", log)
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http(port, "GET", "/readyz", &[], "") {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "server did not become ready: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
}

/// One connection per request (no pooling), as a client that connects, asks and leaves; a 10 s timeout.
static CLIENT: LazyLock<reqwest::blocking::Client> = LazyLock::new(|| {
    reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
});

/// `method path` on the server at `port`; the status and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(std::io::Error::other)?;
    let mut req = CLIENT
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = req.send().map_err(std::io::Error::other)?;
    let status = response.status().as_u16();
    let text = response.text().map_err(std::io::Error::other)?;
    Ok((status, text))
}

/// Configuration lines for two bearer tokens: `portal`, a service that records form consents to
/// the form-only purposes (application review, marketing, public dissemination) at the `form`
/// collection point, and `dpo`, an operator.
pub fn portal_and_operator_tokens(portal: &str, operator: &str) -> String {
    use consent_server::privacy::token_hash;
    format!(
        "[[tokens]]\nname = \"portal\"\nrole = \"service\"\nsha256 = \"{}\"\n\
         purposes = [\"application-review\", \"marketing\", \"public-dissemination\"]\ncollection_points = [\"form\"]\n\n\
         [[tokens]]\nname = \"dpo\"\nrole = \"operator\"\nsha256 = \"{}\"\n",
        token_hash(portal),
        token_hash(operator)
    )
}

/// Records, with the service token `portal`, a form consent with `decisions` for the external id `id`,
/// named `name` and given by a parent named `parent` (policy 2025-03-26, Kazakh, the application
/// form); asserts the 201 and returns the answer's body.
pub fn form_consent(
    port: u16,
    portal: &str,
    id: &str,
    name: &str,
    parent: &str,
    decisions: serde_json::Value,
) -> String {
    let body = serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": decisions,
        "method": "form",
        "language": "kk",
        "collection_point": {"kind": "form", "page": "https://invisionu.education/apply"},
        "subject": {"id": id},
        "subject_name": name,
        "by": {"kind": "representative", "relation": "parent", "name": parent},
    });
    let auth = format!("Bearer {portal}");
    let (status, text) = http(
        port,
        "POST",
        "/v1/consents",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        &body.to_string(),
    )
    .unwrap();
    assert_eq!(status, 201, "{text}");
    text
}

pub fn consent(port: u16, n: usize) -> std::io::Result<(u16, String)> {
    use base64::Engine as _;
    // A distinct 128-bit device id per n, as 22 base64url characters.
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&(n as u64).to_be_bytes());
    let device = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
    let body = serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": { "cookies-analytics": "given", "cookies-marketing": if n.is_multiple_of(2) { "given" } else { "refused" } },
        "method": "custom",
        "language": "ru",
        "collection_point": { "kind": "banner", "page": "https://invisionu.education/" },
        "subject": { "device": device },
    });
    http(
        port,
        "POST",
        "/v1/consents",
        &[("content-type", "application/json")],
        &body.to_string(),
    )
}

pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    child.wait().unwrap()
}

/// A test's directory, and its PostgreSQL schema when the tests run on PostgreSQL; both removed when
/// dropped.
pub struct TestDir {
    path: PathBuf,
    pub schema: Option<pg::TestSchema>,
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn temp(name: &str) -> TestDir {
    let path = std::env::temp_dir().join(format!("consent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    let schema = pg::TestSchema::from_env(name);
    if let Some(s) = &schema {
        std::fs::write(path.join("database-url"), &s.url).unwrap();
    }
    TestDir { path, schema }
}

/// A directory of its own for the SQLite-only tests (no schema, whatever `DATABASE_URL` says); the test
/// removes it.
pub fn temp_sqlite(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("consent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    path
}

/// Runs the binary with arguments; (exit success, stdout, stderr).
pub fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .args(args)
        .current_dir(dir)
        .env("CONSENT_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `consent-server --config cfg migrate --to to`, logging at `info` (its progress).
pub fn migrate(cfg: &Path, to: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_consent-server"));
    c.arg("--config")
        .arg(cfg)
        .args(["migrate", "--to", to])
        .env("CONSENT_LOG", "info");
    c
}

/// Starts `migrate --to url` (the test's schema) and kills it (`kill -9`) once its first receipts are
/// committed in the target, within 60 s; how many were.
pub fn migrate_killed_midway(cfg: &Path, url: &str) -> u64 {
    let count = || {
        let url = url.to_owned();
        pg::with_client(&url, async |c| {
            // Before the migration has made the table: none.
            c.query_one("SELECT count(*) FROM receipts", &[])
                .await
                .map_or(0, |r| r.get::<_, i64>(0) as u64)
        })
    };
    let mut copy = migrate(cfg, url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let n = count();
        if n > 0 {
            break n;
        }
        assert!(
            copy.try_wait().unwrap().is_none(),
            "the copy ended before it was killed"
        );
        assert!(Instant::now() < deadline, "no receipt copied");
        std::thread::sleep(Duration::from_millis(5));
    };
    copy.kill().unwrap();
    copy.wait().unwrap();
    at_kill
}

/// Starts `serve` with the configuration `cfg` and waits (up to 20 s) for it to refuse to start; what it
/// said (it failing to stop within the wait, or stopping with success, fails the test).
pub fn refused_start(cfg: &Path) -> String {
    let mut refused = Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .arg("--config")
        .arg(cfg)
        .arg("serve")
        .env("CONSENT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while refused.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            refused.kill().unwrap();
            refused.wait().unwrap();
            panic!("the server started");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = refused.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    err
}
