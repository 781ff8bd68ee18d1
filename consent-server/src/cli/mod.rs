//! The commands, one file each, and what they share.

pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod bootstrap;
pub(crate) mod cases;
pub(crate) mod export;
pub(crate) mod keygen;
pub(crate) mod migrate;
pub(crate) mod policy;
pub(crate) mod receipts;
pub(crate) mod rights;
pub(crate) mod serve;
pub(crate) mod token;
pub(crate) mod webhooks;

use consent_core::Timestamp;

/// The system time now (the server's clock, as the handlers see it).
fn now() -> Timestamp {
    (consent_server::clock::system_clock())().0
}

/// Random bytes as base64url without padding: bearer tokens.
fn base64_token(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
