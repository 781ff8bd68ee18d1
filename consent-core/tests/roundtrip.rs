//! Property tests for receipts: whatever is signed verifies to the same payload, and any change to the
//! signed text makes verification fail.
#![cfg(all(feature = "toml", feature = "receipts"))]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use consent_core::{
    Choice, CollectionKind, CollectionPoint, HmacKey, KeySet, Lang, Method, Policy, ReceiptId,
    ReceiptPayload, ReceiptRequest, Timestamp, UnverifiedReceipt,
};
use proptest::prelude::*;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});
static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    KeySet::new()
        .with_ed25519("ed1".parse().unwrap(), [1; 32])
        .with_hs256("hs1".parse().unwrap(), HmacKey::from_bytes([2; 32]))
});

fn payload() -> impl Strategy<Value = ReceiptPayload> {
    let n = POLICY.purposes().len();
    (
        proptest::collection::btree_map(0..n, 0..3usize, 1..=n),
        any::<[u8; 16]>(),
        0i64..4_000_000_000,
        0..3usize,
        0..Method::ALL.len(),
        any::<bool>(),
        proptest::option::of("[a-zA-Zа-яА-ЯәіңғүұқөһӘІҢҒҮҰҚӨҺ .'-]{1,40}"),
    )
        .prop_map(|(decisions, id, iat, lang, method, gpc, name)| {
            let decisions: BTreeMap<_, _> = decisions
                .into_iter()
                .map(|(i, c)| {
                    (
                        POLICY.purposes()[i].id,
                        [Choice::Given, Choice::Refused, Choice::Withdrawn][c],
                    )
                })
                .collect();
            let mut req = ReceiptRequest::new(
                ReceiptId(id),
                Timestamp::from_unix(iat),
                "https://consent.invisionu.education",
                "sub:x",
                [Lang::KK, Lang::RU, Lang::EN][lang],
                Method::ALL[method],
                CollectionPoint {
                    kind: CollectionKind::Api,
                    build: None,
                    page: None,
                },
                decisions,
            );
            req.gpc = gpc;
            req.subject_name = name;
            ReceiptPayload::new(&POLICY, req).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn signed_receipts_verify_to_the_same_payload(p in payload(), hs in any::<bool>()) {
        let keys = KEYS.clone().activate(if hs { "hs1" } else { "ed1" }.parse().unwrap()).unwrap();
        let jws = p.sign(&keys).unwrap();
        let r = UnverifiedReceipt::parse(&jws).unwrap().verify(&keys).unwrap();
        prop_assert_eq!(r.payload(), &p);
    }

    #[test]
    fn any_change_breaks_verification(p in payload(), at in any::<prop::sample::Index>(), c in "[A-Za-z0-9_.=+/-]") {
        let keys = KEYS.clone().activate("ed1".parse().unwrap()).unwrap();
        let jws = p.sign(&keys).unwrap();
        let i = at.index(jws.len());
        let mut changed = jws.clone();
        changed.replace_range(i..=i, &c);
        prop_assume!(changed != jws);
        let result = UnverifiedReceipt::parse(&changed).and_then(|r| r.verify(&keys));
        // Changing the last signature character may only flip unused bits, which strict base64url rejects.
        prop_assert!(result.is_err(), "accepted a modified receipt at {}", i);
    }
}
