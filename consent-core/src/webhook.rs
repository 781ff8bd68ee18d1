//! The payload of a webhook delivery (issue 20.4; `spec/SPEC.md` §8): what the server sends to the
//! systems that subscribe to consent events, and what they read. Defined once, here: the server builds
//! it, the example receiver (`examples/mailing-service`) parses it.
//!
//! A payload names the subject by its pseudonym only (`sub:…` or `dev:…`, as stored), never a name,
//! and the purposes the event concerns. The envelope follows the Standard Webhooks recommendation
//! (`type`, `timestamp`, `data`); the headers and signature are the transport's (Standard Webhooks).

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{PolicyVersion, PurposeId, ReceiptId, Timestamp};

/// What happened.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// Consent given for the purposes.
    #[serde(rename = "consent.given")]
    Given,
    /// Consent withdrawn for the purposes (other than by an unsubscribe link).
    #[serde(rename = "consent.withdrawn")]
    Withdrawn,
    /// Consent refused for the purposes.
    #[serde(rename = "consent.refused")]
    Refused,
    /// Consent given earlier lapsed (its receipt's `exp` passed without a newer decision).
    #[serde(rename = "consent.expired")]
    Expired,
    /// Withdrawn through a one-click unsubscribe link (RFC 8058).
    #[serde(rename = "consent.unsubscribed")]
    Unsubscribed,
    /// Processing of the subject's data is restricted (blocked): every purpose.
    #[serde(rename = "subject.restricted")]
    Restricted,
    /// A restriction is lifted: every purpose.
    #[serde(rename = "subject.unblocked")]
    Unblocked,
    /// The subject was erased: every purpose; destroy what you hold about them.
    #[serde(rename = "subject.erased")]
    Erased,
}

impl WebhookEvent {
    /// Every event, in the order of the configuration's documentation.
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::Given,
        WebhookEvent::Withdrawn,
        WebhookEvent::Refused,
        WebhookEvent::Expired,
        WebhookEvent::Restricted,
        WebhookEvent::Unblocked,
        WebhookEvent::Erased,
        WebhookEvent::Unsubscribed,
    ];

    /// The payload's `type`: `consent.given`, `consent.withdrawn`, `consent.refused`,
    /// `consent.expired`, `consent.unsubscribed`, `subject.restricted`, `subject.unblocked`,
    /// `subject.erased`.
    ///
    /// ```
    /// use consent_core::WebhookEvent;
    /// assert_eq!(WebhookEvent::Withdrawn.as_str(), "consent.withdrawn");
    /// assert_eq!("subject.erased".parse(), Ok(WebhookEvent::Erased));
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Given => "consent.given",
            WebhookEvent::Withdrawn => "consent.withdrawn",
            WebhookEvent::Refused => "consent.refused",
            WebhookEvent::Expired => "consent.expired",
            WebhookEvent::Unsubscribed => "consent.unsubscribed",
            WebhookEvent::Restricted => "subject.restricted",
            WebhookEvent::Unblocked => "subject.unblocked",
            WebhookEvent::Erased => "subject.erased",
        }
    }

    /// Whether the event concerns the whole subject (every purpose) rather than some purposes.
    pub const fn whole_subject(self) -> bool {
        matches!(
            self,
            WebhookEvent::Restricted | WebhookEvent::Unblocked | WebhookEvent::Erased
        )
    }
}

impl core::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for WebhookEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WebhookEvent::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown webhook event `{s}`"))
    }
}

/// A webhook delivery's body (JSON).
///
/// ```
/// use consent_core::{Notification, Timestamp, WebhookEvent};
/// let n = Notification::new(WebhookEvent::Withdrawn, Timestamp::from_unix(1_767_225_600),
///     "sub:AAAAAAAAAAAAAAAAAAAAAA".into(), vec!["marketing".parse().unwrap()]);
/// let json = n.to_json();
/// assert_eq!(json, r#"{"type":"consent.withdrawn","timestamp":1767225600,"data":{"subject":"sub:AAAAAAAAAAAAAAAAAAAAAA","purposes":["marketing"]}}"#);
/// assert_eq!(Notification::from_json(json.as_bytes()).unwrap(), n);
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// What happened.
    #[serde(rename = "type")]
    pub event: WebhookEvent,
    /// When it happened (server time, seconds since the epoch): for `consent.expired`, the moment the
    /// consent lapsed.
    pub timestamp: Timestamp,
    /// About whom, and which purposes.
    pub data: NotificationData,
}

/// What a [`Notification`] is about.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationData {
    /// The subject's pseudonym as the consent server stores it (`sub:…`, `dev:…`); never a name.
    pub subject: String,
    /// The purposes concerned (for `subject.*` events, every purpose of the current policy), restricted
    /// to those the subscription asked for.
    pub purposes: Vec<PurposeId>,
    /// The receipt that recorded it (consent events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptId>,
    /// The policy version it was decided under (consent events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<PolicyVersion>,
}

impl Notification {
    /// A notification of `event` at `timestamp` for `subject` (a pseudonym) and `purposes`.
    pub fn new(
        event: WebhookEvent,
        timestamp: Timestamp,
        subject: String,
        purposes: Vec<PurposeId>,
    ) -> Notification {
        Notification {
            event,
            timestamp,
            data: NotificationData {
                subject,
                purposes,
                receipt: None,
                policy_version: None,
            },
        }
    }

    /// The same, recorded by `receipt` under `policy_version`.
    pub fn with_receipt(mut self, receipt: ReceiptId, policy_version: PolicyVersion) -> Self {
        self.data.receipt = Some(receipt);
        self.data.policy_version = Some(policy_version);
        self
    }

    /// As JSON (compact, members in the order above).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a delivery's body: exactly the members above, an event this library knows, valid ids.
    ///
    /// ```
    /// use consent_core::{Notification, NotificationError};
    /// let err = Notification::from_json(br#"{"type":"consent.lost","timestamp":1,"data":{}}"#)
    ///     .unwrap_err();
    /// assert!(matches!(err, NotificationError::Malformed(_)));
    /// let message = err.to_string();
    /// assert!(message.starts_with("not a webhook notification: unknown variant `consent.lost`"), "{message}");
    /// ```
    pub fn from_json(body: &[u8]) -> Result<Notification, NotificationError> {
        serde_json::from_slice(body).map_err(|e| NotificationError::Malformed(e.to_string()))
    }
}

/// Why a webhook delivery's body is not a [`Notification`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// Not JSON, or JSON that is not a notification (a member missing or unknown, an event this library
    /// does not know, a malformed id or version), with where, as the JSON reader says it.
    #[error("not a webhook notification: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_is_not_a_notification_says_what_is_wrong() {
        for (body, says) in [
            (&b"not json"[..], "expected ident"),
            (b"{\"type\":\"consent.given\",\"timestamp\":1}", "missing field `data`"),
            (
                b"{\"type\":\"consent.given\",\"timestamp\":1,\"data\":{\"subject\":\"sub:x\",\"purposes\":[],\"extra\":1}}",
                "unknown field `extra`",
            ),
            (
                b"{\"type\":\"consent.given\",\"timestamp\":1,\"data\":{\"subject\":\"sub:x\",\"purposes\":[\"Not An Id\"]}}",
                "invalid id",
            ),
        ] {
            let NotificationError::Malformed(message) = Notification::from_json(body).unwrap_err();
            assert!(message.contains(says), "{message}");
        }
    }
}
