//! What a consent token's purpose codes mean on this site, kept for the return visit's first part.
//!
//! The token holds purpose codes; the page names purposes by id, and what a token grants here depends
//! on the banner's scope (the purposes that need no consent, those the banner asks for, the marketing
//! ones: core's [`PurposeScope`]). The full banner reads them from a policy (`PolicyView`); whenever
//! it holds the policy of its token's version (a return visit, a recorded choice) it keeps them in
//! `localStorage` (`consent-purposes`, beside the other entries of the consent record): the version,
//! and for each purpose of the scope its id, code and part of the scope. The return visit's part reads
//! that entry instead of a policy: a token of the same version maps with it, without a request and
//! without a policy reader in its wasm. Anything else (no entry, another version, an entry it cannot
//! read) goes to the full banner, which reads the token's policy and writes the entry again. Derived
//! from the policy by the same reader and core's scope, written and read only here.
//!
//! The entry: the version, then one `id:code:part` per purpose, separated by spaces, where `part` is `u`
//! (needs no consent), `a` (asked) or `m` (asked, marketing):
//! `2025-03-26 cookies-necessary:0:u cookies-analytics:2:a cookies-marketing:3:m`.

use alloc::string::String;
use alloc::vec::Vec;

#[cfg(any(feature = "visit", test))]
use consent_core::PurposeSet;
use consent_core::{PolicyVersion, PurposeScope};

use crate::logic::{parts, push_u64};
#[cfg(feature = "full")]
use crate::policy::PolicyView;

/// The `localStorage` key of the entry (strictly necessary: it says what the consent token grants).
pub const MAP_KEY: &str = "consent-purposes";

/// The banner's purposes of one policy version: their ids by code, and the scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurposeMap<'a> {
    /// The policy version.
    pub version: PolicyVersion,
    /// The purposes that need no consent, those asked, and the marketing ones.
    pub scope: PurposeScope,
    /// Each purpose of the scope: its code and id, in the policy's order.
    pub ids: Vec<(u8, &'a str)>,
}

impl<'a> PurposeMap<'a> {
    /// The entry's text.
    ///
    /// ```
    /// use consent_core::{PurposeScope, PurposeSet};
    /// use consent_wasm::purpose_map::PurposeMap;
    /// let map = PurposeMap {
    ///     version: "2025-03-26".parse().unwrap(),
    ///     scope: PurposeScope {
    ///         unconditional: PurposeSet::of(0),
    ///         asked: PurposeSet::from_codes([2, 3]),
    ///         marketing: PurposeSet::of(3),
    ///     },
    ///     ids: vec![(0, "cookies-necessary".into()), (2, "cookies-analytics".into()), (3, "cookies-marketing".into())],
    /// };
    /// let text = map.encode();
    /// assert_eq!(text, "2025-03-26 cookies-necessary:0:u cookies-analytics:2:a cookies-marketing:3:m");
    /// assert_eq!(PurposeMap::decode(&text), Some(map));
    /// ```
    pub fn encode(&self) -> String {
        let mut out = self.version.text();
        for (code, id) in &self.ids {
            out.push(' ');
            out.push_str(id);
            out.push(':');
            push_u64(&mut out, u64::from(*code), 1);
            out.push_str(if self.scope.marketing.contains(*code) {
                ":m"
            } else if self.scope.asked.contains(*code) {
                ":a"
            } else {
                ":u"
            });
        }
        out
    }

    /// Reads an entry's text; `None` if anything in it does not parse.
    pub fn decode(text: &'a str) -> Option<PurposeMap<'a>> {
        let mut items = parts(text, b' ');
        let version = items.next()?.parse().ok()?;
        let mut map = PurposeMap {
            version,
            scope: PurposeScope::default(),
            ids: Vec::new(),
        };
        for item in items {
            let mut fields = parts(item, b':');
            let (Some(id), Some(code), Some(part), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            if id.is_empty() {
                return None;
            }
            let code = code
                .bytes()
                .try_fold(0u32, |n, d| {
                    (d.is_ascii_digit() && n < 64).then(|| n * 10 + u32::from(d - b'0'))
                })
                .filter(|c| *c < 64 && !code.is_empty())? as u8;
            let scope = &mut map.scope;
            match part {
                "u" => scope.unconditional.insert(code),
                "a" => scope.asked.insert(code),
                "m" => {
                    scope.asked.insert(code);
                    scope.marketing.insert(code);
                }
                _ => return None,
            }
            map.ids.push((code, id));
        }
        Some(map)
    }

    /// The ids of the purposes in `set`, in the policy's order, as a JS array.
    #[cfg(feature = "visit")]
    pub(crate) fn ids(&self, set: PurposeSet) -> js_sys::Array {
        let out = js_sys::Array::new();
        for (code, id) in &self.ids {
            if set.contains(*code) {
                out.push(&wasm_bindgen::JsValue::from_str(id));
            }
        }
        out
    }

    /// The map of a policy: the purposes of its banner scope ([`PolicyView::scope`]).
    #[cfg(feature = "full")]
    pub(crate) fn of(policy: &'a PolicyView) -> PurposeMap<'a> {
        let scope = policy.scope;
        let ids = policy
            .purposes
            .iter()
            .filter(|p| (scope.unconditional | scope.asked).contains(p.code))
            .map(|p| (p.code, p.id_text.as_str()))
            .collect();
        PurposeMap {
            version: policy.version,
            scope,
            ids,
        }
    }
}

/// Keeps the map of `policy` (the policy of the token the banner holds).
#[cfg(feature = "full")]
pub(crate) fn keep(policy: &PolicyView) {
    if let Some(s) = crate::dom::storage() {
        let _ = s.set_item(MAP_KEY, &PurposeMap::of(policy).encode());
    }
}

/// The kept map's entry, if there is one ([`PurposeMap::decode`] reads it; the ids stay in its text).
#[cfg(feature = "visit")]
pub(crate) fn kept() -> Option<String> {
    crate::dom::stored(MAP_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn an_entry_reads_back_as_written() {
        let map = PurposeMap {
            version: "2026-06-01".parse().unwrap(),
            scope: PurposeScope {
                unconditional: PurposeSet::from_codes([0, 40]),
                asked: PurposeSet::from_codes([1, 63]),
                marketing: PurposeSet::of(63),
            },
            ids: std::vec![
                (0, "cookies-necessary"),
                (1, "cookies-preferences"),
                (40, "legal-compliance"),
                (63, "cookies-marketing"),
            ],
        };
        assert_eq!(PurposeMap::decode(&map.encode()), Some(map));
        let empty = PurposeMap {
            version: "2026-06-01".parse().unwrap(),
            scope: PurposeScope::default(),
            ids: std::vec::Vec::new(),
        };
        assert_eq!(empty.encode(), "2026-06-01");
        assert_eq!(PurposeMap::decode("2026-06-01"), Some(empty));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_damaged_entry_reads_as_none() {
        for text in [
            "",
            "2026-13-01 a:1:u",
            "2026-06-01 a:1",
            "2026-06-01 a:1:u:x",
            "2026-06-01 a:64:u",
            "2026-06-01 a:999999999999:u",
            "2026-06-01 a::u",
            "2026-06-01 a:-1:u",
            "2026-06-01 a:1:x",
            "2026-06-01  a:1:u",
            "2026-06-01 :1:u",
        ] {
            assert_eq!(PurposeMap::decode(text), None, "{text:?}");
        }
    }
}
