//! Every Kantara export validates against the official Kantara Consent Receipt v1.1 JSON Schema.
#![cfg(all(feature = "toml", feature = "receipts"))]

use std::collections::BTreeMap;

use consent_core::{
    Actor, Choice, CollectionKind, CollectionPoint, KeySet, Lang, Method, Policy, ReceiptId,
    ReceiptPayload, ReceiptRequest, Relation, Timestamp, UnverifiedReceipt,
};

const V1: &str = include_str!("../../examples/invisionu/policy.toml");
const SCHEMA: &str = include_str!("../../spec/kantara-cr-v1.1/schema.json");
const EXAMPLE: &str = include_str!("../../spec/kantara-cr-v1.1/example.json");

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    jsonschema::draft4::new(&schema).unwrap()
}

fn export(policy: &Policy, decisions: &[(&str, Choice)], lang: Lang) -> serde_json::Value {
    let keys = KeySet::new()
        .with_ed25519("ed1".parse().unwrap(), [1; 32])
        .activate("ed1".parse().unwrap())
        .unwrap();
    let mut req = ReceiptRequest::new(
        ReceiptId([3; 16]),
        Timestamp::from_unix(1_750_000_000),
        "https://consent.invisionu.education",
        "sub:pseudonym",
        lang,
        Method::Form,
        CollectionPoint {
            kind: CollectionKind::Form,
            build: None,
            page: None,
        },
        decisions
            .iter()
            .map(|(p, c)| (p.parse().unwrap(), *c))
            .collect::<BTreeMap<_, _>>(),
    );
    req.by = Actor::Representative(Relation::Parent);
    req.representative = Some("A. Parent".into());
    let jws = ReceiptPayload::new(policy, req)
        .unwrap()
        .sign(&keys)
        .unwrap();
    UnverifiedReceipt::parse(&jws)
        .unwrap()
        .verify(&keys)
        .unwrap()
        .to_kantara(policy)
        .unwrap()
}

#[test]
fn the_schema_accepts_the_official_example_and_rejects_garbage() {
    let v = validator();
    assert!(v.is_valid(&serde_json::from_str(EXAMPLE).unwrap()));
    assert!(!v.is_valid(&serde_json::json!({"version": "KI-CR-v1.1.0"})));
}

#[test]
fn exports_validate_for_every_purpose_and_language() {
    let policy = Policy::from_toml(V1).unwrap();
    let v = validator();
    let all: Vec<(&str, Choice)> = policy
        .purposes()
        .iter()
        .map(|p| (p.id.as_str(), Choice::Given))
        .collect();
    for lang in [Lang::KK, Lang::RU, Lang::EN] {
        // Everything given; each purpose alone; each purpose refused.
        let mut cases = vec![all.clone()];
        for p in policy.purposes() {
            cases.push(vec![(p.id.as_str(), Choice::Given)]);
            cases.push(vec![(p.id.as_str(), Choice::Refused)]);
        }
        for decisions in cases {
            let cr = export(&policy, &decisions, lang);
            let errors: Vec<String> = v.iter_errors(&cr).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{decisions:?} {lang}: {errors:?}\n{cr:#}"
            );
        }
    }
}

#[test]
fn the_export_carries_categories_sensitivity_and_the_kazakh_items() {
    let policy = Policy::from_toml(V1).unwrap();
    let cr = export(
        &policy,
        &[
            ("scholarships", Choice::Given),
            ("marketing", Choice::Refused),
        ],
        Lang::EN,
    );
    assert_eq!(cr["version"], "KI-CR-v1.1.0");
    assert_eq!(cr["jurisdiction"], "KZ");
    assert_eq!(cr["sensitive"], true);
    assert_eq!(cr["spiCat"], serde_json::json!(["7 - Financial"]));
    let purposes = cr["services"][0]["purposes"].as_array().unwrap();
    let ids: Vec<&str> = purposes
        .iter()
        .map(|p| p["purposeId"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"scholarships") && ids.contains(&"legal-compliance"),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"marketing"),
        "refusals are not consented purposes"
    );
    assert_eq!(cr["decisions"]["marketing"], "refused");
    assert_eq!(cr["kzLaw94V"]["operator_bin"], "220740042362");
    assert_eq!(cr["decidedBy"], "representative:parent");
    let scholarship = purposes
        .iter()
        .find(|p| p["purposeId"] == "scholarships")
        .unwrap();
    assert_eq!(
        scholarship["purposeCategory"],
        serde_json::json!(["2 - Contracted Service"])
    );
    assert_eq!(scholarship["consentType"], "EXPLICIT");
}

#[test]
fn a_receipt_exported_with_another_policy_version_is_refused() {
    let policy = Policy::from_toml(V1).unwrap();
    let v2 = Policy::from_toml(include_str!("fixtures/invisionu-2026-06-01.toml")).unwrap();
    let keys = KeySet::new()
        .with_ed25519("ed1".parse().unwrap(), [1; 32])
        .activate("ed1".parse().unwrap())
        .unwrap();
    let req = ReceiptRequest::new(
        ReceiptId([3; 16]),
        Timestamp::from_unix(1_750_000_000),
        "https://consent.invisionu.education",
        "sub:x",
        Lang::EN,
        Method::AcceptAll,
        CollectionPoint {
            kind: CollectionKind::Banner,
            build: None,
            page: None,
        },
        BTreeMap::from([("marketing".parse().unwrap(), Choice::Given)]),
    );
    let jws = ReceiptPayload::new(&policy, req)
        .unwrap()
        .sign(&keys)
        .unwrap();
    let r = UnverifiedReceipt::parse(&jws)
        .unwrap()
        .verify(&keys)
        .unwrap();
    assert!(r.to_kantara(&v2).is_err());
}
