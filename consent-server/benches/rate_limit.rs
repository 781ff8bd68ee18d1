//! What the rate limiter costs a request, with one client seen and with 200,000 (issue 22.3): a request
//! through the whole router (`GET /.well-known/gpc.json`, a small static answer), each client named by
//! `X-Forwarded-For` (`trust_forwarded_for`), with limits high enough that nobody is refused.
//!
//! `cargo bench -p consent-server --bench rate_limit`. The 200,000 clients are all in the limiter's table
//! (nothing prunes it here: pruning runs beside `serve`), so this is its worst case.

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use consent_core::{Policy, Timestamp};
use consent_server::config::Config;
use consent_server::keys::ServerKeys;
use consent_server::store::Store;
use consent_server::{AppState, app};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt as _;

const POLICY: &str = include_str!("../../examples/invisionu/policy.toml");
const CLIENTS: u32 = 200_000;

/// A state on a fresh database in a temporary directory.
fn state(name: &str) -> AppState {
    let dir = std::env::temp_dir().join(format!("consent-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = Config {
        database: dir.join("consent.db").into(),
        keys: dir.join("keys.json"),
        trust_forwarded_for: true,
        ..Config::default()
    };
    config.rate_limit.per_second = 1_000_000;
    config.rate_limit.burst = 1_000_000;
    let keys =
        ServerKeys::generate(&config.keys, Timestamp::from_unix(1_780_000_000), false).unwrap();
    let store: Arc<dyn Store> = config
        .database
        .open(config.storage.store_options())
        .unwrap();
    AppState::new(
        store,
        Policy::from_toml(POLICY).unwrap(),
        Vec::new(),
        keys,
        config,
        consent_server::clock::system_clock(),
    )
}

/// The `n`th client's address: 10.x.y.z.
fn client(n: u32) -> String {
    let [_, b, c, d] = n.to_be_bytes();
    format!("10.{b}.{c}.{d}")
}

fn request(router: &axum::Router, rt: &tokio::runtime::Runtime, from: &str) {
    let req = Request::get("/.well-known/gpc.json")
        .header("x-forwarded-for", from)
        .body(Body::empty())
        .unwrap();
    let r = rt.block_on(router.clone().oneshot(req)).unwrap();
    assert_eq!(r.status(), 200);
    black_box(r);
}

fn rate_limit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("request through the rate limiter");

    let one = app(state("one-client"));
    request(&one, &rt, &client(0));
    g.bench_function("1 client seen", |b| {
        b.iter(|| request(&one, &rt, &client(0)))
    });

    let many = app(state("many-clients"));
    for n in 0..CLIENTS {
        request(&many, &rt, &client(n));
    }
    let mut n = 0;
    g.bench_function("200,000 clients seen", |b| {
        b.iter(|| {
            n = (n + 7_919) % CLIENTS;
            request(&many, &rt, &client(n));
        })
    });
    g.finish();
}

criterion_group!(benches, rate_limit);
criterion_main!(benches);
