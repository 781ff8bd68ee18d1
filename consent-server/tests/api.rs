//! The HTTP API through `tower::ServiceExt::oneshot`, on a real SQLite file.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use consent_core::{KeySet, Timestamp, UnverifiedReceipt, UnverifiedToken};
use serde_json::json;

async fn receipts_stored(s: &TestServer) -> u64 {
    let store = s.state.store.clone();
    tokio::task::spawn_blocking(move || store.receipt_count())
        .await
        .unwrap()
        .unwrap()
}

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

#[tokio::test]
async fn a_consent_gives_a_verifiable_receipt_and_token() {
    let s = server("consent").await;
    let device = "AAECAwQFBgcICQoLDA0ODw";
    let mut body =
        consent_body(json!({"cookies-analytics": "given", "cookies-marketing": "refused"}));
    body["subject"] = json!({ "device": device });
    let r = call(&s, post_json("/v1/consents", &body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let j = r.json();
    assert_eq!(j["subject"], format!("dev:{device}"));
    assert_eq!(j["issued_at"], Timestamp::from_unix(NOW).to_string());
    // The receipt verifies with the published JWK Set, as an auditor would.
    let jwks = call(
        &s,
        get("/.well-known/jwks.json").body(Body::empty()).unwrap(),
    )
    .await;
    let public = KeySet::from_jwks_json(&jwks.text()).unwrap();
    let receipt = UnverifiedReceipt::parse(j["receipt"].as_str().unwrap())
        .unwrap()
        .verify(&public)
        .unwrap();
    let p = receipt.payload();
    assert_eq!(p.jti.to_string(), j["receipt_id"]);
    assert_eq!(p.policy.sha256, s.state.policy.hash().to_string());
    assert_eq!(
        p.collection.build.as_deref(),
        Some("ab".repeat(32).as_str())
    );
    assert_eq!(p.exp.to_string(), j["expires_at"]);
    // The token verifies with the server's token keys and says what was decided.
    let token = UnverifiedToken::decode(j["token"].as_str().unwrap())
        .unwrap()
        .verify(&s.state.keys.tokens)
        .unwrap();
    assert_eq!(token.claims().receipt.to_string(), j["receipt_id"]);
    // It is the device's, signed as a device's: never a person's.
    assert_eq!(token.claims().device(), device.parse().ok());
    assert_eq!(token.claims().person(), None);
    let at = Timestamp::from_unix(NOW + 60);
    assert!(
        token
            .decision("cookies-analytics".parse().unwrap(), at, &s.state.policy)
            .is_allowed()
    );
    assert!(
        !token
            .decision("cookies-marketing".parse().unwrap(), at, &s.state.policy)
            .is_allowed()
    );
    assert_eq!(receipts_stored(&s).await, 1);

    // The holder of the token reads the receipt; others cannot.
    let id = j["receipt_id"].as_str().unwrap();
    let uri = format!("/v1/receipts/{id}");
    let r = call(
        &s,
        get(&uri)
            .header("x-consent-token", j["token"].as_str().unwrap())
            .header("accept", "application/jwt")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/jwt");
    assert_eq!(r.text(), j["receipt"].as_str().unwrap());
    let r = call(
        &s,
        get(&uri)
            .header(
                "cookie",
                format!("lang=kk; consent={}", j["token"].as_str().unwrap()),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()["payload"]["decisions"]["cookies-marketing"],
        "refused"
    );
    let r = call(&s, get(&uri).body(Body::empty()).unwrap()).await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let r = call(
        &s,
        get(&uri)
            .header("x-consent-token", "AAAA")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let r = call(
        &s,
        with_token(get(&uri).body(Body::empty()).unwrap(), AUDITOR),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &s,
        with_token(get(&uri).body(Body::empty()).unwrap(), "wrong"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &s,
        with_token(
            get("/v1/receipts/00000000-0000-7000-8000-000000000000")
                .body(Body::empty())
                .unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Another receipt's token is refused.
    let other = call(
        &s,
        post_json(
            "/v1/consents",
            &consent_body(json!({"cookies-analytics": "given"})),
        ),
    )
    .await
    .json();
    let r = call(
        &s,
        get(&uri)
            .header("x-consent-token", other["token"].as_str().unwrap())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field_and_writes_nothing() {
    let s = server("bad-input").await;
    let good = consent_body(json!({"cookies-analytics": "given"}));
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<(serde_json::Value, StatusCode, &str, Option<&str>)> = vec![
        (
            with(&|b| b["policy_version"] = json!(20250326)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("policy_version"),
        ),
        (
            with(&|b| b["policy_version"] = json!("2024-01-01")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_policy_version",
            Some("policy_version"),
        ),
        (
            with(&|b| b["policy_version"] = json!("not a date")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("policy_version"),
        ),
        (
            with(&|b| b["decisions"] = json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("decisions"),
        ),
        (
            with(&|b| b["decisions"] = json!({"nope": "given"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_purpose",
            Some("decisions.nope"),
        ),
        (
            with(&|b| b["decisions"] = json!({"marketing": "yes"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("decisions.marketing"),
        ),
        (
            with(&|b| b["decisions"] = json!({"marketing": true})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("decisions.marketing"),
        ),
        (
            with(&|b| b["decisions"] = json!({"cookies-necessary": "refused"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "consent_not_required",
            Some("decisions.cookies-necessary"),
        ),
        (
            with(&|b| b["decisions"] = json!({"legal-compliance": "given"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "consent_not_required",
            Some("decisions.legal-compliance"),
        ),
        (
            with(&|b| b["decisions"] = json!(["marketing"])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("decisions"),
        ),
        (
            with(&|b| b["method"] = json!("maybe")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("method"),
        ),
        (
            with(&|b| b["method"] = json!("api")),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("method"),
        ),
        (
            with(&|b| {
                b["method"] = json!("accept-all");
                b["decisions"] = json!({"marketing": "refused"})
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "inconsistent_method",
            Some("method"),
        ),
        (
            with(&|b| {
                b["method"] = json!("reject-all");
                b["decisions"] = json!({"marketing": "given"})
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "inconsistent_method",
            Some("method"),
        ),
        (
            with(&|b| b["language"] = json!("de")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("language"),
        ),
        (
            with(&|b| b["collection_point"]["kind"] = json!("staff")),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("collection_point.kind"),
        ),
        (
            with(&|b| b["collection_point"]["kind"] = json!("kiosk")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("collection_point.kind"),
        ),
        (
            with(&|b| b["collection_point"]["build"] = json!("ABC")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("collection_point.build"),
        ),
        (
            with(&|b| b["collection_point"]["page"] = json!("javascript:alert(1)")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("collection_point.page"),
        ),
        (
            with(&|b| b["collection_point"]["extra"] = json!(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("collection_point.extra"),
        ),
        (
            with(&|b| b["unexpected"] = json!(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            None,
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("method");
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            None,
        ),
        (
            with(&|b| b["subject"] = json!({"id": "someone@example.org"})),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("subject.id"),
        ),
        (
            with(&|b| b["subject"] = json!({"device": "short"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("subject.device"),
        ),
        (
            with(&|b| b["subject"] = json!({"device": "AAECAwQFBgcICQoLDA0ODw", "id": "x"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("subject"),
        ),
        (
            with(&|b| b["subject_name"] = json!("Name")),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("subject_name"),
        ),
        (
            with(&|b| b["by"] = json!({"kind": "robot"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("by.kind"),
        ),
        // Anonymous callers cannot claim a representative, a form or the API (issue 22.4)…
        (
            with(&|b| b["by"] = json!({"kind": "representative", "relation": "uncle"})),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("by.kind"),
        ),
        (
            with(&|b| {
                b["by"] = json!({"kind": "representative", "relation": "parent", "name": "Asel N."})
            }),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("by.kind"),
        ),
        (
            with(&|b| b["method"] = json!("form")),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("method"),
        ),
        (
            with(&|b| b["collection_point"]["kind"] = json!("form")),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("collection_point.kind"),
        ),
        // …nor send a page that is not a short URL (issue 22.2).
        (
            with(&|b| {
                b["collection_point"]["page"] =
                    json!(format!("https://invisionu.education/{}", "p".repeat(500)))
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("collection_point.page"),
        ),
        (
            with(&|b| {
                b["collection_point"]["page"] = json!("https://invisionu.education/\"quoted\"")
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("collection_point.page"),
        ),
        (
            json!([1, 2, 3]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let r = call(&s, post_json("/v1/consents", &body)).await;
        let (got_code, got_field) = r.error();
        assert_eq!(
            (r.status, got_code.as_str()),
            (status, code),
            "{body}: {}",
            r.text()
        );
        if let Some(field) = field {
            assert_eq!(got_field.as_deref(), Some(field), "{body}: {}", r.text());
        }
    }
    // Malformed, oversized, not JSON.
    for (raw, status, code) in [
        (
            "{\"policy_version\": ".to_owned(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            format!("{good} trailing"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            format!("{good}{good}"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (String::new(), StatusCode::BAD_REQUEST, "malformed_json"),
    ] {
        let r = call(
            &s,
            Request::post("/v1/consents")
                .header("content-type", "application/json")
                .body(Body::from(raw.clone()))
                .unwrap(),
        )
        .await;
        assert_eq!((r.status, r.error().0.as_str()), (status, code), "{raw}");
    }
    let huge = format!("{{\"policy_version\": \"{}\"}}", "x".repeat(20_000));
    let r = call(
        &s,
        Request::post("/v1/consents")
            .header("content-type", "application/json")
            .body(Body::from(huge))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
    assert_eq!(receipts_stored(&s).await, 0, "no partial writes");
}

#[tokio::test]
async fn an_old_policy_version_is_a_conflict() {
    let s = server("old-policy").await;
    // Serve a newer current version, keeping 2025-03-26 as a previous one.
    let v1 = consent_core::Policy::from_toml(POLICY).unwrap();
    let v2 = consent_core::Policy::from_toml(include_str!(
        "../../consent-core/tests/fixtures/invisionu-2026-06-01.toml"
    ))
    .unwrap();
    let state = consent_server::AppState::new(
        s.state.store.clone(),
        v2,
        vec![v1],
        (*s.state.keys).clone(),
        (*s.state.config).clone(),
        s.state.clock.clone(),
    );
    let r = app_call(
        state.clone(),
        post_json(
            "/v1/consents",
            &consent_body(json!({"cookies-marketing": "given"})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.error(),
        ("policy_outdated".into(), Some("policy_version".into()))
    );
    // The current version, for the banner to fetch and ask again at once (issue 18.7).
    assert_eq!(r.json()["error"]["policy_version"], "2026-06-01");
    assert_eq!(receipts_stored(&s).await, 0, "nothing written");
    let r = app_call(
        state.clone(),
        get("/v1/policies/2025-03-26").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "previous versions stay available");
}

async fn app_call(state: consent_server::AppState, req: Request<Body>) -> Answer {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let r = consent_server::app(state).oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    Answer {
        status,
        headers,
        body: r.into_body().collect().await.unwrap().to_bytes().to_vec(),
    }
}

#[tokio::test]
async fn gpc_refuses_marketing_and_is_recorded() {
    let s = server("gpc").await;
    let mut req = post_json(
        "/v1/consents",
        &consent_body(json!({"cookies-analytics": "given"})),
    );
    req.headers_mut().append("sec-gpc", "0".parse().unwrap());
    req.headers_mut().append("sec-gpc", "1".parse().unwrap());
    let j = call(&s, req).await.json();
    assert_eq!(j["gpc"], true);
    let r = UnverifiedReceipt::parse(j["receipt"].as_str().unwrap())
        .unwrap()
        .verify(&s.state.keys.receipts)
        .unwrap();
    assert!(r.payload().gpc);
    // The newsletter is never the banner's to decide: GPC refuses the marketing cookies only.
    assert!(
        !r.payload()
            .decisions
            .contains_key(&"marketing".parse().unwrap())
    );
    assert_eq!(
        r.payload().decisions[&"cookies-marketing".parse().unwrap()],
        consent_core::Choice::Refused
    );
    // An explicit per-purpose choice still counts; "Sec-GPC: true" is not the signal.
    let mut req = post_json(
        "/v1/consents",
        &consent_body(json!({"cookies-marketing": "given"})),
    );
    req.headers_mut().insert("sec-gpc", "1".parse().unwrap());
    let r = call(&s, req).await.json();
    let t = UnverifiedToken::decode(r["token"].as_str().unwrap()).unwrap();
    assert!(t.unverified_claims().given.contains(13));
    let mut req = post_json(
        "/v1/consents",
        &consent_body(json!({"cookies-analytics": "given"})),
    );
    req.headers_mut().insert("sec-gpc", "true".parse().unwrap());
    assert_eq!(call(&s, req).await.json()["gpc"], false);
}

#[tokio::test]
async fn services_record_for_subjects_and_staff_handle_rights() {
    let s = server("rights").await;
    let mut body = consent_body(
        json!({"marketing": "given", "public-dissemination": "given", "application-review": "given"}),
    );
    body["method"] = json!("form");
    body["collection_point"] = json!({"kind": "form", "page": "https://invisionu.education/apply"});
    body["subject"] = json!({"id": "Aigerim@Example.org"});
    body["subject_name"] = json!("Айгерім Серікова");
    body["by"] = json!({"kind": "representative", "relation": "parent", "name": "Гүлнар Серікова"});
    let r = call(&s, with_token(post_json("/v1/consents", &body), SERVICE)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let subject = r.json()["subject"].as_str().unwrap().to_owned();
    assert!(subject.starts_with("sub:"), "{subject}");
    // The token names the person, signed as a person (not a device with the same 128 bits).
    let token = UnverifiedToken::decode(r.json()["token"].as_str().unwrap()).unwrap();
    let person = token
        .verify(&s.state.keys.tokens)
        .unwrap()
        .claims()
        .person();
    assert_eq!(person.map(|p| format!("sub:{p}")), Some(subject.clone()));
    // The same person again, a minute later: the same pseudonym (ids are normalised).
    s.clock
        .store(NOW + 30, std::sync::atomic::Ordering::Relaxed);
    body["subject"] = json!({"id": "aigerim@example.org"});
    let again = call(&s, with_token(post_json("/v1/consents", &body), SERVICE))
        .await
        .json();
    assert_eq!(again["subject"], subject.as_str());
    let r = call(
        &s,
        with_token(
            post_json("/v1/subjects/lookup", &json!({"id": "AIGERIM@example.org"})),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.json()["subject"], subject.as_str());

    let state_uri = format!("/v1/subjects/{subject}/state");
    let st = call(
        &s,
        with_token(get(&state_uri).body(Body::empty()).unwrap(), AUDITOR),
    )
    .await
    .json();
    assert_eq!(st["purposes"]["marketing"]["allowed"], true);
    assert_eq!(
        st["purposes"]["marketing"]["dpv_status"],
        "https://w3id.org/dpv#RenewedConsentGiven"
    );
    assert_eq!(st["purposes"]["legal-compliance"]["allowed"], true);

    // Roles: auditors read, operators act.
    let withdraw = format!("/v1/subjects/{subject}/withdraw");
    let r = call(
        &s,
        with_token(
            post_json(&withdraw, &json!({"purposes": ["public-dissemination"]})),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(&s, post_json(&withdraw, &json!({}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &s,
        with_token(
            post_json(&withdraw, &json!({"purposes": ["nope"]})),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(
        r.error(),
        ("unknown_purpose".into(), Some("purposes[0]".into()))
    );
    s.clock
        .store(NOW + 90, std::sync::atomic::Ordering::Relaxed);
    let r = call(
        &s,
        with_token(
            post_json(&withdraw, &json!({"purposes": ["public-dissemination"]})),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let st = call(
        &s,
        with_token(get(&state_uri).body(Body::empty()).unwrap(), AUDITOR),
    )
    .await
    .json();
    assert_eq!(st["purposes"]["public-dissemination"]["allowed"], false);
    assert!(
        st["purposes"]["public-dissemination"]["reason"]
            .as_str()
            .unwrap()
            .contains("withdrawn")
    );
    assert_eq!(st["purposes"]["marketing"]["allowed"], true);

    // Restrict blocks everything but legal obligations; unblock lifts it.
    s.clock
        .store(NOW + 120, std::sync::atomic::Ordering::Relaxed);
    let r = call(
        &s,
        with_token(
            Request::post(format!("/v1/subjects/{subject}/restrict"))
                .body(Body::empty())
                .unwrap(),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let st = call(
        &s,
        with_token(get(&state_uri).body(Body::empty()).unwrap(), AUDITOR),
    )
    .await
    .json();
    assert_eq!(st["purposes"]["marketing"]["allowed"], false);
    assert_eq!(st["purposes"]["legal-compliance"]["allowed"], true);
    assert!(st["restricted_since"].is_string());
    s.clock
        .store(NOW + 180, std::sync::atomic::Ordering::Relaxed);
    call(
        &s,
        with_token(
            Request::post(format!("/v1/subjects/{subject}/unblock"))
                .body(Body::empty())
                .unwrap(),
            OPERATOR,
        ),
    )
    .await;
    let st = call(
        &s,
        with_token(get(&state_uri).body(Body::empty()).unwrap(), AUDITOR),
    )
    .await
    .json();
    assert_eq!(st["purposes"]["marketing"]["allowed"], true);

    // Access export: history, state, Kantara receipts.
    let ex = call(
        &s,
        with_token(
            get(&format!("/v1/subjects/{subject}/export"))
                .body(Body::empty())
                .unwrap(),
            OPERATOR,
        ),
    )
    .await
    .json();
    assert_eq!(ex["history"]["receipts"].as_array().unwrap().len(), 3);
    assert_eq!(ex["kantara_receipts"].as_array().unwrap().len(), 3);
    assert_eq!(
        ex["history"]["rights_requests"].as_array().unwrap().len(),
        2
    );

    // Erase: the person cannot be found any more; receipts stay and still verify.
    s.clock
        .store(NOW + 240, std::sync::atomic::Ordering::Relaxed);
    let r = call(
        &s,
        with_token(
            Request::post(format!("/v1/subjects/{subject}/erase"))
                .body(Body::empty())
                .unwrap(),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &s,
        with_token(
            post_json("/v1/subjects/lookup", &json!({"id": "aigerim@example.org"})),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let h = call(
        &s,
        with_token(
            get(&format!("/v1/subjects/{subject}/history"))
                .body(Body::empty())
                .unwrap(),
            AUDITOR,
        ),
    )
    .await
    .json();
    for r in h["receipts"].as_array().unwrap() {
        UnverifiedReceipt::parse(r["receipt"].as_str().unwrap())
            .unwrap()
            .verify(&s.state.keys.receipts)
            .unwrap();
    }
    let st = call(
        &s,
        with_token(get(&state_uri).body(Body::empty()).unwrap(), AUDITOR),
    )
    .await
    .json();
    assert_eq!(st["purposes"]["marketing"]["allowed"], false);
    assert!(st["erased_at"].is_string());
    // A new consent after erasure makes a new pseudonym.
    let fresh = call(&s, with_token(post_json("/v1/consents", &body), SERVICE))
        .await
        .json();
    assert_ne!(fresh["subject"], subject.as_str());
    let r = call(
        &s,
        with_token(
            get("/v1/subjects/nobody/state")
                .body(Body::empty())
                .unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.error(), ("invalid_field".into(), Some("subject".into())));
}

/// Records, as a service, marketing given by the subject with external id `id`; returns its pseudonym.
async fn marketing_subject(s: &TestServer, id: &str) -> String {
    let mut body = consent_body(json!({"marketing": "given"}));
    body["method"] = json!("api");
    body["collection_point"] = json!({"kind": "api"});
    body["subject"] = json!({"id": id});
    call(s, with_token(post_json("/v1/consents", &body), SERVICE))
        .await
        .json()["subject"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn one_click_unsubscribe() {
    let s = server("unsubscribe").await;
    let subject = marketing_subject(&s, "42").await;
    let r = call(
        &s,
        with_token(
            post_json("/v1/unsubscribe-links", &json!({"subject": subject})),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let link = call(
        &s,
        with_token(
            post_json("/v1/unsubscribe-links", &json!({"subject": subject})),
            SERVICE,
        ),
    )
    .await
    .json();
    assert_eq!(
        link["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    let url = link["url"].as_str().unwrap();
    let path = url.strip_prefix("http://127.0.0.1:8080").unwrap();
    let form = |p: &str, b: &'static str| {
        Request::post(p)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(b))
            .unwrap()
    };
    let r = call(&s, form(path, "something=else")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(&s, form(&format!("{path}x"), "List-Unsubscribe=One-Click")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    s.clock
        .store(NOW + 10, std::sync::atomic::Ordering::Relaxed);
    let r = call(&s, form(path, "List-Unsubscribe=One-Click")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let p = UnverifiedReceipt::parse(r.json()["receipt"].as_str().unwrap())
        .unwrap()
        .verify(&s.state.keys.receipts)
        .unwrap();
    assert_eq!(p.payload().method, consent_core::Method::Unsubscribe);
    let st = call(
        &s,
        with_token(
            get(&format!("/v1/subjects/{subject}/state"))
                .body(Body::empty())
                .unwrap(),
            AUDITOR,
        ),
    )
    .await
    .json();
    assert_eq!(st["purposes"]["marketing"]["allowed"], false);

    // The same link again changes nothing: no new receipt, the answer is the one that withdrew.
    let first = r.json();
    let stored = receipts_stored(&s).await;
    s.clock
        .store(NOW + 20, std::sync::atomic::Ordering::Relaxed);
    let again = call(&s, form(path, "List-Unsubscribe=One-Click")).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let again = again.json();
    for member in [
        "receipt_id",
        "receipt",
        "subject",
        "issued_at",
        "expires_at",
    ] {
        assert_eq!(again[member], first[member], "{member}");
    }
    let token = UnverifiedToken::decode(again["token"].as_str().unwrap())
        .unwrap()
        .verify(&s.state.keys.tokens)
        .unwrap();
    assert_eq!(token.claims().receipt.to_string(), first["receipt_id"]);
    assert!(token.claims().given.is_empty() && token.claims().refused.len() == 1);
    assert_eq!(receipts_stored(&s).await, stored);
    // Given again, then unsubscribed: a new receipt; so after an erasure.
    s.clock
        .store(NOW + 30, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(marketing_subject(&s, "42").await, subject);
    s.clock
        .store(NOW + 40, std::sync::atomic::Ordering::Relaxed);
    let r = call(&s, form(path, "List-Unsubscribe=One-Click")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_ne!(r.json()["receipt_id"], first["receipt_id"]);
    assert_eq!(receipts_stored(&s).await, stored + 2);
    let erase = with_token(
        Request::post(format!("/v1/subjects/{subject}/erase"))
            .body(Body::empty())
            .unwrap(),
        OPERATOR,
    );
    s.clock
        .store(NOW + 50, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(call(&s, erase).await.status, StatusCode::OK);
    s.clock
        .store(NOW + 60, std::sync::atomic::Ordering::Relaxed);
    let r = call(&s, form(path, "List-Unsubscribe=One-Click")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(receipts_stored(&s).await, stored + 3);
}

#[tokio::test]
async fn auditors_export_pages_of_receipts() {
    let s = server("export").await;
    for i in 0..5 {
        s.clock.store(NOW + i, std::sync::atomic::Ordering::Relaxed);
        call(
            &s,
            post_json(
                "/v1/consents",
                &consent_body(json!({"cookies-analytics": "given"})),
            ),
        )
        .await;
    }
    let r = call(&s, get("/v1/export").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &s,
        with_token(get("/v1/export").body(Body::empty()).unwrap(), OPERATOR),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &s,
        with_token(
            get("/v1/export?limit=3").body(Body::empty()).unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text().lines().count(), 3);
    let next = r.headers["x-next-after"].to_str().unwrap().to_owned();
    let r = call(
        &s,
        with_token(
            get(&format!("/v1/export?limit=3&after={next}"))
                .body(Body::empty())
                .unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.text().lines().count(), 2);
    assert!(r.headers.get("x-next-after").is_none());
    let r = call(
        &s,
        with_token(
            get(&format!("/v1/export?from={}&to={}", NOW + 1, NOW + 3))
                .body(Body::empty())
                .unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.text().lines().count(), 2);
    for line in r.text().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        UnverifiedReceipt::parse(v["receipt"].as_str().unwrap())
            .unwrap()
            .verify(&s.state.keys.receipts)
            .unwrap();
    }
    for bad in [
        "/v1/export?limit=0",
        "/v1/export?limit=99999999",
        "/v1/export?subject=x",
        "/v1/export?bogus=1",
        "/v1/export?from=yesterday",
    ] {
        let r = call(
            &s,
            with_token(get(bad).body(Body::empty()).unwrap(), AUDITOR),
        )
        .await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
    }
}

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

#[tokio::test]
async fn unsubscribe_links_opened_in_a_browser_ask_first() {
    let s = server("unsubscribe-page").await;
    let subject = marketing_subject(&s, "7").await;
    let link = call(
        &s,
        with_token(
            post_json("/v1/unsubscribe-links", &json!({"subject": subject})),
            SERVICE,
        ),
    )
    .await
    .json();
    let path = link["url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap()
        .to_owned();
    // Opening the link shows a page and changes nothing.
    let r = call(&s, get(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        r.text()
            .contains("name=\"List-Unsubscribe\" value=\"One-Click\""),
        "{}",
        r.text()
    );
    assert_eq!(receipts_stored(&s).await, 1);
    let r = call(&s, get(&format!("{path}x")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The page's form posts the one-click body; a browser gets HTML back.
    let req = Request::post(&path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let r = call(&s, req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("unsubscribed"), "{}", r.text());
    assert_eq!(receipts_stored(&s).await, 2);
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
