//! Extractors of our own: each turns every rejection into our 4xx [`ApiError`], so handlers receive
//! parsed values or never run.
//!
//! - [`ApiJson<T>`]: a JSON object body (`Content-Type: application/json`, at most [`MAX_BODY`] bytes),
//!   parsed with the path of the field at fault; `Option<ApiJson<T>>` also accepts an empty body.
//! - [`JsonBody`]: the bytes of a body with the same media type and size checks, for a reader of its
//!   own (the consent request, which consent-core reads and checks in one walk).
//! - [`RawBody`]: the body's bytes, at most [`MAX_BODY`].
//! - [`ApiQuery<T>`]: a query string, 400 `invalid_field` (`query`) when it does not fit `T`.
//! - [`ApiPath<T>`]: a path parameter parsed into `T` ([`PathParam`]), 400 `invalid_field` naming it
//!   (also when it is not UTF-8 once percent-decoded).

use axum::body::{Body, Bytes};
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use consent_core::{Lang, PolicyVersion, ReceiptId};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};
use crate::privacy::SubjectRef;

/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// A JSON object body, parsed into `T`.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBody(bytes) = JsonBody::from_request(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The bytes of a body sent as `Content-Type: application/json` (415 `unsupported_media_type` else),
/// at most [`MAX_BODY`] (413 `body_too_large` beyond), not yet parsed: for a body whose reader is not
/// serde's derive (the consent request's is consent-core's).
#[derive(Debug)]
pub(crate) struct JsonBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        require_json(req.headers())?;
        read(req.into_body()).await.map(JsonBody)
    }
}

/// An empty body is `None` (whatever its `Content-Type`); any other must be a JSON object.
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Option<Self>, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = read(body).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        require_json(&parts.headers)?;
        parse_json(&bytes).map(|v| Some(ApiJson(v)))
    }
}

/// The body's bytes, at most [`MAX_BODY`] (413 `body_too_large` beyond).
#[derive(Debug)]
pub(crate) struct RawBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        read(req.into_body()).await.map(RawBody)
    }
}

/// A query string parsed into `T`.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::bad_param("query", e.body_text()))
    }
}

/// A value of one path parameter.
pub(crate) trait PathParam: Sized + Send {
    /// The parameter's name, as `field` of the error.
    const NAME: &'static str;
    /// Parses it; the error is the message.
    fn parse(s: &str) -> Result<Self, String>;
}

impl PathParam for SubjectRef {
    const NAME: &'static str = "subject";
    fn parse(s: &str) -> Result<Self, String> {
        s.parse()
    }
}

impl PathParam for ReceiptId {
    const NAME: &'static str = "id";
    fn parse(s: &str) -> Result<Self, String> {
        s.parse().map_err(|_| "expected a receipt id (UUID)".into())
    }
}

impl PathParam for crate::store::LogIndex {
    const NAME: &'static str = "index";
    fn parse(s: &str) -> Result<Self, String> {
        s.parse()
            .map(crate::store::LogIndex)
            .map_err(|_| "expected a log index (0, 1, 2…)".into())
    }
}

impl PathParam for Lang {
    const NAME: &'static str = "lang";
    fn parse(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|_| "expected a language code such as kk (2 or 3 lowercase letters)".into())
    }
}

impl PathParam for PolicyVersion {
    const NAME: &'static str = "version";
    fn parse(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|_| "expected a version such as 2025-03-26".into())
    }
}

impl PathParam for crate::store::CaseId {
    const NAME: &'static str = "id";
    fn parse(s: &str) -> Result<Self, String> {
        s.parse()
            .ok()
            .filter(|n| *n > 0 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0'))
            .map(crate::store::CaseId)
            .ok_or_else(|| "expected a case number (1, 2, 3…)".into())
    }
}

/// The route's one path parameter, parsed into `T`.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: PathParam, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    /// A value that does not parse, or is not UTF-8 once percent-decoded, is our 400 naming the
    /// parameter.
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| match e {
                PathRejection::FailedToDeserializePathParams(e) => {
                    let message = match e.kind() {
                        ErrorKind::InvalidUtf8InPathParam { .. } => {
                            "not UTF-8 once percent-decoded".to_owned()
                        }
                        _ => e.body_text(),
                    };
                    ApiError::bad_param(T::NAME, message)
                }
                // Only a route without the parameter: a mistake of ours, never the client's.
                other => ApiError::internal(other.body_text()),
            })?;
        T::parse(&raw)
            .map(ApiPath)
            .map_err(|e| ApiError::bad_param(T::NAME, e))
    }
}

/// Requires `Content-Type: application/json` (which also keeps cross-site "simple" form posts out).
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
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
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        )
        .at("content-type"))
    }
}

/// Reads the body with the size limit.
async fn read(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTooLarge,
            format!("the request body is over {MAX_BODY} bytes"),
        )
    })
}

/// Parses a JSON object; errors name the field at fault (consent-core's reader, the same for every
/// body: `malformed_json` is a 400, a wrong or missing field a 422).
fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    consent_core::read_json_object(body).map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body2 {
        a: u8,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        b: u8,
    }

    fn post(content_type: Option<&str>, body: impl Into<Body>) -> Request {
        let mut r = Request::post("/");
        if let Some(t) = content_type {
            r = r.header(header::CONTENT_TYPE, t);
        }
        r.body(body.into()).unwrap()
    }

    async fn json(r: Request) -> Result<Body2, ApiError> {
        <ApiJson<Body2> as FromRequest<()>>::from_request(r, &())
            .await
            .map(|ApiJson(b)| b)
    }

    fn code(e: ApiError) -> (u16, &'static str, Option<String>) {
        (e.status.as_u16(), e.code.as_str(), e.field)
    }

    #[tokio::test]
    async fn every_body_rejection_is_ours() {
        let j = Some("application/json; charset=utf-8");
        assert_eq!(json(post(j, r#" {"a": 1}"#)).await.unwrap().a, 1);
        let cases = [
            (
                Some("text/plain"),
                r#"{"a":1}"#.to_owned(),
                (415, "unsupported_media_type", Some("content-type")),
            ),
            (
                None,
                r#"{"a":1}"#.to_owned(),
                (415, "unsupported_media_type", Some("content-type")),
            ),
            (
                j,
                format!(r#"{{"a":1,"x":"{}"}}"#, "y".repeat(MAX_BODY)),
                (413, "body_too_large", None),
            ),
            (j, String::new(), (400, "malformed_json", None)),
            (j, r#"{"a":1} {}"#.to_owned(), (400, "malformed_json", None)),
            (j, "[1]".to_owned(), (422, "invalid_field", None)),
            (
                j,
                r#"{"a":1,"inner":{}}"#.to_owned(),
                (422, "invalid_field", Some("inner.b")),
            ),
            (
                j,
                r#"{"a":"one"}"#.to_owned(),
                (422, "invalid_field", Some("a")),
            ),
        ];
        for (t, body, (status, c, field)) in cases {
            let got = code(json(post(t, body.clone())).await.unwrap_err());
            assert_eq!(got, (status, c, field.map(str::to_owned)), "{body:.40}");
        }
    }

    #[tokio::test]
    async fn a_json_body_is_checked_for_type_and_size_and_left_unparsed() {
        let body = |r| <JsonBody as FromRequest<()>>::from_request(r, &());
        let JsonBody(bytes) = body(post(Some("application/json"), "{not parsed"))
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"{not parsed");
        let e = body(post(Some("text/plain"), "{}")).await.unwrap_err();
        assert_eq!(
            code(e),
            (415, "unsupported_media_type", Some("content-type".into()))
        );
        let e = body(post(Some("application/json"), "x".repeat(MAX_BODY + 1)))
            .await
            .unwrap_err();
        assert_eq!(code(e), (413, "body_too_large", None));
    }

    #[tokio::test]
    async fn an_optional_body_may_be_empty_without_a_type() {
        let opt = |r| <ApiJson<Body2> as OptionalFromRequest<()>>::from_request(r, &());
        assert!(opt(post(None, "")).await.unwrap().is_none());
        let e = opt(post(None, r#"{"a":1}"#)).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedMediaType);
        let b = opt(post(Some("application/json"), r#"{"a":2}"#))
            .await
            .unwrap();
        assert_eq!(b.unwrap().0.a, 2);
    }
}
