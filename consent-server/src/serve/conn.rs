//! One connection: hyper's HTTP/1 state machine over the socket, with our timers around it.
//!
//! The task polls hyper's connection future and, beside it, waits for three things: the connection's
//! deadline while no request is in flight ([`Conn::deadline`]), its eviction by the acceptor, and the
//! server's shutdown. A connection is only ever dropped (closed without an answer) while no request is in
//! flight on it (or when the shutdown's grace period is over); otherwise hyper's graceful shutdown lets the
//! request finish and then closes.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::ServiceExt as _;

use super::Shared;
use super::table::{Conn, Table};

/// Serves one connection until it closes, times out, is evicted, or the server stops.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    conn: Arc<Conn>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Socket {
        stream,
        conn: Arc::clone(&conn),
    });
    let service = {
        let (router, table, conn) = (
            shared.router.clone(),
            Arc::clone(&shared.table),
            Arc::clone(&conn),
        );
        hyper::service::service_fn(move |req| {
            answer(
                router.clone(),
                Arc::clone(&table),
                Arc::clone(&conn),
                peer,
                req,
            )
        })
    };
    let mut builder = http1::Builder::new();
    // hyper's own header timer would also count the wait between requests (see `Conn::deadline`).
    builder
        .keep_alive(shared.limits.keep_alive_timeout.is_some())
        .header_read_timeout(None);
    let mut http = pin!(builder.serve_connection(io, service));
    let mut draining = false;
    loop {
        let deadline = conn.deadline(&shared.limits);
        tokio::select! {
            done = http.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = conn.wake.notified() => {
                if conn.evicted() && !draining {
                    if conn.in_flight() == 0 {
                        break;
                    }
                    http.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
            () = sleep_until(deadline) => {
                if conn.deadline(&shared.limits).is_some_and(|d| d <= tokio::time::Instant::now()) {
                    shared.metrics.connections_timed_out.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            _ = stop.wait_for(|stopping| *stopping), if !draining => {
                // Nothing asked yet (idle, or half a head): close now. Otherwise after the answer.
                if conn.in_flight() == 0 {
                    break;
                }
                http.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
    shared.table.close(&conn);
    shared
        .metrics
        .connections_open
        .fetch_sub(1, Ordering::Relaxed);
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// One request through the router, with the peer's address for the rate limiter; the connection counts it
/// as in flight until its answer's body is sent or dropped.
async fn answer(
    router: Router,
    table: Arc<Table>,
    conn: Arc<Conn>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Answer>, Infallible> {
    let in_flight = InFlight::begin(table, conn);
    req.extensions_mut().insert(ConnectInfo(peer));
    let response = router.oneshot(req).await?;
    Ok(response.map(|body| Answer {
        body,
        _in_flight: in_flight,
    }))
}

/// A request counted as in flight on its connection, until dropped.
struct InFlight {
    table: Arc<Table>,
    conn: Arc<Conn>,
}

impl InFlight {
    fn begin(table: Arc<Table>, conn: Arc<Conn>) -> InFlight {
        table.begin(&conn);
        InFlight { table, conn }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.table.end(&self.conn);
    }
}

/// An answer's body; its request stays in flight until hyper has taken all of it (or dropped it).
struct Answer {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the connection's state when bytes arrive (the start of a request's head).
struct Socket {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.conn.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
