//! The policy as the banner needs it, read from the server's canonical JSON (`GET /v1/policy`) with the
//! browser's own `JSON.parse`: no JSON library in the banner.

use consent_core::PolicyVersion;
use js_sys::{Array, JsString, Reflect};
use wasm_bindgen::prelude::*;

use crate::logic::Purpose;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` on a JS string, without copying it through Rust.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub(crate) fn json_parse(text: &JsString) -> Result<JsValue, JsValue>;
}

/// An error the banner reports (as a rejected promise of `boot`, visible in the console).
pub(crate) fn error(message: &'static str) -> JsValue {
    JsValue::from_str(message)
}

pub(crate) fn field(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn string(object: &JsValue, key: &str) -> Option<String> {
    field(object, key).as_string()
}

pub(crate) fn strings(object: &JsValue, key: &str) -> Vec<String> {
    field(object, key)
        .dyn_into::<Array>()
        .map(|a| a.iter().filter_map(|v| v.as_string()).collect())
        .unwrap_or_default()
}

/// A text in `lang`, else in `fallback`.
fn text(texts: &JsValue, key: &str, lang: &str, fallback: &str) -> String {
    let t = field(texts, key);
    string(&t, lang)
        .or_else(|| string(&t, fallback))
        .unwrap_or_default()
}

/// The parts of a policy the banner uses.
#[derive(Clone, Debug)]
pub struct PolicyView {
    /// The version, as written (`2025-03-26`).
    pub version_text: String,
    /// The version.
    pub version: PolicyVersion,
    /// The language of the texts below, chosen with [`crate::logic::pick_language`].
    pub language: String,
    /// How long a choice lasts, in months.
    pub validity_months: u32,
    /// Every purpose, in the policy's order.
    pub purposes: Vec<Purpose>,
    /// The cookies the policy declares for each cookie purpose: (purpose id, cookie name or pattern
    /// with `*`), from its `cookie_categories`.
    pub cookies: Vec<(String, String)>,
}

impl PolicyView {
    /// Reads a parsed canonical policy, with texts in the first of `languages` (the page's, then the
    /// browser's) that the policy and the banner both have, else in the policy's default
    /// ([`crate::logic::pick_language`]).
    pub fn from_json(json: &JsValue, languages: &[String]) -> Result<PolicyView, JsValue> {
        let bad = || error("consent banner: the policy is not valid");
        let version_text = string(json, "version").ok_or_else(bad)?;
        let version: PolicyVersion = version_text.parse().map_err(|_| bad())?;
        let default = string(json, "default_language").ok_or_else(bad)?;
        let language = crate::logic::pick_language(
            languages.iter().map(String::as_str),
            &strings(json, "languages"),
            &default,
        );
        let validity_months = field(json, "choice_validity_months")
            .as_f64()
            .filter(|m| (1.0..=120.0).contains(m))
            .map_or(6, |m| m as u32);
        let list = field(json, "purposes")
            .dyn_into::<Array>()
            .map_err(|_| bad())?;
        let categories = field(json, "cookie_categories")
            .dyn_into::<Array>()
            .unwrap_or_default();
        let mut purposes = Vec::new();
        let mut cookies = Vec::new();
        for p in list.iter() {
            let id = string(&p, "id").ok_or_else(bad)?;
            if let Some(category) = string(&p, "cookie_category") {
                for c in categories.iter() {
                    if string(&c, "id").as_deref() != Some(&category) {
                        continue;
                    }
                    if let Ok(list) = field(&c, "cookies").dyn_into::<Array>() {
                        for cookie in list.iter() {
                            if let Some(name) =
                                string(&cookie, "name").or_else(|| string(&cookie, "pattern"))
                            {
                                cookies.push((id.clone(), name));
                            }
                        }
                    }
                }
            }
            let code = field(&p, "code")
                .as_f64()
                .filter(|c| (0.0..64.0).contains(c) && c.fract() == 0.0)
                .ok_or_else(bad)? as u8;
            let changed_in = string(&p, "changed_in")
                .and_then(|v| v.parse().ok())
                .unwrap_or(version);
            let needs_consent = string(&p, "legal_basis").as_deref() == Some("consent")
                && string(&p, "cookie_category").as_deref() != Some("necessary");
            let texts = field(&p, "texts");
            purposes.push(Purpose {
                title: text(&texts, "title", &language, &default),
                description: text(&texts, "description", &language, &default),
                id,
                code,
                needs_consent,
                changed_in,
            });
        }
        Ok(PolicyView {
            version_text,
            version,
            language,
            validity_months,
            purposes,
            cookies,
        })
    }
}
