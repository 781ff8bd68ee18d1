//! Receipts and events are append-only in the database itself, whatever the application does.

use super::*;

/// The database refuses to change receipts and events, whoever asks: SQLite's triggers, PostgreSQL's
/// (for the tables' owner; the application's role has no such right at all, `tests/postgres/role.rs`).
#[tokio::test]
async fn receipts_and_events_are_append_only_in_the_database() {
    let s = server("store-append-only").await;
    consents(&s, 2).await;
    let subject = SubjectRef::Subject(SubjectId([5; 16]));
    let w = rights(subject, Rights::Restrict, NOW);
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
