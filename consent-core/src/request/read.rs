//! Reads a consent request from JSON (feature `json`): [`ConsentRequest::from_json`], and
//! [`RequestContext::check_json`], which reads and checks in the server's order.
//!
//! The body is first read into its raw fields (strings, as sent) with `serde_json`, through hand-written
//! `Deserialize` impls that take the member names from [`ConsentRequest::FIELDS`] and the `FIELDS` of
//! its parts, so the names the reader accepts and the ones `openapi.json` is tested against are the
//! same constants. They behave as serde's derive with `deny_unknown_fields` does, with its messages,
//! except that a member twice is reported at its own path (`collection_point.kind`, not the object
//! holding it), and so is a purpose decided twice (`decisions.marketing`), which a map would have
//! taken with its last value; `serde_path_to_error` names the field at fault. Each raw field is then
//! parsed when the checks reach it ([`super::check`]).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::BTreeMap;
use core::convert::Infallible;
use core::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::check::{CHOICE_MESSAGE, Source, SubjectField, forbidden_representative, walk};
use super::{
    BuildHash, CheckedRequest, CollectionPointRequest, ConsentRequest, DecidedBy, Decisions,
    ExternalId, PageUrl, PersonName, RequestContext, RequestError, RequestErrorCode,
    SubjectSelector,
};
use crate::{Choice, CollectionKind, Lang, Method, PolicyVersion, PurposeId, Relation, SubjectId};

/// The body as sent: every member as its JSON string, not yet parsed.
struct Wire {
    policy_version: String,
    decisions: WireDecisions,
    method: String,
    language: String,
    collection_point: WirePoint,
    subject: Option<WireSubject>,
    by: Option<WireBy>,
    subject_name: Option<String>,
}

struct WirePoint {
    kind: String,
    build: Option<String>,
    page: Option<String>,
}

struct WireSubject {
    device: Option<String>,
    id: Option<String>,
}

struct WireBy {
    kind: String,
    relation: Option<String>,
    name: Option<String>,
}

/// A member name, as its index in the object's `FIELDS`; any other name is an error.
struct Key(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for Key {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<usize, E> {
        self.0
            .iter()
            .position(|f| *f == name)
            .ok_or_else(|| E::unknown_field(name, self.0))
    }
}

/// A member's value that is refused without being read: the error is raised as the value's, so that
/// `serde_path_to_error` names the member (`decisions.marketing`, `collection_point.kind`) rather than
/// the object holding it.
struct Refuse(String);

impl<'de> DeserializeSeed<'de> for Refuse {
    type Value = Infallible;
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<Infallible, D::Error> {
        Err(de::Error::custom(self.0))
    }
}

/// Refuses the value of the member just read, with `message`.
fn refuse<'de, A: MapAccess<'de>, T>(map: &mut A, message: String) -> Result<T, A::Error> {
    match map.next_value_seed(Refuse(message))? {}
}

/// Reads the value of member `fields[i]` into `slot`, unless it was there already (a member twice is
/// refused, naming it).
fn take<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    fields: &'static [&'static str],
    i: usize,
) -> Result<(), A::Error> {
    if slot.is_some() {
        let name = fields.get(i).copied().unwrap_or_default();
        return refuse(map, format!("duplicate field `{name}`"));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// `decisions` as sent: purpose id → choice, both unparsed. A purpose decided twice is refused (a
/// map would keep the last, so `refused` then `given` would be recorded as `given`).
struct WireDecisions(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for WireDecisions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireDecisions, D::Error> {
        d.deserialize_map(DecisionsVisitor)
    }
}

struct DecisionsVisitor;

impl<'de> Visitor<'de> for DecisionsVisitor {
    type Value = WireDecisions;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireDecisions, A::Error> {
        let mut decisions = BTreeMap::new();
        while let Some(id) = map.next_key::<String>()? {
            if decisions.contains_key(&id) {
                return refuse(&mut map, format!("purpose `{id}` is decided twice"));
            }
            let choice = map.next_value()?;
            decisions.insert(id, choice);
        }
        Ok(WireDecisions(decisions))
    }
}

fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

/// Declares `$visitor` and reads `$ty` with it, as a JSON object with the members `$fields`.
macro_rules! deserialize_object {
    ($ty:ident, $visitor:ident, $fields:expr) => {
        struct $visitor;
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                d.deserialize_struct(stringify!($ty), $fields, $visitor)
            }
        }
    };
}

deserialize_object!(Wire, WireVisitor, ConsentRequest::FIELDS);
deserialize_object!(WirePoint, PointVisitor, CollectionPointRequest::FIELDS);
deserialize_object!(WireSubject, SubjectVisitor, SubjectSelector::FIELDS);
deserialize_object!(WireBy, ByVisitor, DecidedBy::FIELDS);

// The visitors say they expect the structs the server's serde derive had (`struct ConsentBody`…), so
// that "invalid type" messages stay what they were.

impl<'de> Visitor<'de> for WireVisitor {
    type Value = Wire;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct ConsentBody")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire, A::Error> {
        const F: &[&str] = ConsentRequest::FIELDS;
        let (mut policy_version, mut decisions, mut method, mut language) =
            (None, None, None, None);
        let (mut collection_point, mut subject, mut by, mut subject_name) =
            (None, None, None, None);
        while let Some(i) = map.next_key_seed(Key(F))? {
            match i {
                0 => take(&mut map, &mut policy_version, F, i)?,
                1 => take(&mut map, &mut decisions, F, i)?,
                2 => take(&mut map, &mut method, F, i)?,
                3 => take(&mut map, &mut language, F, i)?,
                4 => take(&mut map, &mut collection_point, F, i)?,
                5 => take(&mut map, &mut subject, F, i)?,
                6 => take(&mut map, &mut by, F, i)?,
                _ => take(&mut map, &mut subject_name, F, i)?,
            }
        }
        Ok(Wire {
            policy_version: required(policy_version, "policy_version")?,
            decisions: required(decisions, "decisions")?,
            method: required(method, "method")?,
            language: required(language, "language")?,
            collection_point: required(collection_point, "collection_point")?,
            subject: subject.flatten(),
            by: by.flatten(),
            subject_name: subject_name.flatten(),
        })
    }
}

impl<'de> Visitor<'de> for PointVisitor {
    type Value = WirePoint;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct CollectionBody")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WirePoint, A::Error> {
        const F: &[&str] = CollectionPointRequest::FIELDS;
        let (mut kind, mut build, mut page) = (None, None, None);
        while let Some(i) = map.next_key_seed(Key(F))? {
            match i {
                0 => take(&mut map, &mut kind, F, i)?,
                1 => take(&mut map, &mut build, F, i)?,
                _ => take(&mut map, &mut page, F, i)?,
            }
        }
        Ok(WirePoint {
            kind: required(kind, "kind")?,
            build: build.flatten(),
            page: page.flatten(),
        })
    }
}

impl<'de> Visitor<'de> for SubjectVisitor {
    type Value = WireSubject;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct SubjectBody")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireSubject, A::Error> {
        const F: &[&str] = SubjectSelector::FIELDS;
        let (mut device, mut id) = (None, None);
        while let Some(i) = map.next_key_seed(Key(F))? {
            match i {
                0 => take(&mut map, &mut device, F, i)?,
                _ => take(&mut map, &mut id, F, i)?,
            }
        }
        Ok(WireSubject {
            device: device.flatten(),
            id: id.flatten(),
        })
    }
}

impl<'de> Visitor<'de> for ByVisitor {
    type Value = WireBy;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct ByBody")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireBy, A::Error> {
        const F: &[&str] = DecidedBy::FIELDS;
        let (mut kind, mut relation, mut name) = (None, None, None);
        while let Some(i) = map.next_key_seed(Key(F))? {
            match i {
                0 => take(&mut map, &mut kind, F, i)?,
                1 => take(&mut map, &mut relation, F, i)?,
                _ => take(&mut map, &mut name, F, i)?,
            }
        }
        Ok(WireBy {
            kind: required(kind, "kind")?,
            relation: relation.flatten(),
            name: name.flatten(),
        })
    }
}

/// Reads the body's members: a JSON object, nothing after it; errors name the field at fault.
fn read_wire(body: &[u8]) -> Result<Wire, RequestError> {
    super::json_object::read_json_object(body)
}

fn short_text_message(max: usize) -> String {
    format!("must be 1 to {max} bytes of text without control characters")
}

/// The fields of a body, parsed one by one as the checks reach them, with the messages the server has
/// always given.
impl Source for Wire {
    fn policy_version(&self) -> Result<PolicyVersion, RequestError> {
        self.policy_version.parse().map_err(|_| {
            RequestError::invalid(
                "policy_version",
                "expected a policy version such as 2025-03-26",
            )
        })
    }

    fn method(&self) -> Result<Method, RequestError> {
        self.method.parse().map_err(|_| {
            let all: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
            RequestError::invalid("method", format!("must be one of {}", all.join(", ")))
        })
    }

    fn language(&self) -> Option<Lang> {
        self.language.parse().ok()
    }

    fn decision_count(&self) -> usize {
        self.decisions.0.len()
    }

    fn decisions(&self) -> impl Iterator<Item = (&str, Option<PurposeId>, Option<Choice>)> {
        self.decisions
            .0
            .iter()
            .map(|(id, choice)| (id.as_str(), id.parse().ok(), choice.parse().ok()))
    }

    fn kind(&self) -> Result<CollectionKind, RequestError> {
        self.collection_point.kind.parse().map_err(|_| {
            RequestError::invalid(
                "collection_point.kind",
                "must be banner, form, api, email or staff",
            )
        })
    }

    fn build(&self) -> Result<Option<BuildHash>, RequestError> {
        self.collection_point
            .build
            .as_deref()
            .map(|b| {
                b.parse().map_err(|_| {
                    RequestError::invalid(
                        "collection_point.build",
                        "must be a SHA-256 in 64 lower-case hex digits",
                    )
                })
            })
            .transpose()
    }

    fn page(&self) -> Result<Option<PageUrl>, RequestError> {
        self.collection_point
            .page
            .as_deref()
            .map(|p| {
                p.parse().map_err(|_| {
                    RequestError::invalid(
                        "collection_point.page",
                        "must be an http(s) URL of at most 2048 bytes of URL characters (RFC 3986)",
                    )
                })
            })
            .transpose()
    }

    fn by(&self, may_represent: bool) -> Result<DecidedBy, RequestError> {
        let Some(by) = &self.by else {
            return Ok(DecidedBy::Subject);
        };
        match by.kind.as_str() {
            "subject" if by.relation.is_some() || by.name.is_some() => Err(RequestError::invalid(
                "by",
                "a subject deciding for themselves has no relation or name",
            )),
            "subject" => Ok(DecidedBy::Subject),
            "representative" if !may_represent => Err(forbidden_representative()),
            "representative" => {
                let relation: Relation = by
                    .relation
                    .as_deref()
                    .unwrap_or("other")
                    .parse()
                    .map_err(|_| {
                        RequestError::invalid("by.relation", "must be parent, guardian or other")
                    })?;
                let name = by
                    .name
                    .as_deref()
                    .map(|n| {
                        n.parse().map_err(|_| {
                            RequestError::invalid(
                                "by.name",
                                short_text_message(PersonName::MAX_LEN),
                            )
                        })
                    })
                    .transpose()?;
                Ok(DecidedBy::Representative { relation, name })
            }
            _ => Err(RequestError::invalid(
                "by.kind",
                "must be \"subject\" or \"representative\"",
            )),
        }
    }

    fn subject_name(&self) -> Option<Result<PersonName, RequestError>> {
        self.subject_name.as_deref().map(|n| {
            n.parse().map_err(|_| {
                RequestError::invalid("subject_name", short_text_message(PersonName::MAX_LEN))
            })
        })
    }

    fn subject(&self) -> Result<SubjectField, RequestError> {
        let Some(s) = &self.subject else {
            return Ok(SubjectField::Absent);
        };
        Ok(match (&s.device, &s.id) {
            (None, None) => SubjectField::Absent,
            (Some(_), Some(_)) => {
                return Err(RequestError::invalid(
                    "subject",
                    "give either `device` or `id`, not both",
                ));
            }
            (Some(device), None) => {
                SubjectField::Device(device.parse::<SubjectId>().map_err(|_| {
                    RequestError::invalid(
                        "subject.device",
                        "must be 22 base64url characters (128 bits)",
                    )
                }))
            }
            (None, Some(id)) => SubjectField::External(id.parse::<ExternalId>().map_err(|_| {
                RequestError::invalid("subject.id", short_text_message(ExternalId::MAX_LEN))
            })),
        })
    }
}

impl ConsentRequest {
    /// Reads a request from its JSON form, checking each field's form but nothing that needs the
    /// policy or the caller ([`ConsentRequest::check`] does that). Errors have the codes, field paths
    /// and messages the server answers with; in a body with several problems, the first in the order
    /// of [`ConsentRequest::check`] is reported, after any problem with the JSON itself (not JSON, not
    /// an object, an unknown, missing or repeated member, a purpose decided twice, a member of the wrong
    /// JSON type). Optional members may be `null`.
    ///
    /// Never panics; reads what [`ConsentRequest::to_json`] writes back into the same request.
    ///
    /// ```
    /// use consent_core::{ConsentRequest, RequestErrorCode};
    /// let body = br#"{"policy_version": "2025-03-26", "decisions": {"marketing": "given"},
    ///     "method": "form", "language": "ru", "collection_point": {"kind": "form", "page": null},
    ///     "subject": {"id": "aigerim.n@example.kz"}, "subject_name": " Aigerim Nurlanovna "}"#;
    /// let r = ConsentRequest::from_json(body)?;
    /// assert_eq!(r.subject_name.as_ref().unwrap().as_str(), "Aigerim Nurlanovna");
    /// assert_eq!(ConsentRequest::from_json(r.to_json().as_bytes())?, r);
    ///
    /// let err = ConsentRequest::from_json(br#"{"policy_version": 20250326}"#).unwrap_err();
    /// assert_eq!((err.code, err.field.as_deref()), (RequestErrorCode::InvalidField, Some("policy_version")));
    /// assert_eq!(ConsentRequest::from_json(b"{").unwrap_err().code, RequestErrorCode::MalformedJson);
    /// # Ok::<(), consent_core::RequestError>(())
    /// ```
    pub fn from_json(body: &[u8]) -> Result<ConsentRequest, RequestError> {
        let w = read_wire(body)?;
        let policy_version = w.policy_version()?;
        let method = w.method()?;
        let language = w.language().ok_or_else(|| {
            RequestError::invalid(
                "language",
                "must be a language code of 2 or 3 lower-case letters",
            )
        })?;
        let mut decisions = Decisions::new();
        for (text, id, choice) in w.decisions() {
            let field = || format!("decisions.{text}");
            let id = id.ok_or_else(|| {
                RequestError::at(
                    RequestErrorCode::UnknownPurpose,
                    field(),
                    format!("`{text}` is not a purpose id"),
                )
            })?;
            let choice = choice.ok_or_else(|| RequestError::invalid(field(), CHOICE_MESSAGE))?;
            decisions.insert(id, choice);
        }
        let collection_point = CollectionPointRequest {
            kind: w.kind()?,
            build: w.build()?,
            page: w.page()?,
        };
        let by = w.by(true)?;
        let subject_name = w.subject_name().transpose()?;
        let subject = match w.subject()? {
            SubjectField::Absent => None,
            SubjectField::Device(id) => Some(SubjectSelector::Device(id?)),
            SubjectField::External(id) => Some(SubjectSelector::External(id?)),
        };
        let mut request = ConsentRequest::new(
            policy_version,
            decisions,
            method,
            language,
            collection_point,
        );
        request.subject = subject;
        request.by = by;
        request.subject_name = subject_name;
        Ok(request)
    }
}

impl RequestContext<'_> {
    /// Reads a request from its JSON form and checks it, as the server does with `POST /v1/consents`:
    /// [`ConsentRequest::from_json`] then [`ConsentRequest::check`], except that each field is parsed
    /// when the checks reach it, so that the first problem in the order of [`ConsentRequest::check`]
    /// is reported (a request under an outdated policy version is `policy_outdated` even if a later
    /// field is malformed too).
    ///
    /// ```
    /// use consent_core::{Caller, Policy, RequestContext, RequestErrorCode};
    /// let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml"))?;
    /// let served = |v| v == "2024-09-01".parse().unwrap();
    /// let mut cx = RequestContext::new(&policy, Caller::Anonymous);
    /// cx.served = &served;
    /// let body = br#"{"policy_version": "2024-09-01", "decisions": {"cookies-analytics": "yes"},
    ///     "method": "maybe", "language": "en", "collection_point": {"kind": "banner"}}"#;
    /// let err = cx.check_json(body).unwrap_err();
    /// assert_eq!(err.code, RequestErrorCode::PolicyOutdated);
    /// assert_eq!(err.field.as_deref(), Some("policy_version"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_json(&self, body: &[u8]) -> Result<CheckedRequest, RequestError> {
        walk(&read_wire(body)?, self)
    }
}
