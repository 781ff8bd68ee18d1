//! `audit verify`: reads the log (tiles and entry bundles), checks every entry's signature against the
//! key set and its bytes against the hash logged at commit, rebuilds the tree, checks the checkpoint's
//! signature and root, and that the log extends every checkpoint seen before. Every problem is named.
//!
//! A version 1 receipt redacted by an erasure is served in its redacted form (`erased:…`, no names,
//! `spec/SPEC.md` §6.8) while the tiles keep the hash of the bytes logged at commit. It passes only when
//! a logged erasure of its subject later in the log names its index and the leaf hash of exactly that
//! redacted form; it is then counted as redacted. One logged already redacted (erased before the log
//! numbered it) matches its logged hash and is counted apart, as redacted before the log: nothing else
//! about it can be checked. Any other change still fails.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use consent_core::tlog::{
    Bundle, Frontier, Hash, NoteVerifier, UnverifiedCheckpoint, VerifiedCheckpoint, bundle_entries,
    tile_hashes,
};
use consent_core::{
    JwsError, KeySet, RECEIPT_TYP, RIGHTS_TYP, Redaction, RightsKind, RightsRecord,
};

use super::source::Source;
use super::state::Seen;

/// What a run found.
pub(crate) struct Audit {
    /// The checkpoint checked.
    pub(crate) checkpoint: VerifiedCheckpoint,
    /// Entries read and checked.
    pub(crate) entries: u64,
    /// Receipts among them.
    pub(crate) receipts: u64,
    /// Rights events among them, by kind.
    pub(crate) rights: BTreeMap<String, u64>,
    /// Receipts served redacted by an erasure that the log accounts for.
    pub(crate) redacted: u64,
    /// Receipts logged already redacted (erased before the log numbered them): their bytes are the
    /// ones logged, and nothing else about them can be checked.
    pub(crate) redacted_before_log: u64,
    /// Everything wrong, named.
    pub(crate) problems: Vec<String>,
}

/// A served entry in redacted form: its index, the subject its payload names, its leaf hash, and
/// whether that is the hash logged at commit (a receipt redacted before the log numbered it).
struct RedactedEntry {
    index: u64,
    subject: String,
    leaf: Hash,
    as_logged: bool,
}

/// An erasure's record: its index, subject, and the redactions it names.
struct Erasure {
    index: u64,
    subject: String,
    redacted: Vec<Redaction>,
}

/// What the checks of entries gather for the redaction check at the end.
#[derive(Default)]
struct Redactions {
    entries: Vec<RedactedEntry>,
    erasures: Vec<Erasure>,
}

/// The subject of a version 1 receipt in redacted form (`erased:` + header, payload without names,
/// signature); `None` if it is not one.
fn redacted_subject(text: &str) -> Option<String> {
    let p = consent_server::personal::redacted_payload(text)?;
    (p.v == 1 && p.representative.is_none() && p.kz.subject_name.is_none()).then_some(p.sub)
}

/// Checks one entry's signature: a receipt or a rights record, signed by the key set; an entry served
/// redacted is set aside for [`check_redactions`].
fn check_entry(keys: &KeySet, entry: &[u8], audit: &mut Audit, index: u64, found: &mut Redactions) {
    let Ok(text) = std::str::from_utf8(entry) else {
        audit
            .problems
            .push(format!("entry {index}: not text, so not a JWS"));
        return;
    };
    if text.starts_with(consent_server::store::REDACTED_PREFIX) {
        match redacted_subject(text) {
            Some(subject) => found.entries.push(RedactedEntry {
                index,
                subject,
                leaf: Hash::leaf(entry),
                as_logged: false,
            }),
            None => audit.problems.push(format!(
                "entry {index}: marked redacted, but not a version 1 receipt without names"
            )),
        }
        return;
    }
    match keys.verify(text, RECEIPT_TYP) {
        Ok(_) => audit.receipts += 1,
        Err(JwsError::WrongType { found: typ, .. }) if typ == RIGHTS_TYP => {
            match RightsRecord::verify(text, keys) {
                Ok(r) => {
                    if r.what == RightsKind::Erase {
                        found.erasures.push(Erasure {
                            index,
                            subject: r.sub.clone(),
                            redacted: r.redacted.clone(),
                        });
                    }
                    *audit.rights.entry(r.what.as_str().to_owned()).or_default() += 1;
                }
                Err(e) => audit.problems.push(format!(
                    "entry {index}: a rights record that does not verify: {e}"
                )),
            }
        }
        Err(e) => audit.problems.push(format!(
            "entry {index}: not a receipt or rights record signed by the key set: {e}"
        )),
    }
}

/// Verifies the log `src` against `keys` and the log's key; `seen` are checkpoints verified before.
pub(crate) fn verify(
    src: &Source,
    keys: &KeySet,
    log_key: &NoteVerifier,
    witnesses: &[NoteVerifier],
    seen: &[Seen],
) -> Result<Audit> {
    let note = src.text("checkpoint")?;
    let checkpoint = UnverifiedCheckpoint::parse(&note)
        .context("the log's checkpoint does not parse")?
        .verify(log_key, witnesses)
        .context("the log's checkpoint does not verify with the log's key")?;
    let size = checkpoint.checkpoint().size();
    let mut audit = Audit {
        checkpoint,
        entries: 0,
        receipts: 0,
        rights: BTreeMap::new(),
        redacted: 0,
        redacted_before_log: 0,
        problems: Vec::new(),
    };
    let mut found = Redactions::default();
    for s in seen.iter().filter(|s| s.size > size) {
        audit.problems.push(format!(
            "rolled back: the log's checkpoint has {size} entries, fewer than the {} of a checkpoint \
             verified before (at {}): the database was restored from an older copy, or entries were removed",
            s.size, s.at
        ));
    }
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} entries [{bar:40}] {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut tree = Frontier::new();
    let mut checks = seen
        .iter()
        .filter(|s| s.size <= size && s.size > 0)
        .peekable();
    for bundle in Bundle::for_tree(size) {
        let first = bundle.first_entry();
        let width = u64::from(bundle.width());
        let tile = bundle.tile();
        let logged = match src.get(&tile.to_string())? {
            Some(data) => match tile_hashes(&tile, &data) {
                Ok(h) => Some(h),
                Err(e) => {
                    audit.problems.push(format!("{tile}: {e}"));
                    None
                }
            },
            None => {
                audit.problems.push(format!("{tile}: missing"));
                None
            }
        };
        let entries = src.get(&bundle.to_string())?;
        let entries: Option<Vec<&[u8]>> = match &entries {
            Some(data) => match bundle_entries(&bundle, data) {
                Ok(e) => Some(e),
                Err(e) => {
                    audit.problems.push(format!("{bundle}: {e}"));
                    None
                }
            },
            None => None,
        };
        if entries.is_none() {
            audit.problems.push(format!(
                "entries {first} to {}: missing ({bundle} is not served: rows deleted or a table truncated)",
                first + width - 1
            ));
        }
        for i in 0..width {
            let index = first + i;
            let entry = entries.as_ref().and_then(|e| e.get(i as usize)).copied();
            let logged_hash = logged.as_ref().and_then(|h| h.get(i as usize)).copied();
            let leaf = entry.map(Hash::leaf);
            let mut redacted = false;
            if let Some(e) = entry {
                let before = found.entries.len();
                check_entry(keys, e, &mut audit, index, &mut found);
                redacted = found.entries.len() > before;
                audit.entries += 1;
            }
            if redacted
                && let (Some(r), Some(l), Some(h)) = (found.entries.last_mut(), leaf, logged_hash)
            {
                // Judged at the end, once every erasure after it has been read.
                r.as_logged = l == h;
            } else if let (Some(l), Some(h)) = (leaf, logged_hash)
                && l != h
            {
                audit.problems.push(format!(
                    "entry {index}: its bytes are not the ones logged at commit (edited, replaced, or \
                     swapped with another row)"
                ));
            }
            // The tree is rebuilt from the hashes logged at commit where they are served (so that one
            // edited entry is named once), from the entries otherwise.
            match logged_hash.or(leaf) {
                Some(h) => tree.push(h).context("tree")?,
                None => {
                    audit.problems.push(format!(
                        "entry {index}: neither the entry nor its hash is served; stopping"
                    ));
                    bar.finish_and_clear();
                    return Ok(audit);
                }
            }
            while let Some(s) = checks.peek() {
                if s.size != tree.size() {
                    break;
                }
                if tree.root().to_base64() != s.root {
                    audit.problems.push(format!(
                        "forked: the log's first {} entries now have root {}, but the checkpoint \
                         verified before (at {}) signed {}: entries were rewritten",
                        s.size,
                        tree.root(),
                        s.at,
                        s.root
                    ));
                }
                checks.next();
            }
        }
        bar.inc(width);
    }
    bar.finish_and_clear();
    check_redactions(&found, &mut audit);
    let root = audit.checkpoint.checkpoint().root();
    if tree.root() != root {
        audit.problems.push(format!(
            "the tree rebuilt from the log has root {}, but the checkpoint of {size} entries signed {root}",
            tree.root()
        ));
    }
    Ok(audit)
}

/// Every entry served redacted must be accounted for: by a logged erasure of its subject, later in the
/// log, naming its index and the leaf hash of exactly the form served; or by having been logged already
/// redacted (erased before the log existed: counted apart, as nothing but its bytes can be checked). And
/// every redaction an erasure names must be served.
fn check_redactions(found: &Redactions, audit: &mut Audit) {
    let mut named: BTreeMap<u64, (&Erasure, &Redaction)> = BTreeMap::new();
    for e in &found.erasures {
        for r in &e.redacted {
            named.insert(r.index, (e, r));
        }
    }
    let mut served = BTreeSet::new();
    for r in &found.entries {
        served.insert(r.index);
        if r.as_logged {
            audit.redacted_before_log += 1;
            continue;
        }
        match named.get(&r.index) {
            Some((e, n))
                if e.index > r.index && e.subject == r.subject && n.leaf == r.leaf =>
            {
                audit.redacted += 1;
            }
            Some((e, _)) => audit.problems.push(format!(
                "entry {}: served redacted, but not as the erasure at entry {} redacted it (edited after                  the erasure)",
                r.index, e.index
            )),
            None => audit.problems.push(format!(
                "entry {}: served redacted, but no logged erasure of {} names it: its bytes are not the                  ones logged at commit (edited)",
                r.index, r.subject
            )),
        }
    }
    for (index, (e, _)) in &named {
        if *index < audit.entries && !served.contains(index) {
            audit.problems.push(format!(
                "entry {index}: the erasure at entry {} redacted it, but it is served whole",
                e.index
            ));
        }
    }
}
