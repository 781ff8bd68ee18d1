//! The checked-in test vectors (`spec/vectors`) mean what they say: every valid vector verifies with the
//! published keys, every invalid one is rejected; sealed names open with their data key, and only there.
#![cfg(all(feature = "toml", feature = "receipts"))]

use consent_core::{
    DataKey, HmacKey, KeyId, KeySet, Personal, PersonalField, Policy, PurposeSet,
    RECEIPT_VERSION_SEALED, ReceiptError, RightsRecord, Timestamp, TokenClaims, TokenKeys,
    TokenSubject, UnverifiedReceipt, UnverifiedToken,
};
use serde_json::Value;

const RECEIPTS: &str = include_str!("../../spec/vectors/receipts.json");
const RIGHTS_RECORDS: &str = include_str!("../../spec/vectors/rights-records.json");
const TOKENS: &str = include_str!("../../spec/vectors/tokens.json");
const JWKS: &str = include_str!("../../spec/vectors/jwks.json");
const HMAC_KEYS: &str = include_str!("../../spec/vectors/hmac-keys.json");
const POLICY: &str = include_str!("../../examples/invisionu/policy.toml");

fn hmac_keys(usage: &str) -> Vec<(KeyId, HmacKey)> {
    let v: Value = serde_json::from_str(HMAC_KEYS).unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"] == usage)
        .map(|k| {
            let bytes = base64url(k["k"].as_str().unwrap());
            (
                k["kid"].as_str().unwrap().parse().unwrap(),
                HmacKey::from_bytes(bytes.try_into().unwrap()),
            )
        })
        .collect()
}

fn base64url(s: &str) -> Vec<u8> {
    // A tiny independent decoder, so this test does not trust the library's.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.chars() {
        bits = (bits << 6) | alphabet.find(c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn receipt_keys() -> KeySet {
    let mut keys = KeySet::from_jwks_json(JWKS).unwrap();
    for (kid, key) in hmac_keys("receipt") {
        keys = keys.with_hs256(kid, key);
    }
    keys
}

#[test]
fn receipt_vectors() {
    let keys = receipt_keys();
    let policy = Policy::from_toml(POLICY).unwrap();
    let vectors: Vec<Value> = serde_json::from_str(RECEIPTS).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let at = Timestamp::from_unix(v["verify_at"].as_i64().unwrap());
        let result: Result<_, ReceiptError> = UnverifiedReceipt::parse(v["jws"].as_str().unwrap())
            .and_then(|r| r.verify_at(&keys, at));
        if v["valid"].as_bool().unwrap() {
            let r = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                r.header().alg.as_str(),
                v["alg"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                r.payload().policy.sha256,
                policy.hash().to_string(),
                "{name}"
            );
            r.to_kantara(&policy).unwrap();
            valid += 1;
        } else {
            assert!(result.is_err(), "{name} must be rejected");
            invalid += 1;
        }
    }
    assert!(
        valid >= 6 && invalid >= valid,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn token_vectors() {
    let mut keys: Option<TokenKeys> = None;
    for (kid, key) in hmac_keys("consent-token") {
        keys = Some(match keys {
            None => TokenKeys::new(kid, key),
            Some(k) => k.with_verify_only(kid, key),
        });
    }
    let keys = keys.unwrap();
    let policy = Policy::from_toml(POLICY).unwrap();
    let vectors: Vec<Value> = serde_json::from_str(TOKENS).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    let mut versions = [0; 2];
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let at = Timestamp::from_unix(v["verify_at"].as_i64().unwrap());
        let text = v["token"].as_str().unwrap();
        // The claims-only entry is the same decoder: the same claims, the same error.
        assert_eq!(
            TokenClaims::decode_unverified(text),
            UnverifiedToken::decode(text).map(|t| *t.unverified_claims()),
            "{name}"
        );
        if let Ok(t) = UnverifiedToken::decode(text) {
            // One text form per token, for both versions.
            assert_eq!(t.encode(), text, "{name}");
        }
        let result = UnverifiedToken::decode(text)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                let t = t.verify(&keys).map_err(|e| e.to_string())?;
                if at >= t.claims().expires_at {
                    Err("expired".to_string())
                } else {
                    Ok(t)
                }
            });
        if v["valid"].as_bool().unwrap() {
            let t = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(text.len() <= 180, "{name}: {} characters", text.len());
            assert_eq!(text.len() as u64, v["length"], "{name}");
            let c = t.claims();
            let expect = &v["claims"];
            let names = |s: PurposeSet| -> Vec<String> {
                s.codes()
                    .map(|c| policy.purpose_by_code(c).unwrap().id.to_string())
                    .collect()
            };
            assert_eq!(serde_json::json!(names(c.given)), expect["given"], "{name}");
            assert_eq!(
                serde_json::json!(names(c.refused)),
                expect["refused"],
                "{name}"
            );
            assert_eq!(c.receipt.to_string(), expect["receipt"], "{name}");
            assert_eq!(c.policy_version.to_string(), expect["policy_version"]);
            assert_eq!(c.issued_at.as_unix(), expect["issued_at"], "{name}");
            assert_eq!(c.expires_at.as_unix(), expect["expires_at"], "{name}");
            let (version, kind, id) = match c.subject {
                TokenSubject::Device(id) => (2, "device", id),
                TokenSubject::Person(id) => (2, "person", id),
                TokenSubject::Unbound(id) => (1, "unknown", id),
            };
            assert_eq!(version, expect["version"], "{name}");
            assert_eq!(kind, expect["subject_kind"], "{name}");
            assert_eq!(id.to_string(), expect["subject"], "{name}");
            // Only a version 2 person token speaks for a person.
            assert_eq!(c.person().is_some(), kind == "person", "{name}");
            versions[usize::from(version == 2)] += 1;
            valid += 1;
        } else {
            assert!(result.is_err(), "{name} must be rejected");
            invalid += 1;
        }
    }
    assert!(
        valid >= 3 && invalid >= valid,
        "{valid} valid, {invalid} invalid"
    );
    assert!(
        versions[0] >= 1 && versions[1] >= 1,
        "valid vectors of both versions: {versions:?}"
    );
}

const SEALED: &str = include_str!("../../spec/vectors/sealed-receipts.json");
const DATA_KEYS: &str = include_str!("../../spec/vectors/data-keys.json");

fn data_key(kid: &str) -> DataKey {
    let v: Value = serde_json::from_str(DATA_KEYS).unwrap();
    let k = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid && k["use"] == "data-key")
        .unwrap_or_else(|| panic!("no data key {kid}"));
    DataKey::from_bytes(base64url(k["k"].as_str().unwrap()).try_into().unwrap())
}

/// A personal field as the vectors write it: the name, or `{"erased": true}`.
fn personal_json(p: &Personal) -> Value {
    match p {
        Personal::Name(n) => Value::String(n.clone()),
        Personal::Erased => serde_json::json!({"erased": true}),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn sealed_receipt_vectors() {
    let keys = receipt_keys();
    let policy = Policy::from_toml(POLICY).unwrap();
    let vectors: Vec<Value> = serde_json::from_str(SEALED).unwrap();
    let (mut opened, mut erased, mut refused, mut invalid) = (0, 0, 0, 0);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let at = Timestamp::from_unix(v["verify_at"].as_i64().unwrap());
        let result = UnverifiedReceipt::parse(v["jws"].as_str().unwrap())
            .and_then(|r| r.verify_at(&keys, at));
        if !v["valid"].as_bool().unwrap() {
            assert!(result.is_err(), "{name} must be rejected");
            invalid += 1;
            continue;
        }
        let r = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.payload().v, RECEIPT_VERSION_SEALED, "{name}");
        assert_eq!(
            r.header().alg.as_str(),
            v["alg"].as_str().unwrap(),
            "{name}"
        );
        let fields = match v["data_key"].as_str() {
            None => {
                erased += 1;
                r.erased_personal()
            }
            Some(kid) if v["opens"] == true => {
                opened += 1;
                r.open_personal(&data_key(kid))
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            }
            Some(kid) => {
                refused += 1;
                assert!(
                    matches!(
                        r.open_personal(&data_key(kid)),
                        Err(ReceiptError::Unseal(_))
                    ),
                    "{name} must not open"
                );
                continue;
            }
        };
        let mut got = serde_json::Map::new();
        for field in PersonalField::ALL {
            if let Some(p) = fields.get(field) {
                got.insert(field.as_str().into(), personal_json(p));
            }
        }
        assert_eq!(Value::Object(got), v["personal"], "{name}");
        // The Kantara export shows what was read, and nothing else of the names.
        let cr = r.to_kantara_with(&policy, &fields).unwrap();
        if let Some(s) = fields.subject_name() {
            assert_eq!(cr["kzLaw94V"]["subject_name"], personal_json(s), "{name}");
        }
        if fields.get(PersonalField::SubjectName) == Some(&Personal::Erased) {
            let names = ["Нұрлан", "Айгүл", "Әсел"];
            assert!(
                names.iter().all(|n| !cr.to_string().contains(n)),
                "{name}: an erased export names nobody"
            );
        }
    }
    assert!(
        opened >= 3 && erased >= 1 && refused >= 4 && invalid >= opened + erased,
        "{opened} opened, {erased} erased, {refused} not opening, {invalid} invalid"
    );
}

/// A rights-record vector's verdict: the record verifies with the receipt keys, and every redaction it
/// names matches the entry served at its index.
fn rights_record(v: &Value, keys: &KeySet) -> Option<RightsRecord> {
    let record = RightsRecord::verify(v["jws"].as_str().unwrap(), keys).ok()?;
    for r in &record.redacted {
        let served = v["served"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["index"].as_u64() == Some(r.index))?;
        record
            .check_served(r.index, served["entry"].as_str().unwrap().as_bytes())
            .ok()?;
    }
    Some(record)
}

#[test]
fn rights_record_vectors() {
    let keys = receipt_keys();
    let cases: Vec<Value> = serde_json::from_str(RIGHTS_RECORDS).unwrap();
    let valid = cases.iter().filter(|v| v["valid"] == true).count();
    assert!(
        valid >= 6 && cases.len() - valid >= 15,
        "{valid} of {}",
        cases.len()
    );
    for v in &cases {
        let name = v["name"].as_str().unwrap();
        match rights_record(v, &keys) {
            Some(record) => {
                assert_eq!(v["valid"], true, "{name}: accepted, but marked invalid");
                assert_eq!(
                    serde_json::to_value(&record).unwrap(),
                    v["record"],
                    "{name}"
                );
            }
            None => assert_eq!(v["valid"], false, "{name}: rejected, but marked valid"),
        }
    }
    assert!(cases.iter().any(
        |v| v["valid"] == true && !v["record"]["redacted"].as_array().is_none_or(Vec::is_empty)
    ));
}
