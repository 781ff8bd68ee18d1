//! The answer to "may I do X now?" ([`Decision`]: allowed or denied, and why) and a purpose's status in
//! the W3C Data Privacy Vocabulary's terms ([`ConsentStatus`]).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::{LegalBasis, PolicyVersion, Timestamp};

/// The answer to "may I?".
///
/// ```
/// use consent_core::{ConsentState, Decision, Denied, Policy, Timestamp};
/// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
/// let d = ConsentState::new().decision("marketing".parse()?, Timestamp::from_unix(0), &policy);
/// assert!(!d.is_allowed());
/// if let Decision::Denied(why) = d {
///     assert_eq!(why, Denied::NeverAsked);
///     assert_eq!(why.to_string(), "consent was never given");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[must_use]
pub enum Decision {
    /// Yes, and why.
    Allowed(Allowed),
    /// No, and why not.
    Denied(Denied),
}

impl Decision {
    /// Whether the purpose may be pursued.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed(_))
    }
}

/// Why a purpose is allowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Allowed {
    /// The subject consented.
    Consent {
        /// When consent was given (server time).
        given_at: Timestamp,
        /// When it lapses.
        expires_at: Timestamp,
        /// The policy version the subject was shown.
        policy_version: PolicyVersion,
        /// Whether it was given again after an earlier consent.
        renewed: bool,
    },
    /// The purpose rests on another legal basis, or is a strictly necessary cookie.
    NotRequired {
        /// The purpose's legal basis.
        basis: LegalBasis,
    },
}

/// Why a purpose is denied.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Denied {
    /// The policy has no such purpose.
    UnknownPurpose,
    /// The subject was never asked (silence is not consent).
    NeverAsked,
    /// The subject refused.
    Refused {
        /// When.
        at: Timestamp,
    },
    /// The subject withdrew consent.
    Withdrawn {
        /// When.
        at: Timestamp,
    },
    /// The consent lapsed.
    Expired {
        /// When it lapsed.
        at: Timestamp,
    },
    /// The purpose changed after the version the subject consented under: ask again.
    RenewalNeeded {
        /// The version that changed the purpose.
        changed_in: PolicyVersion,
        /// The version consent was given under.
        given_under: PolicyVersion,
    },
    /// Processing is restricted (blocked) at the subject's request.
    Blocked {
        /// Since when.
        since: Timestamp,
    },
    /// The subject's data was erased.
    Erased {
        /// When.
        at: Timestamp,
    },
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allowed::Consent {
                given_at,
                expires_at,
                policy_version,
                renewed,
            } => write!(
                f,
                "consent {} at {given_at} under policy {policy_version}, valid until {expires_at}",
                if *renewed { "renewed" } else { "given" }
            ),
            Allowed::NotRequired { basis } => write!(f, "no consent needed (legal basis: {basis})"),
        }
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::UnknownPurpose => f.write_str("the policy has no such purpose"),
            Denied::NeverAsked => f.write_str("consent was never given"),
            Denied::Refused { at } => write!(f, "consent was refused at {at}"),
            Denied::Withdrawn { at } => write!(f, "consent was withdrawn at {at}"),
            Denied::Expired { at } => write!(f, "consent expired at {at}"),
            Denied::RenewalNeeded {
                changed_in,
                given_under,
            } => write!(
                f,
                "consent must be renewed: given under policy {given_under}, purpose changed in {changed_in}"
            ),
            Denied::Blocked { since } => write!(f, "processing is restricted since {since}"),
            Denied::Erased { at } => write!(f, "the subject's data was erased at {at}"),
        }
    }
}

/// Consent statuses of the W3C Data Privacy Vocabulary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ConsentStatus {
    /// `dpv:ConsentUnknown`: never asked.
    Unknown,
    /// `dpv:ConsentGiven`.
    Given,
    /// `dpv:RenewedConsentGiven`: given again after an earlier consent.
    RenewedGiven,
    /// `dpv:ConsentRefused`.
    Refused,
    /// `dpv:ConsentWithdrawn` (also after erasure).
    Withdrawn,
    /// `dpv:ConsentExpired`.
    Expired,
    /// `dpv:ConsentInvalidated`: the purpose changed, consent must be renewed.
    Invalidated,
}

impl ConsentStatus {
    /// The DPV IRI.
    pub const fn iri(self) -> &'static str {
        match self {
            ConsentStatus::Unknown => "https://w3id.org/dpv#ConsentUnknown",
            ConsentStatus::Given => "https://w3id.org/dpv#ConsentGiven",
            ConsentStatus::RenewedGiven => "https://w3id.org/dpv#RenewedConsentGiven",
            ConsentStatus::Refused => "https://w3id.org/dpv#ConsentRefused",
            ConsentStatus::Withdrawn => "https://w3id.org/dpv#ConsentWithdrawn",
            ConsentStatus::Expired => "https://w3id.org/dpv#ConsentExpired",
            ConsentStatus::Invalidated => "https://w3id.org/dpv#ConsentInvalidated",
        }
    }

    /// Whether the status allows processing (only given and renewed, per ISO/IEC TS 27560).
    pub const fn allows_processing(self) -> bool {
        matches!(self, ConsentStatus::Given | ConsentStatus::RenewedGiven)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_reasons_read_well() {
        let d = Denied::RenewalNeeded {
            changed_in: "2026-06-01".parse().unwrap(),
            given_under: "2025-03-26".parse().unwrap(),
        };
        assert_eq!(
            d.to_string(),
            "consent must be renewed: given under policy 2025-03-26, purpose changed in 2026-06-01"
        );
        assert_eq!(
            Denied::Blocked {
                since: Timestamp::from_unix(1_743_465_600)
            }
            .to_string(),
            "processing is restricted since 2025-04-01T00:00:00Z"
        );
    }
}
