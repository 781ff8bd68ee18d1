//! Property tests: the fold is order-independent and idempotent, and the policy hash ignores formatting.
#![cfg(feature = "toml")]

use consent_core::{
    Actor, BANNER_TEXTS, Choice, ConsentRecord, ConsentState, Event, EventKind, Method, Policy,
    PolicyVersion, PurposeId, Relation, Timestamp,
};
use proptest::prelude::*;
use std::sync::LazyLock;

const V1: &str = include_str!("../../examples/invisionu/policy.toml");
const V2: &str = include_str!("fixtures/invisionu-2026-06-01.toml");

/// Both versions, loaded once.
static POLICIES: LazyLock<[Policy; 2]> = LazyLock::new(|| {
    [
        Policy::from_toml(V1).unwrap(),
        Policy::from_toml(V2).unwrap(),
    ]
});

const PURPOSES: &[&str] = &[
    "application-review",
    "marketing",
    "cookies-analytics",
    "legal-compliance",
    "cookies-necessary",
    "not-in-policy",
];

fn event() -> impl Strategy<Value = Event> {
    // Few distinct times, so that ties are common.
    let at = (0i64..20).prop_map(|d| Timestamp::from_unix(1_743_465_600 + d * 86_400 * 20));
    let record = (
        0..PURPOSES.len(),
        prop_oneof![
            Just(Choice::Given),
            Just(Choice::Refused),
            Just(Choice::Withdrawn)
        ],
        prop_oneof![Just("2025-03-26"), Just("2026-06-01"), Just("2024-01-01")],
        0..Method::ALL.len(),
        proptest::option::of(
            (0i64..600).prop_map(|d| Timestamp::from_unix(1_743_465_600 + d * 86_400)),
        ),
        prop_oneof![
            Just(Actor::Subject),
            Just(Actor::Representative(Relation::Parent))
        ],
    )
        .prop_map(|(p, choice, v, m, expires_at, by)| ConsentRecord {
            purpose: PURPOSES[p].parse().unwrap(),
            choice,
            policy_version: v.parse::<PolicyVersion>().unwrap(),
            method: Method::ALL[m],
            expires_at,
            by,
        });
    let kind = prop_oneof![
        8 => record.prop_map(EventKind::Consent),
        1 => Just(EventKind::Restrict),
        1 => Just(EventKind::Unblock),
        1 => Just(EventKind::Erase),
    ];
    (at, kind).prop_map(|(at, kind)| Event { at, kind })
}

/// The reference semantics, written the obvious way: sort the events, replay them, later wins.
fn replay_sorted(events: &[Event]) -> ConsentState {
    let mut sorted = events.to_vec();
    sorted.sort();
    let mut state = ConsentState::new();
    for e in &sorted {
        state.apply(e);
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fold_is_order_independent(events in prop::collection::vec(event(), 0..40), seed in any::<u64>()) {
        let mut shuffled = events.clone();
        // Fisher-Yates with a simple deterministic generator.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let a = ConsentState::fold(&events);
        let b = ConsentState::fold(&shuffled);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &replay_sorted(&events));
        let mut reversed = events.clone();
        reversed.reverse();
        prop_assert_eq!(&a, &ConsentState::fold(&reversed));
    }

    #[test]
    fn fold_is_idempotent(events in prop::collection::vec(event(), 0..40)) {
        let twice: Vec<Event> = events.iter().chain(events.iter()).copied().collect();
        prop_assert_eq!(ConsentState::fold(&events), ConsentState::fold(&twice));
    }

    #[test]
    fn decisions_do_not_depend_on_order(events in prop::collection::vec(event(), 0..40), day in 0i64..800) {
        let policies = &*POLICIES;
        let mut reversed = events.clone();
        reversed.reverse();
        let a = ConsentState::fold(&events);
        let b = ConsentState::fold(&reversed);
        let at = Timestamp::from_unix(1_743_465_600 + day * 86_400);
        for policy in policies {
            for p in PURPOSES {
                let id: PurposeId = p.parse().unwrap();
                prop_assert_eq!(a.decision(id, at, policy), b.decision(id, at, policy));
                prop_assert_eq!(a.status(id, at, policy), b.status(id, at, policy));
                // Only given (or renewed) consent allows a consent purpose.
                if let Some(status) = a.status(id, at, policy)
                    && a.decision(id, at, policy).is_allowed()
                {
                    prop_assert!(status.allows_processing());
                }
            }
        }
    }

    #[test]
    fn hash_ignores_key_order_whitespace_and_comments(seed in any::<u64>(), pad in 0usize..4) {
        let original = &POLICIES[0];
        let reformatted = reformat(V1, seed, pad);
        let p = Policy::from_toml(&reformatted).unwrap();
        prop_assert_eq!(p.hash(), original.hash());
        prop_assert_eq!(p.canonical_json(), original.canonical_json());
    }
}

/// Rewrites a policy file without changing its meaning: within each table, key lines are shuffled;
/// spaces around `=` change; blank lines and comments are added; basic strings without escapes or
/// quotes become literal strings.
fn reformat(src: &str, seed: u64, pad: usize) -> String {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = String::new();
    let mut section: Vec<String> = Vec::new();
    let flush = |section: &mut Vec<String>, out: &mut String, next: &mut dyn FnMut() -> u64| {
        for i in (1..section.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            section.swap(i, j);
        }
        for line in section.drain(..) {
            out.push_str(&line);
            out.push('\n');
            if next().is_multiple_of(3) {
                out.push_str("# a comment that changes nothing\n\n");
            }
        }
    };
    let mut lines = src.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.ends_with("= [") {
            // A multi-line array: keep it whole, as one entry.
            let mut whole = line.to_owned();
            for more in lines.by_ref() {
                whole.push('\n');
                whole.push_str(more);
                if more.trim() == "]" {
                    break;
                }
            }
            section.push(whole);
        } else if trimmed.starts_with('[') {
            flush(&mut section, &mut out, &mut next);
            out.push_str(line);
            out.push('\n');
        } else if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        } else if let Some((k, v)) = line.split_once(" = ") {
            let spaces = " ".repeat(pad);
            let v = v.trim();
            let inner = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
            let v = match inner {
                Some(s)
                    if !s.contains('\\')
                        && !s.contains('\'')
                        && !s.contains('"')
                        && next() % 2 == 0 =>
                {
                    format!("'{s}'")
                }
                _ => v.to_owned(),
            };
            section.push(format!("{}{spaces}={spaces}{v}", k.trim()));
        } else {
            // Not a single-line key: keep the rest of the file as is.
            section.push(line.to_owned());
        }
    }
    flush(&mut section, &mut out, &mut next);
    out
}

#[test]
fn reformatting_really_changes_the_text() {
    let r = reformat(V1, 42, 2);
    assert_ne!(r, V1);
    assert!(r.contains("  =  "));
}

#[test]
fn hash_changes_when_content_changes() {
    let original = Policy::from_toml(V1).unwrap();
    let edited = V1.replacen(
        "choice_validity_months = 6",
        "choice_validity_months = 7",
        1,
    );
    assert_ne!(Policy::from_toml(&edited).unwrap().hash(), original.hash());
    let v2 = Policy::from_toml(V2).unwrap();
    assert_ne!(v2.hash(), original.hash());
}

#[test]
fn defaults_are_part_of_the_canonical_form() {
    // Omitting a default and writing it out give the same policy and hash.
    let original = Policy::from_toml(V1).unwrap();
    let without = V1.replacen("choice_validity_months = 6\n", "", 1).replacen(
        "default_language = \"kk\"\n",
        "",
        1,
    );
    assert_ne!(without, V1);
    assert_eq!(Policy::from_toml(&without).unwrap().hash(), original.hash());
}

/// `src` without its `[banner.*]` sections (the last of the invisionu policy) and their comment.
fn without_banner(src: &str) -> String {
    let comment = src.find("\n# Banner: ").expect("a banner section");
    let at = src[..comment]
        .rfind("\n\n")
        .expect("a blank line before it");
    format!("{}\n", &src[..at])
}

#[test]
fn canonical_json_has_the_banner_texts() {
    let policy = Policy::from_toml(V1).unwrap();
    let canonical = policy.canonical_json();
    let json: serde_json::Value = serde_json::from_str(&canonical).unwrap();
    let banner = json["banner"].as_object().expect("a banner object");
    assert_eq!(banner.len(), BANNER_TEXTS.len());
    for name in BANNER_TEXTS {
        let texts = policy.banner_text(name).unwrap();
        let expected: serde_json::Map<String, serde_json::Value> = texts
            .iter()
            .map(|(lang, s)| (lang.to_string(), s.into()))
            .collect();
        assert_eq!(banner[name], serde_json::Value::Object(expected), "{name}");
    }
    // Names sorted by their bytes (`accept-all` < `always-allow` < `always-on` < `blocked`), and
    // languages too, like every other object.
    assert!(canonical.contains(concat!(
        r#""banner":{"accept-all":{"en":"Accept all","kk":"Барлығын қабылдау","ru":"Принять все"},"#,
        r#""always-allow":{"en":"Always allow","kk":"Әрқашан рұқсат ету","ru":"Всегда разрешать"},"#,
        r#""always-on":{"en":"Always on","kk":"Әрқашан қосулы","ru":"Всегда включено"},"blocked":"#
    )));
    // `banner` sorts between `audiences` and `choice_validity_months`.
    let keys = [
        "\"audiences\":",
        "\"banner\":",
        "\"choice_validity_months\":",
    ];
    let at: Vec<usize> = keys.iter().map(|k| canonical.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
}

#[test]
fn a_policy_without_banner_texts_has_no_banner_key() {
    let with = Policy::from_toml(V1).unwrap();
    let without = Policy::from_toml(&without_banner(V1)).unwrap();
    assert_eq!(without.banner(), None);
    let json: serde_json::Value = serde_json::from_str(&without.canonical_json()).unwrap();
    assert!(json.get("banner").is_none());
    // (`"banner"` is still a collection point of the cookie purposes.)
    assert!(!without.canonical_json().contains("\"banner\":"));
    assert_ne!(without.hash(), with.hash());
    // The rest of the canonical form is the same.
    let mut all: serde_json::Value = serde_json::from_str(&with.canonical_json()).unwrap();
    all.as_object_mut().unwrap().remove("banner");
    assert_eq!(all, json);
}

#[test]
fn banner_texts_as_inline_tables_hash_the_same() {
    // `[banner.accept-all]` sections written as `accept-all = { kk = …, ru = …, en = … }` under `[banner]`.
    let original = Policy::from_toml(V1).unwrap();
    let mut inline = without_banner(V1);
    inline.push_str("\n[banner]\n");
    for name in BANNER_TEXTS.iter().rev() {
        let t = original.banner_text(name).unwrap();
        let langs: Vec<String> = t.iter().map(|(l, s)| format!("{l} = {s:?}")).collect();
        inline.push_str(&format!("{name} = {{ {} }}\n", langs.join(", ")));
    }
    let p = Policy::from_toml(&inline).unwrap();
    assert_eq!(p.banner(), original.banner());
    assert_eq!(p.hash(), original.hash());
}
