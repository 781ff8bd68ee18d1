//! Purposes and the small vocabularies they use.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::{CollectionKind, Id, ParseError, PolicyVersion, PurposeId, Texts};

/// Declares a closed vocabulary written as kebab-case strings in policy files.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $err:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as written in policy files.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::ParseError;
            fn from_str(s: &str) -> Result<Self, $crate::ParseError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::ParseError::Unknown($err)),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// The four kinds of purpose the product is built around.
    ///
    /// ```
    /// use consent_core::PurposeKind;
    /// assert_eq!("public-dissemination".parse::<PurposeKind>()?, PurposeKind::PublicDissemination);
    /// assert_eq!(PurposeKind::Cookies.as_str(), "cookies");
    /// assert!("ads".parse::<PurposeKind>().is_err());
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    PurposeKind, "purpose kind" {
        /// Core processing, including transfer to service providers and partners abroad.
        Processing = "processing",
        /// Dissemination in public sources: website, social media, print, press, TV, radio.
        PublicDissemination = "public-dissemination",
        /// Newsletters and marketing communications.
        Marketing = "marketing",
        /// Website cookies of one category.
        Cookies = "cookies",
    }
}

vocabulary! {
    /// The legal basis of a purpose. Only [`LegalBasis::Consent`] needs the subject's consent.
    ///
    /// ```
    /// use consent_core::LegalBasis;
    /// let b: LegalBasis = "legal-obligation".parse()?;
    /// assert_eq!(b.dpv_iri(), "https://w3id.org/dpv#LegalObligation");
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    LegalBasis, "legal basis" {
        /// The subject's consent (W3C DPV `dpv:Consent`).
        Consent = "consent",
        /// A contract with the subject (`dpv:Contract`).
        Contract = "contract",
        /// A legal obligation of the operator (`dpv:LegalObligation`).
        LegalObligation = "legal-obligation",
        /// The operator's legitimate interest (`dpv:LegitimateInterest`).
        LegitimateInterest = "legitimate-interest",
        /// Vital interests of a person (`dpv:VitalInterest`).
        VitalInterest = "vital-interest",
        /// A task in the public interest (`dpv:PublicTask`).
        PublicTask = "public-task",
    }
}

impl LegalBasis {
    /// The W3C DPV IRI of this legal basis.
    pub const fn dpv_iri(self) -> &'static str {
        match self {
            LegalBasis::Consent => "https://w3id.org/dpv#Consent",
            LegalBasis::Contract => "https://w3id.org/dpv#Contract",
            LegalBasis::LegalObligation => "https://w3id.org/dpv#LegalObligation",
            LegalBasis::LegitimateInterest => "https://w3id.org/dpv#LegitimateInterest",
            LegalBasis::VitalInterest => "https://w3id.org/dpv#VitalInterest",
            LegalBasis::PublicTask => "https://w3id.org/dpv#PublicTask",
        }
    }
}

vocabulary! {
    /// Cookie categories.
    CookieCategoryId, "cookie category" {
        /// Strictly necessary: allowed without consent.
        Necessary = "necessary",
        /// Remembering choices such as the language.
        Preferences = "preferences",
        /// Measuring use of the website.
        Analytics = "analytics",
        /// Advertising and marketing.
        Marketing = "marketing",
    }
}

vocabulary! {
    /// Who receives data.
    RecipientKind, "recipient kind" {
        /// Processors acting for the operator (accountants, software providers...).
        ServiceProvider = "service-provider",
        /// Partner organisations.
        Partner = "partner",
        /// Third-party marketing platforms.
        MarketingPlatform = "marketing-platform",
        /// A public channel: website, social media, print, press, TV, radio.
        Public = "public",
        /// Public authorities.
        Authority = "authority",
    }
}

/// A country: ISO 3166-1 alpha-2, or "not named by the policy".
///
/// ```
/// use consent_core::Country;
/// assert_eq!("KZ".parse::<Country>()?.as_str(), "KZ");
/// assert_eq!("*".parse::<Country>()?, Country::Unspecified);
/// assert!("kz".parse::<Country>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Country {
    /// An ISO 3166-1 alpha-2 code in upper case.
    Code([u8; 2]),
    /// The policy does not name the countries (written `"*"`).
    Unspecified,
}

impl Country {
    /// The code, or `*`.
    pub fn as_str(&self) -> &str {
        match self {
            Country::Code(c) => core::str::from_utf8(c).unwrap_or("??"),
            Country::Unspecified => "*",
        }
    }
}

impl core::str::FromStr for Country {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.as_bytes() {
            b"*" => Ok(Country::Unspecified),
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                Ok(Country::Code([*a, *b]))
            }
            _ => Err(ParseError::Country),
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The title and description a subject reads before deciding.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct PurposeTexts {
    /// Short title, e.g. "Marketing".
    pub title: Texts,
    /// What is done, with which data, by whom.
    pub description: Texts,
}

/// A purpose of processing, as declared by a policy.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Purpose {
    /// Stable id, the same across policy versions.
    pub id: PurposeId,
    /// Stable number 0 to 63: this purpose's bit in consent tokens.
    pub code: u8,
    /// Which of the four kinds.
    pub kind: PurposeKind,
    /// Why processing is lawful.
    pub legal_basis: LegalBasis,
    /// Audiences this purpose applies to.
    pub audiences: Vec<Id>,
    /// Data categories processed.
    pub data_categories: Vec<Id>,
    /// Who receives the data.
    pub recipients: Vec<Id>,
    /// Countries outside the jurisdiction the data goes to; empty means none.
    pub cross_border: Vec<Country>,
    /// How long the consent or processing lasts.
    pub term: Texts,
    /// The policy version in which this purpose's meaning last changed.
    pub changed_in: PolicyVersion,
    /// W3C DPV purpose IRI.
    pub dpv: String,
    /// Kantara Consent Receipt v1.1 purpose category, 1 to 16.
    pub kantara_purpose: u8,
    /// For `cookies` purposes: the cookie category governed.
    pub cookie_category: Option<CookieCategoryId>,
    /// What the subject cannot do without this purpose.
    pub required_for: Option<Texts>,
    /// Title and description (always present for consent purposes).
    pub texts: Option<PurposeTexts>,
    /// The collection points that present this purpose, among `banner`, `form` and `api`, in file
    /// order: where a purpose that needs consent is asked (and may be decided), where one that needs
    /// none is shown as always on. `banner` only on `cookies` purposes (issue 18).
    pub collection_points: Vec<CollectionKind>,
}

impl Purpose {
    /// Whether processing for this purpose needs the subject's consent.
    ///
    /// False for purposes with another legal basis and for strictly necessary cookies.
    ///
    /// ```
    /// # use consent_core::Policy;
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// assert!(policy.purpose_by_str("cookies-analytics").unwrap().needs_consent());
    /// assert!(!policy.purpose_by_str("cookies-necessary").unwrap().needs_consent());
    /// assert!(!policy.purpose_by_str("legal-compliance").unwrap().needs_consent());
    /// # Ok::<(), consent_core::PolicyError>(())
    /// ```
    pub fn needs_consent(&self) -> bool {
        self.legal_basis == LegalBasis::Consent
            && self.cookie_category != Some(CookieCategoryId::Necessary)
    }

    /// Whether a collection point of `kind` presents this purpose (its `collection_points`): asks for
    /// it if it needs consent. The server's own kinds (`email`, `staff`), which only withdraw, are
    /// never listed.
    ///
    /// ```
    /// # use consent_core::{CollectionKind, Policy};
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// let analytics = policy.purpose_by_str("cookies-analytics").unwrap();
    /// assert!(analytics.collected_at(CollectionKind::Banner));
    /// let newsletter = policy.purpose_by_str("marketing").unwrap();
    /// assert!(!newsletter.collected_at(CollectionKind::Banner));
    /// assert!(newsletter.collected_at(CollectionKind::Form));
    /// # Ok::<(), consent_core::PolicyError>(())
    /// ```
    pub fn collected_at(&self, kind: CollectionKind) -> bool {
        self.collection_points.contains(&kind)
    }
}
