//! The command line, run as a user would: keygen, tokens, policy check, export in every format, offline
//! verification of receipts (from a file and a URL), rights requests.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use support::*;

#[test]
fn a_missing_or_invalid_calendar_stops_the_server_with_where_and_why() {
    let dir = temp("cli-calendar");
    let port = free_port();
    let head =
        format!("listen = \"127.0.0.1:{port}\"\ndatabase = \"consent.db\"\nkeys = \"keys.json\"\n");
    std::fs::write(
        dir.join("bad.toml"),
        "format = 1\ncountry = \"KZ\"\nutc_offset = \"+5\"\n",
    )
    .unwrap();
    for (calendar, error) in [
        (
            "missing.toml",
            "cannot read the working-day calendar missing.toml",
        ),
        ("bad.toml", "working-day calendar bad.toml"),
        ("bad.toml", "3:14: utc_offset"),
    ] {
        std::fs::write(
            dir.join("c.toml"),
            format!("{head}calendar = \"{calendar}\"\n"),
        )
        .unwrap();
        let (ok, _, err) = run(&dir, &["--config", "c.toml", "serve"]);
        assert!(!ok && err.contains(error), "{calendar}: {err}");
        assert!(
            !dir.join("consent.db").exists(),
            "it stops before opening the database"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keygen_writes_0600_and_never_overwrites() {
    let dir = temp("cli-keygen");
    let (ok, out, _) = run(&dir, &["keygen", "--out", "k.json"]);
    assert!(ok, "{out}");
    assert!(out.contains("mode 0600"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(dir.join("k.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let (ok, _, err) = run(&dir, &["keygen", "--out", "k.json"]);
    assert!(!ok && err.contains("k.json"), "{err}");
    let (ok, _, err) = run(&dir, &["keygen", "--out", "k.json", "--rotate"]);
    assert!(!ok && err.contains("once a day"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tokens_are_printed_once_and_hashed() {
    let dir = temp("cli-token");
    let (ok, out, _) = run(
        &dir,
        &["token", "new", "--role", "auditor", "--name", "dpo"],
    );
    assert!(ok);
    let token = out
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let sha = out
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    assert_eq!(sha, consent_server::privacy::token_hash(&token));
    // A service token's entry has its scope, empty until filled in, and is a valid configuration.
    let (ok, out, _) = run(
        &dir,
        &["token", "new", "--role", "service", "--name", "mailing"],
    );
    assert!(ok);
    let entry = &out[out.find("[[tokens]]").unwrap()..];
    assert!(
        entry.contains("purposes = []") && entry.contains("collection_points = []"),
        "{entry}"
    );
    let config: consent_server::config::Config = toml::from_str(entry).unwrap();
    let policy =
        consent_core::Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))
            .unwrap();
    assert_eq!(
        config.service_scopes(&policy).unwrap(),
        [consent_core::ServiceScope::NOTHING]
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_consent-server"))
        .args(["token", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{token}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), sha);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_service_token_without_a_fitting_scope_stops_the_server() {
    let dir = temp("cli-scope");
    let port = free_port();
    let head = format!(
        "listen = \"127.0.0.1:{port}\"\ndatabase = \"consent.db\"\nkeys = \"keys.json\"\n\
         [[tokens]]\nname = \"mailing\"\nrole = \"service\"\nsha256 = \"{}\"\n",
        "ab".repeat(32)
    );
    for (scope, error) in [
        (
            "",
            "token `mailing`: a service token needs `purposes` and `collection_points`",
        ),
        (
            "purposes = [\"newsletter\"]\ncollection_points = [\"form\"]\n",
            "token `mailing`: purposes: the policy has no purpose `newsletter`",
        ),
    ] {
        std::fs::write(dir.join("c.toml"), format!("{head}{scope}")).unwrap();
        let (ok, _, err) = run(&dir, &["--config", "c.toml", "serve"]);
        assert!(!ok && err.contains(error), "{scope}: {err}");
        assert!(
            !dir.join("consent.db").exists(),
            "it stops before opening the database"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn policy_check_prints_every_problem() {
    let dir = temp("cli-policy");
    let good = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/invisionu/policy.toml"
    );
    let (ok, out, _) = run(&dir, &["policy", "check", good]);
    assert!(
        ok && out.contains("ok: policy invisionu-privacy version 2025-03-26")
            && out.contains("sha256"),
        "{out}"
    );
    let bad = std::fs::read_to_string(good)
        .unwrap()
        .replacen("bin = \"220740042362\"", "bin = \"22074\"", 1)
        .replacen(
            "choice_validity_months = 6",
            "choice_validity_months = 24",
            1,
        );
    std::fs::write(dir.join("bad.toml"), bad).unwrap();
    let (ok, out, err) = run(&dir, &["policy", "check", "bad.toml"]);
    assert!(!ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains("bad.toml:")
            && out.contains("controller.bin")
            && out.contains("choice_validity_months"),
        "{out}"
    );
    assert!(err.contains("2 problem(s)"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_edited_policy_under_a_published_version_is_refused_with_what_to_do() {
    let dir = temp("cli-policy-changed");
    // A server run creates the database and records the built-in policy (invisionu's).
    let port = free_port();
    let mut server = start(&dir, port);
    terminate(&mut server);
    let cfg = config(&dir, port);
    let policy = dir.join("policy.toml");
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/invisionu/policy.toml"
    ))
    .unwrap();
    std::fs::write(&policy, &original).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("policy = \"{}\"\n{text}", policy.display())).unwrap();
    let cfg = cfg.display().to_string();
    // The same text from a file: the same version and hash.
    let erase = [
        "--config",
        cfg.as_str(),
        "erase",
        "--id",
        "nobody@example.org",
    ];
    let (ok, _, err) = run(&dir, &erase);
    assert!(!ok && err.contains("no subject with this id"), "{err}");
    // The same version, one word changed: refused, with what to do.
    let edited = original.replacen("en = \"Privacy Policy\"", "en = \"Privacy Notice\"", 1);
    assert_ne!(edited, original);
    std::fs::write(&policy, edited).unwrap();
    let (ok, _, err) = run(&dir, &erase);
    assert!(
        !ok && err.contains("cannot use policy 2025-03-26 with database")
            && err.contains("new version date")
            && err.contains("already stored with another hash"),
        "{err}"
    );
    // The published text works again.
    std::fs::write(&policy, &original).unwrap();
    let (ok, _, err) = run(&dir, &erase);
    assert!(!ok && err.contains("no subject with this id"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_verify_and_rights_requests() {
    let dir = temp("cli-export");
    let port = free_port();
    let mut server = start(&dir, port);
    for n in 1..=3 {
        let (status, body) = consent(port, n).unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let (_, first) = consent(port, 4).unwrap();
    let device = serde_json::from_str::<serde_json::Value>(&first).unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, jwks) = http(port, "GET", "/.well-known/jwks.json", &[], "").unwrap();
    std::fs::write(dir.join("jwks.json"), &jwks).unwrap();
    let cfg = dir.join("consent-server.toml").display().to_string();

    // Offline export while the server runs (SQLite WAL allows readers).
    let (ok, _, err) = run(
        &dir,
        &[
            "--config",
            &cfg,
            "export",
            "--format",
            "jsonl",
            "-o",
            "all.jsonl",
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains("exported 4 receipt(s)"), "{err}");
    let (ok, _, err) = run(
        &dir,
        &["receipts", "verify", "all.jsonl", "--jwks", "jwks.json"],
    );
    assert!(ok && err.contains("4 valid, 0 invalid"), "{err}");
    let url = format!("http://127.0.0.1:{port}/.well-known/jwks.json");
    let (ok, _, err) = run(&dir, &["receipts", "verify", "all.jsonl", "--jwks", &url]);
    assert!(ok && err.contains("4 valid"), "{err}");
    // A tampered receipt is named.
    let text = std::fs::read_to_string(dir.join("all.jsonl")).unwrap();
    let tampered = text.replacen("\"receipt\":\"eyJ", "\"receipt\":\"eyK", 1);
    std::fs::write(dir.join("tampered.jsonl"), tampered).unwrap();
    let (ok, out, err) = run(
        &dir,
        &[
            "receipts",
            "verify",
            "tampered.jsonl",
            "--jwks",
            "jwks.json",
        ],
    );
    assert!(
        !ok && out.contains("line 1: INVALID") && err.contains("3 valid, 1 invalid"),
        "{out}{err}"
    );

    let (ok, out, err) = run(&dir, &["--config", &cfg, "export", "--format", "kantara"]);
    assert!(ok, "{err}");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["version"], "KI-CR-v1.1.0");
    }
    let (ok, out, _) = run(
        &dir,
        &[
            "--config",
            &cfg,
            "export",
            "--format",
            "csv",
            "--subject",
            &device,
        ],
    );
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with("seq,receipt_id,subject,issued_at,policy_version,method,decisions\n"));
    assert!(out.contains("cookies-analytics=given"), "{out}");
    terminate(&mut server);

    // Rights requests from the command line.
    let (ok, out, err) = run(
        &dir,
        &[
            "--config",
            &cfg,
            "withdraw",
            &device,
            "--purpose",
            "cookies-analytics",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"receipt_id\""), "{out}");
    let (ok, out, _) = run(&dir, &["--config", &cfg, "restrict", &device]);
    assert!(
        ok && out.starts_with(&format!("restrict {device} at ")),
        "{out}"
    );
    // Rights requests are cases (issue 20.3): listed, an access request closed once; live subjects.
    let (ok, out, err) = run(&dir, &["--config", &cfg, "access", &device, "--by", "dpo"]);
    assert!(
        ok && out.starts_with(&format!("access request for {device}: case ")),
        "{out}{err}"
    );
    let case = out.split_whitespace().nth(5).unwrap().to_owned();
    let (ok, out, err) = run(&dir, &["--config", &cfg, "cases", "list", "--all"]);
    assert!(ok, "{err}");
    for kind in ["\twithdrawal\t", "\trestriction\t", "\taccess\t"] {
        assert!(out.contains(kind), "{kind}: {out}");
    }
    let (ok, out, err) = run(&dir, &["--config", &cfg, "cases", "close", &case]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = run(&dir, &["--config", &cfg, "cases", "close", &case]);
    assert!(
        !ok && err.contains(&format!("open case {case} not found")),
        "{err}"
    );
    let (ok, out, err) = run(&dir, &["--config", &cfg, "subjects"]);
    assert!(ok && out.starts_with("persons\t0\ndevices\t"), "{out}{err}");
    assert_ne!(out, "persons\t0\ndevices\t0\n");
    let (ok, _, err) = run(
        &dir,
        &["--config", &cfg, "erase", "--id", "nobody@example.org"],
    );
    assert!(!ok && err.contains("no subject with this id"), "{err}");
    let (ok, _, err) = run(&dir, &["--config", &cfg, "restrict", "someone@example.org"]);
    assert!(!ok && err.contains("sub:"), "{err}");
    let (ok, out, _) = run(
        &dir,
        &[
            "--config",
            &cfg,
            "export",
            "--format",
            "csv",
            "--subject",
            &device,
        ],
    );
    assert!(ok && out.contains("cookies-analytics=withdrawn"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An export holds personal data: the file `-o` writes is readable by its owner only, in every format,
/// also when it was there before with wider permissions.
#[cfg(unix)]
#[test]
fn export_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp("cli-export-mode");
    let port = free_port();
    let mut server = start(&dir, port);
    let (status, body) = consent(port, 1).unwrap();
    assert_eq!(status, 201, "{body}");
    terminate(&mut server);
    let cfg = dir.join("consent-server.toml").display().to_string();
    let mode = |name: &str| {
        std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    std::fs::write(dir.join("old.csv"), "stale, and readable by everyone\n").unwrap();
    std::fs::set_permissions(dir.join("old.csv"), std::fs::Permissions::from_mode(0o644)).unwrap();
    for (format, name) in [
        ("jsonl", "new.jsonl"),
        ("kantara", "new.kantara.jsonl"),
        ("csv", "old.csv"),
    ] {
        let (ok, _, err) = run(
            &dir,
            &["--config", &cfg, "export", "--format", format, "-o", name],
        );
        assert!(ok && err.contains("exported 1 receipt(s)"), "{err}");
        assert_eq!(mode(name), 0o600, "{name}");
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(!text.contains("stale") && text.contains("dev:"), "{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
