//! The mailing service (the real binary) next to the consent server (its router, SQLite store and
//! webhook worker, in the test's process): a marketing consent puts the subject on the newsletter list, a
//! marketing withdrawal takes them off, the withdrawal's case closes once the service has acknowledged,
//! and a delivery with a wrong signature is refused.

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use consent_core::{Policy, Timestamp};
use consent_server::config::{Config, StaffToken};
use consent_server::privacy::token_hash;
use consent_server::store::{CaseQuery, SqliteStore, Store};
use consent_server::webhooks::{Subscriptions, WebhookConfig, Worker};
use consent_server::{AppState, app};
use tower::ServiceExt as _;

const PORTAL: &str = "mailing-test-portal-token";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_service(dir: &Path, port: u16) -> Service {
    std::fs::write(dir.join("mailing.secret"), format!("{SECRET}\n")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_mailing-service"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--secret-file")
        .arg(dir.join("mailing.secret"))
        .arg("--list")
        .arg(dir.join("newsletter.txt"))
        .arg("--log")
        .arg(dir.join("events.log"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mailing-service did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Service(child)
}

fn list(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("newsletter.txt")).unwrap_or_default()
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketing_withdrawal_stops_the_newsletter_and_closes_the_case() {
    let dir: PathBuf = std::env::temp_dir().join(format!("mailing-service-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let _service = start_service(&dir, port);

    let policy = Policy::from_toml(include_str!("../../invisionu/policy.toml")).unwrap();
    let keys = consent_server::keys::ServerKeys::generate(
        &dir.join("keys.json"),
        Timestamp::from_unix(1_768_471_200),
        true,
    )
    .unwrap();
    let webhook: WebhookConfig = toml_config(port);
    let config = Config {
        tokens: vec![StaffToken::service(
            "portal",
            token_hash(PORTAL),
            &["marketing"],
            &["form"],
        )],
        webhooks: vec![webhook],
        ..Config::default()
    };
    let subscriptions = Subscriptions::new(&config.webhooks, &policy).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.join("consent.db")).unwrap());
    let state = AppState::new(
        Arc::clone(&store),
        policy,
        Vec::new(),
        keys,
        config,
        consent_server::clock::system_clock(),
    )
    .with_webhooks(subscriptions);
    tokio::spawn(
        Worker::new(Arc::clone(&store), Arc::clone(&state.webhooks))
            .unwrap()
            .run(),
    );

    // A form consent to the newsletter.
    let body = serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": {"marketing": "given"},
        "method": "form",
        "language": "kk",
        "collection_point": {"kind": "form", "page": "https://invisionu.education/newsletter"},
        "subject": {"id": "aigerim@example.kz"},
        "subject_name": "Әйгерім Нұрланқызы",
    });
    let req = axum_request(&body);
    let res = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(res.status(), 201);
    let subject = consent_server::api::find_subject(&state, "aigerim@example.kz")
        .await
        .unwrap()
        .unwrap();
    let s = subject.to_string();
    wait_until("subscribed", || list(&dir).contains(&s)).await;

    // The marketing withdrawal stops it; its case closes with the acknowledgement.
    consent_server::api::staff_withdraw(
        &state,
        subject,
        Some(vec!["marketing".parse().unwrap()]),
        "dpo",
    )
    .await
    .unwrap();
    wait_until("unsubscribed", || !list(&dir).contains(&s)).await;
    let open = CaseQuery {
        open_only: true,
        ..CaseQuery::default()
    };
    let store2 = Arc::clone(&store);
    wait_until("case closed", move || {
        store2.cases(&open).unwrap().is_empty()
    })
    .await;
    let log = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(log.contains(&format!("consent.given {s}")), "{log}");
    assert!(log.contains(&format!("consent.withdrawn {s}")), "{log}");
    assert!(!log.contains("Әйгерім"), "{log}");

    // A delivery signed with another secret is refused (401) and changes nothing.
    let other = consent_server::webhooks::WebhookSecret::parse(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap();
    let forged = format!(
        r#"{{"type":"consent.given","timestamp":1,"data":{{"subject":"{s}","purposes":["marketing"]}}}}"#
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let headers =
        consent_server::webhooks::signed_headers(&other, "msg_forged", now, &forged).unwrap();
    let client = reqwest_like_post(port, &headers, &forged);
    assert_eq!(client, 401);
    assert!(!list(&dir).contains(&s));
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

fn toml_config(port: u16) -> WebhookConfig {
    serde_json::from_value(serde_json::json!({
        "name": "mailing-service",
        "url": format!("http://127.0.0.1:{port}/webhooks/consent"),
        "secret": SECRET,
        "events": ["consent.given", "consent.withdrawn", "consent.unsubscribed", "subject.erased"],
        "purposes": ["marketing"],
    }))
    .unwrap()
}

fn axum_request(body: &serde_json::Value) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post("/v1/consents")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {PORTAL}"))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

/// A POST over a plain socket (HTTP/1.1, one request): the status.
fn reqwest_like_post(port: u16, headers: &[(&str, String)], body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "POST /webhooks/consent HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ').nth(1).unwrap().parse().unwrap()
}
