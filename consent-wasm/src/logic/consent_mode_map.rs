//! Google Consent Mode v2's map from the banner's purposes to its seven consent types
//! (`data-consent-mode`): read once, asked per type. Free of the browser (`consent_mode.rs` makes the
//! `gtag` calls), unit-tested on the host.

use alloc::borrow::ToOwned;
use alloc::string::String;

/// Google Consent Mode v2's seven consent types, each with the purpose that grants it by default
/// (`data-consent-mode` on the banner's `<script>` replaces this map). `security_storage` follows the
/// strictly necessary cookies.
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

/// A Google Consent Mode map: `type=purpose` pairs separated by ASCII white space, e.g.
/// `analytics_storage=cookies-analytics` (`data-consent-mode`). Only made by [`ConsentModeMap::parse`];
/// kept as the text it was read from, with where each type's purpose id lies in it (the banner has no
/// use for a list of strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentModeMap {
    text: String,
    /// Per type of [`CONSENT_TYPES`], the byte range of its purpose id in `text`; `(0, 0)` when the
    /// type is not mapped (a purpose id is never empty, and never starts the text).
    ids: [(usize, usize); CONSENT_TYPES.len()],
}

impl ConsentModeMap {
    /// Reads a map. `None` when a pair is malformed or names a type that is not one of
    /// [`CONSENT_TYPES`]; a type may appear once. Types left out stay denied.
    ///
    /// ```
    /// use consent_wasm::logic::ConsentModeMap;
    /// let map = ConsentModeMap::parse("analytics_storage=cookies-analytics ad_storage=cookies-marketing").unwrap();
    /// assert_eq!(map.purpose("analytics_storage"), Some("cookies-analytics"));
    /// assert_eq!(map.purpose("ad_user_data"), None); // not mapped: always denied
    /// assert_eq!(ConsentModeMap::parse("cookies=on"), None); // not a Consent Mode type
    /// ```
    pub fn parse(text: &str) -> Option<ConsentModeMap> {
        // One pass over the bytes (a white space byte after the end closes the last pair): smaller in
        // the banner's wasm than `split_ascii_whitespace` and an iterator of pairs.
        let mut ids = [(0, 0); CONSENT_TYPES.len()];
        let mut start = 0;
        for (end, c) in text.bytes().chain([b' ']).enumerate() {
            if !c.is_ascii_whitespace() {
                continue;
            }
            let pair = text.get(start..end)?;
            let pair_start = start;
            start = end + 1;
            if pair.is_empty() {
                continue;
            }
            let eq = pair.bytes().position(|c| c == b'=')?;
            let kind = pair.get(..eq)?;
            let purpose = pair.get(eq + 1..)?;
            let slot = CONSENT_TYPES
                .iter()
                .position(|t| *t == kind)
                .and_then(|k| ids.get_mut(k))?;
            if purpose.is_empty() || purpose.bytes().any(|c| c == b'=') || slot.1 != 0 {
                return None;
            }
            *slot = (pair_start + eq + 1, end);
        }
        Some(ConsentModeMap {
            text: text.to_owned(),
            ids,
        })
    }

    /// The purpose id that grants Consent Mode type `kind`, if the map names one.
    pub fn purpose(&self, kind: &str) -> Option<&str> {
        let k = CONSENT_TYPES.iter().position(|t| *t == kind)?;
        match *self.ids.get(k)? {
            (_, 0) => None,
            (start, end) => self.text.get(start..end),
        }
    }

    /// Whether Consent Mode type `kind` is granted: its purpose is one that `allows` (the purpose ids
    /// the choice lets run). Before any choice (the `default` call, `allows` is `None`) only
    /// `security_storage` is.
    pub fn granted(&self, kind: &str, allows: Option<&dyn Fn(&str) -> bool>) -> bool {
        match allows {
            None => kind == "security_storage",
            Some(allows) => self.purpose(kind).is_some_and(allows),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use consent_core::PurposeSet;

    use super::*;

    // On wasm32 these run in the browser too (`scripts/test`), compiled as the banner is.
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    const ANALYTICS: PurposeSet = PurposeSet::of(12);
    const MARKETING_COOKIES: PurposeSet = PurposeSet::of(13);
    const UNCONDITIONAL: PurposeSet = PurposeSet::of(9).union(PurposeSet::of(10));

    const PURPOSES: [(&str, u8); 5] = [
        ("marketing", 8),
        ("legal-compliance", 9),
        ("cookies-necessary", 10),
        ("cookies-analytics", 12),
        ("cookies-marketing", 13),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn consent_mode_maps_purposes_to_the_seven_types() {
        let map = ConsentModeMap::parse(CONSENT_MODE_DEFAULT).unwrap();
        let mapped = |m: &ConsentModeMap| {
            CONSENT_TYPES
                .iter()
                .filter(|k| m.purpose(k).is_some())
                .count()
        };
        assert_eq!(mapped(&map), 7);
        assert_eq!(map.purpose("security_storage"), Some("cookies-necessary"));
        let on = |granted: Option<PurposeSet>| -> Vec<&str> {
            let allows = |id: &str| {
                PURPOSES
                    .iter()
                    .any(|(p, code)| *p == id && granted.unwrap_or_default().contains(*code))
            };
            CONSENT_TYPES
                .into_iter()
                .filter(|k| {
                    map.granted(
                        k,
                        granted
                            .is_some()
                            .then_some(&allows as &dyn Fn(&str) -> bool),
                    )
                })
                .collect()
        };
        assert_eq!(on(None), ["security_storage"]);
        assert_eq!(on(Some(UNCONDITIONAL)), ["security_storage"]);
        assert_eq!(
            on(Some(UNCONDITIONAL | ANALYTICS)),
            ["analytics_storage", "security_storage"]
        );
        assert_eq!(
            on(Some(UNCONDITIONAL | MARKETING_COOKIES)),
            [
                "ad_storage",
                "ad_user_data",
                "ad_personalization",
                "security_storage"
            ]
        );
        let custom =
            ConsentModeMap::parse(" analytics_storage=cookies-marketing\nad_storage=marketing ")
                .unwrap();
        assert!(custom.granted("ad_storage", Some(&|id: &str| id == "marketing")));
        assert!(
            !custom.granted("security_storage", Some(&|_: &str| true)),
            "not mapped: denied"
        );
        for bad in [
            "ad_storage",
            "ad_storage=",
            "cookies=x",
            "ad_storage=a ad_storage=b",
            "ad_storage=a=b",
        ] {
            assert_eq!(ConsentModeMap::parse(bad), None, "{bad}");
        }
        assert_eq!(ConsentModeMap::parse("").map(|m| mapped(&m)), Some(0));
    }
}
