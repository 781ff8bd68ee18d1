//! The application role's grants: it adds and reads receipts and events, never changes or removes them.

use super::*;

/// The grants of `sql/postgres-grants.sql`: the application role adds and reads, never changes or
/// removes receipts and events; the owner is stopped by the triggers.
#[test]
fn the_application_role_adds_and_reads_but_never_changes() {
    let Some(admin) = url_for_postgres_only_test("grants") else {
        return;
    };
    let schema = TestSchema::new(&admin, "grants");
    let owner = format!("{}_owner", schema.name);
    let app = format!("{}_app", schema.name);
    sql(
        &admin,
        &format!(
            "CREATE ROLE {owner} LOGIN; CREATE ROLE {app} LOGIN; \
             GRANT ALL ON SCHEMA {s} TO {owner}; GRANT USAGE ON SCHEMA {s} TO {app};",
            s = schema.name
        ),
    );
    // The owner migrates; the application role could not.
    let e = open(&schema.url_as(&app)).err().unwrap();
    assert!(e.to_string().contains("owner role"), "{e}");
    open(&schema.url_as(&owner)).unwrap().close();
    let grants = include_str!("../../sql/postgres-grants.sql").replace(":\"app\"", &app);
    sql(&schema.url_as(&owner), &grants);
    let store = open(&schema.url_as(&app)).unwrap();
    write(store.as_ref(), rights(1)).unwrap();
    write(store.as_ref(), link(2)).unwrap();
    write(store.as_ref(), rights_at(2, 1_768_471_201, Rights::Erase)).unwrap();
    let access = Write::Access {
        subject: SubjectRef::Subject(SubjectId([3; 16])),
        case: NewCase {
            kind: CaseKind::Access,
            received_at: Timestamp::from_unix(1_768_471_202),
            due_at: None,
            handled_by: "dpo".into(),
            done: false,
        },
    };
    let Written::Case(case) = write(store.as_ref(), access).unwrap() else {
        panic!("an access request opens a case");
    };
    let close = |by: &str| Write::CloseCase {
        id: case,
        at: Timestamp::from_unix(1_768_471_203),
        by: by.into(),
    };
    write(store.as_ref(), close("dpo")).unwrap();
    assert!(matches!(
        write(store.as_ref(), close("again")),
        Err(StoreError::NoOpenCase(_))
    ));
    // Webhook deliveries (issue 20.4): written with the event, claimed, failed into dead-letter, retried,
    // acknowledged (which closes the case), all with the application's grants.
    let t = 1_768_471_204_000;
    let mut restrict = rights_at(4, t / 1000, Rights::Restrict);
    if let Write::Rights {
        case, deliveries, ..
    } = &mut restrict
    {
        case.done = false;
        deliveries.push(NewDelivery {
            msg_id: "msg_grants".into(),
            webhook: "crm".into(),
            event: WebhookEvent::Restricted,
            occurs_at: Timestamp::from_unix(t / 1000),
            purposes: Vec::new(),
            payload: "{}".into(),
            dead_at_ms: t + 100_000,
            for_case: true,
        });
    }
    write(store.as_ref(), restrict).unwrap();
    let claim = || Write::ClaimDeliveries {
        now_ms: t + 1000,
        lease_ms: 1000,
        limit: 10,
    };
    let Written::Deliveries(d) = write(store.as_ref(), claim()).unwrap() else {
        panic!("a claim hands out deliveries");
    };
    let failed = Attempt::Failed {
        error: "the receiver answered 503".into(),
        retry_at_ms: t + 200_000,
    };
    let attempt = |attempt| Write::DeliveryAttempt {
        id: d[0].id,
        at_ms: t + 1500,
        attempt,
    };
    write(store.as_ref(), attempt(failed)).unwrap();
    let retry = Write::RetryDeliveries {
        id: None,
        now_ms: t + 1000,
    };
    assert_eq!(write(store.as_ref(), retry).unwrap(), Written::Count(1));
    let Written::Deliveries(again) = write(store.as_ref(), claim()).unwrap() else {
        panic!("a claim hands out deliveries");
    };
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    write(store.as_ref(), attempt(Attempt::Delivered)).unwrap();
    let open = CaseQuery {
        open_only: true,
        ..CaseQuery::default()
    };
    assert!(
        store.cases(&open).unwrap().is_empty(),
        "the acknowledgement closed the case"
    );
    store.close();
    // A row to refuse to change (the row triggers fire for rows).
    sql(
        &schema.url_as(&owner),
        "INSERT INTO receipts (seq, id, subject, issued_at, policy_version, method, kid, decisions, \
         expires_at, actor, jws) VALUES (1, gen_random_uuid(), 'dev:AAAAAAAAAAAAAAAAAAAAAA', 0, \
         '2025-03-26', 'custom', 'k', 'a=given', 0, 'subject', 'x.y.z'); \
         INSERT INTO policies VALUES ('2025-03-26', 'h', '{}'); \
         INSERT INTO data_keys VALUES ('dev:AAAAAAAAAAAAAAAAAAAAAA', decode(repeat('00', 32), 'hex'), 1)",
    );
    // What the application may do only as an erasure or a closing does it: its grants allow the
    // statement, the triggers refuse it (for the owner too).
    for statement in [
        "DELETE FROM data_keys",
        "UPDATE receipts SET jws = 'erased:x'",
        "UPDATE cases SET closed_at = 1",
    ] {
        for role in [&app, &owner] {
            let (code, message) = schema.error_as(Some(role), statement);
            assert!(
                message.contains("only by an erasure")
                    || message.contains("append-only")
                    || message.contains("closes, once"),
                "{statement} as {role}: {code} {message}"
            );
        }
    }
    for statement in [
        "UPDATE events SET kind = 'unblock'",
        "DELETE FROM events",
        "DELETE FROM receipts",
        "TRUNCATE receipts",
        "UPDATE policies SET sha256 = 'x'",
        "UPDATE data_keys SET key = key",
        "TRUNCATE data_keys",
        "DELETE FROM cases",
        "TRUNCATE cases",
        "DROP TABLE receipts",
    ] {
        let (code, message) = schema.error_as(Some(&app), statement);
        assert!(
            code == "42501" || message.contains("must be owner"),
            "{statement}: {code} {message}"
        );
        if statement.starts_with("DROP") {
            continue; // the owner owns the table: only the application role is stopped
        }
        let (code, message) = schema.error_as(Some(&owner), statement);
        assert!(
            message.contains("append-only")
                || message.contains("immutable")
                || message.contains("never change")
                || message.contains("only by an erasure")
                || message.contains("cases are kept"),
            "{statement} as owner: {code} {message}"
        );
    }
    assert_eq!(
        schema.value("SELECT count(*) FROM events"),
        Some("3".to_owned())
    );
    drop(schema);
    sql(&admin, &format!("DROP ROLE {app}; DROP ROLE {owner};"));
}
