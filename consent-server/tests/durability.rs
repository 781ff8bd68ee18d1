//! The real binary on real sockets: every receipt acknowledged with a 2xx survives `kill -9` and restart,
//! and a graceful shutdown (SIGTERM) finishes in-flight requests and commits them.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::*;

use consent_core::{KeySet, UnverifiedReceipt};

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
