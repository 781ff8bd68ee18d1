//! Moving a deployment from SQLite to PostgreSQL (`consent-server migrate --to postgres://…`): every
//! policy version, pseudonym link, receipt, data key, event, case, webhook delivery and live
//! idempotency key is copied (and the live subjects counted again), and the consent log's tree is
//! rebuilt with the source's size and root, its checkpoints copied. Every receipt's signature is
//! verified before it is written (a receipt that does not verify stops the copy, naming it), except a
//! version 1 receipt redacted by an erasure, which is checked as `audit verify` checks it (`log.rs`);
//! every logged rights record verifies too. At the end every receipt of the source is looked up in the
//! target and the counts compared. Each step is idempotent, so a copy interrupted anywhere is run again
//! and adds nothing twice; until a run has ended, servers refuse the target. Once a server has started
//! on the target, a copy is refused (`postgres/served.rs`).

mod log;

use std::collections::BTreeMap;

use consent_core::{KeySet, PolicyVersion, RightsRecord, UnverifiedReceipt};

pub use self::log::LogCopy;
use self::log::{Erasures, Redacted, copy_log, redacted_receipt};
use super::postgres::ImportedEvent;
use super::sqlite::{SourceCounts, SqliteSource};
use super::{NewReceipt, PgStore, REDACTED_PREFIX, StoreError};
use crate::privacy::{SubjectRef, stored_browser_family};

/// Rows per statement.
const CHUNK: i64 = 1000;

/// What a copy did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// What the source holds.
    pub source: SourceCounts,
    /// Receipts added by this run (the others were there from an earlier run).
    pub receipts_added: u64,
    /// Receipts of the source found in the target, each verified.
    pub receipts_verified: u64,
    /// Events added by this run.
    pub events_added: u64,
    /// Data keys added by this run (the subjects' names are sealed under them).
    pub data_keys_added: u64,
    /// Links of the source whose external id the target already links to another pseudonym (kept).
    pub links_conflicting: u64,
    /// Version 1 receipts copied in their redacted form, accounted for by a logged erasure.
    pub receipts_redacted: u64,
    /// Version 1 receipts copied in their redacted form, logged already redacted.
    pub receipts_redacted_before_log: u64,
    /// Cases added by this run.
    pub cases_added: u64,
    /// Webhook deliveries added by this run.
    pub deliveries_added: u64,
    /// Deliveries of the source still to go out (pending) or dead: the target's instances send them.
    pub deliveries_open: u64,
    /// Idempotency keys (not expired) of the source.
    pub idempotency_keys: u64,
    /// Idempotency keys added by this run.
    pub idempotency_added: u64,
    /// The consent log.
    pub log: LogCopy,
}

/// Where a copy is: `stage` (`policies`, `links`, `receipts`, `data keys`, `events`, `cases`, `webhook
/// deliveries`, `idempotency keys`, `log`, `verify`), `done` of `total`.
pub type Progress<'a> = &'a mut dyn FnMut(&'static str, u64, u64);

/// Copies `source` into `target`; `source_name` (the SQLite file's path) keys the events' progress;
/// `now` (unix seconds) decides which idempotency keys are still live. A target consent-server has
/// served on is refused before anything is written ([`StoreError::TargetServed`]): its state is newer
/// than the source's.
pub fn copy_sqlite_to_postgres(
    source: &SqliteSource,
    source_name: &str,
    target: &PgStore,
    keys: &KeySet,
    now: i64,
    progress: Progress<'_>,
) -> Result<CopyReport, StoreError> {
    let counts = source.counts()?;
    target.begin_import(source_name)?;
    let mut report = CopyReport {
        source: counts,
        ..CopyReport::default()
    };
    let policies = source.policies()?;
    for (i, (version, sha256, canonical)) in policies.iter().enumerate() {
        let version: PolicyVersion = version
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("policy version `{version}`")))?;
        target.import_policy(version, sha256, canonical)?;
        progress("policies", i as u64 + 1, counts.policies);
    }
    let links = source.links()?;
    for (i, chunk) in links.chunks(CHUNK as usize).enumerate() {
        for (_, subject) in chunk {
            subject.parse::<SubjectRef>().map_err(|_| {
                StoreError::Corrupt(format!("link to `{subject}`: not a pseudonym"))
            })?;
        }
        report.links_conflicting += target.import_links(chunk.to_vec())?;
        progress(
            "links",
            ((i as i64 + 1) * CHUNK).min(links.len() as i64) as u64,
            counts.links,
        );
    }
    // The erasures the source logged, verified: what a redacted receipt is checked against.
    let erasures = Erasures::read(source, keys)?;
    let mut redacted = BTreeMap::new();
    let mut seq = 0;
    let mut done = 0;
    loop {
        let rows = source.receipts_after(seq, CHUNK)?;
        let Some(last) = rows.last() else { break };
        seq = last.seq;
        let mut receipts = Vec::with_capacity(rows.len());
        let mut log_indexes = Vec::with_capacity(rows.len());
        for row in &rows {
            let invalid = |e: &dyn std::fmt::Display| {
                StoreError::Corrupt(format!(
                    "receipt {} (seq {}) does not verify with the key file: {e}; nothing after it was \
                     copied",
                    row.id, row.seq
                ))
            };
            let browser = match row.browser.as_deref() {
                None => None,
                Some(b) => Some(
                    stored_browser_family(b).ok_or_else(|| invalid(&format!("browser `{b}`")))?,
                ),
            };
            if row.jws.starts_with(REDACTED_PREFIX) {
                let (receipt, how) = redacted_receipt(row, source, &erasures, browser)?;
                match how {
                    Redacted::ByErasure => report.receipts_redacted += 1,
                    Redacted::BeforeTheLog => report.receipts_redacted_before_log += 1,
                }
                if let Some(i) = row.log_index.and_then(|i| u64::try_from(i).ok()) {
                    redacted.insert(i, how);
                }
                receipts.push(receipt);
                log_indexes.push(row.log_index);
                continue;
            }
            let verified = UnverifiedReceipt::parse(&row.jws)
                .and_then(|u| u.verify(keys))
                .map_err(|e| invalid(&e))?;
            if verified.payload().jti.to_string() != row.id {
                return Err(invalid(&"its id is not the one it is stored under"));
            }
            receipts.push(NewReceipt::new(&verified, browser)?);
            log_indexes.push(row.log_index);
        }
        report.receipts_added += target.import_receipts(receipts, log_indexes)?;
        done += rows.len() as u64;
        progress("receipts", done, counts.receipts);
    }
    // The keys after the receipts that made them; a key whose receipt is not copied is not either.
    let data_keys = source.data_keys()?;
    let key_count = data_keys.len() as u64;
    for chunk in data_keys.chunks(CHUNK as usize) {
        for (subject, key, _) in chunk {
            subject.parse::<SubjectRef>().map_err(|_| {
                StoreError::Corrupt(format!("data key of `{subject}`: not a pseudonym"))
            })?;
            if key.len() != 32 {
                return Err(StoreError::Corrupt(format!("data key of {subject}")));
            }
        }
        report.data_keys_added += target.import_data_keys(chunk.to_vec())?;
    }
    progress("data keys", key_count, key_count);
    let already = target.imported_events(source_name)?;
    let mut seq = already;
    loop {
        let rows = source.events_after(seq, CHUNK)?;
        let Some(last) = rows.last() else { break };
        seq = last.0;
        let mut events = Vec::with_capacity(rows.len());
        for (source_seq, subject, at, kind, logged) in rows {
            subject.parse::<SubjectRef>().map_err(|_| {
                StoreError::Corrupt(format!(
                    "event {source_seq}: `{subject}` is not a pseudonym"
                ))
            })?;
            if let Some((record, _)) = &logged {
                let r = RightsRecord::verify(record, keys).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "event {source_seq}: its signed record does not verify with the key file: {e}; \
                         nothing after it was copied"
                    ))
                })?;
                if r.sub != subject || r.what.as_str() != kind {
                    return Err(StoreError::Corrupt(format!(
                        "event {source_seq}: its signed record is not a `{kind}` of {subject}"
                    )));
                }
            }
            events.push(ImportedEvent {
                source_seq,
                subject,
                at,
                kind,
                logged,
            });
        }
        report.events_added += target.import_events(source_name, events)?;
        progress("events", report.events_added, counts.events);
    }
    copy_follow_ups(source, target, now, &mut report, progress)?;
    // The consent log's tree over the copied entries, from the leaf hashes logged at commit, and its
    // checkpoints (a gap, such as a target that had entries of its own, is refused here).
    report.log = copy_log(source, target, &redacted, progress)?;
    // Every receipt of the source is in the target, and every event was copied.
    let mut seq = 0;
    loop {
        let rows = source.receipts_after(seq, CHUNK)?;
        let Some(last) = rows.last() else { break };
        seq = last.seq;
        let n = rows.len() as u64;
        let found = target.count_receipts(rows.into_iter().map(|r| r.id).collect())?;
        if found != n {
            return Err(StoreError::Corrupt(format!(
                "{} of {n} receipts up to seq {seq} are missing in the target",
                n - found
            )));
        }
        report.receipts_verified += n;
        progress("verify", report.receipts_verified, counts.receipts);
    }
    if report.receipts_verified != counts.receipts {
        return Err(StoreError::Corrupt(format!(
            "{} receipts verified in the target, {} in the source",
            report.receipts_verified, counts.receipts
        )));
    }
    let copied = target.imported_events(source_name)?;
    let last = source.events_after(0, i64::MAX)?.last().map_or(0, |e| e.0);
    if copied != last {
        return Err(StoreError::Corrupt(format!(
            "events copied up to {copied}, the source's last is {last}"
        )));
    }
    target.recount_live_subjects()?;
    target.finish_import(source_name)?;
    Ok(report)
}

/// Copies what follows rights requests and consents: cases (the deliveries name them), webhook
/// deliveries in every state, and the idempotency keys still live at `now`.
fn copy_follow_ups(
    source: &SqliteSource,
    target: &PgStore,
    now: i64,
    report: &mut CopyReport,
    progress: Progress<'_>,
) -> Result<(), StoreError> {
    let counts = report.source;
    let (mut id, mut done) = (0, 0);
    loop {
        let rows = source.cases_after(id, CHUNK)?;
        let Some(last) = rows.last() else { break };
        id = last.id;
        done += rows.len() as u64;
        report.cases_added += target.import_cases(rows)?;
        progress("cases", done, counts.cases);
    }
    let (mut id, mut done) = (0, 0);
    loop {
        let rows = source.deliveries_after(id, CHUNK)?;
        let Some(last) = rows.last() else { break };
        id = last.id;
        done += rows.len() as u64;
        report.deliveries_open += rows
            .iter()
            .filter(|d| d.state == "pending" || d.state == "dead")
            .count() as u64;
        report.deliveries_added += target.import_deliveries(rows)?;
        progress("webhook deliveries", done, counts.deliveries);
    }
    let keys = source.idempotency_keys(now)?;
    report.idempotency_keys = keys.len() as u64;
    for chunk in keys.chunks(CHUNK as usize) {
        report.idempotency_added += target.import_idempotency(chunk.to_vec())?;
    }
    progress(
        "idempotency keys",
        report.idempotency_keys,
        report.idempotency_keys,
    );
    Ok(())
}
