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
