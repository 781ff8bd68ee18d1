//! The HTTP/1 serve loop: accepting connections under a cap, the timeouts that close connections which
//! send nothing, and a graceful shutdown with a deadline.
//!
//! `axum::serve` has none of these: a client that opens connections and sends nothing (or half a request
//! head) keeps them open forever, enough of them exhaust the process's file descriptors (after which it
//! answers nobody), and one of them keeps a stopping server from exiting. Here:
//!
//! - **Timeouts** ([`Limits`]): a new connection must send its first request head within
//!   `header_read_timeout`; a kept-alive connection must start its next head within `keep_alive_timeout`
//!   and finish it within `header_read_timeout` of its first byte. A request in flight is never cut by
//!   them (its own limit is the router's request timeout).
//! - **A connection cap**, derived from the open-file limit unless configured. At the cap the connection
//!   that has waited longest for a request is closed to make room (idle and half-sent heads first, as
//!   nginx reuses its idle keep-alive connections); when every connection has a request in flight, new
//!   connections are accepted and closed at once. Running out of descriptors anyway (`EMFILE`) closes an
//!   idle connection and backs off; such events are logged once per interval with their counts.
//! - **Shutdown**: stop accepting, close the connections without a request in flight (idle, or with half
//!   a head: nothing has been asked yet), let requests in flight finish (their answers carry
//!   `Connection: close`), and after the grace period close whatever is left.

mod accept;
mod conn;
mod table;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::metrics::Metrics;
use accept::Acceptor;
use table::Table;

/// File descriptors kept for everything but client connections: the listener, standard streams and the
/// runtime's, the database (a writer, a checkpointer and up to 8 pooled readers, with their `-wal` and
/// `-shm` files), files read per request (the banner's), and headroom.
pub const RESERVED_FDS: u64 = 128;

/// The connection cap when none is configured and the open-file limit allows more.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Connections beyond the cap that may still be open while those evicted to make room close (each closes
/// on its own task): past this many the acceptor waits for them, so that the process never holds more than
/// the cap and this many connections (well within [`RESERVED_FDS`]).
const CLOSING_AT_ONCE: usize = 32;

/// Limits of the serve loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Time to send a request head: from the connection's opening, or from the head's first byte.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for the next request's first byte; `None`: one request
    /// per connection.
    pub keep_alive_timeout: Option<Duration>,
    /// Time requests in flight get to finish once shutdown starts.
    pub shutdown_grace: Duration,
}

impl Limits {
    /// The limits of `config`, with the connection cap checked against the process's open-file limit
    /// (`RLIMIT_NOFILE`, its soft value); logs what applies.
    ///
    /// ```
    /// use consent_server::config::Config;
    /// use consent_server::serve::{DEFAULT_MAX_CONNECTIONS, Limits};
    ///
    /// let limits = Limits::from_config(&Config::default());
    /// assert!(limits.max_connections <= DEFAULT_MAX_CONNECTIONS);
    /// assert_eq!(limits.header_read_timeout.as_secs(), 10);
    /// ```
    pub fn from_config(config: &Config) -> Limits {
        let nofile = open_file_limit();
        let (max_connections, clamped) = connection_cap(nofile, config.max_connections);
        if let Some(asked) = clamped {
            tracing::warn!(
                "max_connections = {asked} is more than the open-file limit allows: using {max_connections} \
                 (raise the limit, e.g. LimitNOFILE= in the systemd unit)"
            );
        }
        let limits = Limits {
            max_connections,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
            keep_alive_timeout: (config.keep_alive_timeout_secs > 0)
                .then(|| Duration::from_secs(config.keep_alive_timeout_secs)),
            shutdown_grace: Duration::from_secs(config.shutdown_grace_secs),
        };
        let limit = nofile.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
        let keep_alive = limits
            .keep_alive_timeout
            .map_or_else(|| "off".to_owned(), |k| format!("{} s", k.as_secs()));
        tracing::info!(
            "at most {max_connections} connections (open-file limit {limit}, {RESERVED_FDS} kept for the \
             database and the log); header read timeout {} s, keep-alive {keep_alive}, shutdown grace {} s",
            limits.header_read_timeout.as_secs(),
            limits.shutdown_grace.as_secs()
        );
        limits
    }
}

/// The process's soft open-file limit; `None` when unlimited or unknown.
fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The cap for an open-file limit of `nofile` and a configured value; the second value is the configured
/// one when it had to be lowered.
fn connection_cap(nofile: Option<u64>, configured: Option<usize>) -> (usize, Option<usize>) {
    let safe = nofile.map_or(usize::MAX, |n| {
        let room = if n > 2 * RESERVED_FDS {
            n - RESERVED_FDS
        } else {
            n / 2
        };
        usize::try_from(room).unwrap_or(usize::MAX).max(1)
    });
    match configured {
        Some(asked) if asked > safe => (safe, Some(asked)),
        Some(asked) => (asked.max(1), None),
        None => (DEFAULT_MAX_CONNECTIONS.min(safe), None),
    }
}

/// What every connection's task shares.
#[derive(Debug)]
struct Shared {
    router: Router,
    limits: Limits,
    table: Arc<Table>,
    metrics: Arc<Metrics>,
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains as [`Limits::shutdown_grace`]
/// allows. Handlers get the peer's address as `ConnectInfo<SocketAddr>`.
///
/// ```
/// use std::time::Duration;
/// use consent_server::serve::{Limits, run};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
/// let limits = Limits {
///     max_connections: 100,
///     header_read_timeout: Duration::from_secs(10),
///     keep_alive_timeout: Some(Duration::from_secs(75)),
///     shutdown_grace: Duration::from_secs(1),
/// };
/// // Until the shutdown future resolves (here at once), then until the connections close.
/// run(listener, router, limits, Default::default(), async {}).await;
/// # }
/// ```
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(Shared {
        router,
        limits,
        table: Arc::new(Table::new()),
        metrics,
    });
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let mut acceptor = Acceptor::default();
    loop {
        // Evicted connections close on their own tasks: wait for them (the end of a task) rather than
        // accept past the cap and what may be closing.
        let room = shared.table.open() < limits.max_connections.saturating_add(CLOSING_AT_ONCE)
            || tasks.is_empty();
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = accept::sleep_until(acceptor.next_report()) => acceptor.report(&shared),
            accepted = listener.accept(), if room => match accepted {
                Ok((stream, peer)) => {
                    if let Some(task) = acceptor.admit(&shared, stream, peer, &stopping) {
                        tasks.spawn(task);
                    }
                }
                Err(e) => acceptor.failed(&shared, &e).await,
            },
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let open = shared.table.open();
    tracing::info!(
        "no longer accepting connections; {open} open, waiting up to {}s for requests in flight",
        limits.shutdown_grace.as_secs_f32()
    );
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "grace period over: closing {} connection(s) still open",
            tasks.len()
        );
        tasks.shutdown().await;
    }
}

#[cfg(test)]
mod tests;
