//! `consent-server migrate --to postgres://…`: copies the configured SQLite database into PostgreSQL
//! (every policy version, pseudonym link, receipt, data key, event, case, webhook delivery, live
//! idempotency key, and the consent log's tree and checkpoints), verifying every receipt's signature
//! with the key file (a redacted version 1 receipt against the log's erasures) and, at the end, that
//! every receipt is in the target and the log has the source's root; run again after an interruption,
//! it adds nothing twice. Once a server has started on the target it refuses, writing nothing (the
//! target's state is newer). With `--schema-only` it only applies the migrations (run it as the
//! schema's owner role, then give the application role its grants).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use consent_server::config::Config;
use consent_server::keys::ServerKeys;
use consent_server::store::{
    POSTGRES_MIGRATIONS, PgStore, PostgresUrl, SqliteSource, Store, StoreError,
    copy_sqlite_to_postgres,
};
use indicatif::{ProgressBar, ProgressStyle};

/// The arguments of `migrate`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The PostgreSQL database: postgres://user@host:port/database?sslmode=verify-full&sslrootcert=…
    #[arg(long, value_name = "URL")]
    to: String,
    /// Only apply the schema's migrations (as its owner role); copy nothing.
    #[arg(long)]
    schema_only: bool,
}

/// Copies the configured SQLite database into `args.to`.
pub(crate) fn run(config: Option<&Path>, args: &Args) -> Result<ExitCode> {
    let config = Config::load(config)?;
    let url = PostgresUrl::parse(&args.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if args.schema_only {
        let target = PgStore::open_for_copy(&url, config.storage.store_options())
            .with_context(|| format!("cannot open {url}"))?;
        target.close();
        println!(
            "{url}: the schema is at version {} (its owner can now grant the application role its \
             rights: consent-server/sql/postgres-grants.sql)",
            POSTGRES_MIGRATIONS.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(file) = config.database.sqlite_file() else {
        bail!(
            "the configured database is {}: migrate copies from a SQLite file (set `database` to it)",
            config.database
        );
    };
    if !config.keys.exists() {
        bail!(
            "key file {} does not exist: the copy verifies every receipt with the keys that signed them",
            config.keys.display()
        );
    }
    let keys = ServerKeys::load(&config.keys)?;
    let source =
        SqliteSource::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let target = PgStore::open_for_copy(&url, config.storage.store_options())
        .with_context(|| format!("cannot open {url}"))?;
    let name = std::fs::canonicalize(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string();
    tracing::info!(from = %name, to = %url, "copying");
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let mut stage = "";
    let mut logged = Instant::now();
    let report = copy_sqlite_to_postgres(
        &source,
        &name,
        &target,
        &keys.receipts,
        super::now().as_unix(),
        &mut |s, done, total| {
            if s != stage {
                stage = s;
                bar.set_message(s);
                bar.set_length(total);
                logged = Instant::now() - Duration::from_secs(60);
            }
            bar.set_position(done);
            // For logs that are not a terminal: a line every 10 seconds, and at the end of a stage.
            if done == total || logged.elapsed() >= Duration::from_secs(10) {
                logged = Instant::now();
                bar.suspend(|| tracing::info!(stage = s, done, total, "copy"));
            }
        },
    );
    bar.finish_and_clear();
    target.close();
    let report = match report {
        // Not resumable: nothing was written, and a run again would be refused again.
        Err(e @ StoreError::TargetServed { .. }) => bail!("refused to copy to {url}: {e}"),
        r => r.with_context(|| format!("copy to {url} stopped (run it again to resume)"))?,
    };
    if report.links_conflicting > 0 {
        tracing::warn!(
            links = report.links_conflicting,
            "external ids already linked to another pseudonym in the target: their links there were kept"
        );
    }
    let s = report.source;
    println!(
        "copied {name} to {url} in {:.1}s: {} policy version(s), {} link(s), {} receipt(s) ({} added now, \
         every one verified with the key file and found in the target), {} data key(s) added now, {} event(s) \
         ({} added now)",
        started.elapsed().as_secs_f64(),
        s.policies,
        s.links,
        s.receipts,
        report.receipts_added,
        report.data_keys_added,
        s.events,
        report.events_added,
    );
    if report.receipts_redacted + report.receipts_redacted_before_log > 0 {
        println!(
            "redacted version 1 receipts copied as they are: {} accounted for by a logged erasure, {} \
             redacted before the log",
            report.receipts_redacted, report.receipts_redacted_before_log
        );
    }
    println!(
        "{} case(s) ({} added now), {} webhook delivery(ies) ({} added now; {} pending or dead, sent from \
         PostgreSQL once its instances start), {} live idempotency key(s) ({} added now)",
        s.cases,
        report.cases_added,
        s.deliveries,
        report.deliveries_added,
        report.deliveries_open,
        report.idempotency_keys,
        report.idempotency_added,
    );
    println!(
        "log: {} entries, the source's tree and root ({} leaves added now), {} checkpoint(s) checked \
         against it ({} checkpoint(s) and cosignature(s) added now)",
        report.log.entries,
        report.log.leaves_added,
        report.log.checkpoints,
        report.log.checkpoints_added,
    );
    Ok(ExitCode::SUCCESS)
}
