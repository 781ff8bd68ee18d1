//! Nobody can speak for another (product rule 12, issue 22.4): a device's choice is changed only by
//! that device (its first choice claims it; later ones come with its consent token), and a service
//! records only the purposes and collection points of its scope.

mod common;

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use consent_core::{
    HmacKey, KeyId, ReceiptId, SubjectId, Timestamp, TokenClaims, TokenKeys, TokenSubject,
    UnverifiedReceipt, UnverifiedToken,
};
use hmac::Mac as _;
use serde_json::json;

async fn receipts_stored(s: &TestServer) -> u64 {
    let store = s.state.store.clone();
    tokio::task::spawn_blocking(move || store.receipt_count())
        .await
        .unwrap()
        .unwrap()
}

/// A banner choice for `device`, with `token` in `X-Consent-Token` if given, from `bearer` if given.
fn device_choice(device: &str, token: Option<&str>, bearer: Option<&str>) -> Request<Body> {
    let mut body = consent_body(json!({"cookies-analytics": "given"}));
    body["subject"] = json!({ "device": device });
    let mut req = post_json("/v1/consents", &body);
    if let Some(t) = token {
        req.headers_mut()
            .insert("x-consent-token", t.parse().unwrap());
    }
    match bearer {
        Some(b) => with_token(req, b),
        None => req,
    }
}

/// The claims of a device's token for `subject`, as the server would sign them now.
fn claims(subject: TokenSubject) -> TokenClaims {
    TokenClaims {
        policy_version: "2025-03-26".parse().unwrap(),
        issued_at: Timestamp::from_unix(NOW),
        expires_at: Timestamp::from_unix(NOW + 86_400),
        subject,
        receipt: ReceiptId([3; 16]),
        given: consent_core::PurposeSet::EMPTY,
        refused: consent_core::PurposeSet::EMPTY,
    }
}

/// A version 1 token (as the server issued before version 2: no subject kind) for `subject`, signed
/// with the server's active token secret (spec/SPEC.md §3), which `TokenKeys::sign` no longer writes.
fn version_1_token(s: &TestServer, subject: SubjectId) -> String {
    let jwks: serde_json::Value = serde_json::from_str(&s.state.keys.token_jwks).unwrap();
    let key = &jwks["keys"][0];
    let kid = key["kid"].as_str().unwrap();
    let secret = URL_SAFE_NO_PAD.decode(key["k"].as_str().unwrap()).unwrap();
    let c = claims(TokenSubject::Unbound(subject));
    let mut bytes = vec![1, u8::try_from(kid.len()).unwrap()];
    bytes.extend_from_slice(kid.as_bytes());
    let days = u16::try_from(c.policy_version.date().days()).unwrap();
    bytes.extend_from_slice(&days.to_be_bytes());
    bytes.extend_from_slice(&u32::try_from(c.issued_at.as_unix()).unwrap().to_be_bytes());
    bytes.extend_from_slice(&u32::try_from(c.expires_at.as_unix()).unwrap().to_be_bytes());
    bytes.extend_from_slice(&subject.0);
    bytes.extend_from_slice(&c.receipt.0);
    bytes.extend_from_slice(&c.given.0.to_be_bytes());
    bytes.extend_from_slice(&c.refused.0.to_be_bytes());
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&secret).unwrap();
    mac.update(b"consent-token/v1\0");
    mac.update(&bytes);
    bytes.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    let text = URL_SAFE_NO_PAD.encode(&bytes);
    // It is what the server reads as a version 1 token of these bits.
    let read = UnverifiedToken::decode(&text)
        .unwrap()
        .verify(&s.state.keys.tokens)
        .unwrap();
    assert_eq!(read.claims().subject, TokenSubject::Unbound(subject));
    text
}

#[tokio::test]
async fn a_devices_choice_is_changed_only_by_that_device() {
    let s = server("device-holder").await;
    let device = "AAECAwQFBgcICQoLDA0ODw";
    let id: SubjectId = device.parse().unwrap();

    // The first choice claims the device, without a token.
    let r = call(&s, device_choice(device, None, None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let own = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(receipts_stored(&s).await, 1);

    // Later ones without its token are refused, whoever sends them, and nothing is written.
    for bearer in [None, Some(SERVICE)] {
        let r = call(&s, device_choice(device, None, bearer)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        assert_eq!(
            r.error(),
            (
                "device_token_required".into(),
                Some("subject.device".into())
            )
        );
    }
    assert_eq!(receipts_stored(&s).await, 1);

    // With its token: recorded.
    let r = call(&s, device_choice(device, Some(&own), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["subject"], format!("dev:{device}"));
    assert_eq!(receipts_stored(&s).await, 2);

    // Another device's token, a person's token with the same bits, a token under a key the server
    // does not have, and what is no token at all: refused, nothing written.
    let other = call(&s, device_choice("AAAAAAAAAAAAAAAAAAAAAA", None, None)).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text());
    let others = other.json()["token"].as_str().unwrap().to_owned();
    let person = s
        .state
        .keys
        .tokens
        .sign(&claims(TokenSubject::Person(id)))
        .unwrap();
    let stranger = TokenKeys::new(
        "t25".parse::<KeyId>().unwrap(),
        HmacKey::from_bytes([9; 32]),
    )
    .sign(&claims(TokenSubject::Device(id)))
    .unwrap();
    let mut forged = own.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for token in [others.as_str(), &person, &stranger, &forged, "AAAA", ""] {
        let r = call(&s, device_choice(device, Some(token), None)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token}: {}", r.text());
        assert_eq!(
            r.error(),
            (
                "device_token_mismatch".into(),
                Some("x-consent-token".into())
            ),
            "{token}"
        );
    }
    // A wrong token is refused even for a device without receipts: a token sent must be the
    // device's.
    let r = call(
        &s,
        device_choice("AAAAAAAAAAAAAAAAAAAAAQ", Some(&own), None),
    )
    .await;
    assert_eq!(r.error().0, "device_token_mismatch");
    assert_eq!(receipts_stored(&s).await, 3);

    // A version 1 token with the device's bits still speaks for it (they live at most 6 months).
    let v1 = version_1_token(&s, id);
    let r = call(&s, device_choice(device, Some(&v1), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // The token proves possession, not freshness: expired, and older than an erasure of the device, it
    // is still the device's.
    let expires = UnverifiedToken::decode(&own)
        .unwrap()
        .unverified_claims()
        .expires_at
        .as_unix();
    s.clock.store(expires + 1, Ordering::Relaxed);
    let r = call(&s, device_choice(device, Some(&own), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "expired: {}", r.text());
    let r = call(
        &s,
        with_token(
            Request::post(format!("/v1/subjects/dev:{device}/erase"))
                .body(Body::empty())
                .unwrap(),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = call(&s, device_choice(device, Some(&own), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "after erasure: {}", r.text());

    // A request naming no device is a new device: the header does not matter.
    let mut body = consent_body(json!({"cookies-analytics": "refused"}));
    body["method"] = json!("reject-all");
    let mut req = post_json("/v1/consents", &body);
    req.headers_mut()
        .insert("x-consent-token", "AAAA".parse().unwrap());
    let r = call(&s, req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_ne!(r.json()["subject"], format!("dev:{device}"));
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
    // The banner is outside the portal's scope; the service with every collection point may name it,
    // but the banner does not ask for application review (the policy's collection points).
    let banner = form(review.clone(), "banner");
    let r = call(&s, with_token(post_json("/v1/consents", &banner), PORTAL)).await;
    assert_eq!(
        r.error(),
        ("forbidden".into(), Some("collection_point.kind".into()))
    );
    let r = call(&s, with_token(post_json("/v1/consents", &banner), SERVICE)).await;
    assert_eq!(
        (r.status, r.error()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            (
                "outside_collection_point".into(),
                Some("decisions.application-review".into())
            )
        )
    );
    assert_eq!(receipts_stored(&s).await, before + 2);

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
    let good = consent_body(json!({"cookies-marketing": "given"}));
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

/// The banner asks for the website's cookies only (issue 18.1): a banner receipt deciding anything else
/// is refused with 422 `outside_collection_point`, naming the purpose, and nothing is written, whoever
/// sends it.
#[tokio::test]
async fn a_banner_receipt_deciding_a_form_purpose_is_refused_and_nothing_is_written() {
    let s = server("banner-scope").await;
    let cases = [
        (
            json!({"cookies-analytics": "given", "application-review": "given"}),
            "accept-all",
            "application-review",
        ),
        (
            json!({"cookies-analytics": "refused", "marketing": "refused"}),
            "reject-all",
            "marketing",
        ),
        (
            json!({"transfer-abroad": "given"}),
            "custom",
            "transfer-abroad",
        ),
    ];
    for (decisions, method, purpose) in cases {
        let mut body = consent_body(decisions);
        body["method"] = json!(method);
        for bearer in [None, Some(SERVICE)] {
            let req = post_json("/v1/consents", &body);
            let req = match bearer {
                Some(b) => with_token(req, b),
                None => req,
            };
            let r = call(&s, req).await;
            assert_eq!(
                (r.status, r.error()),
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    (
                        "outside_collection_point".to_owned(),
                        Some(format!("decisions.{purpose}"))
                    )
                ),
                "{bearer:?} {body}"
            );
        }
    }
    assert_eq!(receipts_stored(&s).await, 0);
    // The same purposes through a form, by a service allowed them: recorded.
    let mut body = consent_body(json!({"application-review": "given", "marketing": "refused"}));
    body["method"] = json!("form");
    body["collection_point"] = json!({"kind": "form"});
    body["subject"] = json!({"id": "applicant-17"});
    let r = call(&s, with_token(post_json("/v1/consents", &body), SERVICE)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // And the cookie purposes through the banner.
    let body = consent_body(json!({"cookies-analytics": "given", "cookies-marketing": "refused"}));
    let r = call(&s, post_json("/v1/consents", &body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(receipts_stored(&s).await, 2);
}

/// `request` with `Idempotency-Key: key`.
fn keyed(mut request: Request<Body>, key: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

/// A choice is recorded once however often it is sent (issue 18.7): a repeat with the same key, caller
/// and body (a retry after a lost answer, a second tab sending the kept choice) is answered 200 with the
/// first receipt and token, and writes nothing; the key with another body is 422; another caller's key
/// is its own.
#[tokio::test]
async fn a_choice_sent_twice_with_its_idempotency_key_is_recorded_once() {
    let s = server("idempotency").await;
    let key = "3f1c2a9e-7b4d-4c55-9a0e-2d6f8b1c4e7a";
    let body = consent_body(json!({"cookies-analytics": "given", "cookies-marketing": "refused"}));
    let first = call(&s, keyed(post_json("/v1/consents", &body), key)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    for _ in 0..2 {
        let again = call(&s, keyed(post_json("/v1/consents", &body), key)).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text());
        assert_eq!(
            again.json(),
            first.json(),
            "the first answer, token and all"
        );
    }
    assert_eq!(receipts_stored(&s).await, 1);
    // A device's later choice, with its token, sent twice: one more receipt.
    let device = first.json()["subject"].as_str().unwrap()["dev:".len()..].to_owned();
    let token = first.json()["token"].as_str().unwrap().to_owned();
    let second = device_choice(&device, Some(&token), None);
    let second_key = "9b2e4f60-1c3d-4e5f-8a7b-6c5d4e3f2a1b";
    let a = call(&s, keyed(second, second_key)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let b = call(
        &s,
        keyed(device_choice(&device, Some(&token), None), second_key),
    )
    .await;
    assert_eq!((b.status, b.json()), (StatusCode::OK, a.json()));
    assert_eq!(receipts_stored(&s).await, 2);
    // The same key with another body: refused, nothing written.
    let other = consent_body(json!({"cookies-analytics": "refused"}));
    let r = call(&s, keyed(post_json("/v1/consents", &other), key)).await;
    assert_eq!(
        (r.status, r.error()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            (
                "idempotency_key_reused".into(),
                Some("Idempotency-Key".into())
            )
        )
    );
    assert_eq!(receipts_stored(&s).await, 2);
    // Another caller's key is its own: a service sending the same key records its own receipt.
    let r = call(
        &s,
        keyed(with_token(post_json("/v1/consents", &body), SERVICE), key),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_ne!(r.json()["receipt_id"], first.json()["receipt_id"]);
    // Without a key, the same body twice is two choices (two receipts), as before.
    for _ in 0..2 {
        let r = call(&s, post_json("/v1/consents", &body)).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    assert_eq!(receipts_stored(&s).await, 5);
    // A key that is not one.
    for bad in ["short", "has space in it", "ключ-идемпотентности"] {
        let mut req = post_json("/v1/consents", &body);
        if let Ok(v) = bad.parse() {
            req.headers_mut().insert("idempotency-key", v);
        } else {
            continue;
        }
        let r = call(&s, req).await;
        assert_eq!(
            (r.status, r.error()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                ("invalid_field".into(), Some("Idempotency-Key".into()))
            ),
            "{bad}"
        );
    }
    assert_eq!(receipts_stored(&s).await, 5);
}

/// Two requests with the same key at once (two tabs sending the kept choice together): one receipt,
/// both answered with it.
#[tokio::test]
async fn the_same_choice_from_two_tabs_at_once_is_recorded_once() {
    let s = server("idempotency-race").await;
    let key = "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f";
    let body = consent_body(
        json!({"cookies-preferences": "given", "cookies-analytics": "given", "cookies-marketing": "given"}),
    );
    let mut body = body;
    body["method"] = json!("accept-all");
    let (a, b) = tokio::join!(
        call(&s, keyed(post_json("/v1/consents", &body), key)),
        call(&s, keyed(post_json("/v1/consents", &body), key)),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201]);
    assert_eq!(a.json()["receipt_id"], b.json()["receipt_id"]);
    assert_eq!(a.json()["token"], b.json()["token"]);
    assert_eq!(receipts_stored(&s).await, 1);
}

/// Idempotency keys are kept a bounded time (a day) and go with an erasure: afterwards the same key and
/// body are a new choice.
#[tokio::test]
async fn idempotency_keys_lapse_after_a_day_and_go_with_an_erasure() {
    let s = server("idempotency-lifetime").await;
    let body = consent_body(json!({"cookies-analytics": "given"}));
    let send = |key: &'static str| keyed(post_json("/v1/consents", &body), key);
    let key = "aaaaaaaa-1111-4222-8333-444444444444";
    assert_eq!(call(&s, send(key)).await.status, StatusCode::CREATED);
    s.clock.store(NOW + 86_399, Ordering::SeqCst);
    assert_eq!(
        call(&s, send(key)).await.status,
        StatusCode::OK,
        "a day less a second: kept"
    );
    s.clock.store(NOW + 86_400, Ordering::SeqCst);
    assert_eq!(
        call(&s, send(key)).await.status,
        StatusCode::CREATED,
        "a day later: forgotten"
    );
    assert_eq!(receipts_stored(&s).await, 2);

    // Erasure: the device's keys go too.
    let other = "bbbbbbbb-1111-4222-8333-444444444444";
    let first = call(&s, send(other)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let subject = first.json()["subject"].as_str().unwrap().to_owned();
    let erase = with_token(
        Request::post(format!("/v1/subjects/{subject}/erase"))
            .body(Body::empty())
            .unwrap(),
        OPERATOR,
    );
    assert_eq!(call(&s, erase).await.status, StatusCode::OK);
    let again = call(&s, send(other)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_ne!(again.json()["subject"], first.json()["subject"]);
    assert_eq!(receipts_stored(&s).await, 4);
}
