//! Serving the policy: compression, entity tags and caching, the banner views.

use super::*;

#[tokio::test]
async fn policy_is_compressed_for_clients_that_accept_it() {
    let s = server("policy-compressed").await;
    let json = s.state.policy.canonical_json();
    let hash = s.state.policy.hash();
    for (accept, coding) in [
        ("gzip, deflate, br, zstd", Some("br")),
        ("gzip", Some("gzip")),
        ("br;q=0, gzip", Some("gzip")),
        ("identity", None),
        ("br;q=0, gzip;q=0", None),
    ] {
        let with_accept = || get("/v1/policy").header("accept-encoding", accept);
        let r = call(&s, with_accept().body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{accept}");
        let sent = r
            .headers
            .get("content-encoding")
            .map(|v| v.to_str().unwrap());
        assert_eq!(sent, coding, "{accept}");
        assert_eq!(decoded(&r.body, coding), json.as_bytes(), "{accept}");
        if coding.is_some() {
            // 58 KB of JSON for invisionu: 10 KB in brotli, 13 KB in gzip.
            assert!(
                r.body.len() * 4 < json.len(),
                "{accept}: {} bytes",
                r.body.len()
            );
        }
        let vary: Vec<_> = r.headers.get_all("vary").iter().collect();
        assert!(
            vary.iter().any(|v| *v == "accept-encoding"),
            "{accept}: {vary:?}"
        );
        // Each form has its own entity tag, and revalidates with it.
        let etag = r.headers["etag"].to_str().unwrap().to_owned();
        let expected = match coding {
            Some(c) => format!("\"{hash}-{c}\""),
            None => format!("\"{hash}\""),
        };
        assert_eq!(etag, expected);
        let again = with_accept().header("if-none-match", &etag);
        let r = call(&s, again.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{accept}");
    }
}

#[tokio::test]
async fn policy_with_etag_and_caching() {
    let s = server("policy").await;
    let r = call(&s, get("/v1/policy").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", s.state.policy.hash()));
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    assert_eq!(r.text(), s.state.policy.canonical_json());
    let r = revalidate(&s, "/v1/policy", &etag).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    let r = call(
        &s,
        get("/v1/policies/2025-03-26").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let r = call(
        &s,
        get("/v1/policies/2024-01-01").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let r = call(
        &s,
        get("/v1/policies/yesterday").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn banner_view_per_language_with_the_full_policys_hash() {
    let s = server("banner-view").await;
    let policy = &s.state.policy;
    for lang in ["kk", "ru", "en"] {
        let uri = format!("/v1/policy/banner/{lang}");
        let r = call(
            &s,
            get(&uri)
                .header("accept-encoding", "br")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{lang}");
        assert_eq!(r.headers["cache-control"], "public, max-age=300");
        assert_eq!(r.headers["content-type"], "application/json");
        let view = policy.banner_view(lang.parse().unwrap());
        assert_eq!(decoded(&r.body, Some("br")), view.as_bytes(), "{lang}");
        // What a first visit waits for: under 2 KB in brotli (the full policy is 10 KB).
        assert!(r.body.len() < 2 * 1024, "{lang}: {} bytes", r.body.len());
        let json: serde_json::Value = serde_json::from_str(&view).unwrap();
        assert_eq!(json["policy_sha256"], policy.hash().to_string());
        assert_eq!(json["language"], lang);
        // Only the banner's collection point's purposes (issue 18.1): the cookie purposes, the
        // necessary ones among them, and their cookie categories.
        let codes: Vec<u64> = json["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_u64().unwrap())
            .collect();
        let at_banner: Vec<u64> = policy
            .purposes_at(consent_core::CollectionKind::Banner)
            .codes()
            .map(u64::from)
            .collect();
        assert_eq!(codes, at_banner, "{lang}");
        assert_eq!(json["cookie_categories"].as_array().unwrap().len(), 4);
        let etag = r.headers["etag"].to_str().unwrap().to_owned();
        // The tag names the policy, the language and the coding.
        assert_eq!(etag, format!("\"{}-{lang}-br\"", policy.hash()));
        let r = call(&s, get(&uri).body(Body::empty()).unwrap()).await;
        let etag = r.headers["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, format!("\"{}-{lang}\"", policy.hash()));
        let r = revalidate(&s, &uri, &etag).await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    }
    // A language the policy lacks: its default language's view.
    let r = call(&s, get("/v1/policy/banner/de").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), policy.banner_view(policy.default_language()));
    for bad in ["KK", "k", "kkkk", "k%C3%A4"] {
        let r = call(
            &s,
            get(&format!("/v1/policy/banner/{bad}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.error().0, "invalid_field", "{bad}");
    }
}
