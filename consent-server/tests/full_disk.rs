//! SQLite only (a PostgreSQL server watches its own disk). The real binary on a real, small file system: a 16 MiB tmpfs under the database, mounted in a private
//! mount namespace (`unshare --mount`), so that nothing is left mounted whatever happens to the test.
//! The test reaches the server's files through `/proc/<pid>/root`, fills the disk with a ballast file
//! and frees it again.
//!
//! Mounting needs root (CI runs as root), or a user namespace where the kernel allows unprivileged ones
//! (`unshare --user --map-root-user`). Elsewhere the tests say loudly that they are skipped; with
//! `CONSENT_TEST_REQUIRE_TMPFS=1` they fail instead.

mod support;

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use consent_core::{KeySet, UnverifiedReceipt};
use support::{free_port, temp_sqlite, terminate};

const AUDITOR: &str = "full-disk-auditor";
const OPERATOR: &str = "full-disk-operator";
const SERVICE: &str = "full-disk-service";
const TMPFS: &str = "16m";

/// The `unshare` arguments that give a private mount namespace here, or `None` (after saying so);
/// `name`: the test's.
fn sandbox(name: &str) -> Option<Vec<&'static str>> {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let args = if root {
        vec!["--mount", "--propagation", "private"]
    } else {
        vec![
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
        ]
    };
    let probe = temp_sqlite(&format!("tmpfs-probe-{name}"));
    let ok = Command::new("unshare")
        .args(&args)
        .args(["sh", "-c", "mount -t tmpfs -o size=1m consent-probe \"$0\""])
        .arg(&probe)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let _ = std::fs::remove_dir_all(&probe);
    if ok {
        return Some(args);
    }
    let why = "cannot mount a tmpfs in a private mount namespace (`unshare --mount` needs root, or \
               unprivileged user namespaces)";
    if std::env::var_os("CONSENT_TEST_REQUIRE_TMPFS").is_some_and(|v| v == "1") {
        panic!("{why}, and CONSENT_TEST_REQUIRE_TMPFS=1");
    }
    eprintln!("\n**********************************************************************");
    eprintln!("SKIPPED: the full-disk tests: {why}.");
    eprintln!("Run them as root (CI does), or set CONSENT_TEST_REQUIRE_TMPFS=1 to fail here.");
    eprintln!("**********************************************************************\n");
    None
}

/// The real binary, its database on a tmpfs of its own.
struct Server {
    child: Child,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Server {
    fn start(sandbox: &[&str], name: &str, storage: &str) -> Server {
        let dir = temp_sqlite(name);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let port = free_port();
        let token = |t: &str| consent_server::privacy::token_hash(t);
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase = \"{db}\"\nkeys = \"{keys}\"\n\
             issuer = \"http://127.0.0.1:{port}\"\nsite = false\n\
             [rate_limit]\nper_second = 1000000\nburst = 1000000\n\
             [storage]\n{storage}\n\
             [[tokens]]\nname = \"auditor\"\nrole = \"auditor\"\nsha256 = \"{a}\"\n\
             [[tokens]]\nname = \"operator\"\nrole = \"operator\"\nsha256 = \"{o}\"\n\
             [[tokens]]\nname = \"service\"\nrole = \"service\"\nsha256 = \"{s}\"\n\
             purposes = [\"cookies-analytics\", \"marketing\"]\ncollection_points = [\"api\"]\n",
            db = data.join("consent.db").display(),
            keys = dir.join("keys.json").display(),
            a = token(AUDITOR),
            o = token(OPERATOR),
            s = token(SERVICE),
        );
        std::fs::write(dir.join("consent.toml"), config).unwrap();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let child = Command::new("unshare")
            .args(sandbox)
            .args([
                "sh",
                "-c",
                &format!(
                    "mount -t tmpfs -o size={TMPFS},mode=0700 consent-test \"$0\" && \
                     exec \"$1\" --config \"$2\" serve"
                ),
            ])
            .arg(&data)
            .arg(env!("CARGO_BIN_EXE_consent-server"))
            .arg(dir.join("consent.toml"))
            .env("CONSENT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Server {
            child,
            dir,
            data,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !client()
            .get(s.url("/readyz"))
            .send()
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "server did not become ready: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// `name` in the server's tmpfs, as this process reaches it.
    fn inside(&self, name: &str) -> PathBuf {
        let mut p = PathBuf::from(format!("/proc/{}/root", self.child.id()));
        p.push(self.data.join(name).strip_prefix("/").unwrap());
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Answer {
        let r = req.send().unwrap();
        Answer {
            status: r.status().as_u16(),
            retry_after: r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: r.text().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = client().get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &serde_json::Value) -> Answer {
        let mut req = client()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req)
    }

    /// An anonymous banner choice for device `n`.
    fn consent(&self, n: u64) -> Answer {
        self.post("/v1/consents", None, &device_consent(n))
    }

    /// Waits until `/readyz` answers `status`; how long it took.
    fn await_ready(&self, status: u16, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.get("/readyz", None).status == status {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "/readyz did not answer {status} within {within:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A 503 `storage_unavailable` with `Retry-After`; its message.
    fn storage_unavailable(&self) -> String {
        assert_eq!(self.status, 503, "{}", self.body);
        let j = self.json();
        assert_eq!(j["error"]["code"], "storage_unavailable", "{j}");
        assert_eq!(self.retry_after.as_deref(), Some("10"), "{j}");
        j["error"]["message"].as_str().unwrap().to_owned()
    }
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: std::sync::LazyLock<reqwest::blocking::Client> =
        std::sync::LazyLock::new(|| {
            reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap()
        });
    &CLIENT
}

fn device_consent(n: u64) -> serde_json::Value {
    use base64::Engine as _;
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": { "cookies-analytics": "given", "cookies-marketing": "refused" },
        "method": "custom",
        "language": "ru",
        "collection_point": { "kind": "banner", "page": "https://invisionu.education/" },
        "subject": { "device": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id) },
    })
}

/// Writes zeros to `path` until `limit` bytes or the file system is full; the bytes written.
fn ballast(path: &Path, limit: u64) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0;
    while written < limit {
        let n = chunk.len().min(usize::try_from(limit - written).unwrap());
        match f.write_all(&chunk[..n]).and_then(|()| f.sync_all()) {
            Ok(()) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("ballast: {e}"),
        }
    }
    written
}

/// Lines of `log` after the first `skip`, containing `level`.
fn count(log: &str, skip: usize, needle: &str) -> usize {
    log.lines()
        .skip(skip)
        .filter(|l| l.contains(needle))
        .count()
}

/// Every acknowledged receipt is stored byte for byte and verifies, the database holds exactly these
/// receipts, and a copy of its files passes SQLite's integrity check. (SQLite resolves the
/// `/proc/<pid>/root` link, so it cannot open the live file from here: the copy is taken once the
/// checkpointer has had a second to settle, with no client writing.)
fn nothing_acknowledged_lost(s: &Server, acked: &[serde_json::Value]) {
    let keys = KeySet::from_jwks_json(&s.get("/.well-known/jwks.json", None).body).unwrap();
    for a in acked {
        let id = a["receipt_id"].as_str().unwrap();
        let r = s.get(&format!("/v1/receipts/{id}"), Some(AUDITOR));
        assert_eq!(r.status, 200, "acknowledged receipt {id}: {}", r.body);
        let jws = r.json()["receipt"].as_str().unwrap().to_owned();
        assert_eq!(jws, a["receipt"].as_str().unwrap());
        UnverifiedReceipt::parse(&jws)
            .unwrap()
            .verify(&keys)
            .unwrap();
    }
    let export = s.get("/v1/export?limit=10000", Some(AUDITOR));
    assert_eq!(
        export.body.lines().count(),
        acked.len(),
        "exactly the acknowledged receipts are stored"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let copy = s.dir.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for suffix in ["-wal", "", "-shm"] {
        let name = format!("consent.db{suffix}");
        std::fs::copy(s.inside(&name), copy.join(&name)).unwrap();
    }
    let db = rusqlite::Connection::open(copy.join("consent.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM receipts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, acked.len() as i64);
}

#[test]
fn a_full_disk_answers_503_logs_once_per_interval_and_recovers_without_a_restart() {
    let Some(sandbox) = sandbox("full-disk") else {
        return;
    };
    // No floor: the disk itself fills. A short log interval, to see its summaries in a short test.
    let s = Server::start(
        &sandbox,
        "full-disk",
        "min_free_mib = 0\nlog_interval_secs = 2",
    );
    let mut acked = Vec::new();
    for n in 0..20 {
        let r = s.consent(n);
        assert_eq!(r.status, 201, "{}", r.body);
        acked.push(r.json());
    }

    let filled = ballast(&s.inside("ballast"), u64::MAX);
    assert!(filled > 0);
    let log_mark = s.log().lines().count();
    let failing = Instant::now();
    // At least 300 refused writes and 5 s: two log intervals and more.
    let (mut refused, mut n) = (0, 1000);
    while refused < 300 || failing.elapsed() < Duration::from_secs(5) {
        n += 1;
        assert!(
            failing.elapsed() < Duration::from_secs(60),
            "the full disk never refused a write"
        );
        let r = s.consent(n);
        if r.status == 201 {
            // What still fits in the WAL's free frames is committed, and acknowledged.
            acked.push(r.json());
        } else {
            let message = r.storage_unavailable();
            assert_eq!(message, "storage is unavailable; retry later");
            refused += 1;
        }
    }
    let r = s.get("/readyz", None);
    let why = r.storage_unavailable();
    assert!(why.contains("the disk is full"), "{why}");
    // Reads go on.
    let r = s.get("/v1/export?limit=10000", Some(AUDITOR));
    assert_eq!((r.status, r.body.lines().count()), (200, acked.len()));
    let failing_for = failing.elapsed();

    // One ERROR line when it starts, then at most one summary per 2 s: not one line per request.
    let log = s.log();
    let errors = count(&log, log_mark, "ERROR");
    let warnings = count(&log, log_mark, "WARN");
    let bound = 2 + (failing_for.as_secs_f64() / 2.0) as usize;
    assert!(
        (1..=bound).contains(&errors) && warnings <= bound,
        "{refused} refused writes in {failing_for:?}: {errors} ERROR and {warnings} WARN lines (at most {bound}):\n{log}"
    );
    assert_eq!(count(&log, log_mark, "storage unavailable: writes fail"), 1);
    assert!(
        count(&log, log_mark, "storage still unavailable") >= 1,
        "{log}"
    );

    // Space comes back; no client writes: the writer's probe notices.
    std::fs::remove_file(s.inside("ballast")).unwrap();
    let recovered_in = s.await_ready(200, Duration::from_secs(10));
    // A new device (one of those above would need its token).
    let r = s.consent(1 << 40);
    assert_eq!(r.status, 201, "{}", r.body);
    acked.push(r.json());
    eprintln!(
        "full disk: {refused} writes refused with 503 in {failing_for:.1?}, {errors} ERROR and \
         {warnings} WARN lines; ready again {recovered_in:.1?} after space came back"
    );
    let log = s.log();
    assert_eq!(count(&log, log_mark, "storage available again"), 1, "{log}");
    let m = s.get("/metrics", None).body;
    assert!(m.contains("consent_storage_available 1"), "{m}");
    assert!(
        m.contains(&format!(
            "consent_storage_failures_total{{op=\"write\"}} {refused}"
        )),
        "{m}"
    );

    nothing_acknowledged_lost(&s, &acked);
    let mut s = s;
    assert!(terminate(&mut s.child).success(), "{}", s.log());
}

#[test]
fn below_the_floor_new_consents_wait_and_rights_requests_go_through() {
    let Some(sandbox) = sandbox("floor-tmpfs") else {
        return;
    };
    let s = Server::start(&sandbox, "floor-tmpfs", "min_free_mib = 4");
    let r = s.consent(7);
    assert_eq!(r.status, 201, "{}", r.body);
    let mut acked = vec![r.json()];
    let mut body = device_consent(8);
    // The API asks for the newsletter, not for cookies (the policy's collection points).
    body["decisions"] = serde_json::json!({"marketing": "refused"});
    body["method"] = "api".into();
    body["collection_point"] = serde_json::json!({"kind": "api"});
    body["subject"] = serde_json::json!({"id": "ann@example.kz"});
    let r = s.post("/v1/consents", Some(SERVICE), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let ann = r.json()["subject"].as_str().unwrap().to_owned();
    acked.push(r.json());

    // Leave 1 MiB free: below the floor of 4, far from full.
    let free = fs4::available_space(s.inside("")).unwrap();
    ballast(&s.inside("ballast"), free - (1 << 20));
    let log_mark = s.log().lines().count();
    s.await_ready(503, Duration::from_secs(5));
    let why = s.get("/readyz", None).storage_unavailable();
    assert!(why.contains("below the floor"), "{why}");

    let refused = s.consent(9).storage_unavailable();
    assert!(refused.contains("nearly full"), "{refused}");
    body["subject"] = serde_json::json!({"id": "bob@example.kz"});
    s.post("/v1/consents", Some(SERVICE), &body)
        .storage_unavailable();
    // Reads, exports and rights requests.
    let r = s.get("/v1/export", Some(AUDITOR));
    assert_eq!((r.status, r.body.lines().count()), (200, 2));
    for action in ["restrict", "erase"] {
        let r = s.post(
            &format!("/v1/subjects/{ann}/{action}"),
            Some(OPERATOR),
            &serde_json::json!({}),
        );
        assert_eq!(r.status, 200, "{action}: {}", r.body);
    }
    let r = s.post(
        "/v1/subjects/lookup",
        Some(OPERATOR),
        &serde_json::json!({"id": "ann@example.kz"}),
    );
    assert_eq!(r.status, 404, "erased: {}", r.body);
    let m = s.get("/metrics", None).body;
    for line in [
        "consent_storage_available 0",
        "consent_storage_refused_writes_total 2",
        "consent_storage_min_free_bytes 4194304",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} not in\n{m}");
    }

    // Space comes back: ready, and new consents are recorded again, without a restart.
    std::fs::remove_file(s.inside("ballast")).unwrap();
    s.await_ready(200, Duration::from_secs(5));
    let r = s.consent(9);
    assert_eq!(r.status, 201, "{}", r.body);
    acked.push(r.json());
    let log = s.log();
    assert_eq!(count(&log, log_mark, "below the floor"), 1, "{log}");
    assert_eq!(count(&log, log_mark, "above the floor again"), 1, "{log}");
    assert_eq!(count(&log, log_mark, "ERROR"), 0, "{log}");
    nothing_acknowledged_lost(&s, &acked);
    let mut s = s;
    assert!(terminate(&mut s.child).success(), "{}", s.log());
}
