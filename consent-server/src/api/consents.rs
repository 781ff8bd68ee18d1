//! `POST /v1/consents`: validate a choice, sign its receipt, commit it, answer with receipt and token.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use consent_core::{
    Actor, Choice, CollectionKind, CollectionPoint, Lang, Method, PolicyVersion, PurposeId,
    PurposeKind, PurposeSet, ReceiptPayload, ReceiptRequest, Relation, SubjectId, TokenClaims,
    TokenSubject,
};
use serde::Deserialize;

use crate::auth::Caller;
use crate::config::Role;
use crate::error::{ApiError, ErrorCode};
use crate::extract::ApiJson;
use crate::privacy::{self, SubjectRef};
use crate::state::AppState;
use crate::store::{NewReceipt, Write, Written};

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
    /// An anonymous visitor's device id (22 base64url characters).
    #[serde(default)]
    device: Option<String>,
    /// An authenticated subject's external id (service tokens only).
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

fn short_text(field: &str, s: &str, max: usize) -> Result<String, ApiError> {
    let s = s.trim();
    if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            field,
            format!("must be 1 to {max} bytes of text without control characters"),
        ));
    }
    Ok(s.to_owned())
}

/// The page without query or fragment: what the person saw, not what they searched.
fn page_url(s: &str) -> Result<String, ApiError> {
    let base = s.split(['?', '#']).next().unwrap_or_default();
    let ok = (base.starts_with("https://") || base.starts_with("http://"))
        && base.len() <= 2048
        && !base.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(base.to_owned())
    } else {
        Err(ApiError::field(
            ErrorCode::InvalidField,
            "collection_point.page",
            "must be an http(s) URL of at most 2048 bytes",
        ))
    }
}

/// A checked request, ready to sign.
pub(crate) struct Checked {
    pub(crate) version: PolicyVersion,
    pub(crate) decisions: BTreeMap<PurposeId, Choice>,
    pub(crate) method: Method,
    pub(crate) lang: Lang,
    pub(crate) collection: CollectionPoint,
    pub(crate) by: Actor,
    pub(crate) representative: Option<String>,
    pub(crate) subject_name: Option<String>,
}

impl Checked {
    /// A request the server makes itself (staff withdrawal, unsubscribe link): the policy's default
    /// language, decided for the subject, no banner build or page.
    pub(crate) fn by_server(
        policy: &consent_core::Policy,
        decisions: BTreeMap<PurposeId, Choice>,
        method: Method,
        kind: CollectionKind,
    ) -> Checked {
        Checked {
            version: policy.version(),
            decisions,
            method,
            lang: policy.default_language(),
            collection: CollectionPoint {
                kind,
                build: None,
                page: None,
            },
            by: Actor::Subject,
            representative: None,
            subject_name: None,
        }
    }
}

fn check(
    state: &AppState,
    b: &ConsentBody,
    role: Option<Role>,
    gpc_on: bool,
) -> Result<Checked, ApiError> {
    let policy = &state.policy;
    let version: PolicyVersion = b.policy_version.parse().map_err(|_| {
        ApiError::field(
            ErrorCode::InvalidField,
            "policy_version",
            "expected a policy version such as 2025-03-26",
        )
    })?;
    if version != policy.version() {
        let known = state.policies.contains_key(&version);
        let (status, code) = if known {
            (StatusCode::CONFLICT, ErrorCode::PolicyOutdated)
        } else {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::UnknownPolicyVersion,
            )
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
            ErrorCode::InvalidField,
            "method",
            format!("must be one of {}", all.join(", ")),
        )
    })?;
    if matches!(method, Method::Api | Method::Unsubscribe) && role != Some(Role::Service) {
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
                ErrorCode::InvalidField,
                "language",
                format!("must be one of {}", langs.join(", ")),
            )
        })?;
    if b.decisions.is_empty() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "decisions",
            "decide at least one purpose",
        ));
    }
    if b.decisions.len() > policy.purposes().len() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
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
                    ErrorCode::UnknownPurpose,
                    &field,
                    format!("policy {} has no purpose `{id}`", policy.version()),
                )
            })?;
        if !purpose.needs_consent() {
            return Err(ApiError::field(
                ErrorCode::ConsentNotRequired,
                &field,
                format!("`{id}` needs no consent and cannot be decided"),
            ));
        }
        let choice: Choice = choice.parse().map_err(|_| {
            ApiError::field(
                ErrorCode::InvalidField,
                &field,
                "must be \"given\", \"refused\" or \"withdrawn\"",
            )
        })?;
        decisions.insert(purpose.id, choice);
    }
    match method {
        Method::AcceptAll if decisions.values().any(|c| *c != Choice::Given) => {
            return Err(ApiError::field(
                ErrorCode::InconsistentMethod,
                "method",
                "accept-all gives every purpose it lists",
            ));
        }
        Method::RejectAll if decisions.values().any(|c| *c == Choice::Given) => {
            return Err(ApiError::field(
                ErrorCode::InconsistentMethod,
                "method",
                "reject-all gives no purpose",
            ));
        }
        Method::Withdraw if decisions.values().any(|c| *c == Choice::Given) => {
            return Err(ApiError::field(
                ErrorCode::InconsistentMethod,
                "method",
                "a withdrawal gives no purpose",
            ));
        }
        _ => {}
    }
    // Global Privacy Control: marketing purposes not decided explicitly are refused, and it is recorded.
    // An explicit choice for a purpose stands (the person chose it with GPC on); a withdrawal adds nothing.
    if method == Method::Gpc && !gpc_on {
        return Err(ApiError::field(
            ErrorCode::InconsistentMethod,
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
            ErrorCode::InvalidField,
            "collection_point.kind",
            "must be banner, form, api, email or staff",
        )
    })?;
    let allowed_kinds: &[CollectionKind] = if role == Some(Role::Service) {
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
        Some(h) if h.len() == 64 && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) => {
            Some(h.clone())
        }
        Some(_) => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
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
                    ErrorCode::InvalidField,
                    "by",
                    "a subject deciding for themselves has no relation or name",
                ));
            }
            (Actor::Subject, None)
        }
        Some(by) if by.kind == "representative" => {
            let relation: Relation =
                by.relation
                    .as_deref()
                    .unwrap_or("other")
                    .parse()
                    .map_err(|_| {
                        ApiError::field(
                            ErrorCode::InvalidField,
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
                ErrorCode::InvalidField,
                "by.kind",
                "must be \"subject\" or \"representative\"",
            ));
        }
    };
    let subject_name = match &b.subject_name {
        Some(n) if role == Some(Role::Service) => Some(short_text("subject_name", n, 200)?),
        Some(_) => return Err(ApiError::forbidden("record a subject's name").at("subject_name")),
        None => None,
    };
    Ok(Checked {
        version,
        decisions,
        method,
        lang,
        collection: CollectionPoint { kind, build, page },
        by,
        representative,
        subject_name,
    })
}

/// Finds or creates the pseudonym of an authenticated subject's external id.
pub(crate) async fn link_subject(
    state: &AppState,
    external_id: &str,
) -> Result<SubjectRef, ApiError> {
    let external_id = short_text("subject.id", external_id, 320)?;
    let lookup = privacy::subject_lookup(&state.keys.pseudonym, &external_id);
    if let Some(s) = state
        .read(move |store| store.lookup_subject(&lookup))
        .await?
    {
        return Ok(s);
    }
    let fresh = SubjectRef::Subject(SubjectId(privacy_random16()?));
    let written = state
        .write(Write::Link {
            lookup,
            new_subject: fresh,
        })
        .await?;
    match written {
        Written::Subject(s) => Ok(s),
        Written::Done => Err(ApiError::internal("link write returned no subject")),
    }
}

fn privacy_random16() -> Result<[u8; 16], ApiError> {
    crate::keys::random16().map_err(ApiError::internal)
}

/// Signs and commits a receipt (only `VerifiedReceipt`s are stored); returns the response body.
pub(crate) async fn issue(
    state: &AppState,
    subject: SubjectRef,
    c: Checked,
    gpc_on: bool,
    browser: Option<&'static str>,
) -> Result<serde_json::Value, ApiError> {
    let (now, ms) = state.now();
    let id = privacy::receipt_id(privacy::millis(now, ms), privacy_random16()?);
    let mut req = ReceiptRequest::new(
        id,
        now,
        state.config.issuer.clone(),
        subject.to_string(),
        c.lang,
        c.method,
        c.collection,
        c.decisions.clone(),
    );
    req.by = c.by;
    req.representative = c.representative;
    req.subject_name = c.subject_name;
    req.gpc = gpc_on;
    let payload = ReceiptPayload::new(&state.policy, req).map_err(ApiError::internal)?;
    let expires_at = payload.exp;
    let verified = payload
        .sign_verified(&state.keys.receipts)
        .map_err(ApiError::internal)?;
    let jws = verified.jws().to_owned();
    let mut given = PurposeSet::EMPTY;
    let mut refused = PurposeSet::EMPTY;
    for (p, choice) in &c.decisions {
        if let Some(purpose) = state.policy.purpose(*p) {
            match choice {
                Choice::Given => given.insert(purpose.code),
                _ => refused.insert(purpose.code),
            }
        }
    }
    let claims = TokenClaims {
        policy_version: c.version,
        issued_at: now,
        expires_at,
        subject: match subject {
            SubjectRef::Subject(s) => TokenSubject::Person(s),
            SubjectRef::Device(d) => TokenSubject::Device(d),
        },
        receipt: id,
        given,
        refused,
    };
    let token = state
        .keys
        .tokens
        .sign(&claims)
        .map_err(ApiError::internal)?;
    state
        .write(Write::Receipt(Box::new(
            NewReceipt::new(&verified, browser).map_err(ApiError::internal)?,
        )))
        .await?;
    state.metrics.receipts.fetch_add(1, Ordering::Relaxed);
    Ok(serde_json::json!({
        "receipt_id": id.to_string(),
        "receipt": jws,
        "token": token,
        "subject": subject.to_string(),
        "issued_at": now.to_string(),
        "expires_at": expires_at.to_string(),
        "gpc": gpc_on,
    }))
}

/// Whether the request carries Global Privacy Control: any `Sec-GPC` header equal to exactly `1`.
fn gpc(headers: &HeaderMap) -> bool {
    headers
        .get_all("sec-gpc")
        .iter()
        .any(|v| v.as_bytes() == b"1")
}

/// The browser family of the request's `User-Agent`.
pub(crate) fn browser(headers: &HeaderMap) -> Option<&'static str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(privacy::browser_family)
}

/// `POST /v1/consents`.
pub(crate) async fn record(
    State(state): State<AppState>,
    Caller(role): Caller,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ConsentBody>,
) -> Result<Response, ApiError> {
    let gpc_on = gpc(&headers);
    let checked = check(&state, &b, role, gpc_on)?;
    let subject = match &b.subject {
        Some(SubjectBody {
            id: Some(id),
            device: None,
        }) => {
            if role != Some(Role::Service) {
                return Err(ApiError::forbidden("record consents for an authenticated subject; anonymous callers may only use a device id").at("subject.id"));
            }
            link_subject(&state, id).await?
        }
        Some(SubjectBody {
            device: Some(d),
            id: None,
        }) => SubjectRef::Device(d.parse::<SubjectId>().map_err(|_| {
            ApiError::field(
                ErrorCode::InvalidField,
                "subject.device",
                "must be 22 base64url characters (128 bits)",
            )
        })?),
        Some(SubjectBody {
            device: None,
            id: None,
        })
        | None => SubjectRef::Device(SubjectId(privacy_random16()?)),
        Some(_) => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "subject",
                "give either `device` or `id`, not both",
            ));
        }
    };
    let out = issue(&state, subject, checked, gpc_on, browser(&headers)).await?;
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}
