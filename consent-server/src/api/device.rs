//! Whose device it is: a device's choice is changed only by that device (product rule 12).
//!
//! A consent request naming a device (`subject.device`) is recorded when the device has no receipt
//! yet (its first choice claims it), or when it comes with that device's consent token in the
//! `X-Consent-Token` header: one this server signed, with any of its token keys (verify-only ones
//! too), whose subject is the device ([`consent_core::TokenClaims::speaks_for_device`]: a version 2
//! token of kind device, or a version 1 token with the device's bits, while those live). Anything
//! else is a 403 and nothing is written: `device_token_required` without the header,
//! `device_token_mismatch` with a token that does not verify or names another subject.
//!
//! The token proves possession, not freshness: an expired token, or one older than the device's latest
//! choice or erasure, still proves that the browser holding it is the one the server signed it for.
//! `DESIGN.md` ("Whose device") says why, and why two first choices at once do not matter.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use consent_core::{SubjectId, UnverifiedToken};

use crate::error::{ApiError, ErrorCode};
use crate::privacy::SubjectRef;
use crate::state::AppState;

/// The request header that carries a device's consent token (the banner's cookie value).
pub(crate) const CONSENT_TOKEN_HEADER: &str = "x-consent-token";

/// Ok when the request may change `device`'s state: it sends the device's token, or the device has no
/// receipt yet. Only a request without the header costs a store lookup (one indexed `EXISTS`).
pub(crate) async fn require_holder(
    state: &AppState,
    headers: &HeaderMap,
    device: SubjectId,
) -> Result<(), ApiError> {
    if let Some(value) = headers.get(CONSENT_TOKEN_HEADER) {
        return holds(state, value, device);
    }
    let subject = SubjectRef::Device(device);
    if state.read(move |store| store.has_receipts(subject)).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::DeviceTokenRequired,
            format!(
                "{subject} already has a recorded choice: only that device may change it; send its \
                 consent token in the X-Consent-Token header (or leave `subject` out: a new device)"
            ),
        )
        .at("subject.device"));
    }
    Ok(())
}

/// Ok when `value` is a consent token this server signed for `device`.
fn holds(state: &AppState, value: &HeaderValue, device: SubjectId) -> Result<(), ApiError> {
    let mismatch = |message: String| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::DeviceTokenMismatch,
            message,
        )
        .at(CONSENT_TOKEN_HEADER)
    };
    let text = value
        .to_str()
        .map_err(|_| mismatch("X-Consent-Token: not a consent token".into()))?;
    let token = UnverifiedToken::decode(text.trim())
        .and_then(|t| t.verify(&state.keys.tokens))
        .map_err(|e| mismatch(format!("X-Consent-Token: {e}")))?;
    if token.claims().speaks_for_device(device) {
        Ok(())
    } else {
        Err(mismatch(format!(
            "X-Consent-Token is not the consent token of dev:{device}: it names another subject"
        )))
    }
}
