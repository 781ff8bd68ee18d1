//! Receipts: any string is parsed and verified without panicking; whatever verifies re-exports.
#![no_main]

use std::sync::LazyLock;

use consent_core::{HmacKey, KeySet, Policy, Timestamp, UnverifiedReceipt};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    KeySet::new()
        .with_ed25519("ed-2025".parse().unwrap(), [1; 32])
        .with_hs256("hs-2025".parse().unwrap(), HmacKey::from_bytes([2; 32]))
});
static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = UnverifiedReceipt::parse(text) {
        let _ = r.kid();
        if let Ok(v) = r.verify_at(&KEYS, Timestamp::from_unix(1_750_000_000)) {
            let _ = v.to_kantara(&POLICY);
        }
    }
    let _ = KeySet::from_jwks_json(text);
});
