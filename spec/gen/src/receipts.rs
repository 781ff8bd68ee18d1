//! Receipt vectors: valid receipts of every kind, and at least as many corrupted ones.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::{
    Actor, Choice, CollectionKind, CollectionPoint, HmacKey, KeySet, Lang, Method, Policy,
    ReceiptId, ReceiptPayload, ReceiptRequest, Relation, Timestamp,
};
use serde_json::{Value, json};

use crate::keys::{ED_ACTIVE, ED_OLD, HS, confused_keys, kid, receipt_keys, secret};

/// 2025-04-01T09:00:00Z: when every vector receipt is issued.
pub(crate) const ISSUED: i64 = 1_743_498_000;
/// 2025-06-01T00:00:00Z: when vectors are verified, unless a vector says otherwise.
pub(crate) const VERIFY_AT: i64 = 1_748_736_000;

fn receipt(n: u8, lang: Lang, method: Method, decisions: &[(&str, Choice)]) -> ReceiptRequest {
    let collection = CollectionPoint {
        kind: CollectionKind::Banner,
        build: Some("9f2b".repeat(16)),
        page: Some("https://invisionu.education/".into()),
    };
    let decisions: BTreeMap<_, _> = decisions
        .iter()
        .map(|(p, c)| (p.parse().unwrap_or_else(|e| panic!("{p}: {e}")), *c))
        .collect();
    ReceiptRequest::new(
        ReceiptId([n; 16]),
        Timestamp::from_unix(ISSUED),
        "https://consent.invisionu.education",
        format!("dev:{}", URL_SAFE_NO_PAD.encode([n; 16])),
        lang,
        method,
        collection,
        decisions,
    )
}

pub(crate) fn sign(keys: &KeySet, active: &str, payload: &ReceiptPayload) -> String {
    let k = keys
        .clone()
        .activate(kid(active))
        .unwrap_or_else(|e| panic!("{e}"));
    payload.sign(&k).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn parts(jws: &str) -> (String, String, String) {
    let mut it = jws.split('.').map(str::to_owned);
    let (Some(h), Some(p), Some(s)) = (it.next(), it.next(), it.next()) else {
        panic!("not a JWS")
    };
    (h, p, s)
}

pub(crate) fn vectors(policy: &Policy) -> Vec<Value> {
    let keys = receipt_keys();
    let all: Vec<(&str, Choice)> = policy
        .purposes()
        .iter()
        .map(|p| (p.id.as_str(), Choice::Given))
        .collect();
    let consent_purposes: Vec<(&str, Choice)> = policy
        .purposes()
        .iter()
        .filter(|p| p.needs_consent())
        .map(|p| (p.id.as_str(), Choice::Refused))
        .collect();
    let build = |n, lang, method, d: &[(&str, Choice)]| {
        ReceiptPayload::new(policy, receipt(n, lang, method, d)).unwrap_or_else(|e| panic!("{e}"))
    };

    let accept_all = build(1, Lang::KK, Method::AcceptAll, &all);
    let reject_all = build(2, Lang::RU, Method::RejectAll, &consent_purposes);
    let mut gpc_req = receipt(
        3,
        Lang::EN,
        Method::Gpc,
        &[
            ("marketing", Choice::Refused),
            ("cookies-marketing", Choice::Refused),
            ("cookies-analytics", Choice::Given),
        ],
    );
    gpc_req.gpc = true;
    let gpc = ReceiptPayload::new(policy, gpc_req).unwrap_or_else(|e| panic!("{e}"));
    let mut form_req = receipt(
        4,
        Lang::KK,
        Method::Form,
        &[
            ("application-review", Choice::Given),
            ("scholarships", Choice::Given),
            ("transfer-abroad", Choice::Given),
            ("public-dissemination", Choice::Refused),
        ],
    );
    form_req.collection = CollectionPoint {
        kind: CollectionKind::Form,
        build: None,
        page: Some("https://invisionu.education/apply".into()),
    };
    form_req.by = Actor::Representative(Relation::Parent);
    form_req.representative = Some("Айгүл Серікова".into());
    form_req.subject_name = Some("Нұрлан Серіков".into());
    form_req.expires_at = Some(Timestamp::from_unix(ISSUED).add_months(24));
    let form = ReceiptPayload::new(policy, form_req).unwrap_or_else(|e| panic!("{e}"));
    let withdraw = build(
        5,
        Lang::EN,
        Method::Withdraw,
        &[("public-dissemination", Choice::Withdrawn)],
    );

    let mut out = Vec::new();
    let mut valid = |name: &str, alg: &str, jws: String| {
        out.push(
            json!({"name": name, "alg": alg, "jws": jws, "valid": true, "verify_at": VERIFY_AT}),
        );
    };
    valid(
        "ed25519-accept-all-kk",
        "EdDSA",
        sign(&keys, ED_ACTIVE, &accept_all),
    );
    valid(
        "ed25519-reject-all-ru",
        "EdDSA",
        sign(&keys, ED_ACTIVE, &reject_all),
    );
    valid("ed25519-gpc-en", "EdDSA", sign(&keys, ED_ACTIVE, &gpc));
    valid(
        "ed25519-form-by-representative",
        "EdDSA",
        sign(&keys, ED_ACTIVE, &form),
    );
    valid(
        "ed25519-withdrawal",
        "EdDSA",
        sign(&keys, ED_ACTIVE, &withdraw),
    );
    valid(
        "ed25519-rotated-out-key",
        "EdDSA",
        sign(&keys, ED_OLD, &accept_all),
    );
    valid("hs256-accept-all", "HS256", sign(&keys, HS, &accept_all));
    valid("hs256-reject-all", "HS256", sign(&keys, HS, &reject_all));

    let good = sign(&keys, ED_ACTIVE, &accept_all);
    let (h, p, s) = parts(&good);
    let mut invalid = |name: &str, alg: &str, jws: String, reason: &str, verify_at: i64| {
        out.push(json!({"name": name, "alg": alg, "jws": jws, "valid": false, "reason": reason, "verify_at": verify_at}));
    };
    let tampered_payload =
        accept_all
            .to_json()
            .replacen("\"method\":\"accept-all\"", "\"method\":\"reject-all\"", 1);
    invalid(
        "tampered-payload",
        "EdDSA",
        format!("{h}.{}.{s}", b64(tampered_payload.as_bytes())),
        "signature does not verify",
        VERIFY_AT,
    );
    let mut sig = URL_SAFE_NO_PAD.decode(&s).unwrap_or_default();
    if let Some(b) = sig.first_mut() {
        *b ^= 0x01;
    }
    invalid(
        "tampered-signature",
        "EdDSA",
        format!("{h}.{p}.{}", b64(&sig)),
        "signature does not verify",
        VERIFY_AT,
    );
    let unknown_kid_keys = KeySet::new()
        .with_ed25519(kid("ed-unknown"), secret("ed-unknown"))
        .activate(kid("ed-unknown"))
        .unwrap_or_else(|e| panic!("{e}"));
    invalid(
        "unknown-kid",
        "EdDSA",
        accept_all
            .sign(&unknown_kid_keys)
            .unwrap_or_else(|e| panic!("{e}")),
        "no key with this kid",
        VERIFY_AT,
    );
    let none_header = json!({"alg": "none", "kid": ED_ACTIVE, "typ": "consent-receipt+jwt"});
    invalid(
        "alg-none",
        "none",
        format!("{}.{p}.", b64(none_header.to_string().as_bytes())),
        "alg none is never accepted",
        VERIFY_AT,
    );
    // Algorithm confusion: HS256 keyed with the Ed25519 public key, under the Ed25519 key's kid.
    let confused = confused_keys(&keys);
    invalid(
        "algorithm-confusion-hs256-with-public-key",
        "HS256",
        accept_all.sign(&confused).unwrap_or_else(|e| panic!("{e}")),
        "HS256 header on an EdDSA key",
        VERIFY_AT,
    );
    invalid(
        "truncated",
        "EdDSA",
        good[..good.len() - 10].to_owned(),
        "signature too short",
        VERIFY_AT,
    );
    invalid(
        "trailing-data",
        "EdDSA",
        format!("{good}.AAAA"),
        "more than three parts",
        VERIFY_AT,
    );
    invalid(
        "trailing-padding",
        "EdDSA",
        format!("{good}=="),
        "base64url padding is not allowed",
        VERIFY_AT,
    );
    invalid(
        "non-base64url-character",
        "EdDSA",
        format!(
            "{h}.{p}.{}",
            s.replacen(|c: char| c.is_ascii_alphanumeric(), "+", 1)
        ),
        "not base64url",
        VERIFY_AT,
    );
    invalid(
        "expired",
        "EdDSA",
        good.clone(),
        "verified after its expiry",
        accept_all.exp.as_unix(),
    );
    let v2 = accept_all.to_json().replacen("\"v\":1", "\"v\":2", 1);
    let k = keys.clone();
    invalid(
        "unknown-version",
        "EdDSA",
        k.sign("consent-receipt+jwt", v2.as_bytes())
            .unwrap_or_else(|e| panic!("{e}")),
        "payload version 2",
        VERIFY_AT,
    );
    invalid(
        "wrong-typ",
        "EdDSA",
        k.sign("JWT", accept_all.to_json().as_bytes())
            .unwrap_or_else(|e| panic!("{e}")),
        "typ is not consent-receipt+jwt",
        VERIFY_AT,
    );
    let crit =
        json!({"alg": "EdDSA", "crit": ["exp"], "kid": ED_ACTIVE, "typ": "consent-receipt+jwt"});
    invalid(
        "unknown-header-parameter",
        "EdDSA",
        format!("{}.{p}.{s}", b64(crit.to_string().as_bytes())),
        "header has a parameter besides alg, kid, typ",
        VERIFY_AT,
    );
    let wrong_secret = KeySet::new()
        .with_hs256(kid(HS), HmacKey::from_bytes(secret("not-the-secret")))
        .activate(kid(HS))
        .unwrap_or_else(|e| panic!("{e}"));
    invalid(
        "hs256-wrong-secret",
        "HS256",
        accept_all
            .sign(&wrong_secret)
            .unwrap_or_else(|e| panic!("{e}")),
        "signature does not verify",
        VERIFY_AT,
    );
    let big = format!("{h}.{}.{s}", "A".repeat(16 * 1024));
    invalid("oversized", "EdDSA", big, "longer than 16 KiB", VERIFY_AT);
    out
}
