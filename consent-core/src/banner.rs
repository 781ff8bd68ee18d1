//! The cookie banner's own texts, carried by the policy (its optional `banner` table).

#[allow(unused_imports)]
use crate::prelude::*;

use crate::Texts;

/// The names of the banner's texts: the keys of a policy's `banner` table, in the order of
/// `spec/POLICY.md`. A `banner` table has every one of them and no other key.
///
/// | key | the text |
/// |---|---|
/// | `title` | the dialog's heading |
/// | `description` | the dialog's description |
/// | `accept-all` | the "Accept all" button |
/// | `reject-all` | the "Reject all" button |
/// | `choose` | the "Choose" button, which opens the second layer |
/// | `save` | the "Save my choice" button of the second layer |
/// | `close` | closes a dialog opened through the way back in, changing nothing |
/// | `always-on` | shown beside purposes that need no consent |
/// | `purposes` | the second layer's label |
/// | `settings` | the floating button that reopens the dialog ("Cookie settings") |
/// | `updated` | before the date of the policy version, when asking again after an update |
/// | `cookies` | the cookie table's summary |
/// | `cookie-name` | cookie table column: the cookie's name |
/// | `provider` | cookie table column: who sets it |
/// | `lifetime` | cookie table column: how long it lives |
/// | `cookie-purpose` | cookie table column: what it is for |
/// | `consent-id` | before the visitor's consent ID (the receipt id) |
/// | `consent-date` | before the date of the current choice |
/// | `receipt` | the link to the signed receipt |
/// | `language` | the language switcher's label |
/// | `blocked` | an embed's placeholder, before the purpose's title |
/// | `load-once` | an embed's placeholder: load this one, record nothing |
/// | `always-allow` | an embed's placeholder: grant its purpose |
/// | `gpc` | beside marketing purposes refused because the browser sends Global Privacy Control |
pub const BANNER_TEXTS: [&str; 24] = [
    "title",
    "description",
    "accept-all",
    "reject-all",
    "choose",
    "save",
    "close",
    "always-on",
    "purposes",
    "settings",
    "updated",
    "cookies",
    "cookie-name",
    "provider",
    "lifetime",
    "cookie-purpose",
    "consent-id",
    "consent-date",
    "receipt",
    "language",
    "blocked",
    "load-once",
    "always-allow",
    "gpc",
];

/// The cookie banner's own texts (buttons, headings, labels): a policy's `banner` table, one [`Texts`]
/// for each name of [`BANNER_TEXTS`], each in every language the policy declares.
///
/// ```
/// use consent_core::{BANNER_TEXTS, Lang, Policy};
/// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
/// let banner = policy.banner().expect("the invisionu policy has banner texts");
/// assert_eq!(banner.get("accept-all").and_then(|t| t.get(Lang::EN)), Some("Accept all"));
/// assert_eq!(banner.get("accept_all"), None); // only the names of BANNER_TEXTS
/// let names: Vec<&str> = banner.iter().map(|(name, _)| name).collect();
/// assert_eq!(names, BANNER_TEXTS);
/// # Ok::<(), consent_core::PolicyError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct BannerTexts(Vec<Texts>);

impl BannerTexts {
    /// The texts in the order of [`BANNER_TEXTS`]; `None` unless there is exactly one for each name.
    #[cfg_attr(not(feature = "toml"), allow(dead_code))]
    pub(crate) fn new(texts: Vec<Texts>) -> Option<Self> {
        (texts.len() == BANNER_TEXTS.len()).then_some(BannerTexts(texts))
    }

    /// The text called `name` (one of [`BANNER_TEXTS`], e.g. `"accept-all"`); `None` for any other name.
    pub fn get(&self, name: &str) -> Option<&Texts> {
        let i = BANNER_TEXTS.iter().position(|n| *n == name)?;
        self.0.get(i)
    }

    /// Every (name, text) pair, in the order of [`BANNER_TEXTS`].
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Texts)> {
        BANNER_TEXTS.iter().copied().zip(self.0.iter())
    }
}
