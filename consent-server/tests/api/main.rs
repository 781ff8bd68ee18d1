//! The HTTP API through `tower::ServiceExt::oneshot`, on a real SQLite file.

#[path = "../common.rs"]
mod common;

// The tests, one module per concern; this file holds the helpers they share.
mod consents;
mod export;
mod policy;
mod services;
mod surface;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use consent_core::{KeySet, Timestamp, UnverifiedReceipt, UnverifiedToken};
use serde_json::json;

async fn receipts_stored(s: &TestServer) -> u64 {
    let store = s.state.store.clone();
    tokio::task::spawn_blocking(move || store.receipt_count())
        .await
        .unwrap()
        .unwrap()
}

async fn app_call(state: consent_server::AppState, req: Request<Body>) -> Answer {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let r = consent_server::app(state).oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    Answer {
        status,
        headers,
        body: r.into_body().collect().await.unwrap().to_bytes().to_vec(),
    }
}

/// Records, as a service, marketing given by the subject with external id `id`; returns its pseudonym.
async fn marketing_subject(s: &TestServer, id: &str) -> String {
    let mut body = consent_body(json!({"marketing": "given"}));
    body["method"] = json!("api");
    body["collection_point"] = json!({"kind": "api"});
    body["subject"] = json!({"id": id});
    call(s, with_token(post_json("/v1/consents", &body), SERVICE))
        .await
        .json()["subject"]
        .as_str()
        .unwrap()
        .to_owned()
}
