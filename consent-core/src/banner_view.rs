//! The banner view of a policy: what the cookie banner reads, in one language, with the full policy's
//! hash (`spec/POLICY.md`, "Banner view"). A first visit fetches this instead of the whole canonical
//! policy (a quarter of its bytes); receipts still bind the full policy, whose hash the view carries.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::canonical::{Json, Obj};
use crate::policy::purpose_head;
use crate::{CollectionKind, Lang, Policy, Purpose, PurposeKind, PurposeSet, Texts};

impl Policy {
    /// The banner view's format number (its `view` member).
    pub const BANNER_VIEW_FORMAT: i64 = 1;

    /// The language a banner view asked for in `lang` is written in: `lang` when the policy declares
    /// it, else the policy's default language.
    ///
    /// ```
    /// use consent_core::{Lang, Policy};
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// assert_eq!(policy.banner_view_language(Lang::RU), Lang::RU);
    /// assert_eq!(policy.banner_view_language("de".parse()?), policy.default_language());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn banner_view_language(&self, lang: Lang) -> Lang {
        if self.languages.contains(&lang) {
            lang
        } else {
            self.default_language
        }
    }

    /// The codes of the purposes a banner view carries: those of the banner's collection point
    /// ([`Policy::purposes_at`]: asked, or shown as always on), and the cookie purposes that need no
    /// consent (the necessary cookies: they always run, and their cookies are declared), whether or not
    /// the banner shows them.
    ///
    /// ```
    /// use consent_core::{CollectionKind, Policy};
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// let codes = policy.banner_view_purposes();
    /// assert_eq!(codes, policy.purposes_at(CollectionKind::Banner), "the four cookie purposes");
    /// assert!(!codes.contains(policy.purpose_by_str("marketing").unwrap().code), "asked in forms");
    /// # Ok::<(), consent_core::PolicyError>(())
    /// ```
    pub fn banner_view_purposes(&self) -> PurposeSet {
        self.purposes
            .iter()
            .filter(|p| in_banner_view(p))
            .map(|p| p.code)
            .collect()
    }

    /// The banner view in `lang` (see [`Policy::banner_view_language`]), as canonical JSON: the members
    /// of the canonical policy the banner reads (`id`, `version`, `url`, `title`, `languages`,
    /// `default_language`, `choice_validity_months`, `banner`; of the purposes of
    /// [`Policy::banner_view_purposes`], each one's `id`, `code`, `collection_points`, `kind`,
    /// `legal_basis`, `changed_in`, `cookie_category` and `texts`; the cookie categories of those
    /// purposes with their cookies), spelled as there, with every text object holding one language
    /// only, plus `view` (the format), `language` and `policy_sha256` (the full policy's hash, which
    /// receipts bind).
    ///
    /// ```
    /// use consent_core::{Lang, Policy};
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// let view = policy.banner_view(Lang::EN);
    /// assert!(view.contains(&format!("\"policy_sha256\":\"{}\"", policy.hash())));
    /// assert!(view.contains("\"accept-all\":{\"en\":\"Accept all\"}"));
    /// assert!(!view.contains("Принять все"));
    /// assert!(!view.contains("\"id\":\"transfer-abroad\""), "asked in forms, not by the banner");
    /// assert!(view.len() * 4 < policy.canonical_json().len());
    /// # Ok::<(), consent_core::PolicyError>(())
    /// ```
    pub fn banner_view(&self, lang: Lang) -> String {
        let lang = self.banner_view_language(lang);
        let one = |t: &Texts| one_language(t, lang, self.default_language);
        let purposes = self.purposes.iter().filter(|p| in_banner_view(p));
        let view: Json = Obj::new()
            .set("view", Json::Int(Policy::BANNER_VIEW_FORMAT))
            .set("id", self.id.as_str())
            .set("version", self.version.to_string())
            .set("policy_sha256", self.hash.to_string())
            .set("url", self.url.as_str())
            .set("title", one(&self.title))
            .set(
                "languages",
                self.languages
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>(),
            )
            .set("default_language", self.default_language.as_str())
            .set("language", lang.as_str())
            .set("choice_validity_months", self.choice_validity_months)
            .set(
                "purposes",
                Json::Arr(
                    purposes
                        .clone()
                        .map(|p| {
                            purpose_head(p)
                                .set("changed_in", p.changed_in.to_string())
                                .set_opt("cookie_category", p.cookie_category.map(|c| c.as_str()))
                                .set_opt(
                                    "texts",
                                    p.texts.as_ref().map(|t| {
                                        Obj::new()
                                            .set("title", one(&t.title))
                                            .set("description", one(&t.description))
                                    }),
                                )
                                .into()
                        })
                        .collect(),
                ),
            )
            .set(
                "cookie_categories",
                Json::Arr(
                    self.cookie_categories
                        .iter()
                        .filter(|c| {
                            purposes
                                .clone()
                                .any(|p| p.cookie_category.as_ref() == Some(&c.id))
                        })
                        .map(|c| {
                            Obj::new()
                                .set("id", c.id.as_str())
                                .set("name", one(&c.name))
                                .set("description", one(&c.description))
                                .set(
                                    "cookies",
                                    Json::Arr(
                                        c.cookies
                                            .iter()
                                            .map(|k| {
                                                Obj::new()
                                                    .set(
                                                        if k.is_pattern {
                                                            "pattern"
                                                        } else {
                                                            "name"
                                                        },
                                                        k.name.as_str(),
                                                    )
                                                    .set("provider", k.provider.as_str())
                                                    .set("lifetime", k.lifetime.to_string())
                                                    .set("purpose", one(&k.purpose))
                                                    .into()
                                            })
                                            .collect(),
                                    ),
                                )
                                .into()
                        })
                        .collect(),
                ),
            )
            .set_opt(
                "banner",
                self.banner.as_ref().map(|b| {
                    b.iter()
                        .fold(Obj::new(), |o, (name, texts)| o.set(name, one(texts)))
                }),
            )
            .into();
        let mut out = String::with_capacity(8 * 1024);
        view.write(&mut out);
        out
    }
}

/// Whether a banner view carries purpose `p` ([`Policy::banner_view_purposes`]).
fn in_banner_view(p: &Purpose) -> bool {
    p.collected_at(CollectionKind::Banner) || (p.kind == PurposeKind::Cookies && !p.needs_consent())
}

/// A text object with one entry: the text in `lang`, else in `fallback` (keyed by the language it is
/// written in, so that a reader falling back to the default language finds it).
fn one_language(texts: &Texts, lang: Lang, fallback: Lang) -> Json {
    let (l, s) = texts
        .iter()
        .find(|(l, _)| *l == lang)
        .or_else(|| texts.iter().find(|(l, _)| *l == fallback))
        .or_else(|| texts.iter().next())
        .unwrap_or((lang, ""));
    Obj::new().set(l.as_str(), s).into()
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;
    use serde_json::Value;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
    }

    /// Every text object of `v` (an object whose keys are all language codes of the policy).
    fn text_objects<'a>(
        v: &'a Value,
        langs: &[&str],
        out: &mut Vec<&'a serde_json::Map<String, Value>>,
    ) {
        match v {
            Value::Object(m) => {
                if !m.is_empty() && m.keys().all(|k| langs.contains(&k.as_str())) {
                    out.push(m);
                } else {
                    m.values().for_each(|x| text_objects(x, langs, out));
                }
            }
            Value::Array(a) => a.iter().for_each(|x| text_objects(x, langs, out)),
            _ => {}
        }
    }

    #[test]
    fn each_text_is_the_policys_in_one_language() {
        let policy = policy();
        let full: Value = serde_json::from_str(&policy.canonical_json()).unwrap();
        for lang in [Lang::KK, Lang::RU, Lang::EN] {
            let view: Value = serde_json::from_str(&policy.banner_view(lang)).unwrap();
            assert_eq!(view["language"], lang.as_str());
            assert_eq!(view["policy_sha256"], policy.hash().to_string());
            assert_eq!(view["view"], 1);
            let mut texts = Vec::new();
            text_objects(&view, &["kk", "ru", "en"], &mut texts);
            assert!(texts.len() > 40, "{}", texts.len());
            for t in texts {
                assert_eq!(t.keys().collect::<Vec<_>>(), [lang.as_str()]);
            }
            // The members the banner reads are the full policy's, spelled the same.
            for key in [
                "id",
                "version",
                "url",
                "languages",
                "default_language",
                "choice_validity_months",
            ] {
                assert_eq!(view[key], full[key], "{key}");
            }
            assert_eq!(view["title"][lang.as_str()], full["title"][lang.as_str()]);
            // The purposes of the banner's collection point (and the necessary cookies), in order.
            let in_view: Vec<&Value> = full["purposes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| {
                    p["collection_points"]
                        .as_array()
                        .unwrap()
                        .contains(&"banner".into())
                        || p["cookie_category"] == "necessary"
                })
                .collect();
            let purposes = view["purposes"].as_array().unwrap();
            assert_eq!(purposes.len(), 4);
            assert_eq!(purposes.len(), in_view.len());
            for (v, f) in purposes.iter().zip(&in_view) {
                for key in [
                    "id",
                    "code",
                    "collection_points",
                    "kind",
                    "legal_basis",
                    "changed_in",
                    "cookie_category",
                ] {
                    assert_eq!(v[key], f[key], "{key}");
                }
                for key in ["title", "description"] {
                    assert_eq!(
                        v["texts"][key][lang.as_str()],
                        f["texts"][key][lang.as_str()]
                    );
                }
            }
            // The cookie categories of those purposes (all four, for invisionu), in order.
            let categories: Vec<&Value> = full["cookie_categories"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| in_view.iter().any(|p| p["cookie_category"] == c["id"]))
                .collect();
            assert_eq!(
                view["cookie_categories"].as_array().unwrap().len(),
                categories.len()
            );
            for (v, f) in view["cookie_categories"]
                .as_array()
                .unwrap()
                .iter()
                .zip(categories)
            {
                assert_eq!(v["id"], f["id"]);
                assert_eq!(
                    v["cookies"].as_array().unwrap().len(),
                    f["cookies"].as_array().unwrap().len()
                );
                for (vc, fc) in v["cookies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(f["cookies"].as_array().unwrap())
                {
                    for key in ["name", "pattern", "provider", "lifetime"] {
                        assert_eq!(vc.get(key), fc.get(key), "{key}");
                    }
                    assert_eq!(vc["purpose"][lang.as_str()], fc["purpose"][lang.as_str()]);
                }
            }
            for (key, text) in view["banner"].as_object().unwrap() {
                assert_eq!(
                    text[lang.as_str()],
                    full["banner"][key][lang.as_str()],
                    "{key}"
                );
            }
            assert_eq!(
                view["banner"].as_object().unwrap().len(),
                crate::BANNER_TEXTS.len()
            );
        }
    }

    #[test]
    fn is_canonical_and_small() {
        let policy = policy();
        let view = policy.banner_view(Lang::KK);
        let value: Value = serde_json::from_str(&view).unwrap();
        // serde_json's map is ordered by key: written back without whitespace, it is the same bytes.
        assert_eq!(serde_json::to_string(&value).unwrap(), view);
        assert_eq!(view, policy.banner_view(Lang::KK));
        assert!(
            view.len() * 3 < policy.canonical_json().len(),
            "{}",
            view.len()
        );
    }

    #[test]
    fn carries_the_banners_purposes_and_the_necessary_cookies_only() {
        let src = include_str!("../../examples/invisionu/policy.toml");
        let policy = policy();
        let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
        let ids = |view: &str| -> Vec<String> {
            let v: Value = serde_json::from_str(view).unwrap();
            v["purposes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let cookies = [
            "cookies-necessary",
            "cookies-preferences",
            "cookies-analytics",
            "cookies-marketing",
        ];
        assert_eq!(ids(&policy.banner_view(Lang::EN)), cookies);
        assert_eq!(
            policy.banner_view_purposes(),
            PurposeSet::from_codes(cookies.map(code))
        );
        // The necessary cookies not shown by the banner (no `collection_points`): still in the view
        // (they run, their cookies are declared), without `banner`, so the banner does not show them.
        let (before, after) = src.split_once("id = \"cookies-necessary\"").unwrap();
        let after = after.replacen("collection_points = [\"banner\"]\n", "", 1);
        let hidden =
            Policy::from_toml(&format!("{before}id = \"cookies-necessary\"{after}")).unwrap();
        assert!(
            !hidden
                .purposes_at(CollectionKind::Banner)
                .contains(code("cookies-necessary"))
        );
        let view: Value = serde_json::from_str(&hidden.banner_view(Lang::EN)).unwrap();
        assert_eq!(view["purposes"][0]["id"], "cookies-necessary");
        assert_eq!(
            view["purposes"][0]["collection_points"],
            serde_json::json!([])
        );
        assert_eq!(view["cookie_categories"].as_array().unwrap().len(), 4);
        // A cookie purpose that needs consent and is asked in forms only: not in the view, nor its
        // category.
        let (before, after) = src.split_once("id = \"cookies-marketing\"").unwrap();
        let after = after.replacen(
            "collection_points = [\"banner\"]",
            "collection_points = [\"form\"]",
            1,
        );
        let elsewhere =
            Policy::from_toml(&format!("{before}id = \"cookies-marketing\"{after}")).unwrap();
        let view: Value = serde_json::from_str(&elsewhere.banner_view(Lang::EN)).unwrap();
        assert_eq!(ids(&elsewhere.banner_view(Lang::EN)), cookies[..3]);
        assert!(
            view["cookie_categories"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["id"] != "marketing")
        );
    }

    #[test]
    fn a_language_the_policy_lacks_gets_the_default() {
        let policy = policy();
        let de: Lang = "de".parse().unwrap();
        assert_eq!(
            policy.banner_view(de),
            policy.banner_view(policy.default_language())
        );
    }

    #[test]
    fn a_missing_text_falls_back_to_the_default_language() {
        let texts = Texts::new(vec![
            (Lang::KK, "kk text".into()),
            (Lang::EN, "en text".into()),
        ]);
        let mut out = String::new();
        one_language(&texts, Lang::RU, Lang::KK).write(&mut out);
        assert_eq!(out, r#"{"kk":"kk text"}"#);
        out.clear();
        one_language(&texts, Lang::EN, Lang::KK).write(&mut out);
        assert_eq!(out, r#"{"en":"en text"}"#);
    }
}
