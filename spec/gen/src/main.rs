//! Writes the test vectors of `spec/` into a directory (default `spec/vectors`).
//!
//! Everything is deterministic (fixed keys derived from their names, fixed times), so the same sources
//! give byte-identical files; CI regenerates the vectors into a temporary directory and fails on any
//! difference (`scripts/test`). `spec/check-vectors.py` checks them with independent implementations.
//!
//! ```text
//! cargo run -p consent-vectors -- [OUT_DIR]
//! ```

mod keys;
mod log;
mod log_notes;
mod receipts;
mod rights;
mod sealed;
mod tokens;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use consent_core::Policy;

/// Policies whose canonical form and hash are published as vectors: (name, source path from the
/// workspace root, contents).
const POLICIES: &[(&str, &str, &str)] = &[
    (
        "invisionu-2025-03-26",
        "examples/invisionu/policy.toml",
        include_str!("../../../examples/invisionu/policy.toml"),
    ),
    (
        "invisionu-2026-06-01",
        "consent-core/tests/fixtures/invisionu-2026-06-01.toml",
        include_str!("../../../consent-core/tests/fixtures/invisionu-2026-06-01.toml"),
    ),
];

fn main() -> ExitCode {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("spec/vectors"), PathBuf::from);
    match write_all(&out) {
        Ok(n) => {
            eprintln!("wrote {n} files to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_all(out: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut written = 0;
    let mut index = Vec::new();
    let mut first = None;
    for (name, source, src) in POLICIES {
        let policy = Policy::from_toml(src).map_err(|e| format!("{source}: {e}"))?;
        let canonical = policy.canonical_json();
        let file = format!("policy-{name}.canonical.json");
        write(out, &file, canonical.as_bytes())?;
        written += 1;
        // The banner view in each of the policy's languages (spec/POLICY.md, "Banner view").
        let mut views = serde_json::Map::new();
        for lang in policy.languages() {
            let view = format!("policy-{name}.banner-{lang}.json");
            write(out, &view, policy.banner_view(*lang).as_bytes())?;
            written += 1;
            views.insert(lang.to_string(), view.into());
        }
        index.push(serde_json::json!({
            "name": name,
            "source": source,
            "version": policy.version().to_string(),
            "canonical": file,
            "sha256": policy.hash().to_string(),
            "banner_views": views,
        }));
        first.get_or_insert(policy);
    }
    write_json(out, "policies.json", &serde_json::Value::Array(index))?;
    let policy = first.ok_or("no policy")?;
    write_json(
        out,
        "jwks.json",
        &serde_json::to_value(keys::receipt_keys().jwks()).map_err(|e| e.to_string())?,
    )?;
    write_json(out, "hmac-keys.json", &keys::hmac_jwks())?;
    let receipt_vectors = receipts::vectors(&policy);
    write_json(
        out,
        "rights-records.json",
        &serde_json::Value::Array(rights::vectors(&receipt_vectors)),
    )?;
    write_json(
        out,
        "receipts.json",
        &serde_json::Value::Array(receipt_vectors),
    )?;
    write_json(out, "data-keys.json", &keys::data_jwks())?;
    write_json(
        out,
        "sealed-receipts.json",
        &serde_json::Value::Array(sealed::vectors(&policy)),
    )?;
    write_json(
        out,
        "tokens.json",
        &serde_json::Value::Array(tokens::vectors(&policy)),
    )?;
    let log_dir = out.join("log");
    let (log_files, log) = log::write(&log_dir)?;
    let note_files = log_notes::write(&log_dir, &log)?;
    Ok(written + 8 + log_files + note_files)
}

pub(crate) fn write_json(dir: &Path, name: &str, value: &serde_json::Value) -> Result<(), String> {
    let mut json = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    json.push('\n');
    write(dir, name, json.as_bytes())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes a file at a relative path (`tile/0/001.p/44`), creating its directories.
pub(crate) fn write_path(dir: &Path, relative: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
