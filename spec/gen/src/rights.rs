//! Rights-record vectors (`rights-records.json`, SPEC.md §6.8): the log's signed records of restrictions,
//! unblockings and erasures, valid (every kind, an erasure with and without redactions, each receipt key)
//! and corrupted (signature, `typ`, `alg`, key, payload members and values, redactions, trailing data).
//!
//! A vector holds the JWS and the entries the log serves at the indexes an erasure names (`served`); it
//! is valid when the JWS verifies with the receipt keys (`jwks.json`, `hmac-keys.json`), its payload is a
//! version 1 record, and every served entry's leaf hash is the one the record logged.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use consent_core::{KeySet, RIGHTS_TYP, RightsKind, RightsRecord, Timestamp};
use serde_json::{Value, json};

use crate::keys::{ED_ACTIVE, ED_OLD, HS, confused_keys, kid, receipt_keys};
use crate::receipts::{b64, parts};

/// 2025-05-02T10:00:00Z: when every vector record is made.
const AT: i64 = 1_746_180_000;
const ISSUER: &str = "https://consent.invisionu.education";
/// The subject of the form receipt (`receipts.json`, `ed25519-form-by-representative`).
const FORM_SUBJECT: &str = "dev:BAQEBAQEBAQEBAQEBAQEBA";
/// Log index of the receipt the erasure vectors redact.
const REDACTED_AT: u64 = 41;

fn active(keys: &KeySet, name: &str) -> KeySet {
    keys.clone()
        .activate(kid(name))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn sign(keys: &KeySet, name: &str, record: &RightsRecord) -> String {
    record
        .sign(&active(keys, name))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Signs any payload bytes as a rights record (the corrupted payloads `RightsRecord::sign` refuses).
fn sign_raw(keys: &KeySet, payload: &[u8]) -> String {
    active(keys, ED_ACTIVE)
        .sign(RIGHTS_TYP, payload)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A version 1 receipt's redacted form as SPEC.md §6.8 describes it: `erased:` + its header, its payload
/// without `representative` and `kz.subject_name`, and its signature.
fn redact(jws: &str) -> String {
    let (h, p, s) = parts(jws);
    let bytes = URL_SAFE_NO_PAD.decode(p).unwrap_or_default();
    let mut payload: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    if let Some(o) = payload.as_object_mut() {
        o.remove("representative");
        if let Some(kz) = o.get_mut("kz").and_then(Value::as_object_mut) {
            kz.remove("subject_name");
        }
    }
    format!("erased:{h}.{}.{s}", b64(payload.to_string().as_bytes()))
}

fn record(what: RightsKind, sub: &str) -> RightsRecord {
    RightsRecord::new(ISSUER, sub, Timestamp::from_unix(AT), what)
}

/// The vectors; `receipts` are those of `receipts.json` (the erasures redact the one that names people).
pub(crate) fn vectors(receipts: &[Value]) -> Vec<Value> {
    let keys = receipt_keys();
    let receipt = |name: &str| {
        receipts
            .iter()
            .find(|v| v["name"] == name)
            .and_then(|v| v["jws"].as_str())
            .unwrap_or_else(|| panic!("no receipt vector {name}"))
            .to_owned()
    };
    // The logged version 1 receipt that names the person and their representative, served redacted
    // after the erasure.
    let original = receipt("ed25519-form-by-representative");
    let form = redact(&original);
    let served = [json!({"index": REDACTED_AT, "entry": form})];
    let erase_redacted =
        record(RightsKind::Erase, FORM_SUBJECT).with_redacted([(REDACTED_AT, form.as_bytes())]);
    let sub = "sub:AQIDBAUGBwgJCgsMDQ4PEA";

    let mut out = Vec::new();
    let mut valid = |name: &str, jws: String, r: &RightsRecord, served: &[Value]| {
        let payload = serde_json::to_value(r).unwrap_or_else(|e| panic!("{e}"));
        out.push(
            json!({"name": name, "jws": jws, "served": served, "valid": true, "record": payload}),
        );
    };
    let restrict = record(RightsKind::Restrict, sub);
    valid(
        "ed25519-restrict",
        sign(&keys, ED_ACTIVE, &restrict),
        &restrict,
        &[],
    );
    let unblock = record(RightsKind::Unblock, sub);
    valid(
        "ed25519-unblock",
        sign(&keys, ED_ACTIVE, &unblock),
        &unblock,
        &[],
    );
    let erase = record(RightsKind::Erase, sub);
    valid("ed25519-erase", sign(&keys, ED_ACTIVE, &erase), &erase, &[]);
    valid(
        "ed25519-erase-redacted",
        sign(&keys, ED_ACTIVE, &erase_redacted),
        &erase_redacted,
        &served,
    );
    valid(
        "ed25519-rotated-out-key-restrict",
        sign(&keys, ED_OLD, &restrict),
        &restrict,
        &[],
    );
    valid(
        "hs256-erase-redacted",
        sign(&keys, HS, &erase_redacted),
        &erase_redacted,
        &served,
    );

    let good = sign(&keys, ED_ACTIVE, &erase_redacted);
    let (h, p, s) = parts(&good);
    let mut invalid = |name: &str, jws: String, served: &[Value], reason: &str| {
        out.push(
            json!({"name": name, "jws": jws, "served": served, "valid": false, "reason": reason}),
        );
    };
    let mut sig = URL_SAFE_NO_PAD.decode(&s).unwrap_or_default();
    if let Some(b) = sig.first_mut() {
        *b ^= 0x01;
    }
    invalid(
        "bad-signature",
        format!("{h}.{p}.{}", b64(&sig)),
        &served,
        "signature does not verify",
    );
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&p).unwrap_or_default())
        .unwrap_or_default()
        .replacen("\"what\":\"erase\"", "\"what\":\"unblock\"", 1);
    invalid(
        "tampered-payload",
        format!("{h}.{}.{s}", b64(payload.as_bytes())),
        &[],
        "signature does not verify",
    );
    invalid(
        "wrong-typ-receipt",
        active(&keys, ED_ACTIVE)
            .sign(
                "consent-receipt+jwt",
                &erase_redacted.to_json().unwrap_or_default(),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        &served,
        "typ is consent-receipt+jwt: a receipt's, not a rights record's",
    );
    let other_kid = KeySet::new()
        .with_ed25519(kid("ed-unknown"), crate::keys::secret("ed-unknown"))
        .activate(kid("ed-unknown"))
        .unwrap_or_else(|e| panic!("{e}"));
    invalid(
        "unknown-kid",
        erase.sign(&other_kid).unwrap_or_else(|e| panic!("{e}")),
        &[],
        "no key with this kid",
    );
    let none = json!({"alg": "none", "kid": ED_ACTIVE, "typ": RIGHTS_TYP});
    invalid(
        "alg-none",
        format!("{}.{p}.", b64(none.to_string().as_bytes())),
        &served,
        "alg none is never accepted",
    );
    // Wrong alg: HS256 keyed with the Ed25519 public key, under the Ed25519 key's kid.
    let confused = confused_keys(&keys);
    invalid(
        "wrong-alg-hs256-on-ed25519-key",
        erase_redacted
            .sign(&confused)
            .unwrap_or_else(|e| panic!("{e}")),
        &served,
        "HS256 header on an EdDSA key (algorithm confusion)",
    );
    // The erasure logged the hash of the receipt before redaction, not of the form served.
    let mismatch =
        record(RightsKind::Erase, FORM_SUBJECT).with_redacted([(REDACTED_AT, original.as_bytes())]);
    invalid(
        "redacted-hash-mismatch",
        sign(&keys, ED_ACTIVE, &mismatch),
        &served,
        "the entry served at index 41 is not the redacted form the erasure logged",
    );
    invalid(
        "redacted-entry-not-served",
        good.clone(),
        &[],
        "the erasure names index 41, but no entry is served there",
    );
    invalid(
        "trailing-data-after-jws",
        format!("{good}.{s}"),
        &served,
        "four segments: not a compact JWS",
    );
    let json_of =
        |r: &RightsRecord| String::from_utf8(r.to_json().unwrap_or_default()).unwrap_or_default();
    let mut raw = |name: &str, payload: String, served: &[Value], reason: &str| {
        invalid(name, sign_raw(&keys, payload.as_bytes()), served, reason);
    };
    raw(
        "trailing-data-after-payload",
        format!("{}{{}}", json_of(&restrict)),
        &[],
        "a second JSON value after the payload object",
    );
    raw(
        "unknown-member",
        json_of(&restrict).replacen("{", "{\"name\":\"Нұрлан Серіков\",", 1),
        &[],
        "a member that is not in the format",
    );
    raw(
        "duplicate-member",
        json_of(&restrict).replacen("{", "{\"what\":\"erase\",", 1),
        &[],
        "`what` twice",
    );
    raw(
        "missing-at",
        json_of(&restrict).replacen(&format!("\"at\":{AT},"), "", 1),
        &[],
        "`at` is required",
    );
    raw(
        "version-2",
        json_of(&restrict).replacen("\"v\":1", "\"v\":2", 1),
        &[],
        "only version 1 exists",
    );
    raw(
        "unknown-what",
        json_of(&restrict).replacen("\"restrict\"", "\"withdraw\"", 1),
        &[],
        "`what` is restrict, unblock or erase",
    );
    raw(
        "empty-sub",
        json_of(&restrict).replacen(sub, "", 1),
        &[],
        "`sub` is empty",
    );
    let erase_json = json_of(&erase_redacted);
    raw(
        "redacted-on-restrict",
        erase_json.replacen("\"erase\"", "\"restrict\"", 1),
        &served,
        "only an erasure redacts receipts",
    );
    raw(
        "redacted-index-twice",
        erase_json.replacen(
            "[{",
            "[{\"index\":41,\"leaf\":\"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\"},{",
            1,
        ),
        &served,
        "index 41 named twice",
    );
    let leaf = erase_redacted
        .redacted
        .first()
        .map(|r| r.leaf.to_base64())
        .unwrap_or_default();
    let short = STANDARD.encode(&STANDARD.decode(&leaf).unwrap_or_default()[..31]);
    raw(
        "redacted-leaf-31-bytes",
        erase_json.replacen(&leaf, &short, 1),
        &served,
        "a leaf hash is 32 bytes",
    );
    raw(
        "redacted-leaf-base64url",
        erase_json.replacen(
            &leaf,
            &URL_SAFE_NO_PAD.encode(STANDARD.decode(&leaf).unwrap_or_default()),
            1,
        ),
        &served,
        "a leaf hash is standard base64 with padding",
    );
    out
}
