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

use super::{
    BuildHash, CheckedRequest, CollectionPointRequest, ConsentRequest, DecidedBy, ExternalId,
    PageUrl, PersonName, RequestContext, RequestError, RequestErrorCode, SubjectSelector,
};
use crate::{
    Choice, CollectionKind, Lang, Method, Policy, PolicyVersion, PurposeId, PurposeScope,
    PurposeSet, SubjectId,
};

impl ConsentRequest {
    /// Checks the request against `cx`: the policy version is the current one; the method, collection
    /// point, purposes, representative, subject and names are the caller's to use, and the page no
    /// longer than the caller may send ([`Caller`](super::Caller)); the language is one of the policy's; at least one
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
    use super::super::testing::{answer, policy};
    use super::*;
    use crate::{Caller, ServiceScope};

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
}
