//! Consent-token vectors: valid tokens of both versions (version 2 for a device and for a person,
//! version 1 as earlier releases wrote it), and at least as many corrupted ones.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::{
    HmacKey, Policy, PurposeSet, ReceiptId, SubjectId, Timestamp, TokenClaims, TokenKeys,
    TokenSubject,
};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::keys::{TOKEN_ACTIVE, TOKEN_OLD, kid, secret, token_keys};
use crate::receipts::{ISSUED, VERIFY_AT};

/// The MAC domain separation strings of the two versions (SPEC.md §3).
const DOMAIN_V2: &[u8] = b"consent-token/v2\0";
const DOMAIN_V1: &[u8] = b"consent-token/v1\0";

/// The token's MAC, computed here independently of the library: HMAC-SHA256 over the domain string and
/// the bytes, first 16 bytes.
fn tag(secret: &[u8; 32], domain: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|e| panic!("{e}"));
    m.update(domain);
    m.update(bytes);
    m.finalize().into_bytes()[..16].to_vec()
}

/// Tags raw token bytes (everything before the tag) with the active test key under `domain`.
fn resign(body: &[u8], domain: &[u8]) -> String {
    let mut out = body.to_vec();
    out.extend(tag(&secret(TOKEN_ACTIVE), domain, body));
    URL_SAFE_NO_PAD.encode(out)
}

/// A version 1 token, laid out here by hand (the library reads version 1 but no longer writes it):
/// version 2's layout without the kind byte, tagged under the version 1 domain.
fn sign_v1(kid_name: &str, c: &TokenClaims) -> String {
    let TokenSubject::Unbound(subject) = c.subject else {
        panic!("a version 1 token has an unbound subject");
    };
    let int = |v: i64| u32::try_from(v).unwrap_or_else(|e| panic!("{e}"));
    let days = u16::try_from(c.policy_version.date().days()).unwrap_or_else(|e| panic!("{e}"));
    let mut body = vec![
        1,
        u8::try_from(kid_name.len()).unwrap_or_else(|e| panic!("{e}")),
    ];
    body.extend(kid_name.as_bytes());
    body.extend(days.to_be_bytes());
    body.extend(int(c.issued_at.as_unix()).to_be_bytes());
    body.extend(int(c.expires_at.as_unix()).to_be_bytes());
    body.extend(subject.0);
    body.extend(c.receipt.0);
    body.extend(c.given.0.to_be_bytes());
    body.extend(c.refused.0.to_be_bytes());
    body.extend(tag(&secret(kid_name), DOMAIN_V1, &body));
    URL_SAFE_NO_PAD.encode(body)
}

fn claims_json(c: &TokenClaims, policy: &Policy) -> Value {
    let names = |s: PurposeSet| -> Vec<String> {
        s.codes()
            .filter_map(|code| policy.purpose_by_code(code))
            .map(|p| p.id.to_string())
            .collect()
    };
    let (version, kind, subject) = match c.subject {
        TokenSubject::Device(id) => (2, "device", id),
        TokenSubject::Person(id) => (2, "person", id),
        TokenSubject::Unbound(id) => (1, "unknown", id),
    };
    json!({
        "version": version,
        "policy_version": c.policy_version.to_string(),
        "issued_at": c.issued_at.as_unix(),
        "expires_at": c.expires_at.as_unix(),
        "subject_kind": kind,
        "subject": subject.to_string(),
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
    // The device and the person have the same 128 bits: only the signed kind tells them apart.
    let bits = SubjectId([0x5a; 16]);
    let base = TokenClaims {
        policy_version: policy.version(),
        issued_at: issued,
        expires_at: issued.add_months(u32::from(policy.choice_validity_months())),
        subject: TokenSubject::Device(bits),
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
    let person = TokenClaims {
        subject: TokenSubject::Person(bits),
        ..base
    };
    let unbound = |c: &TokenClaims| TokenClaims {
        subject: TokenSubject::Unbound(bits),
        ..*c
    };
    let old = TokenKeys::new(kid(TOKEN_OLD), HmacKey::from_bytes(secret(TOKEN_OLD)));
    let sign = |k: &TokenKeys, c: &TokenClaims| k.sign(c).unwrap_or_else(|e| panic!("{e}"));

    let mut out = Vec::new();
    let mut valid = |name: &str, token: String, c: &TokenClaims| {
        out.push(json!({"name": name, "token": token, "valid": true, "verify_at": VERIFY_AT, "length": token.len(), "claims": claims_json(c, policy)}));
    };
    for (name, k, c) in [
        ("every-purpose-decided", &keys, &base),
        ("accept-all", &keys, &accept_all),
        ("reject-all", &keys, &reject_all),
        ("rotated-out-key", &old, &base),
        ("person", &keys, &person),
    ] {
        valid(name, sign(k, c), c);
    }
    // Version 1, as earlier releases wrote it (the same texts as their vectors): still valid.
    for (name, kid_name, c) in [
        ("v1-every-purpose-decided", TOKEN_ACTIVE, &base),
        ("v1-accept-all", TOKEN_ACTIVE, &accept_all),
        ("v1-reject-all", TOKEN_ACTIVE, &reject_all),
        ("v1-rotated-out-key", TOKEN_OLD, &base),
    ] {
        let c = unbound(c);
        valid(name, sign_v1(kid_name, &c), &c);
    }

    let good = sign(&keys, &base);
    let raw = URL_SAFE_NO_PAD.decode(&good).unwrap_or_default();
    let body = &raw[..raw.len() - 16];
    let kid_len = usize::from(body[1]);
    let kind_at = 2 + kid_len + 2 + 4 + 4;
    let good_v1 = sign_v1(TOKEN_ACTIVE, &unbound(&base));
    let raw_v1 = URL_SAFE_NO_PAD.decode(&good_v1).unwrap_or_default();
    let body_v1 = &raw_v1[..raw_v1.len() - 16];
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
    let mut kind_flipped = raw.clone();
    kind_flipped[kind_at] = 2;
    invalid(
        "kind-flipped-to-person",
        URL_SAFE_NO_PAD.encode(&kind_flipped),
        "device made a person without re-tagging: tag does not verify",
        VERIFY_AT,
    );
    for kind in [0u8, 3] {
        let mut unknown = body.to_vec();
        unknown[kind_at] = kind;
        invalid(
            &format!("unknown-subject-kind-{kind}"),
            resign(&unknown, DOMAIN_V2),
            &format!("subject kind {kind} (only 1 and 2 exist)"),
            VERIFY_AT,
        );
    }
    let mut v3 = body.to_vec();
    v3[0] = 3;
    invalid(
        "unknown-version",
        resign(&v3, DOMAIN_V2),
        "version 3",
        VERIFY_AT,
    );
    invalid(
        "v2-tagged-under-v1-domain",
        resign(body, DOMAIN_V1),
        "version 2 bytes tagged under the version 1 domain: tag does not verify",
        VERIFY_AT,
    );
    let mut downgraded = raw.clone();
    downgraded[0] = 1;
    downgraded.remove(kind_at);
    invalid(
        "downgraded-to-v1",
        URL_SAFE_NO_PAD.encode(&downgraded),
        "version 1 made from version 2 by dropping the kind, tag kept: tag does not verify",
        VERIFY_AT,
    );
    let mut no_kind = body_v1.to_vec();
    no_kind[0] = 2;
    invalid(
        "version-2-without-kind",
        resign(&no_kind, DOMAIN_V2),
        "version 2 in the version 1 layout: one byte short",
        VERIFY_AT,
    );
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
    invalid(
        "truncated-at-kind",
        URL_SAFE_NO_PAD.encode(&raw[..kind_at]),
        "ends before the subject kind",
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
        resign(&overlap, DOMAIN_V2),
        "a purpose both given and refused",
        VERIFY_AT,
    );
    let mut backwards = body.to_vec();
    let expires_at = 2 + kid_len + 2 + 4;
    backwards[expires_at..expires_at + 4]
        .copy_from_slice(&u32::try_from(ISSUED - 1).unwrap_or(0).to_be_bytes());
    invalid(
        "expires-before-issued",
        resign(&backwards, DOMAIN_V2),
        "expiry before issue",
        VERIFY_AT,
    );
    invalid(
        "expired",
        good.clone(),
        "verified after its expiry",
        base.expires_at.as_unix(),
    );
    // Version 1: corrupted the same ways, still rejected.
    let mut v1_subject = raw_v1.clone();
    v1_subject[kind_at] ^= 0x01;
    invalid(
        "v1-tampered-subject",
        URL_SAFE_NO_PAD.encode(&v1_subject),
        "tag does not verify",
        VERIFY_AT,
    );
    invalid(
        "v1-tagged-under-v2-domain",
        resign(body_v1, DOMAIN_V2),
        "version 1 bytes tagged under the version 2 domain: tag does not verify",
        VERIFY_AT,
    );
    let mut v1_trailing = raw_v1.clone();
    v1_trailing.push(0);
    invalid(
        "v1-trailing-bytes",
        URL_SAFE_NO_PAD.encode(&v1_trailing),
        "bytes after the tag",
        VERIFY_AT,
    );
    invalid(
        "v1-truncated",
        URL_SAFE_NO_PAD.encode(&raw_v1[..raw_v1.len() - 1]),
        "ends inside the tag",
        VERIFY_AT,
    );
    invalid(
        "v1-expired",
        good_v1,
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
