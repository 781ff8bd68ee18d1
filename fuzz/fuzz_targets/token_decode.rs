//! Consent tokens: any string decodes without panicking; every token that decodes (version 1 or 2)
//! re-encodes to itself; a version 2 token that verifies is what signing its claims gives, and a version
//! 1 token that verifies is never signed again.
#![no_main]

use std::sync::LazyLock;

use consent_core::{Policy, Timestamp, TokenError, TokenKeys, TokenSubject, UnverifiedToken};
use libfuzzer_sys::fuzz_target;

/// The vectors' token keys (`t25` signs, `t24` verifies), so that the seed corpus (`scripts/fuzz`: every
/// token vector) reaches verification and signing.
static KEYS: LazyLock<TokenKeys> = LazyLock::new(|| {
    TokenKeys::from_jwks_json(include_str!("../../spec/vectors/hmac-keys.json")).unwrap()
});
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
    assert_eq!(token.encode(), text, "decode and encode disagree");
    let claims = *token.unverified_claims();
    let kid = token.kid();
    if let Ok(verified) = token.verify(&KEYS) {
        match claims.subject {
            TokenSubject::Device(_) | TokenSubject::Person(_) if kid == KEYS.active() => {
                assert_eq!(
                    KEYS.sign(&claims).as_deref(),
                    Ok(text),
                    "signing the claims gives another token"
                );
            }
            TokenSubject::Device(_) | TokenSubject::Person(_) => {}
            TokenSubject::Unbound(_) => assert!(
                matches!(KEYS.sign(&claims), Err(TokenError::Invalid(_))),
                "a version 1 subject was signed"
            ),
        }
        for p in POLICY.purposes() {
            let _ = verified.decision(p.id, Timestamp::from_unix(1_750_000_000), &POLICY);
        }
    }
});
