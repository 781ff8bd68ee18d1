//! PostgreSQL only: `consent-server migrate --to postgres://…` with the real binary, for what issues 20
//! and 21 added (issue 19.4): version 1 receipts naming people in clear, an erasure through the CLI
//! that redacts one, open cases, pending and dead webhook deliveries, an idempotency key and the
//! checkpoints an auditor has seen move too; `audit verify` passes on the target with the auditor's
//! state from the source, and a consistency proof from the source's checkpoint to the target's
//! verifies. The first copy is killed mid-way, a server refuses the unfinished copy, and later runs
//! bring the target along.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use consent_core::tlog::{
    Hash, Tile, TileHashReader, TileReader, TreeError, UnverifiedCheckpoint, prove_consistency,
};
use support::old_receipts::{forms, old_receipt_sql};
use support::pg::{TestSchema, url_for_postgres_only_test};
use support::*;

const PORTAL: &str = "migrate-portal-token";
const OPERATOR: &str = "migrate-operator-token";
const AIGERIM: &str = "Әйгерім Нұрланқызы";
const MOTHER: &str = "Гүлнар Серікқызы";
const DAULET: &str = "Дәулет Қайратұлы";
const FATHER: &str = "Қайрат Өмірзақұлы";
/// In old version 1 receipts, in clear.
const OLD_NAME: &str = "Әйгерім Н. (ескі түбіртек)";
/// Banner receipts besides the people's: enough for the copy to be killed among them.
const BANNER: usize = 1500;

/// Tokens, and two subscriptions whose receiver (`receiver`, down at first) does not answer: "mailing"
/// keeps its deliveries pending, "archive" lets them go dead after a second.
fn rights_extra(receiver: u16) -> String {
    let events = "events = [\"consent.given\", \"consent.withdrawn\", \"consent.refused\", \
                  \"subject.restricted\", \"subject.unblocked\", \"subject.erased\"]";
    format!(
        "{}\n[[webhooks]]\nname = \"mailing\"\nurl = \"http://127.0.0.1:{receiver}/hook\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n{events}\n\
         retry_min_ms = 100\nretry_max_secs = 1\ntimeout_secs = 1\n\n\
         [[webhooks]]\nname = \"archive\"\nurl = \"http://127.0.0.1:{receiver}/archive\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n{events}\n\
         retry_min_ms = 100\nretry_max_secs = 1\ntimeout_secs = 1\ndead_after_secs = 1\n",
        portal_and_operator_tokens(PORTAL, OPERATOR)
    )
}

/// Records a form consent for `id`, named `name`, given by a parent named `parent`; the pseudonym.
fn form_consent(port: u16, id: &str, name: &str, parent: &str) -> String {
    let decisions = serde_json::json!({"application-review": "given", "marketing": "given", "public-dissemination": "refused"});
    let text = support::form_consent(port, PORTAL, id, name, parent, decisions);
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    answer["subject"].as_str().unwrap().to_owned()
}

/// A banner consent of a new device sent with `Idempotency-Key: key`: (status, the receipt answered).
fn idempotent_consent(port: u16, key: &str) -> (u16, String) {
    let body = serde_json::json!({
        "policy_version": "2025-03-26",
        "decisions": { "cookies-analytics": "given" },
        "method": "custom",
        "language": "kk",
        "collection_point": { "kind": "banner", "page": "https://invisionu.education/" },
    });
    let (status, text) = http(
        port,
        "POST",
        "/v1/consents",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        &body.to_string(),
    )
    .unwrap();
    assert!(status == 201 || status == 200, "{status} {text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    (status, answer["receipt"].as_str().unwrap().to_owned())
}

/// Waits (up to 10 s) until the server at `port` serves a checkpoint of `size` entries; its note.
fn checkpoint_of(port: u16, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, note) = http(port, "GET", "/log/checkpoint", &[], "").unwrap();
        if status == 200 && note.lines().nth(1) == Some(size.to_string().as_str()) {
            return note;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of {size} entries: {note}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `audit verify` of the server at `port`, remembering checkpoints in `state`: (success, output).
fn audit_verify(port: u16, state: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .args(["audit", "verify", "--log"])
        .arg(format!("http://127.0.0.1:{port}/log"))
        .arg("--jwks")
        .arg(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
        .arg("--state")
        .arg(state)
        .env("CONSENT_AUDIT_TOKEN", AUDITOR)
        .env("CONSENT_LOG", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The size and root a checkpoint note signs.
fn signed(note: &str) -> (u64, Hash) {
    let cp = UnverifiedCheckpoint::parse(note).unwrap();
    let cp = cp.unverified_checkpoint();
    (cp.size(), cp.root())
}

/// The log's hash tiles as the target stores them (a stored partial tile may have grown since: its
/// first hashes are the asked tile's).
struct PgTiles(String);

impl TileReader for PgTiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        let asked: Vec<(i16, i64, usize)> = tiles
            .iter()
            .map(|t| (i16::from(t.level()), t.index() as i64, t.data_len()))
            .collect();
        Ok(support::pg::with_client(&self.0, async move |c| {
            let mut out = Vec::new();
            for (level, idx, len) in asked {
                let data: Vec<u8> = c
                    .query_one(
                        "SELECT data FROM log_tiles WHERE level = $1 AND idx = $2",
                        &[&level, &idx],
                    )
                    .await
                    .unwrap()
                    .get(0);
                out.push(data[..len].to_vec());
            }
            out
        }))
    }
}

/// Answers every request with 204 (a receiver that acknowledges), on `port`.
fn acknowledging_receiver(port: u16) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Reads the head and the body its content-length announces.
                while let Ok(n) = s.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            });
        }
    });
}

/// The cases as compared between the engines: number, kind, subject, arrival, due date, open or closed.
const CASES: &str = "SELECT string_agg(id || ':' || kind || ':' || subject || ':' || received_at || ':' \
                     || COALESCE(due_at, 0) || ':' || CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END, \
                     ',' ORDER BY id) FROM cases";
/// The webhook deliveries as compared: number, `webhook-id`, subscription, state, case.
const DELIVERIES: &str = "SELECT string_agg(id || ':' || msg_id || ':' || webhook || ':' || state || ':' \
                          || COALESCE(case_id, 0), ',' ORDER BY id) FROM webhook_deliveries";

/// [`CASES`] or [`DELIVERIES`] (PostgreSQL's `string_agg … ORDER BY`) run on the SQLite file of `dir`.
fn source_rows(dir: &std::path::Path, query: &str) -> String {
    let (head, table) = query.rsplit_once(", ',' ORDER BY id) FROM ").unwrap();
    let sql = format!(
        "{}, ',') FROM (SELECT * FROM {table} ORDER BY id)",
        head.replace("string_agg(", "group_concat(")
    );
    rusqlite::Connection::open(dir.join("consent.db"))
        .unwrap()
        .query_row(&sql, [], |r| r.get(0))
        .unwrap()
}

/// Issue 19.4 with what issue 20 and 21 added: a SQLite deployment with form consents naming people
/// (sealed), version 1 receipts naming them in clear (one redacted before the log), an erasure through
/// the CLI (redacting one), open cases, pending and dead webhook deliveries, an idempotency key and
/// checkpoints an auditor has seen, is copied; the copy is killed mid-way and run again (nothing twice,
/// a third run adds nothing; a server started on the unfinished copy refuses it); after a case is closed
/// and the dead deliveries retried on SQLite, a run brings the target along; the target holds the same cases, deliveries and log (size, root, the
/// checkpoints themselves), no name anywhere; a server on it passes `audit verify` with the auditor's
/// state from the source (naming the redactions as on the source), a consistency proof from the source's
/// checkpoint to the target's verifies, the idempotency key still answers, and the copied pending
/// deliveries go out from PostgreSQL.
#[test]
fn a_deployment_with_erasures_cases_and_webhooks_moves_and_its_log_stays_consistent() {
    let Some(admin) = url_for_postgres_only_test("migrate-rights") else {
        return;
    };
    let dir = temp_sqlite("migrate-rights");
    let port = free_port();
    let receiver = free_port();
    let extra = rights_extra(receiver);
    let cfg = config_with(&dir, port, &extra);
    let mut server = start_with(&dir, port, &extra, "warn", &[]);
    let aigerim = form_consent(port, "aigerim@example.kz", AIGERIM, MOTHER);
    let daulet = form_consent(port, "daulet@example.kz", DAULET, FATHER);
    let (status, kept) = idempotent_consent(port, "move-key-7");
    assert_eq!(status, 201);
    assert!(terminate(&mut server).success());
    // Version 1 receipts naming the people in clear, as the server before version 2 wrote them; Daulet's
    // redacted already when the log numbers it.
    let db = rusqlite::Connection::open(dir.join("consent.db")).unwrap();
    for (subject, id, redacted) in [(&aigerim, 0x42, false), (&daulet, 0x43, true)] {
        let (sqlite, _) = old_receipt_sql(&dir, subject, id, redacted, OLD_NAME, MOTHER);
        db.execute_batch(&sqlite).unwrap();
    }
    drop(db);
    let receipts = BANNER as u64 + 5;
    // The banner's receipts after them: the redacted ones are among the first the copy writes.
    let mut server = start_with(&dir, port, &extra, "warn", &[]);
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= BANNER {
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
    checkpoint_of(port, receipts);
    let state = dir.join("auditor-state.json");
    let (ok, out) = audit_verify(port, &state);
    assert!(ok, "{out}");
    let (ok, out, err) = run(
        &dir,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "erase",
            "--id",
            "aigerim@example.kz",
        ],
    );
    assert!(ok, "{out}{err}");
    let source_note = checkpoint_of(port, receipts + 1);
    let (ok, out) = audit_verify(port, &state);
    assert!(ok, "{out}");
    assert!(
        out.contains("1 entries redacted by erasure")
            && out.contains("1 entries redacted before the log"),
        "{out}"
    );
    // Deliveries: "archive" ones go dead, "mailing" ones stay pending.
    let db = rusqlite::Connection::open(dir.join("consent.db")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while db
        .query_row(
            "SELECT count(*) FROM webhook_deliveries WHERE webhook = 'archive' AND state <> 'dead'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        > 0
    {
        assert!(Instant::now() < deadline, "archive deliveries not dead");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(terminate(&mut server).success());
    let one = |sql: &str| -> String { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let source_cases = source_rows(&dir, CASES);
    let source_deliveries = source_rows(&dir, DELIVERIES);
    assert!(
        source_cases.contains("erasure") && source_cases.contains(":open"),
        "{source_cases}"
    );
    assert!(
        source_deliveries.contains(":pending:") && source_deliveries.contains(":dead:"),
        "{source_deliveries}"
    );
    let source_log = one("SELECT entries || ' ' || lower(hex(root)) FROM log_head");
    let source_checkpoints = one("SELECT group_concat(size, ',') FROM log_checkpoints");
    drop(db);
    assert_eq!(signed(&source_note).0, receipts + 1);

    // The copy, killed once its first receipts are committed, then run again, then once more.
    let schema = TestSchema::new(&admin, "migrate_rights");
    let at_kill = migrate_killed_midway(&cfg, &schema.url);
    assert!(at_kill < receipts, "killed after every receipt ({at_kill})");
    // A server started on the unfinished copy refuses, saying why.
    let pg_dir = temp_sqlite("migrate-rights-pg");
    std::fs::copy(dir.join("keys.json"), pg_dir.join("keys.json")).unwrap();
    std::fs::write(pg_dir.join("database-url"), &schema.url).unwrap();
    let pg_port = free_port();
    let pg_cfg = config_with(&pg_dir, pg_port, &extra);
    let err = refused_start(&pg_cfg);
    assert!(
        err.contains("holds a copy from SQLite that has not finished"),
        "{err}"
    );
    let out = migrate(&cfg, &schema.url).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("killed at {at_kill} receipts; then: {stdout}");
    assert!(
        stdout.contains("1 accounted for by a logged erasure, 1 redacted before the log"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("log: {} entries", receipts + 1)),
        "{stdout}"
    );
    let out = migrate(&cfg, &schema.url).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for nothing in [
        "(0 added now, every one verified",
        "1 event(s) (0 added now)",
        "case(s) (0 added now)",
        "delivery(ies) (0 added now;",
        "idempotency key(s) (0 added now)",
        "(0 leaves added now)",
        "(0 checkpoint(s) and cosignature(s) added now)",
    ] {
        assert!(stdout.contains(nothing), "{nothing}: {stdout}");
    }

    // The source moves on before the switch (a case closed, the dead deliveries retried): a run brings
    // the target along.
    let config = cfg.to_str().unwrap();
    let open_case = source_cases
        .split(',')
        .find(|c| c.ends_with(":open"))
        .and_then(|c| c.split(':').next())
        .unwrap()
        .to_owned();
    let (ok, out, err) = run(&dir, &["--config", config, "cases", "close", &open_case]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(
        &dir,
        &["--config", config, "webhooks", "retry", "--all-dead"],
    );
    assert!(ok, "{out}{err}");
    let (source_cases, source_deliveries) =
        (source_rows(&dir, CASES), source_rows(&dir, DELIVERIES));
    assert!(!source_deliveries.contains(":dead:"), "{source_deliveries}");
    assert_ne!(schema.value(CASES), Some(source_cases.clone()));
    let out = migrate(&cfg, &schema.url).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The target: every receipt once, the same cases, deliveries and log.
    assert_eq!(
        schema.value("SELECT count(*) || ' ' || count(DISTINCT id) FROM receipts"),
        Some(format!("{receipts} {receipts}"))
    );
    assert_eq!(schema.value(CASES), Some(source_cases));
    assert_eq!(schema.value(DELIVERIES), Some(source_deliveries));
    assert_eq!(
        schema.value("SELECT entries || ' ' || encode(root, 'hex') FROM log_head"),
        Some(source_log)
    );
    assert_eq!(
        schema.value("SELECT string_agg(size::text, ',' ORDER BY size) FROM log_checkpoints"),
        Some(source_checkpoints)
    );
    assert_eq!(
        schema.value("SELECT note FROM log_checkpoints ORDER BY size DESC LIMIT 1"),
        Some(source_note.clone())
    );
    assert_eq!(
        schema.value("SELECT count(*) FROM receipts WHERE jws LIKE 'erased:%'"),
        Some("2".into())
    );
    // No name anywhere in the target's tables.
    let tables = schema
        .value(
            "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = current_schema()",
        )
        .unwrap();
    let mut everything = String::new();
    for table in tables.split(' ') {
        everything.push_str(
            &schema
                .value(&format!(
                    "SELECT string_agg(t::text, E'\\n') FROM {table} t"
                ))
                .unwrap_or_default(),
        );
    }
    assert!(
        everything.contains("erased:"),
        "the dump reads the receipts"
    );
    for name in [AIGERIM, MOTHER, DAULET, FATHER, OLD_NAME] {
        for f in forms(name) {
            assert!(
                !everything
                    .as_bytes()
                    .windows(f.len())
                    .any(|w| w == f.as_slice()),
                "{name} in the target"
            );
        }
    }

    // A server on the target: the auditor's earlier checkpoints still hold, the redactions are named as
    // on the source, the idempotency key answers, new entries extend the log consistently.
    acknowledging_receiver(receiver);
    let mut pg_server = start_with(&pg_dir, pg_port, &extra, "warn", &[]);
    let (ok, out) = audit_verify(pg_port, &state);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("{} entries", receipts + 1))
            && out.contains("1 entries redacted by erasure")
            && out.contains("1 entries redacted before the log")
            && out.contains("extends the 2 checkpoint(s) seen before"),
        "{out}"
    );
    for name in [AIGERIM, MOTHER, DAULET, FATHER, OLD_NAME] {
        assert!(!out.contains(name), "{name} in the audit: {out}");
    }
    assert_eq!(idempotent_consent(pg_port, "move-key-7"), (200, kept));
    assert_eq!(consent(pg_port, BANNER + 1).unwrap().0, 201);
    let target_note = checkpoint_of(pg_port, receipts + 2);
    let (old_size, old_root) = signed(&source_note);
    let (new_size, new_root) = signed(&target_note);
    let tiles = PgTiles(schema.url.clone());
    let proof =
        prove_consistency(old_size, new_size, &TileHashReader::new(new_size, &tiles)).unwrap();
    proof.verify(&old_root, &new_root).unwrap();
    let (ok, out) = audit_verify(pg_port, &state);
    // The source's two checkpoints seen (the target's first is the source's last, the same note).
    assert!(
        ok && out.contains(&format!(
            "checkpoint: invisionu.education/consent-log, {} entries",
            receipts + 2
        )) && out.contains("extends the 2 checkpoint(s) seen before"),
        "{out}"
    );
    // The copied pending deliveries go out from PostgreSQL (the dead ones wait for a retry).
    let deadline = Instant::now() + Duration::from_secs(30);
    while schema.value(
        "SELECT count(*) FROM webhook_deliveries WHERE webhook = 'mailing' AND state = 'pending'",
    ) != Some("0".into())
    {
        assert!(Instant::now() < deadline, "pending deliveries not sent");
        std::thread::sleep(Duration::from_millis(200));
    }
    terminate(&mut pg_server);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&pg_dir);
}
