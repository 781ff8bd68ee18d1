//! Consent events: what happened to one subject, and when.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::purpose::vocabulary;
use crate::{ParseError, PolicyVersion, PurposeId, Timestamp};
use core::fmt;

vocabulary! {
    /// The subject's answer for one purpose.
    ///
    /// Ordered from least to most restrictive; when two events for a purpose carry the same time, the
    /// more restrictive one wins.
    Choice, "choice" {
        /// Consent given.
        Given = "given",
        /// Consent refused when asked.
        Refused = "refused",
        /// Consent withdrawn after it was given.
        Withdrawn = "withdrawn",
    }
}

vocabulary! {
    /// How a choice was made.
    ///
    /// ```
    /// use consent_core::Method;
    /// assert_eq!("accept-all".parse::<Method>()?, Method::AcceptAll);
    /// assert_eq!(Method::ALL.len(), 8);
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    Method, "method" {
        /// "Accept all" in the banner.
        AcceptAll = "accept-all",
        /// "Reject all" in the banner.
        RejectAll = "reject-all",
        /// Per-purpose switches in the banner.
        Custom = "custom",
        /// A withdrawal (banner, link, staff).
        Withdraw = "withdraw",
        /// Pre-set by the browser's Global Privacy Control signal.
        Gpc = "gpc",
        /// Recorded by a backend service through the API.
        Api = "api",
        /// A checkbox in a form (e.g. the application form).
        Form = "form",
        /// A one-click unsubscribe link.
        Unsubscribe = "unsubscribe",
    }
}

vocabulary! {
    /// How a legal representative is related to the subject.
    Relation, "relation" {
        /// A parent.
        Parent = "parent",
        /// A guardian or trustee.
        Guardian = "guardian",
        /// Another representative under law or power of attorney.
        Other = "other",
    }
}

/// Who made a decision: the subject, or a legal representative (applicants can be minors).
///
/// ```
/// use consent_core::{Actor, Relation};
/// let a: Actor = "representative:parent".parse()?;
/// assert_eq!(a, Actor::Representative(Relation::Parent));
/// assert_eq!(Actor::Subject.to_string(), "subject");
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Actor {
    /// The data subject.
    Subject,
    /// A legal representative acting for the subject. Who exactly is recorded in the receipt.
    Representative(Relation),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Subject => f.write_str("subject"),
            Actor::Representative(r) => write!(f, "representative:{r}"),
        }
    }
}

impl core::str::FromStr for Actor {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.strip_prefix("representative:") {
            Some(r) => Ok(Actor::Representative(r.parse()?)),
            None if s == "subject" => Ok(Actor::Subject),
            None => Err(ParseError::Unknown("actor")),
        }
    }
}

/// A choice for one purpose.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ConsentRecord {
    /// The purpose.
    pub purpose: PurposeId,
    /// Given, refused or withdrawn.
    pub choice: Choice,
    /// The policy version the subject was shown.
    pub policy_version: PolicyVersion,
    /// How the choice was made.
    pub method: Method,
    /// When a given consent lapses; `None` means the policy's `choice_validity_months` after the event.
    pub expires_at: Option<Timestamp>,
    /// Who decided.
    pub by: Actor,
}

/// What happened.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum EventKind {
    /// A choice for one purpose.
    Consent(ConsentRecord),
    /// Processing restricted (blocked) at the subject's request.
    Restrict,
    /// A restriction lifted.
    Unblock,
    /// The subject's data erased: earlier consents no longer count.
    Erase,
}

/// One event in a subject's history. `at` is the server's time, never the client's.
///
/// ```
/// use consent_core::{Actor, Choice, ConsentRecord, Event, EventKind, Method, Timestamp};
/// let e = Event {
///     at: Timestamp::from_unix(1_750_000_000),
///     kind: EventKind::Consent(ConsentRecord {
///         purpose: "marketing".parse()?,
///         choice: Choice::Given,
///         policy_version: "2025-03-26".parse()?,
///         method: Method::Custom,
///         expires_at: None,
///         by: Actor::Subject,
///     }),
/// };
/// assert!(matches!(e.kind, EventKind::Consent(r) if r.choice == Choice::Given));
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Event {
    /// Server time of the event.
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
}
