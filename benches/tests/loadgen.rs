//! The `loadgen` binary, run for real: its command line, and a short ceiling-only run (no server
//! needed) that writes real SQLite files, prints the report and the JSON, and cleans up; on
//! PostgreSQL (`DATABASE_URL`, set by scripts/test's PostgreSQL pass), a short run of every phase
//! with two instances of the debug server binary.
//!
//! The measured runs need the release server binary (`cargo build --release -p consent-server`)
//! and are run by hand (README, "consent-server under load"); no figure is asserted here.

use std::path::PathBuf;
use std::process::{Command, Output};

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("loadgen runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("loadgen-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn help_lists_the_options_and_exits_0() {
    let out = loadgen(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in ["--connections", "--rate", "--phases", "--quick", "--json"] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
}

#[test]
fn a_wrong_option_is_a_usage_error() {
    for args in [
        &["--turbo"][..],
        &["--phases", "max,fast"],
        &["--rate", "0"],
    ] {
        let out = loadgen(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains("--help"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_http_phases_need_the_server_binary() {
    let out = loadgen(&["--phases", "max", "--server", "/nonexistent/consent-server"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("server binary /nonexistent/consent-server not found"),
        "{err}"
    );
}

#[test]
fn a_ceiling_run_reports_each_batch_size_and_cleans_up() {
    let scratch = Scratch::new("ceiling");
    let json = scratch.0.join("out.json");
    let out = loadgen(&[
        "--phases",
        "ceiling",
        "--ceiling-secs",
        "0.1",
        "--dir",
        scratch.0.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("consent-server load test (full mode) - "));
    assert!(stdout.contains("ceiling: SQLite alone, WAL + synchronous=FULL, JWS 2500 B (rows/s)"));
    for label in [
        "  1/tx, receipts rows only",
        "  64/tx, receipts rows only",
        "  1024/tx, receipts rows only",
        "  64/tx, receipt row + savepoint (as the server writes)",
        "  1024/tx, receipt row + savepoint (as the server writes)",
    ] {
        assert!(stdout.contains(label), "{label} missing:\n{stdout}");
    }
    assert!(!stdout.contains("receipts/s, durable"), "{stdout}");

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mode"], "full");
    assert_eq!(v["ceiling"]["jws_bytes"], 2500);
    let runs = v["ceiling"]["runs"].as_array().unwrap();
    let batches: Vec<u64> = runs
        .iter()
        .map(|r| r["rows_per_transaction"].as_u64().unwrap())
        .collect();
    assert_eq!(batches, [1, 64, 1024, 64, 1024]);
    for r in runs {
        let (rows, commits) = (r["rows"].as_u64().unwrap(), r["commits"].as_u64().unwrap());
        assert!(commits >= 1, "{r}");
        assert_eq!(rows, commits * r["rows_per_transaction"].as_u64().unwrap());
    }
    assert!(v.get("max_throughput").is_none() && v.get("fixed_rate").is_none());
    assert!(v["pass"]["receipts_per_sec"].is_null());

    // Only the JSON is left: the temporary directory and its databases are gone.
    let left: Vec<_> = std::fs::read_dir(&scratch.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["out.json"]);
}

/// `DATABASE_URL`, or `None` (with a note) when it is not set and scripts/test's PostgreSQL pass
/// (`CONSENT_TEST_REQUIRE_POSTGRES=1`) does not require it.
fn database_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(u) => Some(u),
        None if std::env::var("CONSENT_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("{test}: DATABASE_URL is not set, and CONSENT_TEST_REQUIRE_POSTGRES=1")
        }
        None => {
            eprintln!("SKIPPED {test}: PostgreSQL only, and DATABASE_URL is not set");
            None
        }
    }
}

/// The schemas of `url`'s database whose names start with `prefix`.
fn schemas(url: &str, prefix: &str) -> Vec<String> {
    let (url, pattern) = (url.to_owned(), format!("{prefix}%"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        tokio::spawn(conn);
        client
            .query(
                "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1",
                &[&pattern],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    })
}

#[test]
fn a_short_run_on_postgres_spreads_the_load_over_two_instances_and_cleans_up() {
    let Some(url) = database_url("loadgen on postgres") else {
        return;
    };
    // The debug server binary next to this loadgen (scripts/test builds the workspace first).
    let server = PathBuf::from(env!("CARGO_BIN_EXE_loadgen")).with_file_name("consent-server");
    assert!(
        server.exists(),
        "{} is missing: cargo build -p consent-server",
        server.display()
    );
    let scratch = Scratch::new("postgres");
    let json = scratch.0.join("out.json");
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--database", &url, "--instances", "2", "--server"])
        .arg(&server)
        .args([
            "--connections",
            "4",
            "--duration",
            "0.5",
            "--warmup",
            "0.2",
            "--rate",
            "40",
            "--ceiling-secs",
            "0.1",
            "--dir",
        ])
        .arg(&scratch.0)
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("loadgen runs");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 instances on PostgreSQL postgres://"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ceiling: PostgreSQL alone, fsync=on + synchronous_commit=on"),
        "{stdout}"
    );
    for label in [
        "  1024/tx, receipts rows only",
        "  1024/tx, the server's batch: numbered and logged under log_head's lock (as the server writes)",
        "  server receipts/s as a share of the rows-only ceiling (1024/tx)",
    ] {
        assert!(stdout.contains(label), "{label} missing:\n{stdout}");
    }
    // Both instances served.
    assert_eq!(stderr.matches("server pid ").count(), 2, "{stderr}");

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["database"]["engine"], "PostgreSQL");
    assert_eq!(v["database"]["instances"], 2);
    for phase in ["max_throughput", "fixed_rate"] {
        let p = &v[phase];
        assert!(p["receipts_201"].as_u64().unwrap() > 0, "{phase}: {p}");
        assert_eq!(p["errors"], serde_json::json!({}), "{phase}: {p}");
        assert_eq!(p["unfinished"], 0, "{phase}: {p}");
    }
    // Every receipt acknowledged is in the one database both instances write to.
    let stored = v["fixed_rate"]["server_receipts_stored_after"]
        .as_f64()
        .unwrap();
    let acknowledged = v["max_throughput"]["receipts_201"].as_f64().unwrap()
        + v["fixed_rate"]["receipts_201"].as_f64().unwrap();
    assert!(stored >= acknowledged, "{stored} < {acknowledged}");
    assert_eq!(v["ceiling"]["engine"], "PostgreSQL");
    let batches: Vec<u64> = v["ceiling"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rows_per_transaction"].as_u64().unwrap())
        .collect();
    assert_eq!(batches, [1, 64, 1024, 64, 1024]);
    assert!(
        v["ceiling"]["share_of_rows_only_ceiling_pct"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The verdict against the 50% target is for one instance only.
    assert!(v["pass"]["share_of_ceiling"].is_null());

    // The schemas of the run (the servers', each ceiling measurement's) are dropped.
    assert!(
        v["database"]["schema"]
            .as_str()
            .unwrap()
            .starts_with(&format!("loadgen_{pid}_"))
    );
    assert_eq!(
        schemas(&url, &format!("loadgen_{pid}_")),
        Vec::<String>::new()
    );
}
