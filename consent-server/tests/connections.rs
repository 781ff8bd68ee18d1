//! Slow and idle clients against the real binary (issue 22): under the systemd default of 1,024 open files,
//! 1,100 idle and 100 slowloris connections do not stop the server answering; a stopping server exits
//! within its grace period whatever its clients do; a body that never comes is 408.
//!
//! Latencies are printed (`cargo test --test connections -- --nocapture`) for the report; the assertions
//! only bound them generously, so that a loaded machine does not fail the test.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

/// Opens `n` connections to the server at `port`, each sending `first` (nothing if empty).
fn connections(port: u16, n: usize, first: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", port))
                .unwrap_or_else(|e| panic!("connection {i}: {e}"));
            if !first.is_empty() {
                // The server may already have closed it to make room: that is fine.
                let _ = s.write_all(first);
            }
            s
        })
        .collect()
}

/// How many of `streams` the server has closed (end of stream or reset).
fn closed_by_server(streams: &[TcpStream]) -> usize {
    streams
        .iter()
        .filter(|s| {
            let mut s: &TcpStream = s;
            s.set_nonblocking(true).unwrap();
            let mut byte = [0u8; 1];
            match s.read(&mut byte) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            }
        })
        .count()
}

/// Raises this process's soft open-file limit to its hard one: the test itself holds 1,200 sockets.
fn raise_own_file_limit(needed: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: hard,
            maximum: hard,
        },
    )
    .unwrap();
    assert!(
        hard.is_none_or(|h| h >= needed),
        "this test needs {needed} open files; the hard limit is {hard:?}"
    );
}

/// `n` timed calls of `f`; every answer's status must be 2xx. The latencies in milliseconds, sorted.
fn timed(n: usize, mut f: impl FnMut(usize) -> std::io::Result<(u16, String)>) -> Vec<f64> {
    let mut took: Vec<f64> = (0..n)
        .map(|i| {
            let started = Instant::now();
            let (status, body) = f(i).unwrap_or_else(|e| panic!("call {i}: {e}"));
            assert!((200..300).contains(&status), "call {i}: {status} {body}");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    took.sort_by(f64::total_cmp);
    took
}

fn metric(port: u16, name: &str) -> u64 {
    let (_, text) = http(port, "GET", "/metrics", &[], "").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[test]
fn idle_and_slowloris_connections_do_not_stop_the_server_under_1024_open_files() {
    raise_own_file_limit(1_400);
    let dir = temp("connections-flood");
    let port = free_port();
    let mut server = start_with(
        &dir,
        port,
        "",
        "info",
        &["prlimit", "--nofile=1024:1024", "--"],
    );
    let log = || std::fs::read_to_string(dir.join("server.log")).unwrap();
    // The cap is derived from the open-file limit, and said.
    assert!(
        log().contains("at most 896 connections (open-file limit 1024"),
        "{}",
        log()
    );
    // A request in flight before the flood: its head and half its body.
    let body = serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": { "cookies-analytics": "given" },
        "method": "custom",
        "language": "ru",
        "collection_point": { "kind": "banner", "page": "https://invisionu.education/" },
        "subject": { "device": "AAAAAAAAAAAAAAAAAAAAAA" },
    })
    .to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut held = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        held,
        "POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    held.write_all(first).unwrap();

    let idle = connections(port, 1_100, b"");
    let slow = connections(port, 100, b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
    std::thread::sleep(Duration::from_millis(500));

    let healthz = timed(20, |_| http(port, "GET", "/healthz", &[], ""));
    let posts = timed(20, |i| consent(port, 1_000 + i));
    eprintln!(
        "with 1,100 idle and 100 slowloris connections held (nofile 1024): \
         GET /healthz p50 {:.1} ms max {:.1} ms; POST /v1/consents p50 {:.1} ms max {:.1} ms",
        healthz[10], healthz[19], posts[10], posts[19]
    );
    assert!(healthz[19] < 2_000.0 && posts[19] < 2_000.0);

    // The held request is answered once its body is complete.
    held.write_all(rest).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = [0u8; 12];
    held.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 201");

    // Room was made by closing the connections that waited longest; the cap was logged, not per event.
    let closed = closed_by_server(&idle) + closed_by_server(&slow);
    let evicted = metric(port, "consent_connections_evicted_total");
    eprintln!("closed to make room: {closed} of 1,200 ({evicted} evictions)");
    assert!(evicted >= 1_201 - 896, "{evicted} evictions");
    assert!(closed >= 1_200 - 896, "{closed} closed");
    let cap_lines = log().matches("connection cap (896) reached").count();
    assert!(
        (1..=3).contains(&cap_lines),
        "{cap_lines} log lines\n{}",
        log()
    );
    assert!(!log().contains("cannot accept"), "{}", log());

    let status = terminate(&mut server);
    assert!(status.success(), "exit status {status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_exits_within_the_grace_period_whatever_the_clients_do() {
    let dir = temp("connections-sigterm");
    let port = free_port();
    let mut server = start_with(&dir, port, "shutdown_grace_secs = 2", "info", &[]);
    // Half a head (nothing asked yet), and a request whose body never comes (in flight).
    let half = connections(port, 1, b"POST /v1/consents HTTP/1.1\r\nHost: x\r\n");
    let stuck = connections(
        port,
        1,
        b"POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = terminate(&mut server);
    let took = started.elapsed();
    eprintln!("SIGTERM with a half-sent head and a stuck body: exited after {took:?}");
    assert!(status.success(), "exit status {status:?}");
    // It waited for the request in flight, up to the grace period, then closed it.
    assert!(took >= Duration::from_millis(1_500), "{took:?}");
    assert!(took < Duration::from_secs(7), "{took:?}");
    assert_eq!(closed_by_server(&half) + closed_by_server(&stuck), 2);
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(
        log.contains("grace period over: closing 1 connection(s) still open"),
        "{log}"
    );

    // With only a half-sent head (nothing in flight), it exits at once.
    let mut server = start_with(&dir, port, "shutdown_grace_secs = 30", "warn", &[]);
    let _half = connections(port, 1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = terminate(&mut server);
    eprintln!(
        "SIGTERM with a half-sent head only: exited after {:?}",
        started.elapsed()
    );
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_body_that_never_comes_is_408() {
    let dir = temp("connections-408");
    let port = free_port();
    let mut server = start_with(&dir, port, "request_timeout_secs = 1", "warn", &[]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(
        b"POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"policy_version\"",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The answer, then the end of the connection.
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&answer[answer.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout");
    terminate(&mut server);
    let _ = std::fs::remove_dir_all(&dir);
}
