//! The consent log against a person with the database file (issue 21.7), with the real binary: a
//! receipt edited (triggers dropped first), a row deleted, two rows swapped, the table truncated, and
//! the whole database restored from an older copy. `consent-server audit verify` over HTTP catches
//! each and names it; the clean log passes.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

/// The tree size of the server's latest checkpoint.
fn checkpoint_size(port: u16) -> u64 {
    let (status, note) = http(port, "GET", "/log/checkpoint", &[], "").unwrap();
    assert_eq!(status, 200, "{note}");
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// Waits until the server has signed a checkpoint of `size` entries (at most once a second).
fn wait_for_checkpoint(port: u16, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while checkpoint_size(port) != size {
        assert!(Instant::now() < deadline, "no checkpoint of {size} entries");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn add_consents(port: u16, from: usize, n: usize) {
    for i in from..from + n {
        let (status, body) = consent(port, i).unwrap();
        assert_eq!(status, 201, "{body}");
    }
}

/// `audit verify` of the server at `port`: (success, stdout, stderr).
fn audit(dir: &Path, port: u16) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .args([
            "audit",
            "verify",
            "--log",
            &format!("http://127.0.0.1:{port}/log"),
            "--jwks",
            &format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
            "--state",
        ])
        .arg(dir.join("audit-state.json"))
        .env("CONSENT_AUDIT_TOKEN", AUDITOR)
        .env("CONSENT_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for name in ["consent.db", "keys.json", "audit-state.json"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

/// Runs SQL on the stopped server's database, as someone with the file would.
fn tamper(dir: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(dir.join("consent.db")).unwrap();
    conn.execute_batch(sql).unwrap();
}

/// A case: the clean log copied to `name`, `sql` run on it, then the server started and audited with
/// the auditor's state; the problems it printed.
fn case(root: &Path, clean: &Path, name: &str, sql: &str) -> String {
    let dir = root.join(name);
    copy_dir(clean, &dir);
    tamper(&dir, sql);
    let port = free_port();
    let mut server = start(&dir, port);
    let (ok, out, err) = audit(&dir, port);
    terminate(&mut server);
    assert!(!ok, "{name}: audit passed:\n{out}\n{err}");
    eprintln!("{name}:\n{err}");
    err
}

/// The log of 20 entries copied into a directory (as a mirror of `/log/` would hold it) and the key set
/// into a file: `audit verify --log DIR --jwks FILE` passes.
fn mirror_passes(dir: &Path, port: u16) {
    let auth = format!("Bearer {AUDITOR}");
    for path in [
        "checkpoint",
        "key",
        "tile/0/000.p/20",
        "tile/entries/000.p/20",
    ] {
        let r = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{port}/log/{path}"))
            .header("authorization", &auth)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, r.bytes().unwrap()).unwrap();
    }
    let (_, jwks) = http(port, "GET", "/.well-known/jwks.json", &[], "").unwrap();
    std::fs::write(dir.join("jwks.json"), jwks).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .args(["audit", "verify", "--log"])
        .arg(dir)
        .arg("--jwks")
        .arg(dir.join("jwks.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("entries checked: 20 (receipts 20"),
        "{stdout}"
    );
}

#[test]
fn audit_verify_names_each_tampering_and_passes_a_clean_log() {
    let root = temp("log-tamper");
    let clean: PathBuf = root.join("clean");
    std::fs::create_dir_all(&clean).unwrap();
    // Ten receipts, audited; the database copied as an older backup.
    let port = free_port();
    let mut server = start(&clean, port);
    add_consents(port, 1, 10);
    wait_for_checkpoint(port, 10);
    let (ok, out, err) = audit(&clean, port);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("entries checked: 10 (receipts 10"), "{out}");
    terminate(&mut server);
    let backup = root.join("backup");
    copy_dir(&clean, &backup);
    // Ten more, audited again: the state holds both checkpoints.
    let port = free_port();
    let mut server = start(&clean, port);
    add_consents(port, 11, 10);
    wait_for_checkpoint(port, 20);
    let (ok, out, err) = audit(&clean, port);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("20 entries"), "{out}");
    assert!(
        out.contains("extends the 1 checkpoint(s) seen before"),
        "{out}"
    );
    mirror_passes(&root.join("mirror"), port);
    terminate(&mut server);

    let err = case(
        &root,
        &clean,
        "edited",
        "DROP TRIGGER receipts_append_only_update;
         UPDATE receipts SET jws = replace(jws, substr(jws, 150, 4), 'AAAA') WHERE log_index = 5;",
    );
    assert!(
        err.contains("entry 5: its bytes are not the ones logged"),
        "{err}"
    );
    assert!(
        err.contains("entry 5: not a receipt or rights record signed"),
        "{err}"
    );

    let err = case(
        &root,
        &clean,
        "deleted",
        "DROP TRIGGER receipts_append_only_delete; DELETE FROM receipts WHERE log_index = 7;",
    );
    assert!(err.contains("entries 0 to 19: missing"), "{err}");

    let err = case(
        &root,
        &clean,
        "swapped",
        "DROP TRIGGER receipts_append_only_update;
         UPDATE receipts SET log_index = -1 WHERE log_index = 3;
         UPDATE receipts SET log_index = 3 WHERE log_index = 4;
         UPDATE receipts SET log_index = 4 WHERE log_index = -1;",
    );
    assert!(
        err.contains("entry 3: its bytes are not the ones logged"),
        "{err}"
    );
    assert!(
        err.contains("entry 4: its bytes are not the ones logged"),
        "{err}"
    );
    assert!(!err.contains("entry 5:"), "{err}");

    let err = case(
        &root,
        &clean,
        "truncated",
        "DROP TRIGGER receipts_append_only_delete; DELETE FROM receipts;",
    );
    assert!(err.contains("entries 0 to 19: missing"), "{err}");

    // The older copy restored: the auditor has seen 20 entries, the log now has 10.
    let restored = root.join("restored");
    copy_dir(&backup, &restored);
    std::fs::copy(
        clean.join("audit-state.json"),
        restored.join("audit-state.json"),
    )
    .unwrap();
    let port = free_port();
    let mut server = start(&restored, port);
    let (ok, _, err) = audit(&restored, port);
    assert!(!ok);
    assert!(
        err.contains("rolled back: the log's checkpoint has 10 entries, fewer than the 20"),
        "{err}"
    );
    // New receipts on top of the restored copy: the first 20 entries are not the ones seen.
    add_consents(port, 100, 15);
    wait_for_checkpoint(port, 25);
    let (ok, _, err) = audit(&restored, port);
    terminate(&mut server);
    assert!(!ok);
    assert!(
        err.contains("forked: the log's first 20 entries now have root"),
        "{err}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_witness_cosigns_what_it_checked_and_the_server_serves_it() {
    use base64::Engine as _;
    use consent_core::tlog::{Cosigner, NoteVerifier, UnverifiedCheckpoint};
    let dir = temp("log-witness");
    let seed = [42u8; 32];
    let witness = Cosigner::from_seed("witness.example/w1".parse().unwrap(), seed);
    std::fs::write(
        dir.join("witness.key"),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(seed),
    )
    .unwrap();
    let port = free_port();
    let extra = format!("[log]\nwitnesses = [\"{}\"]\n", witness.verifier());
    let mut server = start_with(&dir, port, &extra, "warn", &[]);
    add_consents(port, 1, 3);
    wait_for_checkpoint(port, 3);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .args([
            "audit",
            "witness",
            "--once",
            "--name",
            "witness.example/w1",
            "--log",
            &format!("http://127.0.0.1:{port}/log"),
            "--jwks",
            &format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
        ])
        .arg("--key")
        .arg(dir.join("witness.key"))
        .arg("--state")
        .arg(dir.join("witness-state.json"))
        .env("CONSENT_AUDIT_TOKEN", AUDITOR)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("cosigned the checkpoint of 3 entries"),
        "{stdout}"
    );
    let (_, vkey) = http(port, "GET", "/log/key", &[], "").unwrap();
    let log_key: NoteVerifier = vkey.trim().parse().unwrap();
    let (_, note) = http(port, "GET", "/log/checkpoint", &[], "").unwrap();
    let checkpoint = UnverifiedCheckpoint::parse(&note)
        .unwrap()
        .verify(&log_key, &[witness.verifier()])
        .unwrap();
    assert_eq!(checkpoint.cosignatures().len(), 1, "{note}");
    terminate(&mut server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Entries committed without a checkpoint (a crash between a batch's commit and its checkpoint,
/// played here by removing the latest checkpoints from the stopped server's database, on the engine
/// the tests run on): after a restart,
/// the first `/log/checkpoint` already covers every entry, and the auditor's check of it passes.
#[test]
fn a_restart_checkpoints_the_whole_log_before_the_first_request() {
    let dir = temp("log-restart");
    let port = free_port();
    let mut server = start(&dir, port);
    add_consents(port, 1, 3);
    wait_for_checkpoint(port, 3);
    let (ok, out, err) = audit(&dir, port);
    assert!(ok, "{out}\n{err}");
    add_consents(port, 4, 4);
    wait_for_checkpoint(port, 7);
    terminate(&mut server);
    match std::fs::read_to_string(dir.join("database-url")) {
        // On PostgreSQL (`DATABASE_URL` set), the test's schema.
        Ok(url) => support::pg::sql(
            &url,
            "ALTER TABLE log_checkpoints DISABLE TRIGGER log_checkpoints_append_only;
             DELETE FROM log_checkpoints WHERE size > 3;",
        ),
        Err(_) => tamper(
            &dir,
            "DROP TRIGGER log_checkpoints_delete; DELETE FROM log_checkpoints WHERE size > 3;",
        ),
    }
    let port = free_port();
    let mut server = start(&dir, port);
    assert_eq!(
        checkpoint_size(port),
        7,
        "the first checkpoint served after a restart"
    );
    let (ok, out, err) = audit(&dir, port);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("7 entries"), "{out}");
    terminate(&mut server);
    std::fs::remove_dir_all(&dir).unwrap();
}
