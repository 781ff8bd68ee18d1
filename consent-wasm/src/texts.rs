//! The languages the banner speaks. Its texts (title, buttons, labels) come with the policy, in its
//! `banner` table (spec/POLICY.md), in every language of the policy: they are edited, versioned and
//! hashed with it, and they do not weigh on the banner's wasm. Only the languages' own names, for the
//! language switcher, are the banner's, and the floating button's label for when the policy could not
//! be loaded (the button is then the way to try again).
//!
//! Dates and cookie lifetimes are written by the browser's `Intl` in Russian and English. Chromium's
//! ICU data has no Kazakh (for `kk`, `Intl` writes `6 months` in English and a long date as
//! "2026 M06 1"), so the banner writes Kazakh lifetimes itself (the unit names are in
//! [`crate::logic::lifetime_parts`]) and Kazakh dates in digits, "01.06.2026". A `"session"` cookie
//! ([`session_lifetime`]) has no unit for `Intl` to write: the banner writes it in Kazakh and Russian.

/// The languages the banner has a switcher entry for (and picks from `<html lang>` and the browser).
pub const LANGUAGES: [&str; 3] = ["kk", "ru", "en"];

/// A language's name in that language, for the switcher.
pub fn language_name(lang: &str) -> &'static str {
    match lang {
        "kk" => "Қазақша",
        "ru" => "Русский",
        _ => "English",
    }
}

/// The floating button's label when the policy (which has it as `banner.settings`) is not there.
pub fn settings_without_policy(lang: &str) -> &'static str {
    match lang {
        "kk" => "Cookie баптаулары",
        "ru" => "Настройки cookie",
        _ => "Cookie settings",
    }
}

/// A cookie that lives until the browser closes (the policy's lifetime `"session"`) in `lang`; `None`
/// in English, where the policy's word is shown.
pub fn session_lifetime(lang: &str) -> Option<&'static str> {
    match lang {
        "kk" | "ru" => Some("сеанс"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_language_has_its_own_name() {
        let names = LANGUAGES.map(language_name);
        assert_eq!(names, ["Қазақша", "Русский", "English"]);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_session_cookie_is_named_in_kazakh_and_russian() {
        assert_eq!(session_lifetime("kk"), Some("сеанс"));
        assert_eq!(session_lifetime("ru"), Some("сеанс"));
        assert_eq!(session_lifetime("en"), None);
        assert_eq!(session_lifetime("de"), None);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_fallback_label_is_the_policys() {
        // The invisionu policy's `banner.settings`, as canonical JSON writes it.
        let policy = include_str!("../../spec/vectors/policy-invisionu-2025-03-26.canonical.json");
        let settings = policy
            .split("\"settings\":")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap();
        for lang in LANGUAGES {
            let mut pair = std::format!("\"{lang}\":\"");
            pair.push_str(settings_without_policy(lang));
            assert!(settings.contains(&pair), "{lang}: {settings}");
        }
    }
}
