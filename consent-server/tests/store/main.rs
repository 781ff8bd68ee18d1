//! The store on either engine (SQLite; PostgreSQL when `DATABASE_URL` is set): typed values in and out,
//! pseudonym links and erasure, the policy-version check, receipts numbered in order without gaps, one
//! failing write that does not undo the others of its batch, idempotency keys (repeats, lapse, erasure),
//! and append-only tables that the database itself enforces.

#[path = "../common.rs"]
mod common;

// The tests, one module per concern; this file holds the helpers they share, and the tests of links,
// erasure and the writer's order.
mod append_only;
mod cases;
mod idempotency;

use axum::http::StatusCode;
use common::*;
use consent_core::{
    DataKey, HmacKey, PolicyHash, PolicyVersion, SubjectId, Timestamp, UnverifiedReceipt,
};
use consent_server::privacy::{SubjectRef, subject_lookup};
use consent_server::store::{
    CaseId, CaseKind, CaseQuery, ExportQuery, Idempotency, LogIndex, NewCase, NewReceipt, Rights,
    Seq, Store, StoreError, StoredReceipt, Write, Written,
};
use serde_json::json;

async fn write(s: &TestServer, w: Write) -> Result<Written, StoreError> {
    s.state.store.submit(w).unwrap().await.unwrap()
}

/// A rights request on `subject` at `at`, done at once, that redacts nothing and notifies nobody (its
/// record text is the request's name).
fn rights(subject: SubjectRef, what: Rights, at: i64) -> Write {
    Write::Rights {
        subject,
        at: Timestamp::from_unix(at),
        what,
        case: case_for(what, at),
        redact: Vec::new(),
        record: what.as_str().into(),
        deliveries: Vec::new(),
    }
}

/// The case a rights request opens (done at once, undated: the calendar is not what is tested here).
fn case_for(what: Rights, at: i64) -> NewCase {
    NewCase {
        kind: match what {
            Rights::Restrict => CaseKind::Restriction,
            Rights::Unblock => CaseKind::Unblocking,
            _ => CaseKind::Erasure,
        },
        received_at: Timestamp::from_unix(at),
        due_at: None,
        handled_by: "dpo".into(),
        done: true,
    }
}

async fn read<T: Send + 'static>(
    s: &TestServer,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = s.state.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .unwrap()
}

/// `n` consents through the API, concurrently; their receipts' JWS.
async fn consents(s: &TestServer, n: usize) -> Vec<String> {
    use tower::ServiceExt as _;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let mut body = consent_body(json!({"cookies-analytics": "given"}));
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        body["subject"] = json!({ "device": SubjectId(id).to_string() });
        let app = consent_server::app(s.state.clone());
        tasks.spawn(async move {
            let r = app.oneshot(post_json("/v1/consents", &body)).await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let body = http_body_util::BodyExt::collect(r.into_body())
                .await
                .unwrap()
                .to_bytes();
            let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
            j["receipt"].as_str().unwrap().to_owned()
        });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn links_erasure_events_and_policy_versions() {
    let s = server("store-typed").await;
    let lookup = subject_lookup(&HmacKey::from_bytes([1; 32]), "a@example.org");
    let first = SubjectRef::Subject(SubjectId([2; 16]));
    let link = |s| Write::Link {
        lookup,
        new_subject: s,
    };
    assert_eq!(
        write(&s, link(first)).await.unwrap(),
        Written::Subject(first)
    );
    // The link exists: the first pseudonym stays.
    let other = SubjectRef::Subject(SubjectId([3; 16]));
    assert_eq!(
        write(&s, link(other)).await.unwrap(),
        Written::Subject(first)
    );
    assert_eq!(
        read(&s, move |st| st.lookup_subject(&lookup))
            .await
            .unwrap(),
        Some(first)
    );
    for (t, what) in [
        (5, Rights::Restrict),
        (6, Rights::Unblock),
        (7, Rights::Erase),
    ] {
        let w = Write::Rights {
            subject: first,
            at: Timestamp::from_unix(t),
            what,
            case: case_for(what, t),
            redact: Vec::new(),
            record: format!("{} at {t}", what.as_str()),
            deliveries: Vec::new(),
        };
        write(&s, w).await.unwrap();
    }
    // Erased: nobody can go from the id to the pseudonym; the events stay, in order.
    assert_eq!(
        read(&s, move |st| st.lookup_subject(&lookup))
            .await
            .unwrap(),
        None
    );
    let events = read(&s, move |st| st.subject_events(first)).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| format!("{:?}", e.kind)).collect();
    assert_eq!(kinds, ["Restrict", "Unblock", "Erase"]);
    // A new consent after erasure makes a new pseudonym.
    assert_eq!(
        write(&s, link(other)).await.unwrap(),
        Written::Subject(other)
    );
    let version: PolicyVersion = "2024-01-01".parse().unwrap();
    let policy = |h| Write::Policy {
        version,
        sha256: PolicyHash([h; 32]),
        canonical: "{}".into(),
    };
    write(&s, policy(1)).await.unwrap();
    write(&s, policy(1)).await.unwrap();
    assert!(matches!(
        write(&s, policy(2)).await,
        Err(StoreError::PolicyChanged(v)) if v == version
    ));
}
#[tokio::test]
async fn receipts_are_numbered_in_order_without_gaps() {
    let s = server("store-order").await;
    assert_eq!(read(&s, |st| st.last_receipt()).await.unwrap(), None);
    let jws = consents(&s, 40).await;
    let mut all: Vec<StoredReceipt> = Vec::new();
    read(&s, |st| {
        let mut out = Vec::new();
        st.export(&ExportQuery::default(), &mut |r| {
            out.push(r);
            true
        })?;
        Ok(out)
    })
    .await
    .unwrap()
    .into_iter()
    .for_each(|r| all.push(r));
    let seqs: Vec<u64> = all.iter().map(|r| r.seq.0).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    let mut stored: Vec<&str> = all.iter().map(|r| r.jws.as_str()).collect();
    let mut sent: Vec<&str> = jws.iter().map(String::as_str).collect();
    stored.sort_unstable();
    sent.sort_unstable();
    assert_eq!(stored, sent);
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 40);
    let last = read(&s, |st| st.last_receipt()).await.unwrap().unwrap();
    assert_eq!(last.seq, Seq(40));
    // Pages continue after a receipt, and a stopped export counts what it handed out.
    let page = read(&s, |st| {
        let mut out = Vec::new();
        let q = ExportQuery {
            after_seq: Some(Seq(30)),
            limit: Some(5),
            ..ExportQuery::default()
        };
        let n = st.export(&q, &mut |r| {
            out.push(r.seq.0);
            out.len() < 3
        })?;
        Ok((n, out))
    })
    .await
    .unwrap();
    assert_eq!(page, (3, vec![31, 32, 33]));
    let one = all[7].clone();
    let id = one.id;
    assert_eq!(
        read(&s, move |st| st.receipt(id)).await.unwrap(),
        Some(one.clone())
    );
    let subject = one.subject;
    assert_eq!(
        read(&s, move |st| st.subject_receipts(subject))
            .await
            .unwrap(),
        vec![one]
    );
    // A device with a receipt has receipts; the same bits as a person, or another device, have none.
    assert!(read(&s, move |st| st.has_receipts(subject)).await.unwrap());
    let SubjectRef::Device(bits) = subject else {
        panic!("the consents are a device's: {subject}")
    };
    for other in [
        SubjectRef::Subject(bits),
        SubjectRef::Device(SubjectId([0xee; 16])),
    ] {
        assert!(!read(&s, move |st| st.has_receipts(other)).await.unwrap());
    }
}
#[tokio::test]
async fn a_failing_write_does_not_undo_the_others_of_its_batch() {
    // A receipt signed elsewhere (another server's store), stored twice in one batch here: the second
    // copy breaks the id's uniqueness, the first and the writes around them are kept.
    let origin = server("store-batch-origin").await;
    let jws = consents(&origin, 1).await.remove(0);
    let verified = UnverifiedReceipt::parse(&jws)
        .unwrap()
        .verify(&origin.state.keys.receipts)
        .unwrap();
    let s = server("store-batch").await;
    let version: PolicyVersion = "2025-03-26".parse().unwrap();
    let lookup = subject_lookup(&HmacKey::from_bytes([9; 32]), "b@example.org");
    let subject = SubjectRef::Subject(SubjectId([4; 16]));
    let receipt = || {
        Write::Receipt(Box::new(
            NewReceipt::new(&verified, Some("Firefox")).unwrap(),
        ))
    };
    // Receipts only (one statement on PostgreSQL, which then falls back to one write at a time)...
    let only_receipts: Vec<_> = (0..2)
        .map(|_| s.state.store.submit(receipt()).unwrap())
        .collect();
    // ...and a mixed batch with a policy that changed.
    let changed = Write::Policy {
        version,
        sha256: PolicyHash([7; 32]),
        canonical: "{}".into(),
    };
    let mixed: Vec<_> = [
        Write::Link {
            lookup,
            new_subject: subject,
        },
        changed,
        receipt(),
        rights(subject, Rights::Restrict, NOW),
    ]
    .into_iter()
    .map(|w| s.state.store.submit(w).unwrap())
    .collect();
    let mut results = Vec::new();
    for rx in only_receipts.into_iter().chain(mixed) {
        results.push(rx.await.unwrap());
    }
    let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, true, false, false, true], "{results:?}");
    assert!(matches!(results[3], Err(StoreError::PolicyChanged(_))));
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 1);
    assert_eq!(
        read(&s, move |st| st.lookup_subject(&lookup))
            .await
            .unwrap(),
        Some(subject)
    );
    assert_eq!(
        read(&s, move |st| st.subject_events(subject))
            .await
            .unwrap()
            .len(),
        1
    );
    let stored = read(&s, |st| st.last_receipt()).await.unwrap().unwrap();
    assert_eq!((stored.seq, stored.jws.as_str()), (Seq(1), jws.as_str()));
}
