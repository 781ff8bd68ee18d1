//! `POST /v1/consents`: the body is read and checked as consent-core's consent request
//! ([`RequestContext::check_json`]); a request that passes is signed as a receipt, committed, and
//! answered with the receipt and a consent token. The server's own requests (staff withdrawals,
//! one-click unsubscribes) are checked by the same contract ([`by_server`]) and issued the same way.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use consent_core::{
    CheckedRequest, Choice, CollectionKind, CollectionPointRequest, ConsentRequest, DataKey,
    Decisions, ExternalId, Method, PolicyVersion, PurposeSet, ReceiptPayload, RequestContext, Seal,
    SealNonces, SubjectId, SubjectSelector, TokenClaims, TokenSubject, VerifiedReceipt,
};

use crate::auth::Caller;
use crate::cases;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::privacy::{self, SubjectRef};
use crate::state::AppState;
use crate::store::{CaseKind, Idempotency, NewReceipt, StoreError, Write, Written};

/// A request the server makes itself (a staff withdrawal, a one-click unsubscribe), checked by the
/// contract as [`consent_core::Caller::Server`]: the current policy's version and default language,
/// decided by the subject, no banner build or page. The server's own requests pass; one that did not
/// would be our mistake, so it is a 500, not the client's 4xx.
pub(crate) fn by_server(
    state: &AppState,
    decisions: Decisions,
    method: Method,
    kind: CollectionKind,
) -> Result<CheckedRequest, ApiError> {
    let policy = &state.policy;
    ConsentRequest::new(
        policy.version(),
        decisions,
        method,
        policy.default_language(),
        CollectionPointRequest::new(kind),
    )
    .check(&RequestContext::new(policy, consent_core::Caller::Server))
    .map_err(ApiError::internal)
}

/// Finds or creates the pseudonym of an authenticated subject's external id.
async fn link_subject(state: &AppState, external_id: &ExternalId) -> Result<SubjectRef, ApiError> {
    let lookup = privacy::subject_lookup(&state.keys.pseudonym, external_id.as_str());
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
        _ => Err(ApiError::internal("link write returned no subject")),
    }
}

fn privacy_random16() -> Result<[u8; 16], ApiError> {
    crate::keys::random16().map_err(ApiError::internal)
}

/// Who handled a request, for its case: a visitor's own choice is `subject`.
pub(crate) fn handler_name(state: &AppState, caller: &Caller) -> String {
    caller
        .token
        .and_then(|i| state.config.tokens.get(i))
        .map_or_else(|| "subject".to_owned(), |t| t.name.clone())
}

/// What [`issue`] did: recorded a new receipt, or found the request's idempotency key already used
/// (the answer is then the first receipt's).
pub(crate) enum Issued {
    /// A new receipt, committed: `201`.
    New(serde_json::Value),
    /// A repeat of a request already recorded, with the same idempotency key and body: `200` with the
    /// first answer; nothing was written.
    Repeat(serde_json::Value),
}

impl Issued {
    /// The response body, whichever it is.
    pub(crate) fn into_body(self) -> serde_json::Value {
        match self {
            Issued::New(v) | Issued::Repeat(v) => v,
        }
    }
}

/// Signs and commits the receipt of a checked request for `subject` (only `VerifiedReceipt`s are
/// stored), unless its `idempotency` key was used already ([`super::idempotency`]); returns the
/// response body, with the consent token of what the request gave and refused.
///
/// The receipt is payload version 2: names, if the request has any, are sealed under the subject's
/// data key, which is created (from the server's RNG) in the same transaction as the receipt when the
/// subject has none. A receipt that withdraws anything opens its case (a withdrawal, or an unsubscribe),
/// handled by `handled_by`, in the same transaction. `fresh`: the subject was drawn for this request (a
/// new device), so it has nothing stored yet.
pub(crate) async fn issue(
    state: &AppState,
    subject: SubjectRef,
    fresh: bool,
    checked: CheckedRequest,
    browser: Option<&'static str>,
    handled_by: &str,
    idempotency: Option<Idempotency>,
) -> Result<Issued, ApiError> {
    let (now, ms) = state.now();
    let id = privacy::receipt_id(privacy::millis(now, ms), privacy_random16()?);
    let (given, refused) = (checked.given(), checked.refused());
    let req =
        checked.into_receipt_request(id, now, state.config.issuer.clone(), subject.to_string());
    let named = req.subject_name.is_some() || req.representative.is_some();
    let case = req
        .decisions
        .values()
        .any(|c| *c == Choice::Withdrawn)
        .then(|| {
            let kind = if req.method == Method::Unsubscribe {
                CaseKind::Unsubscribe
            } else {
                CaseKind::Withdrawal
            };
            cases::new_case(&state.calendar, kind, now, handled_by, true)
        });
    // Two receipts naming a new subject at once may both draw a key; the second commit is refused
    // (`DataKeyExists`) and sealed again under the key the first stored.
    for _ in 0..2 {
        let key = if named {
            let stored = state.read(move |store| store.data_key(subject)).await?;
            Some(match stored {
                Some((key, _)) => (key, false),
                None => (
                    DataKey::from_bytes(crate::keys::random32().map_err(ApiError::internal)?),
                    true,
                ),
            })
        } else {
            None
        };
        // Fresh nonces for each sealing, drawn only when there is something to seal.
        let seal = match &key {
            Some((k, _)) => {
                let (a, b) = (
                    privacy_random16()?,
                    crate::keys::random32().map_err(ApiError::internal)?,
                );
                let mut n = [0u8; 48];
                n[..16].copy_from_slice(&a);
                n[16..].copy_from_slice(&b);
                Some(Seal::new(k, SealNonces::from_bytes(n)))
            }
            None => None,
        };
        let payload =
            ReceiptPayload::new_v2(&state.policy, req.clone(), seal).map_err(ApiError::internal)?;
        let verified = payload
            .sign_verified(&state.keys.receipts)
            .map_err(ApiError::internal)?;
        // The token is signed before the write: nothing can fail between the commit and the answer.
        let mut out = answer(state, subject, &verified, given, refused)?;
        let mut new = NewReceipt::new(&verified, browser)
            .map_err(ApiError::internal)?
            .with_idempotency(idempotency);
        if let Some((k, true)) = key {
            new = new.with_new_data_key(k);
        }
        if fresh {
            new = new.with_fresh_subject();
        }
        // Webhook deliveries (issue 20.4), in the receipt's transaction; a withdrawal's case then
        // closes when every subscribed system has acknowledged it.
        let deliveries = state
            .webhooks
            .for_receipt(&new)
            .map_err(ApiError::internal)?;
        if let Some(c) = &case {
            let mut c = c.clone();
            c.done = !deliveries.iter().any(|d| d.for_case);
            new = new.with_case(c);
        }
        new = new.with_deliveries(deliveries);
        let written = state
            .store
            .submit(Write::Receipt(Box::new(new)))?
            .await
            .map_err(ApiError::internal)?;
        let written = match written {
            Err(StoreError::DataKeyExists) => continue,
            r => r?,
        };
        if let Written::Repeat { receipt, same_body } = written {
            return super::idempotency::repeat(state, receipt, same_body)
                .await
                .map(Issued::Repeat);
        }
        state.metrics.receipts.fetch_add(1, Ordering::Relaxed);
        if let Written::Logged(index) = written {
            // The checkpointer signs what grew (as `AppState::write` tells it for other writes).
            state.log.grown.notify_one();
            super::log::with_log_fields(&mut out, id, index);
        }
        return Ok(Issued::New(out));
    }
    Err(ApiError::internal("the subject's data key kept changing"))
}

/// The answer for `receipt`, `subject`'s, which gave `given` and refused `refused` (codes): the
/// receipt and a consent token of what it decided.
pub(crate) fn answer(
    state: &AppState,
    subject: SubjectRef,
    receipt: &VerifiedReceipt,
    given: PurposeSet,
    refused: PurposeSet,
) -> Result<serde_json::Value, ApiError> {
    let p = receipt.payload();
    let claims = TokenClaims {
        policy_version: p.policy.version,
        issued_at: p.iat,
        expires_at: p.exp,
        subject: match subject {
            SubjectRef::Subject(s) => TokenSubject::Person(s),
            SubjectRef::Device(d) => TokenSubject::Device(d),
        },
        receipt: p.jti,
        given,
        refused,
    };
    let token = state
        .keys
        .tokens
        .sign(&claims)
        .map_err(ApiError::internal)?;
    Ok(serde_json::json!({
        "receipt_id": p.jti.to_string(),
        "receipt": receipt.jws(),
        "token": token,
        "subject": subject.to_string(),
        "issued_at": p.iat.to_string(),
        "expires_at": p.exp.to_string(),
        "gpc": p.gpc,
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

/// `POST /v1/consents`: the body is checked against the current policy, for the caller the bearer
/// token makes (anonymous without one, a service with its scope), with Global Privacy Control if the
/// request has it; an earlier version the server still serves is `policy_outdated` (409). A request
/// naming a device that already has a choice must come with that device's consent token
/// ([`super::device`]).
pub(crate) async fn record(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let checked = {
        let served = |v: PolicyVersion| state.policies.contains_key(&v);
        let mut cx = RequestContext::new(&state.policy, caller.requester());
        cx.served = &served;
        cx.gpc = gpc(&headers);
        cx.check_json(&body).map_err(|e| {
            // A choice made under a version that was replaced while the visitor decided: the banner
            // shows the current one at once (issue 18.7).
            let outdated = e.code == consent_core::RequestErrorCode::PolicyOutdated;
            let mut e = ApiError::from(e);
            if outdated {
                e.policy_version = Some(state.policy.version());
            }
            e
        })?
    };
    let fresh = checked.subject().is_none();
    let subject = match checked.subject() {
        Some(SubjectSelector::External(id)) => link_subject(&state, id).await?,
        Some(SubjectSelector::Device(id)) => {
            super::device::require_holder(&state, &headers, *id).await?;
            SubjectRef::Device(*id)
        }
        None => SubjectRef::Device(SubjectId(privacy_random16()?)),
    };
    let by = handler_name(&state, &caller);
    let idempotency =
        super::idempotency::of_request(&state, &caller, &headers, &body, state.now().0)?;
    match issue(
        &state,
        subject,
        fresh,
        checked,
        browser(&headers),
        &by,
        idempotency,
    )
    .await?
    {
        Issued::New(out) => Ok((StatusCode::CREATED, axum::Json(out)).into_response()),
        Issued::Repeat(out) => Ok((StatusCode::OK, axum::Json(out)).into_response()),
    }
}
