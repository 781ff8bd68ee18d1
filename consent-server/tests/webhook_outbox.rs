//! The webhook outbox in the store, on either engine (SQLite; PostgreSQL when `DATABASE_URL` is set),
//! driven by hand with a fixed clock: deliveries written with the receipt or rights event, handed out one
//! at a time per subject in event order, leased, retried, moved to dead-letter (which blocks the
//! subject's later deliveries until retried), expiries cancelled by a newer decision, and a rights case
//! that closes with the last acknowledgement.

mod common;

use axum::http::StatusCode;
use common::*;
use consent_core::WebhookEvent;
use consent_server::store::{
    Attempt, CaseKind, CaseQuery, Delivery, DeliveryQuery, DeliveryState, Rights, Write, Written,
};
use consent_server::webhooks::{Subscriptions, WebhookConfig};
use serde_json::json;
use tower::ServiceExt as _;

const T0: i64 = NOW * 1000;

async fn claim(s: &TestServer, now_ms: i64) -> Vec<Delivery> {
    let w = Write::ClaimDeliveries {
        now_ms,
        lease_ms: 10_000,
        limit: 100,
    };
    match s.state.store.submit(w).unwrap().await.unwrap().unwrap() {
        Written::Deliveries(d) => d,
        other => panic!("{other:?}"),
    }
}

async fn outcome(s: &TestServer, d: &Delivery, at_ms: i64, attempt: Attempt) {
    let w = Write::DeliveryAttempt {
        id: d.id,
        at_ms,
        attempt,
    };
    s.state.store.submit(w).unwrap().await.unwrap().unwrap();
}

fn events(d: &[Delivery]) -> Vec<WebhookEvent> {
    d.iter().map(|d| d.event).collect()
}

fn open_kinds(s: &TestServer) -> Vec<CaseKind> {
    let q = CaseQuery {
        open_only: true,
        ..CaseQuery::default()
    };
    s.state
        .store
        .cases(&q)
        .unwrap()
        .iter()
        .map(|c| c.kind)
        .collect()
}

/// Subscribes `name` to `events` (and `extra` settings, one line) with a receiver that is never
/// reached (the tests drive the outbox by hand).
fn subscribe(s: &mut TestServer, name: &str, events: &[&str], extra: &str) {
    let config: WebhookConfig = toml::from_str(&format!(
        "name = \"{name}\"\nurl = \"http://127.0.0.1:9/hook\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = {events:?}\n{extra}\n"
    ))
    .unwrap();
    let subs = Subscriptions::new(&[config], &s.state.policy).unwrap();
    s.state = s.state.clone().with_webhooks(subs);
}

#[tokio::test]
async fn deliveries_go_out_in_order_per_subject_with_retries_dead_letter_and_cases() {
    let mut s = server("webhook-outbox").await;
    subscribe(
        &mut s,
        "crm",
        &[
            "consent.given",
            "consent.withdrawn",
            "consent.expired",
            "subject.restricted",
            "subject.unblocked",
        ],
        "dead_after_secs = 100",
    );

    // A banner consent: `consent.given`, and the expiry of the purpose a year on (not due).
    let body = consent_body(json!({"cookies-analytics": "given"}));
    let r = consent_server::app(s.state.clone())
        .oneshot(post_json("/v1/consents", &body))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let all = s.state.store.deliveries(&DeliveryQuery::default()).unwrap();
    assert_eq!(events(&all), [WebhookEvent::Given, WebhookEvent::Expired]);
    let subject = all[0].subject;
    assert!(all[1].occurs_at.as_unix() > NOW + 86_400 * 30);
    assert!(!all[0].payload.contains("\"name\""));
    // Both pending; only `consent.given` is due (what `/metrics` alerts on): the expiry is a year on.
    let pending = |now_ms| {
        let counts = s.state.store.delivery_counts(now_ms).unwrap();
        let c = counts.iter().find(|c| c.state == DeliveryState::Pending);
        c.map_or((0, 0), |c| (c.count, c.due))
    };
    assert_eq!(pending(T0), (2, 1));
    assert_eq!(
        pending(T0 - 1_000),
        (2, 0),
        "nothing due before it was recorded"
    );

    // A withdrawal (its case waits for the acknowledgement; the expiry is cancelled) and a restriction.
    consent_server::api::staff_withdraw(&s.state, subject, None, "dpo")
        .await
        .unwrap();
    consent_server::api::staff_rights(&s.state, subject, Rights::Restrict, "dpo")
        .await
        .unwrap();
    assert_eq!(
        open_kinds(&s),
        [CaseKind::Withdrawal, CaseKind::Restriction]
    );
    let cancelled = DeliveryQuery {
        state: Some(DeliveryState::Cancelled),
        limit: None,
    };
    assert_eq!(
        events(&s.state.store.deliveries(&cancelled).unwrap()),
        [WebhookEvent::Expired]
    );

    // One at a time, in order: the head, leased (not handed out again while the lease runs).
    let first = claim(&s, T0 + 1).await;
    assert_eq!(events(&first), [WebhookEvent::Given]);
    assert!(claim(&s, T0 + 2).await.is_empty());
    // A failure: due again at the retry time, not before; the attempt is counted.
    let failed = Attempt::Failed {
        error: "the receiver answered 503".into(),
        retry_at_ms: T0 + 500,
    };
    outcome(&s, &first[0], T0 + 3, failed).await;
    assert!(claim(&s, T0 + 499).await.is_empty());
    let again = claim(&s, T0 + 500).await;
    assert_eq!((again[0].id, again[0].attempts), (first[0].id, 2));
    outcome(&s, &again[0], T0 + 501, Attempt::Delivered).await;

    // The withdrawal next; its acknowledgement closes its case.
    let next = claim(&s, T0 + 600).await;
    assert_eq!(events(&next), [WebhookEvent::Withdrawn]);
    outcome(&s, &next[0], T0 + 601, Attempt::Delivered).await;
    assert_eq!(open_kinds(&s), [CaseKind::Restriction]);

    // The restriction fails past its dead-letter time: dead, and it blocks the unblocking after it.
    let restricted = claim(&s, T0 + 700).await;
    assert_eq!(events(&restricted), [WebhookEvent::Restricted]);
    let too_late = Attempt::Failed {
        error: "no answer: connection refused".into(),
        retry_at_ms: T0 + 200_000,
    };
    outcome(&s, &restricted[0], T0 + 701, too_late).await;
    consent_server::api::staff_rights(&s.state, subject, Rights::Unblock, "dpo")
        .await
        .unwrap();
    assert!(
        claim(&s, T0 + 800).await.is_empty(),
        "a dead delivery blocks the subject's next ones"
    );
    let counts = s.state.store.delivery_counts(T0 + 800).unwrap();
    let count = |state| {
        counts
            .iter()
            .find(|c| c.state == state)
            .map_or(0, |c| c.count)
    };
    assert_eq!(
        (count(DeliveryState::Dead), count(DeliveryState::Delivered)),
        (1, 2)
    );
    assert_eq!(counts.iter().map(|c| c.failed_attempts).sum::<u64>(), 2);

    // Retried from dead-letter: the order resumes, and the restriction's case closes.
    let w = Write::RetryDeliveries {
        id: None,
        now_ms: T0 + 900,
    };
    let retried = s.state.store.submit(w).unwrap().await.unwrap().unwrap();
    assert_eq!(retried, Written::Count(1));
    let back = claim(&s, T0 + 900).await;
    assert_eq!(events(&back), [WebhookEvent::Restricted]);
    outcome(&s, &back[0], T0 + 901, Attempt::Delivered).await;
    assert_eq!(open_kinds(&s), [CaseKind::Unblocking]);
    let last = claim(&s, T0 + 1000).await;
    assert_eq!(events(&last), [WebhookEvent::Unblocked]);
    outcome(&s, &last[0], T0 + 1001, Attempt::Delivered).await;
    assert!(open_kinds(&s).is_empty());
    assert!(claim(&s, T0 + 2000).await.is_empty());
    assert!(!s.state.store.deliveries_due(T0 + 2000).unwrap());
}

/// `POST /v1/consents` of `decisions` for `device` (its pseudonym and consent token), or for a new
/// device; each request its own task, so that they queue at the writer together. The answers, in order.
async fn choose_at_once(
    s: &TestServer,
    requests: Vec<(serde_json::Value, Option<(String, String)>)>,
) -> Vec<serde_json::Value> {
    let mut tasks = Vec::new();
    for (decisions, device) in requests {
        let mut body = consent_body(decisions);
        if let Some((subject, _)) = &device {
            body["subject"] = json!({ "device": subject.trim_start_matches("dev:") });
        }
        let mut req = post_json("/v1/consents", &body);
        if let Some((_, token)) = &device {
            req.headers_mut()
                .insert("x-consent-token", token.parse().unwrap());
        }
        let state = s.state.clone();
        tasks.push(tokio::spawn(async move {
            consent_server::app(state).oneshot(req).await.unwrap()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&body)
        );
        out.push(serde_json::from_slice(&body).unwrap());
    }
    out
}
/// Receipts that queue at once are committed together (on PostgreSQL the writer's fast path writes a
/// batch's deliveries in one statement, issue 19.7): each receipt's deliveries stay in log order, a new
/// choice cancels its subject's pending expiry, and two choices of one subject at once cancel in order
/// (the first one's expiry, not the second's).
#[tokio::test]
async fn receipts_committed_together_keep_their_deliveries_in_order_and_cancel_expiries() {
    let mut s = server("webhook-outbox-batch").await;
    subscribe(
        &mut s,
        "crm",
        &["consent.given", "consent.refused", "consent.expired"],
        "",
    );
    let given = json!({"cookies-analytics": "given"});

    // 32 first choices at once: a `consent.given` and an expiry each, in the order of the log.
    let mut first = choose_at_once(&s, (0..32).map(|_| (given.clone(), None)).collect()).await;
    first.sort_by_key(|a| a["log_index"].as_u64().unwrap());
    let subject = |a: &serde_json::Value| a["subject"].as_str().unwrap().to_owned();
    let expected: Vec<(String, WebhookEvent)> = first
        .iter()
        .flat_map(|a| {
            [
                (subject(a), WebhookEvent::Given),
                (subject(a), WebhookEvent::Expired),
            ]
        })
        .collect();
    let stored = |q: DeliveryQuery| -> Vec<(String, WebhookEvent)> {
        s.state
            .store
            .deliveries(&q)
            .unwrap()
            .iter()
            .map(|d| (d.subject.to_string(), d.event))
            .collect()
    };
    assert_eq!(stored(DeliveryQuery::default()), expected);

    // Half of them refuse at once: each gets `consent.refused`, and its expiry is cancelled; the
    // others' expiries stay pending.
    let renewals: Vec<(serde_json::Value, Option<(String, String)>)> = first[..16]
        .iter()
        .map(|a| {
            let token = a["token"].as_str().unwrap().to_owned();
            (
                json!({"cookies-analytics": "refused"}),
                Some((subject(a), token)),
            )
        })
        .collect();
    choose_at_once(&s, renewals).await;
    let cancelled = DeliveryQuery {
        state: Some(DeliveryState::Cancelled),
        limit: None,
    };
    let mut got = stored(cancelled);
    got.sort();
    let mut want: Vec<_> = first[..16]
        .iter()
        .map(|a| (subject(a), WebhookEvent::Expired))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let pending = DeliveryQuery {
        state: Some(DeliveryState::Pending),
        limit: None,
    };
    let expiries = |q: DeliveryQuery| {
        stored(q)
            .into_iter()
            .filter(|d| d.1 == WebhookEvent::Expired)
            .count()
    };
    assert_eq!(expiries(pending), 16);
    assert_eq!(
        stored(pending)
            .iter()
            .filter(|d| d.1 == WebhookEvent::Refused)
            .count(),
        16
    );

    // One device gives twice at once: the second choice cancels the first one's expiry (whichever
    // the log has first), one expiry of the device stays pending.
    let a = &first[20];
    let device = (subject(a), a["token"].as_str().unwrap().to_owned());
    let twice = vec![
        (given.clone(), Some(device.clone())),
        (given.clone(), Some(device.clone())),
    ];
    choose_at_once(&s, twice).await;
    let of_device = |q: DeliveryQuery| {
        stored(q)
            .into_iter()
            .filter(|d| d.0 == device.0 && d.1 == WebhookEvent::Expired)
            .count()
    };
    assert_eq!(of_device(pending), 1);
    assert_eq!(of_device(cancelled), 2);
}

/// A subscription to expiries only: a refusal is heard by no one (no delivery of its own) but still
/// cancels the expiry its device's earlier consent scheduled, on the writer's batched path too (on
/// PostgreSQL its fast path skipped the cancellation when a batch wrote no delivery).
#[tokio::test]
async fn a_refusal_no_one_hears_still_cancels_the_expiry_scheduled_before() {
    let mut s = server("webhook-outbox-quiet-refusal").await;
    subscribe(&mut s, "archive", &["consent.expired"], "");
    let given = json!({"cookies-analytics": "given"});
    let first = choose_at_once(&s, (0..8).map(|_| (given.clone(), None)).collect()).await;
    let expiries = |state| {
        let q = DeliveryQuery {
            state: Some(state),
            limit: None,
        };
        let d = s.state.store.deliveries(&q).unwrap();
        assert!(d.iter().all(|d| d.event == WebhookEvent::Expired), "{d:?}");
        d.len()
    };
    assert_eq!(expiries(DeliveryState::Pending), 8);
    // Six devices refuse at once, each with its token: no delivery is written, six expiries cancelled.
    let refusals = first[..6]
        .iter()
        .map(|a| {
            let device = (
                a["subject"].as_str().unwrap().to_owned(),
                a["token"].as_str().unwrap().to_owned(),
            );
            (json!({"cookies-analytics": "refused"}), Some(device))
        })
        .collect();
    choose_at_once(&s, refusals).await;
    assert_eq!(expiries(DeliveryState::Cancelled), 6);
    assert_eq!(expiries(DeliveryState::Pending), 2);
}
