//! Writes the test vectors of `spec/` into a directory (default `spec/vectors`).
//!
//! Everything is deterministic: the same sources give byte-identical files, so CI regenerates the vectors
//! into a temporary directory and fails on any difference (`scripts/test`).
//!
//! ```text
//! cargo run -p consent-vectors -- [OUT_DIR]
//! ```

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
    for (name, source, src) in POLICIES {
        let policy = Policy::from_toml(src).map_err(|e| format!("{source}: {e}"))?;
        let canonical = policy.canonical_json();
        let file = format!("policy-{name}.canonical.json");
        write(out, &file, canonical.as_bytes())?;
        written += 1;
        index.push(serde_json::json!({
            "name": name,
            "source": source,
            "version": policy.version().to_string(),
            "canonical": file,
            "sha256": policy.hash().to_string(),
        }));
    }
    let mut json = serde_json::to_string_pretty(&index).map_err(|e| e.to_string())?;
    json.push('\n');
    write(out, "policies.json", json.as_bytes())?;
    Ok(written + 1)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
