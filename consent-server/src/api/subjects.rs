//! Staff endpoints for a subject: lookup, history, current state, access export, and rights requests
//! (withdraw, restrict, unblock, erase); unsubscribe links for services.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use consent_core::{
    Choice, CollectionKind, ConsentState, Decisions, EventKind, Method, PurposeId, RightsRecord,
};
use serde::Deserialize;

use super::consents::{by_server, issue};
use crate::auth::{
    ExportSubjects, LookUpSubjects, MakeUnsubscribeLinks, ReadHistories, ReadStates, RecordRights,
    Staff,
};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, ApiPath};
use crate::privacy::{self, SubjectRef};
use crate::state::AppState;
use crate::store::{CaseKind, CaseQuery, LogIndex, Rights, StoredReceipt, Write, Written};
use crate::{cases, personal};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupBody {
    id: String,
}

/// `POST /v1/subjects/lookup` `{"id": "<external id>"}`: the pseudonym, if the subject is known.
pub(crate) async fn lookup(
    State(state): State<AppState>,
    _: Staff<LookUpSubjects>,
    ApiJson(b): ApiJson<LookupBody>,
) -> Result<Response, ApiError> {
    let lookup = privacy::subject_lookup(&state.keys.pseudonym, &b.id);
    let found = state
        .read(move |store| store.lookup_subject(&lookup))
        .await?;
    let subject =
        found.ok_or_else(|| ApiError::not_found("subject (never recorded, or erased)"))?;
    Ok(axum::Json(serde_json::json!({ "subject": subject.to_string() })).into_response())
}

async fn history_json(state: &AppState, s: SubjectRef) -> Result<serde_json::Value, ApiError> {
    let keys = Arc::clone(&state.keys);
    let (receipts, events, cases) = state
        .read(move |store| {
            let receipts: Vec<(StoredReceipt, Option<personal::Read>)> = store
                .subject_receipts(s)?
                .into_iter()
                .map(|r| {
                    let read = personal::read(store, &keys.receipts, &r)
                        .inspect_err(
                            |e| tracing::warn!(receipt = %r.id, error = %e, "receipt not read"),
                        )
                        .ok();
                    (r, read)
                })
                .collect();
            let cases = store.cases(&CaseQuery {
                subject: Some(s),
                ..CaseQuery::default()
            })?;
            Ok((receipts, store.subject_events(s)?, cases))
        })
        .await?;
    let receipts: Vec<serde_json::Value> = receipts
        .into_iter()
        .map(|(r, read)| {
            let mut out = serde_json::json!({ "receipt_id": r.id.to_string(), "issued_at": r.issued_at.to_string() });
            match read {
                Some(personal::Read::Verified(v, names)) => {
                    out["receipt"] = r.jws.into();
                    out["payload"] = serde_json::to_value(v.payload()).unwrap_or_default();
                    if let Some(n) = personal::names_json(&names) {
                        out["personal"] = n;
                    }
                }
                Some(personal::Read::Redacted(p)) => {
                    out["receipt"] = serde_json::Value::Null;
                    out["payload"] = serde_json::to_value(&p).unwrap_or_default();
                    out["redacted"] = true.into();
                }
                None => {
                    out["receipt"] = r.jws.into();
                    out["payload"] = serde_json::Value::Null;
                }
            }
            out
        })
        .collect();
    let rights: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|e| {
            let what = match e.kind {
                EventKind::Restrict => "restrict",
                EventKind::Unblock => "unblock",
                EventKind::Erase => "erase",
                EventKind::Consent(_) => return None,
            };
            Some(serde_json::json!({ "at": e.at.to_string(), "action": what }))
        })
        .collect();
    let cases: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| super::cases::case_json(state, c))
        .collect();
    Ok(
        serde_json::json!({ "subject": s.to_string(), "receipts": receipts, "rights_requests": rights, "cases": cases }),
    )
}

/// `GET /v1/subjects/{subject}/history`: every receipt and rights request.
pub(crate) async fn history(
    State(state): State<AppState>,
    _: Staff<ReadHistories>,
    ApiPath(s): ApiPath<SubjectRef>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(history_json(&state, s).await?).into_response())
}

async fn state_json(state: &AppState, s: SubjectRef) -> Result<serde_json::Value, ApiError> {
    let events = state.read(move |store| store.subject_events(s)).await?;
    let folded = ConsentState::fold(&events);
    let (now, _) = state.now();
    let purposes: BTreeMap<String, serde_json::Value> = state
        .policy
        .purposes()
        .iter()
        .map(|p| {
            let d = folded.decision(p.id, now, &state.policy);
            let (allowed, reason) = match d {
                consent_core::Decision::Allowed(a) => (true, a.to_string()),
                consent_core::Decision::Denied(d) => (false, d.to_string()),
            };
            let status = folded.status(p.id, now, &state.policy).map(|s| s.iri());
            (
                p.id.to_string(),
                serde_json::json!({ "allowed": allowed, "reason": reason, "dpv_status": status }),
            )
        })
        .collect();
    Ok(serde_json::json!({
        "subject": s.to_string(),
        "at": now.to_string(),
        "policy_version": state.policy.version().to_string(),
        "restricted_since": folded.restricted_since().map(|t| t.to_string()),
        "erased_at": folded.erased_at().map(|t| t.to_string()),
        "purposes": purposes,
    }))
}

/// `GET /v1/subjects/{subject}/state`: what is allowed now, per purpose, with reasons.
pub(crate) async fn state(
    State(state): State<AppState>,
    _: Staff<ReadStates>,
    ApiPath(s): ApiPath<SubjectRef>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(state_json(&state, s).await?).into_response())
}

/// `GET /v1/subjects/{subject}/export`: the access export for a data subject (history, state, Kantara
/// receipts).
pub(crate) async fn access_export(
    State(state): State<AppState>,
    _: Staff<ExportSubjects>,
    ApiPath(s): ApiPath<SubjectRef>,
) -> Result<Response, ApiError> {
    let history = history_json(&state, s).await?;
    let current = state_json(&state, s).await?;
    let keys = Arc::clone(&state.keys);
    let policies = Arc::clone(&state.policies);
    let kantara: Vec<serde_json::Value> = state
        .read(move |store| {
            Ok(store
                .subject_receipts(s)?
                .iter()
                .filter_map(|r| match personal::read(store, &keys.receipts, r) {
                    Ok(personal::Read::Verified(v, names)) => {
                        let policy = policies.get(&v.payload().policy.version)?;
                        v.to_kantara_with(policy, &names).ok()
                    }
                    _ => None,
                })
                .collect())
        })
        .await?;
    Ok(axum::Json(serde_json::json!({
        "subject": s.to_string(),
        "controller": state.policy.controller().name.get_or(state.policy.default_language(), state.policy.default_language()),
        "history": history,
        "state": current,
        "kantara_receipts": kantara,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WithdrawBody {
    /// Purposes to withdraw; absent: every consent purpose.
    #[serde(default)]
    purposes: Option<Vec<String>>,
}

/// `POST /v1/subjects/{subject}/withdraw`: a withdrawal receipt for the purposes given (default: all).
/// An empty body (of any type) withdraws every consent purpose.
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    staff: Staff<RecordRights>,
    ApiPath(s): ApiPath<SubjectRef>,
    body: Option<ApiJson<WithdrawBody>>,
) -> Result<Response, ApiError> {
    let purposes = match body.and_then(|ApiJson(b)| b.purposes) {
        Some(list) if list.is_empty() => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "purposes",
                "list at least one purpose, or leave it out to withdraw all",
            ));
        }
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, id)| {
                    id.parse::<PurposeId>()
                        .ok()
                        .and_then(|p| state.policy.purpose(p))
                        .filter(|p| p.needs_consent())
                        .map(|p| p.id)
                        .ok_or_else(|| {
                            ApiError::field(
                                ErrorCode::UnknownPurpose,
                                format!("purposes[{i}]"),
                                format!("`{id}` is not a consent purpose of the current policy"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    tracing::info!(operator = %staff.name, subject = %s, "withdrawal recorded by staff");
    let out = staff_withdraw(&state, s, purposes, &staff.name).await?;
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// 404 unless the subject has a history here: rights requests are for people the server knows.
pub(super) async fn known_subject(state: &AppState, s: SubjectRef) -> Result<(), ApiError> {
    let events = state.read(move |store| store.subject_events(s)).await?;
    if events.is_empty() {
        Err(ApiError::not_found("subject (no consent was ever recorded for it)").at("subject"))
    } else {
        Ok(())
    }
}

async fn rights(
    state: &AppState,
    staff: &Staff<RecordRights>,
    s: SubjectRef,
    what: Rights,
) -> Result<Response, ApiError> {
    let (at, index) = staff_rights(state, s, what, &staff.name).await?;
    tracing::info!(operator = %staff.name, subject = %s, action = what.as_str(), "rights request recorded");
    Ok(axum::Json(serde_json::json!({ "subject": s.to_string(), "action": what.as_str(), "at": at.to_string(), "log_index": index.0, "proof": super::log::entry_proof_path(index) })).into_response())
}

/// `POST /v1/subjects/{subject}/restrict`.
pub(crate) async fn restrict(
    State(state): State<AppState>,
    staff: Staff<RecordRights>,
    ApiPath(s): ApiPath<SubjectRef>,
) -> Result<Response, ApiError> {
    rights(&state, &staff, s, Rights::Restrict).await
}

/// `POST /v1/subjects/{subject}/unblock`.
pub(crate) async fn unblock(
    State(state): State<AppState>,
    staff: Staff<RecordRights>,
    ApiPath(s): ApiPath<SubjectRef>,
) -> Result<Response, ApiError> {
    rights(&state, &staff, s, Rights::Unblock).await
}

/// `POST /v1/subjects/{subject}/erase`: the person can no longer be linked to their receipts, which stay
/// verifiable.
pub(crate) async fn erase(
    State(state): State<AppState>,
    staff: Staff<RecordRights>,
    ApiPath(s): ApiPath<SubjectRef>,
) -> Result<Response, ApiError> {
    rights(&state, &staff, s, Rights::Erase).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkBody {
    subject: String,
}

/// `POST /v1/unsubscribe-links` `{"subject": "sub:…"}` (services, operators): the RFC 8058 headers for
/// an e-mail. A service's purposes must include every purpose the link withdraws
/// ([`super::public::unsubscribed`]): a service unsubscribes only from what it may record.
pub(crate) async fn unsubscribe_link(
    State(state): State<AppState>,
    staff: Staff<MakeUnsubscribeLinks>,
    ApiJson(b): ApiJson<LinkBody>,
) -> Result<Response, ApiError> {
    if let Some(scope) = staff.scope
        && let Some(p) =
            super::public::unsubscribed(&state.policy).find(|p| !scope.may_decide(p.code))
    {
        return Err(ApiError::forbidden(&format!(
            "make unsubscribe links: they withdraw `{}`, which is not among its purposes",
            p.id
        )));
    }
    let s: SubjectRef = b
        .subject
        .parse()
        .map_err(|e: String| ApiError::field(ErrorCode::InvalidField, "subject", e))?;
    let url = format!(
        "{}/v1/unsubscribe?t={}",
        state.config.issuer.trim_end_matches('/'),
        privacy::unsubscribe_token(&state.keys.unsubscribe, &s)
    );
    Ok(axum::Json(serde_json::json!({
        "url": url,
        "headers": {
            "List-Unsubscribe": format!("<{url}>"),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    }))
    .into_response())
}

/// A staff withdrawal without HTTP (the CLI): same receipt as `POST /v1/subjects/{subject}/withdraw`.
pub async fn staff_withdraw(
    state: &AppState,
    s: SubjectRef,
    purposes: Option<Vec<PurposeId>>,
    by: &str,
) -> Result<serde_json::Value, ApiError> {
    known_subject(state, s).await?;
    if let Some(list) = &purposes
        && let Some(bad) = list
            .iter()
            .find(|p| state.policy.purpose(**p).is_none_or(|p| !p.needs_consent()))
    {
        return Err(ApiError::field(
            ErrorCode::UnknownPurpose,
            "purposes",
            format!("`{bad}` is not a consent purpose of the current policy"),
        ));
    }
    let decisions: Decisions = state
        .policy
        .purposes()
        .iter()
        .filter(|p| p.needs_consent())
        .filter(|p| purposes.as_ref().is_none_or(|list| list.contains(&p.id)))
        .map(|p| (p.id, Choice::Withdrawn))
        .collect();
    if decisions.is_empty() {
        return Err(ApiError::field(
            ErrorCode::UnknownPurpose,
            "purposes",
            "none of these is a consent purpose of the current policy",
        ));
    }
    let checked = by_server(state, decisions, Method::Withdraw, CollectionKind::Staff)?;
    issue(state, s, false, checked, None, by, None)
        .await
        .map(super::consents::Issued::into_body)
}

/// A restriction, unblocking or erasure without HTTP (the CLI), handled by `by`, with its case
/// (closed at once: the write is the action): its time and log index. The event is logged as a signed
/// [`RightsRecord`]. An erasure also destroys the subject's data key and redacts their version 1
/// receipts that name a person in clear.
pub async fn staff_rights(
    state: &AppState,
    s: SubjectRef,
    what: Rights,
    by: &str,
) -> Result<(consent_core::Timestamp, LogIndex), ApiError> {
    known_subject(state, s).await?;
    // (receipt, its log index, its redacted form)
    let redacted: Vec<_> = if what == Rights::Erase {
        state
            .read(move |store| store.subject_receipts(s))
            .await?
            .into_iter()
            .filter(|r| !r.is_redacted())
            .filter_map(|r| personal::redact(&r.jws).map(|x| (r.id, r.log_index, x)))
            .collect()
    } else {
        Vec::new()
    };
    let (at, _) = state.now();
    // The erasure's record names the logged receipts it redacts and the hash of each redacted form: an
    // auditor tells the redaction from an edit (SPEC.md §6.8).
    let record = RightsRecord::new(&state.config.issuer, &s.to_string(), at, what.kind())
        .with_redacted(
            redacted
                .iter()
                .filter_map(|(_, index, x)| index.map(|i| (i.0, x.as_bytes()))),
        )
        .sign(&state.keys.receipts)
        .map_err(ApiError::internal)?;
    let redact = redacted.into_iter().map(|(id, _, x)| (id, x)).collect();
    let kind = match what {
        Rights::Restrict => CaseKind::Restriction,
        Rights::Unblock => CaseKind::Unblocking,
        Rights::Erase => CaseKind::Erasure,
    };
    // Webhook deliveries (issue 20.4), in the event's transaction; the case closes when every
    // subscribed system has acknowledged them (at once when none is).
    let deliveries = state
        .webhooks
        .for_rights(s, what, at)
        .map_err(ApiError::internal)?;
    let done = deliveries.is_empty();
    let written = state
        .write(Write::Rights {
            subject: s,
            at,
            what,
            case: cases::new_case(&state.calendar, kind, at, by, done),
            redact,
            record,
            deliveries,
        })
        .await?;
    match written {
        Written::Logged(i) => Ok((at, i)),
        _ => Err(ApiError::internal(
            "a rights event was stored without a log index",
        )),
    }
}

/// The pseudonym of an external id, if known (the CLI).
pub async fn find_subject(
    state: &AppState,
    external_id: &str,
) -> Result<Option<SubjectRef>, ApiError> {
    let lookup = privacy::subject_lookup(&state.keys.pseudonym, external_id);
    state.read(move |store| store.lookup_subject(&lookup)).await
}
