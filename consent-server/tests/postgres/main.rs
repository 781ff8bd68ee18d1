//! PostgreSQL only (`DATABASE_URL`; scripts/test's PostgreSQL pass sets it and
//! `CONSENT_TEST_REQUIRE_POSTGRES=1`, without which these tests skip loudly): migrations applied once by
//! instances that start together, one order of receipts and events across instances, the application
//! role's grants, outages classified, connections made again, TLS.

#[path = "../support/mod.rs"]
mod support;

// The tests, one module per concern; this file holds the helpers they share, and the tests of
// migrations and of several instances.
mod connections;
mod log;
mod role;

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
