//! The banner's texts.

use super::*;

/// `src` without its `[banner.*]` sections (the last of the reference policy) and their comment.
fn without_banner(src: &str) -> String {
    let comment = unique_offset(src, "\n# Banner: ");
    let at = src[..comment]
        .rfind("\n\n")
        .unwrap_or_else(|| unreachable!());
    format!("{}\n", &src[..at])
}

#[test]
fn reference_banner_has_every_text() {
    let p = reference();
    let banner = p.banner().unwrap_or_else(|| panic!("no banner texts"));
    assert_eq!(banner.iter().count(), BANNER_TEXTS.len());
    for name in BANNER_TEXTS {
        let t = p.banner_text(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(t.iter().count(), p.languages().len(), "{name}");
    }
    let reject = p
        .banner_text("reject-all")
        .unwrap_or_else(|| unreachable!());
    assert_eq!(reject.get(Lang::EN), Some("Reject all"));
    assert_eq!(reject.get(Lang::RU), Some("Отклонить все"));
    assert_eq!(reject.get(Lang::KK), Some("Барлығынан бас тарту"));
    assert_eq!(p.banner_text("reject_all"), None);
    assert_eq!(p.banner_text("name"), None);
    // The description is one line of text, joined with single spaces.
    let d = p
        .banner_text("description")
        .unwrap_or_else(|| unreachable!());
    assert!(
        d.get(Lang::EN)
            .is_some_and(|s| s.starts_with("We use cookies and process")
                && s.ends_with("Nothing optional runs until you choose.")
                && !s.contains("  ")
                && !s.contains('\n'))
    );
}

#[test]
fn banner_is_optional() {
    let p = loads(&without_banner(POLICY));
    assert_eq!(p.banner(), None);
    assert_eq!(p.banner_text("accept-all"), None);
}

#[test]
fn banner_text_missing_a_language() {
    let src = edit_after(
        POLICY,
        "[banner.accept-all]\n",
        "ru = \"Принять все\"\n",
        "",
    );
    check(
        &single(&src),
        pos(&src, "[banner.accept-all]"),
        "banner.accept-all.ru",
        &ProblemKind::MissingTranslation("ru".into()),
    );

    // An undeclared language, an empty text and a wrong type are reported as in every other text.
    let src = edit_after(
        POLICY,
        "[banner.close]\n",
        "en = \"Close\"\n",
        "en = \"Close\"\nde = \"Schließen\"\n",
    );
    check(
        &single(&src),
        pos_in(&src, "\nde = \"Schließen\"", "de"),
        "banner.close.de",
        &ProblemKind::UndeclaredLanguage("de".into()),
    );
    let src = edit_after(
        POLICY,
        "[banner.save]\n",
        "en = \"Save my choice\"",
        "en = \" \"",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "en = \" \"", "\" \""),
        "banner.save.en",
        "text is empty",
    );
    let src = edit_after(
        POLICY,
        "[banner.save]\n",
        "en = \"Save my choice\"",
        "en = 1",
    );
    check(
        &single(&src),
        pos_after(&src, "[banner.save]\n", "1"),
        "banner.save.en",
        &ProblemKind::WrongType {
            expected: "string",
            found: "integer",
        },
    );
}

#[test]
fn banner_missing_a_text() {
    // `banner` exists only through the `[banner.*]` headers: a missing text is reported where the first
    // of them names it.
    let src = POLICY[..unique_offset(POLICY, "[banner.gpc]\n")].to_owned();
    let banner_at = pos_in(&src, "[banner.title]", "banner");
    check(
        &single(&src),
        banner_at,
        "banner.gpc",
        &ProblemKind::Missing,
    );

    // Every missing text is reported, each with its own path.
    let src = cut(POLICY, "[banner.title]\n", "[banner.description]");
    let src = cut(&src, "[banner.lifetime]\n", "[banner.cookie-purpose]");
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    let at = pos_in(&src, "[banner.description]", "banner");
    check(&ps[0], at, "banner.lifetime", &ProblemKind::Missing);
    check(&ps[1], at, "banner.title", &ProblemKind::Missing);

    // With an explicit `[banner]` header, at the header.
    let src = edit(
        &cut(POLICY, "[banner.choose]\n", "[banner.save]"),
        "[banner.title]\n",
        "[banner]\n\n[banner.title]\n",
    );
    check(
        &single(&src),
        pos(&src, "[banner]\n"),
        "banner.choose",
        &ProblemKind::Missing,
    );
}

#[test]
fn banner_unknown_text() {
    let src = appended("[banner.decline]\nkk = \"Жоқ\"\nru = \"Нет\"\nen = \"No\"\n");
    check(
        &single(&src),
        pos_in(&src, "[banner.decline]", "decline"),
        "banner.decline",
        &ProblemKind::UnknownField,
    );

    // A misspelt name is unknown, and the real one missing.
    let src = with("[banner.accept-all]\n", "[banner.accept_all]\n");
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos_in(&src, "[banner.title]", "banner"),
        "banner.accept-all",
        &ProblemKind::Missing,
    );
    check(
        &ps[1],
        pos_in(&src, "[banner.accept_all]", "accept_all"),
        "banner.accept_all",
        &ProblemKind::UnknownField,
    );

    // The language's own name is not one of the texts.
    let src = edit(
        &without_banner(POLICY),
        "choice_validity_months = 6\n",
        &format!("choice_validity_months = 6\nbanner = {{ name = {T3} }}\n"),
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), BANNER_TEXTS.len() + 1, "{}", listing(&ps));
    let unknown: Vec<&Problem> = ps
        .iter()
        .filter(|p| p.kind == ProblemKind::UnknownField)
        .collect();
    assert_eq!(unknown.len(), 1, "{}", listing(&ps));
    check(
        unknown[0],
        pos(&src, "name = {"),
        "banner.name",
        &ProblemKind::UnknownField,
    );
    let banner_at = pos_in(&src, "banner = {", "{");
    for name in BANNER_TEXTS {
        let path = format!("banner.{name}");
        let p = ps
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("{path} not reported"));
        check(p, banner_at, &path, &ProblemKind::Missing);
    }
}

#[test]
fn banner_must_be_a_table() {
    for (value, found) in [
        ("\"texts\"", "string"),
        ("[]", "array"),
        ("true", "boolean"),
    ] {
        let src = edit(
            &without_banner(POLICY),
            "choice_validity_months = 6\n",
            &format!("choice_validity_months = 6\nbanner = {value}\n"),
        );
        check(
            &single(&src),
            pos_in(&src, &format!("banner = {value}"), value),
            "banner",
            &ProblemKind::WrongType {
                expected: "table",
                found,
            },
        );
    }

    // A text that is not a table.
    let names: Vec<String> = BANNER_TEXTS
        .iter()
        .map(|n| {
            if *n == "save" {
                format!("{n} = \"Save\"")
            } else {
                format!("{n} = {T3}")
            }
        })
        .collect();
    let src = format!(
        "{}\n[banner]\n{}\n",
        without_banner(POLICY),
        names.join("\n")
    );
    check(
        &single(&src),
        pos_in(&src, "save = \"Save\"", "\"Save\""),
        "banner.save",
        &ProblemKind::WrongType {
            expected: "table",
            found: "string",
        },
    );
    // Written that way with texts everywhere, the banner loads.
    let src = src.replace("save = \"Save\"", &format!("save = {T3}"));
    assert_eq!(
        loads(&src)
            .banner_text("save")
            .and_then(|t| t.get(Lang::EN)),
        Some("Text")
    );
}
