//! Taking new connections: under the cap (making room by evicting, or refusing), and what to do when
//! `accept` fails. Repeated events are logged once when they start, then as counts every 10 s while they
//! last, never once per connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Shared;
use super::conn;
use super::table::Admission;

/// How often counts of a repeated event are logged, at most.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The acceptor's state: counts of repeated events since they were last logged, and its pause after a
/// failed `accept`.
#[derive(Default)]
pub(super) struct Acceptor {
    evicted: Every,
    refused: Every,
    failures: Every,
    /// The last `accept` error, for the counts' message.
    last_error: String,
    backoff: Option<Duration>,
}

impl Acceptor {
    /// Takes `stream` under the cap (closing the connection that has waited longest for a request to make
    /// room), or closes it at once; the connection's task when taken.
    pub(super) fn admit(
        &mut self,
        shared: &Arc<Shared>,
        stream: TcpStream,
        peer: SocketAddr,
        stopping: &watch::Receiver<bool>,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        self.backoff = None;
        let max = shared.limits.max_connections;
        let metrics = &shared.metrics;
        let conn = match shared.table.admit(max) {
            Admission::Open { conn, evicted } => {
                if evicted {
                    metrics.connections_evicted.fetch_add(1, Ordering::Relaxed);
                    if self.evicted.event(Instant::now()) {
                        tracing::warn!(
                            "connection cap ({max}) reached: closing the connections that have waited \
                             longest for a request, to make room"
                        );
                    }
                }
                conn
            }
            Admission::Full => {
                metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
                if self.refused.event(Instant::now()) {
                    tracing::warn!(
                        "connection cap ({max}) reached with a request in flight on every connection: \
                         closing new connections at once"
                    );
                }
                return None;
            }
        };
        metrics.connections_open.fetch_add(1, Ordering::Relaxed);
        // Answers are written whole: no need to wait for more bytes to fill a packet.
        let _ = stream.set_nodelay(true);
        Some(conn::serve(
            stream,
            peer,
            conn,
            Arc::clone(shared),
            stopping.clone(),
        ))
    }

    /// After a failed `accept`: frees a descriptor if they ran out, logs, backs off (5 ms, doubling up to
    /// a second) rather than spin.
    pub(super) async fn failed(&mut self, shared: &Shared, e: &io::Error) {
        if matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::Interrupted
        ) {
            // The client gave up before we took the connection: nothing wrong here.
            return;
        }
        if is_out_of_fds(e) {
            self.last_error = format!(
                "{e}; lower max_connections or raise the open-file limit ({} connections open)",
                shared.table.open()
            );
            if shared.table.evict_oldest_idle() {
                shared
                    .metrics
                    .connections_evicted
                    .fetch_add(1, Ordering::Relaxed);
            }
        } else {
            self.last_error = e.to_string();
        }
        if self.failures.event(Instant::now()) {
            tracing::error!("cannot accept connections: {}", self.last_error);
        }
        let pause = self.backoff.map_or(Duration::from_millis(5), |b| {
            (b * 2).min(Duration::from_secs(1))
        });
        self.backoff = Some(pause);
        tokio::time::sleep(pause).await;
    }

    /// When counts are due to be logged, if any event is waiting to be counted.
    pub(super) fn next_report(&self) -> Option<Instant> {
        [&self.evicted, &self.refused, &self.failures]
            .into_iter()
            .filter_map(Every::due)
            .min()
    }

    /// Logs the counts that are due.
    pub(super) fn report(&mut self, shared: &Shared) {
        let max = shared.limits.max_connections;
        let secs = LOG_EVERY.as_secs();
        let now = Instant::now();
        if let Some(n) = self.evicted.report(now) {
            tracing::warn!(
                "connection cap ({max}) reached: closed {n} more idle connection(s) to make room in the \
                 last {secs} s"
            );
        }
        if let Some(n) = self.refused.report(now) {
            tracing::warn!(
                "connection cap ({max}) reached with a request in flight on every connection: closed {n} \
                 more new connection(s) in the last {secs} s"
            );
        }
        if let Some(n) = self.failures.report(now) {
            tracing::error!(
                "cannot accept connections: {n} more failure(s) in the last {secs} s; the last: {}",
                self.last_error
            );
        }
    }
}

/// Sleeps until `at`, or forever.
pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `EMFILE` or `ENFILE`: the process's or the system's file table is full.
fn is_out_of_fds(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error().is_some_and(|code| {
            let code = rustix::io::Errno::from_raw_os_error(code);
            code == rustix::io::Errno::MFILE || code == rustix::io::Errno::NFILE
        })
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// One kind of repeated event: the first of a burst is logged at once, the rest are counted and their
/// number logged when [`LOG_EVERY`] has passed since the last message.
#[derive(Default)]
struct Every {
    /// When the last message about it was logged.
    last: Option<Instant>,
    /// Events not logged yet.
    unlogged: u64,
}

impl Every {
    /// Counts an event at `now`; whether to log it now (nothing logged about this for [`LOG_EVERY`]).
    fn event(&mut self, now: Instant) -> bool {
        if self.last.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) && self.unlogged == 0 {
            self.last = Some(now);
            return true;
        }
        self.unlogged += 1;
        false
    }

    /// When the unlogged events are due to be logged.
    fn due(&self) -> Option<Instant> {
        (self.unlogged > 0).then(|| self.last.map_or_else(Instant::now, |t| t + LOG_EVERY))
    }

    /// The number of unlogged events, if due at `now` (then they count as logged).
    fn report(&mut self, now: Instant) -> Option<u64> {
        if self.due().is_none_or(|due| due > now) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_once_then_counted_every_interval() {
        let t0 = Instant::now();
        let mut e = Every::default();
        assert!(e.event(t0), "the first is logged");
        assert!(!e.event(t0) && !e.event(t0 + LOG_EVERY / 2));
        assert_eq!(e.due(), Some(t0 + LOG_EVERY));
        assert_eq!(e.report(t0 + LOG_EVERY / 2), None, "not yet");
        let t1 = t0 + LOG_EVERY;
        assert_eq!(e.report(t1), Some(2));
        assert_eq!(e.due(), None);
        // Within the interval after a count, events are counted again.
        assert!(!e.event(t1 + LOG_EVERY / 2));
        assert_eq!(e.report(t1 + LOG_EVERY), Some(1));
        // Quiet for an interval: the next one is logged at once again.
        assert!(e.event(t1 + 3 * LOG_EVERY));
    }
}
