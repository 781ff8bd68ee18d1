//! Tests of `logic.rs`: the token's reading, the kept choice, the cookie's attributes.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};

use super::*;

// On wasm32 these run in the browser too (`scripts/test`), compiled as the banner is.
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

// Token vectors from spec/vectors/tokens.json (valid ones decode without a key): a device's, a
// person's (the same 128 bits) and a version 1 token (kind unknown), all with the same choice.
const EVERY_PURPOSE_DECIDED: &str = "AgN0MjVOzWfrqxBo3O2QAVpaWlpaWlpaWlpaWlpaWloBAQEBAQEBAQEBAQEBAQEBAAAAAAAAGT8AAAAAAAAgwJ1KBLguKu7L0JHv1dEv_F4";
const PERSON: &str = "AgN0MjVOzWfrqxBo3O2QAlpaWlpaWlpaWlpaWlpaWloBAQEBAQEBAQEBAQEBAQEBAAAAAAAAGT8AAAAAAAAgwFDopyXWVJn99x0L67ZhqhE";
const V1_EVERY_PURPOSE_DECIDED: &str = "AQN0MjVOzWfrqxBo3O2QWlpaWlpaWlpaWlpaWlpaWgEBAQEBAQEBAQEBAQEBAQEAAAAAAAAZPwAAAAAAACDAEMlUBIQ4yUXonuB9KUa5zg";
const SUBJECT: SubjectId = SubjectId([0x5a; 16]);
const ISSUED: i64 = 1_743_498_000;
const EXPIRES: i64 = 1_759_309_200;

fn v(s: &str) -> PolicyVersion {
    s.parse().unwrap()
}

/// The purposes of these tests, by id and code.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn finds_the_cookie_among_others() {
    let jar = "theme=dark; consent=abc_-1; other=consent=x";
    assert_eq!(cookie_value(jar, "consent"), Some("abc_-1"));
    assert_eq!(
        cookie_value("consent=first; consent=second", "consent"),
        Some("first")
    );
    assert_eq!(cookie_value("xconsent=1; consentx=2", "consent"), None);
    assert_eq!(cookie_value("", "consent"), None);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn token_states() {
    let page = Some(v("2025-03-26"));
    assert_eq!(read_token(None, page, ISSUED), Stored::Missing);
    assert_eq!(read_token(Some("garbage"), page, ISSUED), Stored::Invalid);
    assert!(matches!(
        read_token(Some(EVERY_PURPOSE_DECIDED), page, ISSUED + 1),
        Stored::Valid(c) if c.policy_version == v("2025-03-26")
    ));
    // The page's policy is newer than the choice.
    assert!(matches!(
        read_token(
            Some(EVERY_PURPOSE_DECIDED),
            Some(v("2026-06-01")),
            ISSUED + 1
        ),
        Stored::Outdated(_)
    ));
    // An older page version does not re-ask; no page version: only expiry counts.
    assert!(matches!(
        read_token(
            Some(EVERY_PURPOSE_DECIDED),
            Some(v("2024-01-01")),
            ISSUED + 1
        ),
        Stored::Valid(_)
    ));
    assert!(matches!(
        read_token(Some(EVERY_PURPOSE_DECIDED), None, EXPIRES),
        Stored::Expired(_)
    ));
    assert!(matches!(
        read_token(Some(EVERY_PURPOSE_DECIDED), None, EXPIRES - 1),
        Stored::Valid(_)
    ));
    // Version 1 tokens and a person's token are read the same way.
    for other in [V1_EVERY_PURPOSE_DECIDED, PERSON] {
        let (Stored::Valid(a), Stored::Valid(b)) = (
            read_token(Some(EVERY_PURPOSE_DECIDED), page, ISSUED + 1),
            read_token(Some(other), page, ISSUED + 1),
        ) else {
            panic!("{other} is not read as valid");
        };
        assert_eq!(
            TokenClaims {
                subject: a.subject,
                ..b
            },
            a
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn the_device_of_a_token_is_never_a_person() {
    let claims = |text| TokenClaims::decode_unverified(text).unwrap();
    assert_eq!(device_of(&claims(EVERY_PURPOSE_DECIDED)), Some(SUBJECT));
    assert_eq!(device_of(&claims(V1_EVERY_PURPOSE_DECIDED)), Some(SUBJECT));
    assert_eq!(device_of(&claims(PERSON)), None);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn language_from_page_then_browser_then_default() {
    let langs: Vec<String> = ["kk", "ru", "en"].map(String::from).to_vec();
    assert_eq!(pick_language(["ru-RU", "en"], &langs, "kk"), "ru");
    assert_eq!(pick_language(["EN_us"], &langs, "kk"), "en");
    assert_eq!(pick_language(["de", "fr-FR", "en-GB"], &langs, "kk"), "en");
    assert_eq!(pick_language(["de", ""], &langs, "kk"), "kk");
    assert_eq!(pick_language([], &langs, "kk"), "kk");
    // A language the policy does not have is skipped even if the banner has texts for it.
    assert_eq!(
        pick_language(["en", "ru"], &["kk".into(), "ru".into()], "kk"),
        "ru"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn declared_cookies_of_what_is_off_are_deleted() {
    assert!(cookie_matches("_ga", "_ga"));
    assert!(!cookie_matches("_ga", "_ga_X"));
    assert!(cookie_matches("_ga_*", "_ga_X1"));
    assert!(cookie_matches("_ga_*", "_ga_"));
    assert!(!cookie_matches("_ga_*", "_gat"));
    assert!(cookie_matches("a*b*c", "axxbyyc"));
    assert!(!cookie_matches("a*b*c", "axxcyyb"));
    let declared = [
        (12, "_ga".to_owned()),
        (12, "_ga_*".to_owned()),
        (13, "_fbp".to_owned()),
    ];
    let jar = "consent=x; _ga=1; theme=dark; _ga_ABC=2; _fbp=3; _ga=4";
    assert_eq!(
        cookies_to_delete(&declared, PurposeSet::of(12), jar).collect::<Vec<_>>(),
        ["_ga", "_ga_ABC", "_ga"]
    );
    assert_eq!(
        cookies_to_delete(&declared, PurposeSet::EMPTY, jar).count(),
        0
    );
    assert_eq!(
        expired_cookie("_ga", None, "/", false),
        "_ga=; max-age=0; path=/"
    );
    assert_eq!(
        expired_cookie("_ga", Some("invisionu.education"), "/", false),
        "_ga=; max-age=0; path=/; domain=.invisionu.education"
    );
    let paths = |p| cookie_paths(p).collect::<Vec<_>>();
    assert_eq!(paths("/"), ["/"]);
    assert_eq!(paths(""), ["/"]);
    assert_eq!(paths("/index.html"), ["/", "/index.html"]);
    assert_eq!(paths("/a/"), ["/", "/a", "/a/"]);
    assert_eq!(
        paths("/a/b/c"),
        ["/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c"]
    );
    assert_eq!(paths("/a//"), ["/", "/a", "/a/", "/a//"]);
    assert_eq!(paths("x"), ["/"]);
    let domains = |host| cookie_domains(host).collect::<Vec<_>>();
    assert_eq!(domains("invisionu.education"), ["invisionu.education"]);
    assert_eq!(
        domains("a.b.invisionu.education"),
        [
            "a.b.invisionu.education",
            "b.invisionu.education",
            "invisionu.education"
        ]
    );
    assert!(domains("localhost").is_empty());
    assert!(domains("").is_empty());
    assert_eq!(domains("site."), ["site."]);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn cookie_patterns_agree_with_a_plain_recursive_matcher() {
    fn reference(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => reference(&p[1..], n) || (!n.is_empty() && reference(p, &n[1..])),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &n[1..]),
            _ => false,
        }
    }
    // Every pattern over {a, b, *} and every name over {a, b}, up to four characters.
    fn words(alphabet: &[u8], max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|w| {
                    alphabet
                        .iter()
                        .map(move |&c| format!("{w}{}", char::from(c)))
                })
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }
    for p in words(b"ab*", 4) {
        for n in words(b"ab", 4) {
            assert_eq!(
                cookie_matches(&p, &n),
                reference(p.as_bytes(), n.as_bytes()),
                "{p:?} {n:?}"
            );
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn parts_split_like_str_split() {
    for text in ["", ";", "a", "a;b", ";a;;b;", "ж;ы;", "a=b=c"] {
        for sep in [b';', b'='] {
            let ours: Vec<&str> = parts(text, sep).collect();
            let std: Vec<&str> = text.split(char::from(sep)).collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn numbers_urls_and_cookie_lifetime() {
    let mut n = String::new();
    push_u64(&mut n, 0, 1);
    n.push(' ');
    push_u64(&mut n, u64::MAX, 1);
    n.push(' ');
    push_u64(&mut n, 7, 2);
    assert_eq!(n, "0 18446744073709551615 07");
    assert_eq!(
        sibling("https://cdn.example/b/banner.js?v=3#x", "banner.css"),
        "https://cdn.example/b/banner.css"
    );
    assert_eq!(sibling("banner.js", "banner.css"), "banner.css");
    assert_eq!(
        endpoint(" https://consent.example// "),
        "https://consent.example"
    );
    assert_eq!(endpoint("/"), "");
    assert_eq!(
        endpoint("https://consent.example/api"),
        "https://consent.example/api"
    );
    assert_eq!(lifetime_parts("6 months"), Some(("6", "month", "ай")));
    assert_eq!(lifetime_parts("13 months"), Some(("13", "month", "ай")));
    assert_eq!(lifetime_parts("1 years"), Some(("1", "year", "жыл")));
    assert_eq!(lifetime_parts("12 hours"), Some(("12", "hour", "сағат")));
    assert_eq!(lifetime_parts("396 days"), Some(("396", "day", "күн")));
    for other in [
        "session",
        "",
        " ",
        "6",
        "6 ",
        " months",
        "6 month",
        "6  months",
        "6 weeks",
        "-6 months",
        "6.5 months",
        "6 months ",
        "1234567 days",
        "six months",
    ] {
        assert_eq!(lifetime_parts(other), None, "{other:?}");
    }
    let claims = TokenClaims::decode_unverified(EVERY_PURPOSE_DECIDED).unwrap();
    let c = cookie_string(EVERY_PURPOSE_DECIDED, &claims, true);
    let expected = format!(
        "consent={EVERY_PURPOSE_DECIDED}; path=/; max-age={}; samesite=lax; secure",
        EXPIRES - ISSUED
    );
    assert_eq!(c, expected);
    assert!(!cookie_string(EVERY_PURPOSE_DECIDED, &claims, false).contains("secure"));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn choices_lapse_after_the_policys_months() {
    // 2025-04-01T09:00:00Z + 6 months = 2025-10-01T09:00:00Z (the vectors' expiry).
    assert_eq!(lapses_at(ISSUED, 6), EXPIRES);
}
