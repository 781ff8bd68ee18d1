//! The consent log on the server (issue 21, `DESIGN.md`, `spec/SPEC.md` §6.8): what an entry is (a
//! receipt's JWS, a rights event's [`consent_core::RightsRecord`], defined in consent-core with its
//! vectors), the log's keys and witnesses ([`Log`]), signing
//! checkpoints of what the store committed ([`checkpoint_once`], [`keep_checkpointing`]), and proofs
//! for people ([`tlog_proof`]). The store numbers entries and keeps the tree as tiles; the tree
//! arithmetic is `consent_core::tlog`'s.

mod checkpoints;

pub use checkpoints::{checkpoint_once, keep_checkpointing, tlog_proof};

use consent_core::tlog::{KeyName, NoteSigner, NoteVerifier};
use tokio::sync::Notify;

use crate::config::LogSettings;
use crate::keys::ServerKeys;

/// The log's keys and witnesses, and the signal that the tree grew.
pub struct Log {
    origin: KeyName,
    signer: Option<NoteSigner>,
    witnesses: Vec<NoteVerifier>,
    /// Notified after each committed write that logged an entry.
    pub(crate) grown: Notify,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("origin", &self.origin)
            .field("signer", &self.signer)
            .field("witnesses", &self.witnesses.len())
            .finish()
    }
}

impl Log {
    /// The log of these settings (checked by `Config::load`: an origin that is not a key name falls
    /// back to the default, witnesses that are not vkeys are left out) with the key file's log key.
    pub fn new(settings: &LogSettings, keys: &ServerKeys) -> Log {
        let origin: KeyName = settings.origin.parse().unwrap_or_else(|e| {
            tracing::error!(error = %e, "log origin is not a key name; using the default");
            default_origin()
        });
        Log {
            signer: keys.log_signer(&origin),
            origin,
            witnesses: settings
                .witnesses
                .iter()
                .filter_map(|w| w.parse().ok())
                .collect(),
            grown: Notify::new(),
        }
    }

    /// The log's origin (its checkpoints' first line, its key's name).
    pub fn origin(&self) -> &KeyName {
        &self.origin
    }

    /// The log's note verifier key, if the key file has a log key.
    pub fn verifier(&self) -> Option<NoteVerifier> {
        self.signer.as_ref().map(NoteSigner::verifier)
    }

    /// The log's signer.
    pub(crate) fn signer(&self) -> Option<&NoteSigner> {
        self.signer.as_ref()
    }

    /// The witnesses whose cosignatures the server takes.
    pub fn witnesses(&self) -> &[NoteVerifier] {
        &self.witnesses
    }
}

fn default_origin() -> KeyName {
    // DEFAULT_ORIGIN is a valid key name (core's tests).
    #[allow(clippy::expect_used)]
    consent_core::tlog::DEFAULT_ORIGIN
        .parse()
        .expect("the default origin is a key name")
}
