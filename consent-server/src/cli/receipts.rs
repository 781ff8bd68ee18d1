//! `consent-server receipts verify`: receipts checked offline against a published key set.

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use consent_core::{KeySet, UnverifiedReceipt};

/// The subcommands of `receipts`.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Verify receipts offline: one JWS per line (or JSON Lines with a "receipt" field).
    Verify {
        /// File of receipts, or - for standard input.
        file: String,
        /// The published key set: a file, or an http:// or https:// URL.
        #[arg(long)]
        jwks: String,
    },
}

/// Runs a `receipts` subcommand.
pub(crate) fn run(command: Command) -> Result<ExitCode> {
    let Command::Verify { file, jwks } = command;
    verify(&file, &jwks)
}

/// Checks each receipt of `file` (`-`: standard input); exit 1 if one is invalid or none is valid.
fn verify(file: &str, jwks: &str) -> Result<ExitCode> {
    let keys = KeySet::from_jwks_json(&fetch_jwks(jwks)?).context("key set")?;
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?,
        ))
    };
    let (mut ok, mut bad) = (0u64, 0u64);
    let started = std::time::Instant::now();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let jws = if line.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("receipt").and_then(|r| r.as_str()).map(str::to_owned))
                .unwrap_or_default()
        } else {
            line.to_owned()
        };
        match UnverifiedReceipt::parse(&jws).and_then(|r| r.verify(&keys)) {
            Ok(_) => ok += 1,
            Err(e) => {
                bad += 1;
                println!("line {}: INVALID: {e}", i + 1);
            }
        }
        if (ok + bad) % 10_000 == 0 {
            eprintln!(
                "… {} receipts checked ({ok} valid, {bad} invalid)",
                ok + bad
            );
        }
    }
    eprintln!(
        "{ok} valid, {bad} invalid receipt(s) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(if bad == 0 && ok > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The key set named by `source`: a file, or fetched from an `http://` or `https://` URL (redirects
/// followed; https checked against the system's root certificates).
pub(crate) fn fetch_jwks(source: &str) -> Result<String> {
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"));
    }
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("HTTP client")?
        .get(source)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .with_context(|| format!("cannot fetch {source}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("{source}: HTTP {status}");
    }
    response
        .text()
        .with_context(|| format!("cannot read the answer of {source}"))
}
