//! Webhook deliveries (issue 20.4): the outbox rows the store keeps, and the writes that move them.
//! Which events go to which system, and what is sent, is decided above the store
//! ([`crate::webhooks`]); the store writes each delivery in the same transaction as the receipt or
//! rights event it reports, hands out the due ones (leased, so that one instance sends each), and
//! records their outcome.

use consent_core::{PurposeId, Timestamp, WebhookEvent};

use crate::privacy::SubjectRef;

/// A delivery's number: 1, 2, 3…, in the order written.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct DeliveryId(pub u64);

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a delivery is.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Not acknowledged yet: due at `next_at`, or waiting for an earlier delivery to the same system
    /// about the same subject.
    Pending,
    /// Acknowledged (the system answered 2xx).
    Delivered,
    /// Not acknowledged before its dead-letter time: kept until retried (`webhooks retry`).
    Dead,
    /// An expiry that did not happen: the subject decided the purpose again, or was erased, first.
    Cancelled,
}

impl DeliveryState {
    /// Every state, in the order `/metrics` lists them.
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Dead,
        DeliveryState::Cancelled,
    ];

    /// As stored and shown: `pending`, `delivered`, `dead`, `cancelled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
            DeliveryState::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DeliveryState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown delivery state `{s}`"))
    }
}

/// A delivery to write with a receipt or rights event, in its transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The Standard Webhooks message id (`webhook-id`): `msg_` and 32 hex digits, the same on every
    /// attempt.
    pub msg_id: String,
    /// The subscription's name (`[[webhooks]] name`).
    pub webhook: String,
    /// What happened.
    pub event: WebhookEvent,
    /// When it happens: now, or for an expiry the moment the consent lapses (not sent before).
    pub occurs_at: Timestamp,
    /// The purposes it concerns (for cancelling an expiry when the purpose is decided again).
    pub purposes: Vec<PurposeId>,
    /// The body to send ([`consent_core::Notification`] as JSON).
    pub payload: String,
    /// Not sent after this (milliseconds since the epoch): moved to dead-letter.
    pub dead_at_ms: i64,
    /// Whether the write's case waits for this delivery's acknowledgement (the case closes when the
    /// last of its deliveries is acknowledged).
    pub for_case: bool,
}

/// A stored delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its number.
    pub id: DeliveryId,
    /// The Standard Webhooks message id.
    pub msg_id: String,
    /// The subscription's name.
    pub webhook: String,
    /// Whose (the pseudonym).
    pub subject: SubjectRef,
    /// What happened.
    pub event: WebhookEvent,
    /// When it happens.
    pub occurs_at: Timestamp,
    /// The body.
    pub payload: String,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made (successful or not).
    pub attempts: u32,
    /// Next attempt not before (milliseconds since the epoch).
    pub next_at_ms: i64,
    /// Dead-letter time (milliseconds since the epoch).
    pub dead_at_ms: i64,
    /// The last failure, as logged (a status code, a connection error).
    pub last_error: Option<String>,
    /// When it was acknowledged.
    pub delivered_at: Option<Timestamp>,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Acknowledged (2xx): the delivery is done, and its case closes if it was the last one.
    Delivered,
    /// Failed (`error`): try again at `retry_at_ms`, or, past the delivery's dead-letter time,
    /// move it to dead-letter.
    Failed {
        /// What went wrong (status, or the connection error), without the body.
        error: String,
        /// The next attempt (backoff with jitter), in milliseconds since the epoch.
        retry_at_ms: i64,
    },
}

/// Which deliveries to list.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeliveryQuery {
    /// Only those in this state.
    pub state: Option<DeliveryState>,
    /// At most this many, oldest first.
    pub limit: Option<u64>,
}

/// Deliveries of one subscription in one state, for `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryCount {
    /// The subscription.
    pub webhook: String,
    /// The state.
    pub state: DeliveryState,
    /// How many.
    pub count: u64,
    /// Failed attempts they had, in all.
    pub failed_attempts: u64,
    /// Of pending ones, those due at the time of counting: tried and not acknowledged yet, or whose first
    /// attempt's time has come (an expiry announced ahead is pending but not due until it falls).
    pub due: u64,
}
