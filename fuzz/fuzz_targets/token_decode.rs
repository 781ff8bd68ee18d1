//! Consent tokens: any string decodes without panicking; a token that verifies re-encodes to itself.
#![no_main]

use std::sync::LazyLock;

use consent_core::{HmacKey, Policy, Timestamp, TokenKeys, UnverifiedToken};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<TokenKeys> =
    LazyLock::new(|| TokenKeys::new("t25".parse().unwrap(), HmacKey::from_bytes([1; 32])));
static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(token) = UnverifiedToken::decode(text) else {
        return;
    };
    let claims = *token.unverified_claims();
    if let Ok(verified) = token.verify(&KEYS) {
        assert_eq!(
            KEYS.sign(&claims).as_deref(),
            Ok(text),
            "decode and encode disagree"
        );
        for p in POLICY.purposes() {
            let _ = verified.decision(p.id, Timestamp::from_unix(1_750_000_000), &POLICY);
        }
    }
});
