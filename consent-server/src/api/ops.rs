//! Auditor export, OpenAPI, health, readiness, metrics.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use consent_core::Timestamp;
use serde::Deserialize;

use crate::auth::{ExportReceipts, Staff};
use crate::error::{ApiError, ErrorCode};
use crate::extract::ApiQuery;
use crate::privacy::SubjectRef;
use crate::state::AppState;
use crate::store::{ExportQuery, Outage, Seq, StoreError};

/// The OpenAPI document of this API.
pub(crate) const OPENAPI: &str = include_str!("../../openapi.json");

/// Most receipts in one export page.
const MAX_PAGE: u64 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportParams {
    from: Option<i64>,
    to: Option<i64>,
    subject: Option<String>,
    after: Option<i64>,
    limit: Option<u64>,
}

/// `GET /v1/export` (auditors): receipts as JSON Lines, in insertion order, one page at a time
/// (`X-Next-After` names the next page's `after`). The token is checked before the query.
pub(crate) async fn export(
    State(state): State<AppState>,
    _: Staff<ExportReceipts>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let limit = p.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_param(
            "limit",
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let subject = p
        .subject
        .map(|s| s.parse::<SubjectRef>())
        .transpose()
        .map_err(|e| ApiError::bad_param("subject", e))?;
    let q = ExportQuery {
        from: p.from.map(Timestamp::from_unix),
        to: p.to.map(Timestamp::from_unix),
        subject,
        // Sequence numbers start at 1: a negative `after` is the start.
        after_seq: p.after.map(|a| Seq(u64::try_from(a).unwrap_or(0))),
        limit: Some(limit),
    };
    let keys = std::sync::Arc::clone(&state.keys);
    let (body, last, n) = state
        .read(move |store| {
            let mut body = String::new();
            let mut last = None;
            let n = store.export(&q, &mut |r| {
                let line = crate::personal::export_line(store, &keys.receipts, &r);
                body.push_str(&line.to_string());
                body.push('\n');
                last = Some(r.seq);
                true
            })?;
            Ok((body, last, n))
        })
        .await?;
    let mut r = ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response();
    if let (Some(last), true) = (last, n == limit)
        && let Ok(v) = HeaderValue::from_str(&last.to_string())
    {
        r.headers_mut().insert("x-next-after", v);
    }
    Ok(r)
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        OPENAPI,
    )
        .into_response()
}

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: `ready` when the database answers and takes writes; otherwise 503 with a JSON error
/// that says why (`storage_unavailable`: writes fail, or free space is below the floor;
/// `shutting_down`).
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let ready = tokio::task::spawn_blocking(move || store.ready()).await;
    let why = match ready {
        Ok(Ok(())) => return "ready".into_response(),
        Ok(Err(StoreError::Closed)) => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ShuttingDown,
                "not ready: the server is shutting down",
            )
            .into_response();
        }
        Ok(Err(StoreError::Unavailable {
            outage: Outage::LowSpace,
            ..
        })) => {
            let health = state.store.health();
            format!(
                "not ready: free space on the database's disk ({} bytes) is below the floor ({} bytes): \
                 writes that add data are refused; reads, exports and rights requests still work",
                health.free_bytes().unwrap_or(0),
                health.min_free_bytes()
            )
        }
        Ok(Err(StoreError::Unavailable { outage, .. })) => {
            format!("not ready: storage unavailable ({outage}): writes fail")
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            "not ready: the database does not answer".to_owned()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            "not ready: the readiness check failed".to_owned()
        }
    };
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StorageUnavailable,
        why,
    )
    .into_response()
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let (now, ms) = state.now();
    let now_ms = now
        .as_unix()
        .saturating_mul(1000)
        .saturating_add(i64::from(ms));
    let body = tokio::task::spawn_blocking(move || {
        let store = state.store.as_ref();
        let mut body = state.metrics.render(store);
        body.push_str(&crate::metrics::render_rights(store, &state.calendar, now));
        match store.delivery_counts(now_ms) {
            Ok(counts) => body.push_str(&crate::webhooks::prometheus(&state.webhooks, &counts)),
            Err(e) => tracing::warn!(error = %e, "metrics: webhook deliveries not counted"),
        }
        body
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
