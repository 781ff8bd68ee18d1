//! Data keys, rights cases and the count of live subjects.

use super::*;

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
