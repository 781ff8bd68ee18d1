//! The store on either engine (SQLite; PostgreSQL when `DATABASE_URL` is set): typed values in and out,
//! pseudonym links and erasure, the policy-version check, receipts numbered in order without gaps, one
//! failing write that does not undo the others of its batch, idempotency keys (repeats, lapse, erasure),
//! and append-only tables that the database itself enforces.

mod common;

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
        Write::Rights {
            subject,
            at: Timestamp::from_unix(NOW),
            what: Rights::Restrict,
            case: case_for(Rights::Restrict, NOW),
            redact: Vec::new(),
            record: "restrict".into(),
            deliveries: Vec::new(),
        },
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

/// Idempotency keys (issue 18.7), whatever the batches: new keys are stored with their receipts; a key
/// seen again (in a later batch, or twice in one) writes nothing and names the first receipt, saying
/// whether the body was the same; a key whose time has come is forgotten; an erasure drops the person's
/// keys and no one else's. Receipts stay numbered without gaps.
#[tokio::test]
async fn idempotency_keys_answer_repeats_lapse_and_go_with_an_erasure() {
    let origin = server("store-idempotency-origin").await;
    let verified: Vec<_> = consents(&origin, 10)
        .await
        .iter()
        .map(|jws| {
            UnverifiedReceipt::parse(jws)
                .unwrap()
                .verify(&origin.state.keys.receipts)
                .unwrap()
        })
        .collect();
    let s = server("store-idempotency").await;
    let day = NOW + 86_400;
    let key = |n: u8, body: u8, expires: i64| {
        Some(Idempotency {
            key: [n; 32],
            body: [body; 32],
            expires_at: Timestamp::from_unix(expires),
        })
    };
    let receipt = |i: usize, k: Option<Idempotency>| {
        Write::Receipt(Box::new(
            NewReceipt::new(&verified[i], None)
                .unwrap()
                .with_idempotency(k),
        ))
    };
    let id = |i: usize| NewReceipt::new(&verified[i], None).unwrap().id();
    let batch = |writes: Vec<Write>| {
        let pending: Vec<_> = writes
            .into_iter()
            .map(|w| s.state.store.submit(w).unwrap())
            .collect();
        async move {
            let mut out = Vec::new();
            for rx in pending {
                out.push(rx.await.unwrap().unwrap());
            }
            out
        }
    };
    // New receipts are logged in order, without gaps; repeats take no index.
    let logged = |i: u64| Written::Logged(LogIndex(i));
    let repeat = |i: usize, same_body: bool| Written::Repeat {
        receipt: id(i),
        same_body,
    };

    // New keys and a receipt without one; receipt 0 also makes its subject's data key (issue 20.1).
    let with_data_key = Write::Receipt(Box::new(
        NewReceipt::new(&verified[0], None)
            .unwrap()
            .with_idempotency(key(1, 1, day))
            .with_new_data_key(DataKey::from_bytes([7; 32])),
    ));
    let got = batch(vec![
        with_data_key,
        receipt(1, None),
        receipt(2, key(2, 1, day)),
    ])
    .await;
    assert_eq!(got, [logged(0), logged(1), logged(2)]);
    // Key 1 again (same body, another body), key 3 twice in one batch.
    let got = batch(vec![
        receipt(3, key(1, 1, day)),
        receipt(4, key(1, 2, day)),
        receipt(5, key(3, 1, day)),
        receipt(6, key(3, 1, day)),
    ])
    .await;
    assert_eq!(
        got,
        [
            repeat(0, true),
            repeat(0, false),
            logged(3),
            repeat(5, true)
        ]
    );
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 4);
    // A key that lapses when the receipts are issued (NOW) is forgotten by the next one.
    let got = batch(vec![receipt(7, key(4, 1, NOW))]).await;
    assert_eq!(got, [logged(4)]);
    let got = batch(vec![receipt(3, key(4, 1, day))]).await;
    assert_eq!(got, [logged(5)]);
    // Receipt 0's subject erased: its data key and its idempotency keys go in the erasure's
    // transaction; key 1 is new again; key 2 (another device's) is still a repeat.
    let erased = NewReceipt::new(&verified[0], None).unwrap().subject();
    assert!(
        read(&s, move |st| st.data_key(erased))
            .await
            .unwrap()
            .is_some()
    );
    let erase = Write::Rights {
        subject: erased,
        at: Timestamp::from_unix(NOW),
        what: Rights::Erase,
        case: case_for(Rights::Erase, NOW),
        redact: Vec::new(),
        record: "erase".into(),
        deliveries: Vec::new(),
    };
    assert_eq!(write(&s, erase).await.unwrap(), logged(6));
    assert!(
        read(&s, move |st| st.data_key(erased))
            .await
            .unwrap()
            .is_none()
    );
    let got = batch(vec![receipt(8, key(1, 1, day)), receipt(9, key(2, 1, day))]).await;
    assert_eq!(got, [logged(7), repeat(2, true)]);
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 7);
    let last = read(&s, |st| st.last_receipt()).await.unwrap().unwrap();
    assert_eq!((last.seq, last.id), (Seq(7), id(8)));
}

/// The database refuses to change receipts and events, whoever asks: SQLite's triggers, PostgreSQL's
/// (for the tables' owner; the application's role has no such right at all, `tests/postgres.rs`).
#[tokio::test]
async fn receipts_and_events_are_append_only_in_the_database() {
    let s = server("store-append-only").await;
    consents(&s, 2).await;
    let subject = SubjectRef::Subject(SubjectId([5; 16]));
    let w = Write::Rights {
        subject,
        at: Timestamp::from_unix(NOW),
        what: Rights::Restrict,
        case: case_for(Rights::Restrict, NOW),
        redact: Vec::new(),
        record: "restrict".into(),
        deliveries: Vec::new(),
    };
    write(&s, w).await.unwrap();
    let attempts = [
        (
            "UPDATE receipts SET subject = 'dev:x'",
            "receipts are append-only",
        ),
        ("DELETE FROM receipts", "receipts are append-only"),
        (
            "UPDATE events SET kind = 'unblock'",
            "events are append-only",
        ),
        ("DELETE FROM events", "events are append-only"),
        (
            "UPDATE policies SET sha256 = 'x'",
            "policy versions are immutable",
        ),
    ];
    match &s.schema {
        Some(schema) => {
            for (sql, want) in attempts
                .iter()
                .copied()
                .chain([("TRUNCATE receipts", "receipts are append-only")])
            {
                let (code, message) = schema.error_as(None, sql);
                assert!(message.contains(want), "{sql}: {code} {message}");
            }
        }
        None => {
            let db = rusqlite::Connection::open(s.dir.join("consent.db")).unwrap();
            for (sql, want) in attempts {
                let e = db.execute(sql, []).unwrap_err().to_string();
                assert!(e.contains(want), "{sql}: {e}");
            }
        }
    }
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 2);
}

/// Data keys, cases and live subjects, on either engine (issue 20.1, 20.3, 20.6): a key made with a
/// receipt and read back; a second first key for the subject refused with nothing stored; a case opened
/// with a receipt and by an access request, closed once; an erasure that destroys the key, marks the
/// subject not live and redacts a receipt, once; the cases' rules kept by the database itself.
#[tokio::test]
async fn data_keys_cases_and_live_subjects() {
    // Two receipts of one browser, signed elsewhere.
    let origin = server("store-keys-origin").await;
    let verify = |jws: &str| {
        UnverifiedReceipt::parse(jws)
            .unwrap()
            .verify(&origin.state.keys.receipts)
            .unwrap()
    };
    let mut body = consent_body(json!({"cookies-analytics": "given"}));
    body["subject"] = json!({ "device": SubjectId([6; 16]).to_string() });
    let one = call(&origin, post_json("/v1/consents", &body)).await.json();
    body["decisions"] = json!({"cookies-analytics": "withdrawn"});
    let mut again = post_json("/v1/consents", &body);
    again.headers_mut().insert(
        "x-consent-token",
        one["token"].as_str().unwrap().parse().unwrap(),
    );
    let two = call(&origin, again).await.json();
    let first = verify(one["receipt"].as_str().unwrap());
    let second = verify(two["receipt"].as_str().unwrap());
    let new = |v| NewReceipt::new(v, None).unwrap();
    let subject = new(&first).subject();
    assert_eq!(new(&second).subject(), subject);
    let (first_id, second_id) = (new(&first).id(), new(&second).id());

    let s = server("store-keys").await;
    let key = DataKey::from_bytes([3; 32]);
    let receipt = Write::Receipt(Box::new(new(&first).with_new_data_key(key.clone())));
    write(&s, receipt).await.unwrap();
    let stored = read(&s, move |st| st.data_key(subject)).await.unwrap();
    assert_eq!(stored, Some((key, Seq(1))));
    // Another first key for the subject (two requests raced): refused, the receipt not stored.
    let racing = new(&second).with_new_data_key(DataKey::from_bytes([4; 32]));
    let e = write(&s, Write::Receipt(Box::new(racing)))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::DataKeyExists), "{e:?}");
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 1);
    // Sealed under the stored key instead, with a withdrawal's case (open).
    let withdrawal = NewCase {
        kind: CaseKind::Withdrawal,
        received_at: Timestamp::from_unix(NOW),
        due_at: Some(Timestamp::from_unix(NOW + 86_400)),
        handled_by: "subject".into(),
        done: false,
    };
    let receipt = Write::Receipt(Box::new(new(&second).with_case(withdrawal)));
    write(&s, receipt).await.unwrap();
    let live = read(&s, |st| st.live_subjects()).await.unwrap();
    assert_eq!((live.persons, live.devices), (0, 1));

    // An access request: a case, closed once.
    let access = Write::Access {
        subject,
        case: NewCase {
            kind: CaseKind::Access,
            received_at: Timestamp::from_unix(NOW + 1),
            due_at: None,
            handled_by: "dpo".into(),
            done: false,
        },
    };
    let Written::Case(access) = write(&s, access).await.unwrap() else {
        panic!("an access request opens a case");
    };
    let close = |id| Write::CloseCase {
        id,
        at: Timestamp::from_unix(NOW + 2),
        by: "dpo".into(),
    };
    write(&s, close(access)).await.unwrap();
    for id in [access, CaseId(999)] {
        let e = write(&s, close(id)).await.unwrap_err();
        assert!(matches!(e, StoreError::NoOpenCase(n) if n == id), "{e:?}");
    }
    let q = CaseQuery {
        subject: Some(subject),
        ..CaseQuery::default()
    };
    let cases = read(&s, move |st| st.cases(&q)).await.unwrap();
    let seen: Vec<_> = cases
        .iter()
        .map(|c| (c.kind, c.receipt, c.due_at, c.closed.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                CaseKind::Withdrawal,
                Some(second_id),
                Some(Timestamp::from_unix(NOW + 86_400)),
                None
            ),
            (
                CaseKind::Access,
                None,
                None,
                Some((Timestamp::from_unix(NOW + 2), "dpo".into()))
            ),
        ]
    );
    let open = CaseQuery {
        open_only: true,
        limit: Some(5),
        ..CaseQuery::default()
    };
    let open = read(&s, move |st| st.cases(&open)).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, CaseKind::Withdrawal);

    // The erasure: the key destroyed, the subject no longer live, the first receipt redacted.
    let erase = Write::Rights {
        subject,
        at: Timestamp::from_unix(NOW + 3),
        what: Rights::Erase,
        case: case_for(Rights::Erase, NOW + 3),
        redact: vec![(first_id, "erased:header.payload.signature".into())],
        record: "erase".into(),
        deliveries: Vec::new(),
    };
    write(&s, erase).await.unwrap();
    assert_eq!(
        read(&s, move |st| st.data_key(subject)).await.unwrap(),
        None
    );
    let live = read(&s, |st| st.live_subjects()).await.unwrap();
    assert_eq!((live.persons, live.devices), (0, 0));
    let redacted = read(&s, move |st| st.receipt(first_id))
        .await
        .unwrap()
        .unwrap();
    assert!(redacted.is_redacted(), "{}", redacted.jws);
    let kept = read(&s, move |st| st.receipt(second_id))
        .await
        .unwrap()
        .unwrap();
    assert!(!kept.is_redacted());

    // The database keeps the rules: a receipt is redacted once; a case only closes, and is kept.
    let attempts = [
        (
            format!("UPDATE receipts SET jws = 'erased:again' WHERE id = '{first_id}'"),
            "receipts are append-only",
        ),
        (
            "UPDATE cases SET kind = 'access'".to_owned(),
            "a case only closes, once",
        ),
        ("DELETE FROM cases".to_owned(), "cases are kept"),
    ];
    match &s.schema {
        Some(schema) => {
            // PostgreSQL also keeps the data keys: deleted only by an erasure of their subject (this
            // one never was), never changed.
            let key_rules = [
                (
                    "INSERT INTO data_keys VALUES ('dev:AAAAAAAAAAAAAAAAAAAAAA', \
                     decode(repeat('01', 32), 'hex'), 2); DELETE FROM data_keys"
                        .to_owned(),
                    "deleted only by an erasure",
                ),
                (
                    "INSERT INTO data_keys VALUES ('dev:AAAAAAAAAAAAAAAAAAAAAA', \
                     decode(repeat('01', 32), 'hex'), 2); UPDATE data_keys SET created_seq = 1"
                        .to_owned(),
                    "data keys never change",
                ),
            ];
            for (sql, want) in attempts.iter().chain(&key_rules) {
                let (code, message) = schema.error_as(None, sql);
                assert!(message.contains(want), "{sql}: {code} {message}");
            }
        }
        None => {
            let db = rusqlite::Connection::open(s.dir.join("consent.db")).unwrap();
            for (sql, want) in &attempts {
                let e = db.execute(sql, []).unwrap_err().to_string();
                assert!(e.contains(want), "{sql}: {e}");
            }
        }
    }
}
