//! PostgreSQL only (`DATABASE_URL`; scripts/test's PostgreSQL pass sets it and
//! `CONSENT_TEST_REQUIRE_POSTGRES=1`, without which these tests skip loudly): migrations applied once by
//! instances that start together, one order of receipts and events across instances, the application
//! role's grants, outages classified, connections made again, TLS.

mod support;

use std::sync::Arc;
use std::time::Duration;

use consent_core::{HmacKey, SubjectId, Timestamp, WebhookEvent};
use consent_server::privacy::{SubjectRef, subject_lookup};
use consent_server::store::{
    Attempt, CaseKind, CaseQuery, Database, ExportQuery, NewCase, NewDelivery, Outage,
    POSTGRES_MIGRATIONS, Rights, Store, StoreError, StoreOptions, Write, Written,
};
use support::pg::{TestSchema, sql, url_for_postgres_only_test};

fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Database::parse(url).unwrap().open(StoreOptions::default())
}

fn with_options(url: &str, options: &str) -> String {
    // The schema's URL already has `options=-c search_path=…`: add to it.
    url.replacen(
        "options=",
        &format!("options={}%20", options.replace(' ', "%20")),
        1,
    )
}

fn write(store: &dyn Store, w: Write) -> Result<Written, StoreError> {
    store.submit(w).unwrap().blocking_recv().unwrap()
}

fn rights(n: u8) -> Write {
    rights_at(n, 1_768_471_200, Rights::Restrict)
}

fn rights_at(n: u8, at: i64, what: Rights) -> Write {
    let at = Timestamp::from_unix(at);
    let kind = match what {
        Rights::Erase => CaseKind::Erasure,
        _ => CaseKind::Restriction,
    };
    Write::Rights {
        subject: SubjectRef::Subject(SubjectId([n; 16])),
        at,
        what,
        case: NewCase {
            kind,
            received_at: at,
            due_at: None,
            handled_by: "dpo".into(),
            done: true,
        },
        redact: Vec::new(),
        record: format!("{} {n}", what.as_str()),
        deliveries: Vec::new(),
    }
}

fn link(n: u8) -> Write {
    Write::Link {
        lookup: subject_lookup(&HmacKey::from_bytes([1; 32]), &format!("p{n}@example.org")),
        new_subject: SubjectRef::Subject(SubjectId([n; 16])),
    }
}

#[test]
fn migrations_are_applied_once_when_instances_start_together() {
    let Some(admin) = url_for_postgres_only_test("migrations_once") else {
        return;
    };
    let schema = TestSchema::new(&admin, "migrations_once");
    let stores: Vec<_> = (0..4)
        .map(|_| {
            let url = schema.url.clone();
            std::thread::spawn(move || open(&url).unwrap())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(
        schema
            .value("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
        Some(
            (1..=POSTGRES_MIGRATIONS.len())
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    );
    for s in &stores {
        s.ready().unwrap();
        s.close();
    }
}

/// A database of the schema before issue 20 (migrations 1 and 2), with receipts and erasures, migrated
/// to the current one (issue 20's migration 3): its subjects are counted live unless erased after their
/// last receipt, as SQLite's migration counts them.
#[test]
fn migrating_a_database_with_receipts_and_erasures_counts_its_live_subjects() {
    let Some(admin) = url_for_postgres_only_test("migrate_subjects") else {
        return;
    };
    let schema = TestSchema::new(&admin, "migrate_subjects");
    schema.sql(&format!(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now()); {} {} \
         INSERT INTO schema_migrations (version) VALUES (1), (2);",
        POSTGRES_MIGRATIONS[0], POSTGRES_MIGRATIONS[1]
    ));
    let a = "sub:AAAAAAAAAAAAAAAAAAAAAA"; // a receipt, no erasure: live
    let b = "sub:BBBBBBBBBBBBBBBBBBBBBA"; // erased after its receipt: not live
    let c = "sub:CCCCCCCCCCCCCCCCCCCCCA"; // erased, then a new receipt: live
    let d = "dev:DDDDDDDDDDDDDDDDDDDDDA"; // a browser: live, counted apart
    let mut rows = String::new();
    for (seq, (subject, at)) in [(a, 10), (b, 10), (c, 10), (c, 30), (d, 10)]
        .into_iter()
        .enumerate()
    {
        rows.push_str(&format!(
            "INSERT INTO receipts (seq, id, subject, issued_at, policy_version, method, kid, \
             decisions, expires_at, actor, jws) VALUES ({}, gen_random_uuid(), '{subject}', {at}, \
             '2025-03-26', 'custom', 'k', 'a=given', 0, 'subject', 'x.y.z');",
            seq + 1
        ));
    }
    rows.push_str(&format!(
        "INSERT INTO events (seq, subject, at, kind) VALUES (1, '{b}', 20, 'erase'), \
         (2, '{c}', 20, 'erase'), (3, '{a}', 5, 'erase'); \
         UPDATE log_head SET receipts = 5, events = 3;"
    ));
    schema.sql(&rows);
    let store = open(&schema.url).unwrap();
    let live = store.live_subjects().unwrap();
    assert_eq!((live.persons, live.devices), (2, 1));
    store.close();
}

/// Three instances write receipts' neighbours (events) and links at once: the events are numbered
/// 1..n without a gap or a duplicate, and each instance reads what the others wrote.
#[test]
fn instances_share_one_order_and_see_each_others_writes() {
    let Some(admin) = url_for_postgres_only_test("one_order") else {
        return;
    };
    let schema = TestSchema::new(&admin, "one_order");
    let stores: Vec<Arc<dyn Store>> = (0..3).map(|_| open(&schema.url).unwrap()).collect();
    let writers: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = Arc::clone(s);
            std::thread::spawn(move || {
                // Many writes queued at once: batches, committed by three writers in turn.
                let pending: Vec<_> = (0..60u8)
                    .map(|k| s.submit(rights(i as u8 * 60 + k)).unwrap())
                    .collect();
                for p in pending {
                    p.blocking_recv().unwrap().unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(
        schema.value("SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) FROM events"),
        Some("180 1 180".to_owned())
    );
    assert_eq!(
        schema.value("SELECT events FROM log_head"),
        Some("180".to_owned())
    );
    // The consent log: one index per event, 0..180 without a gap or a duplicate, and the stored tree is
    // the tree of those entries, whichever instance reads it.
    assert_eq!(
        schema.value(
            "SELECT count(DISTINCT log_index) || ' ' || min(log_index) || ' ' || max(log_index) FROM events"
        ),
        Some("180 0 179".to_owned())
    );
    let entries = stores[1].log_entries(0, 1000).unwrap();
    assert_eq!(entries.len(), 180);
    let mut tree = consent_core::tlog::Frontier::new();
    for e in &entries {
        tree.push(consent_core::tlog::Hash::leaf(e)).unwrap();
    }
    let head = stores[2].log_head().unwrap();
    assert_eq!((head.size, head.root), (180, tree.root()));
    // A link made by one instance is found by another; the same id linked by two at once is one.
    assert!(matches!(
        write(stores[0].as_ref(), link(1)),
        Ok(Written::Subject(_))
    ));
    let lookup = subject_lookup(&HmacKey::from_bytes([1; 32]), "p1@example.org");
    assert_eq!(
        stores[2].lookup_subject(&lookup).unwrap(),
        Some(SubjectRef::Subject(SubjectId([1; 16])))
    );
    let racing: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = Arc::clone(s);
            std::thread::spawn(move || {
                let w = Write::Link {
                    lookup: subject_lookup(&HmacKey::from_bytes([1; 32]), "race@example.org"),
                    new_subject: SubjectRef::Subject(SubjectId(
                        consent_server::keys::random16().unwrap(),
                    )),
                };
                write(s.as_ref(), w).unwrap()
            })
        })
        .collect();
    let linked: Vec<Written> = racing.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(linked.windows(2).all(|w| w[0] == w[1]), "{linked:?}");
    assert_eq!(
        stores[1]
            .export(&ExportQuery::default(), &mut |_| true)
            .unwrap(),
        0
    );
    for s in &stores {
        s.close();
    }
}

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
    let grants = include_str!("../sql/postgres-grants.sql").replace(":\"app\"", &app);
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

#[test]
fn outages_are_classified_and_connections_made_again() {
    let Some(admin) = url_for_postgres_only_test("outages") else {
        return;
    };
    let schema = TestSchema::new(&admin, "outages");
    let name = format!("c_{}", schema.name);
    let store = open(&format!("{}&application_name={name}", schema.url)).unwrap();
    // A read-only session (a standby would be the same): 25006.
    let read_only = open(&with_options(
        &schema.url,
        "-c default_transaction_read_only=on",
    ))
    .unwrap();
    let e = write(read_only.as_ref(), rights(1)).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Unavailable {
                outage: Outage::ReadOnly,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(matches!(
        read_only.ready(),
        Err(StoreError::Unavailable {
            outage: Outage::ReadOnly,
            ..
        })
    ));
    read_only.close();
    // A lock held longer than the session waits: 55P03.
    let impatient = open(&with_options(&schema.url, "-c lock_timeout=200ms")).unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let url = schema.url.clone();
    let holder = std::thread::spawn(move || {
        support::pg::with_client(&url, async move |c| {
            c.batch_execute("BEGIN; LOCK TABLE log_head IN EXCLUSIVE MODE")
                .await
                .unwrap();
            locked_tx.send(()).unwrap();
            tokio::task::spawn_blocking(move || release_rx.recv())
                .await
                .unwrap()
                .unwrap();
            c.batch_execute("COMMIT").await.unwrap();
        })
    });
    locked_rx.recv().unwrap();
    let e = write(impatient.as_ref(), rights(2)).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Unavailable {
                outage: Outage::Locked,
                ..
            }
        ),
        "{e:?}"
    );
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    // The writer probes while writes fail: recovery is noticed without traffic.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while impatient.ready().is_err() {
        assert!(std::time::Instant::now() < deadline, "not ready again");
        std::thread::sleep(Duration::from_millis(100));
    }
    write(impatient.as_ref(), rights(2)).unwrap();
    impatient.close();
    // Connections killed by the server are made again.
    write(store.as_ref(), rights(3)).unwrap();
    sql(
        &admin,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'"
        ),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match write(store.as_ref(), rights(4)) {
            Ok(_) => break,
            Err(StoreError::Unavailable {
                outage: Outage::Io, ..
            }) => {
                assert!(std::time::Instant::now() < deadline, "no new connection");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    store.close();
}

/// TLS through rustls: `verify-full` with the cluster's CA (scripts/pg-cluster makes one, and
/// scripts/test names it in `CONSENT_TEST_PG_CA`), `require`, and a CA that did not sign the server's
/// certificate.
#[test]
fn tls_verify_full_with_a_ca_file() {
    let Some(admin) = url_for_postgres_only_test("tls") else {
        return;
    };
    let Ok(ca) = std::env::var("CONSENT_TEST_PG_CA") else {
        assert!(!support::pg::required(), "CONSENT_TEST_PG_CA is not set");
        eprintln!("SKIPPED tls_verify_full_with_a_ca_file: CONSENT_TEST_PG_CA is not set");
        return;
    };
    let schema = TestSchema::new(&admin, "tls");
    let on_localhost = schema.url.replacen("@127.0.0.1:", "@localhost:", 1);
    let verified =
        format!("{on_localhost}&sslmode=verify-full&sslrootcert={ca}&application_name=consent-tls");
    let store = open(&verified).unwrap();
    write(store.as_ref(), rights(1)).unwrap();
    assert_eq!(
        schema.value(
            "SELECT bool_and(ssl)::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE application_name = 'consent-tls'"
        ),
        Some("true".to_owned())
    );
    store.close();
    open(&format!("{}&sslmode=require", schema.url))
        .unwrap()
        .close();
    // The Mozilla roots did not sign the test CA's certificate.
    let e = open(&format!(
        "{on_localhost}&sslmode=verify-full&sslrootcert=system"
    ))
    .err()
    .unwrap();
    assert!(
        matches!(e, StoreError::Unavailable { .. } | StoreError::Backend(_)),
        "{e:?}"
    );
}

/// A database from before the log (migrations 1 to 4, receipts stored): the log's migration numbers the receipts
/// in their order and the store builds their tree when it opens; the next receipt continues the log.
#[test]
fn receipts_from_before_the_log_are_logged_first() {
    let Some(admin) = url_for_postgres_only_test("pre_log") else {
        return;
    };
    let schema = TestSchema::new(&admin, "pre_log");
    // A database as main made it before the log: every migration before the log's (PostgreSQL 5).
    for m in &POSTGRES_MIGRATIONS[..4] {
        schema.sql(m);
    }
    schema.sql(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO schema_migrations (version) VALUES (1), (2), (3), (4);
         INSERT INTO receipts (seq, id, subject, issued_at, policy_version, method, kid, decisions,
                               expires_at, actor, jws)
         SELECT n, gen_random_uuid(), 'subject', 0, '2025-03-26', 'custom', 'k', 'a=given', 1,
                'subject', 'jws ' || n
         FROM generate_series(1, 300) AS n;
         UPDATE log_head SET receipts = 300;",
    );
    let store = open(&schema.url).unwrap();
    assert_eq!(
        schema
            .value("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
        Some(
            (1..=POSTGRES_MIGRATIONS.len())
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        "the log's migration and every later one applied"
    );
    assert_eq!(
        schema.value("SELECT count(*) FROM receipts WHERE log_index = seq - 1"),
        Some("300".to_owned())
    );
    let mut tree = consent_core::tlog::Frontier::new();
    for n in 1..=300 {
        tree.push(consent_core::tlog::Hash::leaf(
            format!("jws {n}").as_bytes(),
        ))
        .unwrap();
    }
    let head = store.log_head().unwrap();
    assert_eq!((head.size, head.root), (300, tree.root()));
    assert_eq!(
        write(store.as_ref(), rights(1)).unwrap(),
        Written::Logged(consent_server::store::LogIndex(300))
    );
    // The append-only triggers are back after the numbering.
    let (_, message) = schema.error_as(None, "UPDATE receipts SET log_index = 0 WHERE seq = 2");
    assert!(message.contains("append-only"), "{message}");
    store.close();
}

/// Instances store at most one checkpoint a second between them; a checkpoint whose root is not the
/// stored tree's is refused.
#[test]
fn checkpoints_are_stored_at_most_once_a_second_across_instances() {
    let Some(admin) = url_for_postgres_only_test("checkpoints") else {
        return;
    };
    let schema = TestSchema::new(&admin, "checkpoints");
    let stores: Vec<Arc<dyn Store>> = (0..2).map(|_| open(&schema.url).unwrap()).collect();
    let checkpoint = |s: &dyn Store, note: &str| {
        let head = s.log_head().unwrap();
        write(
            s,
            Write::Checkpoint {
                size: head.size,
                root: head.root,
                note: note.to_owned(),
            },
        )
    };
    write(stores[0].as_ref(), rights(1)).unwrap();
    checkpoint(stores[0].as_ref(), "first\n").unwrap();
    assert_eq!(
        stores[1].latest_checkpoint().unwrap(),
        Some((1, "first\n".to_owned()))
    );
    write(stores[1].as_ref(), rights(2)).unwrap();
    let started = std::time::Instant::now();
    checkpoint(stores[1].as_ref(), "second\n").unwrap();
    if started.elapsed() < Duration::from_millis(900) {
        // Within the second of the first: dropped.
        assert_eq!(stores[1].latest_checkpoint().unwrap().unwrap().0, 1);
    }
    std::thread::sleep(Duration::from_millis(1100));
    checkpoint(stores[1].as_ref(), "second\n").unwrap();
    assert_eq!(
        stores[0].latest_checkpoint().unwrap(),
        Some((2, "second\n".to_owned()))
    );
    let wrong = Write::Checkpoint {
        size: 1,
        root: stores[0].log_head().unwrap().root,
        note: "wrong\n".into(),
    };
    assert!(matches!(
        write(stores[0].as_ref(), wrong),
        Err(StoreError::Corrupt(_))
    ));
    for s in &stores {
        s.close();
    }
}
