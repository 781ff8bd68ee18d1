//! Who sends a consent request ([`Caller`]: what each may record) and what the request is checked
//! against ([`RequestContext`]: the current policy, the earlier versions still served, Global Privacy
//! Control). The checks themselves, in their fixed order, are `check.rs`'s.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::{PageUrl, ServiceScope};
use crate::{CollectionKind, Method, Policy, PolicyVersion};

/// Who sends a consent request. It decides which methods, collection points, purposes, subjects and
/// names the request may use (anything else is `forbidden`), and how long a page may be:
///
/// | may use | `Anonymous` | `Service` | `Server` |
/// |---|---|---|---|
/// | methods `accept-all`, `reject-all`, `custom`, `withdraw`, `gpc` | yes | yes | yes |
/// | methods `api`, `form`, `unsubscribe` | no | yes | yes |
/// | collection point `banner` | yes | if its scope says so | yes |
/// | collection points `form`, `api` | no | if its scope says so | yes |
/// | collection points `email`, `staff` | no | no | yes |
/// | purposes (that need consent) | any | those of its scope | any |
/// | `by.kind` `representative` (and so `by.name`) | no | yes | yes |
/// | `subject.id`, `subject_name` | no | yes | yes |
/// | `collection_point.page`, at most | 512 bytes | 2,048 bytes | 2,048 bytes |
///
/// An anonymous caller is a visitor's browser: it records its own choice, on the banner, as a device,
/// and nothing it sends can claim a form, a representative or a name, which would then sit in a signed
/// receipt forever. A service records only what its [`ServiceScope`] allows, and Global Privacy
/// Control refuses only purposes inside that scope.
///
/// Who the caller is (checking a bearer token) is the server's business; what each caller may record
/// is part of the contract, checked here in the order of the other checks.
///
/// ```
/// use consent_core::{Caller, ConsentRequest, Policy, RequestContext, RequestErrorCode, ServiceScope};
/// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
/// let body = br#"{"policy_version": "2025-03-26", "decisions": {"marketing": "given"},
///     "method": "api", "language": "en", "collection_point": {"kind": "api"}}"#;
/// let request = ConsentRequest::from_json(body)?;
/// let anonymous = request.check(&RequestContext::new(&policy, Caller::Anonymous)).unwrap_err();
/// assert_eq!((anonymous.code, anonymous.field.as_deref()), (RequestErrorCode::Forbidden, Some("method")));
/// let mailing = ServiceScope::parse(&policy, &["marketing"], &["api"])?;
/// assert!(request.check(&RequestContext::new(&policy, Caller::Service(&mailing))).is_ok());
/// let portal = ServiceScope::parse(&policy, &["application-review"], &["form", "api"])?;
/// let err = request.check(&RequestContext::new(&policy, Caller::Service(&portal))).unwrap_err();
/// assert_eq!((err.code, err.field.as_deref()), (RequestErrorCode::Forbidden, Some("decisions.marketing")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Caller<'a> {
    /// Anyone without a token: a visitor's browser (the banner).
    Anonymous,
    /// A backend service with a `service` token (the admissions portal, the mailing service), and what
    /// its token may record.
    Service(&'a ServiceScope),
    /// The consent server itself: staff withdrawals, one-click unsubscribe links.
    Server,
}

impl Caller<'_> {
    pub(super) fn may_use_method(self, method: Method) -> bool {
        !matches!(method, Method::Api | Method::Form | Method::Unsubscribe)
            || !matches!(self, Caller::Anonymous)
    }

    pub(super) fn may_use_kind(self, kind: CollectionKind) -> bool {
        match self {
            Caller::Anonymous => kind == CollectionKind::Banner,
            Caller::Service(scope) => scope.may_collect(kind),
            Caller::Server => true,
        }
    }

    /// Whether the caller may decide the purpose with this code (one that needs consent).
    pub(super) fn may_decide(self, code: u8) -> bool {
        match self {
            Caller::Service(scope) => scope.may_decide(code),
            Caller::Anonymous | Caller::Server => true,
        }
    }

    /// Whether the caller may say a representative decided (and name them).
    pub(super) fn may_represent(self) -> bool {
        !matches!(self, Caller::Anonymous)
    }

    /// Whether the caller may name subjects: by an external id, or by their full name.
    pub(super) fn may_name_subjects(self) -> bool {
        !matches!(self, Caller::Anonymous)
    }

    /// The longest page the caller may record, in bytes.
    pub(super) fn page_max(self) -> usize {
        match self {
            Caller::Anonymous => PageUrl::ANONYMOUS_MAX_LEN,
            Caller::Service(_) | Caller::Server => PageUrl::MAX_LEN,
        }
    }
}

/// What a consent request is checked against: the current policy, the earlier versions the server
/// still serves, the caller, and whether the request came with Global Privacy Control (`Sec-GPC: 1`).
///
/// ```
/// use consent_core::{Caller, Policy, PolicyVersion, RequestContext};
/// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
/// let earlier: Vec<PolicyVersion> = vec!["2024-09-01".parse()?];
/// let served = |v: PolicyVersion| earlier.contains(&v);
/// let mut cx = RequestContext::new(&policy, Caller::Anonymous);
/// cx.served = &served;
/// cx.gpc = true;
/// # let _ = cx;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub struct RequestContext<'a> {
    /// The current policy: a request must be made under its version.
    pub policy: &'a Policy,
    /// Whether the server serves this (earlier) version: a request under it is `policy_outdated`
    /// (409: ask again), under any other `unknown_policy_version`. By default none is.
    pub served: &'a dyn Fn(PolicyVersion) -> bool,
    /// Who sends the request.
    pub caller: Caller<'a>,
    /// The request came with Global Privacy Control.
    pub gpc: bool,
}

fn none_served(_: PolicyVersion) -> bool {
    false
}

impl<'a> RequestContext<'a> {
    /// Checks against `policy` for `caller`, serving no earlier version, without GPC.
    pub fn new(policy: &'a Policy, caller: Caller<'a>) -> RequestContext<'a> {
        RequestContext {
            policy,
            served: &none_served,
            caller,
            gpc: false,
        }
    }
}

impl fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("policy", &self.policy.version())
            .field("caller", &self.caller)
            .field("gpc", &self.gpc)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::super::testing::{answer, policy, with};
    use super::*;
    use crate::{
        Choice, CollectionPointRequest, ConsentRequest, DecidedBy, Decisions, PurposeKind,
        PurposeSet, RequestErrorCode, SubjectSelector,
    };

    /// A request the server makes itself: the policy's default language, decided by the subject.
    fn by_server(
        policy: &Policy,
        decisions: Decisions,
        method: Method,
        kind: CollectionKind,
    ) -> ConsentRequest {
        ConsentRequest::new(
            policy.version(),
            decisions,
            method,
            policy.default_language(),
            CollectionPointRequest::new(kind),
        )
    }

    #[test]
    fn the_servers_own_requests_pass_for_the_server_only() {
        let policy = policy();
        let withdraw_all: Decisions = policy
            .purposes()
            .iter()
            .filter(|p| p.needs_consent())
            .map(|p| (p.id, Choice::Withdrawn))
            .collect();
        let unsubscribe: Decisions = policy
            .purposes_of(PurposeKind::Marketing)
            .filter(|p| p.needs_consent())
            .map(|p| (p.id, Choice::Withdrawn))
            .collect();
        for (decisions, method, kind) in [
            (withdraw_all, Method::Withdraw, CollectionKind::Staff),
            (unsubscribe, Method::Unsubscribe, CollectionKind::Email),
        ] {
            let request = by_server(&policy, decisions, method, kind);
            let checked = request
                .check(&RequestContext::new(&policy, Caller::Server))
                .unwrap();
            assert_eq!(checked.request(), &request);
            assert!(checked.given().is_empty());
            assert_eq!(checked.refused().len(), request.decisions.len());
            let everything = ServiceScope::everything(&policy);
            for caller in [Caller::Anonymous, Caller::Service(&everything)] {
                let err = request
                    .check(&RequestContext::new(&policy, caller))
                    .unwrap_err();
                assert_eq!(err.code, RequestErrorCode::Forbidden, "{caller:?} {method}");
            }
        }
    }

    #[test]
    fn anonymous_callers_record_a_devices_own_banner_choice_only() {
        let policy = policy();
        let banner = ConsentRequest::new(
            policy.version(),
            [("cookies-analytics".parse().unwrap(), Choice::Given)]
                .into_iter()
                .collect(),
            Method::Custom,
            policy.default_language(),
            CollectionPointRequest::new(CollectionKind::Banner),
        );
        let everything = ServiceScope::everything(&policy);
        let forbidden = |field: &str| ("forbidden".to_owned(), field.to_owned());
        let ok = ("ok".to_owned(), String::new());
        let representative = DecidedBy::Representative {
            relation: crate::Relation::Parent,
            name: Some("Asel N.".parse().unwrap()),
        };
        let cases: Vec<(ConsentRequest, (String, String))> = vec![
            (banner.clone(), ok.clone()),
            (
                with(&banner, |r| r.method = Method::Form),
                forbidden("method"),
            ),
            (
                with(&banner, |r| r.method = Method::Api),
                forbidden("method"),
            ),
            (
                with(&banner, |r| r.collection_point.kind = CollectionKind::Form),
                forbidden("collection_point.kind"),
            ),
            (
                with(&banner, |r| r.collection_point.kind = CollectionKind::Api),
                forbidden("collection_point.kind"),
            ),
            (
                with(&banner, |r| r.by = representative.clone()),
                forbidden("by.kind"),
            ),
            (
                with(&banner, |r| {
                    r.by = DecidedBy::Representative {
                        relation: crate::Relation::Other,
                        name: None,
                    }
                }),
                forbidden("by.kind"),
            ),
            (
                with(&banner, |r| {
                    r.subject_name = Some("Aigerim".parse().unwrap())
                }),
                forbidden("subject_name"),
            ),
            (
                with(&banner, |r| {
                    r.subject = Some(SubjectSelector::External("a@b.kz".parse().unwrap()))
                }),
                forbidden("subject.id"),
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(
                answer(&policy, &request, Caller::Anonymous),
                expected,
                "{request:?}"
            );
            // A service with every purpose and kind, and the server, may record each of them, except
            // that a form or the API does not ask for cookie purposes (the policy's collection points).
            let expected = match request.collection_point.kind {
                CollectionKind::Form | CollectionKind::Api => (
                    "outside_collection_point".to_owned(),
                    "decisions.cookies-analytics".to_owned(),
                ),
                _ => ok.clone(),
            };
            assert_eq!(
                answer(&policy, &request, Caller::Service(&everything)),
                expected,
                "{request:?}"
            );
            assert_eq!(
                answer(&policy, &request, Caller::Server),
                expected,
                "{request:?}"
            );
        }
    }

    #[test]
    fn an_anonymous_callers_page_is_shorter() {
        let policy = policy();
        let page =
            |n: usize| -> PageUrl { format!("https://a/{}", "p".repeat(n - 10)).parse().unwrap() };
        let mut request = ConsentRequest::new(
            policy.version(),
            [("cookies-analytics".parse().unwrap(), Choice::Given)]
                .into_iter()
                .collect(),
            Method::Custom,
            policy.default_language(),
            CollectionPointRequest::new(CollectionKind::Banner),
        );
        let everything = ServiceScope::everything(&policy);
        request.collection_point.page = Some(page(PageUrl::ANONYMOUS_MAX_LEN));
        assert_eq!(answer(&policy, &request, Caller::Anonymous).0, "ok");
        request.collection_point.page = Some(page(PageUrl::ANONYMOUS_MAX_LEN + 1));
        assert_eq!(
            answer(&policy, &request, Caller::Anonymous),
            ("invalid_field".into(), "collection_point.page".into())
        );
        request.collection_point.page = Some(page(PageUrl::MAX_LEN));
        assert_eq!(
            answer(&policy, &request, Caller::Service(&everything)).0,
            "ok"
        );
        assert_eq!(answer(&policy, &request, Caller::Server).0, "ok");
    }

    #[test]
    fn a_service_records_the_purposes_and_collection_points_of_its_scope() {
        let policy = policy();
        let portal =
            ServiceScope::parse(&policy, &["application-review", "scholarships"], &["form"])
                .unwrap();
        let decisions = |ids: &[&str]| -> Decisions {
            ids.iter()
                .map(|id| (id.parse().unwrap(), Choice::Given))
                .collect()
        };
        let form = ConsentRequest::new(
            policy.version(),
            decisions(&["application-review", "scholarships"]),
            Method::Form,
            policy.default_language(),
            CollectionPointRequest::new(CollectionKind::Form),
        );
        let service = Caller::Service(&portal);
        assert_eq!(answer(&policy, &form, service).0, "ok");
        // A purpose outside the scope is named, in purpose-id order after the unknown ones.
        let more = with(&form, |r| {
            r.decisions = decisions(&["scholarships", "marketing", "events"])
        });
        assert_eq!(
            answer(&policy, &more, service),
            ("forbidden".into(), "decisions.events".into())
        );
        let unknown = with(&form, |r| r.decisions = decisions(&["marketing", "nope"]));
        assert_eq!(
            answer(&policy, &unknown, service),
            ("forbidden".into(), "decisions.marketing".into())
        );
        // A kind outside it.
        for kind in [
            CollectionKind::Api,
            CollectionKind::Banner,
            CollectionKind::Email,
        ] {
            let r = with(&form, |r| r.collection_point.kind = kind);
            assert_eq!(
                answer(&policy, &r, service),
                ("forbidden".into(), "collection_point.kind".into()),
                "{kind}"
            );
        }
        // Nothing at all.
        assert_eq!(
            answer(&policy, &form, Caller::Service(&ServiceScope::NOTHING)),
            ("forbidden".into(), "decisions.application-review".into())
        );
    }

    #[test]
    fn global_privacy_control_refuses_only_what_the_caller_may_decide() {
        let policy = policy();
        let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
        let request = ConsentRequest::new(
            policy.version(),
            [("application-review".parse().unwrap(), Choice::Given)]
                .into_iter()
                .collect(),
            Method::Form,
            policy.default_language(),
            CollectionPointRequest::new(CollectionKind::Form),
        );
        let refused = |scope: &ServiceScope| {
            let mut cx = RequestContext::new(&policy, Caller::Service(scope));
            cx.gpc = true;
            request.check(&cx).unwrap().refused()
        };
        let portal = ServiceScope::parse(&policy, &["application-review"], &["form"]).unwrap();
        assert_eq!(refused(&portal), PurposeSet::EMPTY);
        let with_marketing =
            ServiceScope::parse(&policy, &["application-review", "marketing"], &["form"]).unwrap();
        assert_eq!(refused(&with_marketing), PurposeSet::of(code("marketing")));
        // A form does not ask for the marketing cookies: GPC refuses nothing it does not ask for.
        assert_eq!(
            refused(&ServiceScope::everything(&policy)),
            PurposeSet::of(code("marketing"))
        );
    }
}
