//! The banner's own decisions, free of the browser: what the cookie says, which language to speak,
//! which cookies to delete, the Consent Mode map, a few small texts. Unit-tested on the host; the
//! browser glue calls these. What a choice decides and grants is consent-core's choice logic
//! ([`consent_core::PurposeScope`]), which the server checks requests with.
//!
//! Sets of purposes are consent-core's [`PurposeSet`]s, over the purposes' stable codes (as in the
//! consent token). Nothing here formats with `core::fmt`: the formatting machinery alone would take a
//! good part of the banner's wasm.

use alloc::borrow::ToOwned;
use alloc::string::String;

use consent_core::{PolicyVersion, PurposeSet, SubjectId, Timestamp, TokenClaims, TokenSubject};

use crate::texts::LANGUAGES;

mod consent_mode_map;
pub use consent_mode_map::{CONSENT_MODE_DEFAULT, CONSENT_TYPES, ConsentModeMap};

/// The name of the first-party cookie that holds the consent token (strictly necessary).
pub const COOKIE: &str = "consent";
/// The `localStorage` key of a choice the server has not acknowledged yet (strictly necessary).
pub const PENDING_KEY: &str = "consent-pending";

/// What the `consent` cookie says about the visitor's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// No cookie: first visit, or the cookie was deleted.
    Missing,
    /// A cookie that is not a consent token the banner can read.
    Invalid,
    /// A choice made under an older policy version than the page's.
    Outdated(TokenClaims),
    /// A choice that has lapsed (the visitor's clock says so; it only decides whether to ask again).
    Expired(TokenClaims),
    /// A current choice: the banner stays hidden and the purposes it grants run.
    Valid(TokenClaims),
}

/// The pieces of `text` between the bytes `separator` (an ASCII character), like `str::split` with a
/// `char`, but a plain byte loop: the banner's size budget has no room for `str`'s pattern searchers.
pub fn parts(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|c| c == separator) {
            Some(i) => {
                rest = current.get(i + 1..);
                current.get(..i)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// The value of cookie `name` in a `document.cookie` string (`a=1; b=2`). The first one wins, which is
/// the one with the most specific path.
///
/// ```
/// use consent_wasm::logic::cookie_value;
/// assert_eq!(cookie_value("theme=dark; consent=AQN0; x=1", "consent"), Some("AQN0"));
/// assert_eq!(cookie_value("xconsent=1", "consent"), None);
/// ```
pub fn cookie_value<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    parts(cookies, b';')
        .map(str::trim_ascii)
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Reads the token in the cookie (without verifying it: the banner has no key, and the token only
/// decides whether to ask again) against the page's policy version and the visitor's clock.
pub fn read_token(value: Option<&str>, page: Option<PolicyVersion>, now_secs: i64) -> Stored {
    let Some(value) = value else {
        return Stored::Missing;
    };
    let Ok(claims) = TokenClaims::decode_unverified(value) else {
        return Stored::Invalid;
    };
    if page.is_some_and(|page| claims.policy_version < page) {
        Stored::Outdated(claims)
    } else if now_secs >= claims.expires_at.as_unix() {
        Stored::Expired(claims)
    } else {
        Stored::Valid(claims)
    }
}

/// The primary subtag of a language tag, lower-cased: `ru-RU` → `ru`.
fn primary(tag: &str) -> String {
    let tag = tag.trim_ascii();
    let end = tag
        .bytes()
        .position(|c| c == b'-' || c == b'_')
        .unwrap_or(tag.len());
    tag.get(..end).unwrap_or_default().to_ascii_lowercase()
}

/// Picks the dialog's language: the first candidate (the page's `<html lang>`, then the browser's
/// languages, in order) that both the policy and the banner speak, else the policy's default.
///
/// ```
/// use consent_wasm::logic::pick_language;
/// let policy = ["kk".to_owned(), "ru".to_owned(), "en".to_owned()];
/// assert_eq!(pick_language(["ru-RU", "en"], &policy, "kk"), "ru");
/// assert_eq!(pick_language(["de-DE"], &policy, "kk"), "kk");
/// ```
pub fn pick_language<'a>(
    candidates: impl IntoIterator<Item = &'a str>,
    policy_languages: &[String],
    default: &str,
) -> String {
    candidates
        .into_iter()
        .map(primary)
        .find(|lang| LANGUAGES.contains(&lang.as_str()) && policy_languages.contains(lang))
        .unwrap_or_else(|| default.to_owned())
}

/// The device a token names: the banner sends it as `subject.device` with the next choice, so that one
/// browser stays one subject. A version 2 token says whether its subject is a device or a person; a
/// version 1 token does not, and its bits are taken for this browser's device as before (the banner
/// only ever sent device ids, and the server decides what a device id may do). A person's token (a site
/// may set one for a signed-in visitor) names no device: the banner never sends a person's pseudonym
/// as its own device id.
pub fn device_of(claims: &TokenClaims) -> Option<SubjectId> {
    match claims.subject {
        TokenSubject::Device(id) | TokenSubject::Unbound(id) => Some(id),
        TokenSubject::Person(_) => None,
    }
}

/// Whether a cookie `name` matches a declared name or pattern (`*` stands for any run of characters):
/// [`consent_core::cookie_pattern_matches`], the matcher the policy's own `Cookie::matches` uses.
///
/// ```
/// use consent_wasm::logic::cookie_matches;
/// assert!(cookie_matches("_ga_*", "_ga_DEMO"));
/// assert!(!cookie_matches("_ga", "_gat"));
/// ```
pub fn cookie_matches(pattern: &str, name: &str) -> bool {
    consent_core::cookie_pattern_matches(pattern, name)
}

/// The cookies of `jar` (a `document.cookie` string) that the policy declares (`declared`: purpose code,
/// cookie name or pattern) for a purpose in `off`: the ones to delete, in the jar's order (a name the jar
/// holds twice, set for two paths, comes twice; deleting it again does no harm).
pub fn cookies_to_delete<'a>(
    declared: &'a [(u8, String)],
    off: PurposeSet,
    jar: &'a str,
) -> impl Iterator<Item = &'a str> {
    parts(jar, b';')
        .filter_map(|pair| Some(parts(pair, b'=').next()?.trim_ascii()))
        .filter(move |name| {
            !name.is_empty()
                && declared
                    .iter()
                    .any(|(code, pattern)| off.contains(*code) && cookie_matches(pattern, name))
        })
}

/// A `document.cookie` assignment that deletes cookie `name` set for `path`, and `domain=.<domain>`
/// when given; `secure` on an HTTPS page (a `__Secure-` or `__Host-` cookie is deleted only so).
///
/// ```
/// use consent_wasm::logic::expired_cookie;
/// assert_eq!(expired_cookie("_ga", None, "/", false), "_ga=; max-age=0; path=/");
/// assert_eq!(
///     expired_cookie("__Host-x", Some("invisionu.education"), "/apply", true),
///     "__Host-x=; max-age=0; path=/apply; domain=.invisionu.education; secure"
/// );
/// ```
pub fn expired_cookie(name: &str, domain: Option<&str>, path: &str, secure: bool) -> String {
    let mut out = String::from(name);
    out.push_str("=; max-age=0; path=");
    out.push_str(path);
    if let Some(domain) = domain {
        out.push_str("; domain=.");
        out.push_str(domain);
    }
    if secure {
        out.push_str("; secure");
    }
    out
}

/// The paths a cookie the page at `pathname` can see may have been set for, to delete it on each (a
/// cookie is deleted only with its own path): `/`, and each directory above the page, with and without
/// its trailing slash (a script's cookie without a `path` gets the page's directory), and the page.
///
/// ```
/// use consent_wasm::logic::cookie_paths;
/// let all: Vec<&str> = cookie_paths("/apply/form").collect();
/// assert_eq!(all, ["/", "/apply", "/apply/", "/apply/form"]);
/// assert_eq!(cookie_paths("/").collect::<Vec<_>>(), ["/"]);
/// ```
pub fn cookie_paths(pathname: &str) -> impl Iterator<Item = &str> {
    let path = if pathname.starts_with('/') {
        pathname
    } else {
        "/"
    };
    let bytes = path.as_bytes();
    // Each prefix that ends at a slash, just before one, or at the end.
    (1..=bytes.len())
        .filter(move |&i| {
            i == bytes.len() || bytes.get(i - 1) == Some(&b'/') || bytes.get(i) == Some(&b'/')
        })
        .filter_map(move |i| path.get(..i))
}

/// The domains a cookie of the page on `host` may have been set for, to delete it on each (a cookie
/// goes only with the domain it was set for): the host and every parent domain of two labels or more,
/// longest first. Analytics scripts usually set theirs on the site's registrable domain
/// (`.invisionu.education` from `www.invisionu.education`). The browser ignores a deletion on a domain
/// it would not have accepted (a public suffix, or any domain for an IP address).
///
/// ```
/// use consent_wasm::logic::cookie_domains;
/// let all: Vec<&str> = cookie_domains("www.invisionu.education").collect();
/// assert_eq!(all, ["www.invisionu.education", "invisionu.education"]);
/// assert_eq!(cookie_domains("localhost").count(), 0); // host-only cookies: no domain
/// ```
pub fn cookie_domains(host: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(host);
    core::iter::from_fn(move || {
        let current = rest?;
        let dot = current.bytes().position(|c| c == b'.')?;
        rest = current.get(dot + 1..);
        Some(current)
    })
}

/// Appends a non-negative integer in decimal, at least `width` digits.
pub fn push_u64(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while n > 0 || digits.len() - i < width.max(1) {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
    }
    out.extend(digits.iter().skip(i).map(|&d| char::from(d)));
}

/// A cookie's lifetime as the policy loader writes it (`"<n> hours"`, `"<n> days"`, `"<n> months"`,
/// `"<n> years"`; `spec/POLICY.md`) split into its number, the unit's name in `Intl.NumberFormat`
/// (`"hour"`, `"day"`, `"month"`, `"year"`) and the unit in Kazakh, which does not change a noun after
/// a number ("1 ай", "6 ай"), for the banner to write it in the visitor's language. `None` for anything
/// else (`"session"`, text from another writer): shown as is.
pub fn lifetime_parts(text: &str) -> Option<(&str, &'static str, &'static str)> {
    let space = text.bytes().position(|c| c == b' ')?;
    let (n, unit) = (text.get(..space)?, text.get(space + 1..)?);
    if n.is_empty() || n.len() > 6 || !n.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (unit, kk) = match unit {
        "hours" => ("hour", "сағат"),
        "days" => ("day", "күн"),
        "months" => ("month", "ай"),
        "years" => ("year", "жыл"),
        _ => return None,
    };
    Some((n, unit, kk))
}

/// The consent server's base URL as `data-endpoint` gives it: without white space around it and
/// without trailing slashes (`"/"`, the site itself, becomes `""`).
///
/// ```
/// use consent_wasm::logic::endpoint;
/// assert_eq!(endpoint(" https://consent.example/ "), "https://consent.example");
/// assert_eq!(endpoint("/"), "");
/// ```
pub fn endpoint(text: &str) -> &str {
    // Bytes, not a `char` pattern (`trim_end_matches('/')`): no string searcher in the wasm.
    let text = text.trim_ascii();
    let end = text.bytes().rposition(|c| c != b'/').map_or(0, |i| i + 1);
    text.get(..end).unwrap_or_default()
}

/// The URL of `file` in the same directory as `url` (query and fragment dropped).
pub fn sibling(url: &str, file: &str) -> String {
    let end = url
        .bytes()
        .position(|c| c == b'?' || c == b'#')
        .unwrap_or(url.len());
    let path = url.get(..end).unwrap_or_default();
    // Bytes, not a `char` pattern: no string searcher in the wasm.
    let dir = path
        .bytes()
        .rposition(|c| c == b'/')
        .and_then(|i| path.get(..=i))
        .unwrap_or_default();
    let mut out = String::from(dir);
    out.push_str(file);
    out
}

/// When a choice made at `now_secs` lapses, `months` later (the policy's `choice_validity_months`).
pub fn lapses_at(now_secs: i64, months: u32) -> i64 {
    Timestamp::from_unix(now_secs).add_months(months).as_unix()
}

/// The `consent` cookie for a token: first-party, whole site, `SameSite=Lax`, `Secure` on https. It
/// lives as long as the choice: `expires_at - issued_at` of the server's clock, so a wrong clock on the
/// visitor's device neither shortens nor lengthens it.
pub fn cookie_string(token: &str, claims: &TokenClaims, secure: bool) -> String {
    let max_age = claims.expires_at.as_unix() - claims.issued_at.as_unix();
    let mut out = String::from(COOKIE);
    out.push('=');
    out.push_str(token);
    out.push_str("; path=/; max-age=");
    push_u64(&mut out, max_age.max(0).unsigned_abs(), 1);
    out.push_str("; samesite=lax");
    if secure {
        out.push_str("; secure");
    }
    out
}

#[cfg(test)]
mod tests {
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
                (Some(b'*'), _) => {
                    reference(&p[1..], n) || (!n.is_empty() && reference(p, &n[1..]))
                }
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
}
