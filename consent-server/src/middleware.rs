//! What wraps every request: the [`guard`] (rate limit, timeout or 408, security headers, metrics), CORS,
//! and the answer to a panicking handler.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

fn client_ip(config: &Config, req: &Request) -> IpAddr {
    if config.trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            // The last entry is the one our proxy appended; earlier ones come from the client.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// Rate limit, timeout, security headers and metrics, for every request. Handlers may set their own
/// `Content-Security-Policy`, `Referrer-Policy` and `Cache-Control` (the demo site does); the API's
/// handlers do not set the first two.
///
/// A request still running after `request_timeout_secs` is answered 503 `timeout`, or 408
/// `request_timeout` when it is waiting for the client's body (announced, not sent).
pub(crate) async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    // MatchedPath is a shared string: cloning it does not allocate.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("other", |p| p.as_str());
    let limited = !matches!(route, "/healthz" | "/readyz" | "/metrics");
    let mut response = if limited && !state.limiter.allow(client_ip(&state.config, &req)) {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many requests; slow down",
        )
        .into_response();
        // A token comes back within 1/per_second, at most a second.
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    } else {
        let timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
        let body = AwaitedBody::watch(&mut req);
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => {
                state.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
                if body.is_some_and(|waiting| waiting.load(Ordering::Relaxed)) {
                    body_timeout()
                } else {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorCode::Timeout,
                        "the request took too long",
                    )
                    .into_response()
                }
            }
        }
    };
    security_headers(response.headers_mut(), &state.config);
    state
        .metrics
        .request(route, response.status().as_u16(), started.elapsed());
    response
}

/// 408 `request_timeout`, closing the connection: the rest of the body may still come, and it is not read.
fn body_timeout() -> Response {
    let mut r = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        "the request body did not arrive in time",
    )
    .into_response();
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// A request body that says whether its reader is waiting for the client: set while the last poll found
/// no data yet, cleared when data (or the end) comes.
struct AwaitedBody {
    inner: Body,
    waiting: Arc<AtomicBool>,
}

impl AwaitedBody {
    /// Wraps `req`'s body unless it is known to be empty; the flag to read when the request times out.
    fn watch(req: &mut Request) -> Option<Arc<AtomicBool>> {
        if req.body().is_end_stream() {
            return None;
        }
        let waiting = Arc::new(AtomicBool::new(false));
        let inner = std::mem::take(req.body_mut());
        *req.body_mut() = Body::new(AwaitedBody {
            inner,
            waiting: Arc::clone(&waiting),
        });
        Some(waiting)
    }
}

impl HttpBody for AwaitedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        this.waiting.store(polled.is_pending(), Ordering::Relaxed);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The headers every answer gets; `Referrer-Policy`, `Content-Security-Policy` and `Cache-Control` only
/// where the handler set none.
fn security_headers(h: &mut HeaderMap, config: &Config) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if config.issuer.starts_with("https://") {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

/// CORS for the configured origins only: GET and POST, with the headers the banner and services send.
pub(crate) fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-consent-token"),
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("sec-gpc"),
        ])
        .max_age(Duration::from_secs(600))
}

/// The answer to a panicking handler: 500 `internal`, nothing about the panic.
pub(crate) fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        "internal error",
    )
    .into_response()
}
