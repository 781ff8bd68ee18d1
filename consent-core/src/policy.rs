//! A privacy policy: one immutable, content-hashed version.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::canonical::{Json, Obj};
use crate::{
    BannerTexts, CollectionKind, CookieCategoryId, Country, Id, Lang, PolicyVersion, Purpose,
    PurposeId, PurposeKind, PurposeSet, RecipientKind, Texts,
};

mod cookies;

pub use cookies::{Cookie, CookieCategory, Lifetime, cookie_pattern_matches};

/// The operator of personal data (Law 94-V Art. 8(4)(1): name and BIN).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Controller {
    /// Legal name.
    pub name: Texts,
    /// Business identification number (12 digits).
    pub bin: String,
    /// Postal address.
    pub address: Texts,
    /// Country of registration.
    pub country: Country,
    /// E-mail for data-protection questions.
    pub email: String,
    /// Website.
    pub url: String,
    /// The person or office responsible for personal data.
    pub responsible_person: Texts,
}

/// How to reach the operator about the policy.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Contact {
    /// E-mail address.
    pub email: String,
    /// The policy's contact paragraph.
    pub texts: Texts,
}

/// A group of people the policy is about (applicants and students; teachers, mentors and volunteers).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Audience {
    /// Stable id.
    pub id: Id,
    /// Name.
    pub name: Texts,
}

/// A category of personal data.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct DataCategory {
    /// Stable id.
    pub id: Id,
    /// Name.
    pub name: Texts,
    /// Audiences whose data this is.
    pub audiences: Vec<Id>,
    /// Special (sensitive) category, e.g. financial data.
    pub sensitive: bool,
    /// Kantara CR v1.1 PII category, 1 to 16.
    pub kantara_pii: u8,
    /// W3C DPV personal-data IRIs.
    pub dpv: Vec<String>,
}

/// Someone who receives personal data.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Recipient {
    /// Stable id.
    pub id: Id,
    /// Kind of recipient.
    pub kind: RecipientKind,
    /// Name.
    pub name: Texts,
    /// Where the recipient is.
    pub country: Country,
}

/// A right of the data subject, with the policy's text about it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Right {
    /// `access`, `rectification`, `erasure`, `restriction`, `withdrawal`, `unsubscribe`, `complaint`...
    pub id: Id,
    /// Title.
    pub title: Texts,
    /// Text.
    pub text: Texts,
}

/// The SHA-256 of a policy's canonical JSON form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyHash(pub [u8; 32]);

impl fmt::Display for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyHash({self})")
    }
}

/// One version of a privacy policy, loaded and checked.
///
/// The only ways to get one are the loaders ([`Policy::from_toml`]), so every `Policy` is valid:
/// references resolve, every text exists in every declared language, and [`Policy::hash`] is the
/// SHA-256 of its canonical form.
///
/// ```
/// use consent_core::{Lang, Policy};
/// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
/// assert_eq!(policy.version().to_string(), "2025-03-26");
/// assert_eq!(policy.controller().bin, "220740042362");
/// let marketing = policy.purpose_by_str("marketing").unwrap();
/// assert!(marketing.needs_consent());
/// println!("{}", marketing.texts.as_ref().unwrap().title.get_or(Lang::RU, policy.default_language()));
/// # Ok::<(), consent_core::PolicyError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Policy {
    pub(crate) id: Id,
    pub(crate) version: PolicyVersion,
    pub(crate) url: String,
    pub(crate) jurisdiction: Country,
    pub(crate) languages: Vec<Lang>,
    pub(crate) default_language: Lang,
    pub(crate) choice_validity_months: u8,
    pub(crate) title: Texts,
    pub(crate) retention: Texts,
    pub(crate) controller: Controller,
    pub(crate) contact: Contact,
    pub(crate) audiences: Vec<Audience>,
    pub(crate) data_categories: Vec<DataCategory>,
    pub(crate) recipients: Vec<Recipient>,
    pub(crate) purposes: Vec<Purpose>,
    pub(crate) cookie_categories: Vec<CookieCategory>,
    pub(crate) rights: Vec<Right>,
    pub(crate) banner: Option<BannerTexts>,
    pub(crate) hash: PolicyHash,
}

impl Policy {
    /// The policy file format this library reads and writes.
    pub const FORMAT: i64 = 1;
    /// The default time a choice stays valid.
    pub const DEFAULT_VALIDITY_MONTHS: u8 = 6;
    /// The longest time a choice may stay valid.
    pub const MAX_VALIDITY_MONTHS: u8 = 13;

    /// Stable policy id (the same across versions).
    pub fn id(&self) -> &Id {
        &self.id
    }
    /// This version.
    pub fn version(&self) -> PolicyVersion {
        self.version
    }
    /// Where this exact version is published.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// The law the policy is written under.
    pub fn jurisdiction(&self) -> Country {
        self.jurisdiction
    }
    /// Declared languages, in file order.
    pub fn languages(&self) -> &[Lang] {
        &self.languages
    }
    /// The language used when the visitor's is not declared.
    pub fn default_language(&self) -> Lang {
        self.default_language
    }
    /// How long a consent choice stays valid, in months (1 to 13).
    pub fn choice_validity_months(&self) -> u8 {
        self.choice_validity_months
    }
    /// The policy's title.
    pub fn title(&self) -> &Texts {
        &self.title
    }
    /// How long data is kept.
    pub fn retention(&self) -> &Texts {
        &self.retention
    }
    /// The operator.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }
    /// Contact details.
    pub fn contact(&self) -> &Contact {
        &self.contact
    }
    /// Audiences.
    pub fn audiences(&self) -> &[Audience] {
        &self.audiences
    }
    /// Data categories.
    pub fn data_categories(&self) -> &[DataCategory] {
        &self.data_categories
    }
    /// Recipients.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }
    /// Purposes, in file order.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }
    /// Cookie categories.
    pub fn cookie_categories(&self) -> &[CookieCategory] {
        &self.cookie_categories
    }
    /// The subject's rights.
    pub fn rights(&self) -> &[Right] {
        &self.rights
    }
    /// The cookie banner's own texts (the optional `banner` table), if the policy has them.
    pub fn banner(&self) -> Option<&BannerTexts> {
        self.banner.as_ref()
    }
    /// One of the cookie banner's own texts: `name` is one of [`BANNER_TEXTS`](crate::BANNER_TEXTS),
    /// e.g. `"accept-all"`. `None` when the policy has no `banner` table or `name` is not one of them.
    ///
    /// ```
    /// use consent_core::{BANNER_TEXTS, Lang, Policy};
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// let accept = policy.banner_text("accept-all").unwrap();
    /// assert_eq!(accept.get(Lang::KK), Some("Барлығын қабылдау"));
    /// assert_eq!(accept.get(Lang::RU), Some("Принять все"));
    /// assert!(BANNER_TEXTS.iter().all(|name| policy.banner_text(name).is_some()));
    /// assert_eq!(policy.banner_text("accept_all"), None);
    /// # Ok::<(), consent_core::PolicyError>(())
    /// ```
    pub fn banner_text(&self, name: &str) -> Option<&Texts> {
        self.banner.as_ref()?.get(name)
    }
    /// SHA-256 of the canonical form.
    pub fn hash(&self) -> PolicyHash {
        self.hash
    }

    /// The purpose with this id.
    pub fn purpose(&self, id: PurposeId) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id == id)
    }
    /// The purpose with this id, given as a string.
    pub fn purpose_by_str(&self, id: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id.as_str() == id)
    }
    /// The purpose with this token code.
    pub fn purpose_by_code(&self, code: u8) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.code == code)
    }
    /// The codes of the purposes a collection point of `kind` presents (their `collection_points`):
    /// those that need consent it asks for, the others it shows as always on. Empty for the server's
    /// own kinds (`email`, `staff`).
    ///
    /// ```
    /// use consent_core::{CollectionKind, Policy, PurposeKind};
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// let banner = policy.purposes_at(CollectionKind::Banner);
    /// assert!(banner.codes().all(|c| policy.purpose_by_code(c).unwrap().kind == PurposeKind::Cookies));
    /// assert_eq!(banner.len(), 4);
    /// # Ok::<(), consent_core::PolicyError>(())
    /// ```
    pub fn purposes_at(&self, kind: CollectionKind) -> PurposeSet {
        self.purposes
            .iter()
            .filter(|p| p.collected_at(kind))
            .map(|p| p.code)
            .collect()
    }
    /// Purposes of one kind.
    pub fn purposes_of(&self, kind: PurposeKind) -> impl Iterator<Item = &Purpose> {
        self.purposes.iter().filter(move |p| p.kind == kind)
    }
    /// The data category with this id.
    pub fn data_category(&self, id: &Id) -> Option<&DataCategory> {
        self.data_categories.iter().find(|c| c.id == *id)
    }
    /// The recipient with this id.
    pub fn recipient(&self, id: &Id) -> Option<&Recipient> {
        self.recipients.iter().find(|r| r.id == *id)
    }
    /// The cookie category with this id.
    pub fn cookie_category(&self, id: CookieCategoryId) -> Option<&CookieCategory> {
        self.cookie_categories.iter().find(|c| c.id == id)
    }
    /// The `cookies` purpose governing a category.
    pub fn cookie_purpose(&self, id: CookieCategoryId) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.cookie_category == Some(id))
    }
    /// Purposes whose meaning changed after `version`: consents given under `version` to these purposes
    /// must be renewed; the others stay valid.
    ///
    /// ```
    /// # use consent_core::Policy;
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// assert_eq!(policy.changed_since(policy.version()).count(), 0);
    /// # Ok::<(), consent_core::PolicyError>(())
    /// ```
    pub fn changed_since(&self, version: PolicyVersion) -> impl Iterator<Item = &Purpose> {
        self.purposes.iter().filter(move |p| p.changed_in > version)
    }

    /// The canonical JSON form (see `spec/POLICY.md`): the same for any key order, whitespace or
    /// TOML spelling of the same policy.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.to_json().write(&mut out);
        out
    }

    #[cfg_attr(not(feature = "toml"), allow(dead_code))]
    pub(crate) fn compute_hash(&self) -> PolicyHash {
        PolicyHash(Sha256::digest(self.canonical_json().as_bytes()).into())
    }

    fn to_json(&self) -> Json {
        let c = &self.controller;
        Obj::new()
            .set("format", Json::Int(Policy::FORMAT))
            .set("id", self.id.as_str())
            .set("version", self.version.to_string())
            .set("url", self.url.as_str())
            .set("jurisdiction", self.jurisdiction.as_str())
            .set(
                "languages",
                self.languages
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>(),
            )
            .set("default_language", self.default_language.as_str())
            .set("choice_validity_months", self.choice_validity_months)
            .set("title", &self.title)
            .set("retention", &self.retention)
            .set(
                "controller",
                Obj::new()
                    .set("name", &c.name)
                    .set("bin", c.bin.as_str())
                    .set("address", &c.address)
                    .set("country", c.country.as_str())
                    .set("email", c.email.as_str())
                    .set("url", c.url.as_str())
                    .set("responsible_person", &c.responsible_person),
            )
            .set(
                "contact",
                Obj::new()
                    .set("email", self.contact.email.as_str())
                    .set("texts", &self.contact.texts),
            )
            .set(
                "audiences",
                map(&self.audiences, |a| {
                    Obj::new().set("id", a.id.as_str()).set("name", &a.name)
                }),
            )
            .set(
                "data_categories",
                map(&self.data_categories, |d| {
                    Obj::new()
                        .set("id", d.id.as_str())
                        .set("name", &d.name)
                        .set("audiences", ids(&d.audiences.iter().collect::<Vec<_>>()))
                        .set("sensitive", d.sensitive)
                        .set("kantara_pii", d.kantara_pii)
                        .set("dpv", d.dpv.iter().map(String::as_str).collect::<Vec<_>>())
                }),
            )
            .set(
                "recipients",
                map(&self.recipients, |r| {
                    Obj::new()
                        .set("id", r.id.as_str())
                        .set("kind", r.kind.as_str())
                        .set("name", &r.name)
                        .set("country", r.country.as_str())
                }),
            )
            .set(
                "purposes",
                map(&self.purposes, |p| {
                    purpose_head(p)
                        .set("audiences", ids(&p.audiences.iter().collect::<Vec<_>>()))
                        .set(
                            "data_categories",
                            ids(&p.data_categories.iter().collect::<Vec<_>>()),
                        )
                        .set("recipients", ids(&p.recipients.iter().collect::<Vec<_>>()))
                        .set(
                            "cross_border",
                            p.cross_border
                                .iter()
                                .map(|c| c.as_str())
                                .collect::<Vec<_>>(),
                        )
                        .set("term", &p.term)
                        .set("changed_in", p.changed_in.to_string())
                        .set("dpv", p.dpv.as_str())
                        .set("kantara_purpose", p.kantara_purpose)
                        .set_opt("cookie_category", p.cookie_category.map(|c| c.as_str()))
                        .set_opt("required_for", p.required_for.as_ref())
                        .set_opt(
                            "texts",
                            p.texts.as_ref().map(|t| {
                                Obj::new()
                                    .set("title", &t.title)
                                    .set("description", &t.description)
                            }),
                        )
                }),
            )
            .set(
                "cookie_categories",
                map(&self.cookie_categories, |c| {
                    Obj::new()
                        .set("id", c.id.as_str())
                        .set("name", &c.name)
                        .set("description", &c.description)
                        .set(
                            "cookies",
                            map(&c.cookies, |k| {
                                Obj::new()
                                    .set(
                                        if k.is_pattern { "pattern" } else { "name" },
                                        k.name.as_str(),
                                    )
                                    .set("provider", k.provider.as_str())
                                    .set("lifetime", k.lifetime.to_string())
                                    .set("purpose", &k.purpose)
                            }),
                        )
                }),
            )
            .set(
                "rights",
                map(&self.rights, |r| {
                    Obj::new()
                        .set("id", r.id.as_str())
                        .set("title", &r.title)
                        .set("text", &r.text)
                }),
            )
            .set_opt(
                "banner",
                self.banner.as_ref().map(|b| {
                    b.iter()
                        .fold(Obj::new(), |o, (name, texts)| o.set(name, texts))
                }),
            )
            .into()
    }
}

/// The members a purpose opens with, in the policy's canonical JSON and in its banner views alike: `id`,
/// `code`, `collection_points`, `kind`, `legal_basis`.
pub(crate) fn purpose_head(p: &Purpose) -> Obj {
    Obj::new()
        .set("id", p.id.as_str())
        .set("code", p.code)
        .set(
            "collection_points",
            p.collection_points
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>(),
        )
        .set("kind", p.kind.as_str())
        .set("legal_basis", p.legal_basis.as_str())
}

fn map<T>(items: &[T], f: impl Fn(&T) -> Obj) -> Json {
    Json::Arr(items.iter().map(|i| f(i).into()).collect())
}

fn ids(items: &[&Id]) -> Vec<Json> {
    items.iter().map(|i| Json::from(i.as_str())).collect()
}

impl From<&Texts> for Json {
    fn from(t: &Texts) -> Json {
        t.iter()
            .fold(Obj::new(), |o, (lang, s)| o.set(lang.as_str(), s))
            .into()
    }
}
