//! The banner's decisions, free of the browser: what the cookie says, which language to speak, what a
//! choice grants, and the JSON it sends. Unit-tested on the host; the browser glue calls these.
//!
//! Nothing here formats with `core::fmt`: the banner's size budget is 15 KB brotli, and the formatting
//! machinery alone would take a good part of it.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use consent_core::{PolicyVersion, Timestamp, TokenClaims, UnverifiedToken};

use crate::texts::LANGUAGES;

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

/// The value of cookie `name` in a `document.cookie` string (`a=1; b=2`). The first one wins, which is
/// the one with the most specific path.
pub fn cookie_value<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies
        .split(';')
        .map(str::trim)
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Reads the token in the cookie (without verifying it: the banner has no key, and the token only
/// decides whether to ask again) against the page's policy version and the visitor's clock.
pub fn read_token(value: Option<&str>, page: Option<PolicyVersion>, now_secs: i64) -> Stored {
    let Some(value) = value else {
        return Stored::Missing;
    };
    let Ok(token) = UnverifiedToken::decode(value) else {
        return Stored::Invalid;
    };
    let claims = *token.unverified_claims();
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
    tag.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Picks the dialog's language: the first candidate (the page's `<html lang>`, then the browser's
/// languages, in order) that both the policy and the banner speak, else the policy's default.
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

/// A purpose as the banner needs it, in the dialog's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    /// Stable id, as in `data-consent="…"`.
    pub id: String,
    /// Stable code, the purpose's bit in the consent token.
    pub code: u8,
    /// False for purposes that rest on another legal basis, and for strictly necessary cookies:
    /// shown as on and locked, never asked, always allowed.
    pub needs_consent: bool,
    /// A marketing purpose (kind `marketing`, or the marketing cookie category): refused in advance when
    /// the browser sends Global Privacy Control.
    pub marketing: bool,
    /// The policy version in which the purpose's meaning last changed.
    pub changed_in: PolicyVersion,
    /// Title in the dialog's language.
    pub title: String,
    /// Description in the dialog's language.
    pub description: String,
}

/// The purposes a token allows: those that need no consent, and those given, not refused, and not
/// changed since the version the choice was made under (the same rules as
/// `consent_core::ConsentToken::decision`, without the expiry, which the caller has checked).
pub fn granted_by_token(purposes: &[Purpose], claims: &TokenClaims) -> Vec<String> {
    purposes
        .iter()
        .filter(|p| {
            !p.needs_consent
                || (claims.given.contains(p.code)
                    && !claims.refused.contains(p.code)
                    && p.changed_in <= claims.policy_version)
        })
        .map(|p| p.id.clone())
        .collect()
}

/// How the visitor decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The "accept all" button.
    AcceptAll,
    /// The "reject all" button.
    RejectAll,
    /// The second layer's switches, then "save".
    Custom,
    /// A choice made through the way back in that turns off everything granted before and gives nothing.
    Withdraw,
}

impl Method {
    /// The method's name in the server's API.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::AcceptAll => "accept-all",
            Method::RejectAll => "reject-all",
            Method::Custom => "custom",
            Method::Withdraw => "withdraw",
        }
    }
}

/// A visitor's choice: a decision for every purpose that needs consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// How it was made.
    pub method: Method,
    /// Purposes consented to.
    pub given: Vec<String>,
    /// Purposes refused.
    pub refused: Vec<String>,
    /// Purposes granted before and turned off by this choice (see [`withdraw`]).
    pub withdrawn: Vec<String>,
}

/// Decides every purpose that needs consent: all given, all refused, or given exactly when `selected`.
///
/// With Global Privacy Control (`gpc`), "accept all" leaves the marketing purposes out: the browser sends
/// `Sec-GPC: 1` with the request, and the server records them as refused, with the signal. A choice made
/// purpose by purpose stands as made (the second layer shows them off to begin with).
pub fn choice(
    purposes: &[Purpose],
    method: Method,
    gpc: bool,
    selected: impl Fn(&str) -> bool,
) -> Choice {
    let (given, refused) = purposes
        .iter()
        .filter(|p| p.needs_consent && !(gpc && p.marketing && method == Method::AcceptAll))
        .partition::<Vec<&Purpose>, _>(|p| match method {
            Method::AcceptAll => true,
            Method::RejectAll => false,
            Method::Custom | Method::Withdraw => selected(&p.id),
        });
    let ids = |v: Vec<&Purpose>| v.into_iter().map(|p| p.id.clone()).collect();
    Choice {
        method,
        given: ids(given),
        refused: ids(refused),
        withdrawn: Vec::new(),
    }
}

/// Turns a choice made after an earlier one (`previous`: the purposes that needed consent and were
/// granted) into what it is: every purpose granted before and now off is `withdrawn`, not refused; and
/// when everything granted before is off and nothing is given, the method is `withdraw`.
pub fn withdraw(mut choice: Choice, previous: &[String]) -> Choice {
    let (withdrawn, refused) = choice
        .refused
        .into_iter()
        .partition::<Vec<String>, _>(|id| previous.contains(id));
    choice.refused = refused;
    choice.withdrawn = withdrawn;
    if !previous.is_empty() && choice.given.is_empty() {
        choice.method = Method::Withdraw;
    }
    choice
}

/// Whether a cookie `name` matches a declared name or pattern (`*` stands for any run of characters).
pub fn cookie_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut last = None;
    for part in parts {
        if let Some(prev) = last.replace(part) {
            match rest.split_once(prev) {
                Some((_, after)) => rest = after,
                None => return false,
            }
        }
    }
    match last {
        None => rest.is_empty(),
        Some(end) => rest.ends_with(end),
    }
}

/// The cookies of `jar` (a `document.cookie` string) that the policy declares (`declared`: purpose id,
/// cookie name or pattern) for a purpose in `off`: the ones to delete.
pub fn cookies_to_delete(declared: &[(String, String)], off: &[String], jar: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in jar.split(';').filter_map(|pair| pair.split('=').next()) {
        let name = name.trim();
        if !name.is_empty()
            && !out.iter().any(|n| n == name)
            && declared
                .iter()
                .any(|(purpose, pattern)| off.contains(purpose) && cookie_matches(pattern, name))
        {
            out.push(name.to_owned());
        }
    }
    out
}

/// A `document.cookie` assignment that deletes cookie `name` (path `/`, and `domain=.<domain>` when
/// given).
pub fn expired_cookie(name: &str, domain: Option<&str>) -> String {
    let mut out = String::from(name);
    out.push_str("=; path=/; max-age=0");
    if let Some(domain) = domain {
        out.push_str("; domain=.");
        out.push_str(domain);
    }
    out
}

/// What a choice lets run: the purposes that need no consent, and those given.
pub fn granted(purposes: &[Purpose], choice: &Choice) -> Vec<String> {
    purposes
        .iter()
        .filter(|p| !p.needs_consent)
        .map(|p| p.id.clone())
        .chain(choice.given.iter().cloned())
        .collect()
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[(c as usize) >> 4]));
                out.push(char::from(HEX[(c as usize) & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a non-negative integer in decimal.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// A JSON array of strings.
pub fn json_str_array(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, item);
    }
    out.push(']');
    out
}

/// The body of `POST /v1/consents` for a banner choice (see `consent-server/openapi.json`,
/// `ConsentRequest`). `page` is the page's origin and path (no query or fragment); it is left out unless it
/// is an http(s) URL. `build` is the SHA-256 of the banner build, when known; `device` the visitor's
/// device id from an earlier token (22 base64url characters), so that one browser stays one subject.
pub fn request_body(
    policy_version: &str,
    choice: &Choice,
    language: &str,
    page: &str,
    build: Option<&str>,
    device: Option<&str>,
) -> String {
    let mut out = String::from("{\"policy_version\":");
    push_json_str(&mut out, policy_version);
    if let Some(device) = device {
        out.push_str(",\"subject\":{\"device\":");
        push_json_str(&mut out, device);
        out.push('}');
    }
    out.push_str(",\"method\":");
    push_json_str(&mut out, choice.method.as_str());
    out.push_str(",\"language\":");
    push_json_str(&mut out, language);
    out.push_str(",\"decisions\":{");
    let decisions = choice
        .given
        .iter()
        .map(|id| (id, "given"))
        .chain(choice.refused.iter().map(|id| (id, "refused")))
        .chain(choice.withdrawn.iter().map(|id| (id, "withdrawn")));
    for (i, (id, decision)) in decisions.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, id);
        out.push(':');
        push_json_str(&mut out, decision);
    }
    out.push_str("},\"collection_point\":{\"kind\":\"banner\"");
    if page.starts_with("https://") || page.starts_with("http://") {
        out.push_str(",\"page\":");
        push_json_str(&mut out, page);
    }
    if let Some(build) = build {
        out.push_str(",\"build\":");
        push_json_str(&mut out, build);
    }
    out.push_str("}}");
    out
}

/// The `localStorage` entry for a choice the server did not acknowledge: the request to send again, what
/// it grants, and until when it applies (milliseconds since the epoch, visitor's clock).
pub fn pending_entry(request: &str, granted: &[String], expires_ms: u64) -> String {
    let mut out = String::from("{\"request\":");
    out.push_str(request);
    out.push_str(",\"granted\":");
    out.push_str(&json_str_array(granted));
    out.push_str(",\"expires\":");
    push_u64(&mut out, expires_ms);
    out.push('}');
    out
}

/// The `detail` of the `consent:change` event: `{method, granted, refused, withdrawn, language}`;
/// `refused` lists every purpose that is off (withdrawn ones too), `withdrawn` those granted before.
pub fn change_detail(choice: &Choice, granted: &[String], language: &str) -> String {
    let mut out = String::from("{\"method\":");
    push_json_str(&mut out, choice.method.as_str());
    out.push_str(",\"granted\":");
    out.push_str(&json_str_array(granted));
    out.push_str(",\"refused\":");
    let mut off = choice.refused.clone();
    off.extend(choice.withdrawn.iter().cloned());
    out.push_str(&json_str_array(&off));
    out.push_str(",\"withdrawn\":");
    out.push_str(&json_str_array(&choice.withdrawn));
    out.push_str(",\"language\":");
    push_json_str(&mut out, language);
    out.push('}');
    out
}

/// The URL of `file` in the same directory as `url` (query and fragment dropped).
pub fn sibling(url: &str, file: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let dir = path
        .rfind('/')
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
    push_u64(&mut out, max_age.max(0).unsigned_abs());
    out.push_str("; samesite=lax");
    if secure {
        out.push_str("; secure");
    }
    out
}

/// A policy version as written in URLs and requests: `2025-03-26`.
pub fn version_text(version: PolicyVersion) -> String {
    let (y, m, d) = version.date().ymd();
    let mut out = String::with_capacity(10);
    let push_padded = |out: &mut String, n: u64, width: usize| {
        let mut digits = String::new();
        push_u64(&mut digits, n);
        for _ in digits.len()..width {
            out.push('0');
        }
        out.push_str(&digits);
    };
    push_padded(&mut out, u64::from(y.unsigned_abs()), 4);
    out.push('-');
    push_padded(&mut out, u64::from(m), 2);
    out.push('-');
    push_padded(&mut out, u64::from(d), 2);
    out
}

/// Google Consent Mode v2's seven consent types, each with the purpose that grants it by default
/// (`data-consent-mode` on the banner's `<script>` replaces this map). `security_storage` follows the
/// strictly necessary cookies, so it is granted from the start.
pub const CONSENT_MODE_DEFAULT: &str = "ad_storage=cookies-marketing ad_user_data=cookies-marketing \
     ad_personalization=cookies-marketing analytics_storage=cookies-analytics \
     functionality_storage=cookies-preferences personalization_storage=cookies-preferences \
     security_storage=cookies-necessary";

/// The consent types of Google Consent Mode v2.
pub const CONSENT_TYPES: [&str; 7] = [
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
];

/// Reads a Consent Mode map: space-separated `type=purpose` pairs, e.g.
/// `analytics_storage=cookies-analytics`. `None` when a pair is malformed or names a type that is not
/// one of [`CONSENT_TYPES`]; a type may appear once. Types left out stay denied.
pub fn consent_mode_map(text: &str) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in text.split_ascii_whitespace() {
        let (kind, purpose) = pair.split_once('=')?;
        if !CONSENT_TYPES.contains(&kind)
            || purpose.is_empty()
            || out.iter().any(|(k, _)| k == kind)
        {
            return None;
        }
        out.push((kind.to_owned(), purpose.to_owned()));
    }
    Some(out)
}

/// The Consent Mode state for `granted` purposes (`None`: nobody has chosen yet, so only what needs no
/// consent): every type of [`CONSENT_TYPES`], `true` for granted.
pub fn consent_mode_state(
    map: &[(String, String)],
    granted: &[String],
) -> [(&'static str, bool); 7] {
    CONSENT_TYPES.map(|kind| {
        let on = map
            .iter()
            .any(|(k, purpose)| k == kind && granted.contains(purpose));
        (kind, on)
    })
}

#[cfg(test)]
mod tests {
    use alloc::borrow::ToOwned;
    use alloc::string::String;
    use alloc::vec::Vec;
    use alloc::{format, vec};

    use consent_core::{PurposeSet, ReceiptId, SubjectId};

    use super::*;

    // On wasm32 these run in the browser too (`scripts/test`), compiled as the banner is.
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    // Token vectors from spec/vectors/tokens.json (valid ones decode without a key).
    const EVERY_PURPOSE_DECIDED: &str = "AQN0MjVOzWfrqxBo3O2QWlpaWlpaWlpaWlpaWlpaWgEBAQEBAQEBAQEBAQEBAQEAAAAAAAAZPwAAAAAAACDAEMlUBIQ4yUXonuB9KUa5zg";
    const ISSUED: i64 = 1_743_498_000;
    const EXPIRES: i64 = 1_759_309_200;

    fn v(s: &str) -> PolicyVersion {
        s.parse().unwrap()
    }

    fn purpose(id: &str, code: u8, needs_consent: bool, changed_in: &str) -> Purpose {
        Purpose {
            id: id.into(),
            code,
            needs_consent,
            marketing: id.contains("marketing"),
            changed_in: v(changed_in),
            title: String::new(),
            description: String::new(),
        }
    }

    fn purposes() -> Vec<Purpose> {
        vec![
            purpose("marketing", 8, true, "2025-03-26"),
            purpose("legal-compliance", 9, false, "2025-03-26"),
            purpose("cookies-necessary", 10, false, "2025-03-26"),
            purpose("cookies-analytics", 12, true, "2025-03-26"),
            purpose("cookies-marketing", 13, true, "2025-03-26"),
        ]
    }

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
    fn token_grants_given_and_unneeded_purposes_only() {
        let claims = TokenClaims {
            policy_version: v("2025-03-26"),
            issued_at: Timestamp::from_unix(ISSUED),
            expires_at: Timestamp::from_unix(EXPIRES),
            subject: SubjectId([1; 16]),
            receipt: ReceiptId([2; 16]),
            given: PurposeSet(1 << 12),
            refused: PurposeSet(1 << 8 | 1 << 13),
        };
        assert_eq!(
            granted_by_token(&purposes(), &claims),
            ["legal-compliance", "cookies-necessary", "cookies-analytics"]
        );
        // A purpose changed after the choice's version needs renewal: not granted.
        let mut changed = purposes();
        changed[3].changed_in = v("2026-06-01");
        assert_eq!(
            granted_by_token(&changed, &claims),
            ["legal-compliance", "cookies-necessary"]
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn choices_decide_every_purpose_that_needs_consent() {
        let p = purposes();
        let all = choice(&p, Method::AcceptAll, false, |_| false);
        assert_eq!(
            all.given,
            ["marketing", "cookies-analytics", "cookies-marketing"]
        );
        assert!(all.refused.is_empty());
        let none = choice(&p, Method::RejectAll, false, |_| true);
        assert!(none.given.is_empty());
        assert_eq!(none.refused.len(), 3);
        assert_eq!(
            granted(&p, &none),
            ["legal-compliance", "cookies-necessary"]
        );
        let custom = choice(&p, Method::Custom, false, |id| id == "cookies-analytics");
        assert_eq!(custom.given, ["cookies-analytics"]);
        assert_eq!(custom.refused, ["marketing", "cookies-marketing"]);
        assert_eq!(
            granted(&p, &custom),
            ["legal-compliance", "cookies-necessary", "cookies-analytics"]
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn global_privacy_control_keeps_marketing_out_of_accept_all() {
        let p = purposes();
        let all = choice(&p, Method::AcceptAll, true, |_| false);
        assert_eq!(all.given, ["cookies-analytics"]);
        assert!(
            all.refused.is_empty(),
            "left to the server, which sees Sec-GPC"
        );
        let body = request_body(
            "2025-03-26",
            &all,
            "en",
            "",
            None,
            Some("AAAAAAAAAAAAAAAAAAAAAA"),
        );
        assert!(
            body.contains(r#""subject":{"device":"AAAAAAAAAAAAAAAAAAAAAA"}"#),
            "{body}"
        );
        assert!(
            body.contains(r#""decisions":{"cookies-analytics":"given"}"#),
            "{body}"
        );
        // Purpose by purpose, the visitor's own choice stands.
        let custom = choice(&p, Method::Custom, true, |id| id == "marketing");
        assert_eq!(custom.given, ["marketing"]);
        assert_eq!(custom.refused, ["cookies-analytics", "cookies-marketing"]);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn consent_mode_maps_purposes_to_the_seven_types() {
        let map = consent_mode_map(CONSENT_MODE_DEFAULT).unwrap();
        assert_eq!(map.len(), 7);
        let nothing = consent_mode_state(&map, &["cookies-necessary".to_owned()]);
        assert_eq!(
            nothing
                .iter()
                .filter(|(_, on)| *on)
                .map(|(k, _)| *k)
                .collect::<Vec<_>>(),
            ["security_storage"]
        );
        let analytics = consent_mode_state(
            &map,
            &[
                "cookies-necessary".to_owned(),
                "cookies-analytics".to_owned(),
            ],
        );
        assert!(analytics.contains(&("analytics_storage", true)));
        assert!(analytics.contains(&("ad_storage", false)));
        let custom = consent_mode_map(" analytics_storage=stats\nad_storage=ads ").unwrap();
        let state = consent_mode_state(&custom, &["ads".to_owned()]);
        assert!(state.contains(&("ad_storage", true)));
        assert!(
            state.contains(&("security_storage", false)),
            "not mapped: denied"
        );
        for bad in [
            "ad_storage",
            "ad_storage=",
            "cookies=x",
            "ad_storage=a ad_storage=b",
        ] {
            assert_eq!(consent_mode_map(bad), None, "{bad}");
        }
        assert_eq!(consent_mode_map(""), Some(Vec::new()));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn turning_off_what_was_granted_is_a_withdrawal() {
        let p = purposes();
        let previous = ["cookies-analytics".to_owned(), "marketing".to_owned()];
        // One of two turned off: still custom, that one withdrawn.
        let c = withdraw(
            choice(&p, Method::Custom, false, |id| id == "marketing"),
            &previous,
        );
        assert_eq!(c.method, Method::Custom);
        assert_eq!(c.given, ["marketing"]);
        assert_eq!(c.refused, ["cookies-marketing"]);
        assert_eq!(c.withdrawn, ["cookies-analytics"]);
        let body = request_body("2025-03-26", &c, "en", "", None, None);
        assert!(body.contains(
            r#""decisions":{"marketing":"given","cookies-marketing":"refused","cookies-analytics":"withdrawn"}"#
        ));
        // Everything granted before turned off, nothing given: a withdrawal.
        let c = withdraw(choice(&p, Method::RejectAll, false, |_| true), &previous);
        assert_eq!(c.method, Method::Withdraw);
        assert_eq!(c.withdrawn, ["marketing", "cookies-analytics"]);
        assert!(
            request_body("2025-03-26", &c, "en", "", None, None).contains(r#""method":"withdraw""#)
        );
        assert!(
            change_detail(&c, &granted(&p, &c), "en")
                .contains(r#""refused":["cookies-marketing","marketing","cookies-analytics"],"withdrawn":["marketing","cookies-analytics"]"#)
        );
        // Nothing granted before: nothing to withdraw.
        let c = withdraw(choice(&p, Method::RejectAll, false, |_| true), &[]);
        assert_eq!(c.method, Method::RejectAll);
        assert!(c.withdrawn.is_empty());
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
            ("cookies-analytics".to_owned(), "_ga".to_owned()),
            ("cookies-analytics".to_owned(), "_ga_*".to_owned()),
            ("cookies-marketing".to_owned(), "_fbp".to_owned()),
        ];
        let jar = "consent=x; _ga=1; theme=dark; _ga_ABC=2; _fbp=3; _ga=4";
        assert_eq!(
            cookies_to_delete(&declared, &["cookies-analytics".into()], jar),
            ["_ga", "_ga_ABC"]
        );
        assert!(cookies_to_delete(&declared, &[], jar).is_empty());
        assert_eq!(expired_cookie("_ga", None), "_ga=; path=/; max-age=0");
        assert_eq!(
            expired_cookie("_ga", Some("invisionu.education")),
            "_ga=; path=/; max-age=0; domain=.invisionu.education"
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\n\u{1}ä");
        assert_eq!(out, r#""a\"b\\c\n\u0001ä""#);
        let mut n = String::new();
        push_u64(&mut n, 0);
        n.push(' ');
        push_u64(&mut n, 18_446_744_073_709_551_615);
        assert_eq!(n, "0 18446744073709551615");
        assert_eq!(json_str_array(&[]), "[]");
        assert_eq!(json_str_array(&["a".into(), "b".into()]), r#"["a","b"]"#);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn request_body_matches_the_api() {
        let c = choice(&purposes(), Method::Custom, false, |id| id == "marketing");
        let body = request_body(
            "2025-03-26",
            &c,
            "ru",
            "https://invisionu.education/apply",
            Some("ab12"),
            None,
        );
        assert_eq!(
            body,
            r#"{"policy_version":"2025-03-26","method":"custom","language":"ru","decisions":{"marketing":"given","cookies-analytics":"refused","cookies-marketing":"refused"},"collection_point":{"kind":"banner","page":"https://invisionu.education/apply","build":"ab12"}}"#
        );
        // A page that is not http(s) (file://, about:blank) is left out.
        let body = request_body("2025-03-26", &c, "ru", "null/x", None, None);
        assert!(body.ends_with(r#""collection_point":{"kind":"banner"}}"#));
        assert_eq!(
            pending_entry("{}", &["a".into()], 1_700_000_000_000),
            r#"{"request":{},"granted":["a"],"expires":1700000000000}"#
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn event_detail_and_sibling_urls() {
        let c = choice(&purposes(), Method::RejectAll, false, |_| true);
        assert_eq!(
            change_detail(&c, &granted(&purposes(), &c), "en"),
            r#"{"method":"reject-all","granted":["legal-compliance","cookies-necessary"],"refused":["marketing","cookies-analytics","cookies-marketing"],"withdrawn":[],"language":"en"}"#
        );
        assert_eq!(
            sibling("https://cdn.example/b/banner.js?v=3#x", "banner.css"),
            "https://cdn.example/b/banner.css"
        );
        assert_eq!(sibling("banner.js", "banner.css"), "banner.css");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn cookie_lives_as_long_as_the_choice() {
        let claims = *UnverifiedToken::decode(EVERY_PURPOSE_DECIDED)
            .unwrap()
            .unverified_claims();
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
    fn versions_and_lapses() {
        assert_eq!(version_text(v("2025-03-26")), "2025-03-26");
        assert_eq!(version_text(v("2031-01-02")), "2031-01-02");
        // 2025-04-01T09:00:00Z + 6 months = 2025-10-01T09:00:00Z (the vectors' expiry).
        assert_eq!(lapses_at(ISSUED, 6), EXPIRES);
    }
}
