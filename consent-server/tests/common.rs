//! Test helpers: a server state on a temporary SQLite file, or on PostgreSQL when `DATABASE_URL` is set
//! (each test in a fresh schema: one suite, two engines), known bearer tokens, a fixed clock.

#![allow(dead_code, unreachable_pub, missing_docs)]

#[path = "support/pg.rs"]
pub mod pg;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use consent_core::{Policy, Timestamp};
use consent_server::config::{Config, Role, StaffToken};
use consent_server::keys::ServerKeys;
use consent_server::privacy::token_hash;
use consent_server::store::{Database, Store, Write};
use consent_server::{AppState, app};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

pub const POLICY: &str = include_str!("../../examples/invisionu/policy.toml");
pub const AUDITOR: &str = "test-auditor-token";
pub const OPERATOR: &str = "test-operator-token";
/// A service that may record every purpose that needs consent, on banners, forms and the API.
pub const SERVICE: &str = "test-service-token";
/// A service that may record application reviews and scholarships on forms only.
pub const PORTAL: &str = "test-portal-token";
/// 2026-01-15T10:00:00Z.
pub const NOW: i64 = 1_768_471_200;

pub struct TestServer {
    pub state: AppState,
    pub dir: PathBuf,
    pub clock: Arc<AtomicI64>,
    /// The test's schema, when the tests run on PostgreSQL (dropped after the store is closed).
    pub schema: Option<Arc<pg::TestSchema>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.store.close();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The engine of the tests: PostgreSQL (a fresh schema) when `DATABASE_URL` is set, else a SQLite file in
/// `dir`.
pub fn test_database(name: &str, dir: &std::path::Path) -> (Database, Option<Arc<pg::TestSchema>>) {
    match pg::TestSchema::from_env(name) {
        Some(schema) => (
            Database::parse(&schema.url).unwrap(),
            Some(Arc::new(schema)),
        ),
        None => (dir.join("consent.db").into(), None),
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicI64 = AtomicI64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "consent-test-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn tokens() -> Vec<StaffToken> {
    let policy = Policy::from_toml(POLICY).unwrap();
    let every_purpose: Vec<&str> = policy
        .purposes()
        .iter()
        .filter(|p| p.needs_consent())
        .map(|p| p.id.as_str())
        .collect();
    vec![
        StaffToken::new("Auditor", Role::Auditor, token_hash(AUDITOR)),
        StaffToken::new("Operator", Role::Operator, token_hash(OPERATOR)),
        StaffToken::service(
            "Service",
            token_hash(SERVICE),
            &every_purpose,
            &["banner", "form", "api"],
        ),
        StaffToken::service(
            "Portal",
            token_hash(PORTAL),
            &["application-review", "scholarships"],
            &["form"],
        ),
    ]
}

pub async fn server_with(name: &str, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = temp_dir(name);
    let (database, schema) = test_database(name, &dir);
    server_on(dir, database, schema, tweak).await
}

/// A server on SQLite whatever `DATABASE_URL` says (the SQLite-only tests: the free-space floor).
pub async fn sqlite_server_with(name: &str, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = temp_dir(name);
    let database = dir.join("consent.db").into();
    server_on(dir, database, None, tweak).await
}

async fn server_on(
    dir: PathBuf,
    database: Database,
    schema: Option<Arc<pg::TestSchema>>,
    tweak: impl FnOnce(&mut Config),
) -> TestServer {
    let mut config = Config {
        database,
        keys: dir.join("keys.json"),
        tokens: tokens(),
        ..Config::default()
    };
    config.rate_limit.per_second = 100_000;
    config.rate_limit.burst = 100_000;
    tweak(&mut config);
    let keys = ServerKeys::generate(&config.keys, Timestamp::from_unix(NOW), false).unwrap();
    let store: Arc<dyn Store> = config
        .database
        .open(config.storage.store_options())
        .unwrap();
    let policy = Policy::from_toml(POLICY).unwrap();
    store
        .submit(Write::Policy {
            version: policy.version(),
            sha256: policy.hash(),
            canonical: policy.canonical_json(),
        })
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let c = Arc::clone(&clock);
    let state = AppState::new(
        store,
        policy,
        Vec::new(),
        keys,
        config,
        Arc::new(move || (Timestamp::from_unix(c.load(Ordering::Relaxed)), 0)),
    );
    TestServer {
        state,
        dir,
        clock,
        schema,
    }
}

pub async fn server(name: &str) -> TestServer {
    server_with(name, |_| {}).await
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The error code and field of a 4xx answer, checking its shape.
    pub fn error(&self) -> (String, Option<String>) {
        let j = self.json();
        let e = &j["error"];
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{j}");
        (
            e["code"].as_str().unwrap().to_owned(),
            e["field"].as_str().map(str::to_owned),
        )
    }
}

pub async fn call(s: &TestServer, req: Request<Body>) -> Answer {
    let r = app(s.state.clone()).oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// `GET uri` with `If-None-Match: etag` (a revalidation).
/// `body` decoded from `coding` (`br`, `gzip`, or none).
pub fn decoded(body: &[u8], coding: Option<&str>) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    match coding {
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        None => out.extend_from_slice(body),
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
    out
}

pub async fn revalidate(s: &TestServer, uri: &str, etag: &str) -> Answer {
    let req = get(uri)
        .header("if-none-match", etag)
        .body(Body::empty())
        .unwrap();
    call(s, req).await
}

pub fn get(uri: &str) -> axum::http::request::Builder {
    Request::get(uri)
}

pub fn post_json(uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn with_token(mut req: Request<Body>, token: &str) -> Request<Body> {
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

pub fn consent_body(decisions: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": decisions,
        "method": "custom",
        "language": "kk",
        "collection_point": { "kind": "banner", "build": "ab".repeat(32), "page": "https://invisionu.education/" },
    })
}
