//! One attempt at a delivery: the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,…`, HMAC-SHA256 over `id.timestamp.body`) made with the `standardwebhooks`
//! crate, a POST of the payload, and its outcome: a 2xx answer is an acknowledgement, anything else a
//! failure to retry.

use super::{Subscription, WebhookSecret};
use crate::store::Delivery;

/// Why an attempt failed. Logged and stored as the delivery's last error (never a body: a receiver's
/// answer is not ours to keep).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The receiver answered, but not 2xx.
    #[error("the receiver answered {0}")]
    Status(u16),
    /// No answer: refused, reset, timed out, or a TLS failure.
    #[error("no answer: {0}")]
    Transport(String),
    /// The payload could not be signed (it is not UTF-8: never for payloads we make).
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// The three Standard Webhooks headers for `payload` sent as `msg_id` at `timestamp` (seconds).
///
/// ```
/// use consent_server::webhooks::{WebhookSecret, signed_headers};
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let h = signed_headers(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}")
///     .unwrap();
/// // The specification's own example.
/// assert_eq!(h[2], ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned()));
/// ```
pub fn signed_headers(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: i64,
    payload: &str,
) -> Result<[(&'static str, String); 3], SendError> {
    let signer = standardwebhooks::Webhook::from_bytes(secret.bytes().to_vec())
        .map_err(|e| SendError::Sign(e.to_string()))?;
    let signature = signer
        .sign(msg_id, timestamp, payload.as_bytes())
        .map_err(|e| SendError::Sign(e.to_string()))?;
    Ok([
        (standardwebhooks::HEADER_WEBHOOK_ID, msg_id.to_owned()),
        (
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        ),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature),
    ])
}

/// POSTs `d` to `s` at `now` (seconds: the signature's timestamp, fresh on each attempt).
pub(super) async fn send(
    client: &reqwest::Client,
    s: &Subscription,
    d: &Delivery,
    now: i64,
) -> Result<(), SendError> {
    let mut req = client
        .post(s.url.clone())
        .timeout(s.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(d.payload.clone());
    for (name, value) in signed_headers(&s.secret, &d.msg_id, now, &d.payload)? {
        req = req.header(name, value);
    }
    let res = req.send().await.map_err(|e| {
        // The URL may carry a token in its query: the error names only what failed.
        SendError::Transport(e.without_url().to_string())
    })?;
    let status = res.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(SendError::Status(status.as_u16()))
    }
}
