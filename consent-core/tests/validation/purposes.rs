//! Purposes: versions, texts; cookies; validity.

use super::*;

#[test]
fn changed_in_after_version() {
    let i = purpose_ix("marketing");
    let src = edit_after(
        POLICY,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = 2025-03-27",
    );
    let at = pos_in(&src, "changed_in = 2025-03-27", "2");
    let kind = ProblemKind::ChangedAfterVersion {
        changed_in: "2025-03-27".into(),
        version: "2025-03-26".into(),
    };
    check(
        &single(&src),
        at,
        &format!("purposes[{i}].changed_in"),
        &kind,
    );
    // Earlier than the version is fine.
    loads(&edit_after(
        POLICY,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = 2024-09-01",
    ));
}

#[test]
fn cookie_lifetime_limits() {
    let path = format!("{}.lifetime", cookie_path("lang"));
    for (too_long, shown) in [
        ("14 months", "14 months"),
        ("2 years", "2 years"),
        ("397 days", "397 days"),
        ("9505 hours", "9505 hours"),
        ("2 year", "2 years"),
    ] {
        let src = with(
            "lifetime = \"12 months\"",
            &format!("lifetime = \"{too_long}\""),
        );
        let at = pos_in(&src, &format!("\"{too_long}\""), "\"");
        check(
            &single(&src),
            at,
            &path,
            &ProblemKind::CookieLifetimeTooLong(shown.into()),
        );
    }
    for ok in [
        "13 months",
        "396 days",
        "9504 hours",
        "1 year",
        "1 month",
        "1 day",
        "1 hour",
        "session",
    ] {
        loads(&with(
            "lifetime = \"12 months\"",
            &format!("lifetime = \"{ok}\""),
        ));
    }
}

#[test]
fn consent_purpose_needs_texts() {
    let i = purpose_ix("marketing");
    // Renaming the tables removes `texts` (and adds an unknown field).
    let src = edit_after(
        POLICY,
        MARKETING,
        "[purposes.texts.title]",
        "[purposes.texts-gone.title]",
    );
    let src = edit_after(
        &src,
        MARKETING,
        "[purposes.texts.description]",
        "[purposes.texts-gone.description]",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, MARKETING),
        &format!("purposes[{i}].texts"),
        &ProblemKind::ConsentPurposeWithoutTexts,
    );
    assert_eq!(ps[1].kind, ProblemKind::UnknownField);
}

#[test]
fn purposes_without_consent_need_no_texts() {
    for anchor in [LEGAL, NECESSARY] {
        let src = edit_after(
            POLICY,
            anchor,
            "[purposes.texts.title]",
            "[purposes.ignored-a]",
        );
        let src = edit_after(
            &src,
            anchor,
            "[purposes.texts.description]",
            "[purposes.ignored-b]",
        );
        // Only the renamed tables are reported, not the absence of texts.
        let ps = problems(&src);
        assert_eq!(ps.len(), 2, "{}", listing(&ps));
        assert!(
            ps.iter().all(|p| p.kind == ProblemKind::UnknownField),
            "{}",
            listing(&ps)
        );
    }
    // Removed outright, the file loads and the purpose has no texts.
    let src = cut_texts(POLICY, LEGAL);
    let p = loads(&src);
    assert!(
        p.purpose_by_str("legal-compliance")
            .is_some_and(|p| p.texts.is_none())
    );
    let src = cut_texts(POLICY, NECESSARY);
    let p = loads(&src);
    assert!(
        p.purpose_by_str("cookies-necessary")
            .is_some_and(|p| p.texts.is_none())
    );
}

/// `src` without the `texts` tables of the purpose that starts at the only occurrence of `anchor`.
fn cut_texts(src: &str, anchor: &str) -> String {
    let a = unique_offset(src, anchor);
    let start = a + src[a..]
        .find("[purposes.texts.title]")
        .unwrap_or_else(|| panic!("no texts"));
    let desc = start
        + src[start..]
            .find("[purposes.texts.description]")
            .unwrap_or_else(|| panic!("no description"));
    let end = desc + src[desc..].find("\n\n").unwrap_or(src.len() - desc);
    format!("{}{}", &src[..start], &src[end..])
}

#[test]
fn choice_validity_range_and_default() {
    for (v, shown) in [
        ("0", 0),
        ("14", 14),
        ("-3", -3),
        ("99999999999999999999", i64::MAX),
    ] {
        let src = with(
            "choice_validity_months = 6",
            &format!("choice_validity_months = {v}"),
        );
        let at = pos_in(&src, &format!("choice_validity_months = {v}"), v);
        check(
            &single(&src),
            at,
            "choice_validity_months",
            &ProblemKind::ValidityOutOfRange(shown),
        );
    }
    for (v, n) in [("1", 1), ("13", 13), ("0x0c", 12), ("1_0", 10)] {
        let p = loads(&with(
            "choice_validity_months = 6",
            &format!("choice_validity_months = {v}"),
        ));
        assert_eq!(p.choice_validity_months(), n);
    }
    let p = loads(&with("choice_validity_months = 6\n", ""));
    assert_eq!(p.choice_validity_months(), 6);
}
