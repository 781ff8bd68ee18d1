//! The real binary on real sockets: every receipt acknowledged with a 2xx survives `kill -9` and restart,
//! and a graceful shutdown (SIGTERM) finishes in-flight requests and commits them.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use consent_core::{KeySet, UnverifiedReceipt};

const AUDITOR: &str = "durability-auditor-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(dir: &Path, port: u16) -> PathBuf {
    let hash = consent_server::privacy::token_hash(AUDITOR);
    let cfg = format!(
        "listen = \"127.0.0.1:{port}\"\ndatabase = \"{db}\"\nkeys = \"{keys}\"\nissuer = \"http://127.0.0.1:{port}\"\n\
         [rate_limit]\nper_second = 1000000\nburst = 1000000\n\n[[tokens]]\nname = \"auditor\"\nrole = \"auditor\"\nsha256 = \"{hash}\"\n",
        db = dir.join("consent.db").display(),
        keys = dir.join("keys.json").display(),
    );
    let path = dir.join("consent-server.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn start(dir: &Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .arg("--config")
        .arg(config(dir, port))
        .arg("serve")
        .env("CONSENT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http(port, "GET", "/readyz", &[], "") {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "server did not become ready: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((status, body.to_owned()))
}

fn consent(port: u16, n: usize) -> std::io::Result<(u16, String)> {
    // 16 bytes of device id, base64url: 22 characters.
    let device = format!("{:0>22}", format!("{n:x}"))
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { 'A' })
        .collect::<String>();
    let body = serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": { "cookies-analytics": "given", "marketing": if n % 2 == 0 { "given" } else { "refused" } },
        "method": "custom",
        "language": "ru",
        "collection_point": { "kind": "banner", "page": "https://invisionu.education/" },
        "subject": { "device": &device[..21].to_owned().chars().chain(std::iter::once('A')).collect::<String>() },
    });
    http(
        port,
        "POST",
        "/v1/consents",
        &[("content-type", "application/json")],
        &body.to_string(),
    )
}

/// Clients sending consents until `stop`; each returns every acknowledged (2xx) response body.
fn load(
    port: u16,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<serde_json::Value>>> {
    (0..clients)
        .map(|c| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut n = c * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match consent(port, n) {
                        Ok((201, body)) => acked.push(serde_json::from_str(&body).unwrap()),
                        Ok((status, body)) if status < 500 => panic!("unexpected {status}: {body}"),
                        // Refused connections, resets and 503s while the server stops: not acknowledged.
                        _ => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                acked
            })
        })
        .collect()
}

fn check_all_present(dir: &Path, acked: &[serde_json::Value]) {
    let port = free_port();
    let mut server = start(dir, port);
    let (status, jwks) = http(port, "GET", "/.well-known/jwks.json", &[], "").unwrap();
    assert_eq!(status, 200);
    let keys = KeySet::from_jwks_json(&jwks).unwrap();
    let auth = format!("Bearer {AUDITOR}");
    for a in acked {
        let id = a["receipt_id"].as_str().unwrap();
        let (status, jws) = http(
            port,
            "GET",
            &format!("/v1/receipts/{id}"),
            &[("authorization", &auth), ("accept", "application/jwt")],
            "",
        )
        .unwrap();
        assert_eq!(
            status, 200,
            "acknowledged receipt {id} is missing after restart"
        );
        assert_eq!(jws, a["receipt"].as_str().unwrap());
        UnverifiedReceipt::parse(&jws)
            .unwrap()
            .verify(&keys)
            .unwrap();
    }
    terminate(&mut server);
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    child.wait().unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("consent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn acknowledged_receipts_survive_kill_9() {
    let dir = temp("kill9");
    let port = free_port();
    let mut server = start(&dir, port);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(port, 16, &stop);
    // Let receipts flow, then kill the server mid-stream, with requests in flight.
    std::thread::sleep(Duration::from_millis(1500));
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<serde_json::Value> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        acked.len() > 50,
        "only {} consents acknowledged before the kill",
        acked.len()
    );
    eprintln!(
        "{} receipts acknowledged before SIGKILL; all present and verified after restart",
        acked.len()
    );
    check_all_present(&dir, &acked);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let dir = temp("sigterm");
    let port = free_port();
    let mut server = start(&dir, port);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(port, 8, &stop);
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    let status = terminate(&mut server);
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<serde_json::Value> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    assert!(!acked.is_empty());
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
    check_all_present(&dir, &acked);
    std::fs::remove_dir_all(&dir).unwrap();
}
