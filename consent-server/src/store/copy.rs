//! Moving a deployment from SQLite to PostgreSQL (`consent-server migrate --to postgres://…`): every
//! policy version, pseudonym link, receipt, data key and event is copied (and the live subjects counted
//! again); every receipt's signature is verified
//! before it is written (a receipt that does not verify stops the copy, naming it); at the end every
//! receipt of the source is looked up in the target and the counts compared. Each step is idempotent,
//! so a copy interrupted anywhere is run again and adds nothing twice.

use consent_core::{KeySet, PolicyVersion, UnverifiedReceipt};

use super::postgres::ImportedEvent;
use super::sqlite::{SourceCounts, SqliteSource};
use super::{NewReceipt, PgStore, StoreError};
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
}

/// Where a copy is: `stage` (`policies`, `links`, `receipts`, `data keys`, `events`, `verify`), `done` of `total`.
pub type Progress<'a> = &'a mut dyn FnMut(&'static str, u64, u64);

/// Copies `source` into `target`; `source_name` (the SQLite file's path) keys the events' progress.
pub fn copy_sqlite_to_postgres(
    source: &SqliteSource,
    source_name: &str,
    target: &PgStore,
    keys: &KeySet,
    progress: Progress<'_>,
) -> Result<CopyReport, StoreError> {
    let counts = source.counts()?;
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
            let verified = UnverifiedReceipt::parse(&row.jws)
                .and_then(|u| u.verify(keys))
                .map_err(|e| invalid(&e))?;
            if verified.payload().jti.to_string() != row.id {
                return Err(invalid(&"its id is not the one it is stored under"));
            }
            let browser = match row.browser.as_deref() {
                None => None,
                Some(b) => Some(
                    stored_browser_family(b).ok_or_else(|| invalid(&format!("browser `{b}`")))?,
                ),
            };
            receipts.push(NewReceipt::new(&verified, browser)?);
            log_indexes.push(row.log_index);
        }
        report.receipts_added += target.import_receipts(receipts, log_indexes)?;
        done += rows.len() as u64;
        progress("receipts", done, counts.receipts);
    }
    // The keys after the receipts that made them; a key whose receipt is not copied is not either.
    let keys = source.data_keys()?;
    let key_count = keys.len() as u64;
    for chunk in keys.chunks(CHUNK as usize) {
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
    // The consent log's tree over the copied entries (a gap, such as a target that had entries of its
    // own, is refused here).
    target.build_log()?;
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
    Ok(report)
}
