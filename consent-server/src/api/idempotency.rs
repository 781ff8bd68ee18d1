//! `Idempotency-Key` on `POST /v1/consents` (issue 18.7): a choice is recorded once, however often it
//! is sent. The banner sends a random key with each choice (a UUID) and the same key when it sends the
//! same choice again (a retry after a lost answer, another tab sending the kept choice); the store keeps
//! the key with the receipt, in the same transaction ([`crate::store::Idempotency`]), for
//! [`LIFETIME_SECS`]. A repeat (same key, same caller, same body) is answered `200` with the first
//! receipt and token; the same key with another body is `422 idempotency_key_reused`.

use axum::http::{HeaderMap, StatusCode};
use consent_core::{Timestamp, UnverifiedReceipt};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::privacy;
use crate::state::AppState;
use crate::store::Idempotency;

/// The request header.
pub(crate) const HEADER: &str = "idempotency-key";
/// How long a key is kept: a day, far longer than any retry of the banner (at most every five
/// minutes, and on the next page load).
pub(crate) const LIFETIME_SECS: i64 = 86_400;

/// The request's idempotency key as stored, if it has one: 8 to 128 characters, each a letter, a digit,
/// `-` or `_` (a UUID fits), else `422 invalid_field` naming the header.
pub(crate) fn of_request(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            (8..=128).contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or_else(|| {
            ApiError::field(
                ErrorCode::InvalidField,
                "Idempotency-Key",
                "Idempotency-Key: 8 to 128 letters, digits, `-` or `_` (a UUID)",
            )
        })?;
    Ok(Some(privacy::idempotency(
        &state.keys.pseudonym,
        caller.name(&state.config),
        key,
        body,
        Timestamp::from_unix(now.as_unix().saturating_add(LIFETIME_SECS)),
    )))
}

/// The answer to a repeat of the request that recorded `receipt`: that receipt and its token, as they
/// were first answered (the token is signed again from the receipt: the same claims, the same bytes).
/// `same_body` false: `422 idempotency_key_reused`.
pub(crate) async fn repeat(
    state: &AppState,
    receipt: consent_core::ReceiptId,
    same_body: bool,
) -> Result<serde_json::Value, ApiError> {
    if !same_body {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was sent with another request body: use a new key for a new choice",
        )
        .at("Idempotency-Key"));
    }
    let stored = state
        .read(move |store| store.receipt(receipt))
        .await?
        .ok_or_else(|| ApiError::internal("idempotency key names a receipt not stored"))?;
    let verified = UnverifiedReceipt::parse(&stored.jws)
        .and_then(|r| r.verify(&state.keys.receipts))
        .map_err(ApiError::internal)?;
    let (given, refused) = super::public::decided(state, &verified);
    let mut out = super::consents::answer(state, stored.subject, &verified, given, refused)?;
    // The first answer's log index, as it gave it.
    if let Some(index) = stored.log_index {
        super::log::with_log_fields(&mut out, stored.id, index);
    }
    Ok(out)
}
