//! The checked-in test vectors (`spec/vectors`) mean what they say: every valid vector verifies with the
//! published keys, every invalid one is rejected.

use consent_core::{
    HmacKey, KeyId, KeySet, Policy, ReceiptError, Timestamp, TokenKeys, UnverifiedReceipt,
    UnverifiedToken,
};
use serde_json::Value;

const RECEIPTS: &str = include_str!("../../spec/vectors/receipts.json");
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
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let at = Timestamp::from_unix(v["verify_at"].as_i64().unwrap());
        let text = v["token"].as_str().unwrap();
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
            let given: Vec<String> = t
                .claims()
                .given
                .codes()
                .map(|c| policy.purpose_by_code(c).unwrap().id.to_string())
                .collect();
            assert_eq!(serde_json::json!(given), v["claims"]["given"], "{name}");
            assert_eq!(
                t.claims().receipt.to_string(),
                v["claims"]["receipt"],
                "{name}"
            );
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
}
