//! The serve loop on real sockets, in process, with short timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

use super::{DEFAULT_MAX_CONNECTIONS, Limits, connection_cap, run};
use crate::metrics::Metrics;

const SECOND: Duration = Duration::from_secs(1);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// Releases the requests waiting at `/wait`.
    release: Arc<Notify>,
    metrics: Arc<Metrics>,
}

impl Server {
    async fn start(limits: Limits) -> Server {
        let release = Arc::new(Notify::new());
        let r = Arc::clone(&release);
        let router = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            )
            .route(
                "/wait",
                get(move || {
                    let r = Arc::clone(&r);
                    async move {
                        r.notified().await;
                        "released"
                    }
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let metrics = Arc::new(Metrics::default());
        let task = tokio::spawn(run(listener, router, limits, Arc::clone(&metrics), async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
            release,
            metrics,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    fn shutdown(&mut self) {
        let _ = self.stop.take().unwrap().send(());
    }
}

fn limits(max_connections: usize, header_read: Duration, keep_alive: Option<Duration>) -> Limits {
    Limits {
        max_connections,
        header_read_timeout: header_read,
        keep_alive_timeout: keep_alive,
        shutdown_grace: 2 * SECOND,
    }
}

fn head(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// Reads one answer (head and `Content-Length` body); its status and body.
async fn answer(s: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = text[9..12].parse().unwrap();
                return Ok((status, text[end + 4..end + 4 + length].to_owned()));
            }
        }
    }
}

async fn get_on(s: &mut TcpStream, path: &str) -> std::io::Result<(u16, String)> {
    s.write_all(head(path).as_bytes()).await?;
    answer(s).await
}

/// Whether the server closed `s` (end of stream or reset) within `within`, without sending anything.
async fn closed(s: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    match timeout(within, s.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) => panic!("unexpected bytes from the server"),
        Err(_) => false,
    }
}

#[test]
fn the_cap_leaves_room_under_the_open_file_limit() {
    // The systemd default: 1,024 open files, 128 of them kept for the rest of the process.
    assert_eq!(connection_cap(Some(1024), None), (896, None));
    assert_eq!(connection_cap(Some(1024), Some(500)), (500, None));
    assert_eq!(connection_cap(Some(1024), Some(5_000)), (896, Some(5_000)));
    // A small limit keeps half for the rest; a large one stops at the default.
    assert_eq!(connection_cap(Some(200), None), (100, None));
    assert_eq!(
        connection_cap(Some(1_048_576), None),
        (DEFAULT_MAX_CONNECTIONS, None)
    );
    assert_eq!(connection_cap(None, None), (DEFAULT_MAX_CONNECTIONS, None));
    assert_eq!(connection_cap(None, Some(50_000)), (50_000, None));
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let server = Server::start(limits(10, SECOND, Some(SECOND))).await;
    let mut s = server.connect().await;
    let (status, body) = get_on(&mut s, "/peer").await.unwrap();
    assert_eq!((status, body), (200, s.local_addr().unwrap().to_string()));
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let server = Server::start(limits(10, SECOND, Some(30 * SECOND))).await;
    let mut silent = server.connect().await;
    let mut slow = server.connect().await;
    slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    assert!(!closed(&mut silent, SECOND / 2).await, "closed too early");
    // A byte now and then does not extend the time a head may take.
    for _ in 0..3 {
        slow.write_all(b"X-A: b\r\n").await.unwrap();
        sleep(SECOND / 5).await;
    }
    assert!(closed(&mut silent, 10 * SECOND).await);
    assert!(closed(&mut slow, 10 * SECOND).await);
    assert_eq!(
        server
            .metrics
            .connections_timed_out
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[tokio::test]
async fn a_kept_alive_connection_waits_for_the_keep_alive_timeout_not_the_header_timeout() {
    let server = Server::start(limits(10, SECOND, Some(3 * SECOND))).await;
    let mut s = server.connect().await;
    assert_eq!(get_on(&mut s, "/").await.unwrap().0, 200);
    // Idle for longer than the header-read timeout: still open, and serves the next request.
    sleep(SECOND + SECOND / 2).await;
    assert_eq!(get_on(&mut s, "/").await.unwrap().0, 200);
    assert!(
        !closed(&mut s, SECOND + SECOND / 2).await,
        "closed too early"
    );
    assert!(closed(&mut s, 10 * SECOND).await);
}

#[tokio::test]
async fn a_kept_alive_connection_must_finish_a_head_it_started() {
    let server = Server::start(limits(10, SECOND, Some(60 * SECOND))).await;
    let mut s = server.connect().await;
    assert_eq!(get_on(&mut s, "/").await.unwrap().0, 200);
    s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    // Closed a header-read timeout after the head's first byte, long before the keep-alive timeout.
    assert!(closed(&mut s, 20 * SECOND).await);
    assert!(started.elapsed() >= SECOND, "closed too early");
}

/// Why the serve loop does not use hyper's own header-read timeout: in hyper 1.12 its timer starts when
/// the connection starts waiting for a head, so it also bounds the wait between requests on a kept-alive
/// connection (a proxy's pooled connections would be closed after a few seconds of quiet).
#[tokio::test]
async fn hypers_header_timer_also_counts_the_wait_between_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(|_| async {
            Ok::<_, std::convert::Infallible>(axum::http::Response::new(axum::body::Body::from(
                "ok",
            )))
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(SECOND)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .await;
    });
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(get_on(&mut s, "/").await.unwrap().0, 200);
    // No byte of a next head sent, yet the connection is closed after the header timeout.
    assert!(closed(&mut s, 10 * SECOND).await);
}

#[tokio::test]
async fn at_the_cap_idle_connections_make_room_and_requests_in_flight_are_kept() {
    let server = Server::start(limits(3, 30 * SECOND, Some(30 * SECOND))).await;
    // One request in flight, then two idle connections.
    let mut busy = server.connect().await;
    busy.write_all(head("/wait").as_bytes()).await.unwrap();
    sleep(SECOND / 5).await;
    let mut idle = server.connect().await;
    sleep(SECOND / 10).await;
    let mut half = server.connect().await;
    half.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    sleep(SECOND / 5).await;
    // A fourth: the connection idle the longest is closed to make room, and the newcomer is served.
    let mut newcomer = server.connect().await;
    assert_eq!(get_on(&mut newcomer, "/").await.unwrap().0, 200);
    assert!(closed(&mut idle, 5 * SECOND).await);
    // Then the half-sent head (it asked nothing yet), for the next one.
    let mut next = server.connect().await;
    assert_eq!(get_on(&mut next, "/").await.unwrap().0, 200);
    assert!(closed(&mut half, 5 * SECOND).await);
    // Every connection busy: a new one is closed at once, and the busy ones are still served.
    next.write_all(head("/wait").as_bytes()).await.unwrap();
    newcomer.write_all(head("/wait").as_bytes()).await.unwrap();
    sleep(SECOND / 5).await;
    let mut refused = server.connect().await;
    assert!(closed(&mut refused, 5 * SECOND).await);
    server.release.notify_waiters();
    for s in [&mut busy, &mut next, &mut newcomer] {
        assert_eq!(answer(s).await.unwrap(), (200, "released".to_owned()));
    }
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(count(&server.metrics.connections_evicted), 2);
    assert_eq!(count(&server.metrics.connections_refused), 1);
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_closes_the_rest() {
    let mut server = Server::start(limits(10, 30 * SECOND, Some(30 * SECOND))).await;
    let mut busy = server.connect().await;
    busy.write_all(head("/wait").as_bytes()).await.unwrap();
    let mut idle = server.connect().await;
    let mut half = server.connect().await;
    half.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
    sleep(SECOND / 5).await;
    server.shutdown();
    // Nothing asked on these: closed at once.
    assert!(closed(&mut idle, 5 * SECOND).await);
    assert!(closed(&mut half, 5 * SECOND).await);
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still accepting"
    );
    // The request in flight is answered, with the connection closing after it.
    sleep(SECOND / 5).await;
    server.release.notify_waiters();
    assert_eq!(
        answer(&mut busy).await.unwrap(),
        (200, "released".to_owned())
    );
    assert!(closed(&mut busy, 5 * SECOND).await);
    timeout(5 * SECOND, server.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn after_the_grace_period_requests_still_in_flight_are_dropped() {
    let mut server = Server::start(Limits {
        shutdown_grace: SECOND,
        ..limits(10, 30 * SECOND, Some(30 * SECOND))
    })
    .await;
    let mut stuck = server.connect().await;
    stuck.write_all(head("/wait").as_bytes()).await.unwrap();
    sleep(SECOND / 5).await;
    let started = Instant::now();
    server.shutdown();
    timeout(10 * SECOND, server.task).await.unwrap().unwrap();
    assert!(
        started.elapsed() >= SECOND,
        "did not wait for the grace period"
    );
    assert!(closed(&mut stuck, 5 * SECOND).await);
}
