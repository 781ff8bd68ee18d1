//! A consent request that passed the checks ([`CheckedRequest`]), and what the server signs from it.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{ConsentRequest, SubjectSelector};
#[cfg(feature = "receipts")]
use super::{DecidedBy, PageUrl, PersonName};
use crate::PurposeSet;

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
    pub(super) request: ConsentRequest,
    pub(super) gpc: bool,
    pub(super) given: PurposeSet,
    pub(super) refused: PurposeSet,
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

#[cfg(all(test, feature = "toml", feature = "receipts"))]
mod tests {
    use super::super::testing::policy;
    use super::*;
    use crate::{
        BuildHash, Caller, Choice, CollectionKind, CollectionPointRequest, Method, RequestContext,
        ServiceScope,
    };

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
