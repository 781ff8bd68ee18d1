//! Consent-token vectors: valid tokens, and at least as many corrupted ones.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::{
    HmacKey, Policy, PurposeSet, ReceiptId, SubjectId, Timestamp, TokenClaims, TokenKeys,
};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::keys::{TOKEN_ACTIVE, TOKEN_OLD, kid, secret, token_keys};
use crate::receipts::{ISSUED, VERIFY_AT};

/// The token's MAC, computed here independently of the library: HMAC-SHA256 over the domain string and
/// the bytes, first 16 bytes.
fn tag(secret: &[u8; 32], bytes: &[u8]) -> Vec<u8> {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|e| panic!("{e}"));
    m.update(b"consent-token/v1\0");
    m.update(bytes);
    m.finalize().into_bytes()[..16].to_vec()
}

/// Re-signs raw token bytes (everything before the tag) with the active test key.
fn resign(body: &[u8]) -> String {
    let mut out = body.to_vec();
    out.extend(tag(&secret(TOKEN_ACTIVE), body));
    URL_SAFE_NO_PAD.encode(out)
}

fn claims_json(c: &TokenClaims, policy: &Policy) -> Value {
    let names = |s: PurposeSet| -> Vec<String> {
        s.codes()
            .filter_map(|code| policy.purpose_by_code(code))
            .map(|p| p.id.to_string())
            .collect()
    };
    json!({
        "policy_version": c.policy_version.to_string(),
        "issued_at": c.issued_at.as_unix(),
        "expires_at": c.expires_at.as_unix(),
        "subject": c.subject.to_string(),
        "receipt": c.receipt.to_string(),
        "given": names(c.given),
        "refused": names(c.refused),
    })
}

pub(crate) fn vectors(policy: &Policy) -> Vec<Value> {
    let keys = token_keys();
    let mut consent = PurposeSet::EMPTY;
    for p in policy.purposes().iter().filter(|p| p.needs_consent()) {
        consent.insert(p.code);
    }
    let code = |id: &str| {
        policy
            .purpose_by_str(id)
            .map(|p| p.code)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let mut refused = PurposeSet::EMPTY;
    for id in [
        "public-dissemination",
        "cookies-marketing",
        "transfer-abroad",
    ] {
        refused.insert(code(id));
    }
    let issued = Timestamp::from_unix(ISSUED);
    let base = TokenClaims {
        policy_version: policy.version(),
        issued_at: issued,
        expires_at: issued.add_months(u32::from(policy.choice_validity_months())),
        subject: SubjectId([0x5a; 16]),
        receipt: ReceiptId([0x01; 16]),
        given: PurposeSet(consent.0 & !refused.0),
        refused,
    };
    let accept_all = TokenClaims {
        given: consent,
        refused: PurposeSet::EMPTY,
        ..base
    };
    let reject_all = TokenClaims {
        given: PurposeSet::EMPTY,
        refused: consent,
        ..base
    };
    let old = TokenKeys::new(kid(TOKEN_OLD), HmacKey::from_bytes(secret(TOKEN_OLD)));
    let sign = |k: &TokenKeys, c: &TokenClaims| k.sign(c).unwrap_or_else(|e| panic!("{e}"));

    let mut out = Vec::new();
    for (name, k, c) in [
        ("every-purpose-decided", &keys, &base),
        ("accept-all", &keys, &accept_all),
        ("reject-all", &keys, &reject_all),
        ("rotated-out-key", &old, &base),
    ] {
        let token = sign(k, c);
        out.push(json!({"name": name, "token": token, "valid": true, "verify_at": VERIFY_AT, "length": token.len(), "claims": claims_json(c, policy)}));
    }

    let good = sign(&keys, &base);
    let raw = URL_SAFE_NO_PAD.decode(&good).unwrap_or_default();
    let body = &raw[..raw.len() - 16];
    let mut invalid = |name: &str, token: String, reason: &str, verify_at: i64| {
        out.push(json!({"name": name, "token": token, "valid": false, "reason": reason, "verify_at": verify_at}));
    };
    let mut flipped = raw.clone();
    let given_at = flipped.len() - 16 - 16 + 7;
    flipped[given_at] ^= 0x01;
    invalid(
        "tampered-given-purposes",
        URL_SAFE_NO_PAD.encode(&flipped),
        "tag does not verify",
        VERIFY_AT,
    );
    let mut bad_tag = raw.clone();
    if let Some(b) = bad_tag.last_mut() {
        *b ^= 0x80;
    }
    invalid(
        "tampered-tag",
        URL_SAFE_NO_PAD.encode(&bad_tag),
        "tag does not verify",
        VERIFY_AT,
    );
    let mut v2 = body.to_vec();
    v2[0] = 2;
    invalid("unknown-version", resign(&v2), "version 2", VERIFY_AT);
    let mut trailing = raw.clone();
    trailing.push(0);
    invalid(
        "trailing-bytes",
        URL_SAFE_NO_PAD.encode(&trailing),
        "bytes after the tag",
        VERIFY_AT,
    );
    invalid(
        "truncated",
        URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]),
        "ends inside the tag",
        VERIFY_AT,
    );
    let unknown = TokenKeys::new(kid("t99"), HmacKey::from_bytes(secret("t99")));
    invalid(
        "unknown-kid",
        sign(&unknown, &base),
        "no key with this kid",
        VERIFY_AT,
    );
    let wrong = TokenKeys::new(
        kid(TOKEN_ACTIVE),
        HmacKey::from_bytes(secret("not-the-secret")),
    );
    invalid(
        "wrong-secret",
        sign(&wrong, &base),
        "tag does not verify",
        VERIFY_AT,
    );
    invalid(
        "base64-padding",
        format!("{good}="),
        "padding is not allowed",
        VERIFY_AT,
    );
    invalid(
        "non-base64url-character",
        good.replacen(|c: char| c.is_ascii_alphanumeric(), "/", 1),
        "not base64url",
        VERIFY_AT,
    );
    let mut overlap = body.to_vec();
    let refused_at = overlap.len() - 8;
    let given_bytes: Vec<u8> = overlap[refused_at - 8..refused_at].to_vec();
    for (i, b) in given_bytes.iter().enumerate() {
        overlap[refused_at + i] |= b;
    }
    invalid(
        "given-and-refused-overlap",
        resign(&overlap),
        "a purpose both given and refused",
        VERIFY_AT,
    );
    let mut backwards = body.to_vec();
    let kid_len = usize::from(backwards[1]);
    let expires_at = 2 + kid_len + 2 + 4;
    backwards[expires_at..expires_at + 4]
        .copy_from_slice(&u32::try_from(ISSUED - 1).unwrap_or(0).to_be_bytes());
    invalid(
        "expires-before-issued",
        resign(&backwards),
        "expiry before issue",
        VERIFY_AT,
    );
    invalid(
        "expired",
        good.clone(),
        "verified after its expiry",
        base.expires_at.as_unix(),
    );
    invalid(
        "too-long",
        "A".repeat(260),
        "longer than 256 characters",
        VERIFY_AT,
    );
    invalid("empty", String::new(), "empty", VERIFY_AT);
    out
}
