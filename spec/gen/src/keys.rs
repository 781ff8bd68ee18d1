//! The fixed test keys: derived from their names, so anyone can re-derive them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::tlog::{Cosigner, DEFAULT_ORIGIN, KeyName, NoteSigner};
use consent_core::{DataKey, HmacKey, KeySet, TokenKeys};
use sha2::{Digest, Sha256};

/// Ed25519 key ids of the vectors: the active key and an older, rotated-out one.
pub(crate) const ED_ACTIVE: &str = "ed-2025";
pub(crate) const ED_OLD: &str = "ed-2024";
/// HS256 key id for receipts.
pub(crate) const HS: &str = "hs-2025";
/// HMAC key ids for consent tokens.
pub(crate) const TOKEN_ACTIVE: &str = "t25";
pub(crate) const TOKEN_OLD: &str = "t24";

/// 32 bytes = SHA-256("consent-vectors/v1/" || name).
pub(crate) fn secret(name: &str) -> [u8; 32] {
    Sha256::digest(format!("consent-vectors/v1/{name}").as_bytes()).into()
}

pub(crate) fn kid(s: &str) -> consent_core::KeyId {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test kid {s}: {e}"))
}

/// Every receipt key: two Ed25519 keys and one HS256 secret, `ED_ACTIVE` active.
pub(crate) fn receipt_keys() -> KeySet {
    KeySet::new()
        .with_ed25519(kid(ED_OLD), secret(ED_OLD))
        .with_ed25519(kid(ED_ACTIVE), secret(ED_ACTIVE))
        .with_hs256(kid(HS), HmacKey::from_bytes(secret(HS)))
        .activate(kid(ED_ACTIVE))
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn token_keys() -> TokenKeys {
    TokenKeys::new(kid(TOKEN_ACTIVE), HmacKey::from_bytes(secret(TOKEN_ACTIVE)))
        .with_verify_only(kid(TOKEN_OLD), HmacKey::from_bytes(secret(TOKEN_OLD)))
}

/// The HMAC secrets as a JWK Set of `oct` keys, as JOSE libraries load them.
pub(crate) fn hmac_jwks() -> serde_json::Value {
    let oct = |kid: &str, alg: &str, usage: &str| {
        serde_json::json!({
            "kty": "oct",
            "kid": kid,
            "alg": alg,
            "use": usage,
            "k": URL_SAFE_NO_PAD.encode(secret(kid)),
        })
    };
    serde_json::json!({
        "keys": [
            oct(HS, "HS256", "receipt"),
            oct(TOKEN_ACTIVE, "HS256", "consent-token"),
            oct(TOKEN_OLD, "HS256", "consent-token"),
        ]
    })
}

/// Data keys of the sealed receipts (payload version 2): one per subject, and one that sealed nothing.
pub(crate) const DATA_SUBJECT_1: &str = "data-sub-1";
pub(crate) const DATA_SUBJECT_2: &str = "data-sub-2";
pub(crate) const DATA_OTHER: &str = "data-other";

/// The data key named `name`: `secret(name)`.
pub(crate) fn data_key(name: &str) -> DataKey {
    DataKey::from_bytes(secret(name))
}

/// The data keys as a JWK Set of `oct` keys (`use: data-key`).
pub(crate) fn data_jwks() -> serde_json::Value {
    let keys: Vec<serde_json::Value> = [DATA_SUBJECT_1, DATA_SUBJECT_2, DATA_OTHER]
        .iter()
        .map(|kid| {
            serde_json::json!({
                "kty": "oct",
                "kid": kid,
                "use": "data-key",
                "k": URL_SAFE_NO_PAD.encode(secret(kid)),
            })
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

/// Note key of the vector log: named after its origin, seed `secret(LOG_KEY)`.
pub(crate) const LOG_KEY: &str = "log-2025";
/// The vector witness's cosignature/v1 key.
pub(crate) const WITNESS_KEY: &str = "witness-2025";
/// A key no verifier of the vectors knows (its signatures are ignored).
pub(crate) const OTHER_KEY: &str = "log-other";
/// The witness's key name.
pub(crate) const WITNESS_NAME: &str = "witness.example.org/consent-log";

fn name(s: &str) -> KeyName {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test key name {s}: {e}"))
}

/// The log's checkpoint key (Ed25519 note key named [`DEFAULT_ORIGIN`]).
pub(crate) fn log_signer() -> NoteSigner {
    NoteSigner::from_seed(name(DEFAULT_ORIGIN), secret(LOG_KEY))
}

/// Another note key, under any name.
pub(crate) fn other_signer(key_name: &str) -> NoteSigner {
    NoteSigner::from_seed(name(key_name), secret(OTHER_KEY))
}

/// The witness's cosignature key.
pub(crate) fn witness() -> Cosigner {
    Cosigner::from_seed(name(WITNESS_NAME), secret(WITNESS_KEY))
}

/// A cosignature key no verifier of the vectors knows.
pub(crate) fn other_witness() -> Cosigner {
    Cosigner::from_seed(name("witness.example.net/unknown"), secret(OTHER_KEY))
}

/// Algorithm confusion: an HS256 key set whose secret is the active Ed25519 key's public key, under that
/// key's kid (a verifier must never accept what it signs).
pub(crate) fn confused_keys(keys: &KeySet) -> KeySet {
    let public = keys
        .jwks()
        .keys
        .into_iter()
        .find(|k| k.kid == ED_ACTIVE)
        .map(|k| k.x)
        .unwrap_or_default();
    KeySet::new()
        .with_hs256(
            kid(ED_ACTIVE),
            HmacKey::from_bytes(
                URL_SAFE_NO_PAD
                    .decode(&public)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .unwrap_or([0; 32]),
            ),
        )
        .activate(kid(ED_ACTIVE))
        .unwrap_or_else(|e| panic!("{e}"))
}
