//! What the banner reads from the page and the browser: `document.cookie`, the consent token in it, the
//! page's and the browser's language tags, `data-consent-mode`, the policy's cookie names and patterns,
//! its own script URL, the page's path. Any input is handled without panicking (the banner build aborts on a panic), and
//! the answers keep their promises.
#![no_main]

use consent_core::{PolicyVersion, PurposeSet};
use consent_wasm::logic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Up to four fields, separated by NUL: a cookie jar, a pattern, a language list, a consent mode map.
    let mut fields = text.split('\0');
    let jar = fields.next().unwrap_or_default();
    let pattern = fields.next().unwrap_or_default();
    let languages = fields.next().unwrap_or_default();
    let mode = fields.next().unwrap_or_default();

    let value = logic::cookie_value(jar, logic::COOKIE);
    let page: PolicyVersion = "2025-03-26".parse().unwrap();
    let _ = logic::read_token(value, Some(page), 1_750_000_000);

    let _ = logic::cookie_matches(pattern, jar);
    let declared = [(12u8, pattern.to_owned()), (13u8, "_ga_*".to_owned())];
    for name in logic::cookies_to_delete(&declared, PurposeSet::from_codes([12, 13]), jar) {
        assert!(jar.contains(name), "only names from the jar are deleted");
        let _ = logic::expired_cookie(name, Some(pattern), "/", false);
    }
    for domain in logic::cookie_domains(pattern) {
        assert!(pattern.ends_with(domain) && domain.contains('.'));
    }
    // The pattern field read as a page's path as well.
    let mut paths = 0;
    for path in logic::cookie_paths(pattern) {
        assert!(path.starts_with('/'), "a cookie path");
        assert!(
            path == "/" || pattern.starts_with(path),
            "a prefix of the page's path"
        );
        let _ = logic::expired_cookie(jar, None, path, true);
        paths += 1;
    }
    assert!(paths >= 1, "at least /");

    let ours = ["kk".to_owned(), "ru".to_owned(), "en".to_owned()];
    let picked = logic::pick_language(languages.split(','), &ours, "kk");
    assert!(
        ours.contains(&picked),
        "always one of the policy's languages"
    );

    if let Some(map) = logic::ConsentModeMap::parse(mode) {
        // Each mapped type's purpose is a non-empty word that the text pairs with that type.
        for kind in logic::CONSENT_TYPES {
            if let Some(purpose) = map.purpose(kind) {
                assert!(!purpose.is_empty(), "a mapped purpose is never empty");
                assert!(
                    !purpose
                        .bytes()
                        .any(|c| c == b'=' || c.is_ascii_whitespace()),
                    "one word"
                );
                assert!(mode.contains(&format!("{kind}={purpose}")), "from the text");
            }
        }
        assert_eq!(map.purpose("not_a_consent_type"), None);
    }
    let _ = logic::sibling(jar, "banner.css");
});
