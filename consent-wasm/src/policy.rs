//! The policy as the banner needs it, read from the server's canonical JSON (`GET /v1/policy`), which
//! the browser parses (`Response.json()`): no JSON library in the banner.

use alloc::string::String;
use alloc::vec::Vec;

use consent_core::PolicyVersion;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::dom::{get, string};
use crate::logic::{Purpose, pick_language};

/// `object[key]` as an array (empty when it is not one).
pub(crate) fn array(object: &JsValue, key: &str) -> Array {
    get(object, key).dyn_into::<Array>().unwrap_or_default()
}

/// The strings of `object[key]`, an array (others are skipped).
pub(crate) fn strings(object: &JsValue, key: &str) -> Vec<String> {
    array(object, key)
        .iter()
        .filter_map(|v| v.as_string())
        .collect()
}

/// The parts of a policy the banner uses, with texts in one language.
#[derive(Clone, Debug)]
pub struct PolicyView {
    /// The parsed canonical JSON (the cookie tables and titles are read from it when shown).
    pub json: JsValue,
    /// The version, as written (`2025-03-26`).
    pub version_text: String,
    /// The version.
    pub version: PolicyVersion,
    /// The languages of the policy.
    pub languages: Vec<String>,
    /// The default language.
    pub default_language: String,
    /// The language of the texts below, chosen with [`pick_language`].
    pub language: String,
    /// How long a choice lasts, in months.
    pub validity_months: u32,
    /// Every purpose, in the policy's order.
    pub purposes: Vec<Purpose>,
    /// The cookies the policy declares for each cookie purpose: (purpose code, cookie name or pattern
    /// with `*`), from its `cookie_categories`.
    pub cookies: Vec<(u8, String)>,
}

impl PolicyView {
    /// Reads a parsed canonical policy, with texts in the first of `languages` (the page's, then the
    /// browser's) that the policy and the banner both have, else in the policy's default.
    pub fn from_json(json: &JsValue, languages: &[String]) -> Option<PolicyView> {
        let version_text = string(json, "version")?;
        let version: PolicyVersion = version_text.parse().ok()?;
        let default_language = string(json, "default_language")?;
        let policy_languages = strings(json, "languages");
        let language = pick_language(
            languages.iter().map(String::as_str),
            &policy_languages,
            &default_language,
        );
        let validity_months = get(json, "choice_validity_months")
            .as_f64()
            .filter(|m| (1.0..=120.0).contains(m))
            .map_or(6, |m| m as u32);
        let mut view = PolicyView {
            json: json.clone(),
            version_text,
            version,
            languages: policy_languages,
            default_language,
            language,
            validity_months,
            purposes: Vec::new(),
            cookies: Vec::new(),
        };
        for p in array(json, "purposes").iter() {
            let id = string(&p, "id")?;
            let code = get(&p, "code")
                .as_f64()
                .filter(|c| (0.0..64.0).contains(c) && *c == f64::from(*c as u8))?
                as u8;
            let category = string(&p, "cookie_category");
            if let Some(c) = view.category(&p) {
                for cookie in array(&c, "cookies").iter() {
                    if let Some(name) =
                        string(&cookie, "name").or_else(|| string(&cookie, "pattern"))
                    {
                        view.cookies.push((code, name));
                    }
                }
            }
            let changed_in = string(&p, "changed_in")
                .and_then(|v| v.parse().ok())
                .unwrap_or(version);
            let needs_consent = string(&p, "legal_basis").as_deref() == Some("consent")
                && category.as_deref() != Some("necessary");
            let marketing = string(&p, "kind").as_deref() == Some("marketing")
                || category.as_deref() == Some("marketing");
            view.purposes.push(Purpose {
                id,
                code,
                needs_consent,
                marketing,
                changed_in,
            });
        }
        Some(view)
    }
    /// The purpose with `id`.
    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id == id)
    }

    /// The canonical JSON of each purpose, in the order of [`PolicyView::purposes`].
    pub(crate) fn purposes_json(&self) -> Array {
        array(&self.json, "purposes")
    }

    /// The canonical JSON of purpose `id`.
    pub(crate) fn purpose_json(&self, id: &str) -> Option<JsValue> {
        self.purposes_json()
            .iter()
            .find(|p| string(p, "id").as_deref() == Some(id))
    }

    /// The cookie category object (canonical JSON) of a purpose (its canonical JSON), if it is a cookie
    /// purpose.
    pub(crate) fn category(&self, purpose: &JsValue) -> Option<JsValue> {
        let category = string(purpose, "cookie_category")?;
        array(&self.json, "cookie_categories")
            .iter()
            .find(|c| string(c, "id").as_ref() == Some(&category))
    }

    /// A purpose's `title` or `description` (from its canonical JSON) in the view's language.
    pub(crate) fn purpose_text(&self, purpose: &JsValue, key: &str) -> JsValue {
        self.text(&get(&get(purpose, "texts"), key))
    }

    /// One of the banner's texts (the policy's `banner` table, e.g. `accept-all`) in the view's
    /// language, as a JS string (`undefined` if the policy has none, which shows as nothing).
    pub fn ui(&self, key: &str) -> JsValue {
        self.text(&get(&get(&self.json, "banner"), key))
    }

    /// A text object of the policy (`{"kk": …, "ru": …, "en": …}`: `title`, a cookie's `purpose`…) in the
    /// view's language, else in the default language, as a JS string.
    pub(crate) fn text(&self, texts: &JsValue) -> JsValue {
        let t = get(texts, &self.language);
        if t.is_string() {
            t
        } else {
            get(texts, &self.default_language)
        }
    }
}
