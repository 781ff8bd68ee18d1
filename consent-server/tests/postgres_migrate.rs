//! PostgreSQL only: `consent-server migrate --to postgres://…` with the real binary.
//!
//! - A SQLite deployment with receipts, pseudonym links and rights events is copied; the copy is killed
//!   (`kill -9`) mid-way and run again: every receipt is there once, verified, numbered without gaps; the
//!   events, links and data keys are there once, live subjects counted; a third run adds nothing; a server
//!   on PostgreSQL with the same key file serves the copied receipts.
//! - Once a server has started on the target (it recorded a receipt and attempted the copied webhook
//!   deliveries), a copy is refused, saying why, and writes nothing.
//! - What issues 20 and 21 added: `postgres_migrate_erasures.rs`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use consent_core::{HmacKey, RightsRecord, SubjectId, Timestamp};
use consent_server::keys::ServerKeys;
use consent_server::privacy::{SubjectRef, subject_lookup};
use consent_server::store::{CaseKind, NewCase, Rights, SqliteStore, Store, Write};
use support::pg::{TestSchema, url_for_postgres_only_test};
use support::*;

const RECEIPTS: usize = 2500;

#[test]
fn a_sqlite_deployment_moves_to_postgres_and_a_killed_copy_resumes() {
    let Some(admin) = url_for_postgres_only_test("migrate") else {
        return;
    };
    let dir = temp_sqlite("migrate");
    // The SQLite deployment: links and rights events first (written as the server would), then receipts
    // through the real server.
    let port = free_port();
    let cfg = config(&dir, port);
    let sqlite = SqliteStore::open(dir.join("consent.db")).unwrap();
    let key = HmacKey::from_bytes([3; 32]);
    let signing = ServerKeys::load(&dir.join("keys.json")).unwrap();
    for n in 0..20u8 {
        let subject = SubjectRef::Subject(SubjectId([n + 1; 16]));
        let w = Write::Link {
            lookup: subject_lookup(&key, &format!("person{n}@example.org")),
            new_subject: subject,
        };
        sqlite.submit(w).unwrap().blocking_recv().unwrap().unwrap();
        let what = if n % 5 == 0 {
            Rights::Erase
        } else {
            Rights::Restrict
        };
        let at = Timestamp::from_unix(1_768_471_200 + i64::from(n));
        let kind = if what == Rights::Erase {
            CaseKind::Erasure
        } else {
            CaseKind::Restriction
        };
        let case = NewCase {
            kind,
            received_at: at,
            due_at: None,
            handled_by: "dpo".into(),
            done: true,
        };
        let w = Write::Rights {
            subject,
            at,
            what,
            case,
            redact: Vec::new(),
            record: RightsRecord::new(
                &format!("http://127.0.0.1:{port}"),
                &subject.to_string(),
                at,
                what.kind(),
            )
            .sign(&signing.receipts)
            .unwrap(),
            deliveries: Vec::new(),
        };
        sqlite.submit(w).unwrap().blocking_recv().unwrap().unwrap();
    }
    sqlite.close();
    drop(sqlite);
    let mut server = start(&dir, port);
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= RECEIPTS {
                        return;
                    }
                    assert_eq!(consent(port, n + 1).unwrap().0, 201);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    terminate(&mut server);
    // A data key (issue 20.1), made with the receipt numbered 100 in the source.
    let source = rusqlite::Connection::open(dir.join("consent.db")).unwrap();
    let keyed: String = source
        .query_row("SELECT id FROM receipts WHERE seq = 100", [], |r| r.get(0))
        .unwrap();
    source
        .execute(
            "INSERT INTO data_keys (subject, key, created_seq) \
             SELECT subject, zeroblob(32), seq FROM receipts WHERE seq = 100",
            [],
        )
        .unwrap();
    drop(source);
    // The copy, killed once its first receipts are committed.
    let schema = TestSchema::new(&admin, "migrate");
    let at_kill = migrate_killed_midway(&cfg, &schema.url) as usize;
    assert!(
        at_kill < RECEIPTS,
        "killed after the copy of every receipt ({at_kill})"
    );
    // Run again: it resumes and verifies.
    let out = migrate(&cfg, &schema.url).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("{RECEIPTS} receipt(s)")),
        "{stdout}"
    );
    assert!(stdout.contains("every one verified"), "{stdout}");
    // Progress in the log (the bar itself is drawn on terminals only).
    assert!(
        stderr.contains("\"receipts\"") && stderr.contains("2500"),
        "progress: {stderr}"
    );
    eprintln!("killed at {at_kill} receipts; then: {stdout}");
    assert_eq!(
        schema.value("SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || min(seq) || ' ' || max(seq) FROM receipts"),
        Some(format!("{RECEIPTS} {RECEIPTS} 1 {RECEIPTS}"))
    );
    assert_eq!(
        schema.value("SELECT count(*) FROM events"),
        Some("20".into())
    );
    // Erased people have no link: 20 links made, 4 erased.
    assert_eq!(
        schema.value("SELECT count(*) FROM subject_links"),
        Some("16".into())
    );
    assert_eq!(
        schema.value("SELECT count(*) FROM policies"),
        Some("1".into())
    );
    // The data key, made by the same receipt (under its number here); every subject counted.
    assert_eq!(
        schema.value(
            "SELECT string_agg(r.id::text || ' ' || k.subject, ',') FROM data_keys k \
             JOIN receipts r ON r.seq = k.created_seq AND r.subject = k.subject"
        ),
        Some(format!(
            "{keyed} {}",
            schema
                .value(&format!(
                    "SELECT subject FROM receipts WHERE id = '{keyed}'"
                ))
                .unwrap()
        ))
    );
    assert_eq!(
        schema.value("SELECT count(*) FROM subjects"),
        schema.value("SELECT count(DISTINCT subject) FROM receipts")
    );
    // A third run adds nothing.
    let out = migrate(&cfg, &schema.url).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("(0 added now"),
        "{stdout}"
    );
    assert!(stdout.contains("20 event(s) (0 added now)"), "{stdout}");
    assert!(stdout.contains("0 data key(s) added now"), "{stdout}");
    // The consent log is copied as it is (issue 21): the same entries at the same indexes, so the same
    // tree and root.
    let sqlite = SqliteStore::open(dir.join("consent.db")).unwrap();
    let sqlite_head = sqlite.log_head().unwrap();
    sqlite.close();
    drop(sqlite);
    assert_eq!(sqlite_head.size, RECEIPTS as u64 + 20);
    let root: String = sqlite_head
        .root
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        schema.value("SELECT entries || ' ' || encode(root, 'hex') FROM log_head"),
        Some(format!("{} {root}", sqlite_head.size))
    );
    // The deployment on PostgreSQL: the same key file, the copied receipts served.
    let pg_dir = temp("migrate-pg");
    std::fs::copy(dir.join("keys.json"), pg_dir.join("keys.json")).unwrap();
    std::fs::write(pg_dir.join("database-url"), &schema.url).unwrap();
    let pg_port = free_port();
    let mut pg_server = start(&pg_dir, pg_port);
    let id = schema
        .value("SELECT id::text FROM receipts WHERE seq = 1234")
        .unwrap();
    let auth = format!("Bearer {AUDITOR}");
    let (status, _) = http(
        pg_port,
        "GET",
        &format!("/v1/receipts/{id}"),
        &[("authorization", &auth)],
        "",
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(consent(pg_port, RECEIPTS + 1).unwrap().0, 201);
    assert_eq!(
        schema.value("SELECT max(seq) FROM receipts"),
        Some((RECEIPTS + 1).to_string())
    );
    assert_eq!(
        schema.value("SELECT log_index FROM receipts WHERE seq = (SELECT max(seq) FROM receipts)"),
        Some((RECEIPTS + 20).to_string())
    );
    terminate(&mut pg_server);
    // A receipt that does not verify stops the copy, naming it.
    let other = temp_sqlite("migrate-other-keys");
    std::fs::copy(dir.join("consent.db"), other.join("consent.db")).unwrap();
    let other_cfg = config(&other, free_port());
    let out = migrate(&other_cfg, &TestSchema::new(&admin, "migrate_bad").url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("does not verify with the key file"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}

/// A subscription to `consent.given` whose receiver (`receiver`: nothing listens) never answers: its
/// deliveries stay pending, attempted again and again.
fn unanswered_webhook(receiver: u16) -> String {
    format!(
        "[[webhooks]]\nname = \"mailing\"\nurl = \"http://127.0.0.1:{receiver}/hook\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"consent.given\"]\n\
         retry_min_ms = 100\nretry_max_secs = 1\ntimeout_secs = 1\n"
    )
}

/// What a copy could change in the target: the rows it adds, the copy's progress, the deliveries'.
const TARGET: &str = "SELECT (SELECT count(*) FROM receipts) || ' ' || (SELECT count(*) FROM events) \
                      || ' ' || (SELECT count(*) FROM subject_links) || ' ' || (SELECT count(*) FROM cases) \
                      || ' ' || (SELECT entries FROM log_head) || ' ' || (SELECT string_agg(source || ':' \
                      || events || ':' || finished, ',') FROM imports) || ' ' || (SELECT string_agg(id \
                      || ':' || state || ':' || attempts || ':' || failures || ':' || next_at_ms, ',' \
                      ORDER BY id) FROM webhook_deliveries)";

/// The sum of the attempts of the deliveries numbered up to `last` (PostgreSQL).
fn attempts_up_to(schema: &TestSchema, last: i64) -> i64 {
    schema
        .value(&format!(
            "SELECT COALESCE(sum(attempts), 0) FROM webhook_deliveries WHERE id <= {last}"
        ))
        .unwrap()
        .parse()
        .unwrap()
}

/// Issue 19.4's follow-up: a copy after a server started on the target would overwrite the target's
/// newer state (the deliveries its instance attempted, brought back to the source's progress). It is
/// refused, saying why, and writes nothing; the record of the first start cannot be cleared. Until a
/// copy has ended, a server refuses the target (and records nothing), so the copy stays resumable.
#[test]
fn a_copy_after_a_server_started_on_the_target_is_refused_and_writes_nothing() {
    let Some(admin) = url_for_postgres_only_test("migrate-guard") else {
        return;
    };
    let dir = temp_sqlite("migrate-guard");
    let port = free_port();
    let extra = unanswered_webhook(free_port());
    let cfg = config_with(&dir, port, &extra);
    // The SQLite deployment: two consents, their deliveries attempted (the receiver is down).
    let mut server = start_with(&dir, port, &extra, "warn", &[]);
    for n in 1..=2 {
        assert_eq!(consent(port, n).unwrap().0, 201);
    }
    let source = rusqlite::Connection::open(dir.join("consent.db")).unwrap();
    let source_progress = || -> (i64, i64) {
        source
            .query_row(
                "SELECT COALESCE(max(id), 0), COALESCE(sum(attempts), 0) FROM webhook_deliveries",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while source_progress().1 < 2 {
        assert!(Instant::now() < deadline, "deliveries not attempted");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(terminate(&mut server).success());
    let (last, source_attempts) = source_progress();
    drop(source);
    assert_eq!(last, 2, "one delivery per consent");

    // The copy; then an instance on the target records a receipt and attempts the copied deliveries.
    let schema = TestSchema::new(&admin, "migrate_guard");
    let out = migrate(&cfg, &schema.url).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A run stopped after its log's tree was rebuilt, before its last checks (as `migrate --to` leaves
    // the target until it has ended): a server refuses the target, records nothing, and the copy
    // resumes.
    support::pg::sql(&schema.url, "UPDATE imports SET finished = false");
    let pg_dir = temp_sqlite("migrate-guard-pg");
    std::fs::copy(dir.join("keys.json"), pg_dir.join("keys.json")).unwrap();
    std::fs::write(pg_dir.join("database-url"), &schema.url).unwrap();
    let pg_port = free_port();
    let err = refused_start(&config_with(&pg_dir, pg_port, &extra));
    assert!(
        err.contains("holds a copy from SQLite that has not finished"),
        "{err}"
    );
    assert_eq!(
        schema.value("SELECT served_since IS NULL FROM log_head"),
        Some("t".into()),
        "neither the copy nor a refused server records a start"
    );
    let out = migrate(&cfg, &schema.url).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pg_server = start_with(&pg_dir, pg_port, &extra, "warn", &[]);
    assert_eq!(consent(pg_port, 3).unwrap().0, 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    while attempts_up_to(&schema, last) <= source_attempts {
        assert!(
            Instant::now() < deadline,
            "the copied deliveries not attempted from PostgreSQL"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(terminate(&mut pg_server).success());
    let served_by = schema.value("SELECT served_by FROM log_head").unwrap();
    assert!(served_by.starts_with("consent-server "), "{served_by}");
    // The target's progress is its own now: a copy would bring it back to the source's.
    let before = schema.value(TARGET).unwrap();
    assert!(attempts_up_to(&schema, last) > source_attempts, "{before}");

    // A copy now is refused, saying why, and writes nothing.
    let out = migrate(&cfg, &schema.url).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    eprintln!("refused: {stderr}");
    assert_eq!(schema.value(TARGET).unwrap(), before);
    assert!(
        stderr.contains("the target has been served since ")
            && stderr.contains(&served_by)
            && stderr.contains("a copy now would overwrite its newer state")
            && stderr.contains("nothing was written")
            && !stderr.contains("run it again to resume"),
        "{stderr}"
    );
    assert!(!stdout.contains("copied"), "{stdout}");
    // The record of the first start is kept, even against the owner.
    let cleared = support::pg::with_client(&schema.url, async |c| {
        c.batch_execute("UPDATE log_head SET served_since = NULL, served_by = NULL")
            .await
            .map_err(|e| e.as_db_error().map(|d| d.message().to_owned()))
    });
    assert_eq!(
        cleared,
        Err(Some("when the database was first served is kept".into()))
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&pg_dir);
}
