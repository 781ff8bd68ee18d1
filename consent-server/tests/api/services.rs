//! Services recording for subjects, staff handling rights, one-click unsubscribe.

use super::*;

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
