//! Public endpoints: policies, receipts for their holders, keys, GPC, one-click unsubscribe.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use consent_core::{
    Choice, CollectionKind, ConsentState, Decisions, Lang, Method, Policy, PolicyVersion, Purpose,
    PurposeId, PurposeKind, PurposeSet, ReceiptId, UnverifiedReceipt, UnverifiedToken,
    VerifiedReceipt,
};
use serde::Deserialize;

use super::consents::{answer, browser, by_server, issue};
use crate::auth::Caller;
use crate::config::Role;
use crate::encoding;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiPath, ApiQuery, RawBody};
use crate::privacy;
use crate::state::AppState;
use crate::store::{LogIndex, StoreError};

/// A policy's canonical JSON, compressed when the client accepts it (the JSON is compressed once per
/// version and kept), with its hash as entity tag.
async fn policy_response(
    state: &AppState,
    headers: &HeaderMap,
    policy: &Arc<Policy>,
    cache: &'static str,
) -> Result<Response, ApiError> {
    let (body, etag) = state.policy_body(policy).await?;
    Ok(encoding::respond(
        headers,
        &body,
        &etag,
        "application/json",
        cache,
    ))
}

/// `GET /v1/policy`: the current version, canonical JSON.
pub(crate) async fn current_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    policy_response(&state, &headers, &state.policy, "public, max-age=300").await
}

/// `GET /v1/policy/banner/{lang}`: the current version's banner view in `lang` (or in the policy's
/// default language when it has not `lang`): what a first visit's banner reads, with the full policy's
/// hash (`spec/POLICY.md`, "Banner view").
pub(crate) async fn current_banner_view(
    State(state): State<AppState>,
    ApiPath(lang): ApiPath<Lang>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (body, etag) = state.banner_view_body(&state.policy, lang).await?;
    Ok(encoding::respond(
        &headers,
        &body,
        &etag,
        "application/json",
        "public, max-age=300",
    ))
}

/// `GET /v1/policies/{version}`: an exact version (immutable).
pub(crate) async fn policy_version(
    State(state): State<AppState>,
    ApiPath(v): ApiPath<PolicyVersion>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = state
        .policies
        .get(&v)
        .ok_or_else(|| ApiError::not_found(&format!("policy version {v}")))?;
    policy_response(&state, &headers, p, "public, max-age=31536000, immutable").await
}

/// `GET /.well-known/jwks.json`.
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        state.keys.receipts.jwks_json(),
    )
        .into_response()
}

/// `GET /.well-known/gpc.json`: this site honours Global Privacy Control.
pub(crate) async fn gpc(State(state): State<AppState>) -> Response {
    let body = serde_json::json!({ "gpc": true, "lastUpdate": state.policy.version().to_string() });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `GET /v1/receipts/{id}` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReceiptParams {
    /// `proof`: the answer also carries the receipt's tlog-proof (the banner's download).
    include: Option<String>,
}

/// `GET /v1/receipts/{id}`: for staff, or for the holder of the consent token naming this receipt
/// (`X-Consent-Token` header or `consent` cookie). `Accept: application/jwt` gives the JWS alone;
/// `?include=proof` adds its log index and tlog-proof (what the banner's download saves).
pub(crate) async fn receipt(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ReceiptId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReceiptParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let with_proof = match q.include.as_deref() {
        None => false,
        Some("proof") => true,
        Some(_) => return Err(ApiError::bad_param("include", "expected `proof`")),
    };
    may_read_receipt(&state, &caller, &headers, id)?;
    let stored = state.read(move |store| store.receipt(id)).await?;
    let stored = stored.ok_or_else(|| ApiError::not_found("receipt"))?;
    let wants_jwt = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/jwt"));
    if stored.is_redacted() {
        return Err(ApiError::new(
            StatusCode::GONE,
            ErrorCode::ReceiptErased,
            "this receipt named a person in clear and was redacted when its subject was erased",
        ));
    }
    if wants_jwt {
        return Ok(([(header::CONTENT_TYPE, "application/jwt")], stored.jws).into_response());
    }
    let keys = Arc::clone(&state.keys);
    let read = state
        .read(move |store| {
            crate::personal::read(store, &keys.receipts, &stored)
                .map(|r| (r, stored))
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .await?;
    let (crate::personal::Read::Verified(verified, names), stored) = read else {
        return Err(ApiError::internal("a redacted receipt read as verified"));
    };
    let mut out = serde_json::json!({
        "receipt_id": stored.id.to_string(),
        "receipt": stored.jws,
        "kid": verified.header().kid,
        "payload": verified.payload(),
    });
    if let Some(n) = crate::personal::names_json(&names) {
        out["personal"] = n;
    }
    if with_proof {
        let index = stored
            .log_index
            .ok_or_else(|| ApiError::internal("a stored receipt has no log index"))?;
        out["log_index"] = index.0.into();
        out["tlog_proof"] = crate::log::tlog_proof(&state, index, stored.jws.as_bytes())
            .await?
            .into();
    }
    Ok(axum::Json(out).into_response())
}

/// Whether the caller may read receipt `id`: staff (auditor, operator), or the holder of the consent
/// token naming it (`X-Consent-Token` header or `consent` cookie).
pub(crate) fn may_read_receipt(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: ReceiptId,
) -> Result<(), ApiError> {
    let role = caller.role;
    let staff = matches!(role, Some(Role::Auditor | Role::Operator));
    if role.is_some()
        && !staff
        && headers.get("x-consent-token").is_none()
        && cookie(headers, "consent").is_none()
    {
        return Err(ApiError::forbidden(
            "read receipts (auditor or operator only)",
        ));
    }
    if !staff {
        let token = headers
            .get("x-consent-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| cookie(headers, "consent"))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    "send the consent token of this receipt, or a staff bearer token",
                )
            })?;
        let token = UnverifiedToken::decode(&token)
            .and_then(|t| t.verify(&state.keys.tokens))
            .map_err(|e| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidToken,
                    format!("consent token: {e}"),
                )
            })?;
        if token.claims().receipt != id {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "this consent token belongs to another receipt",
            ));
        }
    }
    Ok(())
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('='))
                .map(str::to_owned)
        })
}

#[derive(Deserialize)]
pub(crate) struct UnsubscribeQuery {
    t: Option<String>,
}

impl UnsubscribeQuery {
    /// The subject the link's signed token names (400 without a token, 403 for a bad one), and the token.
    fn subject(self, state: &AppState) -> Result<(privacy::SubjectRef, String), ApiError> {
        let token = self
            .t
            .ok_or_else(|| ApiError::bad_param("t", "the unsubscribe link has no token"))?;
        let subject = privacy::check_unsubscribe_token(&state.keys.unsubscribe, &token)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::InvalidToken,
                    "this unsubscribe link is not valid",
                )
                .at("t")
            })?;
        Ok((subject, token))
    }
}

/// `GET /v1/unsubscribe?t=TOKEN`: what a person who opens the link sees. A GET never unsubscribes (mail
/// scanners follow links); the page's button sends the RFC 8058 one-click POST.
pub(crate) async fn unsubscribe_page(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UnsubscribeQuery>,
) -> Result<Response, ApiError> {
    let (_, token) = q.subject(&state)?;
    let lang = state.policy.default_language();
    let name = state.policy.controller().name.get_or(lang, lang);
    // The token is base64url and a dot only (checked above), so it is safe inside the attribute.
    let page = format!(
        "<!doctype html><html lang=\"{lang}\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Unsubscribe</title><h1>{}</h1><p>Жаңалықтар мен маркетингтік хаттардан бас тарту / Отписаться от новостей и маркетинговых писем / \
         Unsubscribe from news and marketing e-mails</p><form method=\"post\" action=\"?t={token}\">\
         <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">OK</button></form>",
        html_escape(name)
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What a one-click unsubscribe withdraws: every marketing purpose of `policy` that needs consent.
pub(crate) fn unsubscribed(policy: &Policy) -> impl Iterator<Item = &Purpose> {
    policy
        .purposes()
        .iter()
        .filter(|p| p.kind == PurposeKind::Marketing && p.needs_consent())
}

/// The receipt that already withdrew every purpose of `purposes` for `subject`, if nothing changed them
/// since: the latest receipt that decides any of them withdraws them all, and no erasure came after it.
/// Found from the newest receipt back, each verified; `None` also when another receipt is needed.
async fn already_withdrawn(
    state: &AppState,
    subject: privacy::SubjectRef,
    purposes: Vec<PurposeId>,
) -> Result<Option<(VerifiedReceipt, Option<LogIndex>)>, ApiError> {
    let (receipts, events) = state
        .read(move |store| {
            Ok((
                store.subject_receipts(subject)?,
                store.subject_events(subject)?,
            ))
        })
        .await?;
    let erased = ConsentState::fold(&events).erased_at();
    // Receipts redacted on erasure precede that erasure: they decide nothing now.
    for stored in receipts.iter().rev().filter(|r| !r.is_redacted()) {
        let receipt = UnverifiedReceipt::parse(&stored.jws)
            .and_then(|r| r.verify(&state.keys.receipts))
            .map_err(ApiError::internal)?;
        let decisions = &receipt.payload().decisions;
        if purposes.iter().any(|p| decisions.contains_key(p)) {
            let all = purposes
                .iter()
                .all(|p| decisions.get(p) == Some(&Choice::Withdrawn));
            let since = erased.is_none_or(|e| receipt.payload().iat > e);
            return Ok((all && since).then_some((receipt, stored.log_index)));
        }
    }
    Ok(None)
}

/// What a stored receipt gave and refused (or withdrew), as purpose codes: its token's sets.
pub(crate) fn decided(state: &AppState, receipt: &VerifiedReceipt) -> (PurposeSet, PurposeSet) {
    let policy = state
        .policies
        .get(&receipt.payload().policy.version)
        .unwrap_or(&state.policy);
    let (mut given, mut refused) = (PurposeSet::EMPTY, PurposeSet::EMPTY);
    for (id, choice) in &receipt.payload().decisions {
        if let Some(p) = policy.purpose(*id) {
            match choice {
                Choice::Given => given.insert(p.code),
                _ => refused.insert(p.code),
            }
        }
    }
    (given, refused)
}

/// `POST /v1/unsubscribe?t=TOKEN` (RFC 8058 one-click): withdraws every marketing purpose of the subject
/// the signed link names, with a receipt (method `unsubscribe`). A repeat that changes nothing (they are
/// withdrawn already, and nothing decided them since) adds no receipt: it answers with the receipt that
/// withdrew them.
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UnsubscribeQuery>,
    headers: HeaderMap,
    RawBody(bytes): RawBody,
) -> Result<Response, ApiError> {
    let (subject, _) = q.subject(&state)?;
    let form = String::from_utf8_lossy(&bytes);
    if !form
        .split('&')
        .any(|kv| kv.trim() == "List-Unsubscribe=One-Click")
    {
        return Err(ApiError::bad_param(
            "body",
            "expected the body List-Unsubscribe=One-Click (RFC 8058)",
        ));
    }
    let decisions: Decisions = unsubscribed(&state.policy)
        .map(|p| (p.id, Choice::Withdrawn))
        .collect();
    if decisions.is_empty() {
        return Err(ApiError::not_found(
            "marketing purpose in the current policy (nothing to unsubscribe from)",
        ));
    }
    let withdrawn: Vec<PurposeId> = decisions.iter().map(|(p, _)| *p).collect();
    let out = match already_withdrawn(&state, subject, withdrawn).await? {
        // A repeat that changes nothing adds no receipt: the answer is the one that withdrew them.
        Some((receipt, index)) => {
            let (given, refused) = decided(&state, &receipt);
            let mut out = answer(&state, subject, &receipt, given, refused)?;
            if let Some(index) = index {
                super::log::with_log_fields(&mut out, receipt.payload().jti, index);
            }
            out
        }
        None => {
            let checked = by_server(
                &state,
                decisions,
                Method::Unsubscribe,
                CollectionKind::Email,
            )?;
            issue(
                &state,
                subject,
                false,
                checked,
                browser(&headers),
                "unsubscribe-link",
                None,
            )
            .await?
            .into_body()
        }
    };
    let from_browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if from_browser {
        let page = format!(
            "<!doctype html><html><meta charset=\"utf-8\"><title>Unsubscribed</title>\
             <p>Жазылымнан бас тарттыңыз / Вы отписались / You are unsubscribed.</p><p>{}</p>",
            out["receipt_id"].as_str().unwrap_or_default()
        );
        return Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response());
    }
    Ok((StatusCode::OK, axum::Json(out)).into_response())
}
