//! The choice logic: what "accept all", "reject all", a custom choice and a withdrawal decide, over sets
//! of purposes.
//!
//! The banner runs it when a visitor clicks; the server runs the same rules when it checks a request
//! ([`crate::ConsentRequest::check`]): whether the method agrees with the decisions, and which purposes
//! Global Privacy Control refuses. Its inputs are sets of purpose codes ([`PurposeScope`]), which the
//! server takes from a [`Policy`] and the banner from the policy's JSON, so both compute the same thing.

use crate::{
    Choice, CollectionKind, CookieCategoryId, Decisions, Method, Policy, PurposeId, PurposeKind,
    PurposeSet, TokenClaims,
};

/// The purposes a collection point deals with, as sets of codes: the input of the choice logic.
///
/// [`PurposeScope::of_policy`] takes every purpose of a policy; [`PurposeScope::within`] narrows it to
/// the purposes one collection point asks for (the banner asks for cookie purposes only, issue 18).
/// The banner, which reads the policy as JSON rather than as a [`Policy`], fills the three sets itself.
///
/// ```
/// use consent_core::{Method, Policy, PurposeScope, PurposeSet};
/// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
/// let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
/// let scope = PurposeScope::of_policy(&policy);
/// assert!(scope.asked.contains(code("marketing")));
/// assert!(scope.unconditional.contains(code("cookies-necessary")));
/// assert!(scope.marketing.contains(code("cookies-marketing")));
///
/// // The banner's scope: the cookie purposes.
/// let cookies = PurposeSet::from_codes(
///     ["cookies-preferences", "cookies-analytics", "cookies-marketing"].map(code),
/// );
/// let banner = scope.within(cookies);
/// let all = banner.decide(Method::AcceptAll, false, PurposeSet::EMPTY, PurposeSet::EMPTY);
/// assert_eq!(all.given, cookies);
/// assert!(!all.given.contains(code("marketing")), "the newsletter is asked for in forms only");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PurposeScope {
    /// Purposes that need no consent (another legal basis, strictly necessary cookies): always allowed,
    /// never asked.
    pub unconditional: PurposeSet,
    /// Purposes that need consent and that this collection point asks for: what "accept all" gives.
    pub asked: PurposeSet,
    /// Marketing purposes (kind `marketing`, or the marketing cookie category): Global Privacy Control
    /// refuses those of [`PurposeScope::asked`] that a choice does not decide explicitly.
    pub marketing: PurposeSet,
}

/// What a choice decides, as sets of purpose codes ([`PurposeScope::decide`]).
///
/// `given`, `refused`, `withdrawn` and `left_out` are disjoint and together make up the scope's
/// [`PurposeScope::asked`].
///
/// ```
/// use consent_core::{Method, PurposeScope, PurposeSet};
/// let scope = PurposeScope {
///     unconditional: PurposeSet::of(10),
///     asked: PurposeSet::from_codes([11, 12, 13]),
///     marketing: PurposeSet::of(13),
/// };
/// // "Accept all" under Global Privacy Control, with analytics (12) granted before.
/// let d = scope.decide(Method::AcceptAll, true, PurposeSet::EMPTY, PurposeSet::of(12));
/// assert_eq!(d.given, PurposeSet::from_codes([11, 12]));
/// assert_eq!(d.left_out, PurposeSet::of(13));
/// assert_eq!(d.off(), PurposeSet::of(13));
/// assert_eq!(d.decided(), PurposeSet::from_codes([11, 12]), "what the request lists");
/// assert_eq!(d.granted(&scope), PurposeSet::from_codes([10, 11, 12]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decided {
    /// How it was made; [`Method::Withdraw`] when it turns off everything granted before and gives
    /// nothing.
    pub method: Method,
    /// Purposes consented to.
    pub given: PurposeSet,
    /// Purposes refused (not granted before).
    pub refused: PurposeSet,
    /// Purposes granted before and turned off by this choice.
    pub withdrawn: PurposeSet,
    /// Purposes this choice leaves to the server: the marketing ones of "accept all" under Global
    /// Privacy Control (the browser sends `Sec-GPC: 1` with the request, and the server records them as
    /// refused, with the signal: [`PurposeScope::gpc_refuses`]).
    pub left_out: PurposeSet,
}

impl Method {
    /// What a choice made this way gives among `asked`, when the person switched on `selected`: "accept
    /// all" gives every purpose asked, "reject all" and a withdrawal give none, and every other method
    /// gives exactly the selected ones that are asked.
    ///
    /// The server checks a request with it: the purposes a request gives must be what its method gives
    /// among the purposes it lists.
    ///
    /// ```
    /// use consent_core::{Method, PurposeSet};
    /// let asked = PurposeSet::from_codes([1, 2, 3]);
    /// let selected = PurposeSet::from_codes([2, 7]);
    /// assert_eq!(Method::AcceptAll.gives(asked, selected), asked);
    /// assert_eq!(Method::RejectAll.gives(asked, selected), PurposeSet::EMPTY);
    /// assert_eq!(Method::Withdraw.gives(asked, selected), PurposeSet::EMPTY);
    /// assert_eq!(Method::Custom.gives(asked, selected), PurposeSet::of(2));
    /// ```
    pub const fn gives(self, asked: PurposeSet, selected: PurposeSet) -> PurposeSet {
        match self {
            Method::AcceptAll => asked,
            Method::RejectAll | Method::Withdraw => PurposeSet::EMPTY,
            _ => asked.intersection(selected),
        }
    }
}

impl PurposeScope {
    /// Every purpose of `policy`: those that need consent are asked, the others unconditional.
    pub fn of_policy(policy: &Policy) -> PurposeScope {
        let mut scope = PurposeScope::default();
        for p in policy.purposes() {
            if !p.needs_consent() {
                scope.unconditional.insert(p.code);
                continue;
            }
            scope.asked.insert(p.code);
            if p.kind == PurposeKind::Marketing
                || p.cookie_category == Some(CookieCategoryId::Marketing)
            {
                scope.marketing.insert(p.code);
            }
        }
        scope
    }

    /// The scope of a collection point of `kind` under `policy`: it asks for the purposes that need
    /// consent and list it in their `collection_points` ([`Policy::purposes_at`]); what needs no consent
    /// stays unconditional. What its "accept all", "reject all" and second layer cover, and what a
    /// request from it may decide.
    ///
    /// ```
    /// use consent_core::{CollectionKind, Method, Policy, PurposeKind, PurposeScope, PurposeSet};
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// let banner = PurposeScope::at(&policy, CollectionKind::Banner);
    /// let all = banner.decide(Method::AcceptAll, false, PurposeSet::EMPTY, PurposeSet::EMPTY);
    /// assert_eq!(all.given.len(), 3, "preferences, analytics and marketing cookies");
    /// assert!(all.given.codes().all(|c| policy.purpose_by_code(c).unwrap().kind == PurposeKind::Cookies));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(policy: &Policy, kind: CollectionKind) -> PurposeScope {
        PurposeScope::of_policy(policy).within(policy.purposes_at(kind))
    }

    /// The same scope, asking only for the purposes in `purposes` (a collection point's own purposes);
    /// what needs no consent stays unconditional.
    ///
    /// ```
    /// use consent_core::{PurposeScope, PurposeSet};
    /// let scope = PurposeScope {
    ///     unconditional: PurposeSet::of(0),
    ///     asked: PurposeSet::from_codes([1, 2]),
    ///     marketing: PurposeSet::of(2),
    /// };
    /// let narrow = scope.within(PurposeSet::of(1));
    /// assert_eq!((narrow.asked, narrow.marketing), (PurposeSet::of(1), PurposeSet::EMPTY));
    /// assert_eq!(narrow.unconditional, PurposeSet::of(0));
    /// ```
    pub fn within(self, purposes: PurposeSet) -> PurposeScope {
        PurposeScope {
            unconditional: self.unconditional,
            asked: self.asked & purposes,
            marketing: self.marketing & purposes,
        }
    }

    /// Decides every purpose asked: all given ("accept all"), none given ("reject all", a withdrawal),
    /// or given exactly when in `selected` (a custom choice, and every other method).
    ///
    /// `previous` is what the current choice grants: each of those now off is `withdrawn`, not refused,
    /// and when everything granted before is off and nothing is given, the method becomes
    /// [`Method::Withdraw`]. With Global Privacy Control (`gpc`), "accept all" leaves the marketing
    /// purposes out (see [`Decided::left_out`]); a choice made purpose by purpose stands as made (the
    /// banner's second layer shows them off to begin with).
    ///
    /// ```
    /// use consent_core::{Method, PurposeScope, PurposeSet};
    /// let (analytics, marketing) = (PurposeSet::of(12), PurposeSet::of(13));
    /// let scope = PurposeScope {
    ///     unconditional: PurposeSet::of(10),
    ///     asked: analytics | marketing,
    ///     marketing,
    /// };
    /// // Analytics on in the second layer: marketing refused.
    /// let c = scope.decide(Method::Custom, false, analytics, PurposeSet::EMPTY);
    /// assert_eq!((c.given, c.refused), (analytics, marketing));
    /// assert_eq!(c.granted(&scope), PurposeSet::of(10) | analytics);
    /// // Later, everything turned off: a withdrawal of analytics.
    /// let w = scope.decide(Method::Custom, false, PurposeSet::EMPTY, analytics);
    /// assert_eq!((w.method, w.withdrawn), (Method::Withdraw, analytics));
    /// ```
    pub fn decide(
        self,
        method: Method,
        gpc: bool,
        selected: PurposeSet,
        previous: PurposeSet,
    ) -> Decided {
        let asked = self.asked;
        let left_out = if gpc && method == Method::AcceptAll {
            self.marketing & asked
        } else {
            PurposeSet::EMPTY
        };
        let given = method.gives(asked - left_out, selected);
        let off = asked - given - left_out;
        let previous = previous & asked;
        let method = if !previous.is_empty() && given.is_empty() {
            Method::Withdraw
        } else {
            method
        };
        Decided {
            method,
            given,
            refused: off - previous,
            withdrawn: off & previous,
            left_out,
        }
    }

    /// The choice Global Privacy Control makes on a return visit (issue 18.7): the browser now sends the
    /// signal, and the consent token, from a choice made without it, grants marketing purposes of this
    /// scope (`previous`). Those are withdrawn, what else `previous` grants stays given, the rest is
    /// refused; the method is `custom`, or `withdraw` when nothing stays given. `None` when `previous`
    /// grants no marketing purpose: nothing to change, nothing to record.
    ///
    /// ```
    /// use consent_core::{Method, PurposeScope, PurposeSet};
    /// let scope = PurposeScope {
    ///     unconditional: PurposeSet::of(10),
    ///     asked: PurposeSet::from_codes([11, 12, 13]),
    ///     marketing: PurposeSet::of(13),
    /// };
    /// let d = scope.gpc_withdrawal(PurposeSet::from_codes([12, 13])).unwrap();
    /// assert_eq!((d.method, d.given, d.withdrawn), (Method::Custom, PurposeSet::of(12), PurposeSet::of(13)));
    /// assert_eq!(d.refused, PurposeSet::of(11));
    /// let d = scope.gpc_withdrawal(PurposeSet::of(13)).unwrap();
    /// assert_eq!(d.method, Method::Withdraw);
    /// assert_eq!(scope.gpc_withdrawal(PurposeSet::of(12)), None);
    /// ```
    pub fn gpc_withdrawal(self, previous: PurposeSet) -> Option<Decided> {
        if !self.gpc_withdraws(previous) {
            return None;
        }
        let previous = previous & self.asked;
        Some(self.decide(Method::Custom, true, previous - self.marketing, previous))
    }

    /// Whether [`PurposeScope::gpc_withdrawal`] has something to withdraw from `previous` (a marketing
    /// purpose of this scope that it grants), without working out the choice: the banner's return-visit
    /// part asks this, and leaves the withdrawal itself to the full banner.
    ///
    /// ```
    /// use consent_core::{PurposeScope, PurposeSet};
    /// let scope = PurposeScope {
    ///     unconditional: PurposeSet::of(10),
    ///     asked: PurposeSet::from_codes([11, 12, 13]),
    ///     marketing: PurposeSet::of(13),
    /// };
    /// assert!(scope.gpc_withdraws(PurposeSet::from_codes([12, 13])));
    /// assert!(!scope.gpc_withdraws(PurposeSet::from_codes([10, 12])));
    /// ```
    pub fn gpc_withdraws(self, previous: PurposeSet) -> bool {
        !(previous & self.asked & self.marketing).is_empty()
    }

    /// The purposes Global Privacy Control refuses in a choice made with `method` that decides
    /// `decided` explicitly: the marketing purposes asked and not decided. A withdrawal adds nothing (it
    /// only turns off). The server records these as refused when the request comes with `Sec-GPC: 1`.
    ///
    /// ```
    /// use consent_core::{Method, PurposeScope, PurposeSet};
    /// let scope = PurposeScope {
    ///     unconditional: PurposeSet::EMPTY,
    ///     asked: PurposeSet::from_codes([8, 12, 13]),
    ///     marketing: PurposeSet::from_codes([8, 13]),
    /// };
    /// assert_eq!(scope.gpc_refuses(Method::AcceptAll, PurposeSet::of(12)), PurposeSet::from_codes([8, 13]));
    /// assert_eq!(scope.gpc_refuses(Method::Custom, PurposeSet::of(8)), PurposeSet::of(13));
    /// assert_eq!(scope.gpc_refuses(Method::Withdraw, PurposeSet::EMPTY), PurposeSet::EMPTY);
    /// ```
    pub fn gpc_refuses(self, method: Method, decided: PurposeSet) -> PurposeSet {
        if method == Method::Withdraw {
            PurposeSet::EMPTY
        } else {
            (self.marketing & self.asked) - decided
        }
    }

    /// The purposes a consent token lets run (its expiry aside, which the caller checks): those that
    /// need no consent, and those asked that the token gives, does not refuse, and that have not
    /// `changed` (in meaning, since the token's policy version: such consents need renewal). The same
    /// rules as [`crate::ConsentToken::decision`].
    ///
    /// ```
    /// use consent_core::{PurposeScope, PurposeSet, TokenClaims};
    /// # let claims = |given, refused| TokenClaims {
    /// #     policy_version: "2025-03-26".parse().unwrap(),
    /// #     issued_at: consent_core::Timestamp::from_unix(1_743_498_000),
    /// #     expires_at: consent_core::Timestamp::from_unix(1_759_309_200),
    /// #     subject: consent_core::TokenSubject::Device(consent_core::SubjectId([1; 16])),
    /// #     receipt: consent_core::ReceiptId([2; 16]),
    /// #     given, refused,
    /// # };
    /// let scope = PurposeScope {
    ///     unconditional: PurposeSet::of(10),
    ///     asked: PurposeSet::from_codes([12, 13]),
    ///     marketing: PurposeSet::of(13),
    /// };
    /// let token: TokenClaims = claims(PurposeSet::of(12), PurposeSet::of(13));
    /// assert_eq!(scope.granted_by_token(&token, PurposeSet::EMPTY), PurposeSet::from_codes([10, 12]));
    /// // Analytics changed since the token's version: it needs asking again.
    /// assert_eq!(scope.granted_by_token(&token, PurposeSet::of(12)), PurposeSet::of(10));
    /// ```
    pub fn granted_by_token(self, claims: &TokenClaims, changed: PurposeSet) -> PurposeSet {
        self.unconditional | ((claims.given - claims.refused - changed) & self.asked)
    }
}

impl Decided {
    /// Everything this choice turns off: refused, withdrawn, and left to Global Privacy Control.
    pub fn off(&self) -> PurposeSet {
        self.refused | self.withdrawn | self.left_out
    }

    /// The purposes the request records a decision for: given, refused or withdrawn (not those left to
    /// Global Privacy Control).
    pub fn decided(&self) -> PurposeSet {
        self.given | self.refused | self.withdrawn
    }

    /// What this choice lets run: the purposes that need no consent, and those given.
    pub fn granted(&self, scope: &PurposeScope) -> PurposeSet {
        scope.unconditional | self.given
    }

    /// The decision this choice records for the purpose with `code`, if any.
    ///
    /// ```
    /// use consent_core::{Choice, Method, PurposeScope, PurposeSet};
    /// let scope = PurposeScope { asked: PurposeSet::from_codes([1, 2]), ..PurposeScope::default() };
    /// let c = scope.decide(Method::Custom, false, PurposeSet::of(1), PurposeSet::of(2));
    /// assert_eq!(c.choice(1), Some(Choice::Given));
    /// assert_eq!(c.choice(2), Some(Choice::Withdrawn));
    /// assert_eq!(c.choice(3), None);
    /// ```
    pub fn choice(&self, code: u8) -> Option<Choice> {
        if self.given.contains(code) {
            Some(Choice::Given)
        } else if self.refused.contains(code) {
            Some(Choice::Refused)
        } else if self.withdrawn.contains(code) {
            Some(Choice::Withdrawn)
        } else {
            None
        }
    }

    /// The decisions of a request recording this choice: each purpose of `purposes` (its id and code)
    /// that the choice decides, with its [`Decided::choice`]; the others are left out (those that need
    /// no consent, and those left to Global Privacy Control).
    ///
    /// ```
    /// use consent_core::{Choice, Method, PurposeScope, PurposeSet};
    /// let scope = PurposeScope {
    ///     unconditional: PurposeSet::of(10),
    ///     asked: PurposeSet::from_codes([12, 13]),
    ///     marketing: PurposeSet::of(13),
    /// };
    /// let purposes = [("cookies-necessary", 10), ("cookies-marketing", 13), ("cookies-analytics", 12)]
    ///     .map(|(id, code)| (id.parse().unwrap(), code));
    /// let d = scope.decide(Method::Custom, false, PurposeSet::of(12), PurposeSet::EMPTY);
    /// let decisions = d.decisions(purposes);
    /// let ids: Vec<(&str, Choice)> = decisions.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    /// assert_eq!(ids, [("cookies-analytics", Choice::Given), ("cookies-marketing", Choice::Refused)]);
    /// ```
    pub fn decisions(&self, purposes: impl IntoIterator<Item = (PurposeId, u8)>) -> Decisions {
        purposes
            .into_iter()
            .filter_map(|(id, code)| Some((id, self.choice(code)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReceiptId, SubjectId, Timestamp};
    use alloc::vec::Vec;

    const MARKETING: PurposeSet = PurposeSet::of(8);
    const ANALYTICS: PurposeSet = PurposeSet::of(12);
    const MARKETING_COOKIES: PurposeSet = PurposeSet::of(13);
    const UNCONDITIONAL: PurposeSet = PurposeSet::of(9).union(PurposeSet::of(10));
    const NONE: PurposeSet = PurposeSet::EMPTY;

    /// The purposes of the banner's tests: marketing (8), legal-compliance (9), cookies-necessary (10),
    /// cookies-analytics (12), cookies-marketing (13).
    fn scope() -> PurposeScope {
        PurposeScope {
            unconditional: UNCONDITIONAL,
            asked: MARKETING | ANALYTICS | MARKETING_COOKIES,
            marketing: MARKETING | MARKETING_COOKIES,
        }
    }

    #[test]
    fn choices_decide_every_purpose_that_needs_consent() {
        let p = scope();
        let all = p.decide(Method::AcceptAll, false, NONE, NONE);
        assert_eq!(all.given, MARKETING | ANALYTICS | MARKETING_COOKIES);
        assert_eq!(all.off(), NONE);
        let none = p.decide(Method::RejectAll, false, PurposeSet(!0), NONE);
        assert_eq!(none.given, NONE);
        assert_eq!(none.refused, MARKETING | ANALYTICS | MARKETING_COOKIES);
        assert_eq!(none.granted(&p), UNCONDITIONAL);
        let custom = p.decide(Method::Custom, false, ANALYTICS | PurposeSet::of(9), NONE);
        assert_eq!(custom.given, ANALYTICS, "only purposes that need consent");
        assert_eq!(custom.refused, MARKETING | MARKETING_COOKIES);
        assert_eq!(custom.granted(&p), UNCONDITIONAL | ANALYTICS);
        assert_eq!(custom.method.as_str(), "custom");
    }

    #[test]
    fn global_privacy_control_keeps_marketing_out_of_accept_all() {
        let p = scope();
        let all = p.decide(Method::AcceptAll, true, NONE, NONE);
        assert_eq!(all.given, ANALYTICS);
        assert_eq!(all.refused, NONE, "left to the server, which sees Sec-GPC");
        assert_eq!(all.left_out, MARKETING | MARKETING_COOKIES);
        assert_eq!(all.off(), MARKETING | MARKETING_COOKIES);
        // The server refuses exactly what the banner left out.
        assert_eq!(p.gpc_refuses(all.method, all.decided()), all.left_out);
        // Purpose by purpose, the visitor's own choice stands.
        let custom = p.decide(Method::Custom, true, MARKETING, NONE);
        assert_eq!(custom.given, MARKETING);
        assert_eq!(custom.refused, ANALYTICS | MARKETING_COOKIES);
        assert_eq!(custom.left_out, NONE);
        assert_eq!(p.gpc_refuses(custom.method, custom.decided()), NONE);
    }

    #[test]
    fn turning_off_what_was_granted_is_a_withdrawal() {
        let p = scope();
        let previous = ANALYTICS | MARKETING;
        // One of two turned off: still custom, that one withdrawn.
        let c = p.decide(Method::Custom, false, MARKETING, previous);
        assert_eq!(c.method, Method::Custom);
        assert_eq!(c.given, MARKETING);
        assert_eq!(c.refused, MARKETING_COOKIES);
        assert_eq!(c.withdrawn, ANALYTICS);
        // Everything granted before turned off, nothing given: a withdrawal.
        let c = p.decide(Method::RejectAll, false, NONE, previous);
        assert_eq!(c.method, Method::Withdraw);
        assert_eq!(c.method.as_str(), "withdraw");
        assert_eq!(c.withdrawn, previous);
        assert_eq!(c.refused, MARKETING_COOKIES);
        // Nothing granted before: nothing to withdraw.
        let c = p.decide(Method::RejectAll, false, NONE, NONE);
        assert_eq!(c.method, Method::RejectAll);
        assert_eq!(c.withdrawn, NONE);
        // What needs no consent is never "previous".
        let c = p.decide(Method::RejectAll, false, NONE, UNCONDITIONAL);
        assert_eq!(c.method, Method::RejectAll);
    }

    #[test]
    fn a_requests_decisions_are_what_the_choice_decided() {
        let p = scope();
        let purposes: [(PurposeId, u8); 5] = [
            ("marketing", 8),
            ("legal-compliance", 9),
            ("cookies-necessary", 10),
            ("cookies-analytics", 12),
            ("cookies-marketing", 13),
        ]
        .map(|(id, code)| (id.parse().unwrap(), code));
        let id = |s: &str| s.parse::<PurposeId>().unwrap();
        // Under GPC, "accept all" leaves the marketing purposes to the server: not in the request.
        let all = p.decide(Method::AcceptAll, true, NONE, NONE);
        let d = all.decisions(purposes);
        assert_eq!(d.len(), 1);
        assert_eq!(d.get(id("cookies-analytics")), Some(Choice::Given));
        // Every purpose asked, and only those, in purpose-id order.
        let c = p.decide(Method::Custom, false, MARKETING, ANALYTICS);
        let d = c.decisions(purposes);
        let listed: Vec<(&str, Choice)> = d.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        assert_eq!(
            listed,
            [
                ("cookies-analytics", Choice::Withdrawn),
                ("cookies-marketing", Choice::Refused),
                ("marketing", Choice::Given),
            ]
        );
    }

    #[test]
    fn token_grants_given_and_unneeded_purposes_only() {
        let claims = TokenClaims {
            policy_version: "2025-03-26".parse().unwrap(),
            issued_at: Timestamp::from_unix(1_743_498_000),
            expires_at: Timestamp::from_unix(1_759_309_200),
            subject: crate::TokenSubject::Device(SubjectId([1; 16])),
            receipt: ReceiptId([2; 16]),
            given: ANALYTICS | PurposeSet::of(40),
            refused: MARKETING | MARKETING_COOKIES,
        };
        // Code 40 is not a purpose of this scope: never granted.
        assert_eq!(
            scope().granted_by_token(&claims, NONE),
            UNCONDITIONAL | ANALYTICS
        );
        // A purpose changed after the choice's version needs renewal: not granted.
        assert_eq!(scope().granted_by_token(&claims, ANALYTICS), UNCONDITIONAL);
    }
}
