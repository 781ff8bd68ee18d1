//! The invisionu.education policy, end to end: load and check it, print what a visitor reads in Kazakh,
//! Russian and English, then follow one applicant through a year of consent decisions.
//!
//! ```text
//! cargo run -p invisionu-demo                 # the bundled policy
//! cargo run -p invisionu-demo -- POLICY.toml  # any policy file: prints every problem if it is invalid
//! ```

use std::process::ExitCode;

use consent_core::{
    Actor, Choice, ConsentRecord, ConsentState, Decision, Event, EventKind, Lang, Method, Policy,
    PurposeId, Relation, Timestamp,
};

const POLICY: &str = include_str!("../policy.toml");
const NEXT_VERSION: &str =
    include_str!("../../../consent-core/tests/fixtures/invisionu-2026-06-01.toml");

fn main() -> ExitCode {
    let (name, src) = match std::env::args().nth(1) {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(src) => (path, src),
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => (
            "examples/invisionu/policy.toml".to_owned(),
            POLICY.to_owned(),
        ),
    };
    let policy = match Policy::from_toml(&src) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_policy(&policy);
    if policy.id().as_str() == "invisionu-privacy" {
        match Policy::from_toml(NEXT_VERSION) {
            Ok(next) => scenario(&policy, &next),
            Err(e) => {
                eprintln!("bundled next version is invalid: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn print_policy(policy: &Policy) {
    let c = policy.controller();
    println!(
        "Policy {} version {} ({})",
        policy.id(),
        policy.version(),
        policy.url()
    );
    println!("SHA-256 of the canonical form: {}", policy.hash());
    println!(
        "Controller: {} (BIN {}), {}",
        c.name.get_or(Lang::EN, Lang::EN),
        c.bin,
        c.email
    );
    println!(
        "Choices stay valid for {} months.\n",
        policy.choice_validity_months()
    );
    for &lang in policy.languages() {
        println!(
            "== {} [{lang}] ==",
            policy.title().get_or(lang, policy.default_language())
        );
        for p in policy.purposes() {
            let marker = if p.needs_consent() { "[ ]" } else { "[=]" };
            let Some(texts) = &p.texts else { continue };
            println!(
                "{marker} {:<27} {}",
                p.id,
                texts.title.get_or(lang, policy.default_language())
            );
            println!(
                "    {}",
                texts.description.get_or(lang, policy.default_language())
            );
        }
        println!();
    }
    println!(
        "[ ] asks for consent (never pre-ticked); [=] needs no consent (other legal basis or strictly necessary)\n"
    );
}

/// Days after 2025-04-01T09:00:00Z.
fn day(n: i64) -> Timestamp {
    Timestamp::from_unix(1_743_498_000 + n * 86_400)
}

fn scenario(v1: &Policy, v2: &Policy) {
    // A 16-year-old applicant applies on 1 April 2025; a parent gives the consents with them.
    let parent = Actor::Representative(Relation::Parent);
    let mut events = Vec::new();
    // Form consents carry their own term (two years, the length of the programme); banner choices
    // use the policy's validity (6 months).
    let mut decide = |at: Timestamp,
                      purpose: &str,
                      choice: Choice,
                      method: Method,
                      by: Actor,
                      version: &Policy| {
        let expires_at = (method == Method::Form).then(|| at.add_months(24));
        let Ok(purpose) = purpose.parse::<PurposeId>() else {
            return;
        };
        events.push(Event {
            at,
            kind: EventKind::Consent(ConsentRecord {
                purpose,
                choice,
                policy_version: version.version(),
                method,
                expires_at,
                by,
            }),
        });
    };
    for p in [
        "application-review",
        "scholarships",
        "contact",
        "transfer-service-providers",
        "transfer-abroad",
    ] {
        decide(day(0), p, Choice::Given, Method::Form, parent, v1);
    }
    decide(
        day(0),
        "public-dissemination",
        Choice::Refused,
        Method::Form,
        parent,
        v1,
    );
    // On the website the same day: analytics yes, marketing cookies no.
    decide(
        day(0),
        "cookies-analytics",
        Choice::Given,
        Method::Custom,
        Actor::Subject,
        v1,
    );
    decide(
        day(0),
        "cookies-marketing",
        Choice::Refused,
        Method::Custom,
        Actor::Subject,
        v1,
    );
    // Two months later: subscribes to the newsletter.
    decide(
        day(60),
        "marketing",
        Choice::Given,
        Method::Form,
        parent,
        v1,
    );
    // Events arrive in any order; the fold does not care.
    events.reverse();

    let asks = [
        "application-review",
        "public-dissemination",
        "marketing",
        "cookies-analytics",
        "cookies-marketing",
        "legal-compliance",
    ];
    let moments: [(&str, Timestamp, &Policy); 3] = [
        ("2025-06-01, policy 2025-03-26", day(61), v1),
        ("2025-11-01, policy 2025-03-26", day(214), v1),
        ("2026-07-01, policy 2026-06-01", day(456), v2),
    ];
    let state = ConsentState::fold(&events);
    println!(
        "Scenario: an applicant (16) applies with a parent on 2025-04-01, subscribes on 2025-05-31."
    );
    for (label, at, policy) in moments {
        println!("\nAt {label}:");
        for ask in asks {
            let Ok(id) = ask.parse::<PurposeId>() else {
                continue;
            };
            let status = state
                .status(id, at, policy)
                .map_or("-", |s| s.iri().trim_start_matches("https://w3id.org/dpv#"));
            match state.decision(id, at, policy) {
                Decision::Allowed(why) => println!("  {ask:<22} ALLOWED  {status:<20} {why}"),
                Decision::Denied(why) => println!("  {ask:<22} denied   {status:<20} {why}"),
            }
        }
    }
    let changed: Vec<String> = v2
        .changed_since(v1.version())
        .map(|p| p.id.to_string())
        .collect();
    println!(
        "\nPolicy {} changed: {}. The banner asks again only for those.",
        v2.version(),
        changed.join(", ")
    );
}
