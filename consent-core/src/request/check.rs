//! Checking a consent request against the current policy and the caller, and what that gives: a
//! [`CheckedRequest`], ready to become a receipt.
//!
//! The checks run in one fixed order, the one the server has always answered in (`openapi.json`
//! describes it), because a client sees which error comes first: the policy version (a 409 tells the
//! banner to fetch the new policy, whatever else is wrong), the method, the language, the decisions,
//! whether the method agrees with them, Global Privacy Control, the collection point, who decided, the
//! subject's name, the subject. The same walk reads a typed [`ConsentRequest`] and, with the `json`
//! feature, the fields of a JSON body as they are parsed, so that a body with a malformed field late in
//! that order still gets the answer of an earlier check.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::{
    BuildHash, CollectionPointRequest, ConsentRequest, DecidedBy, ExternalId, PageUrl, PersonName,
    RequestError, RequestErrorCode, ServiceScope, SubjectSelector,
};
use crate::{
    Choice, CollectionKind, Lang, Method, Policy, PolicyVersion, PurposeId, PurposeScope,
    PurposeSet, SubjectId,
};

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
    fn may_use_method(self, method: Method) -> bool {
        !matches!(method, Method::Api | Method::Form | Method::Unsubscribe)
            || !matches!(self, Caller::Anonymous)
    }

    fn may_use_kind(self, kind: CollectionKind) -> bool {
        match self {
            Caller::Anonymous => kind == CollectionKind::Banner,
            Caller::Service(scope) => scope.may_collect(kind),
            Caller::Server => true,
        }
    }

    /// Whether the caller may decide the purpose with this code (one that needs consent).
    fn may_decide(self, code: u8) -> bool {
        match self {
            Caller::Service(scope) => scope.may_decide(code),
            Caller::Anonymous | Caller::Server => true,
        }
    }

    /// Whether the caller may say a representative decided (and name them).
    fn may_represent(self) -> bool {
        !matches!(self, Caller::Anonymous)
    }

    /// Whether the caller may name subjects: by an external id, or by their full name.
    fn may_name_subjects(self) -> bool {
        !matches!(self, Caller::Anonymous)
    }

    /// The longest page the caller may record, in bytes.
    fn page_max(self) -> usize {
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

/// A consent request that passed every check against the policy and the caller: what the server
/// records. Its decisions include the purposes Global Privacy Control refused.
///
/// ```
/// use consent_core::{Caller, Choice, ConsentRequest, Policy, PurposeSet, RequestContext};
/// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
/// let body = br#"{"policy_version": "2025-03-26", "method": "accept-all", "language": "kk",
///     "decisions": {"cookies-analytics": "given", "cookies-preferences": "given"},
///     "collection_point": {"kind": "banner"}}"#;
/// let mut cx = RequestContext::new(&policy, Caller::Anonymous);
/// cx.gpc = true;
/// let checked = ConsentRequest::from_json(body)?.check(&cx)?;
/// let marketing = "cookies-marketing".parse()?;
/// assert_eq!(checked.request().decisions.get(marketing), Some(Choice::Refused));
/// let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
/// assert!(checked.refused().contains(code("cookies-marketing")));
/// assert!(checked.given().contains(code("cookies-analytics")));
/// assert!(checked.gpc() && checked.subject().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckedRequest {
    request: ConsentRequest,
    gpc: bool,
    given: PurposeSet,
    refused: PurposeSet,
}

impl CheckedRequest {
    /// The request as it will be recorded: its decisions include those of Global Privacy Control.
    pub fn request(&self) -> &ConsentRequest {
        &self.request
    }

    /// Whose choice it is; `None`: the server draws a new device id.
    pub fn subject(&self) -> Option<&SubjectSelector> {
        self.request.subject.as_ref()
    }

    /// Whether the request came with Global Privacy Control.
    pub fn gpc(&self) -> bool {
        self.gpc
    }

    /// The purposes given, by code (the consent token's `given`).
    pub fn given(&self) -> PurposeSet {
        self.given
    }

    /// The purposes refused or withdrawn, by code (the consent token's `refused`).
    pub fn refused(&self) -> PurposeSet {
        self.refused
    }

    /// What the server signs: this request with the receipt id, the server's time and URL, and the
    /// subject's pseudonym (or device id), which the server resolves from [`CheckedRequest::subject`].
    ///
    /// ```
    /// use consent_core::{Caller, ConsentRequest, Policy, ReceiptId, ReceiptPayload, RequestContext,
    ///     Timestamp};
    /// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
    /// let body = br#"{"policy_version": "2025-03-26", "decisions": {"cookies-analytics": "given"},
    ///     "method": "custom", "language": "en", "collection_point": {"kind": "banner"}}"#;
    /// let checked = ConsentRequest::from_json(body)?.check(&RequestContext::new(&policy, Caller::Anonymous))?;
    /// let req = checked.into_receipt_request(
    ///     ReceiptId([1; 16]),
    ///     Timestamp::from_unix(1_750_000_000),
    ///     "https://consent.invisionu.education",
    ///     "dev:AAAAAAAAAAAAAAAAAAAAAA",
    /// );
    /// let payload = ReceiptPayload::new(&policy, req)?;
    /// assert_eq!(payload.method.as_str(), "custom");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "receipts")]
    pub fn into_receipt_request(
        self,
        id: crate::ReceiptId,
        issued_at: crate::Timestamp,
        issuer: impl Into<String>,
        subject: impl Into<String>,
    ) -> crate::ReceiptRequest {
        let r = self.request;
        let point = crate::CollectionPoint {
            kind: r.collection_point.kind,
            build: r.collection_point.build.map(|b| b.to_hex()),
            page: r.collection_point.page.map(PageUrl::into_string),
        };
        let mut req = crate::ReceiptRequest::new(
            id,
            issued_at,
            issuer,
            subject,
            r.language,
            r.method,
            point,
            r.decisions.into(),
        );
        req.by = r.by.actor();
        req.representative = match r.by {
            DecidedBy::Representative { name, .. } => name.map(PersonName::into_string),
            DecidedBy::Subject => None,
        };
        req.subject_name = r.subject_name.map(PersonName::into_string);
        req.gpc = self.gpc;
        req
    }
}

impl ConsentRequest {
    /// Checks the request against `cx`: the policy version is the current one; the method, collection
    /// point, purposes, representative, subject and names are the caller's to use, and the page no
    /// longer than the caller may send ([`Caller`]); the language is one of the policy's; at least one
    /// and at most as many decisions as the policy has purposes, each for a purpose of the policy that
    /// needs consent; the method agrees with the decisions ("accept all" gives every purpose it lists,
    /// "reject all" and a withdrawal none: [`Method::gives`]); method `gpc` only with the signal. Under
    /// Global Privacy Control, the marketing purposes the request leaves undecided (and the caller may
    /// decide) are refused ([`PurposeScope::gpc_refuses`]), unless it is a withdrawal.
    ///
    /// The first problem is returned, in the order of this list as the server has always checked it
    /// (`policy_version`, `method`, `language`, `decisions`, consistency, `collection_point`, `by`,
    /// `subject_name`, `subject`).
    ///
    /// ```
    /// use consent_core::{Caller, ConsentRequest, Policy, RequestContext, RequestErrorCode};
    /// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
    /// let body = br#"{"policy_version": "2025-03-26", "decisions": {"cookies-marketing": "refused"},
    ///     "method": "accept-all", "language": "en", "collection_point": {"kind": "banner"}}"#;
    /// let err = ConsentRequest::from_json(body)?
    ///     .check(&RequestContext::new(&policy, Caller::Anonymous))
    ///     .unwrap_err();
    /// assert_eq!(err.code, RequestErrorCode::InconsistentMethod);
    /// assert_eq!(err.message, "accept-all gives every purpose it lists");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, cx: &RequestContext<'_>) -> Result<CheckedRequest, RequestError> {
        walk(self, cx)
    }
}

/// `subject` as a source has it.
pub(crate) enum SubjectField {
    /// No subject (or an object with neither member).
    Absent,
    /// `device`, parsed.
    Device(Result<SubjectId, RequestError>),
    /// `id`, parsed (reported only if the caller may name subjects).
    External(Result<ExternalId, RequestError>),
}

/// The fields of a request, each parsed when the walk asks for it: a typed [`ConsentRequest`], or a
/// JSON body's raw fields. Syntax errors of the fields come from here; the walk decides when they are
/// reported.
pub(crate) trait Source {
    fn policy_version(&self) -> Result<PolicyVersion, RequestError>;
    fn method(&self) -> Result<Method, RequestError>;
    /// `None` when not a language code: the walk reports it with the policy's languages.
    fn language(&self) -> Option<Lang>;
    fn decision_count(&self) -> usize;
    /// Each decision, in purpose-id order: the id as sent, the id parsed, the choice parsed.
    fn decisions(&self) -> impl Iterator<Item = (&str, Option<PurposeId>, Option<Choice>)>;
    fn kind(&self) -> Result<CollectionKind, RequestError>;
    fn build(&self) -> Result<Option<BuildHash>, RequestError>;
    fn page(&self) -> Result<Option<PageUrl>, RequestError>;
    /// Who decided; a representative is `forbidden` at `by.kind` unless `may_represent`, before their
    /// relation and name are read.
    fn by(&self, may_represent: bool) -> Result<DecidedBy, RequestError>;
    fn subject_name(&self) -> Option<Result<PersonName, RequestError>>;
    /// An error when the subject is given both ways.
    fn subject(&self) -> Result<SubjectField, RequestError>;
}

/// A representative named by a caller that may not name one.
pub(crate) fn forbidden_representative() -> RequestError {
    RequestError::forbidden("by.kind", "record a representative's choice")
}

/// The message of a choice that is not one.
pub(crate) const CHOICE_MESSAGE: &str = "must be \"given\", \"refused\" or \"withdrawn\"";

/// The checks, in order (see the module's description).
pub(crate) fn walk(
    src: &impl Source,
    cx: &RequestContext<'_>,
) -> Result<CheckedRequest, RequestError> {
    use RequestErrorCode as Code;
    let policy = cx.policy;
    let version = src.policy_version()?;
    if version != policy.version() {
        let code = if (cx.served)(version) {
            Code::PolicyOutdated
        } else {
            Code::UnknownPolicyVersion
        };
        return Err(RequestError::at(
            code,
            "policy_version",
            format!(
                "policy {version} is not the current one: {}; fetch /v1/policy and ask again",
                policy.version()
            ),
        ));
    }
    let method = src.method()?;
    if !cx.caller.may_use_method(method) {
        return Err(RequestError::forbidden(
            "method",
            &format!("record method `{method}`"),
        ));
    }
    let language = src
        .language()
        .filter(|l| policy.languages().contains(l))
        .ok_or_else(|| {
            let langs: Vec<&str> = policy.languages().iter().map(|l| l.as_str()).collect();
            RequestError::invalid("language", format!("must be one of {}", langs.join(", ")))
        })?;
    if src.decision_count() == 0 {
        return Err(RequestError::invalid(
            "decisions",
            "decide at least one purpose",
        ));
    }
    if src.decision_count() > policy.purposes().len() {
        return Err(RequestError::invalid(
            "decisions",
            "more decisions than the policy has purposes",
        ));
    }
    let mut decisions = super::Decisions::new();
    let (mut listed, mut given) = (PurposeSet::EMPTY, PurposeSet::EMPTY);
    for (text, id, choice) in src.decisions() {
        let field = || format!("decisions.{text}");
        let purpose = id.and_then(|id| policy.purpose(id)).ok_or_else(|| {
            RequestError::at(
                Code::UnknownPurpose,
                field(),
                format!("policy {} has no purpose `{text}`", policy.version()),
            )
        })?;
        if !purpose.needs_consent() {
            return Err(RequestError::at(
                Code::ConsentNotRequired,
                field(),
                format!("`{text}` needs no consent and cannot be decided"),
            ));
        }
        if !cx.caller.may_decide(purpose.code) {
            return Err(RequestError::forbidden(
                &field(),
                &format!("record decisions about `{text}`"),
            ));
        }
        let choice = choice.ok_or_else(|| RequestError::invalid(field(), CHOICE_MESSAGE))?;
        decisions.insert(purpose.id, choice);
        listed.insert(purpose.code);
        if choice == Choice::Given {
            given.insert(purpose.code);
        }
    }
    if method.gives(listed, given) != given {
        let message = match method {
            Method::AcceptAll => "accept-all gives every purpose it lists",
            Method::RejectAll => "reject-all gives no purpose",
            _ => "a withdrawal gives no purpose",
        };
        return Err(RequestError::at(
            Code::InconsistentMethod,
            "method",
            message,
        ));
    }
    if method == Method::Gpc && !cx.gpc {
        return Err(RequestError::at(
            Code::InconsistentMethod,
            "method",
            "method `gpc` needs the Sec-GPC: 1 header",
        ));
    }
    let kind = src.kind()?;
    if !cx.caller.may_use_kind(kind) {
        return Err(RequestError::forbidden(
            "collection_point.kind",
            &format!("record a `{kind}` collection point"),
        ));
    }
    let scope = collection_scope(policy, kind, &decisions)?;
    // Global Privacy Control: marketing purposes not decided explicitly are refused, and it is
    // recorded. An explicit choice for a purpose stands (the person chose it with GPC on); a withdrawal
    // adds nothing; a collection point refuses only purposes it asks for, and a service only those it
    // may decide.
    let mut refused = listed - given;
    if cx.gpc {
        let gpc_refuses: PurposeSet = scope
            .gpc_refuses(method, listed)
            .codes()
            .filter(|code| cx.caller.may_decide(*code))
            .collect();
        for p in policy
            .purposes()
            .iter()
            .filter(|p| gpc_refuses.contains(p.code))
        {
            decisions.insert(p.id, Choice::Refused);
        }
        refused |= gpc_refuses;
    }
    let build = src.build()?;
    let page = src.page()?;
    if let Some(page) = &page
        && page.as_str().len() > cx.caller.page_max()
    {
        return Err(RequestError::invalid(
            "collection_point.page",
            format!(
                "an anonymous caller's page must be at most {} bytes",
                PageUrl::ANONYMOUS_MAX_LEN
            ),
        ));
    }
    let by = src.by(cx.caller.may_represent())?;
    let subject_name = match src.subject_name() {
        None => None,
        Some(_) if !cx.caller.may_name_subjects() => {
            return Err(RequestError::forbidden(
                "subject_name",
                "record a subject's name",
            ));
        }
        Some(name) => Some(name?),
    };
    let subject = match src.subject()? {
        SubjectField::Absent => None,
        SubjectField::External(_) if !cx.caller.may_name_subjects() => {
            return Err(RequestError::forbidden(
                "subject.id",
                "record consents for an authenticated subject; anonymous callers may only use a device id",
            ));
        }
        SubjectField::External(id) => Some(SubjectSelector::External(id?)),
        SubjectField::Device(id) => Some(SubjectSelector::Device(id?)),
    };
    let mut request = ConsentRequest::new(
        version,
        decisions,
        method,
        language,
        CollectionPointRequest { kind, build, page },
    );
    request.subject = subject;
    request.by = by;
    request.subject_name = subject_name;
    Ok(CheckedRequest {
        request,
        gpc: cx.gpc,
        given,
        refused,
    })
}

/// The purposes a collection point of `kind` deals with: for `banner`, `form` and `api`, those whose
/// `collection_points` list it (every decision must be one of them: `outside_collection_point`,
/// naming the first in purpose-id order); the server's own `email` and `staff`, which only withdraw,
/// deal with every purpose.
fn collection_scope(
    policy: &Policy,
    kind: CollectionKind,
    decisions: &super::Decisions,
) -> Result<PurposeScope, RequestError> {
    let all = PurposeScope::of_policy(policy);
    if matches!(kind, CollectionKind::Email | CollectionKind::Staff) {
        return Ok(all);
    }
    let scope = all.within(policy.purposes_at(kind));
    for (id, _) in decisions.iter() {
        if policy
            .purpose(*id)
            .is_some_and(|p| !scope.asked.contains(p.code))
        {
            return Err(RequestError::at(
                RequestErrorCode::OutsideCollectionPoint,
                format!("decisions.{id}"),
                format!(
                    "a `{kind}` collection point does not ask for `{id}` (the policy's collection_points for it)"
                ),
            ));
        }
    }
    Ok(scope)
}

/// A typed request: every field is already parsed, only the checks against the policy and the caller
/// can fail.
impl Source for ConsentRequest {
    fn policy_version(&self) -> Result<PolicyVersion, RequestError> {
        Ok(self.policy_version)
    }
    fn method(&self) -> Result<Method, RequestError> {
        Ok(self.method)
    }
    fn language(&self) -> Option<Lang> {
        Some(self.language)
    }
    fn decision_count(&self) -> usize {
        self.decisions.len()
    }
    fn decisions(&self) -> impl Iterator<Item = (&str, Option<PurposeId>, Option<Choice>)> {
        self.decisions
            .iter()
            .map(|(p, c)| (p.as_str(), Some(*p), Some(*c)))
    }
    fn kind(&self) -> Result<CollectionKind, RequestError> {
        Ok(self.collection_point.kind)
    }
    fn build(&self) -> Result<Option<BuildHash>, RequestError> {
        Ok(self.collection_point.build)
    }
    fn page(&self) -> Result<Option<PageUrl>, RequestError> {
        Ok(self.collection_point.page.clone())
    }
    fn by(&self, may_represent: bool) -> Result<DecidedBy, RequestError> {
        match &self.by {
            DecidedBy::Representative { .. } if !may_represent => Err(forbidden_representative()),
            by => Ok(by.clone()),
        }
    }
    fn subject_name(&self) -> Option<Result<PersonName, RequestError>> {
        self.subject_name.clone().map(Ok)
    }
    fn subject(&self) -> Result<SubjectField, RequestError> {
        Ok(match &self.subject {
            None => SubjectField::Absent,
            Some(SubjectSelector::Device(id)) => SubjectField::Device(Ok(*id)),
            Some(SubjectSelector::External(id)) => SubjectField::External(Ok(id.clone())),
        })
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;
    use crate::{Choice, Decisions, PurposeKind};

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml")).unwrap()
    }

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

    /// `request` with `change` applied.
    fn with(request: &ConsentRequest, change: impl FnOnce(&mut ConsentRequest)) -> ConsentRequest {
        let mut r = request.clone();
        change(&mut r);
        r
    }

    /// The answer to `request` from `caller` as `(code, field)`, `("ok", "")` when it passes.
    fn answer(policy: &Policy, request: &ConsentRequest, caller: Caller<'_>) -> (String, String) {
        match request.check(&RequestContext::new(policy, caller)) {
            Ok(_) => ("ok".into(), String::new()),
            Err(e) => (e.code.as_str().into(), e.field.unwrap_or_default()),
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

    #[test]
    fn a_collection_point_decides_only_the_purposes_it_asks_for() {
        let policy = policy();
        let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
        let banner = |decisions: &[(&str, Choice)], method| {
            ConsentRequest::new(
                policy.version(),
                decisions
                    .iter()
                    .map(|(id, c)| (id.parse().unwrap(), *c))
                    .collect(),
                method,
                policy.default_language(),
                CollectionPointRequest::new(CollectionKind::Banner),
            )
        };
        let everything = ServiceScope::everything(&policy);
        // A banner's "accept all" that also gives the newsletter, or a banner's refusal of it: refused,
        // for every caller, naming the purpose.
        for request in [
            banner(
                &[
                    ("cookies-analytics", Choice::Given),
                    ("marketing", Choice::Given),
                ],
                Method::AcceptAll,
            ),
            banner(
                &[("public-dissemination", Choice::Refused)],
                Method::RejectAll,
            ),
            banner(&[("marketing", Choice::Withdrawn)], Method::Withdraw),
        ] {
            let field = request
                .decisions
                .iter()
                .find(|(p, _)| !p.as_str().starts_with("cookies-"))
                .map(|(p, _)| format!("decisions.{p}"))
                .unwrap();
            for caller in [
                Caller::Anonymous,
                Caller::Service(&everything),
                Caller::Server,
            ] {
                assert_eq!(
                    answer(&policy, &request, caller),
                    ("outside_collection_point".into(), field.clone()),
                    "{caller:?} {request:?}"
                );
            }
        }
        // Under GPC, a banner's "accept all" refuses the marketing cookies, not the newsletter, which
        // the banner never asks for.
        let all = banner(
            &[
                ("cookies-preferences", Choice::Given),
                ("cookies-analytics", Choice::Given),
            ],
            Method::AcceptAll,
        );
        let mut cx = RequestContext::new(&policy, Caller::Anonymous);
        cx.gpc = true;
        let checked = all.check(&cx).unwrap();
        assert_eq!(checked.refused(), PurposeSet::of(code("cookies-marketing")));
        assert_eq!(checked.request().decisions.len(), 3);
        // The server's own kinds deal with every purpose: a staff withdrawal of the newsletter passes.
        let staff = ConsentRequest::new(
            policy.version(),
            [("marketing".parse().unwrap(), Choice::Withdrawn)]
                .into_iter()
                .collect(),
            Method::Withdraw,
            policy.default_language(),
            CollectionPointRequest::new(CollectionKind::Staff),
        );
        assert_eq!(answer(&policy, &staff, Caller::Server).0, "ok");
    }

    #[cfg(feature = "receipts")]
    #[test]
    fn a_checked_request_becomes_the_receipt_request_field_for_field() {
        use crate::{Actor, ReceiptId, Relation, Timestamp};
        let policy = policy();
        let mut point = CollectionPointRequest::new(CollectionKind::Form);
        point.build = Some(BuildHash::from_sha256([0xab; 32]));
        point.page = Some("https://invisionu.education/apply?x".parse().unwrap());
        let mut request = ConsentRequest::new(
            policy.version(),
            [("marketing".parse().unwrap(), Choice::Given)]
                .into_iter()
                .collect(),
            Method::Form,
            crate::Lang::RU,
            point,
        );
        request.by = DecidedBy::Representative {
            relation: Relation::Guardian,
            name: Some("Asel N.".parse().unwrap()),
        };
        request.subject_name = Some("Aigerim N.".parse().unwrap());
        request.subject = Some(SubjectSelector::External("a@b.kz".parse().unwrap()));
        let scope = ServiceScope::everything(&policy);
        let mut cx = RequestContext::new(&policy, Caller::Service(&scope));
        cx.gpc = true;
        let r = request.check(&cx).unwrap().into_receipt_request(
            ReceiptId([1; 16]),
            Timestamp::from_unix(1_750_000_000),
            "https://consent.invisionu.education",
            "sub:AAAAAAAAAAAAAAAAAAAAAA",
        );
        assert_eq!(r.id, ReceiptId([1; 16]));
        assert_eq!(r.subject, "sub:AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!((r.lang, r.method), (crate::Lang::RU, Method::Form));
        assert_eq!(r.collection.kind, CollectionKind::Form);
        assert_eq!(
            r.collection.build.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(
            r.collection.page.as_deref(),
            Some("https://invisionu.education/apply")
        );
        assert_eq!(r.by, Actor::Representative(Relation::Guardian));
        assert_eq!(r.representative.as_deref(), Some("Asel N."));
        assert_eq!(r.subject_name.as_deref(), Some("Aigerim N."));
        assert!(r.gpc);
        // GPC refuses nothing more: the form decided the newsletter, and does not ask for the marketing
        // cookies.
        let marketing_cookies = "cookies-marketing".parse().unwrap();
        assert_eq!(r.decisions.get(&marketing_cookies), None);
        assert_eq!(r.decisions.len(), 1);
    }
}
