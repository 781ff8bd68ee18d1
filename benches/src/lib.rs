//! Shared inputs for the benchmarks in `benches/benches/`.
//!
//! Run them with `cargo bench -p consent-benches`; the README lists the figures measured.

use consent_core::{
    Actor, Choice, ConsentRecord, Event, EventKind, Method, Policy, PurposeId, Timestamp,
};

/// The invisionu.education policy, as shipped.
pub const INVISIONU_POLICY: &str = include_str!("../../examples/invisionu/policy.toml");

/// Two extra consent purposes, appended to the invisionu policy to reach 16.
const EXTRA_PURPOSES: &str = r#"
[[purposes]]
id = "alumni-network"
code = 14
kind = "processing"
legal_basis = "consent"
collection_points = ["form", "api"]
audiences = ["applicants-students"]
data_categories = ["application-contact"]
term = { kk = "Келісім кері қайтарылғанға дейін", ru = "До отзыва согласия", en = "Until consent is withdrawn" }
changed_in = 2025-03-26
dpv = "https://w3id.org/dpv#CommunicationManagement"
kantara_purpose = 4
texts.title = { kk = "Түлектер желісі", ru = "Сеть выпускников", en = "Alumni network" }
texts.description = { kk = "Түлектер туралы хабарлау", ru = "Сообщения для выпускников", en = "Messages for alumni" }

[[purposes]]
id = "research"
code = 15
kind = "processing"
legal_basis = "consent"
collection_points = ["form", "api"]
audiences = ["applicants-students"]
data_categories = ["academic-results"]
term = { kk = "Келісім кері қайтарылғанға дейін", ru = "До отзыва согласия", en = "Until consent is withdrawn" }
changed_in = 2025-03-26
dpv = "https://w3id.org/dpv#ResearchAndDevelopment"
kantara_purpose = 16
texts.title = { kk = "Зерттеу", ru = "Исследования", en = "Research" }
texts.description = { kk = "Бағдарламаны зерттеу", ru = "Исследование программы", en = "Research on the programme" }
"#;

/// The invisionu policy with two more consent purposes: 16 purposes in all.
///
/// # Panics
/// If the bundled policy does not load (a bug caught by the test suite).
pub fn policy_with_16_purposes() -> Policy {
    let src = format!("{INVISIONU_POLICY}\n{EXTRA_PURPOSES}");
    match Policy::from_toml(&src) {
        Ok(p) => p,
        Err(e) => panic!("benchmark policy is invalid: {e}"),
    }
}

/// `n` consent events over the purposes of `policy`, deterministic, in shuffled time order.
pub fn events(policy: &Policy, n: usize) -> Vec<Event> {
    let purposes: Vec<PurposeId> = policy.purposes().iter().map(|p| p.id).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let r = next();
            let purpose = purposes[(r % purposes.len() as u64) as usize];
            let choice = [Choice::Given, Choice::Refused, Choice::Withdrawn][(r >> 8) as usize % 3];
            Event {
                at: Timestamp::from_unix(1_743_465_600 + (r >> 16) as i64 % 31_536_000),
                kind: EventKind::Consent(ConsentRecord {
                    purpose,
                    choice,
                    policy_version: policy.version(),
                    method: Method::Custom,
                    expires_at: None,
                    by: Actor::Subject,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_what_the_benchmarks_claim() {
        let p = policy_with_16_purposes();
        assert_eq!(p.purposes().len(), 16);
        let e = events(&p, 1000);
        assert_eq!(e.len(), 1000);
        let state = consent_core::ConsentState::fold(&e);
        assert_eq!(state.records().count(), 16);
    }
}
