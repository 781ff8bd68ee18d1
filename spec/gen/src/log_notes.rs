//! Signed-note vectors of the consent log (`spec/vectors/log/`): the log's and the witness's keys,
//! checkpoints (valid, cosigned, and corrupted in every way the format allows), the log's latest
//! checkpoint as served (`checkpoint`), and tlog-proof files (`tlog-proofs.json`, `entry-300.tlog-proof`).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use consent_core::tlog::{
    Checkpoint, Hash, NoteVerifier, UnverifiedCheckpoint, UnverifiedTlogProof, VerifiedCheckpoint,
    VerifiedNote, VerifiedTlogProof,
};
use serde_json::{Value, json};

use crate::keys::{log_signer, other_signer, other_witness, witness};
use crate::log::{Log, SIZE, entry};

/// When the witness cosigned (POSIX seconds).
pub(crate) const COSIGNED_AT: u64 = 1_750_000_000;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn verifiers() -> (NoteVerifier, Vec<NoteVerifier>) {
    (log_signer().verifier(), vec![witness().verifier()])
}

/// The log's checkpoint at `size`, signed, and cosigned by the witness when `cosigned`.
fn checkpoint(log: &Log, size: u64, cosigned: bool) -> VerifiedCheckpoint {
    let key = log_signer();
    let mut signed = ok(Checkpoint::new(key.name(), size, log.root(size)).sign(&key));
    if cosigned {
        let w = witness();
        let line = ok(w.cosign(&signed, COSIGNED_AT));
        ok(signed.add_cosignature(line, &w.verifier()));
    }
    signed
}

/// A checkpoint vector; checked against the library here, so that no vector says what the library
/// does not do.
fn checkpoint_vector(name: &str, note: String, reason: Option<&str>) -> Value {
    let (log_key, witnesses) = verifiers();
    let result = UnverifiedCheckpoint::parse(&note).and_then(|c| c.verify(&log_key, &witnesses));
    assert_eq!(
        result.is_ok(),
        reason.is_none(),
        "checkpoint vector {name}: {result:?}"
    );
    let mut v = json!({ "name": name, "note": note, "valid": reason.is_none() });
    match (result, reason) {
        (Ok(c), _) => {
            let cp = c.checkpoint();
            v["checkpoint"] = json!({
                "origin": cp.origin(),
                "size": cp.size(),
                "root": cp.root().to_string(),
                "extensions": cp.extensions(),
            });
            v["cosignatures"] = Value::Array(
                c.cosignatures()
                    .iter()
                    .map(|s| json!({ "name": s.name.as_str(), "timestamp": s.timestamp }))
                    .collect(),
            );
        }
        (Err(_), r) => v["reason"] = json!(r),
    }
    v
}

/// The note of `body` signed by `signers` (bypassing the checks `Checkpoint::sign` makes).
fn note(body: &str, signers: &[&consent_core::tlog::NoteSigner]) -> String {
    ok(VerifiedNote::sign(body, signers)).to_string()
}

fn checkpoints(log: &Log) -> Vec<Value> {
    let key = log_signer();
    let full = checkpoint(log, SIZE, true).to_string();
    let plain = checkpoint(log, SIZE, false).to_string();
    let (body, sigs) = plain
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("a note has a blank line"));
    let body = format!("{body}\n");
    let log_line = sigs.trim_end().to_owned();
    let mut out = vec![
        checkpoint_vector("empty log", checkpoint(log, 0, false).to_string(), None),
        checkpoint_vector("one entry", checkpoint(log, 1, false).to_string(), None),
        checkpoint_vector("300 entries", checkpoint(log, 300, false).to_string(), None),
        checkpoint_vector("600 entries, cosigned by the witness", full.clone(), None),
        checkpoint_vector("600 entries, not cosigned", plain.clone(), None),
    ];
    let with_ext = ok(Checkpoint::new(key.name(), SIZE, log.root(SIZE))
        .with_extensions(vec!["an extension line".into()]));
    out.push(checkpoint_vector(
        "an extension line",
        ok(with_ext.sign(&key)).to_string(),
        None,
    ));
    let other = other_signer("example.com/other-log");
    let unknown_sig = note(&body, &[&key, &other]);
    out.push(checkpoint_vector(
        "a signature by an unknown key too (ignored)",
        unknown_sig,
        None,
    ));
    let mut unknown_witness = checkpoint(log, SIZE, false);
    let ow = other_witness();
    let line = ok(ow.cosign(&unknown_witness, COSIGNED_AT));
    ok(unknown_witness.add_cosignature(line, &ow.verifier()));
    out.push(checkpoint_vector(
        "a cosignature by an unknown witness (ignored)",
        unknown_witness.to_string(),
        None,
    ));

    // Signed, then changed.
    let size_line = format!("\n{SIZE}\n");
    let root = log.root(SIZE).to_string();
    let invalid: Vec<(&str, String)> = vec![
        (
            "the size changed after signing",
            full.replacen(&size_line, "\n599\n", 1),
        ),
        (
            "the root changed after signing",
            full.replacen(&root, &log.root(599).to_string(), 1),
        ),
        (
            "the origin changed after signing",
            full.replacen(
                "invisionu.education/consent-log\n",
                "invisionu.education/consent-log2\n",
                1,
            ),
        ),
        ("a flipped bit in the log's signature", {
            let sig = log_line.rsplit(' ').next().unwrap_or_default();
            let mut bytes = STANDARD.decode(sig).unwrap_or_default();
            bytes[10] ^= 1;
            full.replacen(sig, &STANDARD.encode(bytes), 1)
        }),
        (
            "the witness's timestamp changed (its cosignature no longer verifies)",
            {
                let w = full.lines().last().unwrap_or_default();
                let sig = w.rsplit(' ').next().unwrap_or_default();
                let mut bytes = STANDARD.decode(sig).unwrap_or_default();
                bytes[11] ^= 1;
                full.replacen(sig, &STANDARD.encode(bytes), 1)
            },
        ),
        (
            "signed by another key under the log's name",
            note(&body, &[&other_signer(key.name().as_str())]),
        ),
        ("only the witness signed", {
            let w = full.lines().last().unwrap_or_default();
            format!("{body}\n{w}\n")
        }),
        ("the log signed twice", format!("{plain}{log_line}\n")),
        (
            "an origin that is not the log key's name",
            note(
                &body.replacen("consent-log\n", "consent-log-2\n", 1),
                &[&key],
            ),
        ),
        ("no signature", format!("{body}\n")),
        (
            "no blank line before the signatures",
            full.replacen("\n\n", "\n", 1),
        ),
        ("CR LF line ends", full.replace('\n', "\r\n")),
        (
            "a tab",
            full.replacen("consent-log\n", "consent-log\t\n", 1),
        ),
        (
            "a size with a leading zero",
            note(&body.replacen(&size_line, "\n0600\n", 1), &[&key]),
        ),
        (
            "a negative size",
            note(&body.replacen(&size_line, "\n-600\n", 1), &[&key]),
        ),
        (
            "a size above 2^64 - 1",
            note(
                &body.replacen(&size_line, "\n18446744073709551616\n", 1),
                &[&key],
            ),
        ),
        (
            "a root without padding",
            note(
                &body.replacen(&root, root.trim_end_matches('='), 1),
                &[&key],
            ),
        ),
        ("a root of 31 bytes", {
            let short = STANDARD.encode(&log.root(SIZE).as_bytes()[..31]);
            note(&body.replacen(&root, &short, 1), &[&key])
        }),
        (
            "an empty extension line",
            note(&format!("{body}\n"), &[&key]),
        ),
        (
            "two lines only",
            note(&body.replacen(&format!("{root}\n"), "", 1), &[&key]),
        ),
        (
            "no newline after the last signature",
            full.trim_end_matches('\n').to_owned(),
        ),
        (
            "a signature line without the em dash",
            full.replacen("— ", "- ", 1),
        ),
        (
            "a signature not in canonical base64",
            full.replacen("=\n", "\n", 1),
        ),
        (
            "a key name with a plus sign",
            full.replacen(
                "— invisionu.education/consent-log ",
                "— invisionu+education/consent-log ",
                1,
            ),
        ),
        (
            "101 signatures",
            format!("{body}\n{}", format!("{log_line}\n").repeat(101)),
        ),
    ];
    for (name, note) in invalid {
        out.push(checkpoint_vector(name, note, Some(name)));
    }
    out
}

/// A tlog-proof vector, checked against the library.
fn proof_vector(name: &str, text: String, entry_bytes: &[u8], reason: Option<&str>) -> Value {
    let (log_key, witnesses) = verifiers();
    let result = UnverifiedTlogProof::parse(&text)
        .and_then(|p| p.verify(&Hash::leaf(entry_bytes), &log_key, &witnesses));
    assert_eq!(
        result.is_ok(),
        reason.is_none(),
        "tlog-proof vector {name}: {result:?}"
    );
    let mut v = json!({
        "name": name,
        "proof": text,
        "entry": STANDARD.encode(entry_bytes),
        "valid": reason.is_none(),
    });
    if let Ok(p) = &result {
        v["index"] = json!(p.index());
        v["tree_size"] = json!(p.checkpoint().checkpoint().size());
    }
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    v
}

fn tlog_proof(log: &Log, index: u64, size: u64, extra: Option<Vec<u8>>) -> String {
    let proof = log.inclusion(index, size);
    let leaf = Hash::leaf(&entry(index));
    ok(VerifiedTlogProof::new(
        &leaf,
        proof,
        checkpoint(log, size, size == SIZE),
        extra,
    ))
    .to_string()
}

fn tlog_proofs(log: &Log) -> (Vec<Value>, String) {
    let example = tlog_proof(log, 300, SIZE, None);
    let mut out = vec![
        proof_vector("entry 300 in 600", example.clone(), &entry(300), None),
        proof_vector(
            "entry 0 (empty) in 1",
            tlog_proof(log, 0, 1, None),
            &entry(0),
            None,
        ),
        proof_vector(
            "entry 599 in 600",
            tlog_proof(log, 599, SIZE, None),
            &entry(599),
            None,
        ),
        proof_vector(
            "entry 123 in 300, with extra data",
            tlog_proof(log, 123, 300, Some(b"receipt 123".to_vec())),
            &entry(123),
            None,
        ),
    ];
    let lines: Vec<&str> = example.split('\n').collect();
    let (h1, h2) = (lines[2], lines[3]);
    let flipped = {
        let mut b = STANDARD.decode(h1).unwrap_or_default();
        b[0] ^= 0x80;
        STANDARD.encode(b)
    };
    let other_checkpoint = checkpoint(log, 300, false).to_string();
    let example_checkpoint = example
        .split_once("\n\n")
        .map(|(_, c)| c)
        .unwrap_or_default();
    let invalid: Vec<(&str, String, Vec<u8>)> = vec![
        ("another entry", example.clone(), entry(301)),
        (
            "the index changed",
            example.replacen("index 300", "index 301", 1),
            entry(300),
        ),
        (
            "a proof hash missing",
            example.replacen(&format!("{h1}\n"), "", 1),
            entry(300),
        ),
        (
            "a proof hash added",
            example.replacen(&format!("{h1}\n"), &format!("{h1}\n{h1}\n"), 1),
            entry(300),
        ),
        (
            "a flipped bit in a proof hash",
            example.replacen(h1, &flipped, 1),
            entry(300),
        ),
        (
            "two proof hashes swapped",
            example.replacen(&format!("{h1}\n{h2}\n"), &format!("{h2}\n{h1}\n"), 1),
            entry(300),
        ),
        (
            "the checkpoint of a smaller tree",
            example.replacen(example_checkpoint, &other_checkpoint, 1),
            entry(300),
        ),
        (
            "the checkpoint's root changed",
            example.replacen(&log.root(SIZE).to_string(), &log.root(599).to_string(), 1),
            entry(300),
        ),
        (
            "another header",
            example.replacen("tlog-proof@v1", "tlog-proof@v2", 1),
            entry(300),
        ),
        (
            "no index line",
            example.replacen("index 300\n", "", 1),
            entry(300),
        ),
        (
            "an index with a leading zero",
            example.replacen("index 300", "index 0300", 1),
            entry(300),
        ),
        (
            "no blank line before the checkpoint",
            example.replacen("\n\n", "\n", 1),
            entry(300),
        ),
        (
            "an extra line without data",
            example.replacen("index 300", "extra \nindex 300", 1),
            entry(300),
        ),
        (
            "a proof line that is not a hash",
            example.replacen(h1, &h1[..43], 1),
            entry(300),
        ),
    ];
    for (name, text, e) in invalid {
        out.push(proof_vector(name, text, &e, Some(name)));
    }
    (out, example)
}

/// Writes `notes.json`, `checkpoint`, `tlog-proofs.json` and `entry-300.tlog-proof` into `dir`.
pub(crate) fn write(dir: &Path, log: &Log) -> Result<usize, String> {
    let (log_key, witnesses) = verifiers();
    let notes = json!({
        "log_key": log_key.to_string(),
        "witness_key": witnesses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "checkpoints": checkpoints(log),
    });
    crate::write_json(dir, "notes.json", &notes)?;
    crate::write_path(
        dir,
        "checkpoint",
        checkpoint(log, SIZE, true).to_string().as_bytes(),
    )?;
    let (proofs, example) = tlog_proofs(log);
    crate::write_json(dir, "tlog-proofs.json", &Value::Array(proofs))?;
    crate::write_path(dir, "entry-300.tlog-proof", example.as_bytes())?;
    Ok(4)
}
