//! The table of open connections: how many there are, whether each has a request in flight, and which
//! have waited longest for a request (the first to close when the cap is reached).
//!
//! Every change to a connection's state happens on its own task (hyper calls the service, reads the socket
//! and drops the answer's body inside the connection's future), except eviction, which the acceptor
//! decides under the table's lock and the connection's task carries out.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::Limits;

/// The open connections.
#[derive(Debug)]
pub(super) struct Table {
    inner: Mutex<Inner>,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    open: usize,
    /// The connections without a request in flight, by when they started waiting (oldest first).
    idle: BTreeMap<u64, Arc<Conn>>,
    next: u64,
}

/// What the acceptor does with a new connection.
pub(super) enum Admission {
    /// Serve it; `evicted`: an idle connection was closed to make room.
    Open { conn: Arc<Conn>, evicted: bool },
    /// At the cap with every connection busy: close it at once.
    Full,
}

impl Table {
    pub(super) fn new() -> Table {
        Table {
            inner: Mutex::new(Inner::default()),
            epoch: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; a poisoned table is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a new connection if there is room, making room by closing the connection that has waited
    /// longest for a request if `max` are open; refuses it if all of them have a request in flight.
    pub(super) fn admit(&self, max: usize) -> Admission {
        let mut inner = self.lock();
        let mut victim = None;
        if inner.open >= max {
            victim = inner.pop_oldest_idle();
            if victim.is_none() {
                return Admission::Full;
            }
        }
        let conn = Arc::new(Conn::new(self.epoch));
        inner.open += 1;
        inner.wait(&conn);
        drop(inner);
        let evicted = victim.is_some_and(|v| {
            v.wake.notify_one();
            true
        });
        Admission::Open { conn, evicted }
    }

    /// Closes the connection that has waited longest for a request (when the process is out of file
    /// descriptors); whether there was one.
    pub(super) fn evict_oldest_idle(&self) -> bool {
        let victim = self.lock().pop_oldest_idle();
        victim.is_some_and(|v| {
            v.wake.notify_one();
            true
        })
    }

    /// A request's head has arrived on `conn`.
    pub(super) fn begin(&self, conn: &Arc<Conn>) {
        let mut inner = self.lock();
        if conn.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            let key = conn.idle_key.swap(0, Ordering::Relaxed);
            if key != 0 {
                inner.idle.remove(&key);
            }
        }
        conn.fresh.store(false, Ordering::Relaxed);
        conn.first_byte.store(0, Ordering::Relaxed);
    }

    /// A request's answer on `conn` is sent (or dropped).
    pub(super) fn end(&self, conn: &Arc<Conn>) {
        let mut inner = self.lock();
        if conn.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 && !conn.evicted() {
            inner.wait(conn);
        }
        drop(inner);
        conn.wake.notify_one();
    }

    /// `conn` is closed.
    pub(super) fn close(&self, conn: &Arc<Conn>) {
        let mut inner = self.lock();
        let key = conn.idle_key.swap(0, Ordering::Relaxed);
        if key != 0 {
            inner.idle.remove(&key);
        }
        inner.open = inner.open.saturating_sub(1);
    }

    /// Connections open.
    pub(super) fn open(&self) -> usize {
        self.lock().open
    }
}

impl Inner {
    /// `conn` starts waiting for a request now.
    fn wait(&mut self, conn: &Arc<Conn>) {
        self.next += 1;
        conn.idle_key.store(self.next, Ordering::Relaxed);
        conn.waiting_since.store(conn.now(), Ordering::Relaxed);
        conn.first_byte.store(0, Ordering::Relaxed);
        self.idle.insert(self.next, Arc::clone(conn));
    }

    fn pop_oldest_idle(&mut self) -> Option<Arc<Conn>> {
        let (_, conn) = self.idle.pop_first()?;
        conn.idle_key.store(0, Ordering::Relaxed);
        conn.evicted.store(true, Ordering::Relaxed);
        Some(conn)
    }
}

/// One connection's state, shared by its task, its socket, its requests and the table. Times are
/// nanoseconds since the table's epoch.
#[derive(Debug)]
pub(super) struct Conn {
    epoch: Instant,
    /// Requests whose head has arrived and whose answer is not yet sent.
    in_flight: AtomicU32,
    /// Its key in the table's idle list; 0 while not in it.
    idle_key: AtomicU64,
    /// When it started waiting for a request: opened, or its last answer sent.
    waiting_since: AtomicU64,
    /// 1 + when the first byte of the next request's head came, 0 before.
    first_byte: AtomicU64,
    /// No request yet.
    fresh: AtomicBool,
    /// Chosen to close to make room.
    evicted: AtomicBool,
    /// Wakes its task: evicted, or its deadline changed (its last answer sent, a head begun).
    pub(super) wake: Notify,
}

impl Conn {
    fn new(epoch: Instant) -> Conn {
        Conn {
            epoch,
            in_flight: AtomicU32::new(0),
            idle_key: AtomicU64::new(0),
            waiting_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(0),
            fresh: AtomicBool::new(true),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }

    /// Bytes came from the client: while no request is in flight, the first byte of a head.
    pub(super) fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.first_byte.load(Ordering::Relaxed) == 0
        {
            self.first_byte.store(self.now() + 1, Ordering::Relaxed);
            if !self.fresh.load(Ordering::Relaxed) {
                // Its deadline moved (from the keep-alive timeout to the header-read timeout).
                self.wake.notify_one();
            }
        }
    }

    pub(super) fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(super) fn evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    /// When to close it if no request arrives: a new connection must send its first head within the
    /// header-read timeout; a kept-alive one must start its next head within the keep-alive timeout and
    /// finish it within the header-read timeout of its first byte. `None` while a request is in flight.
    pub(super) fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.in_flight() > 0 {
            return None;
        }
        let since = self.at(self.waiting_since.load(Ordering::Relaxed));
        if self.fresh.load(Ordering::Relaxed) {
            return Some(since + limits.header_read_timeout);
        }
        match self.first_byte.load(Ordering::Relaxed) {
            0 => Some(
                since
                    + limits
                        .keep_alive_timeout
                        .unwrap_or(limits.header_read_timeout),
            ),
            first => Some(self.at(first - 1) + limits.header_read_timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(t: &Table, max: usize) -> Arc<Conn> {
        match t.admit(max) {
            Admission::Open { conn, .. } => conn,
            Admission::Full => panic!("refused"),
        }
    }

    #[test]
    fn at_the_cap_the_longest_waiting_idle_connection_goes_and_busy_ones_stay() {
        let t = Table::new();
        let a = open(&t, 3);
        let b = open(&t, 3);
        let c = open(&t, 3);
        t.begin(&a);
        // a is busy, so b (idle the longest) makes room for x.
        let x = match t.admit(3) {
            Admission::Open {
                conn,
                evicted: true,
            } => conn,
            _ => panic!("expected an eviction"),
        };
        assert!(b.evicted() && !a.evicted() && !c.evicted());
        assert_eq!(t.open(), 4, "b counts until its task closes it");
        t.close(&b);
        // c answers a request, so it now waits behind x: x goes next.
        t.begin(&c);
        t.end(&c);
        let y = open(&t, 3);
        assert!(x.evicted() && !c.evicted());
        t.close(&x);
        // Everyone busy: refused.
        t.begin(&c);
        t.begin(&y);
        assert!(matches!(t.admit(3), Admission::Full));
        assert_eq!(t.open(), 3);
        // a's answer is sent: a is idle, and goes.
        t.end(&a);
        assert!(matches!(t.admit(3), Admission::Open { evicted: true, .. }));
        assert!(a.evicted());
    }

    #[test]
    fn an_evicted_connection_with_a_late_request_is_not_listed_again() {
        let t = Table::new();
        let a = open(&t, 1);
        assert!(t.evict_oldest_idle());
        // A request that arrived before a's task saw the eviction: it is answered, then a closes.
        t.begin(&a);
        t.end(&a);
        assert!(t.lock().idle.is_empty());
        assert!(!t.evict_oldest_idle());
    }

    #[test]
    fn deadlines_follow_the_connections_state() {
        let limits = Limits {
            max_connections: 10,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Some(Duration::from_secs(75)),
            shutdown_grace: Duration::from_secs(1),
        };
        let t = Table::new();
        let a = open(&t, 10);
        let opened = a.at(a.waiting_since.load(Ordering::Relaxed));
        assert_eq!(a.deadline(&limits), Some(opened + Duration::from_secs(10)));
        a.bytes_read();
        assert_eq!(a.deadline(&limits), Some(opened + Duration::from_secs(10)));
        t.begin(&a);
        assert_eq!(a.deadline(&limits), None);
        a.bytes_read(); // pipelined bytes, or the body: not a head's start
        t.end(&a);
        let idle = a.at(a.waiting_since.load(Ordering::Relaxed));
        assert_eq!(a.deadline(&limits), Some(idle + Duration::from_secs(75)));
        a.bytes_read();
        let first = a.at(a.first_byte.load(Ordering::Relaxed) - 1);
        assert_eq!(a.deadline(&limits), Some(first + Duration::from_secs(10)));
        let no_keep_alive = Limits {
            keep_alive_timeout: None,
            ..limits
        };
        t.begin(&a);
        t.end(&a);
        let idle = a.at(a.waiting_since.load(Ordering::Relaxed));
        assert_eq!(
            a.deadline(&no_keep_alive),
            Some(idle + Duration::from_secs(10))
        );
    }
}
