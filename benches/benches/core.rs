//! consent-core benchmarks: `decision()`, policy loading, folding events.

use std::hint::black_box;

use consent_benches::{INVISIONU_POLICY, events, policy_with_16_purposes};
use consent_core::{ConsentState, Policy, PurposeId, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn decision(c: &mut Criterion) {
    let policy = policy_with_16_purposes();
    // Every purpose decided: one event each, all given, so decisions go through every check.
    let mut state = ConsentState::new();
    for e in events(&policy, 10_000) {
        state.apply(&e);
    }
    let given: Vec<_> = policy
        .purposes()
        .iter()
        .map(|p| consent_core::Event {
            at: Timestamp::from_unix(1_780_000_000),
            kind: consent_core::EventKind::Consent(consent_core::ConsentRecord {
                purpose: p.id,
                choice: consent_core::Choice::Given,
                policy_version: policy.version(),
                method: consent_core::Method::AcceptAll,
                expires_at: None,
                by: consent_core::Actor::Subject,
            }),
        })
        .collect();
    let state = ConsentState::fold(state_events(&given));
    assert_eq!(state.records().count(), 16);
    let now = Timestamp::from_unix(1_780_086_400);
    let last: PurposeId = "research".parse().unwrap_or_else(|_| unreachable!());
    let first: PurposeId = "application-review"
        .parse()
        .unwrap_or_else(|_| unreachable!());
    assert!(state.decision(last, now, &policy).is_allowed());

    let mut g = c.benchmark_group("decision");
    g.bench_function("16 purposes, last purpose (worst case)", |b| {
        b.iter(|| black_box(&state).decision(black_box(last), black_box(now), black_box(&policy)))
    });
    g.bench_function("16 purposes, first purpose", |b| {
        b.iter(|| black_box(&state).decision(black_box(first), black_box(now), black_box(&policy)))
    });
    g.finish();
}

fn state_events(e: &[consent_core::Event]) -> impl Iterator<Item = &consent_core::Event> {
    e.iter()
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy");
    g.throughput(Throughput::Bytes(INVISIONU_POLICY.len() as u64));
    g.bench_function("load + validate + hash invisionu policy", |b| {
        b.iter(|| Policy::from_toml(black_box(INVISIONU_POLICY)))
    });
    g.finish();
}

fn fold(c: &mut Criterion) {
    let policy = policy_with_16_purposes();
    let events = events(&policy, 1_000_000);
    let mut g = c.benchmark_group("fold");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(20);
    g.bench_function("1,000,000 events, 16 purposes", |b| {
        b.iter(|| ConsentState::fold(black_box(&events)))
    });
    g.finish();
}

criterion_group!(benches, decision, load, fold);
criterion_main!(benches);
