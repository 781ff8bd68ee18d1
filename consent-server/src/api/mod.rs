//! The HTTP API, v1: its routes and handlers. The router of the whole server is [`crate::app()`], which
//! merges these routes with the demo site's.
//!
//! - `consents`: `POST /v1/consents` (check a choice, sign its receipt, commit it).
//! - `device`: whose device it is (only a device's own token changes its state once it has a choice).
//! - `idempotency`: `Idempotency-Key`: a choice sent twice is recorded once.
//! - `public`: policies, a receipt for its holder, key set, GPC, one-click unsubscribe.
//! - `subjects`: staff endpoints for a subject (lookup, history, state, access export, rights requests),
//!   unsubscribe links.
//! - `log`: the consent log (checkpoints, key, tiles, entry bundles, cosignatures, receipts' proofs).
//! - `cases`: rights requests as cases (access requests, the list, closing).
//! - `ops`: auditors' export, the OpenAPI document, health, readiness, metrics.

mod cases;
mod consents;
mod device;
mod idempotency;
mod log;
mod ops;
mod public;
mod subjects;

use axum::Router;
use axum::routing::{get, post};

pub use cases::{case_json, close_case, staff_access};
pub use subjects::{find_subject, staff_rights, staff_withdraw};

use crate::state::AppState;

/// Every API endpoint (the ones `openapi.json` documents).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/policy", get(public::current_policy))
        .route("/v1/policy/banner/{lang}", get(public::current_banner_view))
        .route("/v1/policies/{version}", get(public::policy_version))
        .route("/v1/consents", post(consents::record))
        .route("/v1/receipts/{id}", get(public::receipt))
        .route("/v1/receipts/{id}/proof", get(log::receipt_proof))
        .route("/v1/log/entries/{index}/proof", get(log::entry_proof))
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/key", get(log::key))
        .route("/log/tile/{*path}", get(log::tile))
        .route("/log/cosignature", post(log::cosignature))
        .route("/v1/subjects/lookup", post(subjects::lookup))
        .route("/v1/subjects/{subject}/history", get(subjects::history))
        .route("/v1/subjects/{subject}/state", get(subjects::state))
        .route(
            "/v1/subjects/{subject}/export",
            get(subjects::access_export),
        )
        .route("/v1/subjects/{subject}/withdraw", post(subjects::withdraw))
        .route("/v1/subjects/{subject}/restrict", post(subjects::restrict))
        .route("/v1/subjects/{subject}/unblock", post(subjects::unblock))
        .route("/v1/subjects/{subject}/erase", post(subjects::erase))
        .route("/v1/subjects/{subject}/access", post(cases::access))
        .route("/v1/cases", get(cases::list_cases))
        .route("/v1/cases/{id}/close", post(cases::close))
        .route(
            "/v1/unsubscribe",
            get(public::unsubscribe_page).post(public::unsubscribe),
        )
        .route("/v1/unsubscribe-links", post(subjects::unsubscribe_link))
        .route("/v1/export", get(ops::export))
        .route("/.well-known/jwks.json", get(public::jwks))
        .route("/.well-known/gpc.json", get(public::gpc))
        .route("/openapi.json", get(ops::openapi))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
}
