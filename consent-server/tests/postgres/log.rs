//! The verifiable log on PostgreSQL: receipts from before the log, checkpoints across instances.

use super::*;

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
