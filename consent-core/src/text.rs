//! Texts in several languages.

use crate::Lang;
#[allow(unused_imports)]
use crate::prelude::*;

/// One text in each of a policy's languages.
///
/// A policy that loads has every text in every declared language, so [`Texts::get`] only returns
/// `None` for a language the policy does not declare.
///
/// ```
/// use consent_core::{Lang, Policy};
/// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
/// let title = policy.title();
/// assert_eq!(title.get(Lang::EN), Some("Privacy Policy"));
/// assert_eq!(title.get_or("de".parse()?, Lang::KK), "Құпиялылық саясаты");
/// assert_eq!(title.iter().count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Texts(Vec<(Lang, String)>);

impl Texts {
    #[cfg_attr(not(feature = "toml"), allow(dead_code))]
    pub(crate) fn new(mut entries: Vec<(Lang, String)>) -> Self {
        entries.sort_by_key(|a| a.0);
        Texts(entries)
    }

    /// The text in `lang`, if the policy declares that language.
    pub fn get(&self, lang: Lang) -> Option<&str> {
        self.0
            .iter()
            .find(|(l, _)| *l == lang)
            .map(|(_, s)| s.as_str())
    }

    /// The text in `lang`, or else in `fallback`, or else the first one (never empty for a loaded policy).
    pub fn get_or(&self, lang: Lang, fallback: Lang) -> &str {
        self.get(lang)
            .or_else(|| self.get(fallback))
            .or_else(|| self.0.first().map(|(_, s)| s.as_str()))
            .unwrap_or_default()
    }

    /// Every (language, text) pair, ordered by language code.
    pub fn iter(&self) -> impl Iterator<Item = (Lang, &str)> {
        self.0.iter().map(|(l, s)| (*l, s.as_str()))
    }
}
