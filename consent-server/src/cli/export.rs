//! `consent-server export`: receipts from the database, as JSON Lines (the lines of `GET /v1/export`),
//! Kantara Consent Receipts or CSV.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::ValueEnum;
use consent_core::Timestamp;
use consent_server::config::Config;
use consent_server::keys::ServerKeys;
use consent_server::personal::{self, Read};
use consent_server::privacy::SubjectRef;
use consent_server::store::ExportQuery;

use super::bootstrap::{load_policies, require_installation};

/// The arguments of `export`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Issued at or after (RFC 3339 date or date-time, or unix seconds).
    #[arg(long, value_parser = parse_time)]
    from: Option<Timestamp>,
    /// Issued before.
    #[arg(long, value_parser = parse_time)]
    to: Option<Timestamp>,
    /// Only this subject: its pseudonym (`sub:…` or `dev:…`; find it with the lookup endpoint).
    #[arg(long)]
    subject: Option<SubjectRef>,
    /// Output file (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// An export format.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One JSON object per line: seq, receipt_id, subject, issued_at, receipt.
    Jsonl,
    /// Kantara Consent Receipt v1.1, one JSON object per line.
    Kantara,
    /// CSV: seq, receipt_id, subject, issued_at, policy_version, method, decisions.
    Csv,
}

/// Exports the receipts `args` selects from the configured database.
pub(crate) fn run(config: Option<&Path>, args: Args) -> Result<ExitCode> {
    let config = Config::load(config)?;
    export(&config, &args)?;
    Ok(ExitCode::SUCCESS)
}

/// A time given as unix seconds, a date (`2026-11-24`, midnight UTC) or a date-time
/// (`2026-11-24T10:00:00Z`).
fn parse_time(s: &str) -> Result<Timestamp, String> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Timestamp::from_unix(n));
    }
    let date: consent_core::Date = s
        .get(..10)
        .unwrap_or(s)
        .parse()
        .map_err(|e| format!("`{s}` is not a date, date-time or unix time: {e}"))?;
    let mut t = date.start().as_unix();
    if let Some(rest) = s.get(10..).filter(|r| !r.is_empty()) {
        let hms = rest.trim_start_matches('T').trim_end_matches('Z');
        let parts: Vec<i64> = hms
            .split(':')
            .map(|p| p.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad time in `{s}`: {e}"))?;
        t += parts.first().copied().unwrap_or(0) * 3600
            + parts.get(1).copied().unwrap_or(0) * 60
            + parts.get(2).copied().unwrap_or(0);
    }
    Ok(Timestamp::from_unix(t))
}

/// Creates `path` (or empties it) readable and writable by its owner only: an export holds personal
/// data (pseudonyms, and the names inside receipts). An existing file is made so too before anything
/// is written to it, since the mode of `OpenOptions` applies only to a file it creates.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes the export (progress and the count on standard error).
fn export(config: &Config, args: &Args) -> Result<()> {
    let format = args.format;
    require_installation(config)?;
    let store = config
        .database
        .open(config.storage.store_options())
        .with_context(|| format!("cannot open {}", config.database))?;
    let keys = ServerKeys::load(&config.keys)?;
    let (policy, previous) = load_policies(config)?;
    let mut policies: std::collections::BTreeMap<_, _> =
        previous.into_iter().map(|p| (p.version(), p)).collect();
    policies.insert(policy.version(), policy);
    let q = ExportQuery {
        from: args.from,
        to: args.to,
        subject: args.subject,
        after_seq: None,
        limit: None,
    };
    let mut w: Box<dyn std::io::Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            create_private(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if matches!(format, Format::Csv) {
        writeln!(
            w,
            "seq,receipt_id,subject,issued_at,policy_version,method,decisions"
        )?;
    }
    let started = std::time::Instant::now();
    let mut failed: Option<anyhow::Error> = None;
    let mut skipped = 0u64;
    let n = store.export(&q, &mut |r| {
        let mut skip = false;
        let line = match format {
            Format::Jsonl => Ok(personal::export_line(&*store, &keys.receipts, &r).to_string()),
            Format::Kantara | Format::Csv => personal::read(&*store, &keys.receipts, &r)
                .map_err(anyhow::Error::from)
                .and_then(|read| {
                    let (p, verified) = match &read {
                        Read::Verified(v, names) => (v.payload(), Some((v, names))),
                        Read::Redacted(p) => (&**p, None),
                    };
                    if matches!(format, Format::Csv) {
                        let decisions: Vec<String> = p
                            .decisions
                            .iter()
                            .map(|(k, c)| format!("{k}={c}"))
                            .collect();
                        return Ok(format!(
                            "{},{},{},{},{},{},{}",
                            r.seq,
                            r.id,
                            r.subject,
                            p.iat,
                            p.policy.version,
                            p.method,
                            decisions.join(";")
                        ));
                    }
                    let Some((v, names)) = verified else {
                        skip = true;
                        return Err(anyhow::anyhow!(
                            "a version 1 receipt redacted when its subject was erased (it named a \
                             person in clear): no longer a verifiable receipt"
                        ));
                    };
                    match policies.get(&p.policy.version) {
                        Some(policy) => Ok(v.to_kantara_with(policy, names)?.to_string()),
                        None => {
                            skip = true;
                            Err(anyhow::anyhow!(
                                "policy {} is not configured (add it to previous_policies)",
                                p.policy.version
                            ))
                        }
                    }
                }),
        };
        match line.and_then(|l| Ok(writeln!(w, "{l}")?)) {
            Ok(()) => {}
            Err(e) if skip => {
                skipped += 1;
                eprintln!("receipt {}: skipped: {e}", r.id);
            }
            Err(e) => {
                failed = Some(e);
                return false;
            }
        }
        if r.seq.0 % 10_000 == 0 {
            eprintln!("… {} receipts exported", r.seq);
        }
        true
    })?;
    w.flush()?;
    if let Some(e) = failed {
        return Err(e);
    }
    eprintln!(
        "exported {} receipt(s) ({skipped} skipped) in {:.1}s",
        n - skipped,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
