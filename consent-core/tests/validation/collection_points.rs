//! Collection points (issue 18): where each purpose is asked.

use super::*;

/// The reference policy's `collection_points` line of the newsletter purpose.
const NEWSLETTER_POINTS: &str = "collection_points = [\"form\", \"api\"]";

#[test]
fn the_banner_asks_for_cookie_purposes_only() {
    let src = edit_after(
        POLICY,
        MARKETING,
        NEWSLETTER_POINTS,
        "collection_points = [\"form\", \"banner\"]",
    );
    let p = single(&src);
    let at = pos_after(&src, MARKETING, "\"banner\"");
    check_invalid(
        &p,
        at,
        &format!("purposes[{}].collection_points[1]", purpose_ix("marketing")),
        "the banner asks about the website's cookies only",
    );
    // The reference policy: the banner presents the four cookie purposes, a form none of them.
    let policy = reference();
    let banner = policy.purposes_at(consent_core::CollectionKind::Banner);
    let ids: Vec<&str> = banner
        .codes()
        .map(|c| policy.purpose_by_code(c).unwrap().id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "cookies-necessary",
            "cookies-preferences",
            "cookies-analytics",
            "cookies-marketing"
        ]
    );
    let form = policy.purposes_at(consent_core::CollectionKind::Form);
    assert!((form & banner).is_empty());
    assert_eq!(form.len(), 9);
}

#[test]
fn a_consent_purpose_says_where_it_is_asked() {
    let i = purpose_ix("marketing");
    // Missing: reported at the purpose's table.
    let src = edit_after(POLICY, MARKETING, &format!("{NEWSLETTER_POINTS}\n"), "");
    let p = single(&src);
    check_invalid(
        &p,
        pos(&src, MARKETING),
        &format!("purposes[{i}].collection_points"),
        "lists where it is asked",
    );
    // Empty.
    let src = edit_after(
        POLICY,
        MARKETING,
        NEWSLETTER_POINTS,
        "collection_points = []",
    );
    let p = single(&src);
    check_invalid(
        &p,
        pos_after(&src, MARKETING, "[]"),
        &format!("purposes[{i}].collection_points"),
        "at one collection point at least",
    );
    // Not a kind a policy names (the server's own `email`), a typo, and a kind twice.
    for (points, bad, msg) in [
        (
            "[\"form\", \"email\"]",
            "\"email\"",
            "not a collection point a policy names",
        ),
        (
            "[\"forms\"]",
            "\"forms\"",
            "not a collection point a policy names",
        ),
        ("[\"api\", \"api\"]", "\"api\"]", "listed twice"),
    ] {
        let src = edit_after(
            POLICY,
            MARKETING,
            NEWSLETTER_POINTS,
            &format!("collection_points = {points}"),
        );
        let p = single(&src);
        let j = points.matches(',').count();
        check_invalid(
            &p,
            pos_after(&src, MARKETING, bad),
            &format!("purposes[{i}].collection_points[{j}]"),
            msg,
        );
    }
    // A purpose that needs no consent may omit them (legal compliance, in the reference policy) or
    // list where it is shown as always on (the necessary cookies, in the banner).
    let policy = reference();
    let legal = policy.purpose_by_str("legal-compliance").unwrap();
    assert!(legal.collection_points.is_empty());
    let necessary = policy.purpose_by_str("cookies-necessary").unwrap();
    assert!(necessary.collected_at(consent_core::CollectionKind::Banner));
}
