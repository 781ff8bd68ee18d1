//! Error answers: every client error is a 4xx with `{"error": {"code", "message", "field"}}`; server errors
//! say nothing internal (details go to the log).
//!
//! ```
//! use axum::http::StatusCode;
//! use consent_server::error::{ApiError, ErrorCode};
//!
//! let e = ApiError::field(ErrorCode::UnknownPurpose, "decisions.nope", "no purpose `nope`");
//! assert_eq!((e.status, e.code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_purpose"));
//! ```

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use consent_core::{RequestError, RequestErrorCode};

use crate::store::{Outage, StoreError};

/// The stable, machine-readable `code` of an error answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body is not JSON, or not one JSON value (400).
    MalformedJson,
    /// A field, path or query parameter is missing or wrong (400 or 422).
    InvalidField,
    /// A decision names a purpose the policy does not have (422).
    UnknownPurpose,
    /// A decision names a purpose that needs no consent (422).
    ConsentNotRequired,
    /// The method contradicts the decisions, or the GPC signal (422).
    InconsistentMethod,
    /// A policy version this server never served (422).
    UnknownPolicyVersion,
    /// A policy version that is no longer the current one (409).
    PolicyOutdated,
    /// No valid bearer token (401).
    Unauthorized,
    /// A consent token or unsubscribe link that does not verify (401 or 403).
    InvalidToken,
    /// The token's role may not do this (403).
    Forbidden,
    /// A decision names a purpose that the request's collection point does not ask for (the policy's
    /// `collection_points`): the banner asks for cookie purposes only (422).
    OutsideCollectionPoint,
    /// An `Idempotency-Key` already used with another request body (422): a new choice needs a new key.
    IdempotencyKeyReused,
    /// The request names a device that already has receipts, without that device's consent token in
    /// `X-Consent-Token` (403): a device's choice is changed only by that device.
    DeviceTokenRequired,
    /// The `X-Consent-Token` sent with a request naming a device does not verify, or is not that
    /// device's (another device's, or a person's) (403).
    DeviceTokenMismatch,
    /// No such resource or endpoint (404).
    NotFound,
    /// The receipt was redacted when its subject was erased: a version 1 receipt that named a person
    /// in clear (410).
    ReceiptErased,
    /// The endpoint exists but not with this HTTP method (405).
    MethodNotAllowed,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// The body is over the size limit (413).
    BodyTooLarge,
    /// The announced body did not arrive within the request timeout (408).
    RequestTimeout,
    /// Too many requests from this client (429).
    RateLimited,
    /// The request took too long (503).
    Timeout,
    /// The write queue is full (503).
    Busy,
    /// The server is stopping (503).
    ShuttingDown,
    /// The storage cannot take this now: a full disk, an I/O error, a read-only file system, a lock held
    /// too long, or free space below the floor (503, with `Retry-After`).
    StorageUnavailable,
    /// Anything else that went wrong on our side (500).
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::MalformedJson,
        ErrorCode::InvalidField,
        ErrorCode::UnknownPurpose,
        ErrorCode::ConsentNotRequired,
        ErrorCode::InconsistentMethod,
        ErrorCode::UnknownPolicyVersion,
        ErrorCode::PolicyOutdated,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidToken,
        ErrorCode::Forbidden,
        ErrorCode::OutsideCollectionPoint,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::DeviceTokenRequired,
        ErrorCode::DeviceTokenMismatch,
        ErrorCode::NotFound,
        ErrorCode::ReceiptErased,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::BodyTooLarge,
        ErrorCode::RequestTimeout,
        ErrorCode::RateLimited,
        ErrorCode::Timeout,
        ErrorCode::Busy,
        ErrorCode::ShuttingDown,
        ErrorCode::StorageUnavailable,
        ErrorCode::Internal,
    ];

    /// The code as sent, e.g. `"invalid_field"`.
    ///
    /// ```
    /// assert_eq!(consent_server::error::ErrorCode::BodyTooLarge.as_str(), "body_too_large");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnknownPurpose => "unknown_purpose",
            ErrorCode::ConsentNotRequired => "consent_not_required",
            ErrorCode::InconsistentMethod => "inconsistent_method",
            ErrorCode::UnknownPolicyVersion => "unknown_policy_version",
            ErrorCode::PolicyOutdated => "policy_outdated",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::OutsideCollectionPoint => "outside_collection_point",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::DeviceTokenRequired => "device_token_required",
            ErrorCode::DeviceTokenMismatch => "device_token_mismatch",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ReceiptErased => "receipt_erased",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Busy => "busy",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl ErrorCode {
    /// The status and code of a consent request's error: 400 for malformed JSON, 409 for an outdated
    /// policy (the client fetches the new one and asks again), 403 for what the caller may not record,
    /// 422 for everything else; each of the contract's codes is one of ours, under the same name.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use consent_core::RequestErrorCode;
    /// use consent_server::error::ErrorCode;
    /// assert_eq!(
    ///     ErrorCode::of_request(RequestErrorCode::PolicyOutdated),
    ///     (StatusCode::CONFLICT, ErrorCode::PolicyOutdated)
    /// );
    /// ```
    pub fn of_request(code: RequestErrorCode) -> (StatusCode, ErrorCode) {
        use RequestErrorCode as R;
        let unprocessable = |c| (StatusCode::UNPROCESSABLE_ENTITY, c);
        match code {
            R::MalformedJson => (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson),
            R::PolicyOutdated => (StatusCode::CONFLICT, ErrorCode::PolicyOutdated),
            R::Forbidden => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            R::InvalidField => unprocessable(ErrorCode::InvalidField),
            R::UnknownPurpose => unprocessable(ErrorCode::UnknownPurpose),
            R::ConsentNotRequired => unprocessable(ErrorCode::ConsentNotRequired),
            R::InconsistentMethod => unprocessable(ErrorCode::InconsistentMethod),
            R::UnknownPolicyVersion => unprocessable(ErrorCode::UnknownPolicyVersion),
            R::OutsideCollectionPoint => unprocessable(ErrorCode::OutsideCollectionPoint),
            // A code consent-core adds later (the enum is non-exhaustive): the client's problem all
            // the same; the test below fails until it has a code of its own here.
            _ => unprocessable(ErrorCode::InvalidField),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// What is wrong, for people.
    pub message: String,
    /// The request field at fault, e.g. `decisions.marketing`.
    pub field: Option<String>,
    /// For `policy_outdated`: the current policy version, sent as `error.policy_version` (the banner
    /// fetches it, immutable, and asks again at once).
    pub policy_version: Option<consent_core::PolicyVersion>,
}

impl ApiError {
    /// A 4xx (or other) error.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            policy_version: None,
        }
    }

    /// 422 for a field.
    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).at(field)
    }

    /// 400 `invalid_field` for a path or query parameter (`field` is its name).
    pub fn bad_param(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, message).at(field)
    }

    /// Sets the field.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 500: logs `detail`, tells the client nothing about it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error",
        )
    }

    /// 401.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "a valid bearer token is required",
        )
    }

    /// 403.
    pub fn forbidden(what: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("this token may not {what}"),
        )
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => {
                tracing::warn!("write queue full: shedding load");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Busy,
                    "the server is busy; retry shortly",
                )
            }
            StoreError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ShuttingDown,
                "the server is shutting down; retry shortly",
            ),
            // Logged by the store, once per interval: not here, once per request.
            StoreError::Unavailable {
                outage: Outage::LowSpace,
                ..
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageUnavailable,
                "the server's disk is nearly full: new records are refused for now; retry later",
            ),
            StoreError::Unavailable { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageUnavailable,
                "storage is unavailable; retry later",
            ),
            StoreError::NoOpenCase(id) => ApiError::not_found(&format!("open case {id}")),
            other => ApiError::internal(other),
        }
    }
}

/// `Retry-After` of a `storage_unavailable` answer, in seconds: the writer probes the storage every
/// second while it fails, and free space is measured every second.
pub const STORAGE_RETRY_AFTER_SECS: u32 = 10;

/// A consent request refused by its checks (consent-core's contract): the same code, field and
/// message, with the status of [`ErrorCode::of_request`].
impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let (status, code) = ErrorCode::of_request(e.code);
        ApiError {
            status,
            code,
            message: e.message,
            field: e.field,
            policy_version: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "error": { "code": self.code.as_str(), "message": self.message, "field": self.field }
        });
        if let Some(v) = self.policy_version {
            body["error"]["policy_version"] = v.to_string().into();
        }
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED && self.code == ErrorCode::Unauthorized {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.code == ErrorCode::StorageUnavailable {
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(STORAGE_RETRY_AFTER_SECS),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert!(seen.insert(s), "{s} twice");
        }
    }

    #[test]
    fn every_code_of_the_consent_request_is_ours_with_its_status() {
        for code in RequestErrorCode::ALL {
            let (status, ours) = ErrorCode::of_request(*code);
            assert_eq!(ours.as_str(), code.as_str());
            let expected = match code {
                RequestErrorCode::MalformedJson => 400,
                RequestErrorCode::PolicyOutdated => 409,
                RequestErrorCode::Forbidden => 403,
                _ => 422,
            };
            assert_eq!(status.as_u16(), expected, "{code}");
        }
    }

    #[test]
    fn storage_outages_are_503_with_retry_after_and_nothing_internal() {
        for (outage, nearly_full) in [
            (Outage::DiskFull, false),
            (Outage::Io, false),
            (Outage::ReadOnly, false),
            (Outage::Locked, false),
            (Outage::LowSpace, true),
        ] {
            let e = ApiError::from(StoreError::Unavailable {
                outage,
                source: Some("disk I/O error at /srv/kz-data/consent/consent.db-wal".into()),
            });
            assert_eq!(
                (e.status, e.code),
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StorageUnavailable
                )
            );
            assert!(!e.message.contains("/srv"), "{}", e.message);
            assert_eq!(
                e.message.contains("nearly full"),
                nearly_full,
                "{}",
                e.message
            );
            let r = e.into_response();
            assert_eq!(r.headers()[header::RETRY_AFTER], "10");
        }
        // Any other failure of the engine stays a 500 that says nothing.
        let e = ApiError::from(StoreError::Backend("constraint failed: receipts.id".into()));
        assert_eq!(
            (e.status, e.message.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        );
        assert!(
            e.into_response()
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let r = ApiError::unauthorized().into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let r =
            ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken, "x").into_response();
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
