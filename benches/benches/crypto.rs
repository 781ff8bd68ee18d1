//! Receipts and tokens: signing, verification, decoding, Kantara export.

use std::collections::BTreeMap;
use std::hint::black_box;

use consent_benches::INVISIONU_POLICY;
use consent_core::{
    Choice, CollectionKind, CollectionPoint, HmacKey, KeySet, Lang, Method, Policy, PurposeSet,
    ReceiptId, ReceiptPayload, ReceiptRequest, SubjectId, Timestamp, TokenClaims, TokenKeys,
    TokenSubject, UnverifiedReceipt, UnverifiedToken,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn payload(policy: &Policy) -> ReceiptPayload {
    let decisions: BTreeMap<_, _> = policy
        .purposes()
        .iter()
        .map(|p| (p.id, Choice::Given))
        .collect();
    let req = ReceiptRequest::new(
        ReceiptId([1; 16]),
        Timestamp::from_unix(1_750_000_000),
        "https://consent.invisionu.education",
        "dev:AQEBAQEBAQEBAQEBAQEBAQ",
        Lang::KK,
        Method::AcceptAll,
        CollectionPoint {
            kind: CollectionKind::Banner,
            build: Some("ab".repeat(32)),
            page: Some("https://invisionu.education/".into()),
        },
        decisions,
    );
    ReceiptPayload::new(policy, req).unwrap_or_else(|e| panic!("{e}"))
}

fn receipts(c: &mut Criterion) {
    let policy = Policy::from_toml(INVISIONU_POLICY).unwrap_or_else(|e| panic!("{e}"));
    let p = payload(&policy);
    let keys = KeySet::new()
        .with_ed25519("ed1".parse().unwrap_or_else(|_| unreachable!()), [1; 32])
        .with_hs256(
            "hs1".parse().unwrap_or_else(|_| unreachable!()),
            HmacKey::from_bytes([2; 32]),
        );
    let mut g = c.benchmark_group("receipt");
    for kid in ["ed1", "hs1"] {
        let k = keys
            .clone()
            .activate(kid.parse().unwrap_or_else(|_| unreachable!()))
            .unwrap_or_else(|e| panic!("{e}"));
        let alg = if kid == "ed1" { "Ed25519" } else { "HS256" };
        let jws = p.sign(&k).unwrap_or_else(|e| panic!("{e}"));
        g.bench_function(
            format!("{alg} sign (every purpose decided, {} B JWS)", jws.len()),
            |b| b.iter(|| black_box(&p).sign(black_box(&k))),
        );
        g.bench_function(format!("{alg} parse + verify"), |b| {
            b.iter(|| {
                UnverifiedReceipt::parse(black_box(&jws)).and_then(|r| r.verify(black_box(&k)))
            })
        });
    }
    let k = keys
        .activate("ed1".parse().unwrap_or_else(|_| unreachable!()))
        .unwrap_or_else(|e| panic!("{e}"));
    let verified = UnverifiedReceipt::parse(&p.sign(&k).unwrap_or_else(|e| panic!("{e}")))
        .and_then(|r| r.verify(&k))
        .unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("Kantara CR v1.1 export", |b| {
        b.iter(|| black_box(&verified).to_kantara(black_box(&policy)))
    });
    g.finish();
}

fn tokens(c: &mut Criterion) {
    let keys = TokenKeys::new(
        "t25".parse().unwrap_or_else(|_| unreachable!()),
        HmacKey::from_bytes([1; 32]),
    );
    let claims = TokenClaims {
        policy_version: "2025-03-26".parse().unwrap_or_else(|_| unreachable!()),
        issued_at: Timestamp::from_unix(1_750_000_000),
        expires_at: Timestamp::from_unix(1_765_000_000),
        subject: TokenSubject::Device(SubjectId([7; 16])),
        receipt: ReceiptId([9; 16]),
        given: PurposeSet(0x3d7f),
        refused: PurposeSet(0x0280),
    };
    let text = keys.sign(&claims).unwrap_or_else(|e| panic!("{e}"));
    let decoded = UnverifiedToken::decode(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("token");
    g.bench_function(format!("encode + sign ({} chars)", text.len()), |b| {
        b.iter(|| black_box(&keys).sign(black_box(&claims)))
    });
    g.bench_function("decode (banner, no key)", |b| {
        b.iter(|| UnverifiedToken::decode(black_box(&text)))
    });
    g.bench_function("verify (decoded token)", |b| {
        b.iter(|| black_box(decoded.clone()).verify(black_box(&keys)))
    });
    g.bench_function("decode + verify (backend)", |b| {
        b.iter(|| {
            UnverifiedToken::decode(black_box(&text)).and_then(|t| t.verify(black_box(&keys)))
        })
    });
    g.finish();
}

criterion_group!(benches, receipts, tokens);
criterion_main!(benches);
