//! Properties of the choice logic ([`PurposeScope::decide`]): what a choice decides is a partition of
//! what was asked, it agrees with the server's checks, and it is what the banner decided before the
//! logic moved into consent-core.

use consent_core::{
    Decided, Method, PurposeScope, PurposeSet, ReceiptId, SubjectId, Timestamp, TokenClaims,
    TokenSubject,
};
use proptest::prelude::*;

/// Sets over a few codes, so that overlaps are common.
fn set() -> impl Strategy<Value = PurposeSet> {
    (0u64..1 << 6, 0u8..59).prop_map(|(bits, shift)| PurposeSet(bits << shift))
}

fn scope() -> impl Strategy<Value = PurposeScope> {
    (set(), set(), set()).prop_map(|(unconditional, asked, marketing)| PurposeScope {
        unconditional: unconditional - asked,
        asked,
        marketing,
    })
}

fn method() -> impl Strategy<Value = Method> {
    proptest::sample::select(Method::ALL)
}

/// The banner's `choice()` before the logic moved here (consent-wasm/src/logic.rs), over `u64`s, for
/// the methods the banner used.
fn banner_choice(
    scope: &PurposeScope,
    method: Method,
    gpc: bool,
    selected: u64,
    previous: u64,
) -> Decided {
    let asked = scope.asked.0;
    let left_out = if gpc && method == Method::AcceptAll {
        asked & scope.marketing.0
    } else {
        0
    };
    let given = match method {
        Method::AcceptAll => asked & !left_out,
        Method::RejectAll => 0,
        _ => asked & selected,
    };
    let off = asked & !given & !left_out;
    let previous = previous & asked;
    let method = if previous != 0 && given == 0 {
        Method::Withdraw
    } else {
        method
    };
    Decided {
        method,
        given: PurposeSet(given),
        refused: PurposeSet(off & !previous),
        withdrawn: PurposeSet(off & previous),
        left_out: PurposeSet(left_out),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_choice_partitions_what_was_asked(
        scope in scope(), method in method(), gpc: bool, selected in set(), previous in set(),
    ) {
        let d = scope.decide(method, gpc, selected, previous);
        let parts = [d.given, d.refused, d.withdrawn, d.left_out];
        for (i, a) in parts.iter().enumerate() {
            prop_assert!(a.is_subset(scope.asked), "{d:?}");
            for b in &parts[i + 1..] {
                prop_assert!((*a & *b).is_empty(), "{d:?}");
            }
        }
        prop_assert_eq!(d.given | d.off(), scope.asked);
        prop_assert_eq!(d.decided() | d.left_out, scope.asked);
        prop_assert_eq!(d.granted(&scope), scope.unconditional | d.given);
        prop_assert!((d.granted(&scope) & d.off()).is_empty());
        for code in 0..64 {
            prop_assert_eq!(d.choice(code).is_some(), d.decided().contains(code));
        }
    }

    #[test]
    fn only_what_was_granted_is_withdrawn(
        scope in scope(), method in method(), gpc: bool, selected in set(), previous in set(),
    ) {
        let d = scope.decide(method, gpc, selected, previous);
        prop_assert!(d.withdrawn.is_subset(previous));
        prop_assert!((d.refused & previous).is_empty());
        // With nothing granted before, nothing is withdrawn and the method stands.
        let fresh = scope.decide(method, gpc, selected, PurposeSet::EMPTY);
        prop_assert!(fresh.withdrawn.is_empty());
        prop_assert_eq!(fresh.method, method);
        // The method becomes a withdrawal exactly when something granted is now off and nothing is given.
        let switched = !(previous & scope.asked).is_empty() && d.given.is_empty();
        prop_assert_eq!(d.method, if switched { Method::Withdraw } else { method });
    }

    #[test]
    fn accept_all_and_reject_all_give_all_and_nothing(
        scope in scope(), gpc: bool, selected in set(), previous in set(),
    ) {
        let reject = scope.decide(Method::RejectAll, gpc, selected, previous);
        prop_assert!(reject.given.is_empty());
        prop_assert!(reject.left_out.is_empty());
        let withdraw = scope.decide(Method::Withdraw, gpc, selected, previous);
        prop_assert!(withdraw.given.is_empty());
        let accept = scope.decide(Method::AcceptAll, false, selected, previous);
        prop_assert_eq!(accept.given, scope.asked);
        let accept = scope.decide(Method::AcceptAll, true, selected, previous);
        prop_assert_eq!(accept.given, scope.asked - scope.marketing);
        prop_assert_eq!(accept.left_out, scope.asked & scope.marketing);
        let custom = scope.decide(Method::Custom, gpc, selected, previous);
        prop_assert_eq!(custom.given, scope.asked & selected);
    }

    #[test]
    fn the_server_accepts_what_the_banner_decides(
        scope in scope(), method in method(), gpc: bool, selected in set(), previous in set(),
    ) {
        let d = scope.decide(method, gpc, selected, previous);
        // The method agrees with the decisions, as the server checks it.
        prop_assert_eq!(d.method.gives(d.decided(), d.given), d.given);
        // Under GPC the server refuses exactly what the banner left out, whenever the request decides
        // anything. It decides nothing only when all that is asked is left to GPC: "accept all" under
        // GPC where every purpose asked is a marketing one.
        prop_assert_eq!(d.decided().is_empty(), d.left_out == scope.asked);
        if gpc && !d.decided().is_empty() {
            prop_assert_eq!(scope.gpc_refuses(d.method, d.decided()), d.left_out);
        }
    }

    #[test]
    fn a_narrower_scope_decides_only_within_it(
        scope in scope(), within in set(), method in method(), gpc: bool, selected in set(), previous in set(),
    ) {
        let narrow = scope.within(within);
        let d = narrow.decide(method, gpc, selected, previous);
        prop_assert!((d.decided() | d.left_out).is_subset(within));
        prop_assert_eq!(narrow.unconditional, scope.unconditional);
    }

    #[test]
    fn the_banner_decides_as_before(
        scope in scope(),
        method in proptest::sample::select(vec![Method::AcceptAll, Method::RejectAll, Method::Custom]),
        gpc: bool, selected in set(), previous in set(),
    ) {
        prop_assert_eq!(
            scope.decide(method, gpc, selected, previous),
            banner_choice(&scope, method, gpc, selected.0, previous.0)
        );
    }

    #[test]
    fn a_token_grants_what_it_gives_and_has_not_changed(
        scope in scope(), given in set(), refused in set(), changed in set(),
    ) {
        let claims = TokenClaims {
            policy_version: "2025-03-26".parse().unwrap(),
            issued_at: Timestamp::from_unix(1_743_498_000),
            expires_at: Timestamp::from_unix(1_759_309_200),
            subject: TokenSubject::Device(SubjectId([1; 16])),
            receipt: ReceiptId([2; 16]),
            given,
            refused: refused - given,
        };
        let granted = scope.granted_by_token(&claims, changed);
        prop_assert!(scope.unconditional.is_subset(granted));
        let consented = granted - scope.unconditional;
        prop_assert_eq!(consented, scope.asked & (given - changed));
    }
}
