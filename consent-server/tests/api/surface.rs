//! The HTTP surface: well-known documents and headers, rate limits, CORS, the OpenAPI document, request hygiene, bearer tokens, a proxy's address, a body that never arrives.

use super::*;

#[tokio::test]
async fn well_known_ops_and_security_headers() {
    let s = server("ops").await;
    let r = call(
        &s,
        get("/.well-known/gpc.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.json(), json!({"gpc": true, "lastUpdate": "2025-03-26"}));
    let r = call(
        &s,
        get("/.well-known/jwks.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.json()["keys"][0]["kty"], "OKP");
    let r = call(&s, get("/openapi.json").body(Body::empty()).unwrap()).await;
    assert!(r.json()["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        call(&s, get("/healthz").body(Body::empty()).unwrap())
            .await
            .text(),
        "ok"
    );
    assert_eq!(
        call(&s, get("/readyz").body(Body::empty()).unwrap())
            .await
            .status,
        StatusCode::OK
    );
    call(
        &s,
        post_json(
            "/v1/consents",
            &consent_body(json!({"cookies-analytics": "given"})),
        ),
    )
    .await;
    let m = call(&s, get("/metrics").body(Body::empty()).unwrap())
        .await
        .text();
    assert!(m.contains("consent_receipts_recorded_total 1"), "{m}");
    assert!(
        m.contains("consent_http_requests_total{route=\"/v1/consents\",status=\"201\"} 1"),
        "{m}"
    );
    let r = call(&s, get("/nowhere").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    for h in [
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "content-security-policy",
        "cache-control",
    ] {
        assert!(r.headers.contains_key(h), "{h}");
    }
    let r = call(
        &s,
        Request::delete("/v1/consents").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn rate_limit_per_client() {
    let s = server_with("rate", |c| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            call(&s, get("/v1/policy").body(Body::empty()).unwrap())
                .await
                .status,
        );
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    let r = call(&s, get("/v1/policy").body(Body::empty()).unwrap()).await;
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.error().0, "rate_limited");
    // Health checks are not limited.
    assert_eq!(
        call(&s, get("/healthz").body(Body::empty()).unwrap())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let s = server_with("cors", |c| {
        c.cors_origins = vec!["https://invisionu.education".into()]
    })
    .await;
    let pre = |origin: &str| {
        Request::options("/v1/consents")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let r = call(&s, pre("https://invisionu.education")).await;
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://invisionu.education"
    );
    let r = call(&s, pre("https://evil.example")).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

/// Every route of the router is in the OpenAPI document, and every operation there is served.
#[tokio::test]
async fn openapi_documents_every_route_and_only_those() {
    let s = server("openapi").await;
    let doc = call(&s, get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .json();
    let paths = doc["paths"].as_object().expect("paths");
    let served = [
        ("get", "/v1/policy"),
        ("get", "/v1/policy/banner/{lang}"),
        ("get", "/v1/policies/{version}"),
        ("post", "/v1/consents"),
        ("get", "/v1/receipts/{id}"),
        ("get", "/v1/receipts/{id}/proof"),
        ("get", "/v1/log/entries/{index}/proof"),
        ("get", "/log/checkpoint"),
        ("get", "/log/key"),
        ("get", "/log/tile/{path}"),
        ("post", "/log/cosignature"),
        ("post", "/v1/subjects/lookup"),
        ("get", "/v1/subjects/{subject}/history"),
        ("get", "/v1/subjects/{subject}/state"),
        ("get", "/v1/subjects/{subject}/export"),
        ("post", "/v1/subjects/{subject}/withdraw"),
        ("post", "/v1/subjects/{subject}/restrict"),
        ("post", "/v1/subjects/{subject}/unblock"),
        ("post", "/v1/subjects/{subject}/erase"),
        ("post", "/v1/subjects/{subject}/access"),
        ("get", "/v1/cases"),
        ("post", "/v1/cases/{id}/close"),
        ("get", "/v1/unsubscribe"),
        ("post", "/v1/unsubscribe"),
        ("post", "/v1/unsubscribe-links"),
        ("get", "/v1/export"),
        ("get", "/.well-known/jwks.json"),
        ("get", "/.well-known/gpc.json"),
        ("get", "/openapi.json"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    ];
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.push((method.to_owned(), path.clone()));
            }
        }
    }
    for (m, p) in &served {
        assert!(
            documented.contains(&((*m).to_owned(), (*p).to_owned())),
            "{m} {p} is served but not documented"
        );
    }
    // Excluded from the comparison: the demo site and the banner files are static files served beside
    // the API (consent_server::site), not API operations. They are never documented, and never collide
    // with an API path.
    let static_files: Vec<String> = consent_server::site::SITE
        .iter()
        .map(|f| f.path.to_owned())
        .chain(
            consent_server::site::BANNER_FILES
                .iter()
                .map(|(name, _)| format!("/consent/{name}")),
        )
        .collect();
    for p in &static_files {
        assert!(
            !paths.contains_key(p) && !served.iter().any(|(_, s)| s == p),
            "{p} is a static file, not an API endpoint"
        );
        assert!(
            !p.starts_with("/v1/") && !p.starts_with("/.well-known/"),
            "{p}"
        );
    }
    for (m, p) in &documented {
        assert!(
            served.contains(&(m.as_str(), p.as_str())),
            "{m} {p} is documented but not served"
        );
        // And the router really answers it (not the 404 fallback, not 405).
        let uri = p
            .replace("{version}", "2025-03-26")
            .replace("{id}", "00000000-0000-7000-8000-000000000000")
            .replace("{index}", "0")
            .replace("{subject}", "dev:AAAAAAAAAAAAAAAAAAAAAA");
        let req = Request::builder()
            .method(m.to_uppercase().as_str())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let r = call(&s, req).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m} {p}");
        if r.status == StatusCode::NOT_FOUND {
            assert_ne!(
                r.json()["error"]["message"],
                "no such endpoint; see /openapi.json",
                "{m} {p}"
            );
        }
    }
}

#[tokio::test]
async fn request_hygiene_media_type_fields_and_methods() {
    let s = server("hygiene").await;
    let good = consent_body(json!({"cookies-analytics": "given"}));
    // Not JSON: 415 (this also keeps cross-site form posts out).
    let r = call(
        &s,
        Request::post("/v1/consents")
            .header("content-type", "text/plain")
            .body(Body::from(good.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    // A missing field is named in `field`; an array is not an object.
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("language");
    let r = call(&s, post_json("/v1/consents", &missing)).await;
    assert_eq!(r.error(), ("invalid_field".into(), Some("language".into())));
    let r = call(
        &s,
        post_json(
            "/v1/consents",
            &json!(["2025-03-26", {}, "custom", "kk", {"kind": "banner"}]),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    // The `gpc` method needs the signal.
    let mut gpc = good.clone();
    gpc["method"] = json!("gpc");
    let r = call(&s, post_json("/v1/consents", &gpc)).await;
    assert_eq!(
        r.error(),
        ("inconsistent_method".into(), Some("method".into()))
    );
    // Wrong methods get JSON too.
    let r = call(
        &s,
        Request::delete("/v1/consents").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    // Export checks the token before the query, and query errors are JSON.
    let r = call(&s, get("/v1/export?bogus=1").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = call(
        &s,
        with_token(
            get("/v1/export?limit=many").body(Body::empty()).unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.error(), ("invalid_field".into(), Some("query".into())));
    assert_eq!(receipts_stored(&s).await, 0, "no partial writes");
}

#[tokio::test]
async fn bearer_scheme_roles_and_unknown_subjects() {
    let s = server("bearer").await;
    let j = call(
        &s,
        post_json(
            "/v1/consents",
            &consent_body(json!({"cookies-analytics": "given"})),
        ),
    )
    .await
    .json();
    let uri = format!("/v1/receipts/{}", j["receipt_id"].as_str().unwrap());
    let r = call(
        &s,
        get(&uri)
            .header("authorization", format!("bearer {AUDITOR}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "the scheme is case-insensitive");
    let r = call(
        &s,
        with_token(get(&uri).body(Body::empty()).unwrap(), SERVICE),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "services do not read receipts"
    );
    // Rights requests are for subjects the server knows.
    let unknown = "/v1/subjects/sub:AAAAAAAAAAAAAAAAAAAAAA/restrict";
    let r = call(
        &s,
        with_token(
            Request::post(unknown).body(Body::empty()).unwrap(),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let known = format!("/v1/subjects/{}/restrict", j["subject"].as_str().unwrap());
    let r = call(
        &s,
        with_token(Request::post(&known).body(Body::empty()).unwrap(), OPERATOR),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &s,
        with_token(
            post_json("/v1/unsubscribe-links", &json!({"subject": "someone"})),
            SERVICE,
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.error().1.as_deref()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("subject"))
    );
}

#[tokio::test]
async fn behind_a_proxy_the_proxy_added_address_counts() {
    let s = server_with("proxy", |c| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 2;
        c.trust_forwarded_for = true;
    })
    .await;
    // A client rotating the first X-Forwarded-For entry is still one client: the proxy appends the last.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let req = get("/v1/policy")
            .header("x-forwarded-for", format!("10.0.0.{i}, 203.0.113.7"))
            .body(Body::empty())
            .unwrap();
        statuses.push(call(&s, req).await.status);
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    let other = get("/v1/policy")
        .header("x-forwarded-for", "203.0.113.8")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&s, other).await.status, StatusCode::OK);
}

/// A body that sends its first byte and then nothing: a client that announced more than it sends.
struct Stalled(bool);

impl axum::body::HttpBody for Stalled {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(
            axum::body::Bytes::from_static(b"{"),
        ))))
    }
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_and_closes_the_connection() {
    let s = server_with("body-timeout", |c| c.request_timeout_secs = 1).await;
    let req = Request::post("/v1/consents")
        .header("content-type", "application/json")
        .body(Body::new(Stalled(false)))
        .unwrap();
    let r = call(&s, req).await;
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(r.error(), ("request_timeout".to_owned(), None));
    assert_eq!(r.headers["connection"], "close");
    // Security headers as on every answer.
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
}
