//! What the server refuses, and that every refusal is our JSON error (`{"error": {"code", "message",
//! "field"}}`), never a framework's plain text: repeated members of the consent request, queries and
//! path parameters that do not parse.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;

fn raw_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn a_purpose_decided_twice_is_refused_and_nothing_is_signed() {
    let s = server("decided-twice").await;
    let head = r#"{"policy_version":"2025-03-26","method":"custom","language":"en","collection_point":{"kind":"banner"}"#;
    for (rest, field, message) in [
        // The last would win in a map: `refused` then `given` would be signed as `given`.
        (
            r#""decisions":{"marketing":"refused","marketing":"given"}"#,
            "decisions.marketing",
            "purpose `marketing` is decided twice",
        ),
        (
            r#""decisions":{"cookies-analytics":"given","cookies-analytics":"given"}"#,
            "decisions.cookies-analytics",
            "purpose `cookies-analytics` is decided twice",
        ),
        (
            r#""decisions":{"marketing":"given"},"language":"en""#,
            "language",
            "duplicate field `language`",
        ),
    ] {
        let body = format!("{head},{rest}}}");
        for token in [None, Some(SERVICE)] {
            let mut req = raw_json("/v1/consents", &body);
            if let Some(t) = token {
                req = with_token(req, t);
            }
            let r = call(&s, req).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(
                r.error(),
                ("invalid_field".into(), Some(field.into())),
                "{body}"
            );
            let got = r.json()["error"]["message"].as_str().unwrap().to_owned();
            assert!(got.starts_with(message), "{got}");
        }
    }
    let export = call(
        &s,
        with_token(get("/v1/export").body(Body::empty()).unwrap(), AUDITOR),
    )
    .await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.body.is_empty(), "nothing was recorded");
}

/// `(status, code, field)` of an answer that must be our JSON error.
fn json_error(r: &Answer) -> (u16, String, Option<String>) {
    let content_type = r.headers["content-type"].to_str().unwrap();
    assert_eq!(content_type, "application/json", "{}", r.text());
    let (code, field) = r.error();
    (r.status.as_u16(), code, field)
}

#[tokio::test]
async fn queries_that_do_not_parse_are_our_json_error() {
    let s = server("bad-queries").await;
    let link = call(
        &s,
        with_token(
            post_json(
                "/v1/unsubscribe-links",
                &serde_json::json!({"subject": "sub:AAECAwQFBgcICQoLDA0ODw"}),
            ),
            SERVICE,
        ),
    )
    .await;
    let url = link.json()["url"].as_str().unwrap().to_owned();
    let t = url.split("t=").nth(1).unwrap().to_owned();
    let form = "List-Unsubscribe=One-Click";
    for (method, uri, token) in [
        ("GET", format!("/v1/unsubscribe?t={t}&t={t}"), None),
        ("POST", format!("/v1/unsubscribe?t={t}&t=x"), None),
        (
            "GET",
            "/v1/export?limit=1&limit=2".to_owned(),
            Some(AUDITOR),
        ),
        ("GET", "/v1/export?limit=many".to_owned(), Some(AUDITOR)),
        ("GET", "/v1/export?from=%FF".to_owned(), Some(AUDITOR)),
    ] {
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        if let Some(token) = token {
            req = with_token(req, token);
        }
        let r = call(&s, req).await;
        assert_eq!(
            json_error(&r),
            (400, "invalid_field".into(), Some("query".into())),
            "{method} {uri}"
        );
    }
    // The link itself still works, once.
    let r = call(
        &s,
        get(&format!("/v1/unsubscribe?t={t}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn path_parameters_that_are_not_utf8_are_our_json_error() {
    let s = server("bad-paths").await;
    for (uri, token, field) in [
        ("/v1/policies/%FF", None, "version"),
        ("/v1/receipts/%C3%28", None, "id"),
        ("/v1/subjects/%FF/history", Some(AUDITOR), "subject"),
        ("/v1/subjects/dev:%E2%82/state", Some(SERVICE), "subject"),
        ("/v1/subjects/%FF/export", Some(OPERATOR), "subject"),
    ] {
        let mut req = get(uri).body(Body::empty()).unwrap();
        if let Some(token) = token {
            req = with_token(req, token);
        }
        let r = call(&s, req).await;
        assert_eq!(
            json_error(&r),
            (400, "invalid_field".into(), Some(field.into())),
            "{uri}"
        );
    }
    for action in ["withdraw", "restrict", "unblock", "erase"] {
        let uri = format!("/v1/subjects/%FF/{action}");
        let req = with_token(Request::post(&uri).body(Body::empty()).unwrap(), OPERATOR);
        let r = call(&s, req).await;
        assert_eq!(
            json_error(&r),
            (400, "invalid_field".into(), Some("subject".into())),
            "{uri}"
        );
    }
}
