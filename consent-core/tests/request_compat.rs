//! The consent request's reader and checks give the answers the server gave before they moved into
//! this crate: the same code, field and message for every body, in every combination of problems, and
//! the same recorded choice for every body that passes.
//!
//! `reference` is the server's `parse_json`, `check()` and the subject part of `record()` as they were
//! (consent-server/src/api/consents.rs and api/mod.rs, before the contract), with serde's derive
//! reading the body, kept here as an independent implementation to compare with.
#![cfg(feature = "json")]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use consent_core::{
    Caller, Choice, ConsentRequest, Policy, PolicyVersion, RequestContext, RequestError,
    SubjectSelector,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const V1: &str = include_str!("../../examples/invisionu/policy.toml");
const V2: &str = include_str!("fixtures/invisionu-2026-06-01.toml");

static POLICIES: LazyLock<[Policy; 2]> = LazyLock::new(|| {
    [
        Policy::from_toml(V1).unwrap(),
        Policy::from_toml(V2).unwrap(),
    ]
});

/// The server's code before the contract moved into consent-core, with `ApiError` reduced to its
/// fields and `AppState` to the policies.
mod reference {
    use std::collections::BTreeMap;

    use consent_core::{
        Actor, Choice, CollectionKind, Lang, Method, Policy, PolicyVersion, PurposeId, PurposeKind,
        Relation, SubjectId,
    };
    use serde::Deserialize;
    use serde::de::DeserializeOwned;

    #[derive(Debug, PartialEq, Eq)]
    pub(crate) struct ApiError {
        pub status: u16,
        pub code: &'static str,
        pub message: String,
        pub field: Option<String>,
    }

    impl ApiError {
        fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
            ApiError {
                status,
                code,
                message: message.into(),
                field: None,
            }
        }
        fn field(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
            ApiError {
                status: 422,
                code,
                message: message.into(),
                field: Some(field.into()),
            }
        }
        fn at(mut self, field: impl Into<String>) -> Self {
            self.field = Some(field.into());
            self
        }
        fn forbidden(what: &str) -> Self {
            ApiError::new(403, "forbidden", format!("this token may not {what}"))
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub(crate) enum Role {
        Service,
        Other,
    }

    pub(crate) struct State<'a> {
        pub policy: &'a Policy,
        pub policies: BTreeMap<PolicyVersion, &'a Policy>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CollectionBody {
        kind: String,
        #[serde(default)]
        build: Option<String>,
        #[serde(default)]
        page: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SubjectBody {
        #[serde(default)]
        device: Option<String>,
        #[serde(default)]
        id: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ByBody {
        kind: String,
        #[serde(default)]
        relation: Option<String>,
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ConsentBody {
        policy_version: String,
        decisions: BTreeMap<String, String>,
        method: String,
        language: String,
        collection_point: CollectionBody,
        #[serde(default)]
        subject: Option<SubjectBody>,
        #[serde(default)]
        by: Option<ByBody>,
        #[serde(default)]
        subject_name: Option<String>,
    }

    /// What the server recorded, as strings.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) struct Recorded {
        pub version: PolicyVersion,
        pub decisions: BTreeMap<PurposeId, Choice>,
        pub method: Method,
        pub lang: Lang,
        pub kind: CollectionKind,
        pub build: Option<String>,
        pub page: Option<String>,
        pub by: Actor,
        pub representative: Option<String>,
        pub subject_name: Option<String>,
        /// `device:…`, `id:…` or `new` (a device id drawn by the server).
        pub subject: String,
    }

    pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
        let malformed = |m: String| ApiError::new(400, "malformed_json", m);
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(_) => {
                return Err(ApiError::new(
                    422,
                    "invalid_field",
                    "the body must be a JSON object",
                ));
            }
            None => {
                return Err(malformed(
                    "the body is empty; expected a JSON object".into(),
                ));
            }
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            if inner.is_syntax() || inner.is_eof() {
                return malformed(message);
            }
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(|name| {
                    if path == "." {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    }
                });
            let field = missing.or_else(|| (path != ".").then_some(path));
            ApiError {
                status: 422,
                code: "invalid_field",
                message,
                field,
            }
        })?;
        de.end().map_err(|e| malformed(e.to_string()))?;
        Ok(value)
    }

    fn short_text(field: &str, s: &str, max: usize) -> Result<String, ApiError> {
        let s = s.trim();
        if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
            return Err(ApiError::field(
                "invalid_field",
                field,
                format!("must be 1 to {max} bytes of text without control characters"),
            ));
        }
        Ok(s.to_owned())
    }

    fn page_url(s: &str) -> Result<String, ApiError> {
        let base = s.split(['?', '#']).next().unwrap_or_default();
        let ok = (base.starts_with("https://") || base.starts_with("http://"))
            && base.len() <= 2048
            && !base.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(base.to_owned())
        } else {
            Err(ApiError::field(
                "invalid_field",
                "collection_point.page",
                "must be an http(s) URL of at most 2048 bytes",
            ))
        }
    }

    /// `check()`, then the subject part of `record()` (and `link_subject`'s check of the id).
    pub(crate) fn record(
        state: &State<'_>,
        b: &ConsentBody,
        role: Role,
        gpc_on: bool,
    ) -> Result<Recorded, ApiError> {
        let role = Some(role);
        let service = Some(Role::Service);
        let policy = state.policy;
        let version: PolicyVersion = b.policy_version.parse().map_err(|_| {
            ApiError::field(
                "invalid_field",
                "policy_version",
                "expected a policy version such as 2025-03-26",
            )
        })?;
        if version != policy.version() {
            let known = state.policies.contains_key(&version);
            let (status, code) = if known {
                (409, "policy_outdated")
            } else {
                (422, "unknown_policy_version")
            };
            return Err(ApiError::new(
                status,
                code,
                format!(
                    "policy {version} is not the current one: {}; fetch /v1/policy and ask again",
                    policy.version()
                ),
            )
            .at("policy_version"));
        }
        let method: Method = b.method.parse().map_err(|_| {
            let all: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
            ApiError::field(
                "invalid_field",
                "method",
                format!("must be one of {}", all.join(", ")),
            )
        })?;
        if matches!(method, Method::Api | Method::Unsubscribe) && role != service {
            return Err(ApiError::forbidden(&format!("record method `{method}`")).at("method"));
        }
        let lang: Lang = b
            .language
            .parse()
            .ok()
            .filter(|l| policy.languages().contains(l))
            .ok_or_else(|| {
                let langs: Vec<&str> = policy.languages().iter().map(|l| l.as_str()).collect();
                ApiError::field(
                    "invalid_field",
                    "language",
                    format!("must be one of {}", langs.join(", ")),
                )
            })?;
        if b.decisions.is_empty() {
            return Err(ApiError::field(
                "invalid_field",
                "decisions",
                "decide at least one purpose",
            ));
        }
        if b.decisions.len() > policy.purposes().len() {
            return Err(ApiError::field(
                "invalid_field",
                "decisions",
                "more decisions than the policy has purposes",
            ));
        }
        let mut decisions = BTreeMap::new();
        for (id, choice) in &b.decisions {
            let field = format!("decisions.{id}");
            let purpose = id
                .parse::<PurposeId>()
                .ok()
                .and_then(|p| policy.purpose(p))
                .ok_or_else(|| {
                    ApiError::field(
                        "unknown_purpose",
                        &field,
                        format!("policy {} has no purpose `{id}`", policy.version()),
                    )
                })?;
            if !purpose.needs_consent() {
                return Err(ApiError::field(
                    "consent_not_required",
                    &field,
                    format!("`{id}` needs no consent and cannot be decided"),
                ));
            }
            let choice: Choice = choice.parse().map_err(|_| {
                ApiError::field(
                    "invalid_field",
                    &field,
                    "must be \"given\", \"refused\" or \"withdrawn\"",
                )
            })?;
            decisions.insert(purpose.id, choice);
        }
        match method {
            Method::AcceptAll if decisions.values().any(|c| *c != Choice::Given) => {
                return Err(ApiError::field(
                    "inconsistent_method",
                    "method",
                    "accept-all gives every purpose it lists",
                ));
            }
            Method::RejectAll if decisions.values().any(|c| *c == Choice::Given) => {
                return Err(ApiError::field(
                    "inconsistent_method",
                    "method",
                    "reject-all gives no purpose",
                ));
            }
            Method::Withdraw if decisions.values().any(|c| *c == Choice::Given) => {
                return Err(ApiError::field(
                    "inconsistent_method",
                    "method",
                    "a withdrawal gives no purpose",
                ));
            }
            _ => {}
        }
        if method == Method::Gpc && !gpc_on {
            return Err(ApiError::field(
                "inconsistent_method",
                "method",
                "method `gpc` needs the Sec-GPC: 1 header",
            ));
        }
        if gpc_on && method != Method::Withdraw {
            for p in policy.purposes().iter().filter(|p| p.needs_consent()) {
                let marketing = p.kind == PurposeKind::Marketing
                    || p.cookie_category == Some(consent_core::CookieCategoryId::Marketing);
                if marketing {
                    decisions.entry(p.id).or_insert(Choice::Refused);
                }
            }
        }
        let kind: CollectionKind = b.collection_point.kind.parse().map_err(|_| {
            ApiError::field(
                "invalid_field",
                "collection_point.kind",
                "must be banner, form, api, email or staff",
            )
        })?;
        let allowed_kinds: &[CollectionKind] = if role == service {
            &[
                CollectionKind::Banner,
                CollectionKind::Form,
                CollectionKind::Api,
            ]
        } else {
            &[CollectionKind::Banner, CollectionKind::Form]
        };
        if !allowed_kinds.contains(&kind) {
            return Err(
                ApiError::forbidden(&format!("record a `{kind}` collection point"))
                    .at("collection_point.kind"),
            );
        }
        let build = match &b.collection_point.build {
            Some(h)
                if h.len() == 64 && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Some(h.clone())
            }
            Some(_) => {
                return Err(ApiError::field(
                    "invalid_field",
                    "collection_point.build",
                    "must be a SHA-256 in 64 lower-case hex digits",
                ));
            }
            None => None,
        };
        let page = b
            .collection_point
            .page
            .as_deref()
            .map(page_url)
            .transpose()?;
        let (by, representative) = match &b.by {
            None => (Actor::Subject, None),
            Some(by) if by.kind == "subject" => {
                if by.relation.is_some() || by.name.is_some() {
                    return Err(ApiError::field(
                        "invalid_field",
                        "by",
                        "a subject deciding for themselves has no relation or name",
                    ));
                }
                (Actor::Subject, None)
            }
            Some(by) if by.kind == "representative" => {
                let relation: Relation = by
                    .relation
                    .as_deref()
                    .unwrap_or("other")
                    .parse()
                    .map_err(|_| {
                        ApiError::field(
                            "invalid_field",
                            "by.relation",
                            "must be parent, guardian or other",
                        )
                    })?;
                let name = by
                    .name
                    .as_deref()
                    .map(|n| short_text("by.name", n, 200))
                    .transpose()?;
                (Actor::Representative(relation), name)
            }
            Some(_) => {
                return Err(ApiError::field(
                    "invalid_field",
                    "by.kind",
                    "must be \"subject\" or \"representative\"",
                ));
            }
        };
        let subject_name = match &b.subject_name {
            Some(n) if role == service => Some(short_text("subject_name", n, 200)?),
            Some(_) => {
                return Err(ApiError::forbidden("record a subject's name").at("subject_name"));
            }
            None => None,
        };
        // `record()`, after `check()`.
        let subject = match &b.subject {
            Some(SubjectBody {
                id: Some(id),
                device: None,
            }) => {
                if role != service {
                    return Err(ApiError::forbidden("record consents for an authenticated subject; anonymous callers may only use a device id").at("subject.id"));
                }
                format!("id:{}", short_text("subject.id", id, 320)?)
            }
            Some(SubjectBody {
                device: Some(d),
                id: None,
            }) => format!(
                "device:{}",
                d.parse::<SubjectId>().map_err(|_| {
                    ApiError::field(
                        "invalid_field",
                        "subject.device",
                        "must be 22 base64url characters (128 bits)",
                    )
                })?
            ),
            Some(SubjectBody {
                device: None,
                id: None,
            })
            | None => "new".to_owned(),
            Some(_) => {
                return Err(ApiError::field(
                    "invalid_field",
                    "subject",
                    "give either `device` or `id`, not both",
                ));
            }
        };
        Ok(Recorded {
            version,
            decisions,
            method,
            lang,
            kind,
            build,
            page,
            by,
            representative,
            subject_name,
            subject,
        })
    }
}

/// What the reference says about `body`: an error as `(status, code, field, message)`, or what it
/// records.
type Answer = Result<reference::Recorded, (u16, String, Option<String>, String)>;

fn reference_answer(body: &[u8], current: usize, role: reference::Role, gpc: bool) -> Answer {
    let policies = &*POLICIES;
    let state = reference::State {
        policy: &policies[current],
        policies: policies[..=current]
            .iter()
            .map(|p| (p.version(), p))
            .collect(),
    };
    reference::parse_json::<reference::ConsentBody>(body)
        .and_then(|b| reference::record(&state, &b, role, gpc))
        .map_err(|e| (e.status, e.code.to_owned(), e.field, e.message))
}

/// The status the server answers a core error with.
fn status(e: &RequestError) -> u16 {
    match e.code.as_str() {
        "malformed_json" => 400,
        "policy_outdated" => 409,
        "forbidden" => 403,
        _ => 422,
    }
}

fn core_answer(body: &[u8], current: usize, caller: Caller, gpc: bool) -> Answer {
    let policies = &*POLICIES;
    let served = |v: PolicyVersion| policies[..=current].iter().any(|p| p.version() == v);
    let mut cx = RequestContext::new(&policies[current], caller);
    cx.served = &served;
    cx.gpc = gpc;
    let checked = cx.check_json(body).map_err(|e| {
        (
            status(&e),
            e.code.as_str().to_owned(),
            e.field.clone(),
            e.message,
        )
    })?;
    let r = checked.request();
    Ok(reference::Recorded {
        version: r.policy_version,
        decisions: r.decisions.clone().into(),
        method: r.method,
        lang: r.language,
        kind: r.collection_point.kind,
        build: r.collection_point.build.map(|b| b.to_hex()),
        page: r.collection_point.page.as_ref().map(|p| p.to_string()),
        by: r.by.actor(),
        representative: r.by.name().map(|n| n.to_string()),
        subject_name: r.subject_name.as_ref().map(|n| n.to_string()),
        subject: match checked.subject() {
            None => "new".to_owned(),
            Some(SubjectSelector::Device(id)) => format!("device:{id}"),
            Some(SubjectSelector::External(id)) => format!("id:{}", id.as_str()),
        },
    })
}

/// Compares the two on `body` in every context: each policy current (the other served or not), each
/// caller, with and without GPC.
fn same_answers(body: &[u8]) -> Result<(), TestCaseError> {
    for current in 0..2 {
        for (role, caller) in [
            (reference::Role::Other, Caller::Anonymous),
            (reference::Role::Service, Caller::Service),
        ] {
            for gpc in [false, true] {
                let expected = reference_answer(body, current, role, gpc);
                let got = core_answer(body, current, caller, gpc);
                prop_assert_eq!(
                    &got,
                    &expected,
                    "{} (policy {}, {:?}, gpc {})",
                    String::from_utf8_lossy(body),
                    current,
                    caller,
                    gpc
                );
                // A body that reads as a typed request is checked the same either way.
                if let Ok(request) = ConsentRequest::from_json(body) {
                    let policies = &*POLICIES;
                    let served =
                        |v: PolicyVersion| policies[..=current].iter().any(|p| p.version() == v);
                    let mut cx = RequestContext::new(&policies[current], caller);
                    cx.served = &served;
                    cx.gpc = gpc;
                    prop_assert_eq!(request.check(&cx), cx.check_json(body));
                }
            }
        }
    }
    Ok(())
}

/// A member's possible values: `None` leaves it out.
fn member(values: Vec<Option<Value>>) -> impl Strategy<Value = Option<Value>> {
    proptest::sample::select(values)
}

fn decisions() -> Vec<Option<Value>> {
    let all_purposes: serde_json::Map<String, Value> = POLICIES[0]
        .purposes()
        .iter()
        .map(|p| (p.id.to_string(), json!("given")))
        .collect();
    let mut too_many = all_purposes.clone();
    too_many.insert("one-more".into(), json!("given"));
    vec![
        None,
        Some(json!({"cookies-analytics": "given"})),
        Some(json!({"cookies-analytics": "given", "cookies-preferences": "given"})),
        Some(json!({"cookies-analytics": "refused", "cookies-marketing": "refused"})),
        Some(json!({"marketing": "given", "cookies-marketing": "withdrawn"})),
        Some(json!({"marketing": "refused", "cookies-analytics": "given"})),
        Some(json!({"marketing": "withdrawn"})),
        Some(json!({})),
        Some(json!({"nope": "given"})),
        Some(json!({"Bad Id": "given"})),
        Some(json!({"nope": "yes", "marketing": "given"})),
        Some(json!({"marketing": "yes"})),
        Some(json!({"marketing": true})),
        Some(json!({"cookies-necessary": "refused"})),
        Some(json!({"legal-compliance": "given", "marketing": "yes"})),
        Some(json!(["marketing"])),
        Some(Value::Object(all_purposes)),
        Some(Value::Object(too_many)),
        Some(Value::Null),
    ]
}

fn collection_point() -> impl Strategy<Value = Option<Value>> {
    let kind = member(
        ["banner", "form", "api", "email", "staff", "kiosk", "Banner"]
            .into_iter()
            .map(|k| Some(json!(k)))
            .chain([None, Some(json!(1))])
            .collect(),
    );
    let build = member(vec![
        None,
        Some(Value::Null),
        Some(json!("0123456789abcdef".repeat(4))),
        Some(json!("ABC")),
        Some(json!("0123456789ABCDEF".repeat(4))),
        Some(json!(5)),
    ]);
    let page = member(vec![
        None,
        Some(Value::Null),
        Some(json!("https://invisionu.education/apply?utm_source=x#y")),
        Some(json!("http://localhost:8080/")),
        Some(json!("javascript:alert(1)")),
        Some(json!("https://a/ b")),
        Some(json!(format!("https://a/{}", "p".repeat(2050)))),
        Some(json!(["https://a/"])),
    ]);
    let extra = member(vec![None, None, None, Some(json!(1))]);
    (kind, build, page, extra, 0u8..12).prop_map(|(kind, build, page, extra, shape)| match shape {
        0 => None,
        1 => Some(json!("banner")),
        2 => Some(Value::Null),
        _ => {
            let mut o = serde_json::Map::new();
            for (k, v) in [
                ("kind", kind),
                ("build", build),
                ("page", page),
                ("extra", extra),
            ] {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            }
            Some(Value::Object(o))
        }
    })
}

fn subject() -> Vec<Option<Value>> {
    let device = "AAECAwQFBgcICQoLDA0ODw";
    vec![
        None,
        None,
        Some(Value::Null),
        Some(json!({"device": device})),
        Some(json!({"device": "short"})),
        Some(json!({"device": "AAECAwQFBgcICQoLDA0ODx"})),
        Some(json!({"id": "aigerim.n@example.kz"})),
        Some(json!({"id": "  "})),
        Some(json!({"id": "x".repeat(321)})),
        Some(json!({"device": device, "id": "x"})),
        Some(json!({"device": "short", "id": "x"})),
        Some(json!({})),
        Some(json!({"device": null, "id": null})),
        Some(json!({"other": 1})),
        Some(json!({"device": 5})),
    ]
}

fn by() -> Vec<Option<Value>> {
    vec![
        None,
        None,
        Some(Value::Null),
        Some(json!({"kind": "subject"})),
        Some(json!({"kind": "subject", "name": "x"})),
        Some(json!({"kind": "subject", "relation": null, "name": null})),
        Some(json!({"kind": "representative"})),
        Some(json!({"kind": "representative", "relation": "uncle", "name": " "})),
        Some(json!({"kind": "representative", "relation": "parent", "name": " Asel N. "})),
        Some(json!({"kind": "representative", "relation": null, "name": "ж".repeat(101)})),
        Some(json!({"kind": "robot"})),
        Some(json!({"relation": "parent"})),
        Some(json!({"kind": "representative", "age": 40})),
    ]
}

/// A body: each member from its list (or left out), in a random order, sometimes with an unknown one.
fn body() -> impl Strategy<Value = String> {
    let version = member(vec![
        None,
        Some(json!("2025-03-26")),
        Some(json!("2025-03-26")),
        Some(json!("2026-06-01")),
        Some(json!("2024-01-01")),
        Some(json!("not a date")),
        Some(json!(20250326)),
        Some(Value::Null),
    ]);
    let method = member(
        consent_core::Method::ALL
            .iter()
            .map(|m| Some(json!(m.as_str())))
            .chain([None, Some(json!("maybe")), Some(json!(1))])
            .collect(),
    );
    let language = member(vec![
        None,
        Some(json!("en")),
        Some(json!("kk")),
        Some(json!("ru")),
        Some(json!("de")),
        Some(json!("EN")),
        Some(json!(5)),
    ]);
    let name = member(vec![
        None,
        None,
        Some(Value::Null),
        Some(json!("Aigerim Nurlanovna")),
        Some(json!(" ")),
        Some(json!(5)),
    ]);
    let extra = member(vec![None, None, None, None, Some(json!(1))]);
    (
        (version, member(decisions()), method, language),
        (
            collection_point(),
            member(subject()),
            member(by()),
            name,
            extra,
        ),
        any::<u64>(),
    )
        .prop_map(|((v, d, m, l), (c, s, b, n, x), seed)| {
            let mut members: Vec<(&str, Value)> = [
                ("policy_version", v),
                ("decisions", d),
                ("method", m),
                ("language", l),
                ("collection_point", c),
                ("subject", s),
                ("by", b),
                ("subject_name", n),
                ("unexpected", x),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
            // A deterministic shuffle: serde reports problems in the order members come.
            let mut state = seed;
            for i in (1..members.len()).rev() {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                members.swap(i, (state >> 33) as usize % (i + 1));
            }
            let inner: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}:{v}", json!(k)))
                .collect();
            format!("{{{}}}", inner.join(","))
        })
}

/// A body whose members all have the right JSON types (strings, objects of strings, `null` where
/// allowed) and no unknown member: the problems are in the values, so every check gets its turn.
fn typed_body() -> impl Strategy<Value = String> {
    let strings = |v: &[&str]| -> Vec<Option<Value>> { v.iter().map(|s| Some(json!(s))).collect() };
    // Weighted towards versions that are current in one of the two contexts.
    let version = member(strings(&[
        "2025-03-26",
        "2025-03-26",
        "2025-03-26",
        "2026-06-01",
        "2026-06-01",
        "2026-06-01",
        "2024-01-01",
        "2025-3-26",
    ]));
    let decisions = member(
        decisions()
            .into_iter()
            .filter(|d| {
                d.as_ref()
                    .and_then(Value::as_object)
                    .is_some_and(|o| o.values().all(Value::is_string))
            })
            .collect(),
    );
    let method = member(
        consent_core::Method::ALL
            .iter()
            .map(|m| Some(json!(m.as_str())))
            .chain([Some(json!("maybe"))])
            .collect(),
    );
    let language = member(strings(&[
        "en", "kk", "ru", "en", "kk", "ru", "de", "EN", "",
    ]));
    let kind = member(strings(&[
        "banner", "form", "api", "email", "staff", "kiosk",
    ]));
    let optional = |v: &[&str]| -> Vec<Option<Value>> {
        [None, Some(Value::Null)]
            .into_iter()
            .chain(strings(v))
            .collect()
    };
    let build = member(optional(&[&"0123456789abcdef".repeat(4), "ABC"]));
    let page = member(optional(&[
        "https://invisionu.education/apply?x=1",
        "javascript:alert(1)",
    ]));
    let device = member(optional(&["AAECAwQFBgcICQoLDA0ODw", "short"]));
    let id = member(optional(&["aigerim.n@example.kz", " "]));
    let by_kind = member(strings(&["subject", "representative", "robot"]));
    let relation = member(optional(&["parent", "guardian", "uncle"]));
    let name = member(optional(&["Asel N.", "\u{1}"]));
    let subject_name = member(optional(&["Aigerim Nurlanovna", "  "]));
    let object = |members: Vec<(&str, Option<Value>)>| {
        Value::Object(
            members
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_owned(), v?)))
                .collect(),
        )
    };
    (
        (version, decisions, method, language),
        (kind, build, page),
        (device, id, 0u8..3),
        (by_kind, relation, name, 0u8..3),
        subject_name,
    )
        .prop_map(
            move |((v, d, m, l), (k, b, p), (dev, id, s), (bk, rel, n, by), sn)| {
                let point = object(vec![("kind", k), ("build", b), ("page", p)]);
                let subject = match s {
                    0 => None,
                    1 => Some(Value::Null),
                    _ => Some(object(vec![("device", dev), ("id", id)])),
                };
                let by = match by {
                    0 => None,
                    1 => Some(Value::Null),
                    _ => Some(object(vec![("kind", bk), ("relation", rel), ("name", n)])),
                };
                let body = object(vec![
                    ("policy_version", v),
                    ("decisions", d),
                    ("method", m),
                    ("language", l),
                    ("collection_point", Some(point)),
                    ("subject", subject),
                    ("by", by),
                    ("subject_name", sn),
                ]);
                body.to_string()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn generated_bodies_get_the_answers_they_got_before(body in body()) {
        same_answers(body.as_bytes())?;
    }

    #[test]
    fn well_typed_bodies_get_the_answers_they_got_before(body in typed_body()) {
        same_answers(body.as_bytes())?;
    }
}

#[test]
fn bodies_that_are_not_objects_or_repeat_members_get_the_answers_they_got_before() {
    let good = r#""policy_version":"2025-03-26","decisions":{"cookies-analytics":"given"},"method":"custom","language":"en","collection_point":{"kind":"banner"}"#;
    for body in [
        String::new(),
        "   ".into(),
        "{".into(),
        "[1, 2, 3]".into(),
        "\"text\"".into(),
        "null".into(),
        format!("{{{good}}} trailing"),
        format!("{{{good}}}{{{good}}}"),
        format!("{{{good}}}"),
        format!("  \n{{{good}}}\n "),
        format!("\u{c}{{{good}}}"),
        format!("{{{good},\"method\":\"custom\"}}"),
        format!("{{{good},\"subject\":null,\"subject\":null}}"),
        format!("{{\"collection_point\":{{\"kind\":\"banner\",\"kind\":\"form\"}},{good}}}"),
        format!("{{{good},\"by\":{{\"kind\":\"subject\",\"kind\":\"subject\"}}}}"),
        format!(
            "{{{good},\"subject\":{{\"device\":\"AAECAwQFBgcICQoLDA0ODw\",\"device\":null}}}}"
        ),
        format!("{{{good},\"decisions\":{{}}}}"),
        r#"{"decisions":{"a":"given","a":"refused"},"policy_version":"2025-03-26","method":"custom","language":"en","collection_point":{"kind":"banner"}}"#.into(),
        r#"{"policy_version":"2025-03-26""#.into(),
        r#"{"policy_version":"\ud800"}"#.into(),
        "{\"policy_version\":\"2025-03-26\u{0}\"}".into(),
    ] {
        same_answers(body.as_bytes()).unwrap();
    }
}

/// The one difference: serde's derive also read a nested object from an array of its members' values
/// in order (`"collection_point": ["banner"]`), which neither `openapi.json` nor the spec allows.
#[test]
fn nested_objects_must_be_objects_where_the_derive_took_arrays_too() {
    let body = br#"{"policy_version":"2025-03-26","decisions":{"cookies-analytics":"given"},"method":"custom","language":"en","collection_point":["banner"]}"#;
    let before = reference_answer(body, 0, reference::Role::Other, false);
    assert!(before.is_ok(), "{before:?}");
    let now = core_answer(body, 0, Caller::Anonymous, false).unwrap_err();
    assert_eq!(
        (now.0, now.1.as_str(), now.2.as_deref()),
        (422, "invalid_field", Some("collection_point"))
    );
    assert!(
        now.3
            .starts_with("invalid type: sequence, expected struct CollectionBody"),
        "{}",
        now.3
    );
}

#[test]
fn a_checked_request_records_the_decisions_and_gpc_refusals() {
    let body = br#"{"policy_version":"2025-03-26","decisions":{"cookies-analytics":"given"},"method":"accept-all","language":"en","collection_point":{"kind":"banner"}}"#;
    let recorded = core_answer(body, 0, Caller::Anonymous, true).unwrap();
    let expected: BTreeMap<_, _> = [
        ("cookies-analytics", Choice::Given),
        ("cookies-marketing", Choice::Refused),
        ("marketing", Choice::Refused),
    ]
    .into_iter()
    .map(|(p, c)| (p.parse().unwrap(), c))
    .collect();
    assert_eq!(recorded.decisions, expected);
}
