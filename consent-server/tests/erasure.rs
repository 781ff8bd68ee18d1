//! After erasure, nothing of the person is left where the server writes (issue 20.2): the real binary
//! records form consents with Kazakh names (payload version 2, sealed) and an old version 1 receipt
//! naming the person in clear, erases one subject with the CLI and one through the API, and the raw
//! files (database, WAL, shared memory, exports, Kantara exports, the server's and the commands' logs,
//! `/metrics`) are searched for the names' UTF-8 bytes and for the data keys' bytes. With the consent log
//! (issue 21): the old receipt is logged, `audit verify` passes after the erasure and counts it as
//! redacted by erasure, its output names nobody, and an edit dressed up as a redaction fails.
//!
//! The search of raw files is SQLite's, by nature: it reads the database's own files (it runs on SQLite
//! whatever `DATABASE_URL` says). PostgreSQL's files are its server's (the README's "Backups and
//! erasure" says what VACUUM, the WAL and backups need there); on PostgreSQL, `tests/store/` and
//! `tests/cases.rs` check that the key is destroyed and the names unreadable. The log's part (erasure,
//! then `audit verify` with the real binary, then edits dressed up as redactions) runs on the engine the
//! tests run on: PostgreSQL with `DATABASE_URL` set (scripts/test's PostgreSQL pass), SQLite otherwise.

mod support;

use std::path::{Path, PathBuf};

use rusqlite::params;
use serde_json::json;
use support::old_receipts::{forms, old_receipt_sql};
use support::{
    TestDir, free_port, http, portal_and_operator_tokens, run, start_with, temp, temp_sqlite,
    terminate,
};

const OPERATOR: &str = "erasure-operator-token";
const PORTAL: &str = "erasure-portal-token";
const AIGERIM: &str = "Әйгерім Нұрланқызы";
const MOTHER: &str = "Гүлнар Серікқызы";
const DAULET: &str = "Дәулет Қайратұлы";
const FATHER: &str = "Қайрат Өмірзақұлы";
/// In an old version 1 receipt of Aigerim's, in clear.
const OLD_NAME: &str = "Әйгерім Н. (ескі түбіртек)";

fn extra() -> String {
    portal_and_operator_tokens(PORTAL, OPERATOR)
}

/// Records a form consent for `id`, named `name`, given by a parent named `parent`; the pseudonym.
fn form_consent(port: u16, id: &str, name: &str, parent: &str) -> String {
    let decisions = json!({"application-review": "given", "marketing": "given", "public-dissemination": "refused"});
    let text = support::form_consent(port, PORTAL, id, name, parent, decisions);
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The answer's receipt is the signed, sealed one: no name in it.
    let receipt = answer["receipt"].as_str().unwrap();
    assert!(!text.contains(name) && !text.contains(parent), "{text}");
    assert!(receipt.split('.').count() == 3);
    answer["subject"].as_str().unwrap().to_owned()
}

fn operator_get(port: u16, path: &str) -> String {
    let auth = format!("Bearer {OPERATOR}");
    let (status, text) = http(port, "GET", path, &[("authorization", &auth)], "").unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    text
}

/// The files of `dir` holding `name` in any of its [`forms`].
fn files_naming(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = forms(name)
        .iter()
        .flat_map(|f| files_containing(dir, f))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The files of `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                out.push(path);
            }
        }
    }
    out
}

/// Inserts, as the server before version 2 did, a signed version 1 receipt for `subject` naming
/// `name` in clear, at the next log index (the server adds it to the log's tree when it opens), into
/// the SQLite database of `dir`.
fn old_receipt(dir: &Path, subject: &str) {
    let (sqlite, _) = old_receipt_sql(dir, subject, 0x42, false, OLD_NAME, MOTHER);
    rusqlite::Connection::open(dir.join("consent.db"))
        .unwrap()
        .execute_batch(&sqlite)
        .unwrap();
}

/// `audit verify` of the server at `port`: (success, stdout, stderr), also written to `dir` (so that
/// the search for names covers them).
fn audit(dir: &Path, port: u16, name: &str) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .args([
            "audit",
            "verify",
            "--log",
            &format!("http://127.0.0.1:{port}/log"),
            "--jwks",
            &format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
        ])
        .env("CONSENT_AUDIT_TOKEN", support::AUDITOR)
        .env("CONSENT_LOG", "warn")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    std::fs::write(dir.join(name), format!("{stdout}{stderr}")).unwrap();
    (out.status.success(), stdout, stderr)
}

fn data_key(dir: &Path, subject: &str) -> Vec<u8> {
    rusqlite::Connection::open(dir.join("consent.db"))
        .unwrap()
        .query_row(
            "SELECT key FROM data_keys WHERE subject = ?1",
            params![subject],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn after_erasure_the_names_are_nowhere_the_server_writes() {
    let dir = temp_sqlite("erasure");
    let port = free_port();
    let config = dir.join("consent-server.toml");
    let config = config.to_str().unwrap();
    let mut server = start_with(&dir, port, &extra(), "debug", &[]);
    let aigerim = form_consent(port, "aigerim@example.kz", AIGERIM, MOTHER);
    let daulet = form_consent(port, "daulet@example.kz", DAULET, FATHER);
    assert!(terminate(&mut server).success());
    // An old receipt of Aigerim's, from before version 2: her name in clear, in the database.
    old_receipt(&dir, &aigerim);
    assert_eq!(
        files_naming(&dir, OLD_NAME),
        [dir.join("consent.db")],
        "the old receipt names her (base64url, in its JWS)"
    );
    assert_eq!(files_naming(&dir, MOTHER), [dir.join("consent.db")]);
    // The sealed receipts do not.
    assert!(files_naming(&dir, AIGERIM).is_empty() && files_naming(&dir, DAULET).is_empty());
    let keys = [data_key(&dir, &aigerim), data_key(&dir, &daulet)];

    let mut server = start_with(&dir, port, &extra(), "debug", &[]);
    // Before erasure the names are there for the access request, opened with the data keys.
    let export = operator_get(port, &format!("/v1/subjects/{aigerim}/export"));
    for name in [AIGERIM, MOTHER, OLD_NAME] {
        assert!(export.contains(name), "{name} not in {export}");
    }
    let export = operator_get(port, &format!("/v1/subjects/{daulet}/export"));
    assert!(export.contains(DAULET) && export.contains(FATHER));

    // A backup before the erasure: the receipts without the keys, the keys alone.
    let backups = dir.join("backups");
    std::fs::create_dir(&backups).unwrap();
    let (receipts_backup, keys_backup) = (backups.join("consent.db"), backups.join("keys.db"));
    let (ok, out, err) = run(
        &dir,
        &[
            "--config",
            config,
            "backup",
            "--receipts",
            receipts_backup.to_str().unwrap(),
            "--keys",
            keys_backup.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}{err}");
    for key in &keys {
        let found = files_containing(&backups, key);
        assert_eq!(found, std::slice::from_ref(&keys_backup), "{out}");
    }
    let count: i64 = rusqlite::Connection::open(&receipts_backup)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM receipts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 3);

    // Erase Aigerim from the command line, Daulet through the API.
    let (ok, out, err) = run(
        &dir,
        &["--config", config, "erase", "--id", "aigerim@example.kz"],
    );
    assert!(ok, "{out}{err}");
    std::fs::write(dir.join("erase-cli.log"), format!("{out}{err}")).unwrap();
    let auth = format!("Bearer {OPERATOR}");
    let (status, text) = http(
        port,
        "POST",
        &format!("/v1/subjects/{daulet}/erase"),
        &[("authorization", &auth)],
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    // The server empties the WAL within a second or two of an erasure.
    std::thread::sleep(std::time::Duration::from_millis(2500));

    // Exports after erasure: they still count every receipt, and say the names were erased.
    let mut outputs = Vec::new();
    for format in ["jsonl", "kantara", "csv"] {
        let file = dir.join(format!("export.{format}"));
        let (ok, out, err) = run(
            &dir,
            &[
                "--config",
                config,
                "export",
                "--format",
                format,
                "-o",
                file.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}{err}");
        std::fs::write(
            dir.join(format!("export-{format}.log")),
            format!("{out}{err}"),
        )
        .unwrap();
        outputs.push(std::fs::read_to_string(&file).unwrap());
    }
    let jsonl = &outputs[0];
    assert_eq!(jsonl.lines().count(), 3, "{jsonl}");
    assert_eq!(
        jsonl.matches(r#""subject_name":{"erased":true}"#).count(),
        2,
        "{jsonl}"
    );
    assert_eq!(
        jsonl.matches(r#""representative":{"erased":true}"#).count(),
        2,
        "{jsonl}"
    );
    assert!(jsonl.contains(r#""redacted":"erased:"#), "{jsonl}");
    let kantara = &outputs[1];
    assert_eq!(
        kantara.lines().count(),
        2,
        "the redacted receipt is skipped: {kantara}"
    );
    assert!(
        kantara.contains(r#""subject_name":{"erased":true}"#),
        "{kantara}"
    );
    assert_eq!(outputs[2].lines().count(), 4, "{}", outputs[2]);
    for (name, path) in [
        ("api-export.json", format!("/v1/subjects/{aigerim}/export")),
        ("api-history.json", format!("/v1/subjects/{daulet}/history")),
        ("api-export.jsonl", "/v1/export".to_owned()),
        ("metrics.txt", "/metrics".to_owned()),
    ] {
        let body = if path == "/v1/export" || path.ends_with("/history") {
            let auth = format!("Bearer {}", support::AUDITOR);
            http(port, "GET", &path, &[("authorization", &auth)], "")
                .unwrap()
                .1
        } else {
            http(
                port,
                "GET",
                &path,
                &[("authorization", &format!("Bearer {OPERATOR}"))],
                "",
            )
            .unwrap()
            .1
        };
        std::fs::write(dir.join(name), body).unwrap();
    }
    // The erasures are cases, closed at once, with who handled them; nobody is live any more.
    let (ok, out, err) = run(&dir, &["--config", config, "cases", "list", "--all"]);
    assert!(ok, "{out}{err}");
    std::fs::write(dir.join("cases-list.log"), format!("{out}{err}")).unwrap();
    let erasures: Vec<&str> = out.lines().filter(|l| l.contains("\terasure\t")).collect();
    assert_eq!(erasures.len(), 2, "{out}");
    assert!(
        erasures[0].contains(&aigerim) && erasures[0].contains("\tcli:"),
        "{out}"
    );
    assert!(
        erasures[1].contains(&daulet) && erasures[1].contains("\tdpo\tclosed "),
        "{out}"
    );
    let (ok, out, err) = run(
        &dir,
        &["--config", config, "access", &daulet, "--by", "dpo"],
    );
    assert!(ok && out.contains("case 3 due "), "{out}{err}");
    let (ok, out, _) = run(&dir, &["--config", config, "cases", "list"]);
    assert!(
        ok && out.lines().count() == 2 && out.contains("\taccess\t"),
        "{out}"
    );
    let (ok, out, err) = run(&dir, &["--config", config, "cases", "close", "3"]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = run(&dir, &["--config", config, "cases", "close", "3"]);
    assert!(!ok && err.contains("open case 3 not found"), "{err}");
    let (ok, out, err) = run(&dir, &["--config", config, "subjects"]);
    assert!(ok && out == "persons\t0\ndevices\t0\n", "{out}{err}");
    let metrics = std::fs::read_to_string(dir.join("metrics.txt")).unwrap();
    assert!(
        metrics.contains("consent_subjects_live{kind=\"person\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("consent_cases_open{kind=\"erasure\"} 0"),
        "{metrics}"
    );

    let check = |when: &str| {
        for needle in [AIGERIM, MOTHER, DAULET, FATHER, OLD_NAME] {
            let found = files_naming(&dir, needle);
            assert!(found.is_empty(), "{when}: {needle} in {found:?}");
        }
        for key in &keys {
            let found = files_containing(&dir, key);
            assert!(found.is_empty(), "{when}: a data key in {found:?}");
        }
    };
    // The log: the old receipt is served redacted, accounted for by Aigerim's logged erasure.
    let (ok, out, err) = audit(&dir, port, "audit-verify.log");
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("entries checked: 5 (receipts 2, rights events 2: erase 2)"),
        "{out}"
    );
    assert!(out.contains("1 entries redacted by erasure"), "{out}");
    check("while the server runs");
    // Restoring the keys of the backup made before the erasures brings back neither key.
    let (ok, out, err) = run(
        &dir,
        &[
            "--config",
            config,
            "restore-keys",
            keys_backup.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("restored 0 data key(s); left out 2"), "{out}");
    check("after restoring the keys of an older backup");
    assert!(terminate(&mut server).success());
    check("after the server stopped");
    // Edits dressed up as redactions (triggers dropped first): Daulet's sealed receipt replaced by the
    // redacted form of Aigerim's, which no erasure of Daulet's names; and that redacted form edited.
    rusqlite::Connection::open(dir.join("consent.db"))
        .unwrap()
        .execute_batch(&format!(
            "DROP TRIGGER receipts_append_only_update;
             UPDATE receipts SET jws = (SELECT jws FROM receipts WHERE jws LIKE 'erased:%')
                 WHERE subject = '{daulet}';
             UPDATE receipts SET jws = jws || 'A' WHERE subject = '{aigerim}' AND jws LIKE 'erased:%';"
        ))
        .unwrap();
    let mut server = start_with(&dir, port, &extra(), "debug", &[]);
    let (ok, out, err) = audit(&dir, port, "audit-verify-tampered.log");
    assert!(terminate(&mut server).success());
    assert!(!ok, "{out}{err}");
    assert!(
        err.contains(&format!("no logged erasure of {aigerim} names it")),
        "{err}"
    );
    assert!(
        err.contains("served redacted, but not as the erasure at entry"),
        "{err}"
    );
    check("after the audits");
    // The database, its WAL and the logs were among the files searched.
    for f in [
        "consent.db",
        "server.log",
        "erase-cli.log",
        "export.kantara",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `statements` in the test's database: its PostgreSQL schema, or its SQLite file.
fn sql(dir: &TestDir, sqlite: &str, postgres: &str) {
    match &dir.schema {
        Some(schema) => schema.sql(postgres),
        None => rusqlite::Connection::open(dir.join("consent.db"))
            .unwrap()
            .execute_batch(sqlite)
            .unwrap(),
    }
}

/// The stored `jws` of the receipts of `subject`, in order.
fn stored_receipts(dir: &TestDir, subject: &str) -> Vec<String> {
    let query = format!("SELECT jws FROM receipts WHERE subject = '{subject}' ORDER BY seq");
    match &dir.schema {
        Some(schema) => schema
            .value(&format!(
                "SELECT string_agg(jws, ' ' ORDER BY seq) FROM receipts WHERE subject = '{subject}'"
            ))
            .map(|all| all.split(' ').map(str::to_owned).collect())
            .unwrap_or_default(),
        None => {
            let conn = rusqlite::Connection::open(dir.join("consent.db")).unwrap();
            let mut stmt = conn.prepare(&query).unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        }
    }
}

/// Waits (up to 10 s) until the server at `port` serves a checkpoint of `size` entries: one is signed
/// at most once a second.
fn wait_for_checkpoint(port: u16, size: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, note) = http(port, "GET", "/log/checkpoint", &[], "").unwrap();
        if status == 200 && note.lines().nth(1) == Some(size.to_string().as_str()) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of {size} entries: {note}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Erasure, then `audit verify`, on the engine the tests run on (PostgreSQL with `DATABASE_URL`): a
/// version 1 receipt naming the person in clear, logged, is redacted by an erasure through the CLI; a
/// second subject, with a version 1 receipt already redacted when the log numbered it (erased before the
/// log), is erased through the API; the real binary's `audit verify` passes, counts the erasures, the
/// redaction and the receipt redacted before the log apart, and names nobody; the stored rows name nobody; then edits dressed up as
/// redactions (triggers dropped first) fail the audit, each named.
#[test]
fn erasure_then_audit_verify_on_either_engine() {
    let dir = temp("erasure-audit");
    let engine = if dir.schema.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let port = free_port();
    let config = dir.join("consent-server.toml");
    let config = config.to_str().unwrap();
    let mut server = start_with(&dir, port, &extra(), "debug", &[]);
    let aigerim = form_consent(port, "aigerim@example.kz", AIGERIM, MOTHER);
    let daulet = form_consent(port, "daulet@example.kz", DAULET, FATHER);
    assert!(terminate(&mut server).success());
    let (sqlite, postgres) = old_receipt_sql(&dir, &aigerim, 0x42, false, OLD_NAME, MOTHER);
    sql(&dir, &sqlite, &postgres);
    let (sqlite, postgres) = old_receipt_sql(&dir, &daulet, 0x43, true, OLD_NAME, MOTHER);
    sql(&dir, &sqlite, &postgres);
    let old = stored_receipts(&dir, &aigerim);
    assert_eq!(old.len(), 2, "{engine}");
    assert!(
        forms(OLD_NAME)[1..]
            .iter()
            .any(|f| old[1].as_bytes().windows(f.len()).any(|w| w == f)),
        "{engine}: the old receipt names her in clear"
    );

    let mut server = start_with(&dir, port, &extra(), "debug", &[]);
    wait_for_checkpoint(port, 4);
    let (ok, out, err) = audit(&dir, port, "audit-before.log");
    assert!(ok, "{engine}: {out}{err}");
    assert!(
        out.contains("entries checked: 4 (receipts 3, rights events 0)"),
        "{engine}: {out}"
    );
    assert!(
        out.contains("1 entries redacted before the log") && !out.contains("by erasure"),
        "{engine}: {out}"
    );
    let (ok, out, err) = run(
        &dir,
        &["--config", config, "erase", "--id", "aigerim@example.kz"],
    );
    assert!(ok, "{engine}: {out}{err}");
    let (status, text) = http(
        port,
        "POST",
        &format!("/v1/subjects/{daulet}/erase"),
        &[("authorization", &format!("Bearer {OPERATOR}"))],
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{engine}: {text}");

    // The log accounts for the redaction: the old receipt is served redacted, its erasure names it.
    wait_for_checkpoint(port, 6);
    let (ok, out, err) = audit(&dir, port, "audit-verify.log");
    assert!(ok, "{engine}: {out}{err}");
    assert!(
        out.contains("entries checked: 6 (receipts 2, rights events 2: erase 2)"),
        "{engine}: {out}"
    );
    assert!(
        out.contains("1 entries redacted by erasure"),
        "{engine}: {out}"
    );
    assert!(
        out.contains("1 entries redacted before the log"),
        "{engine}: {out}"
    );
    let stored = stored_receipts(&dir, &aigerim);
    assert!(stored[1].starts_with("erased:"), "{engine}: {stored:?}");
    for name in [AIGERIM, MOTHER, DAULET, FATHER, OLD_NAME] {
        for f in forms(name) {
            let found = |text: &str| text.as_bytes().windows(f.len()).any(|w| w == f.as_slice());
            assert!(
                !found(&out) && !found(&err),
                "{engine}: {name} in the audit's output"
            );
            assert!(
                !stored.iter().any(|s| found(s)),
                "{engine}: {name} still stored"
            );
        }
    }
    assert!(terminate(&mut server).success());

    // Edits dressed up as redactions: Daulet's sealed receipt replaced by the redacted form of
    // Aigerim's, which no erasure of Daulet's names; and that redacted form edited.
    let edits = format!(
        "UPDATE receipts SET jws = (SELECT jws FROM receipts WHERE jws LIKE 'erased:%'
                                         AND subject = '{aigerim}')
             WHERE subject = '{daulet}';
         UPDATE receipts SET jws = jws || 'A' WHERE subject = '{aigerim}' AND jws LIKE 'erased:%';"
    );
    sql(
        &dir,
        &format!("DROP TRIGGER receipts_append_only_update; {edits}"),
        &format!("ALTER TABLE receipts DISABLE TRIGGER receipts_append_only; {edits}"),
    );
    let mut server = start_with(&dir, port, &extra(), "debug", &[]);
    let (ok, out, err) = audit(&dir, port, "audit-verify-tampered.log");
    assert!(terminate(&mut server).success());
    assert!(!ok, "{engine}: {out}{err}");
    assert!(
        err.contains(&format!("no logged erasure of {aigerim} names it")),
        "{engine}: {err}"
    );
    assert!(
        err.contains("served redacted, but not as the erasure at entry"),
        "{engine}: {err}"
    );
}
