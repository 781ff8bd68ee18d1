//! The rate limiter: a token bucket per client (GCRA, `governor`), keyed by IPv4 address or IPv6 /64, in a
//! table of bounded size that is pruned off the request path.
//!
//! - **Keys.** An IPv4 client is its address; an IPv6 client is its /64 (one subscriber's network: a host
//!   picks any of its 2^64 addresses at will, so keying on the full address would let it rotate past the
//!   limit); an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for IPv4
//!   peers) is the IPv4 address.
//! - **Cost per request.** One lookup in a sharded hash map (`DashMap`) and a compare-and-swap on the
//!   client's state: the same with one client seen or a million.
//! - **Memory.** A client whose bucket is full again is indistinguishable from a new one, so
//!   [`ClientLimiter::forget_idle`] drops those (the server runs it every few seconds, off the request
//!   path). The table also has a hard size (`rate_limit.max_clients`): once it is full, clients that are
//!   not in it share one bucket (with the same allowance) until pruning makes room. Known clients keep
//!   their own buckets; under a flood of distinct addresses newcomers are limited together rather than
//!   growing memory without bound.
//!
//! Client addresses are kept in memory only, never stored or logged.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use governor::clock::DefaultClock;
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};

use crate::config::RateLimit;

/// Whom a request counts against: an IPv4 address, or the first 64 bits of an IPv6 address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum ClientKey {
    /// An IPv4 address (also what IPv4-mapped IPv6 addresses become).
    V4(u32),
    /// The /64 network of an IPv6 address.
    V6(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(u32::from(v4)),
                None => ClientKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// The per-client limiter of the guard.
pub(crate) struct ClientLimiter {
    limiter: RateLimiter<ClientKey, CappedStore, DefaultClock>,
}

impl std::fmt::Debug for ClientLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLimiter")
            .field("clients", &self.limiter.len())
            .finish_non_exhaustive()
    }
}

impl ClientLimiter {
    /// `per_second` sustained, `burst` at once, per client; at most `max_clients` clients of their own.
    pub(crate) fn new(rl: RateLimit) -> ClientLimiter {
        let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let quota =
            Quota::per_second(at_least_one(rl.per_second)).allow_burst(at_least_one(rl.burst));
        let store = CappedStore {
            map: DashMap::new(),
            len: AtomicUsize::new(0),
            max: rl.max_clients.max(1),
            overflow: InMemoryState::default(),
        };
        ClientLimiter {
            limiter: RateLimiter::new(quota, store, DefaultClock::default()),
        }
    }

    /// Whether `ip` may make a request now; takes a token from its bucket if so.
    pub(crate) fn allow(&self, ip: IpAddr) -> bool {
        self.limiter.check_key(&ClientKey::from(ip)).is_ok()
    }

    /// Drops the clients whose buckets are full again (they are the same as new ones), and gives memory
    /// back once the table has shrunk to a quarter of its capacity. Its cost grows with the table, so the
    /// server runs it on a timer, never on the request path.
    pub(crate) fn forget_idle(&self) {
        self.limiter.retain_recent();
    }

    /// Clients with a bucket of their own.
    pub(crate) fn clients(&self) -> usize {
        self.limiter.len()
    }
}

/// governor's state store for keyed limiters (a `DashMap` of GCRA states), with a hard size: past `max`
/// keys, keys that are not in the map share the `overflow` state.
struct CappedStore {
    map: DashMap<ClientKey, InMemoryState>,
    /// Keys in `map`, counted as they are inserted and removed (`DashMap::len` locks every shard).
    len: AtomicUsize,
    max: usize,
    overflow: InMemoryState,
}

impl StateStore for CappedStore {
    type Key = ClientKey;

    fn measure_and_replace<T, F, E>(&self, key: &ClientKey, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if let Some(state) = self.map.get(key) {
            return state.measure_and_replace(&NotKeyed::NonKey, f);
        }
        if self.len.load(Ordering::Relaxed) >= self.max {
            return self.overflow.measure_and_replace(&NotKeyed::NonKey, f);
        }
        let state = match self.map.entry(*key) {
            Entry::Occupied(e) => e.into_ref(),
            Entry::Vacant(e) => {
                self.len.fetch_add(1, Ordering::Relaxed);
                e.insert(InMemoryState::default())
            }
        };
        state.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

impl ShrinkableKeyedStateStore<ClientKey> for CappedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.map.retain(|_, state| {
            // The state's theoretical arrival time, read without changing it (`Err` leaves it as is).
            let tat = state
                .measure_and_replace(&NotKeyed::NonKey, Err::<((), Nanos), _>)
                .err()
                .flatten();
            let keep = tat.is_some_and(|t| t > drop_below);
            if !keep {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
            keep
        });
        if self.map.capacity() > 4 * (self.len() + 1024) {
            self.map.shrink_to_fit();
        }
    }

    fn shrink_to_fit(&self) {
        self.map.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use super::*;

    fn limits(per_second: u32, burst: u32, max_clients: usize) -> RateLimit {
        RateLimit {
            per_second,
            burst,
            max_clients,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_their_64_and_mapped_addresses_are_ipv4() {
        let key = |s| ClientKey::from(ip(s));
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(key("2001:db8:1:2::1"), ClientKey::V6(0x2001_0db8_0001_0002));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_eq!(key("192.0.2.7"), ClientKey::V4(0xc000_0207));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        // Not mapped: the IPv4-compatible form and the IPv4 translation prefix are IPv6 networks.
        assert!(matches!(key("::192.0.2.7"), ClientKey::V6(0)));
        assert!(matches!(key("64:ff9b::192.0.2.7"), ClientKey::V6(_)));
        assert_eq!(
            ClientKey::from(IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped())),
            ClientKey::V4(0x0a00_0001)
        );
        assert_eq!(
            ClientKey::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ClientKey::V6(0)
        );
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_not_affected() {
        let l = ClientLimiter::new(limits(1, 3, 100));
        for _ in 0..3 {
            assert!(l.allow(ip("192.0.2.1")));
        }
        assert!(!l.allow(ip("192.0.2.1")));
        // The same client through a dual-stack socket.
        assert!(!l.allow(ip("::ffff:192.0.2.1")));
        assert!(l.allow(ip("192.0.2.2")));
        assert_eq!(l.clients(), 2);
    }

    #[test]
    fn rotating_within_a_64_does_not_escape_the_limit() {
        let l = ClientLimiter::new(limits(1, 5, 100));
        let allowed = (0..50u16)
            .filter(|i| l.allow(ip(&format!("2001:db8:aa:bb::{i:x}"))))
            .count();
        assert_eq!(allowed, 5);
        assert!(l.allow(ip("2001:db8:aa:bc::1")));
    }

    #[test]
    fn past_the_cap_newcomers_share_one_bucket_and_known_clients_keep_theirs() {
        let l = ClientLimiter::new(limits(1, 2, 3));
        for c in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
            assert!(l.allow(ip(c)));
        }
        assert_eq!(l.clients(), 3);
        // Two newcomers share the overflow bucket of 2.
        assert!(l.allow(ip("198.51.100.1")));
        assert!(l.allow(ip("198.51.100.2")));
        assert!(!l.allow(ip("198.51.100.3")));
        assert!(!l.allow(ip("2001:db8::1")));
        assert_eq!(l.clients(), 3);
        // A known client still has its own second token.
        assert!(l.allow(ip("192.0.2.1")));
        assert!(!l.allow(ip("192.0.2.1")));
    }

    #[test]
    fn idle_clients_are_forgotten_and_make_room() {
        // 1,000 per second: a bucket used once is full again after a millisecond.
        let l = ClientLimiter::new(limits(1000, 1, 2));
        assert!(l.allow(ip("192.0.2.1")));
        assert!(l.allow(ip("192.0.2.2")));
        assert_eq!(l.clients(), 2);
        std::thread::sleep(Duration::from_millis(20));
        l.forget_idle();
        assert_eq!(l.clients(), 0);
        assert!(l.allow(ip("192.0.2.3")));
        assert_eq!(l.clients(), 1);
        // A client that is still waiting for its bucket to refill is kept.
        let slow = ClientLimiter::new(limits(1, 1, 10));
        assert!(slow.allow(ip("192.0.2.9")));
        slow.forget_idle();
        assert_eq!(slow.clients(), 1);
        assert!(!slow.allow(ip("192.0.2.9")));
    }
}
