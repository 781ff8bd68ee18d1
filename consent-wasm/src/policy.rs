//! The policy as the banner needs it, read from the server's canonical JSON: the current policy's
//! banner view in one language (`GET /v1/policy/banner/{lang}`) or a token's version in full
//! (`GET /v1/policies/{version}`), which the browser parses (`Response.json()`): no JSON library in the banner. What the banner computes with
//! is parsed here, once, into consent-core's types: each purpose's id and code, the version, the
//! language, and the three sets of purposes the choice logic takes ([`PurposeScope`]).

use alloc::string::String;
use alloc::vec::Vec;

use consent_core::{Lang, PolicyVersion, PurposeId, PurposeScope, PurposeSet};
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::dom::{get, string};
use crate::logic::pick_language;

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

/// Where a purpose of the policy is, for the banner: its id and code (the page names purposes by id,
/// the token and the choice logic by code) and when its meaning last changed. Everything else about it
/// is in the policy's JSON ([`Texts::json`]) or in the view's [`PurposeScope`].
#[derive(Clone, Debug)]
pub struct PurposeEntry {
    /// The purpose's stable id, parsed: what requests record.
    pub id: PurposeId,
    /// The same id as the policy writes it, for the page (`data-consent="…"`, the API's lists of ids):
    /// kept as read, so that the page side needs no conversion back from [`PurposeId`].
    pub id_text: String,
    /// Its stable code, its bit in the consent token and in [`PurposeSet`]s.
    pub code: u8,
    /// The policy version in which its meaning last changed.
    pub changed_in: PolicyVersion,
}

/// The words of a policy in one language, and what the dialog's first layer writes beside them (the
/// version, the languages for the switcher): what the first visit's part reads to paint the first
/// layer (`first.rs`), and the part of a [`PolicyView`] the full banner writes the same layer from.
#[derive(Clone, Debug)]
pub struct Texts {
    /// The parsed canonical JSON (the banner's texts, the cookie tables and titles are read from it when
    /// shown).
    pub json: JsValue,
    /// The version.
    pub version: PolicyVersion,
    /// The languages of the policy.
    pub languages: Vec<String>,
    /// The default language.
    pub default_language: String,
    /// The language of the texts, chosen with [`pick_language`].
    pub language: String,
}

impl Texts {
    /// Reads the texts of a parsed canonical policy in the first of `languages` (the page's, then the
    /// browser's) that the policy and the banner both have, else in the policy's default; or of a
    /// banner view, whose texts are in its `language` only. `None` when the version does not parse or
    /// the default language is missing.
    pub fn from_json(json: &JsValue, languages: &[String]) -> Option<Texts> {
        let version: PolicyVersion = string(json, "version")?.parse().ok()?;
        let default_language = string(json, "default_language")?;
        let policy_languages = strings(json, "languages");
        let language = string(json, "language").unwrap_or_else(|| {
            pick_language(
                languages.iter().map(String::as_str),
                &policy_languages,
                &default_language,
            )
        });
        Some(Texts {
            json: json.clone(),
            version,
            languages: policy_languages,
            default_language,
            language,
        })
    }

    /// One of the banner's texts (the policy's `banner` table, e.g. `accept-all`) in the texts'
    /// language, as a JS string (`undefined` if the policy has none, which shows as nothing).
    pub fn ui(&self, key: &str) -> JsValue {
        self.text(&get(&get(&self.json, "banner"), key))
    }

    /// A text object of the policy (`{"kk": …, "ru": …, "en": …}`: `title`, a cookie's `purpose`…) in the
    /// texts' language, else in the default language, as a JS string.
    pub(crate) fn text(&self, texts: &JsValue) -> JsValue {
        let t = get(texts, &self.language);
        if t.is_string() {
            t
        } else {
            get(texts, &self.default_language)
        }
    }
}

/// The parts of a policy the banner uses, with texts in one language: its [`Texts`] (which it derefs
/// to: `view.language`, `view.ui("title")`), and what the choice logic computes with.
#[derive(Clone, Debug)]
pub struct PolicyView {
    /// The words, the version and the languages.
    pub texts: Texts,
    /// The language of the texts, as the request records it.
    pub lang: Lang,
    /// How long a choice lasts, in months.
    pub validity_months: u32,
    /// Every purpose, in the policy's order.
    pub purposes: Vec<PurposeEntry>,
    /// The purposes the banner asks for, those that need no consent and the marketing ones: what the
    /// choice logic decides with. The banner asks only for the purposes whose `collection_points` list
    /// `banner` (`PurposeScope::at`, read from the JSON).
    pub scope: PurposeScope,
    /// The purposes the banner's second layer shows: those whose `collection_points` list `banner`
    /// (asked, or always on).
    pub shown: PurposeSet,
    /// The cookies the policy declares for each cookie purpose: (purpose code, cookie name or pattern
    /// with `*`), from its `cookie_categories`.
    pub cookies: Vec<(u8, String)>,
}

impl core::ops::Deref for PolicyView {
    type Target = Texts;

    fn deref(&self) -> &Texts {
        &self.texts
    }
}

impl PolicyView {
    /// Reads a parsed canonical policy, with texts in the first of `languages` (the page's, then the
    /// browser's) that the policy and the banner both have, else in the policy's default; or a banner
    /// view, whose texts are in its `language` only. `None` when a value the banner computes with does
    /// not parse.
    pub fn from_json(json: &JsValue, languages: &[String]) -> Option<PolicyView> {
        let texts = Texts::from_json(json, languages)?;
        let validity_months = get(json, "choice_validity_months")
            .as_f64()
            .filter(|m| (1.0..=120.0).contains(m))
            .map_or(6, |m| m as u32);
        let mut view = PolicyView {
            lang: texts.language.parse().ok()?,
            texts,
            validity_months,
            purposes: Vec::new(),
            scope: PurposeScope::default(),
            shown: PurposeSet::EMPTY,
            cookies: Vec::new(),
        };
        for p in array(json, "purposes").iter() {
            let code = get(&p, "code")
                .as_f64()
                .filter(|c| (0.0..64.0).contains(c) && *c == f64::from(*c as u8))?
                as u8;
            let id_text = string(&p, "id")?;
            let id: PurposeId = id_text.parse().ok()?;
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
                .unwrap_or(view.version);
            // `Purpose::needs_consent`, `Purpose::collected_at(Banner)` and the marketing purposes of
            // `PurposeScope::at(policy, Banner)`, read from the JSON.
            let at_banner = strings(&p, "collection_points")
                .iter()
                .any(|k| k == "banner");
            if at_banner {
                view.shown.insert(code);
            }
            // A purpose outside the banner's collection point is in no set: never the banner's to
            // decide, never granted by it, whether it needs consent (asked in a form, the API) or not
            // (`legal-compliance`), except the cookie purposes that need none (the necessary cookies).
            // The same purposes as a banner view carries (`Policy::banner_view_purposes`), so the
            // banner grants the same whether it read a view or a full policy.
            let kind = string(&p, "kind");
            let scope = &mut view.scope;
            if string(&p, "legal_basis").as_deref() != Some("consent")
                || category.as_deref() == Some("necessary")
            {
                if at_banner || kind.as_deref() == Some("cookies") {
                    scope.unconditional.insert(code);
                }
            } else if at_banner {
                scope.asked.insert(code);
                if kind.as_deref() == Some("marketing") || category.as_deref() == Some("marketing")
                {
                    scope.marketing.insert(code);
                }
            }
            view.purposes.push(PurposeEntry {
                id,
                id_text,
                code,
                changed_in,
            });
        }
        Some(view)
    }

    /// The purpose with `id`.
    pub fn purpose(&self, id: &str) -> Option<&PurposeEntry> {
        self.purposes.iter().find(|p| p.id_text == id)
    }

    /// The purposes whose meaning changed after `version` (a consent given under it needs renewal).
    pub fn changed_since(&self, version: PolicyVersion) -> PurposeSet {
        let mut set = PurposeSet::EMPTY;
        for p in &self.purposes {
            if p.changed_in > version {
                set.insert(p.code);
            }
        }
        set
    }

    /// The ids of the purposes in `set`, in the policy's order, as a JS array.
    #[cfg(feature = "full")]
    pub(crate) fn ids(&self, set: PurposeSet) -> Array {
        let out = Array::new();
        for p in &self.purposes {
            if set.contains(p.code) {
                out.push(&JsValue::from_str(&p.id_text));
            }
        }
        out
    }

    #[cfg(any(feature = "full", feature = "visit"))]
    /// The canonical JSON of each purpose, in the order of [`PolicyView::purposes`].
    pub(crate) fn purposes_json(&self) -> Array {
        array(&self.json, "purposes")
    }

    #[cfg(any(feature = "full", feature = "visit"))]
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

    #[cfg(any(feature = "full", feature = "visit"))]
    /// A purpose's `title` or `description` (from its canonical JSON) in the view's language.
    pub(crate) fn purpose_text(&self, purpose: &JsValue, key: &str) -> JsValue {
        self.text(&get(&get(purpose, "texts"), key))
    }
}
