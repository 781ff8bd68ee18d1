//! The auditor's state file: the log's key as first seen (pinned), and every checkpoint it verified,
//! so that a later run checks the log still extends each of them (no rollback, no fork).

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// A checkpoint verified before.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seen {
    /// Tree size.
    pub(crate) size: u64,
    /// Root, base64.
    pub(crate) root: String,
    /// When it was verified (Unix seconds).
    pub(crate) at: i64,
}

/// The state file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    /// The log's vkey, pinned on first use.
    pub(crate) log_key: Option<String>,
    /// Checkpoints verified, by size.
    pub(crate) checkpoints: Vec<Seen>,
}

impl State {
    /// Reads the file; an absent file is an empty state.
    pub(crate) fn load(path: &Path) -> Result<State> {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t)
                .with_context(|| format!("{} is not an audit state file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file (a temporary file renamed over it).
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Records a verified checkpoint (once per size).
    pub(crate) fn saw(&mut self, size: u64, root: String, at: i64) {
        if !self.checkpoints.iter().any(|c| c.size == size) {
            self.checkpoints.push(Seen { size, root, at });
            self.checkpoints.sort_by_key(|c| c.size);
        }
    }
}
