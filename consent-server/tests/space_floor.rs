//! SQLite only (a PostgreSQL server watches its own disk). The free-space floor with the real store on
//! the real disk: configured above the free space, it
//! refuses the writes that add data (503 `storage_unavailable`, `Retry-After`) while reads, exports and
//! rights requests keep working, and `/readyz` and `/metrics` say so.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use consent_core::{Policy, Timestamp};
use consent_server::AppState;
use consent_server::keys::ServerKeys;
use consent_server::store::{SqliteStore, Store};
use serde_json::json;

/// The database of `s` opened again with a floor of `min_free_mib` (as after a restart).
fn reopen(s: &TestServer, min_free_mib: u64) -> TestServer {
    s.state.store.close();
    let mut config = (*s.state.config).clone();
    config.storage.min_free_mib = min_free_mib;
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_with(
            config.database.sqlite_file().unwrap(),
            config.storage.store_options(),
        )
        .unwrap(),
    );
    let keys = ServerKeys::load(&config.keys).unwrap();
    let clock = Arc::clone(&s.clock);
    let c = Arc::clone(&clock);
    let state = AppState::new(
        store,
        Policy::from_toml(POLICY).unwrap(),
        Vec::new(),
        keys,
        config,
        Arc::new(move || (Timestamp::from_unix(c.load(Ordering::Relaxed)), 0)),
    );
    TestServer {
        state,
        dir: s.dir.clone(),
        clock,
        schema: None,
    }
}

fn device_consent(device: &str) -> serde_json::Value {
    let mut body =
        consent_body(json!({"cookies-analytics": "given", "cookies-marketing": "given"}));
    body["subject"] = json!({ "device": device });
    body
}

fn service_consent(id: &str) -> Request<Body> {
    let mut body = consent_body(json!({"marketing": "given"}));
    body["method"] = json!("api");
    body["collection_point"] = json!({"kind": "api"});
    body["subject"] = json!({ "id": id });
    with_token(post_json("/v1/consents", &body), SERVICE)
}

fn staff(uri: &str, token: &str) -> Request<Body> {
    with_token(
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap(),
        token,
    )
}

fn assert_refused(r: &Answer) {
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.error(), ("storage_unavailable".into(), None));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nearly full"),
        "{}",
        r.text()
    );
    assert_eq!(r.headers["retry-after"], "10");
}

#[tokio::test]
async fn below_the_floor_only_reads_and_rights_requests_go_through() {
    let before = sqlite_server_with("floor", |c| c.storage.min_free_mib = 0).await;
    let device = "AAAAAAAAAAAAAAAAAAAAAQ";
    let r = call(&before, post_json("/v1/consents", &device_consent(device))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let device_receipt = r.json()["receipt_id"].as_str().unwrap().to_owned();
    // The device's later choices come with its token, as the banner sends them.
    let device_token = r.json()["token"].as_str().unwrap().to_owned();
    let own = |body: &serde_json::Value| {
        let mut req = post_json("/v1/consents", body);
        req.headers_mut()
            .insert("x-consent-token", device_token.parse().unwrap());
        req
    };
    let r = call(&before, service_consent("ann@example.kz")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let ann = r.json()["subject"].as_str().unwrap().to_owned();

    // Restarted with a floor no disk reaches (1 EiB): free space is below it from the start.
    let s = reopen(&before, 1 << 40);
    let r = call(&s, get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error().0, "storage_unavailable");
    let why = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(why.contains("below the floor"), "{why}");

    // Writes that add data: a banner's choice, a service's choice for a new person and for a known one.
    assert_refused(&call(&s, own(&device_consent(device))).await);
    assert_refused(&call(&s, service_consent("bob@example.kz")).await);
    assert_refused(&call(&s, service_consent("ann@example.kz")).await);
    // A banner withdrawal is anonymous and adds a receipt like any other: it waits too.
    let mut withdrawal = consent_body(json!({"cookies-marketing": "withdrawn"}));
    withdrawal["method"] = json!("withdraw");
    withdrawal["subject"] = json!({ "device": device });
    assert_refused(&call(&s, own(&withdrawal)).await);

    // Reads and exports.
    let r = call(
        &s,
        with_token(
            get(&format!("/v1/receipts/{device_receipt}"))
                .body(Body::empty())
                .unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = call(
        &s,
        with_token(get("/v1/export").body(Body::empty()).unwrap(), AUDITOR),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text().lines().count(), 2, "nothing refused was stored");
    for what in ["history", "state", "export"] {
        let uri = format!("/v1/subjects/{ann}/{what}");
        let r = call(
            &s,
            with_token(get(&uri).body(Body::empty()).unwrap(), OPERATOR),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
    }

    // Rights requests: restrict, unblock, a one-click unsubscribe, a staff withdrawal (each with its
    // receipt), and the erasure.
    for action in ["restrict", "unblock"] {
        let r = call(&s, staff(&format!("/v1/subjects/{ann}/{action}"), OPERATOR)).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text());
    }
    let link = call(
        &s,
        with_token(
            post_json("/v1/unsubscribe-links", &json!({ "subject": ann })),
            SERVICE,
        ),
    )
    .await
    .json();
    let path = link["url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap()
        .to_owned();
    let r = call(
        &s,
        Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("List-Unsubscribe=One-Click"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "unsubscribe: {}", r.text());
    // (A new receipt: a repeat that changed nothing would add none.)
    let unsubscribed = r.json()["receipt_id"].clone();
    let r = call(&s, staff(&format!("/v1/subjects/{ann}/withdraw"), OPERATOR)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_ne!(r.json()["receipt_id"], unsubscribed);
    let r = call(&s, staff(&format!("/v1/subjects/{ann}/erase"), OPERATOR)).await;
    assert_eq!(r.status, StatusCode::OK, "erase: {}", r.text());
    let r = call(
        &s,
        with_token(
            post_json("/v1/subjects/lookup", &json!({"id": "ann@example.kz"})),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "erased: no longer found");

    let m = call(&s, get("/metrics").body(Body::empty()).unwrap())
        .await
        .text();
    for line in [
        "consent_storage_available 0",
        "consent_storage_min_free_bytes 1152921504606846976",
        "consent_storage_refused_writes_total 4",
        "consent_storage_failures_total{op=\"write\"} 0",
        "consent_http_requests_total{route=\"/v1/consents\",status=\"503\"} 4",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} not in\n{m}");
    }
    let free: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("consent_storage_free_bytes "))
        .expect("free bytes")
        .parse()
        .unwrap();
    assert!(free > 0 && free < 1 << 60);

    // Without the floor (restarted again), the same banner choice is recorded.
    let after = reopen(&s, 0);
    let r = call(&after, own(&device_consent(device))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = call(&after, get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "ready"));
}
