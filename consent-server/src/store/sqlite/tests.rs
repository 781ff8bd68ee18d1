//! Tests of the SQLite store: typed values in and out, cases, live subjects, the receipts' one update,
//! indexed lookups, rows that do not parse.

use consent_core::{HmacKey, PolicyHash, PolicyVersion, SubjectId, Timestamp};

use super::*;
use crate::store::{CaseId, CaseKind, NewCase, Rights};

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("consent-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("consent.db")
}

fn write(store: &SqliteStore, w: Write) -> Result<Written, StoreError> {
    store.submit(w).unwrap().blocking_recv().unwrap()
}

#[test]
fn typed_values_in_and_out() {
    let path = temp_db("typed");
    let store = SqliteStore::open(&path).unwrap();
    let lookup = crate::privacy::subject_lookup(&HmacKey::from_bytes([1; 32]), "a@example.org");
    let first = SubjectRef::Subject(SubjectId([2; 16]));
    let link = |s| Write::Link {
        lookup,
        new_subject: s,
    };
    assert_eq!(write(&store, link(first)).unwrap(), Written::Subject(first));
    // The link exists: the first pseudonym stays.
    let other = SubjectRef::Subject(SubjectId([3; 16]));
    assert_eq!(write(&store, link(other)).unwrap(), Written::Subject(first));
    assert_eq!(store.lookup_subject(&lookup).unwrap(), Some(first));
    let rights = Write::Rights {
        subject: first,
        at: Timestamp::from_unix(5),
        what: Rights::Erase,
        case: new_case(CaseKind::Erasure, 5, true),
        redact: Vec::new(),
        record: "signed record".into(),
        deliveries: Vec::new(),
    };
    assert_eq!(
        write(&store, rights).unwrap(),
        Written::Logged(crate::store::LogIndex(0))
    );
    assert_eq!(
        store.log_entries(0, 5).unwrap(),
        [b"signed record".to_vec()]
    );
    let head = store.log_head().unwrap();
    assert_eq!(
        (head.size, head.root),
        (1, consent_core::tlog::Hash::leaf(b"signed record"))
    );
    assert_eq!(store.lookup_subject(&lookup).unwrap(), None);
    assert_eq!(store.subject_events(first).unwrap().len(), 1);
    let version: PolicyVersion = "2025-03-26".parse().unwrap();
    let policy = |h| Write::Policy {
        version,
        sha256: PolicyHash([h; 32]),
        canonical: "{}".into(),
    };
    write(&store, policy(1)).unwrap();
    write(&store, policy(1)).unwrap();
    assert!(matches!(
        write(&store, policy(2)),
        Err(StoreError::PolicyChanged(v)) if v == version
    ));
    store.close();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

fn new_case(kind: CaseKind, at: i64, done: bool) -> NewCase {
    NewCase {
        kind,
        received_at: Timestamp::from_unix(at),
        due_at: Some(Timestamp::from_unix(at + 86_400)),
        handled_by: "dpo".into(),
        done,
    }
}

fn insert_receipt(path: &Path, id: &str, subject: SubjectRef, at: i64, jws: &str) {
    Connection::open(path)
        .unwrap()
        .execute(
            "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws)
             VALUES (?1, ?2, ?3, '2025-03-26', 'custom', 'k', 'a=given', ?4, 'subject', ?5)",
            params![id, subject.to_string(), at, at + 10, jws],
        )
        .unwrap();
}

#[test]
fn cases_open_close_once_and_are_kept() {
    let path = temp_db("cases");
    let store = SqliteStore::open(&path).unwrap();
    let s = SubjectRef::Subject(SubjectId([6; 16]));
    let Written::Case(id) = write(
        &store,
        Write::Access {
            subject: s,
            case: new_case(CaseKind::Access, 100, false),
        },
    )
    .unwrap() else {
        panic!("no case")
    };
    let restrict = Write::Rights {
        subject: s,
        at: Timestamp::from_unix(101),
        what: Rights::Restrict,
        case: new_case(CaseKind::Restriction, 101, true),
        redact: Vec::new(),
        record: "restrict".into(),
        deliveries: Vec::new(),
    };
    write(&store, restrict).unwrap();
    let open = store
        .cases(&CaseQuery {
            open_only: true,
            ..CaseQuery::default()
        })
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].id, open[0].kind, open[0].subject),
        (id, CaseKind::Access, s)
    );
    assert_eq!(open[0].due_at, Some(Timestamp::from_unix(100 + 86_400)));
    let all = store.cases(&CaseQuery::default()).unwrap();
    assert_eq!(
        all[1].closed,
        Some((Timestamp::from_unix(101), "dpo".to_owned()))
    );
    let close = |by: &str| Write::CloseCase {
        id,
        at: Timestamp::from_unix(200),
        by: by.into(),
    };
    write(&store, close("alice")).unwrap();
    assert!(matches!(write(&store, close("bob")), Err(StoreError::NoOpenCase(i)) if i == id));
    assert!(matches!(
        write(
            &store,
            Write::CloseCase {
                id: CaseId(99),
                at: Timestamp::from_unix(1),
                by: "x".into()
            }
        ),
        Err(StoreError::NoOpenCase(_))
    ));
    let conn = Connection::open(&path).unwrap();
    // Cases are kept, and a closed case does not change.
    assert!(conn.execute("DELETE FROM cases", []).is_err());
    assert!(
        conn.execute("UPDATE cases SET closed_by = 'mallory'", [])
            .is_err()
    );
    assert!(
        conn.execute("UPDATE cases SET due_at = 0 WHERE closed_at IS NULL", [])
            .is_ok()
    );
    store.close();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn live_subjects_and_the_one_update_receipts_allow() {
    let path = temp_db("live");
    let store = SqliteStore::open(&path).unwrap();
    let (a, b) = (
        SubjectRef::Subject(SubjectId([7; 16])),
        SubjectRef::Subject(SubjectId([8; 16])),
    );
    let d = SubjectRef::Device(SubjectId([7; 16]));
    // Receipts written by the store count their subjects; rows inserted by hand here do not go
    // through the writer, so the migration's backfill is what this checks on reopening.
    insert_receipt(
        &path,
        "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a51",
        a,
        10,
        "x.y.z",
    );
    insert_receipt(
        &path,
        "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a52",
        b,
        10,
        "x.y.z",
    );
    insert_receipt(
        &path,
        "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a53",
        d,
        10,
        "x.y.z",
    );
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO subjects (subject, live) SELECT DISTINCT subject, 1 FROM receipts",
        [],
    )
    .unwrap();
    assert_eq!(
        store.live_subjects().unwrap(),
        LiveSubjects {
            persons: 2,
            devices: 1
        }
    );
    let erase = Write::Rights {
        subject: b,
        at: Timestamp::from_unix(20),
        what: Rights::Erase,
        case: new_case(CaseKind::Erasure, 20, true),
        redact: vec![(
            "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a52".parse().unwrap(),
            "erased:x.y2.z".into(),
        )],
        record: "erase".into(),
        deliveries: Vec::new(),
    };
    write(&store, erase).unwrap();
    assert_eq!(store.live_subjects().unwrap().persons, 1);
    let r = store.subject_receipts(b).unwrap();
    assert!(r[0].is_redacted() && r[0].jws == "erased:x.y2.z");
    // Receipts are append-only but for that: no other column, no second redaction, no un-redaction.
    assert!(
        conn.execute(
            "UPDATE receipts SET jws = 'erased:again' WHERE subject = ?1",
            params![b.to_string()]
        )
        .is_err()
    );
    assert!(
        conn.execute(
            "UPDATE receipts SET jws = 'x.y.z' WHERE subject = ?1",
            params![b.to_string()]
        )
        .is_err()
    );
    assert!(
        conn.execute(
            "UPDATE receipts SET decisions = 'a=refused', jws = 'erased:q' WHERE subject = ?1",
            params![a.to_string()]
        )
        .is_err()
    );
    assert!(
        conn.execute(
            "UPDATE receipts SET jws = 'y.y.y' WHERE subject = ?1",
            params![a.to_string()]
        )
        .is_err()
    );
    assert!(conn.execute("DELETE FROM receipts", []).is_err());
    store.close();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn has_receipts_is_an_indexed_lookup() {
    let path = temp_db("has-receipts");
    let store = SqliteStore::open(&path).unwrap();
    let device = SubjectRef::Device(SubjectId([4; 16]));
    assert!(!store.has_receipts(device).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws)
             VALUES ('01977420-dc7b-7a5a-9a5a-5a5a5a5a5a5a', ?1, 1, '2025-03-26', 'custom', 'k', 'a=given', 2, 'subject', 'x')",
            params![device.to_string()],
        )
        .unwrap();
    assert!(store.has_receipts(device).unwrap());
    // The same bits as a person, and another device: none.
    assert!(
        !store
            .has_receipts(SubjectRef::Subject(SubjectId([4; 16])))
            .unwrap()
    );
    assert!(
        !store
            .has_receipts(SubjectRef::Device(SubjectId([5; 16])))
            .unwrap()
    );
    let conn = Connection::open(&path).unwrap();
    let mut st = conn
        .prepare("EXPLAIN QUERY PLAN SELECT EXISTS (SELECT 1 FROM receipts WHERE subject = ?1)")
        .unwrap();
    let plan: Vec<String> = st
        .query_map(params![device.to_string()], |r| r.get(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let plan = plan.join("; ");
    assert!(
        plan.contains("USING COVERING INDEX receipts_subject"),
        "{plan}"
    );
    store.close();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn rows_that_do_not_parse_are_corrupt_not_passed_on() {
    let path = temp_db("corrupt");
    let store = SqliteStore::open(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws)
             VALUES ('not-a-uuid', 'someone@example.org', 1, '2025-03-26', 'custom', 'k', 'a=given', 2, 'subject', 'x')",
            [],
        )
        .unwrap();
    let e = store
        .export(&ExportQuery::default(), &mut |_| true)
        .unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    // The engine's own errors come out as Backend, with the engine's error as source.
    let garbage = path.with_file_name("garbage.db");
    std::fs::write(&garbage, [7u8; 4096]).unwrap();
    let e = SqliteStore::open(&garbage).err().unwrap();
    assert!(matches!(e, StoreError::Backend(_)), "{e}");
    assert!(std::error::Error::source(&e).is_some());
    store.close();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn migrating_a_database_with_receipts_counts_its_live_subjects() {
    let path = temp_db("migrate");
    {
        // A database as the server before issue 20 left it: migrations 1 to 3, receipts and an erasure.
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let (a, b) = (
        SubjectRef::Subject(SubjectId([9; 16])),
        SubjectRef::Subject(SubjectId([10; 16])),
    );
    let d = SubjectRef::Device(SubjectId([9; 16]));
    insert_receipt(
        &path,
        "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a61",
        a,
        10,
        "x.y.z",
    );
    insert_receipt(
        &path,
        "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a62",
        b,
        10,
        "x.y.z",
    );
    insert_receipt(
        &path,
        "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a63",
        d,
        10,
        "x.y.z",
    );
    insert_receipt(
        &path,
        "01977420-dc7b-7a5a-9a5a-5a5a5a5a5a64",
        d,
        30,
        "x.y.z",
    );
    let conn = Connection::open(&path).unwrap();
    // b was erased after its receipt; d was erased, then came back.
    for (s, at) in [(b, 20), (d, 20)] {
        conn.execute(
            "INSERT INTO events (subject, at, kind) VALUES (?1, ?2, 'erase')",
            params![s.to_string(), at],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.live_subjects().unwrap(),
        LiveSubjects {
            persons: 1,
            devices: 1
        }
    );
    store.close();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// A database as main made it before the log (every migration before the log's, SQLite 6) holding 300
/// receipts, `jws 0` to `jws 299`, none logged.
fn database_before_the_log(name: &str) -> std::path::PathBuf {
    let path = temp_db(name);
    {
        let conn = Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..5] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
    }
    for i in 0..300 {
        insert_receipt(
            &path,
            &format!("01977420-dc7b-7a5a-9a5a-{i:012}"),
            SubjectRef::Device(SubjectId([0; 16])),
            1,
            &format!("jws {i}"),
        );
    }
    path
}

#[test]
fn a_database_from_before_the_log_has_its_receipts_logged_at_open() {
    let path = database_before_the_log("before-log");
    let store = SqliteStore::open(&path).unwrap();
    let mut tree = consent_core::tlog::Frontier::new();
    for i in 0..300 {
        tree.push(consent_core::tlog::Hash::leaf(
            format!("jws {i}").as_bytes(),
        ))
        .unwrap();
    }
    let head = store.log_head().unwrap();
    assert_eq!((head.size, head.root), (300, tree.root()));
    let r = store
        .receipt("01977420-dc7b-7a5a-9a5a-000000000007".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(r.log_index, Some(crate::store::LogIndex(7)));
    store.close();
    // Opened again: nothing to add.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.log_head().unwrap(), head);
    store.close();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// What `migrate --to` reads of the log: the leaf hashes logged at commit from the level-0 tiles, across
/// a tile's edge, of a tree smaller than the stored one (its partial tile has grown since), and nothing
/// past the tree.
#[test]
fn a_copy_reads_the_leaf_hashes_logged_at_commit() {
    let path = database_before_the_log("source-leaves");
    SqliteStore::open(&path).unwrap().close();
    let leaf = |i: u64| consent_core::tlog::Hash::leaf(format!("jws {i}").as_bytes());
    let source = SqliteSource::open(&path).unwrap();
    assert_eq!(source.logged().unwrap(), 300);
    assert_eq!(source.log_head().unwrap().size, 300);
    let across: Vec<_> = (250..270).map(leaf).collect();
    assert_eq!(source.logged_leaves(300, 250, 20).unwrap(), across);
    let all: Vec<_> = (0..300).map(leaf).collect();
    assert_eq!(source.logged_leaves(300, 0, 300).unwrap(), all);
    // The tree of 290: its partial tile is the first 34 hashes of the stored one of 44.
    let end: Vec<_> = (280..290).map(leaf).collect();
    assert_eq!(source.logged_leaves(290, 280, 10).unwrap(), end);
    assert!(source.logged_leaves(300, 299, 2).is_err());
    assert_eq!(
        source.log_entries(298, 5).unwrap(),
        vec![b"jws 298".to_vec(), b"jws 299".to_vec()]
    );
    drop(source);
    // A file at an older schema is not read: the server migrates it first.
    let old = temp_db("source-old");
    {
        let conn = Connection::open(&old).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }
    let e = SqliteSource::open(&old).err().unwrap().to_string();
    assert!(
        e.contains("start this version of the server on it once"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let _ = std::fs::remove_dir_all(old.parent().unwrap());
}
