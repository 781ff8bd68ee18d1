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
mod tests;
