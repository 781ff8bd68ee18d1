//! The consent log's part of a copy: redacted version 1 receipts are accepted on the log's word, as
//! `audit verify` accepts them, and the log's tree is rebuilt in the target from the leaf hashes logged
//! at commit, so that it has the source's size and root and the source's checkpoints (copied too) stay
//! true and consistent with every checkpoint the target signs after them.
//!
//! A version 1 receipt redacted by an erasure no longer verifies (its signature covers the names the
//! redaction removed), and its leaf in the tree is the hash of the bytes logged at commit, not of the
//! redacted form. It is copied as it is stored only when the source's log accounts for it: a verified
//! erasure record of its subject, later in the log, names its index with the leaf hash of exactly these
//! bytes; or the bytes are the ones logged (it was redacted before the log numbered it). Every other
//! entry's leaf is recomputed from its bytes and must equal the one logged.

use std::collections::BTreeMap;

use consent_core::tlog::{Frontier, Hash, UnverifiedCheckpoint};
use consent_core::{KeySet, RightsKind, RightsRecord};

use super::{CHUNK, Progress};
use crate::personal::redacted_payload;
use crate::store::{
    NewReceipt, PgStore, REDACTED_PREFIX, SourceReceipt, SqliteSource, Store, StoreError,
};

/// The redactions the source's logged erasures name: the redacted receipt's log index → (the erasure's
/// log index, its subject, the leaf hash of the redacted form). Every erasure record read verifies.
#[derive(Default)]
pub(super) struct Erasures(BTreeMap<u64, (u64, String, Hash)>);

impl Erasures {
    /// Reads and verifies every logged erasure record of `source`.
    pub(super) fn read(source: &SqliteSource, keys: &KeySet) -> Result<Erasures, StoreError> {
        let mut named = BTreeMap::new();
        let mut seq = 0;
        loop {
            let rows = source.events_after(seq, CHUNK)?;
            let Some(last) = rows.last() else { break };
            seq = last.0;
            for (source_seq, subject, _, kind, logged) in rows {
                let Some((record, index)) = logged.filter(|_| kind == "erase") else {
                    continue;
                };
                let r = RightsRecord::verify(&record, keys).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "event {source_seq}: its erasure record does not verify with the key file: {e}"
                    ))
                })?;
                if r.what != RightsKind::Erase || r.sub != subject {
                    return Err(StoreError::Corrupt(format!(
                        "event {source_seq}: its record is not an erasure of {subject}"
                    )));
                }
                let index = u64::try_from(index).map_err(|_| {
                    StoreError::Corrupt(format!("event {source_seq}: log index {index}"))
                })?;
                for red in r.redacted {
                    named.insert(red.index, (index, r.sub.clone(), red.leaf));
                }
            }
        }
        Ok(Erasures(named))
    }
}

/// How the log accounts for a redacted receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Redacted {
    /// A logged erasure names it with the leaf hash of its redacted form.
    ByErasure,
    /// Its bytes are the ones logged: it was redacted before the log numbered it.
    BeforeTheLog,
}

/// The receipt of `row`, stored redacted (`erased:…`), checked against the source's log as `audit verify`
/// checks it, made ready to store as it is (every column from its payload, as [`NewReceipt::new`] does).
pub(super) fn redacted_receipt(
    row: &SourceReceipt,
    source: &SqliteSource,
    erasures: &Erasures,
    browser: Option<&'static str>,
) -> Result<(NewReceipt, Redacted), StoreError> {
    let refused = |why: &str| {
        StoreError::Corrupt(format!(
            "receipt {} (seq {}) is stored redacted, but {why}; nothing after it was copied",
            row.id, row.seq
        ))
    };
    let p = redacted_payload(&row.jws)
        .filter(|p| p.v == 1 && p.representative.is_none() && p.kz.subject_name.is_none())
        .ok_or_else(|| refused("it is not a version 1 receipt without names"))?;
    if p.jti.to_string() != row.id {
        return Err(refused("its id is not the one it is stored under"));
    }
    let index = row
        .log_index
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| refused("it has no log index"))?;
    let head = source.log_head()?;
    if index >= head.size {
        return Err(refused("the log's tree does not hold it yet"));
    }
    let logged = source
        .logged_leaves(head.size, index, 1)?
        .pop()
        .ok_or_else(|| refused("its logged leaf hash is missing"))?;
    let leaf = Hash::leaf(row.jws.as_bytes());
    let how = if logged == leaf {
        Redacted::BeforeTheLog
    } else {
        match erasures.0.get(&index) {
            Some((at, subject, named)) if *at > index && *subject == p.sub && *named == leaf => {
                Redacted::ByErasure
            }
            Some((at, _, _)) => {
                return Err(refused(&format!(
                    "not as the erasure at log index {at} redacted it (edited after the erasure)"
                )));
            }
            None => {
                return Err(refused(&format!(
                    "no logged erasure of {} names it (its bytes are not the ones logged at commit)",
                    p.sub
                )));
            }
        }
    };
    let kid = kid_of(&row.jws).ok_or_else(|| refused("its header has no key id"))?;
    let receipt = NewReceipt::stored_as(&p, kid, row.jws.clone(), browser)?;
    Ok((receipt, how))
}

/// The `kid` of a redacted receipt's header (`erased:` + header.payload.signature).
fn kid_of(stored: &str) -> Option<String> {
    use base64::Engine as _;
    let header = stored.strip_prefix(REDACTED_PREFIX)?.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("kid")?.as_str().map(str::to_owned)
}

/// What copying the log did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogCopy {
    /// Entries in the target's tree at the end (the source's).
    pub entries: u64,
    /// Leaves added to the target's tree by this run.
    pub leaves_added: u64,
    /// The source's checkpoints, each checked against the rebuilt tree.
    pub checkpoints: u64,
    /// Checkpoints (and cosignature lines) added to the target by this run.
    pub checkpoints_added: u64,
}

/// Rebuilds the source's tree in the target from the leaf hashes logged at commit (each checked: equal
/// to its entry's hash, or a redaction the log accounts for, `redacted`), checks it against the
/// source's head and every checkpoint, then copies the checkpoints and their cosignatures. Run after
/// every entry is copied; resumes where the target's tree ends.
pub(super) fn copy_log(
    source: &SqliteSource,
    target: &PgStore,
    redacted: &BTreeMap<u64, Redacted>,
    progress: Progress<'_>,
) -> Result<LogCopy, StoreError> {
    let head = source.log_head()?;
    let end = source.logged()?;
    // Checkpoints signed after the head was read (the SQLite server may still run) wait for the next run.
    let (checkpoints, cosignatures) = source.checkpoints()?;
    let within = |size: &i64| u64::try_from(*size).is_ok_and(|s| s <= head.size);
    let checkpoints: Vec<_> = checkpoints.into_iter().filter(|(s, _)| within(s)).collect();
    let cosignatures: Vec<_> = cosignatures
        .into_iter()
        .filter(|(s, _)| within(s))
        .collect();
    let mut signed = Vec::with_capacity(checkpoints.len());
    for (size, note) in &checkpoints {
        let cp = UnverifiedCheckpoint::parse(note)
            .map_err(|e| StoreError::Corrupt(format!("the checkpoint of {size} entries: {e}")))?;
        let cp = cp.unverified_checkpoint();
        if i64::try_from(cp.size()).ok() != Some(*size) || cp.size() > head.size {
            return Err(StoreError::Corrupt(format!(
                "the checkpoint stored as {size} entries signs {} (the log's tree has {})",
                cp.size(),
                head.size
            )));
        }
        signed.push((cp.size(), cp.root()));
    }
    let mut report = LogCopy {
        checkpoints: signed.len() as u64,
        ..LogCopy::default()
    };
    let mut tree = Frontier::new();
    let mut checks = signed.iter().peekable();
    let chunk = CHUNK as u64 * 4;
    let mut check_roots = |tree: &Frontier| -> Result<(), StoreError> {
        while let Some((size, root)) = checks.peek() {
            if *size != tree.size() {
                break;
            }
            if tree.root() != *root {
                return Err(StoreError::Corrupt(format!(
                    "the source's checkpoint of {size} entries signs root {root}, but its log's first \
                     {size} entries have root {}: the source's log was altered",
                    tree.root()
                )));
            }
            checks.next();
        }
        if tree.size() == head.size && tree.root() != head.root {
            return Err(StoreError::Corrupt(format!(
                "the source's tree of {} entries has root {}, its entries {}: its tiles were altered",
                head.size,
                head.root,
                tree.root()
            )));
        }
        Ok(())
    };
    check_roots(&tree)?;
    while tree.size() < end {
        let first = tree.size();
        let entries = source.log_entries(first, chunk.min(end - first))?;
        if entries.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "the source's log index {first} is missing: its log has a gap"
            )));
        }
        let n = entries.len() as u64;
        // The tree holds only entries the target holds: rows the SQLite server wrote after their stage
        // was copied are copied (and added to the tree) by the next run.
        let stored = target.count_log_entries(first, n)?;
        if stored != n {
            return Err(StoreError::Corrupt(format!(
                "{} of the source's log entries {first} to {} are not in the target yet (the SQLite \
                 server wrote during the copy): run the copy again, with the server stopped",
                n - stored,
                first + n - 1
            )));
        }
        let in_tree = n.min(head.size.saturating_sub(first));
        let logged = if in_tree > 0 {
            source.logged_leaves(head.size, first, in_tree)?
        } else {
            Vec::new()
        };
        let mut leaves = Vec::with_capacity(entries.len());
        for (k, entry) in entries.iter().enumerate() {
            let index = first + k as u64;
            let leaf = Hash::leaf(entry);
            let leaf = match logged.get(k) {
                Some(l) if *l == leaf => leaf,
                Some(l) if redacted.get(&index) == Some(&Redacted::ByErasure) => *l,
                Some(_) => {
                    return Err(StoreError::Corrupt(format!(
                        "the source's log entry {index}: its bytes are not the ones logged at commit \
                         (edited, replaced or swapped)"
                    )));
                }
                None => leaf,
            };
            leaves.push(leaf);
            tree.push(leaf)
                .map_err(|e| StoreError::Corrupt(format!("the log's tree: {e}")))?;
            check_roots(&tree)?;
        }
        report.leaves_added += target.import_log_leaves(first, leaves)?;
        progress("log", tree.size(), end);
    }
    if let Some((size, _)) = checks.peek() {
        return Err(StoreError::Corrupt(format!(
            "the source's checkpoint of {size} entries is past its log's {end}"
        )));
    }
    let copied = target.log_head()?;
    if copied.size != tree.size() || copied.root != tree.root() {
        return Err(StoreError::Corrupt(format!(
            "the target's log has {} entries with root {}, the source's {} with root {}: the target's \
             tree is not the source's (it had entries of its own, or a server built it before the copy \
             finished): copy into a new database",
            copied.size,
            copied.root,
            tree.size(),
            tree.root()
        )));
    }
    report.entries = copied.size;
    report.checkpoints_added = target.import_checkpoints(checkpoints, cosignatures)?;
    Ok(report)
}
