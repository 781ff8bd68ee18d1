//! The `loadgen` binary, run for real: its command line, and a short ceiling-only run (no server
//! needed) that writes real SQLite files, prints the report and the JSON, and cleans up.
//!
//! The HTTP phases need the release server binary (`cargo build --release -p consent-server`)
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
