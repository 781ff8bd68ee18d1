//! The router of the whole server, above the API and the demo site: their routes, the JSON answers for
//! unknown paths and methods, and the layers around every request.
//!
//! It is tested with `tower::ServiceExt::oneshot`, on real sockets and through the real binary.

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{ApiError, ErrorCode};
use crate::middleware::{cors, guard, panicked};
use crate::state::AppState;

/// The router with every endpoint and middleware.
pub fn app(state: AppState) -> Router {
    api_and_site(&state)
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), guard))
        .layer(cors(&state.config))
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// The API, then the demo site at `/` (unless `site` is off) and the banner files at `/consent/`: not API
/// endpoints, so not in the OpenAPI document. Unknown paths still get the JSON 404.
fn api_and_site(state: &AppState) -> Router<AppState> {
    crate::api::routes().merge(crate::site::routes(&state.config))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take this method; see /openapi.json",
    )
}

async fn fallback() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint; see /openapi.json",
    )
}
