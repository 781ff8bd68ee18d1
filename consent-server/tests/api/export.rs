//! Auditors exporting pages of receipts.

use super::*;

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
