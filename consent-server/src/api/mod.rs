//! The HTTP API, v1. [`app`] builds the router; it is tested with `tower::ServiceExt::oneshot` and on
//! real sockets.

mod consents;
mod error;
mod ops;
mod public;
mod subjects;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use consent_core::{Policy, PolicyVersion, Timestamp};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq as _;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use error::ApiError;
pub use subjects::{find_subject, staff_rights, staff_withdraw};

use crate::config::{Config, Role, StaffToken};
use crate::encoding::{self, Encoded};
use crate::keys::ServerKeys;
use crate::store::Store;

/// Largest request body accepted.
pub const MAX_BODY: usize = 16 * 1024;

/// The time source: the server's clock in production, a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> (Timestamp, u32) + Send + Sync>;

/// The system clock: seconds and milliseconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (
            Timestamp::from_unix(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            d.subsec_millis(),
        )
    })
}

/// Counters for `/metrics`.
#[derive(Default, Debug)]
pub struct Metrics {
    /// Requests by route, then status. Routes are few: a lookup by `&str` allocates only once per route.
    requests: Mutex<HashMap<String, BTreeMap<u16, u64>>>,
    /// Receipts signed and committed.
    pub receipts: AtomicU64,
    /// Requests refused by the rate limiter.
    pub rate_limited: AtomicU64,
    /// Requests that timed out.
    pub timeouts: AtomicU64,
    /// Sum of request durations in microseconds, and count, for the mean.
    latency_micros: AtomicU64,
    latency_count: AtomicU64,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// Where receipts go.
    pub store: Arc<dyn Store>,
    /// The current policy.
    pub policy: Arc<Policy>,
    /// Every policy version served, including the current one.
    pub policies: Arc<BTreeMap<PolicyVersion, Arc<Policy>>>,
    /// Keys.
    pub keys: Arc<ServerKeys>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Time source.
    pub clock: Clock,
    limiter: Arc<Mutex<HashMap<IpAddr, (f64, Instant)>>>,
    /// Compressed bodies kept by key (`policy/2025-03-26`, `consent/banner.js`), with the entity tag of
    /// what they were made from: a new tag replaces the entry.
    pub(crate) encoded: Arc<encoding::Cache>,
}

impl AppState {
    /// State for `policy` (current) and `previous` versions.
    pub fn new(
        store: Arc<dyn Store>,
        policy: Policy,
        previous: Vec<Policy>,
        keys: ServerKeys,
        config: Config,
        clock: Clock,
    ) -> AppState {
        let policy = Arc::new(policy);
        let mut policies: BTreeMap<PolicyVersion, Arc<Policy>> = previous
            .into_iter()
            .map(|p| (p.version(), Arc::new(p)))
            .collect();
        policies.insert(policy.version(), Arc::clone(&policy));
        AppState {
            store,
            policy,
            policies: Arc::new(policies),
            keys: Arc::new(keys),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            clock,
            limiter: Arc::new(Mutex::new(HashMap::new())),
            encoded: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The canonical JSON of `policy` with its compressed forms (made once per version), and its entity
    /// tag (the policy's hash).
    pub(crate) async fn policy_body(
        &self,
        policy: &Arc<Policy>,
    ) -> Result<(Arc<Encoded>, String), ApiError> {
        let etag = format!("\"{}\"", policy.hash());
        let json = Arc::clone(policy);
        let body = self
            .encoded(format!("policy/{}", policy.version()), &etag, move || {
                Ok(json.canonical_json().into_bytes())
            })
            .await
            .map_err(ApiError::internal)?;
        Ok((body, etag))
    }

    /// Compresses the current policy's JSON now rather than on its first request (brotli at quality 11
    /// takes a few hundred milliseconds on a small machine): `serve` does it as it starts.
    pub async fn prepare(&self) {
        let _ = self.policy_body(&self.policy).await;
    }

    /// The compressed forms of the body that `key` names and `etag` tags, made by `body` (read and
    /// compressed on a blocking thread) the first time, then kept.
    pub(crate) async fn encoded(
        &self,
        key: String,
        etag: &str,
        body: impl FnOnce() -> std::io::Result<Vec<u8>> + Send + 'static,
    ) -> std::io::Result<Arc<Encoded>> {
        if let Some(e) = encoding::cached(&self.encoded, &key, etag) {
            return Ok(e);
        }
        let e = Arc::new(
            tokio::task::spawn_blocking(move || body().map(Encoded::new))
                .await
                .map_err(std::io::Error::other)??,
        );
        encoding::keep(&self.encoded, key, etag, &e);
        Ok(e)
    }

    pub(crate) fn now(&self) -> (Timestamp, u32) {
        (self.clock)()
    }

    /// The role of the request's bearer token, if it has a valid one.
    pub(crate) fn role(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(Role, &StaffToken)>, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.get(..7)
                    .filter(|p| p.eq_ignore_ascii_case("bearer "))
                    .and_then(|_| v.get(7..))
            })
            .ok_or_else(ApiError::unauthorized)?;
        let hash = crate::privacy::token_hash(token.trim());
        // Compare with every configured hash in constant time, without stopping early.
        let mut found = None;
        for t in &self.config.tokens {
            if bool::from(t.sha256.as_bytes().ct_eq(hash.as_bytes())) {
                found = Some((t.role, t));
            }
        }
        found.map(Some).ok_or_else(ApiError::unauthorized)
    }

    /// Requires one of `roles`.
    pub(crate) fn require(
        &self,
        headers: &HeaderMap,
        roles: &[Role],
        what: &str,
    ) -> Result<&StaffToken, ApiError> {
        match self.role(headers)? {
            Some((role, t)) if roles.contains(&role) => Ok(t),
            Some(_) => Err(ApiError::forbidden(what)),
            None => Err(ApiError::unauthorized()),
        }
    }

    fn allow(&self, ip: IpAddr) -> bool {
        let rl = self.config.rate_limit;
        let Ok(mut buckets) = self.limiter.lock() else {
            return true;
        };
        let now = Instant::now();
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(ip).or_insert((f64::from(rl.burst), now));
        let refill = now.duration_since(*last).as_secs_f64() * f64::from(rl.per_second);
        *tokens = (*tokens + refill).min(f64::from(rl.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes; errors name the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let malformed = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", m);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "the body must be a JSON object",
            ));
        }
        None => {
            return Err(malformed(
                "the body is empty; expected a JSON object".into(),
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return malformed(message);
        }
        // "missing field `x`" names the field only in the message: put it in `field` too.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(|name| {
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            });
        let field = missing.or_else(|| (path != ".").then_some(path));
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            message,
            field,
        }
    })?;
    de.end().map_err(|e| malformed(e.to_string()))?;
    Ok(value)
}

/// Requires `Content-Type: application/json` (which also keeps cross-site "simple" form posts out).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        )
        .at("content-type"))
    }
}

/// Reads the body with the size limit.
pub(crate) async fn body_bytes(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is over {MAX_BODY} bytes"),
        )
    })
}

fn client_ip(state: &AppState, req: &Request) -> IpAddr {
    if state.config.trust_forwarded_for
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
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // MatchedPath is a shared string: cloning it does not allocate.
    let matched = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let route = matched.as_ref().map_or("other", |p| p.as_str());
    let limited = !matches!(route, "/healthz" | "/readyz" | "/metrics");
    let mut response = if limited && !state.allow(client_ip(&state, &req)) {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; slow down",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    } else {
        let timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => {
                state.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    "the request took too long",
                )
                .into_response()
            }
        }
    };
    let h = response.headers_mut();
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
    if state.config.issuer.starts_with("https://") {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let status = response.status().as_u16();
    if let Ok(mut m) = state.metrics.requests.lock() {
        let by_status = match m.get_mut(route) {
            Some(b) => b,
            None => m.entry(route.to_owned()).or_default(),
        };
        *by_status.entry(status).or_insert(0) += 1;
    }
    state.metrics.latency_micros.fetch_add(
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    state.metrics.latency_count.fetch_add(1, Ordering::Relaxed);
    response
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method; see /openapi.json",
    )
}

async fn fallback() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /openapi.json",
    )
}

/// The router with every endpoint and middleware.
pub fn app(state: AppState) -> Router {
    let origins: Vec<HeaderValue> = state
        .config
        .cors_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-consent-token"),
            header::HeaderName::from_static("sec-gpc"),
        ])
        .max_age(Duration::from_secs(600));
    let mut router = Router::new()
        .route("/v1/policy", get(public::current_policy))
        .route("/v1/policies/{version}", get(public::policy_version))
        .route("/v1/consents", post(consents::record))
        .route("/v1/receipts/{id}", get(public::receipt))
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
        // The demo site at `/` (unless `site` is off) and the banner files at `/consent/`; not API
        // endpoints, so not in the OpenAPI document. Unknown paths still get the JSON 404 below.
        .merge(crate::site::routes(&state.config));
    router = router
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed);
    router
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(cors)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
            .into_response()
        }))
        .with_state(state)
}

/// Whether the request carries Global Privacy Control: any `Sec-GPC` header equal to exactly `1`.
pub(crate) fn gpc(headers: &HeaderMap) -> bool {
    headers
        .get_all("sec-gpc")
        .iter()
        .any(|v| v.as_bytes() == b"1")
}

pub(crate) use metrics_text::render as render_metrics;

mod metrics_text {
    use super::*;

    /// Prometheus text format.
    pub(crate) fn render(state: &AppState) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let m = &state.metrics;
        out.push_str("# HELP consent_http_requests_total HTTP requests by route and status.\n# TYPE consent_http_requests_total counter\n");
        if let Ok(reqs) = m.requests.lock() {
            let mut routes: Vec<_> = reqs.iter().collect();
            routes.sort();
            for (route, status, n) in routes
                .into_iter()
                .flat_map(|(r, b)| b.iter().map(move |(s, n)| (r, s, n)))
            {
                let _ = writeln!(
                    out,
                    "consent_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let count = m.latency_count.load(Ordering::Relaxed);
        let sum = m.latency_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "# HELP consent_http_request_duration_seconds Request durations.\n# TYPE consent_http_request_duration_seconds summary"
        );
        let _ = writeln!(
            out,
            "consent_http_request_duration_seconds_sum {sum}\nconsent_http_request_duration_seconds_count {count}"
        );
        for (name, kind, help, value) in [
            (
                "consent_receipts_recorded_total",
                "counter",
                "Receipts signed and committed.",
                m.receipts.load(Ordering::Relaxed),
            ),
            (
                "consent_rate_limited_total",
                "counter",
                "Requests refused by the rate limiter.",
                m.rate_limited.load(Ordering::Relaxed),
            ),
            (
                "consent_timeouts_total",
                "counter",
                "Requests that timed out.",
                m.timeouts.load(Ordering::Relaxed),
            ),
        ]
        .into_iter()
        .chain(state.store.receipt_count().ok().map(|n| {
            (
                "consent_receipts_stored",
                "gauge",
                "Receipts in the database.",
                n,
            )
        })) {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out.push_str(&state.store.metrics());
        out
    }
}
