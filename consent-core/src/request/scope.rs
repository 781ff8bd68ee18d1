//! What one backend service may record: the purposes it may decide and the collection points it may
//! name ([`ServiceScope`]), the input of [`Caller::Service`](super::Caller::Service).

#[allow(unused_imports)]
use crate::prelude::*;

use crate::{CollectionKind, Policy, PurposeSet};

/// What a service token may record (product rule 12: a service records only the purposes and
/// collection points it is allowed): the purposes it may decide, by code, and the kinds of collection
/// point it may name, among [`ServiceScope::KINDS`] (`email` and `staff` are the server's own).
///
/// The server builds one per `service` token from its configuration ([`ServiceScope::parse`], against
/// the current policy, at start) and checks requests with it as [`Caller::Service`](super::Caller).
/// A request deciding a purpose outside the scope, or naming a collection point outside it, is
/// `forbidden`; Global Privacy Control refuses only purposes inside it.
///
/// ```
/// use consent_core::{CollectionKind, Policy, ServiceScope};
/// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
/// let mailing = ServiceScope::parse(&policy, &["marketing"], &["form", "api"])?;
/// let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
/// assert!(mailing.may_decide(code("marketing")));
/// assert!(!mailing.may_decide(code("application-review")));
/// assert!(mailing.may_collect(CollectionKind::Api));
/// assert!(!mailing.may_collect(CollectionKind::Banner));
///
/// let err = ServiceScope::parse(&policy, &["newsletter"], &["form"]).unwrap_err();
/// assert_eq!(err.to_string(), "purposes: the policy has no purpose `newsletter`");
/// let err = ServiceScope::parse(&policy, &["marketing"], &["email"]).unwrap_err();
/// assert_eq!(err.to_string(), "collection_points: `email` is the server's own; a service may name banner, form, api");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ServiceScope {
    purposes: PurposeSet,
    /// Bit `i` set: [`ServiceScope::KINDS`]`[i]` may be named.
    kinds: u8,
}

/// Why a service's scope cannot be used with a policy: the member at fault and the entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A purpose id the policy does not have.
    #[error("purposes: the policy has no purpose `{0}`")]
    UnknownPurpose(String),
    /// A purpose that needs no consent: there is nothing to decide.
    #[error("purposes: `{0}` needs no consent and is never decided")]
    ConsentNotRequired(String),
    /// Not a kind of collection point.
    #[error(
        "collection_points: `{0}` is not a collection point; a service may name banner, form, api"
    )]
    UnknownKind(String),
    /// A kind only the server itself records (`email`, `staff`).
    #[error("collection_points: `{0}` is the server's own; a service may name banner, form, api")]
    ReservedKind(CollectionKind),
}

impl ServiceScope {
    /// The kinds of collection point a service may be allowed: `banner`, `form`, `api`.
    pub const KINDS: &'static [CollectionKind] = &[
        CollectionKind::Banner,
        CollectionKind::Form,
        CollectionKind::Api,
    ];

    /// A service that may record nothing (it may still read what its role allows).
    pub const NOTHING: ServiceScope = ServiceScope {
        purposes: PurposeSet::EMPTY,
        kinds: 0,
    };

    /// The scope of `purposes` (codes) and `kinds`; a kind outside [`ServiceScope::KINDS`] is refused.
    pub fn new(purposes: PurposeSet, kinds: &[CollectionKind]) -> Result<ServiceScope, ScopeError> {
        let mut scope = ServiceScope { purposes, kinds: 0 };
        for kind in kinds {
            let bit = Self::bit(*kind).ok_or(ScopeError::ReservedKind(*kind))?;
            scope.kinds |= bit;
        }
        Ok(scope)
    }

    /// The scope of a service's configuration: purpose ids of `policy` that need consent, and kinds of
    /// collection point by name. The first entry at fault is the error.
    pub fn parse(
        policy: &Policy,
        purposes: &[impl AsRef<str>],
        kinds: &[impl AsRef<str>],
    ) -> Result<ServiceScope, ScopeError> {
        let mut codes = PurposeSet::EMPTY;
        for id in purposes {
            let id = id.as_ref();
            let purpose = policy
                .purpose_by_str(id)
                .ok_or_else(|| ScopeError::UnknownPurpose(id.to_owned()))?;
            if !purpose.needs_consent() {
                return Err(ScopeError::ConsentNotRequired(id.to_owned()));
            }
            codes.insert(purpose.code);
        }
        let kinds = kinds
            .iter()
            .map(|k| {
                k.as_ref()
                    .parse::<CollectionKind>()
                    .map_err(|_| ScopeError::UnknownKind(k.as_ref().to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        ServiceScope::new(codes, &kinds)
    }

    /// Every purpose of `policy` that needs consent, and every kind a service may name: what a service
    /// could record before scopes existed (development tokens, tests).
    pub fn everything(policy: &Policy) -> ServiceScope {
        let purposes = policy
            .purposes()
            .iter()
            .filter(|p| p.needs_consent())
            .map(|p| p.code)
            .collect();
        ServiceScope {
            purposes,
            kinds: (1 << Self::KINDS.len()) - 1,
        }
    }

    /// The purposes it may decide, by code.
    pub fn purposes(&self) -> PurposeSet {
        self.purposes
    }

    /// Whether it may decide the purpose with this code.
    pub fn may_decide(&self, code: u8) -> bool {
        self.purposes.contains(code)
    }

    /// Whether it may name a collection point of this kind.
    pub fn may_collect(&self, kind: CollectionKind) -> bool {
        Self::bit(kind).is_some_and(|bit| self.kinds & bit != 0)
    }

    /// The kinds it may name, in the order of [`ServiceScope::KINDS`].
    pub fn kinds(&self) -> impl Iterator<Item = CollectionKind> + '_ {
        Self::KINDS.iter().copied().filter(|k| self.may_collect(*k))
    }

    fn bit(kind: CollectionKind) -> Option<u8> {
        Self::KINDS.iter().position(|k| *k == kind).map(|i| 1 << i)
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml")).unwrap()
    }

    #[test]
    fn parse_names_the_first_entry_at_fault() {
        let policy = policy();
        let none: [&str; 0] = [];
        assert_eq!(
            ServiceScope::parse(&policy, &none, &none),
            Ok(ServiceScope::NOTHING)
        );
        assert_eq!(
            ServiceScope::parse(&policy, &["marketing", "nope", "other"], &["kiosk"]),
            Err(ScopeError::UnknownPurpose("nope".into()))
        );
        assert_eq!(
            ServiceScope::parse(&policy, &["legal-compliance"], &none),
            Err(ScopeError::ConsentNotRequired("legal-compliance".into()))
        );
        assert_eq!(
            ServiceScope::parse(&policy, &["marketing"], &["form", "kiosk"]),
            Err(ScopeError::UnknownKind("kiosk".into()))
        );
        assert_eq!(
            ServiceScope::parse(&policy, &["marketing"], &["staff"]),
            Err(ScopeError::ReservedKind(CollectionKind::Staff))
        );
        let scope =
            ServiceScope::parse(&policy, &["marketing", "events"], &["api", "form"]).unwrap();
        let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
        assert_eq!(
            scope.purposes(),
            PurposeSet::from_codes([code("marketing"), code("events")])
        );
        assert_eq!(
            scope.kinds().collect::<Vec<_>>(),
            [CollectionKind::Form, CollectionKind::Api]
        );
    }

    #[test]
    fn everything_is_every_consent_purpose_and_the_services_kinds() {
        let policy = policy();
        let all = ServiceScope::everything(&policy);
        for p in policy.purposes() {
            assert_eq!(all.may_decide(p.code), p.needs_consent(), "{}", p.id);
        }
        for kind in CollectionKind::ALL {
            assert_eq!(
                all.may_collect(*kind),
                ServiceScope::KINDS.contains(kind),
                "{kind}"
            );
            assert!(!ServiceScope::NOTHING.may_collect(*kind));
        }
    }
}
