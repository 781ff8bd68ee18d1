//! Nobody can speak for another (product rule 12, issue 22.4): a service records only the purposes and
//! collection points of its scope, and an anonymous caller only a visitor's own banner choice.

mod common;

use axum::http::StatusCode;
use common::*;
use consent_core::UnverifiedReceipt;
use serde_json::json;

async fn receipts_stored(s: &TestServer) -> u64 {
    let store = s.state.store.clone();
    tokio::task::spawn_blocking(move || store.receipt_count())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_service_records_only_its_purposes_and_collection_points() {
    let s = server("service-scope").await;
    let form = |decisions: serde_json::Value, kind: &str| {
        let mut body = consent_body(decisions);
        body["method"] = json!("form");
        body["collection_point"] =
            json!({"kind": kind, "page": "https://invisionu.education/apply"});
        body["subject"] = json!({"id": "aigerim@example.kz"});
        body["by"] = json!({"kind": "representative", "relation": "parent", "name": "Asel N."});
        body
    };
    let review = json!({"application-review": "given", "scholarships": "refused"});
    let r = call(
        &s,
        with_token(
            post_json("/v1/consents", &form(review.clone(), "form")),
            PORTAL,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // GPC refuses only what the service may decide: the portal records no marketing refusal.
    let mut gpc = with_token(
        post_json("/v1/consents", &form(review.clone(), "form")),
        PORTAL,
    );
    gpc.headers_mut().insert("sec-gpc", "1".parse().unwrap());
    let r = call(&s, gpc).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let receipt = UnverifiedReceipt::parse(r.json()["receipt"].as_str().unwrap())
        .unwrap()
        .verify(&s.state.keys.receipts)
        .unwrap();
    assert!(receipt.payload().gpc);
    assert_eq!(
        receipt.payload().decisions.len(),
        2,
        "{:?}",
        receipt.payload().decisions
    );
    let before = receipts_stored(&s).await;

    for (body, field) in [
        (
            form(
                json!({"application-review": "given", "marketing": "given"}),
                "form",
            ),
            "decisions.marketing",
        ),
        (form(review.clone(), "api"), "collection_point.kind"),
        (form(review.clone(), "banner"), "collection_point.kind"),
    ] {
        let r = call(&s, with_token(post_json("/v1/consents", &body), PORTAL)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}: {}", r.text());
        assert_eq!(
            r.error(),
            ("forbidden".into(), Some(field.into())),
            "{body}"
        );
        // The service with every purpose and collection point records it.
        let r = call(&s, with_token(post_json("/v1/consents", &body), SERVICE)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.text());
    }
    assert_eq!(receipts_stored(&s).await, before + 3);

    // Unsubscribe links withdraw marketing: only a service whose purposes include it makes them.
    let subject = call(
        &s,
        with_token(
            post_json("/v1/subjects/lookup", &json!({"id": "aigerim@example.kz"})),
            OPERATOR,
        ),
    )
    .await
    .json()["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = |token| {
        with_token(
            post_json("/v1/unsubscribe-links", &json!({"subject": subject})),
            token,
        )
    };
    let r = call(&s, link(PORTAL)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(r.error(), ("forbidden".into(), None));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`marketing`")
    );
    for token in [SERVICE, OPERATOR] {
        let r = call(&s, link(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
}

#[tokio::test]
async fn anonymous_callers_cannot_claim_a_form_a_representative_or_an_api() {
    let s = server("anonymous-claims").await;
    let good = consent_body(json!({"marketing": "given"}));
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    for (body, field) in [
        (with(&|b| b["method"] = json!("form")), "method"),
        (with(&|b| b["method"] = json!("api")), "method"),
        (with(&|b| b["method"] = json!("unsubscribe")), "method"),
        (
            with(&|b| b["collection_point"]["kind"] = json!("form")),
            "collection_point.kind",
        ),
        (
            with(&|b| b["collection_point"]["kind"] = json!("api")),
            "collection_point.kind",
        ),
        (
            with(&|b| b["by"] = json!({"kind": "representative", "name": "A. Parent"})),
            "by.kind",
        ),
    ] {
        // No token, and staff tokens (which record as anonymous callers).
        for bearer in [None, Some(AUDITOR), Some(OPERATOR)] {
            let req = post_json("/v1/consents", &body);
            let req = match bearer {
                Some(t) => with_token(req, t),
                None => req,
            };
            let r = call(&s, req).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}: {}", r.text());
            assert_eq!(
                r.error(),
                ("forbidden".into(), Some(field.into())),
                "{body}"
            );
        }
    }
    assert_eq!(receipts_stored(&s).await, 0);
}
