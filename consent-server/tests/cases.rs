//! Rights requests as cases with legal due dates in Kazakhstan working days (issue 20.3), names read
//! with the subject's data key and erased with it (20.1), a version 1 receipt redacted on erasure, and
//! subjects with a live record (20.6); through the router, on a fixed clock around Nauryz 2026.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use consent_core::{
    Actor, Choice, CollectionKind, CollectionPoint, Date, Lang, Method, Policy, ReceiptId,
    ReceiptPayload, ReceiptRequest, Relation, Timestamp,
};
use consent_server::store::{NewReceipt, Write};
use serde_json::json;

/// `date` at `hh:mm` in Astana (UTC+5), as Unix seconds.
fn astana(date: &str, hh: i64, mm: i64) -> i64 {
    date.parse::<Date>().unwrap().start().as_unix() + hh * 3600 + mm * 60 - 5 * 3600
}

fn metric(text: &str, line: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line} not in {text}"))
}

async fn get_as(s: &TestServer, uri: &str, token: &str) -> Answer {
    call(s, with_token(get(uri).body(Body::empty()).unwrap(), token)).await
}

async fn post_as(s: &TestServer, uri: &str, token: &str) -> Answer {
    call(
        s,
        with_token(Request::post(uri).body(Body::empty()).unwrap(), token),
    )
    .await
}

#[tokio::test]
async fn rights_requests_are_cases_with_working_day_due_dates() {
    let s = server("cases").await;
    // Friday 20 March 2026, 10:00 in Astana; Nauryz is 21-23 March, with 24-25 March off.
    s.clock
        .store(astana("2026-03-20", 10, 0), Ordering::Relaxed);
    let mut body = consent_body(json!({"marketing": "given", "application-review": "given"}));
    body["method"] = json!("form");
    body["collection_point"] = json!({"kind": "form", "page": "https://invisionu.education/apply"});
    body["subject"] = json!({"id": "aigerim@example.kz"});
    body["subject_name"] = json!("Әйгерім Нұрланқызы");
    body["by"] =
        json!({"kind": "representative", "relation": "parent", "name": "Гүлнар Серікқызы"});
    let r = call(&s, with_token(post_json("/v1/consents", &body), SERVICE)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let subject = r.json()["subject"].as_str().unwrap().to_owned();
    let receipt_id = r.json()["receipt_id"].as_str().unwrap().to_owned();
    // Version 2: the names are sealed in the signed receipt, and read for staff with the data key.
    let jws = r.json()["receipt"].as_str().unwrap().to_owned();
    let payload = consent_core::UnverifiedReceipt::parse(&jws)
        .unwrap()
        .verify(&s.state.keys.receipts)
        .unwrap();
    assert_eq!(payload.payload().v, 2);
    assert!(payload.has_sealed_fields());
    let read = get_as(&s, &format!("/v1/receipts/{receipt_id}"), AUDITOR).await;
    assert_eq!(
        read.json()["personal"],
        json!({"subject_name": "Әйгерім Нұрланқызы", "representative": "Гүлнар Серікқызы"})
    );
    // A second named receipt for the same subject uses the same data key.
    let r = call(&s, with_token(post_json("/v1/consents", &body), SERVICE)).await;
    assert_eq!(r.status, StatusCode::CREATED);

    // A withdrawal by staff: a case closed at once (the server's action is the receipt), due in 15
    // working days: 26, 27, 30, 31 March, 1-3, 6-10, 13-15 April.
    let r = call(
        &s,
        with_token(
            post_json(
                &format!("/v1/subjects/{subject}/withdraw"),
                &json!({"purposes": ["marketing"]}),
            ),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // An access request: open until the copy is given, due in 3 working days (26, 27, 30 March).
    let r = post_as(&s, &format!("/v1/subjects/{subject}/access"), OPERATOR).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let access = r.json();
    assert_eq!(access["kind"], "access");
    assert_eq!(access["handled_by"], "Operator");
    assert_eq!(
        access["due_at"],
        Timestamp::from_unix(astana("2026-03-31", 0, 0)).to_string()
    );
    assert_eq!(access["closed_at"], json!(null));
    let all = get_as(&s, "/v1/cases?status=all", AUDITOR).await.json();
    let withdrawal = &all["cases"][0];
    assert_eq!(
        (
            withdrawal["kind"].as_str(),
            withdrawal["handled_by"].as_str()
        ),
        (Some("withdrawal"), Some("Operator"))
    );
    assert_eq!(
        withdrawal["due_at"],
        Timestamp::from_unix(astana("2026-04-16", 0, 0)).to_string()
    );
    assert!(withdrawal["closed_at"].is_string() && withdrawal["receipt_id"].is_string());

    let m = get_as(&s, "/metrics", AUDITOR).await.text();
    assert_eq!(metric(&m, "consent_cases_open{kind=\"access\"}"), 1);
    assert_eq!(metric(&m, "consent_cases_overdue{kind=\"access\"}"), 0);
    assert_eq!(metric(&m, "consent_cases_open{kind=\"withdrawal\"}"), 0);
    assert_eq!(metric(&m, "consent_subjects_live{kind=\"person\"}"), 1);

    // At midnight after Monday 30 March the access request is overdue.
    s.clock
        .store(astana("2026-03-30", 23, 59), Ordering::Relaxed);
    let m = get_as(&s, "/metrics", AUDITOR).await.text();
    assert_eq!(metric(&m, "consent_cases_overdue{kind=\"access\"}"), 0);
    s.clock.store(astana("2026-03-31", 0, 0), Ordering::Relaxed);
    let m = get_as(&s, "/metrics", AUDITOR).await.text();
    assert_eq!(metric(&m, "consent_cases_overdue{kind=\"access\"}"), 1);
    let overdue = get_as(&s, "/v1/cases?overdue=true", OPERATOR).await.json();
    assert_eq!(overdue["cases"].as_array().unwrap().len(), 1);
    assert_eq!(overdue["cases"][0]["overdue"], true);
    // Closed when handled; once.
    let close = format!("/v1/cases/{}/close", access["id"]);
    assert_eq!(
        post_as(&s, &close, AUDITOR).await.status,
        StatusCode::FORBIDDEN
    );
    let r = post_as(&s, &close, OPERATOR).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        post_as(&s, &close, OPERATOR).await.status,
        StatusCode::NOT_FOUND
    );
    let r = post_as(&s, "/v1/cases/0/close", OPERATOR).await;
    assert_eq!(r.error(), ("invalid_field".into(), Some("id".into())));
    let m = get_as(&s, "/metrics", AUDITOR).await.text();
    assert_eq!(metric(&m, "consent_cases_open{kind=\"access\"}"), 0);
    assert_eq!(metric(&m, "consent_cases_overdue{kind=\"access\"}"), 0);

    // An old version 1 receipt of this subject, names in clear (as the server wrote them before).
    let policy = Policy::from_toml(POLICY).unwrap();
    let collection = CollectionPoint {
        kind: CollectionKind::Form,
        build: None,
        page: None,
    };
    let mut req = ReceiptRequest::new(
        ReceiptId([0x42; 16]),
        Timestamp::from_unix(astana("2025-06-02", 10, 0)),
        "http://127.0.0.1:8080",
        subject.clone(),
        Lang::KK,
        Method::Form,
        collection,
        BTreeMap::from([("application-review".parse().unwrap(), Choice::Given)]),
    );
    req.subject_name = Some("Әйгерім Н.".into());
    req.by = Actor::Representative(Relation::Parent);
    req.representative = Some("Гүлнар С.".into());
    let v1 = ReceiptPayload::new(&policy, req)
        .unwrap()
        .sign_verified(&s.state.keys.receipts)
        .unwrap();
    let v1_id = v1.payload().jti;
    s.state
        .store
        .submit(Write::Receipt(Box::new(
            NewReceipt::new(&v1, None).unwrap(),
        )))
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    let read = get_as(&s, &format!("/v1/receipts/{v1_id}"), AUDITOR).await;
    assert_eq!(read.json()["personal"]["subject_name"], "Әйгерім Н.");

    // Erasure (Tuesday 31 March, 00:00 in Astana): due Wednesday 1 April; the key is destroyed, the
    // version 1 receipt redacted.
    let r = post_as(&s, &format!("/v1/subjects/{subject}/erase"), OPERATOR).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let read = get_as(&s, &format!("/v1/receipts/{receipt_id}"), AUDITOR).await;
    assert_eq!(
        read.json()["personal"],
        json!({"subject_name": {"erased": true}, "representative": {"erased": true}})
    );
    // Still verifiable.
    consent_core::UnverifiedReceipt::parse(read.json()["receipt"].as_str().unwrap())
        .unwrap()
        .verify(&s.state.keys.receipts)
        .unwrap();
    let gone = get_as(&s, &format!("/v1/receipts/{v1_id}"), AUDITOR).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert_eq!(gone.error().0, "receipt_erased");
    let history = get_as(&s, &format!("/v1/subjects/{subject}/history"), AUDITOR)
        .await
        .text();
    assert!(
        !history.contains("Әйгерім") && !history.contains("Гүлнар"),
        "{history}"
    );
    assert!(history.contains(r#""redacted":true"#), "{history}");
    let export = get_as(&s, "/v1/export", AUDITOR).await.text();
    assert_eq!(export.lines().count(), 4, "{export}");
    assert!(!export.contains("Әйгерім"), "{export}");
    let all = get_as(&s, "/v1/cases?status=all", AUDITOR).await.json();
    let kinds: Vec<&str> = all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["withdrawal", "access", "erasure"]);
    assert_eq!(
        all["cases"][2]["due_at"],
        Timestamp::from_unix(astana("2026-04-02", 0, 0)).to_string()
    );
    let m = get_as(&s, "/metrics", AUDITOR).await.text();
    assert_eq!(metric(&m, "consent_subjects_live{kind=\"person\"}"), 0);
    assert!(!m.contains("Әйгерім"));

    // A visitor's own withdrawal on the banner is a case handled by the subject.
    let r = call(
        &s,
        post_json(
            "/v1/consents",
            &consent_body(json!({"cookies-analytics": "withdrawn"})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let all = get_as(&s, "/v1/cases?status=all", AUDITOR).await.json();
    assert_eq!(all["cases"][3]["handled_by"], "subject");
    let m = get_as(&s, "/metrics", AUDITOR).await.text();
    assert_eq!(metric(&m, "consent_subjects_live{kind=\"device\"}"), 1);
}

#[tokio::test]
async fn first_named_receipts_at_once_share_one_data_key() {
    let s = std::sync::Arc::new(server("keys-race").await);
    let mut body = consent_body(json!({"application-review": "given"}));
    body["method"] = json!("form");
    body["collection_point"] = json!({"kind": "form", "page": "https://invisionu.education/apply"});
    body["subject"] = json!({"id": "dana@example.kz"});
    body["subject_name"] = json!("Дана Ерланқызы");
    // Sixteen first receipts for one new subject at once: each finds no key and draws one; the writer
    // keeps the first and refuses the others, which are sealed again under it.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (s, body) = (std::sync::Arc::clone(&s), body.clone());
            tokio::spawn(async move {
                call(&s, with_token(post_json("/v1/consents", &body), SERVICE)).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        ids.push(r.json()["receipt_id"].as_str().unwrap().to_owned());
    }
    for id in ids {
        let read = get_as(&s, &format!("/v1/receipts/{id}"), AUDITOR).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text());
        assert_eq!(read.json()["personal"]["subject_name"], "Дана Ерланқызы");
    }
}
