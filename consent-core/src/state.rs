//! Folding a subject's events into state, and answering "may I do X now?".

#[allow(unused_imports)]
use crate::prelude::*;

mod decision;

pub use decision::{Allowed, ConsentStatus, Decision, Denied};

use crate::{Choice, ConsentRecord, Event, EventKind, LegalBasis, Policy, PurposeId, Timestamp};

/// The latest choice for one purpose.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Slot {
    at: Timestamp,
    record: ConsentRecord,
    /// Earliest time consent was given for this purpose, for "renewed" status.
    first_given: Option<Timestamp>,
}

/// A subject's consent state: the fold of their events.
///
/// The fold keeps, for each purpose, the latest event by server time (ties go to the more restrictive
/// choice, then to a fixed order of the remaining fields), the latest restriction and the latest
/// erasure. So it is order-independent: events folded in any order, or folded twice, give the same state.
///
/// ```
/// use consent_core::{Actor, Choice, ConsentRecord, ConsentState, Event, EventKind, Method, Timestamp};
/// let record = |choice| ConsentRecord {
///     purpose: "marketing".parse().unwrap(),
///     choice,
///     policy_version: "2025-03-26".parse().unwrap(),
///     method: Method::Custom,
///     expires_at: None,
///     by: Actor::Subject,
/// };
/// let given = Event { at: Timestamp::from_unix(100), kind: EventKind::Consent(record(Choice::Given)) };
/// let withdrawn = Event { at: Timestamp::from_unix(200), kind: EventKind::Consent(record(Choice::Withdrawn)) };
/// assert_eq!(ConsentState::fold(&[given, withdrawn]), ConsentState::fold(&[withdrawn, given]));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ConsentState {
    /// Sorted by purpose id.
    slots: Vec<Slot>,
    /// Latest restrict (`true`) or unblock (`false`); at equal times restrict wins.
    restriction: Option<(Timestamp, bool)>,
    /// Latest erasure.
    erased_at: Option<Timestamp>,
    /// Latest event that is not an erasure.
    last_other: Option<Timestamp>,
}

impl ConsentState {
    /// The empty state: nothing asked, nothing given.
    pub fn new() -> Self {
        ConsentState::default()
    }

    /// Folds events, in any order.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut state = ConsentState::new();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// Folds the events that happened at or before `t`: the state as it was at `t`, to answer "did S
    /// consent to P at time T?".
    pub fn fold_until<'a>(events: impl IntoIterator<Item = &'a Event>, t: Timestamp) -> Self {
        ConsentState::fold(events.into_iter().filter(|e| e.at <= t))
    }

    /// Adds one event.
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match event.kind {
            EventKind::Consent(record) => {
                self.last_other = self.last_other.max(Some(at));
                let given = (record.choice == Choice::Given).then_some(at);
                match self
                    .slots
                    .iter_mut()
                    .find(|s| s.record.purpose == record.purpose)
                {
                    Some(slot) => {
                        if (at, record.choice, record) > (slot.at, slot.record.choice, slot.record)
                        {
                            slot.at = at;
                            slot.record = record;
                        }
                        slot.first_given = match (slot.first_given, given) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                    None => {
                        let pos = self
                            .slots
                            .partition_point(|s| s.record.purpose < record.purpose);
                        self.slots.insert(
                            pos,
                            Slot {
                                at,
                                record,
                                first_given: given,
                            },
                        );
                    }
                }
            }
            EventKind::Restrict | EventKind::Unblock => {
                self.last_other = self.last_other.max(Some(at));
                let new = (at, matches!(event.kind, EventKind::Restrict));
                if self.restriction.is_none_or(|old| new > old) {
                    self.restriction = Some(new);
                }
            }
            EventKind::Erase => self.erased_at = self.erased_at.max(Some(at)),
        }
    }

    /// The latest record and its time for each purpose the subject ever decided on, ordered by
    /// purpose id. Records from before an erasure are included; see [`ConsentState::erased_at`].
    pub fn records(&self) -> impl Iterator<Item = (Timestamp, &ConsentRecord)> {
        self.slots.iter().map(|s| (s.at, &s.record))
    }

    /// When the subject's data was last erased.
    pub fn erased_at(&self) -> Option<Timestamp> {
        self.erased_at
    }

    /// Since when processing is restricted, if it is.
    pub fn restricted_since(&self) -> Option<Timestamp> {
        match (self.restriction, self.erased_at) {
            (Some((since, true)), Some(e)) if since > e => Some(since),
            (Some((since, true)), None) => Some(since),
            _ => None,
        }
    }

    fn slot(&self, purpose: PurposeId) -> Option<&Slot> {
        self.slots.iter().find(|s| s.record.purpose == purpose)
    }

    /// May `purpose` be pursued for this subject at time `at` under `policy`?
    ///
    /// Checks, in order: the purpose exists in the policy; the subject is not erased; processing is not
    /// restricted (restriction does not stop purposes whose basis is a legal obligation); purposes that
    /// need no consent (another legal basis, strictly necessary cookies) are allowed; otherwise the
    /// latest choice must be "given", under a policy version in which the purpose has not changed since,
    /// and not expired.
    ///
    /// `at` should not be earlier than the events folded; for a question about the past, fold with
    /// [`ConsentState::fold_until`].
    pub fn decision(&self, purpose: PurposeId, at: Timestamp, policy: &Policy) -> Decision {
        let Some(p) = policy.purpose(purpose) else {
            return Decision::Denied(Denied::UnknownPurpose);
        };
        let slot = self.slot(purpose);
        let needs_consent = p.needs_consent();
        if let Some(e) = self.erased_at {
            let later = if needs_consent {
                slot.map(|s| s.at)
            } else {
                self.last_other
            };
            if later.is_none_or(|l| l <= e) {
                return Decision::Denied(Denied::Erased { at: e });
            }
        }
        if let Some(since) = self.restricted_since()
            && p.legal_basis != LegalBasis::LegalObligation
        {
            return Decision::Denied(Denied::Blocked { since });
        }
        if !needs_consent {
            return Decision::Allowed(Allowed::NotRequired {
                basis: p.legal_basis,
            });
        }
        let Some(slot) = slot else {
            return Decision::Denied(Denied::NeverAsked);
        };
        let r = &slot.record;
        match r.choice {
            Choice::Refused => Decision::Denied(Denied::Refused { at: slot.at }),
            Choice::Withdrawn => Decision::Denied(Denied::Withdrawn { at: slot.at }),
            Choice::Given => {
                if p.changed_in > r.policy_version {
                    return Decision::Denied(Denied::RenewalNeeded {
                        changed_in: p.changed_in,
                        given_under: r.policy_version,
                    });
                }
                let expires_at = r.expires_at.unwrap_or_else(|| {
                    slot.at
                        .add_months(u32::from(policy.choice_validity_months()))
                });
                if at >= expires_at {
                    return Decision::Denied(Denied::Expired { at: expires_at });
                }
                let renewed = slot
                    .first_given
                    .is_some_and(|f| f < slot.at && self.erased_at.is_none_or(|e| f > e));
                Decision::Allowed(Allowed::Consent {
                    given_at: slot.at,
                    expires_at,
                    policy_version: r.policy_version,
                    renewed,
                })
            }
        }
    }

    /// The W3C DPV consent status of `purpose` at `at`, or `None` for purposes that need no consent (or
    /// that the policy does not declare). A restriction does not change the status of a consent;
    /// an erasure counts as withdrawal.
    ///
    /// ```
    /// # use consent_core::{ConsentState, ConsentStatus, Policy, Timestamp};
    /// # let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap();
    /// let s = ConsentState::new();
    /// let status = s.status("marketing".parse().unwrap(), Timestamp::from_unix(0), &policy);
    /// assert_eq!(status.map(|s| s.iri()), Some("https://w3id.org/dpv#ConsentUnknown"));
    /// ```
    pub fn status(
        &self,
        purpose: PurposeId,
        at: Timestamp,
        policy: &Policy,
    ) -> Option<ConsentStatus> {
        if !policy.purpose(purpose)?.needs_consent() {
            return None;
        }
        let unrestricted = ConsentState {
            restriction: None,
            ..self.clone()
        };
        match unrestricted.decision(purpose, at, policy) {
            Decision::Allowed(Allowed::Consent { renewed: false, .. }) => {
                Some(ConsentStatus::Given)
            }
            Decision::Allowed(Allowed::Consent { renewed: true, .. }) => {
                Some(ConsentStatus::RenewedGiven)
            }
            Decision::Allowed(Allowed::NotRequired { .. })
            | Decision::Denied(Denied::UnknownPurpose) => None,
            Decision::Denied(d) => match d {
                Denied::NeverAsked => Some(ConsentStatus::Unknown),
                Denied::Refused { .. } => Some(ConsentStatus::Refused),
                Denied::Expired { .. } => Some(ConsentStatus::Expired),
                Denied::RenewalNeeded { .. } => Some(ConsentStatus::Invalidated),
                Denied::Withdrawn { .. }
                | Denied::Erased { .. }
                | Denied::Blocked { .. }
                | Denied::UnknownPurpose => Some(ConsentStatus::Withdrawn),
            },
        }
    }
}

// The tests read the bundled policies from TOML.
#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;
    use crate::{Actor, ConsentStatus as S, Method, Relation};

    const V1: &str = include_str!("../../examples/invisionu/policy.toml");
    const V2: &str = include_str!("../tests/fixtures/invisionu-2026-06-01.toml");
    const DAY: i64 = 86_400;

    fn policy(src: &str) -> Policy {
        Policy::from_toml(src).unwrap()
    }

    fn t(days: i64) -> Timestamp {
        // 2025-04-01T00:00:00Z plus `days`.
        Timestamp::from_unix(1_743_465_600 + days * DAY)
    }

    fn consent(at: Timestamp, purpose: &str, choice: Choice, version: &str) -> Event {
        Event {
            at,
            kind: EventKind::Consent(ConsentRecord {
                purpose: purpose.parse().unwrap(),
                choice,
                policy_version: version.parse().unwrap(),
                method: Method::Custom,
                expires_at: None,
                by: Actor::Subject,
            }),
        }
    }

    fn decide(events: &[Event], purpose: &str, at: Timestamp, p: &Policy) -> Decision {
        ConsentState::fold(events).decision(purpose.parse().unwrap(), at, p)
    }

    #[test]
    fn silence_is_not_consent() {
        let p = policy(V1);
        assert_eq!(
            decide(&[], "marketing", t(0), &p),
            Decision::Denied(Denied::NeverAsked)
        );
        assert_eq!(
            ConsentState::new().status("marketing".parse().unwrap(), t(0), &p),
            Some(S::Unknown)
        );
    }

    #[test]
    fn given_refused_withdrawn() {
        let p = policy(V1);
        let given = consent(t(0), "marketing", Choice::Given, "2025-03-26");
        let d = decide(&[given], "marketing", t(1), &p);
        assert_eq!(
            d,
            Decision::Allowed(Allowed::Consent {
                given_at: t(0),
                expires_at: t(0).add_months(6),
                policy_version: p.version(),
                renewed: false
            })
        );
        let refused = consent(t(0), "marketing", Choice::Refused, "2025-03-26");
        assert_eq!(
            decide(&[refused], "marketing", t(1), &p),
            Decision::Denied(Denied::Refused { at: t(0) })
        );
        let withdrawn = consent(t(2), "marketing", Choice::Withdrawn, "2025-03-26");
        assert_eq!(
            decide(&[given, withdrawn], "marketing", t(3), &p),
            Decision::Denied(Denied::Withdrawn { at: t(2) })
        );
        // Consent again after withdrawal is "renewed".
        let again = consent(t(4), "marketing", Choice::Given, "2025-03-26");
        let s = ConsentState::fold(&[again, withdrawn, given]);
        assert_eq!(
            s.status("marketing".parse().unwrap(), t(5), &p),
            Some(S::RenewedGiven)
        );
        assert_eq!(
            s.status("contact".parse().unwrap(), t(5), &p),
            Some(S::Unknown)
        );
    }

    #[test]
    fn same_second_the_more_restrictive_choice_wins() {
        let p = policy(V1);
        let given = consent(t(0), "marketing", Choice::Given, "2025-03-26");
        let withdrawn = consent(t(0), "marketing", Choice::Withdrawn, "2025-03-26");
        for events in [[given, withdrawn], [withdrawn, given]] {
            assert!(!decide(&events, "marketing", t(1), &p).is_allowed());
        }
    }

    #[test]
    fn expiry_from_policy_or_event() {
        let p = policy(V1);
        let given = consent(t(0), "cookies-analytics", Choice::Given, "2025-03-26");
        let expires = t(0).add_months(6);
        assert!(decide(&[given], "cookies-analytics", expires.add_seconds(-1), &p).is_allowed());
        assert_eq!(
            decide(&[given], "cookies-analytics", expires, &p),
            Decision::Denied(Denied::Expired { at: expires })
        );
        let mut short = given;
        if let EventKind::Consent(r) = &mut short.kind {
            r.expires_at = Some(t(10));
        }
        assert_eq!(
            decide(&[short], "cookies-analytics", t(10), &p),
            Decision::Denied(Denied::Expired { at: t(10) })
        );
        let s = ConsentState::fold(&[short]);
        assert_eq!(
            s.status("cookies-analytics".parse().unwrap(), t(11), &p),
            Some(S::Expired)
        );
    }

    #[test]
    fn new_version_renews_only_changed_purposes() {
        let v1 = policy(V1);
        let v2 = policy(V2);
        let changed: Vec<_> = v2
            .changed_since(v1.version())
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(changed, ["marketing"]);
        let events = [
            consent(t(0), "marketing", Choice::Given, "2025-03-26"),
            consent(t(0), "cookies-analytics", Choice::Given, "2025-03-26"),
        ];
        assert_eq!(
            decide(&events, "marketing", t(1), &v2),
            Decision::Denied(Denied::RenewalNeeded {
                changed_in: v2.version(),
                given_under: v1.version()
            })
        );
        assert!(decide(&events, "cookies-analytics", t(1), &v2).is_allowed());
        let s = ConsentState::fold(&events);
        assert_eq!(
            s.status("marketing".parse().unwrap(), t(1), &v2),
            Some(S::Invalidated)
        );
        // Renewing under the new version allows it again.
        let renewed = consent(t(2), "marketing", Choice::Given, "2026-06-01");
        let all = [events[0], events[1], renewed];
        assert!(decide(&all, "marketing", t(3), &v2).is_allowed());
        assert_eq!(
            ConsentState::fold(&all).status("marketing".parse().unwrap(), t(3), &v2),
            Some(S::RenewedGiven)
        );
    }

    #[test]
    fn purposes_without_consent_basis_and_necessary_cookies() {
        let p = policy(V1);
        assert_eq!(
            decide(&[], "legal-compliance", t(0), &p),
            Decision::Allowed(Allowed::NotRequired {
                basis: LegalBasis::LegalObligation
            })
        );
        assert_eq!(
            decide(&[], "cookies-necessary", t(0), &p),
            Decision::Allowed(Allowed::NotRequired {
                basis: LegalBasis::LegitimateInterest
            })
        );
        assert_eq!(
            ConsentState::new().status("legal-compliance".parse().unwrap(), t(0), &p),
            None
        );
        assert_eq!(
            decide(&[], "no-such-purpose", t(0), &p),
            Decision::Denied(Denied::UnknownPurpose)
        );
    }

    #[test]
    fn restriction_blocks_until_unblocked_but_not_legal_obligations() {
        let p = policy(V1);
        let given = consent(t(0), "events", Choice::Given, "2025-03-26");
        let block = Event {
            at: t(1),
            kind: EventKind::Restrict,
        };
        let unblock = Event {
            at: t(2),
            kind: EventKind::Unblock,
        };
        assert_eq!(
            decide(&[given, block], "events", t(1), &p),
            Decision::Denied(Denied::Blocked { since: t(1) })
        );
        assert!(decide(&[given, block], "legal-compliance", t(1), &p).is_allowed());
        assert!(!decide(&[given, block], "cookies-necessary", t(1), &p).is_allowed());
        assert!(decide(&[unblock, given, block], "events", t(3), &p).is_allowed());
        // Status is about consent, not restriction.
        let s = ConsentState::fold(&[given, block]);
        assert_eq!(
            s.status("events".parse().unwrap(), t(1), &p),
            Some(S::Given)
        );
        assert_eq!(s.restricted_since(), Some(t(1)));
        // Restrict and unblock in the same second: restricted.
        let unblock_same = Event {
            at: t(1),
            kind: EventKind::Unblock,
        };
        assert!(!decide(&[unblock_same, given, block], "events", t(3), &p).is_allowed());
    }

    #[test]
    fn erasure_ends_everything_until_the_subject_comes_back() {
        let p = policy(V1);
        let given = consent(t(0), "events", Choice::Given, "2025-03-26");
        let block = Event {
            at: t(1),
            kind: EventKind::Restrict,
        };
        let erase = Event {
            at: t(2),
            kind: EventKind::Erase,
        };
        let events = [given, block, erase];
        for purpose in ["events", "legal-compliance", "marketing"] {
            assert_eq!(
                decide(&events, purpose, t(3), &p),
                Decision::Denied(Denied::Erased { at: t(2) })
            );
        }
        let s = ConsentState::fold(&events);
        assert_eq!(
            s.status("events".parse().unwrap(), t(3), &p),
            Some(S::Withdrawn)
        );
        // A new consent after erasure counts, and the old restriction no longer applies.
        let back = consent(t(5), "events", Choice::Given, "2025-03-26");
        let events = [given, block, erase, back];
        assert!(decide(&events, "events", t(6), &p).is_allowed());
        assert!(decide(&events, "legal-compliance", t(6), &p).is_allowed());
        assert_eq!(
            decide(&events, "marketing", t(6), &p),
            Decision::Denied(Denied::Erased { at: t(2) })
        );
        assert_eq!(
            ConsentState::fold(&events).status("events".parse().unwrap(), t(6), &p),
            Some(S::Given)
        );
    }

    #[test]
    fn representatives_decide_like_subjects() {
        let p = policy(V1);
        let mut e = consent(t(0), "public-dissemination", Choice::Given, "2025-03-26");
        if let EventKind::Consent(r) = &mut e.kind {
            r.by = Actor::Representative(Relation::Parent);
        }
        assert!(decide(&[e], "public-dissemination", t(1), &p).is_allowed());
        let s = ConsentState::fold(&[e]);
        let (_, rec) = s.records().next().unwrap();
        assert_eq!(rec.by.to_string(), "representative:parent");
        assert_eq!("representative:parent".parse::<Actor>().unwrap(), rec.by);
    }

    #[test]
    fn fold_until_answers_questions_about_the_past() {
        let p = policy(V1);
        let given = consent(t(0), "marketing", Choice::Given, "2025-03-26");
        let withdrawn = consent(t(10), "marketing", Choice::Withdrawn, "2025-03-26");
        let then = ConsentState::fold_until(&[given, withdrawn], t(5));
        assert!(
            then.decision("marketing".parse().unwrap(), t(5), &p)
                .is_allowed()
        );
    }
}
