//! Recording a choice: the receipt and token, bad input, an outdated policy version, Global Privacy Control.

use super::*;

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
        "../../../consent-core/tests/fixtures/invisionu-2026-06-01.toml"
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
