//! The consent request (`POST /v1/consents`): its type, its JSON form (written here without a JSON
//! library, as JSON text or through a [`RequestWriter`] such as the banner's JS objects; read with the
//! `json` feature for the server) and its checks against a policy. The wire format is in
//! `spec/SPEC.md` §4; this module is its only definition.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::{Actor, CollectionKind, Lang, Method, PolicyVersion, Relation, SubjectId};

mod caller;
mod check;
mod checked;
mod decisions;
mod error;
#[cfg(feature = "json")]
mod json_object;
#[cfg(feature = "json")]
mod read;
mod scope;
#[cfg(all(test, feature = "toml"))]
mod testing;
mod values;
mod write;

pub use caller::{Caller, RequestContext};
pub use checked::CheckedRequest;
pub use decisions::Decisions;
pub use error::{RequestError, RequestErrorCode};
#[cfg(feature = "json")]
pub use json_object::read_json_object;
pub use scope::{ScopeError, ServiceScope};
pub use values::{BuildHash, ExternalId, PageUrl, PersonName};
pub use write::RequestWriter;

/// A consent request: a person's choice as a banner, a form or a backend service sends it to the
/// consent server, before the server has checked it against the policy ([`ConsentRequest::check`]).
///
/// Its JSON form is written by [`ConsentRequest::to_json`], or member by member into a
/// [`RequestWriter`] by [`ConsentRequest::write`] (no JSON library needed: the banner builds JS objects
/// that the browser writes), and read by `ConsentRequest::from_json` (feature `json`, the server's).
/// [`ConsentRequest::FIELDS`] and the `FIELDS` of its parts name the members of the JSON objects;
/// `consent-server/openapi.json` is tested against them.
///
/// ```
/// use consent_core::{Choice, CollectionKind, CollectionPointRequest, ConsentRequest, Decisions,
///     Lang, Method, SubjectSelector};
///
/// let decisions: Decisions = [("cookies-analytics".parse()?, Choice::Given)].into_iter().collect();
/// let mut request = ConsentRequest::new(
///     "2025-03-26".parse()?,
///     decisions,
///     Method::Custom,
///     Lang::EN,
///     CollectionPointRequest::new(CollectionKind::Banner),
/// );
/// request.subject = Some(SubjectSelector::Device(consent_core::SubjectId([7; 16])));
/// assert_eq!(
///     request.to_json(),
///     r#"{"policy_version":"2025-03-26","decisions":{"cookies-analytics":"given"},"method":"custom","language":"en","collection_point":{"kind":"banner"},"subject":{"device":"BwcHBwcHBwcHBwcHBwcHBw"}}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct ConsentRequest {
    /// The version of the policy the person saw (`policy_version`).
    pub policy_version: PolicyVersion,
    /// Purpose → given, refused or withdrawn (`decisions`).
    pub decisions: Decisions,
    /// How the choice was made (`method`).
    pub method: Method,
    /// The language the texts were shown in (`language`).
    pub language: Lang,
    /// Where it was collected (`collection_point`).
    pub collection_point: CollectionPointRequest,
    /// Whose choice it is (`subject`); `None`: the server draws a new device id.
    pub subject: Option<SubjectSelector>,
    /// Who decided (`by`): the subject unless a representative is named.
    pub by: DecidedBy,
    /// The subject's full name (`subject_name`), when known (forms; Law 94-V Art. 8(4)(2)).
    pub subject_name: Option<PersonName>,
}

impl ConsentRequest {
    /// The members of the request's JSON object, in the order they are written.
    pub const FIELDS: &'static [&'static str] = &[
        "policy_version",
        "decisions",
        "method",
        "language",
        "collection_point",
        "subject",
        "by",
        "subject_name",
    ];
    /// The members that must be present (the others may also be `null`).
    pub const REQUIRED: &'static [&'static str] = &[
        "policy_version",
        "decisions",
        "method",
        "language",
        "collection_point",
    ];

    /// A request with the required fields; no subject (the server draws a device id), decided by the
    /// subject, no name.
    pub fn new(
        policy_version: PolicyVersion,
        decisions: Decisions,
        method: Method,
        language: Lang,
        collection_point: CollectionPointRequest,
    ) -> ConsentRequest {
        ConsentRequest {
            policy_version,
            decisions,
            method,
            language,
            collection_point,
            subject: None,
            by: DecidedBy::Subject,
            subject_name: None,
        }
    }
}

/// Where a choice was collected (`collection_point`): the request's form of a receipt's
/// [`CollectionPoint`](crate::CollectionPoint), with its strings checked.
///
/// ```
/// use consent_core::{CollectionKind, CollectionPointRequest};
/// let mut point = CollectionPointRequest::new(CollectionKind::Banner);
/// point.page = Some("https://invisionu.education/apply?x=1".parse()?);
/// assert_eq!(point.page.unwrap().as_str(), "https://invisionu.education/apply");
/// assert_eq!(CollectionPointRequest::FIELDS, ["kind", "build", "page"]);
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CollectionPointRequest {
    /// Banner, form, API, e-mail or staff (`kind`).
    pub kind: CollectionKind,
    /// The banner build the person saw (`build`).
    pub build: Option<BuildHash>,
    /// The page where the choice was made (`page`).
    pub page: Option<PageUrl>,
}

impl CollectionPointRequest {
    /// The members of the JSON object, in the order they are written.
    pub const FIELDS: &'static [&'static str] = &["kind", "build", "page"];
    /// The members that must be present.
    pub const REQUIRED: &'static [&'static str] = &["kind"];

    /// A collection point of this kind, without build or page.
    pub fn new(kind: CollectionKind) -> CollectionPointRequest {
        CollectionPointRequest {
            kind,
            build: None,
            page: None,
        }
    }
}

/// Whose choice it is (`subject`): an anonymous visitor's device, or a subject a backend service knows
/// by an id of its own.
///
/// ```
/// use consent_core::{SubjectId, SubjectSelector};
/// let device = SubjectSelector::Device(SubjectId([0; 16]));
/// assert_eq!(SubjectSelector::FIELDS, ["device", "id"]);
/// # let _ = device;
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum SubjectSelector {
    /// A device id drawn by the banner (`{"device": "<22 base64url characters>"}`).
    Device(SubjectId),
    /// An authenticated subject's external id (`{"id": "…"}`; service tokens only).
    External(ExternalId),
}

impl SubjectSelector {
    /// The members of the JSON object: exactly one is given.
    pub const FIELDS: &'static [&'static str] = &["device", "id"];
    /// The members that must be present: none (an object with neither is the same as no `subject`).
    pub const REQUIRED: &'static [&'static str] = &[];
}

/// Who decided (`by`): the subject, or a legal representative with their relation and, when known,
/// their name (recorded in the receipt).
///
/// ```
/// use consent_core::{Actor, DecidedBy, Relation};
/// let by = DecidedBy::Representative { relation: Relation::Parent, name: Some("Asel N.".parse()?) };
/// assert_eq!(by.actor(), Actor::Representative(Relation::Parent));
/// assert_eq!(by.name().map(|n| n.as_str()), Some("Asel N."));
/// assert_eq!(DecidedBy::KINDS, ["subject", "representative"]);
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub enum DecidedBy {
    /// The subject (`by` absent, or `{"kind": "subject"}`).
    #[default]
    Subject,
    /// A legal representative (`{"kind": "representative", "relation", "name"}`).
    Representative {
        /// How they are related to the subject (default on the wire: `other`).
        relation: Relation,
        /// Their name, when known.
        name: Option<PersonName>,
    },
}

impl DecidedBy {
    /// The members of the JSON object, in the order they are written.
    pub const FIELDS: &'static [&'static str] = &["kind", "relation", "name"];
    /// The members that must be present.
    pub const REQUIRED: &'static [&'static str] = &["kind"];
    /// The values of `kind`.
    pub const KINDS: &'static [&'static str] = &["subject", "representative"];

    /// Who decided, as receipts and consent events record it.
    pub fn actor(&self) -> Actor {
        match self {
            DecidedBy::Subject => Actor::Subject,
            DecidedBy::Representative { relation, .. } => Actor::Representative(*relation),
        }
    }

    /// The representative's name, if one decided and is named.
    pub fn name(&self) -> Option<&PersonName> {
        match self {
            DecidedBy::Subject => None,
            DecidedBy::Representative { name, .. } => name.as_ref(),
        }
    }
}
